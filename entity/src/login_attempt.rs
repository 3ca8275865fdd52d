//! A login attempt, kept for the lockout window: by account (a digest of the email's key,
//! `folded::email_key`, whether or not an account has it) and by client address. An attempt is recorded before its
//! password is checked and forgotten if the password was right, so concurrent attempts count
//! at once.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_attempt")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account: String,
    pub ip: String,
    pub at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
