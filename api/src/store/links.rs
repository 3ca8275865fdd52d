//! Reading both directions of the user–profile relationship, one statement for many parents.

use std::collections::HashMap;

use entity::{ProfileRole, user_profile};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, IdenStatic, Iterable,
    QueryResult,
    prelude::DateTimeUtc,
    sea_query::{
        Alias, Asterisk, Expr, ExprTrait, IntoColumnRef, Order, Query, SelectStatement,
        WindowStatement,
    },
};

use super::{
    Window, one_of,
    visibility::{Kind, Scope},
};

/// A node reached through a link, with the link's own fields.
#[derive(Clone, Debug)]
pub struct Linked<M> {
    pub node: M,
    pub role: ProfileRole,
    pub linked_at: DateTimeUtc,
}

/// Which way the relationship is walked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From users to the profiles they manage.
    ProfilesOfUser,
    /// From profiles to the users who manage them.
    UsersOfProfile,
}

impl Direction {
    /// What the relation leads to.
    fn child_kind(self) -> Kind {
        match self {
            Direction::ProfilesOfUser => Kind::Profile,
            Direction::UsersOfProfile => Kind::User,
        }
    }

    /// The condition that the child of a link is visible to `scope`, if any.
    fn child_filter(self, scope: &Scope) -> Option<Expr> {
        let (_, child) = self.columns();
        scope.filter(
            self.child_kind(),
            (user_profile::Entity, child).into_column_ref(),
        )
    }

    /// The link columns holding the parent's key and the child's key.
    fn columns(self) -> (user_profile::Column, user_profile::Column) {
        match self {
            Direction::ProfilesOfUser => (
                user_profile::Column::UserId,
                user_profile::Column::ProfileId,
            ),
            Direction::UsersOfProfile => (
                user_profile::Column::ProfileId,
                user_profile::Column::UserId,
            ),
        }
    }
}

const NODE_PREFIX: &str = "n_";

/// The pages of children of every parent in `parents` that `scope` may see, each at most
/// `window.first + 1` long (the extra row tells whether a next page exists), as one statement:
/// the window is applied per parent with `ROW_NUMBER() OVER (PARTITION BY parent …)`.
pub async fn pages<E>(
    conn: &impl ConnectionTrait,
    scope: &Scope,
    direction: Direction,
    parents: &[i64],
    window: Window,
) -> Result<HashMap<i64, Vec<Linked<E::Model>>>, DbErr>
where
    E: EntityTrait + Default,
    E::Model: FromQueryResult,
{
    let (parent, child) = direction.columns();
    let backend = conn.get_database_backend();
    let mut ranked = Query::select();
    ranked.expr_as(parent.into_expr(), Alias::new("parent_id"));
    for column in E::Column::iter() {
        let alias = format!("{NODE_PREFIX}{}", column.as_str());
        ranked.expr_as(Expr::col((E::default(), column)), Alias::new(alias));
    }
    ranked
        .expr_as(
            user_profile::Column::Role.into_expr(),
            Alias::new("link_role"),
        )
        .expr_as(
            user_profile::Column::CreatedAt.into_expr(),
            Alias::new("linked_at"),
        )
        .expr_window_as(
            Expr::cust("ROW_NUMBER()"),
            WindowStatement::partition_by((user_profile::Entity, parent))
                .order_by((user_profile::Entity, child), Order::Asc)
                .to_owned(),
            Alias::new("rn"),
        )
        .from(user_profile::Entity)
        .inner_join(
            E::default(),
            Expr::col((E::default(), Alias::new("id"))).equals(child.as_column_ref()),
        )
        .and_where(one_of(backend, parent.into_expr(), parents));
    if let Some(after) = window.after {
        ranked.and_where(child.into_expr().gt(after));
    }
    if let Some(visible) = direction.child_filter(scope) {
        ranked.and_where(visible);
    }
    let query = paged(ranked, window.first + 1);

    let mut pages: HashMap<i64, Vec<Linked<E::Model>>> = HashMap::new();
    for row in conn.query_all(&query).await? {
        let parent_id: i64 = row.try_get("", "parent_id")?;
        pages.entry(parent_id).or_default().push(linked::<E>(&row)?);
    }
    Ok(pages)
}

/// Keeps the first `limit` rows of each partition, in parent and rank order.
fn paged(ranked: SelectStatement, limit: u64) -> SelectStatement {
    Query::select()
        .column(Asterisk)
        .from_subquery(ranked, Alias::new("ranked"))
        .and_where(Expr::col(Alias::new("rn")).lte(limit))
        .order_by(Alias::new("parent_id"), Order::Asc)
        .order_by(Alias::new("rn"), Order::Asc)
        .to_owned()
}

fn linked<E>(row: &QueryResult) -> Result<Linked<E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: FromQueryResult,
{
    Ok(Linked {
        node: E::Model::from_query_result(row, NODE_PREFIX)?,
        role: row.try_get("", "link_role")?,
        linked_at: row.try_get("", "linked_at")?,
    })
}

/// The number of children `scope` may see of every parent in `parents` (parents without any
/// are absent).
pub async fn counts(
    conn: &impl ConnectionTrait,
    scope: &Scope,
    direction: Direction,
    parents: &[i64],
) -> Result<HashMap<i64, u64>, DbErr> {
    let (parent, _) = direction.columns();
    let mut query = Query::select();
    query
        .expr_as(parent.into_expr(), Alias::new("parent_id"))
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("total"))
        .from(user_profile::Entity)
        .and_where(one_of(
            conn.get_database_backend(),
            parent.into_expr(),
            parents,
        ))
        .group_by_col(parent);
    if let Some(visible) = direction.child_filter(scope) {
        query.and_where(visible);
    }
    let mut counts = HashMap::new();
    for row in conn.query_all(&query).await? {
        let total: i64 = row.try_get("", "total")?;
        counts.insert(row.try_get("", "parent_id")?, total.unsigned_abs());
    }
    Ok(counts)
}
