//! A document registered by an automatic persisted query, by the SHA-256 hash of its text
//! (lowercase hexadecimal); kept while the documents registered after it fit the bound.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "persisted_query")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub hash: String,
    pub document: String,
    /// The length of `document` in bytes.
    pub bytes: i32,
    pub registered_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
