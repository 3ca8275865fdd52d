//! Writing the links between users and profiles.

use entity::{ProfileRole, profile, user, user_profile};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult,
    IntoActiveModel, PaginatorTrait, QueryFilter, QuerySelect, QueryTrait, Set,
    sea_query::{Alias, Expr, ExprTrait, OnConflict, Query},
};

use super::now;
use crate::{
    db::WriteTx,
    events::{Change, Membership},
};

/// What a change to a link did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
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

/// Whether the user and the profile both exist, and the user does not manage the profile.
pub async fn unlinked(
    conn: &impl ConnectionTrait,
    user_id: i64,
    profile_id: i64,
) -> Result<bool, DbErr> {
    let user = Query::select()
        .expr(Expr::val(1))
        .from(user::Entity)
        .and_where(Expr::col((user::Entity, user::Column::Id)).eq(user_id))
        .to_owned();
    let profile = Query::select()
        .expr(Expr::val(1))
        .from(profile::Entity)
        .and_where(Expr::col((profile::Entity, profile::Column::Id)).eq(profile_id))
        .to_owned();
    let link = user_profile::Entity::find_by_id((user_id, profile_id))
        .select_only()
        .expr(Expr::val(1))
        .into_query();
    let select = Query::select()
        .expr_as(
            Expr::exists(user)
                .and(Expr::exists(profile))
                .and(Expr::exists(link).not()),
            Alias::new("unlinked"),
        )
        .to_owned();
    let row = conn.query_one(&select).await?;
    Ok(row
        .map(|row| row.try_get("", "unlinked"))
        .transpose()?
        .unwrap_or(false))
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

/// Makes the user a manager of the profile with `role` unless they already manage it, and
/// publishes the new link with the transaction: the new link, or `None` when there was one
/// (left as it is).
pub async fn add(
    tx: &mut WriteTx<'_>,
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
    let insert = user_profile::Entity::insert(link.clone().into_active_model())
        .on_conflict(
            OnConflict::columns([
                user_profile::Column::UserId,
                user_profile::Column::ProfileId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .into_query()
        .returning_col(user_profile::Column::UserId)
        .to_owned();
    let event = Membership::now(Change::Added, profile_id, user_id, Some(role));
    let added = tx.write_and_publish(&insert, event).await?;
    if added.is_some() {
        tx.wrote_link(user_id, profile_id);
    }
    Ok(added.map(|_| link))
}

/// Gives an existing link `role`; `Unchanged` when it has it already.
pub async fn set_role(
    conn: &impl ConnectionTrait,
    link: user_profile::Model,
    role: ProfileRole,
) -> Result<(user_profile::Model, Outcome), DbErr> {
    if link.role == role {
        return Ok((link, Outcome::Unchanged));
    }
    let mut active = link.into_active_model();
    active.role = Set(role);
    Ok((active.update(conn).await?, Outcome::RoleChanged))
}

/// Removes the link and publishes its removal with the transaction: the link removed, or
/// `None` when there was none. An owner's link is removed only when `owner_too`.
pub async fn remove(
    tx: &mut WriteTx<'_>,
    user_id: i64,
    profile_id: i64,
    owner_too: bool,
) -> Result<Option<user_profile::Model>, DbErr> {
    let delete = user_profile::Entity::delete_many()
        .filter(user_profile::Column::UserId.eq(user_id))
        .filter(user_profile::Column::ProfileId.eq(profile_id))
        .apply_if(
            (!owner_too).then_some(ProfileRole::Owner),
            |delete, owner| delete.filter(user_profile::Column::Role.ne(owner)),
        )
        .into_query()
        .returning_all()
        .to_owned();
    let event = Membership::now(Change::Removed, profile_id, user_id, None);
    let removed = tx.write_and_publish(&delete, event).await?;
    removed
        .map(|row| user_profile::Model::from_query_result(&row, ""))
        .transpose()
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
