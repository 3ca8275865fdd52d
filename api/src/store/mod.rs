//! Data access: the SQL Roster runs, independent of GraphQL.

pub mod links;
pub mod memberships;
pub mod profiles;
pub mod users;

use chrono::{DurationRound, TimeDelta};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
    prelude::DateTimeUtc,
    sea_query::{Alias, Expr, ExprTrait, Order, extension::postgres::PgFunc},
};

/// Which slice of a list to read: at most `first` items after the key `after`, in key order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    pub first: u64,
    pub after: Option<i64>,
}

/// `column` is one of `keys`, written as one bound parameter whatever the number of keys, so
/// the statement text (and its prepared plan) is the same for every batch size.
pub fn one_of(backend: DatabaseBackend, column: Expr, keys: &[i64]) -> Expr {
    match backend {
        DatabaseBackend::Postgres => column.eq(PgFunc::any(Expr::val(keys.to_vec()))),
        _ => {
            let json = format!(
                "[{}]",
                keys.iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            );
            // SQLite: its placeholder is `?`.
            Expr::cust_with_exprs(
                "? IN (SELECT value FROM json_each(?))",
                [column, Expr::val(json)],
            )
        }
    }
}

/// The current time at the microsecond precision both databases store, so a timestamp reads
/// back exactly as written.
pub fn now() -> DateTimeUtc {
    let now = chrono::Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}

/// The rows of `E` with these primary keys (`E`'s key is the `i64` column `id`).
pub async fn by_ids<E>(conn: &impl ConnectionTrait, ids: &[i64]) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
{
    let id = Expr::col((E::default(), Alias::new("id")));
    E::find()
        .filter(one_of(conn.get_database_backend(), id, ids))
        .all(conn)
        .await
}

/// One page of all rows of `E` in key order, one row longer than asked when a next page exists.
pub async fn page<E>(conn: &impl ConnectionTrait, window: Window) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
{
    let id = || Expr::col((E::default(), Alias::new("id")));
    let mut query = E::find().order_by(id(), Order::Asc);
    if let Some(after) = window.after {
        query = query.filter(id().gt(after));
    }
    query.limit(window.first + 1).all(conn).await
}

pub async fn count<E>(conn: &impl ConnectionTrait) -> Result<u64, DbErr>
where
    E: EntityTrait,
    E::Model: Sync,
{
    PaginatorTrait::count(E::find(), conn).await
}

/// Deletes the row of `E` with this key; links to it go with it (ON DELETE CASCADE). Returns
/// whether it existed.
pub async fn delete<E: EntityTrait>(conn: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
    let column = Expr::col((E::default(), Alias::new("id")));
    let result = E::delete_many().filter(column.eq(id)).exec(conn).await?;
    Ok(result.rows_affected > 0)
}
