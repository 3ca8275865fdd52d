//! Data access: the SQL Roster runs, independent of GraphQL.

pub mod account_requests;
pub mod account_tokens;
pub mod attempts;
pub mod cards;
pub mod invitations;
pub mod listing;
pub mod mail_requests;
pub mod memberships;
pub mod outbox;
pub mod persisted_queries;
pub mod profiles;
pub mod roles;
pub mod secrets;
pub mod sessions;
pub mod two_factor;
pub mod users;
pub mod visibility;

use chrono::{DurationRound, TimeDelta};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, QueryFilter,
    prelude::DateTimeUtc,
    sea_query::{Alias, ColumnRef, Expr, ExprTrait, IntoColumnRef, extension::postgres::PgFunc},
};
use visibility::{Scope, Scoped};

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

/// The key column of `E` (every entity here has the `i64` key `id`).
fn key_of<E: EntityTrait + Default>() -> ColumnRef {
    (E::default(), Alias::new("id")).into_column_ref()
}

/// The rows of `E` with these keys that `scope` may see.
pub async fn by_ids<E: Scoped>(
    conn: &impl ConnectionTrait,
    scope: &Scope,
    ids: &[i64],
) -> Result<Vec<E::Model>, DbErr> {
    let mut query = E::find().filter(one_of(
        conn.get_database_backend(),
        Expr::col(key_of::<E>()),
        ids,
    ));
    if let Some(visible) = scope.filter(E::KIND, Expr::col(key_of::<E>())) {
        query = query.filter(visible);
    }
    query.all(conn).await
}

/// Deletes the row of `E` with this key; links to it go with it (ON DELETE CASCADE). Returns
/// whether it existed.
pub async fn delete<E: Scoped>(conn: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
    let result = E::delete_many()
        .filter(Expr::col(key_of::<E>()).eq(id))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}
