//! An invitation to manage a profile with a role, sent by one of its owners to an email
//! address and pending until the address's account accepts or declines it, an owner revokes
//! it, or it expires.

use sea_orm::entity::prelude::*;

use crate::ProfileRole;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "profile_invitation")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub profile_id: i64,
    pub inviter_id: i64,
    /// The address as the inviter typed it (normalized).
    pub email: String,
    /// A digest of the folded address: the account whose address folds the same is invited.
    pub invitee: String,
    pub role: ProfileRole,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    /// The digest of the token of the link mailed to the address, which signs its holder up
    /// with the address confirmed.
    pub token_digest: Option<String>,
    #[sea_orm(belongs_to, from = "profile_id", to = "id", on_delete = "Cascade")]
    pub profile: BelongsTo<super::profile::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
