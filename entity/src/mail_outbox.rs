//! A message waiting to be sent: written in the transaction of the change that causes it, so
//! it exists if and only if that change committed; deleted once delivered.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mail_outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub created_at: DateTimeUtc,
    /// Deliveries tried so far.
    pub attempts: i32,
    /// When a sender may next take it: now for a new message, later after a failure (with
    /// backoff), or when a sender's claim on it lapses.
    pub next_attempt_at: DateTimeUtc,
    pub last_error: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
