//! A named set of permissions granted to users through `user_role`.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "role")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    pub description: String,
    /// Comma-separated permission names, as Flask-Security stores them.
    pub permissions: String,
    #[sea_orm(has_many, via = "user_role")]
    pub users: HasMany<super::user::Entity>,
}

impl Model {
    /// The role's permissions.
    pub fn permission_list(&self) -> impl Iterator<Item = &str> {
        self.permissions
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
    }
}

impl ActiveModelBehavior for ActiveModel {}
