//! A person with an account; manages profiles through `user_profile`.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub email: String,
    /// `email` folded (`crate::folded::email_key`), unique: what accounts are told apart, found
    /// and ordered by.
    pub email_key: String,
    pub created_at: DateTimeUtc,
    /// Argon2id hash in PHC format; empty for a user who cannot log in.
    pub password_hash: String,
    pub active: bool,
    /// Random and unique; every token of the user carries it, so changing it revokes them all.
    pub fs_uniquifier: String,
    pub confirmed_at: Option<DateTimeUtc>,
    pub last_login_at: Option<DateTimeUtc>,
    pub current_login_at: Option<DateTimeUtc>,
    pub last_login_ip: Option<String>,
    pub current_login_ip: Option<String>,
    pub login_count: i64,
    pub updated_at: DateTimeUtc,
    /// The name the user shows others; none when they chose none.
    pub display_name: Option<String>,
    #[sea_orm(has_many, via = "user_profile")]
    pub profiles: HasMany<super::profile::Entity>,
    #[sea_orm(has_many, via = "user_role")]
    pub roles: HasMany<super::role::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
