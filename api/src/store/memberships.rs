//! Writing the links between users and profiles.

use entity::{ProfileRole, user_profile};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QuerySelect, Set, TryInsertResult,
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

/// The link, locked until the transaction ends (PostgreSQL), so it stays as read until then.
pub async fn find_locked(
    conn: &impl ConnectionTrait,
    user_id: i64,
    profile_id: i64,
) -> Result<Option<user_profile::Model>, DbErr> {
    user_profile::Entity::find_by_id((user_id, profile_id))
        .lock_exclusive()
        .one(conn)
        .await
}

/// Makes the user a manager of the profile with `role` unless they already manage it: the new
/// link, or `None` when there was one (left as it is).
pub async fn add(
    conn: &impl ConnectionTrait,
    user_id: i64,
    profile_id: i64,
    role: ProfileRole,
) -> Result<Option<user_profile::Model>, DbErr> {
    let link = user_profile::Model {
        user_id,
        profile_id,
        role,
        created_at: now(),
    };
    let added = user_profile::Entity::insert(link.clone().into_active_model())
        .on_conflict_do_nothing_on([
            user_profile::Column::UserId,
            user_profile::Column::ProfileId,
        ])
        .exec_without_returning(conn)
        .await?;
    Ok(match added {
        TryInsertResult::Inserted(rows) if rows > 0 => Some(link),
        _ => None,
    })
}

/// Gives an existing link `role`; `Unchanged` when it has it already.
pub async fn set_role(
    conn: &impl ConnectionTrait,
    link: user_profile::Model,
    role: ProfileRole,
) -> Result<(user_profile::Model, Change), DbErr> {
    if link.role == role {
        return Ok((link, Change::Unchanged));
    }
    let mut active = link.into_active_model();
    active.role = Set(role);
    Ok((active.update(conn).await?, Change::RoleChanged))
}

/// Removes the link: the link removed, or `None` when there was none.
pub async fn remove(
    conn: &impl ConnectionTrait,
    user_id: i64,
    profile_id: i64,
) -> Result<Option<user_profile::Model>, DbErr> {
    user_profile::Entity::delete_by_id((user_id, profile_id))
        .exec_with_returning(conn)
        .await
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
