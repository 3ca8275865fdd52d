//! A single-use token sent by mail (a password reset, …), kept as the SHA-256 digest of its
//! text only; deleted when used, replaced by a newer one of the same purpose, or voided.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account_token")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    /// What the token is for: `password_reset`, `email_change`, …
    pub purpose: String,
    #[sea_orm(unique)]
    pub digest: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    /// What the token stands for beyond its user: the new address of a change of email.
    pub detail: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
