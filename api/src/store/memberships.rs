//! Writing the links between users and profiles.

use entity::{ProfileRole, user_profile};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, Set};

use super::now;

/// What a change to a link did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Added,
    RoleChanged,
    Removed,
    Unchanged,
}

pub async fn find(
    conn: &impl ConnectionTrait,
    user_id: i64,
    profile_id: i64,
) -> Result<Option<user_profile::Model>, DbErr> {
    user_profile::Entity::find_by_id((user_id, profile_id))
        .one(conn)
        .await
}

/// Makes the user a manager of the profile with `role`: adds the link, changes its role, or
/// leaves it as it is when it already has that role.
pub async fn set(
    conn: &impl ConnectionTrait,
    user_id: i64,
    profile_id: i64,
    role: ProfileRole,
) -> Result<(user_profile::Model, Change), DbErr> {
    match find(conn, user_id, profile_id).await? {
        Some(link) if link.role == role => Ok((link, Change::Unchanged)),
        Some(link) => {
            let mut active = link.into_active_model();
            active.role = Set(role);
            Ok((active.update(conn).await?, Change::RoleChanged))
        }
        None => {
            let link = user_profile::ActiveModel {
                user_id: Set(user_id),
                profile_id: Set(profile_id),
                role: Set(role),
                created_at: Set(now()),
            }
            .insert(conn)
            .await?;
            Ok((link, Change::Added))
        }
    }
}

/// Removes the link; `Unchanged` when there was none.
pub async fn remove(
    conn: &impl ConnectionTrait,
    user_id: i64,
    profile_id: i64,
) -> Result<Change, DbErr> {
    let result = user_profile::Entity::delete_by_id((user_id, profile_id))
        .exec(conn)
        .await?;
    Ok(if result.rows_affected > 0 {
        Change::Removed
    } else {
        Change::Unchanged
    })
}
