//! Each user's TOTP secret and recovery codes.

use entity::{recovery_code, user_totp};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
    sea_query::Expr,
};

use super::now;

/// The TOTP of `user`, confirmed or not.
pub async fn totp_of(
    conn: &impl ConnectionTrait,
    user: i64,
) -> Result<Option<user_totp::Model>, DbErr> {
    user_totp::Entity::find_by_id(user).one(conn).await
}

/// Whether `user` signs in with a second factor.
pub async fn enabled(conn: &impl ConnectionTrait, user: i64) -> Result<bool, DbErr> {
    Ok(totp_of(conn, user)
        .await?
        .is_some_and(|totp| totp.confirmed_at.is_some()))
}

/// Keeps a new, unconfirmed secret for `user`, in place of an unconfirmed one.
pub async fn propose(conn: &impl ConnectionTrait, user: i64, secret: &str) -> Result<(), DbErr> {
    user_totp::Entity::delete_many()
        .filter(user_totp::Column::UserId.eq(user))
        .filter(user_totp::Column::ConfirmedAt.is_null())
        .exec(conn)
        .await?;
    user_totp::ActiveModel {
        user_id: Set(user),
        secret: Set(secret.to_owned()),
        created_at: Set(now()),
        confirmed_at: Set(None),
        last_step: Set(0),
    }
    .insert(conn)
    .await
    .map(drop)
}

/// Marks the secret of `user` confirmed.
pub async fn confirm(conn: &impl ConnectionTrait, user: i64) -> Result<(), DbErr> {
    user_totp::Entity::update_many()
        .col_expr(user_totp::Column::ConfirmedAt, Expr::val(now()))
        .filter(user_totp::Column::UserId.eq(user))
        .exec(conn)
        .await
        .map(drop)
}

/// Records that the code of `step` was used: false when it, or a later one, was already (by a
/// concurrent request too: the check and the mark are one statement).
pub async fn use_step(conn: &impl ConnectionTrait, user: i64, step: i64) -> Result<bool, DbErr> {
    let result = user_totp::Entity::update_many()
        .col_expr(user_totp::Column::LastStep, Expr::val(step))
        .filter(user_totp::Column::UserId.eq(user))
        .filter(user_totp::Column::LastStep.lt(step))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Removes the second factor of `user`, with its recovery codes.
pub async fn remove(conn: &impl ConnectionTrait, user: i64) -> Result<(), DbErr> {
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::UserId.eq(user))
        .exec(conn)
        .await?;
    user_totp::Entity::delete_by_id(user)
        .exec(conn)
        .await
        .map(drop)
}

/// Replaces the recovery codes of `user` by these digests.
pub async fn replace_codes(
    conn: &impl ConnectionTrait,
    user: i64,
    digests: Vec<String>,
) -> Result<(), DbErr> {
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::UserId.eq(user))
        .exec(conn)
        .await?;
    for digest in digests {
        recovery_code::ActiveModel {
            user_id: Set(user),
            digest: Set(digest),
            created_at: Set(now()),
            ..Default::default()
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

/// Uses the recovery code of `user` whose digest is `digest`: true once, by one request.
pub async fn use_code(conn: &impl ConnectionTrait, user: i64, digest: &str) -> Result<bool, DbErr> {
    let deleted = recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::UserId.eq(user))
        .filter(recovery_code::Column::Digest.eq(digest))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected == 1)
}
