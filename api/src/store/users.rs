//! Reading and writing users.

use crate::error::{AppResult, DbResultExt};
use entity::user;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

pub async fn create(conn: &impl ConnectionTrait, email: &str) -> AppResult<user::Model> {
    user::ActiveModel {
        email: Set(email.to_owned()),
        created_at: Set(super::now()),
        ..Default::default()
    }
    .insert(conn)
    .await
    .on_unique_violation("a user with this email already exists")
}
