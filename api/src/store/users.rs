//! Reading and writing users and their credentials.

use entity::{refresh_token, role, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult,
    IntoActiveModel, QueryFilter, QueryTrait, Set,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};

use super::now;
use crate::{
    auth::email::Email,
    error::{AppResult, DbResultExt},
};

/// What a new user starts with.
pub struct NewUser<'a> {
    pub email: &'a Email,
    pub password_hash: String,
    pub uniquifier: String,
    /// Whether its address counts as confirmed from the start.
    pub confirmed: bool,
}

pub async fn create(conn: &impl ConnectionTrait, new: NewUser<'_>) -> AppResult<user::Model> {
    row(new).insert(conn).await.on_unique_violation(
        "user_email_key_key",
        "user.email_key",
        "a user with this email already exists",
    )
}

/// Creates a user unless their email's key is taken, by a registration that committed or one
/// in flight (PostgreSQL waits for it): `None` then, with the transaction still usable.
pub async fn create_unless_taken(
    conn: &impl ConnectionTrait,
    new: NewUser<'_>,
) -> Result<Option<user::Model>, DbErr> {
    let insert = user::Entity::insert(row(new))
        .on_conflict(
            OnConflict::column(user::Column::EmailKey)
                .do_nothing()
                .to_owned(),
        )
        .into_query()
        .returning_all()
        .to_owned();
    conn.query_one(&insert)
        .await?
        .map(|row| user::Model::from_query_result(&row, ""))
        .transpose()
}

fn row(new: NewUser<'_>) -> user::ActiveModel {
    let at = now();
    user::ActiveModel {
        email: Set(new.email.address.clone()),
        email_key: Set(new.email.key.clone()),
        created_at: Set(at),
        password_hash: Set(new.password_hash),
        active: Set(true),
        fs_uniquifier: Set(new.uniquifier),
        confirmed_at: Set(new.confirmed.then_some(at)),
        login_count: Set(0),
        updated_at: Set(at),
        ..Default::default()
    }
}

/// The user whose email has this key (`auth::email::key`), served by its unique index.
pub async fn by_key(conn: &impl ConnectionTrait, key: &str) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find()
        .filter(user::Column::EmailKey.eq(key))
        .one(conn)
        .await
}

/// The user whose tokens carry this uniquifier.
pub async fn by_uniquifier(
    conn: &impl ConnectionTrait,
    uniquifier: &str,
) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find()
        .filter(user::Column::FsUniquifier.eq(uniquifier))
        .one(conn)
        .await
}

/// The user whose tokens carry this uniquifier, with their roles, unless their session
/// `family` was revoked: in one statement.
pub async fn by_uniquifier_with_roles(
    conn: &impl ConnectionTrait,
    uniquifier: &str,
    family: &str,
) -> Result<Option<(user::Model, Vec<role::Model>)>, DbErr> {
    let revoked = Query::select()
        .expr(Expr::val(1))
        .from(refresh_token::Entity)
        .and_where(refresh_token::Column::Family.eq(family))
        .and_where(refresh_token::Column::RevokedAt.is_not_null())
        .to_owned();
    let mut found = user::Entity::find()
        .filter(user::Column::FsUniquifier.eq(uniquifier))
        .filter(Expr::exists(revoked).not())
        .find_with_related(role::Entity)
        .all(conn)
        .await?;
    Ok(found.pop())
}

/// Sets the display name of user `key`; the user, `None` when there is none.
pub async fn set_display_name(
    conn: &impl ConnectionTrait,
    key: i64,
    display_name: Option<String>,
) -> Result<Option<user::Model>, DbErr> {
    let Some(user) = user::Entity::find_by_id(key).one(conn).await? else {
        return Ok(None);
    };
    let mut active = user.into_active_model();
    active.display_name = Set(display_name);
    active.updated_at = Set(now());
    active.update(conn).await.map(Some)
}

/// Gives user `user_id` the address `email`, confirmed now.
pub async fn change_email(
    conn: &impl ConnectionTrait,
    user_id: i64,
    email: &Email,
) -> AppResult<()> {
    user::Entity::update_many()
        .col_expr(user::Column::Email, Expr::val(email.address.clone()))
        .col_expr(user::Column::EmailKey, Expr::val(email.key.clone()))
        .col_expr(user::Column::ConfirmedAt, Expr::val(now()))
        .col_expr(user::Column::UpdatedAt, Expr::val(now()))
        .filter(user::Column::Id.eq(user_id))
        .exec(conn)
        .await
        .map(drop)
        .on_unique_violation(
            "user_email_key_key",
            "user.email_key",
            "this address has an account now: nothing was changed",
        )
}

/// Notes a successful login: the tracking fields of Flask-Security.
pub async fn record_login(
    conn: &impl ConnectionTrait,
    user: user::Model,
    ip: &str,
) -> Result<user::Model, DbErr> {
    let at = now();
    let mut active = user.clone().into_active_model();
    active.last_login_at = Set(user.current_login_at);
    active.last_login_ip = Set(user.current_login_ip.clone());
    active.current_login_at = Set(Some(at));
    active.current_login_ip = Set(Some(ip.to_owned()));
    active.login_count = Set(user.login_count + 1);
    active.update(conn).await
}

/// Marks the address of `user_id` confirmed, now (unless it was).
pub async fn confirm(conn: &impl ConnectionTrait, user_id: i64) -> Result<(), DbErr> {
    user::Entity::update_many()
        .col_expr(user::Column::ConfirmedAt, Expr::val(now()))
        .col_expr(user::Column::UpdatedAt, Expr::val(now()))
        .filter(user::Column::Id.eq(user_id))
        .filter(user::Column::ConfirmedAt.is_null())
        .exec(conn)
        .await
        .map(drop)
}

/// Changes what a user's tokens must carry, revoking every token issued before; optionally
/// sets a new password hash at the same time.
pub async fn rotate_uniquifier(
    conn: &impl ConnectionTrait,
    user: user::Model,
    uniquifier: String,
    password_hash: Option<String>,
) -> Result<user::Model, DbErr> {
    let mut active = user.into_active_model();
    active.fs_uniquifier = Set(uniquifier);
    if let Some(hash) = password_hash {
        active.password_hash = Set(hash);
    }
    active.updated_at = Set(now());
    active.update(conn).await
}

pub async fn set_active(
    conn: &impl ConnectionTrait,
    user: user::Model,
    is_active: bool,
) -> Result<user::Model, DbErr> {
    let mut active = user.into_active_model();
    active.active = Set(is_active);
    active.updated_at = Set(now());
    active.update(conn).await
}
