//! A person with an account; manages profiles through `user_profile`.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub email: String,
    pub created_at: DateTimeUtc,
    #[sea_orm(has_many, via = "user_profile")]
    pub profiles: HasMany<super::profile::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
