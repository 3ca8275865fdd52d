//! A request that mailed someone (a confirmation, a reset link, a registration notice), by
//! client address, kept for an hour to limit the mail one address makes Roster send.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mail_request")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub ip: String,
    pub at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
