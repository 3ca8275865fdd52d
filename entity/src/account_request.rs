//! A request for mail about an address (a password reset link, a new confirmation link),
//! queued by the request and answered by the mail sender: whether the address has an account
//! is looked at only then, so the request is the same work for any address.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account_request")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// What is asked for: `password_reset`, `confirm_email`.
    pub kind: String,
    /// The address as typed (normalized).
    pub email: String,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
