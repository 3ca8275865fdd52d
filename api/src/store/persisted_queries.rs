//! Documents registered by automatic persisted queries, shared by the replicas: by the SHA-256
//! hash of their text, the newest kept within a bound of bytes and of documents.

use entity::persisted_query::{self, Column};
use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, QuerySelect, Statement,
    sea_query::{OnConflict, Query},
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
    // The newest first, each with the bytes of those up to it; the rest go.
    let (bytes, documents) = match backend {
        sea_orm::DatabaseBackend::Postgres => ("$1", "$2"),
        _ => ("?", "?"),
    };
    let prune = format!(
        "DELETE FROM persisted_query WHERE hash IN (\
           SELECT hash FROM (\
             SELECT hash, \
               SUM(bytes) OVER (ORDER BY registered_at DESC, hash) AS newer_bytes, \
               ROW_NUMBER() OVER (ORDER BY registered_at DESC, hash) AS newer_documents \
             FROM persisted_query) AS newest \
           WHERE newer_bytes > {bytes} OR newer_documents > {documents})"
    );
    let limits = [
        i64::try_from(max_bytes).unwrap_or(i64::MAX).into(),
        i64::try_from(max_documents).unwrap_or(i64::MAX).into(),
    ];
    conn.execute_raw(Statement::from_sql_and_values(backend, prune, limits))
        .await
        .map(drop)
}
