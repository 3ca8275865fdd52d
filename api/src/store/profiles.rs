//! Reading and writing profiles.

use entity::{ProfileRole, folded, profile, user_profile};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QuerySelect, Set,
    sea_query::{LockType, Query},
};

use super::now;

pub async fn create(conn: &impl ConnectionTrait, name: &str) -> Result<profile::Model, DbErr> {
    let at = now();
    profile::ActiveModel {
        name: Set(name.to_owned()),
        name_key: Set(folded::fold(name)),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(conn)
    .await
}

pub async fn rename(
    conn: &impl ConnectionTrait,
    profile: profile::Model,
    name: &str,
) -> Result<profile::Model, DbErr> {
    let mut active = profile.into_active_model();
    active.name = Set(name.to_owned());
    active.name_key = Set(folded::fold(name));
    active.updated_at = Set(now());
    active.update(conn).await
}

/// Reads a profile and locks it until the transaction ends (PostgreSQL `FOR NO KEY UPDATE`;
/// SQLite writers are already serialized), so concurrent changes to one profile's managers
/// queue. The lock leaves the foreign key checks of new links alone (they take `KEY SHARE`):
/// new links written without it do not deadlock with a change that holds it.
pub async fn lock(conn: &impl ConnectionTrait, id: i64) -> Result<Option<profile::Model>, DbErr> {
    profile::Entity::find_by_id(id)
        .lock(LockType::NoKeyUpdate)
        .one(conn)
        .await
}

/// Locks the profiles `user_id` owns until the transaction ends (see `lock`).
pub async fn lock_owned_by(conn: &impl ConnectionTrait, user_id: i64) -> Result<(), DbErr> {
    let owned = Query::select()
        .column(user_profile::Column::ProfileId)
        .from(user_profile::Entity)
        .and_where(user_profile::Column::UserId.eq(user_id))
        .and_where(user_profile::Column::Role.eq(ProfileRole::Owner))
        .to_owned();
    profile::Entity::find()
        .filter(profile::Column::Id.in_subquery(owned))
        .lock(LockType::NoKeyUpdate)
        .all(conn)
        .await?;
    Ok(())
}
