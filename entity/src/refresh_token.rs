//! A refresh token, stored as its SHA-256 hash. Tokens rotate on every use; all tokens issued
//! from one login form a family, revoked together.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_token")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub family: String,
    #[sea_orm(unique)]
    pub token_hash: String,
    /// The user's `fs_uniquifier` when the token was issued.
    pub uniquifier: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    /// When the session's sign-in happened (password, and code when the user has two-factor):
    /// the tokens rotated from it carry it on, for operations that need a recent one. None for
    /// sessions from before it was kept.
    pub signed_in_at: Option<DateTimeUtc>,
    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "Cascade")]
    pub user: BelongsTo<super::user::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
