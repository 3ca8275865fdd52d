//! The outbox of messages: written with the change that causes each, claimed by senders (each
//! message by one sender at a time, on every replica), deleted once delivered.

use entity::mail_outbox::{self, Column};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait,
    QueryFilter, Set,
    prelude::DateTimeUtc,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query},
};

use super::now;

/// A message to send.
pub struct Letter {
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
}

/// Writes `letter` in the outbox, to be sent at once.
pub async fn post(conn: &impl ConnectionTrait, letter: Letter) -> Result<(), DbErr> {
    let now = now();
    mail_outbox::ActiveModel {
        recipient: Set(letter.recipient),
        subject: Set(letter.subject),
        text_body: Set(letter.text_body),
        html_body: Set(letter.html_body),
        created_at: Set(now),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// When the next message is due (now or before, for one waiting), if any waits.
pub async fn next_due(conn: &impl ConnectionTrait) -> Result<Option<DateTimeUtc>, DbErr> {
    use sea_orm::QuerySelect;
    mail_outbox::Entity::find()
        .select_only()
        .column_as(Column::NextAttemptAt.min(), "next")
        .into_tuple::<Option<DateTimeUtc>>()
        .one(conn)
        .await
        .map(Option::flatten)
}

/// Claims up to `count` messages due now for one sender until `until`: no other sender takes
/// them before then (PostgreSQL skips the rows another sender is claiming). Each claim counts
/// as an attempt.
pub async fn claim(
    conn: &impl ConnectionTrait,
    count: u64,
    until: DateTimeUtc,
) -> Result<Vec<mail_outbox::Model>, DbErr> {
    let backend = conn.get_database_backend();
    let mut due = Query::select();
    due.column(Column::Id)
        .from(mail_outbox::Entity)
        .and_where(Expr::col(Column::NextAttemptAt).lte(now()))
        .order_by(Column::Id, sea_orm::Order::Asc)
        .limit(count);
    if backend == DatabaseBackend::Postgres {
        due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let claim = Query::update()
        .table(mail_outbox::Entity)
        .value(Column::NextAttemptAt, until)
        .value(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .and_where(Expr::col(Column::Id).in_subquery(due))
        .returning_all()
        .to_owned();
    let rows = conn.query_all(&claim).await?;
    let mut claimed = rows
        .iter()
        .map(|row| {
            Ok(mail_outbox::Model {
                id: row.try_get("", "id")?,
                recipient: row.try_get("", "recipient")?,
                subject: row.try_get("", "subject")?,
                text_body: row.try_get("", "text_body")?,
                html_body: row.try_get("", "html_body")?,
                created_at: row.try_get("", "created_at")?,
                attempts: row.try_get("", "attempts")?,
                next_attempt_at: row.try_get("", "next_attempt_at")?,
                last_error: row.try_get("", "last_error")?,
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    claimed.sort_by_key(|message| message.id);
    Ok(claimed)
}

/// Forgets a delivered message.
pub async fn delivered(conn: &impl ConnectionTrait, id: i64) -> Result<(), DbErr> {
    mail_outbox::Entity::delete_by_id(id)
        .exec(conn)
        .await
        .map(drop)
}

/// Keeps a message whose delivery failed for another attempt at `retry_at`.
pub async fn failed(
    conn: &impl ConnectionTrait,
    id: i64,
    error: &str,
    retry_at: DateTimeUtc,
) -> Result<(), DbErr> {
    mail_outbox::Entity::update_many()
        .col_expr(Column::NextAttemptAt, Expr::val(retry_at))
        .col_expr(Column::LastError, Expr::val(error.to_owned()))
        .filter(Column::Id.eq(id))
        .exec(conn)
        .await
        .map(drop)
}
