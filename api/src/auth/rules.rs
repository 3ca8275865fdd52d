//! Row-level rules: what a caller may do with one profile. Mutations and guards share them.

use entity::ProfileRole;
use sea_orm::{ConnectionTrait, DbErr};

use super::{Permission, Viewer};
use crate::{
    error::{AppError, AppResult},
    store::memberships,
};

/// The caller's standing on one profile.
#[derive(Clone, Copy, Debug)]
pub struct ProfileAccess {
    /// The caller's role on the profile, when they manage it (not looked up for holders of
    /// `profiles:write`, who may do everything anyway).
    pub role: Option<ProfileRole>,
    read_all: bool,
    write_all: bool,
}

impl ProfileAccess {
    pub async fn of(
        conn: &impl ConnectionTrait,
        viewer: &Viewer,
        profile_id: i64,
    ) -> Result<Self, DbErr> {
        let write_all = viewer.can(Permission::ProfilesWrite);
        let role = if write_all {
            None
        } else {
            memberships::find(conn, viewer.id(), profile_id)
                .await?
                .map(|link| link.role)
        };
        Ok(ProfileAccess {
            role,
            read_all: viewer.can(Permission::ProfilesRead),
            write_all,
        })
    }

    /// Managers and `profiles:read` holders see the profile.
    pub fn visible(&self) -> bool {
        self.role.is_some() || self.read_all
    }

    /// Any manager, or a `profiles:write` holder, may rename the profile.
    pub fn can_edit(&self) -> bool {
        self.role.is_some() || self.write_all
    }

    /// Owners, and `profiles:write` holders, may delete the profile and change its managers.
    pub fn can_manage(&self) -> bool {
        self.role == Some(ProfileRole::Owner) || self.write_all
    }

    /// Ok when `allowed`; otherwise `FORBIDDEN` to a caller who can see the profile, and
    /// `NOT_FOUND` to one who cannot (so nobody learns of profiles they may not see).
    pub fn require(&self, allowed: bool, action: &str) -> AppResult<()> {
        match (allowed, self.visible()) {
            (true, _) => Ok(()),
            (false, true) => Err(AppError::forbidden(format!(
                "only an owner of the profile may {action}"
            ))),
            (false, false) => Err(AppError::not_found("no such profile")),
        }
    }
}
