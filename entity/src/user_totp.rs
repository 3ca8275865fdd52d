//! A user's TOTP second factor (RFC 6238): its secret, whether the user confirmed it with a
//! code (only then does sign-in ask for one), and the last time step whose code was used, so no
//! code works twice.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_totp")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    /// The shared secret, base32 (RFC 4648, no padding).
    pub secret: String,
    pub created_at: DateTimeUtc,
    pub confirmed_at: Option<DateTimeUtc>,
    /// The last 30-second step whose code was accepted; 0 before any.
    pub last_step: i64,
}

impl ActiveModelBehavior for ActiveModel {}
