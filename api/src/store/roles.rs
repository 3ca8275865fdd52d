//! Roles and their grants to users.

use std::collections::HashMap;

use entity::{role, user_role};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    sea_query::OnConflict,
};

use super::one_of;

pub async fn by_name(
    conn: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<role::Model>, DbErr> {
    role::Entity::find()
        .filter(role::Column::Name.eq(name))
        .one(conn)
        .await
}

/// Grants a role; granting it again changes nothing.
pub async fn grant(conn: &impl ConnectionTrait, user_id: i64, role_id: i64) -> Result<(), DbErr> {
    let grant = user_role::ActiveModel {
        user_id: sea_orm::Set(user_id),
        role_id: sea_orm::Set(role_id),
    };
    user_role::Entity::insert(grant)
        .on_conflict(
            OnConflict::columns([user_role::Column::UserId, user_role::Column::RoleId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

pub async fn revoke(conn: &impl ConnectionTrait, user_id: i64, role_id: i64) -> Result<(), DbErr> {
    user_role::Entity::delete_by_id((user_id, role_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The roles of each of `users`, by role key, in one statement.
pub async fn of_users(
    conn: &impl ConnectionTrait,
    users: &[i64],
) -> Result<HashMap<i64, Vec<role::Model>>, DbErr> {
    let grants = user_role::Entity::find()
        .filter(one_of(
            conn.get_database_backend(),
            user_role::Column::UserId.into_expr(),
            users,
        ))
        .order_by_asc(user_role::Column::UserId)
        .order_by_asc(user_role::Column::RoleId)
        .find_also_related(role::Entity)
        .all(conn)
        .await?;
    let mut roles: HashMap<i64, Vec<role::Model>> = HashMap::new();
    for (grant, role) in grants {
        roles.entry(grant.user_id).or_default().extend(role);
    }
    Ok(roles)
}
