//! Documents registered by automatic persisted queries, shared by the replicas: by the SHA-256
//! hash of their text, the newest kept within a bound of bytes and of documents.

use entity::persisted_query::{self, Column};
use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, QuerySelect,
    sea_query::{
        Alias, DeleteStatement, Expr, ExprTrait, Func, OnConflict, Order, Query, WindowStatement,
    },
};

use super::now;

/// The document registered under `hash`, if it still is.
pub async fn get(conn: &impl ConnectionTrait, hash: &str) -> Result<Option<String>, DbErr> {
    persisted_query::Entity::find_by_id(hash.to_owned())
        .select_only()
        .column(Column::Document)
        .into_tuple()
        .one(conn)
        .await
}

/// Registers `document` under `hash` (once: a hash names one text), then forgets the oldest
/// documents beyond the newest `max_documents` that fit in `max_bytes`.
pub async fn register(
    conn: &impl ConnectionTrait,
    hash: &str,
    document: &str,
    max_bytes: usize,
    max_documents: usize,
) -> Result<(), DbErr> {
    let insert = Query::insert()
        .into_table(persisted_query::Entity)
        .columns([
            Column::Hash,
            Column::Document,
            Column::Bytes,
            Column::RegisteredAt,
        ])
        .values_panic([
            hash.into(),
            document.into(),
            i32::try_from(document.len()).unwrap_or(i32::MAX).into(),
            now().into(),
        ])
        .on_conflict(OnConflict::column(Column::Hash).do_nothing().to_owned())
        .to_owned();
    let backend = conn.get_database_backend();
    conn.execute_raw(backend.build(&insert)).await?;
    conn.execute_raw(backend.build(&prune(max_bytes, max_documents)))
        .await
        .map(drop)
}

/// Forgets the documents beyond the newest `max_documents` that fit in `max_bytes`: the newest
/// first, each with the bytes and the count of those up to it.
fn prune(max_bytes: usize, max_documents: usize) -> DeleteStatement {
    let newest_first = || {
        let mut window = WindowStatement::new();
        window
            .order_by(Column::RegisteredAt, Order::Desc)
            .order_by(Column::Hash, Order::Asc);
        window
    };
    let (bytes, documents) = (Alias::new("newer_bytes"), Alias::new("newer_documents"));
    let newest = Query::select()
        .column(Column::Hash)
        .expr_window_as(
            Func::sum(Expr::col(Column::Bytes)),
            newest_first(),
            bytes.clone(),
        )
        .expr_window_as(
            Expr::cust("ROW_NUMBER()"),
            newest_first(),
            documents.clone(),
        )
        .from(persisted_query::Entity)
        .to_owned();
    let beyond = Query::select()
        .column(Column::Hash)
        .from_subquery(newest, Alias::new("newest"))
        .cond_where(
            Expr::col(bytes)
                .gt(i64::try_from(max_bytes).unwrap_or(i64::MAX))
                .or(Expr::col(documents).gt(i64::try_from(max_documents).unwrap_or(i64::MAX))),
        )
        .to_owned();
    Query::delete()
        .from_table(persisted_query::Entity)
        .and_where(Expr::col(Column::Hash).in_subquery(beyond))
        .to_owned()
}
