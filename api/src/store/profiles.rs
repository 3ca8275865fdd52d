//! Reading and writing profiles.

use entity::profile;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QuerySelect, Set,
};

use super::now;

pub async fn create(conn: &impl ConnectionTrait, name: &str) -> Result<profile::Model, DbErr> {
    let at = now();
    profile::ActiveModel {
        name: Set(name.to_owned()),
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
    active.updated_at = Set(now());
    active.update(conn).await
}

/// Reads a profile and locks it until the transaction ends (PostgreSQL `FOR UPDATE`; SQLite
/// writers are already serialized), so concurrent changes to one profile's managers queue.
pub async fn lock(conn: &impl ConnectionTrait, id: i64) -> Result<Option<profile::Model>, DbErr> {
    profile::Entity::find_by_id(id)
        .lock_exclusive()
        .one(conn)
        .await
}
