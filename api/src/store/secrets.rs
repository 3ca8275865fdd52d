//! Secrets generated once and shared by every replica through the database.

use entity::server_secret;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set, sea_query::OnConflict};

use super::now;

/// The secret called `name`: the stored one, or `candidate` when none is stored yet. Replicas
/// racing to store theirs all end up with the one that won.
pub async fn get_or_create(
    conn: &impl ConnectionTrait,
    name: &str,
    candidate: String,
) -> Result<String, DbErr> {
    let row = server_secret::ActiveModel {
        name: Set(name.to_owned()),
        value: Set(candidate),
        created_at: Set(now()),
    };
    server_secret::Entity::insert(row)
        .on_conflict(
            OnConflict::column(server_secret::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    let stored = server_secret::Entity::find_by_id(name.to_owned())
        .one(conn)
        .await?;
    stored
        .map(|secret| secret.value)
        .ok_or_else(|| DbErr::RecordNotFound(format!("server secret {name}")))
}
