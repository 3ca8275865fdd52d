//! Refresh tokens.

use entity::refresh_token;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
    prelude::DateTimeUtc,
    sea_query::{Expr, Query, UpdateStatement},
};

use super::now;

/// What a new refresh token records.
pub struct NewRefreshToken<'a> {
    pub user_id: i64,
    pub family: &'a str,
    pub token_hash: String,
    pub uniquifier: &'a str,
    pub expires_at: DateTimeUtc,
    pub signed_in_at: DateTimeUtc,
}

pub async fn insert_refresh_token(
    conn: &impl ConnectionTrait,
    new: NewRefreshToken<'_>,
) -> Result<(), DbErr> {
    refresh_token::ActiveModel {
        user_id: Set(new.user_id),
        family: Set(new.family.to_owned()),
        token_hash: Set(new.token_hash),
        uniquifier: Set(new.uniquifier.to_owned()),
        created_at: Set(now()),
        expires_at: Set(new.expires_at),
        signed_in_at: Set(Some(new.signed_in_at)),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

pub async fn refresh_token_by_hash(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<refresh_token::Model>, DbErr> {
    refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(token_hash))
        .one(conn)
        .await
}

/// Marks a refresh token used; false when it was used or revoked already (by a concurrent
/// request too: the check and the mark are one statement).
pub async fn use_refresh_token(conn: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
    let result = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::val(now()))
        .filter(refresh_token::Column::Id.eq(id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Revokes every token of a family: the tokens rotated from one login.
pub fn revoke_family(family: &str) -> UpdateStatement {
    Query::update()
        .table(refresh_token::Entity)
        .value(refresh_token::Column::RevokedAt, now())
        .and_where(refresh_token::Column::Family.eq(family))
        .and_where(refresh_token::Column::RevokedAt.is_null())
        .to_owned()
}
