//! Single-use tokens sent by mail, by the digest of their text (`auth::tokens::digest`).

use entity::account_token::{self, Column};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, Set, prelude::DateTimeUtc,
};

use super::now;

/// A token to record: whose, what for, the digest of its text, until when, and what it stands
/// for beyond its user.
pub struct NewToken<'a> {
    pub user: i64,
    pub purpose: &'a str,
    pub digest: String,
    pub expires_at: DateTimeUtc,
    pub detail: Option<String>,
}

/// Records a token, replacing the earlier ones of its user and purpose.
pub async fn replace(conn: &impl ConnectionTrait, new: NewToken<'_>) -> Result<(), DbErr> {
    void(conn, new.user, new.purpose).await?;
    account_token::ActiveModel {
        user_id: Set(new.user),
        purpose: Set(new.purpose.to_owned()),
        digest: Set(new.digest),
        created_at: Set(now()),
        expires_at: Set(new.expires_at),
        detail: Set(new.detail),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The token of `purpose` whose digest is `digest`, expired or not.
async fn find(
    conn: &impl ConnectionTrait,
    purpose: &str,
    digest: &str,
) -> Result<Option<account_token::Model>, DbErr> {
    account_token::Entity::find()
        .filter(Column::Purpose.eq(purpose))
        .filter(Column::Digest.eq(digest))
        .one(conn)
        .await
}

/// The user of the unexpired token of `purpose` whose digest is `digest`, leaving it in place.
pub async fn peek(
    conn: &impl ConnectionTrait,
    purpose: &str,
    digest: &str,
) -> Result<Option<i64>, DbErr> {
    let token = find(conn, purpose, digest).await?;
    Ok(token
        .filter(|token| token.expires_at > now())
        .map(|token| token.user_id))
}

/// Takes the unexpired token of `purpose` whose digest is `digest`, once. The token is deleted,
/// expired or not, and only the request whose delete removed it gets it, so two requests
/// cannot both use it.
pub async fn take(
    conn: &impl ConnectionTrait,
    purpose: &str,
    digest: &str,
) -> Result<Option<account_token::Model>, DbErr> {
    let Some(token) = find(conn, purpose, digest).await? else {
        return Ok(None);
    };
    let deleted = account_token::Entity::delete_many()
        .filter(Column::Id.eq(token.id))
        .exec(conn)
        .await?;
    Ok((deleted.rows_affected == 1 && token.expires_at > now()).then_some(token))
}

/// Voids every token of `purpose` of `user`.
pub async fn void(conn: &impl ConnectionTrait, user: i64, purpose: &str) -> Result<(), DbErr> {
    account_token::Entity::delete_many()
        .filter(Column::UserId.eq(user))
        .filter(Column::Purpose.eq(purpose))
        .exec(conn)
        .await
        .map(drop)
}

/// How many tokens of `purpose` `user` was sent since `since` (those still kept).
pub async fn sent_since(
    conn: &impl ConnectionTrait,
    user: i64,
    purpose: &str,
    since: DateTimeUtc,
) -> Result<u64, DbErr> {
    account_token::Entity::find()
        .filter(Column::UserId.eq(user))
        .filter(Column::Purpose.eq(purpose))
        .filter(Column::CreatedAt.gt(since))
        .count(conn)
        .await
}
