//! The queue of requests for mail about an address, answered by the mail sender.

use entity::account_request::{self, Column, Model};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseBackend, DbErr, FromQueryResult, Set,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query},
};

use super::now;

/// Queues a request of `kind` about `email`.
pub async fn queue(conn: &impl ConnectionTrait, kind: &str, email: &str) -> Result<(), DbErr> {
    account_request::ActiveModel {
        kind: Set(kind.to_owned()),
        email: Set(email.to_owned()),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map(drop)
}

/// Takes up to `count` requests, oldest first, deleting them (PostgreSQL skips the rows another
/// replica is taking): they are answered in the same transaction, or stay queued.
pub async fn take(conn: &impl ConnectionTrait, count: u64) -> Result<Vec<Model>, DbErr> {
    let mut oldest = Query::select();
    oldest
        .column(Column::Id)
        .from(account_request::Entity)
        .order_by(Column::Id, sea_orm::Order::Asc)
        .limit(count);
    if conn.get_database_backend() == DatabaseBackend::Postgres {
        oldest.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let take = Query::delete()
        .from_table(account_request::Entity)
        .and_where(Expr::col(Column::Id).in_subquery(oldest))
        .returning_all()
        .to_owned();
    let rows = conn.query_all(&take).await?;
    let mut taken = rows
        .iter()
        .map(|row| Model::from_query_result(row, ""))
        .collect::<Result<Vec<_>, DbErr>>()?;
    taken.sort_by_key(|request| request.id);
    Ok(taken)
}
