//! How many times users' cards have changed: one row, counted up in the transaction of each
//! change, which replicas that keep cards check their cache against.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "card_epoch")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub epoch: i64,
}

impl ActiveModelBehavior for ActiveModel {}
