//! Writing the links between users and profiles.

use entity::{ProfileRole, user_profile};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QuerySelect, Set,
    sea_query::{Alias, Expr, ExprTrait, Query},
};

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

/// Makes the user a manager of the profile with `role`, given the link as it is now: adds
/// the link, changes its role, or leaves it as it is when it already has that role.
pub async fn set(
    conn: &impl ConnectionTrait,
    current: Option<user_profile::Model>,
    user_id: i64,
    profile_id: i64,
    role: ProfileRole,
) -> Result<(user_profile::Model, Change), DbErr> {
    match current {
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

/// How many owners the profile has besides `user_id`.
pub async fn other_owners(
    conn: &impl ConnectionTrait,
    profile_id: i64,
    user_id: i64,
) -> Result<u64, DbErr> {
    user_profile::Entity::find()
        .filter(user_profile::Column::ProfileId.eq(profile_id))
        .filter(user_profile::Column::UserId.ne(user_id))
        .filter(user_profile::Column::Role.eq(ProfileRole::Owner))
        .count(conn)
        .await
}

/// The profiles of which `user_id` is the only owner.
pub async fn solely_owned(conn: &impl ConnectionTrait, user_id: i64) -> Result<Vec<i64>, DbErr> {
    let other = Alias::new("other_owner");
    let other_owner = Query::select()
        .expr(Expr::val(1))
        .from_as(user_profile::Entity, other.clone())
        .and_where(
            Expr::col((other.clone(), user_profile::Column::ProfileId))
                .equals((user_profile::Entity, user_profile::Column::ProfileId)),
        )
        .and_where(Expr::col((other.clone(), user_profile::Column::Role)).eq(ProfileRole::Owner))
        .and_where(Expr::col((other, user_profile::Column::UserId)).ne(user_id))
        .to_owned();
    user_profile::Entity::find()
        .select_only()
        .column(user_profile::Column::ProfileId)
        .filter(user_profile::Column::UserId.eq(user_id))
        .filter(user_profile::Column::Role.eq(ProfileRole::Owner))
        .filter(Expr::exists(other_owner).not())
        .into_tuple()
        .all(conn)
        .await
}

/// The links of a profile (`profile`) or of a user.
pub async fn links_of(
    conn: &impl ConnectionTrait,
    column: user_profile::Column,
    key: i64,
) -> Result<Vec<user_profile::Model>, DbErr> {
    user_profile::Entity::find()
        .filter(column.eq(key))
        .all(conn)
        .await
}
