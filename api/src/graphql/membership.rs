//! Who manages which profile: the role enum, and the mutations that link and unlink.

use async_graphql::{ComplexObject, Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::user;
use sea_orm::EntityTrait;

use super::{
    id::{NodeId, NodeType},
    loaders::{Batch, UserKey},
    profile::{Profile, no_profile},
    state,
    user::User,
};
use crate::{
    auth::{Viewer, guards::Authenticated, rules::ProfileAccess},
    db::{Db, WriteTx},
    error::{AppError, AppResult, DbResultExt},
    events::{self, Membership},
    store::{
        self,
        memberships::{self, Change},
    },
};

/// A user's role on a profile they manage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "entity::ProfileRole")]
pub enum ProfileRole {
    /// Owns the profile: may change its managers and delete it.
    Owner,
    /// Manages the profile: may rename it.
    Manager,
}

/// The result of adding, changing or removing a profile manager.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct MembershipPayload {
    /// The profile.
    profile: Profile,
    #[graphql(skip)]
    user_id: i64,
    /// The user's role on the profile now; null when the user no longer manages it.
    role: Option<ProfileRole>,
    /// When the user became a manager of the profile; null when the user no longer manages it.
    linked_at: Option<DateTime<Utc>>,
    /// Whether the request changed anything.
    changed: bool,
}

#[ComplexObject]
impl MembershipPayload {
    /// The user, when the caller may see them (someone removed from the caller's only shared
    /// profile is no longer visible).
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(Batch::of(ctx)?
            .load_one(UserKey(self.user_id))
            .await?
            .map(User::new))
    }
}

#[derive(Default)]
pub struct MembershipMutation;

#[Object]
impl MembershipMutation {
    /// Makes a user a manager of a profile with the given role. Adding an existing manager
    /// with the same role changes nothing; with another role, it changes the role. Owners of
    /// the profile and `profiles:write` holders may; the last owner cannot be demoted.
    #[graphql(guard = "Authenticated")]
    async fn add_profile_manager(
        &self,
        ctx: &Context<'_>,
        profile_id: ID,
        user_id: ID,
        #[graphql(default_with = "ProfileRole::Manager")] role: ProfileRole,
    ) -> async_graphql::Result<MembershipPayload> {
        let (profile, user) = keys(&profile_id, &user_id)?;
        let viewer = super::viewer(ctx).await?;
        Ok(change(state(ctx)?, viewer, profile, user, Some(role)).await?)
    }

    /// Removes a user from the managers of a profile. Removing a user who does not manage
    /// the profile changes nothing. Owners of the profile and `profiles:write` holders may,
    /// and any manager may remove themself; the last owner cannot be removed.
    #[graphql(guard = "Authenticated")]
    async fn remove_profile_manager(
        &self,
        ctx: &Context<'_>,
        profile_id: ID,
        user_id: ID,
    ) -> async_graphql::Result<MembershipPayload> {
        let (profile, user) = keys(&profile_id, &user_id)?;
        let viewer = super::viewer(ctx).await?;
        Ok(change(state(ctx)?, viewer, profile, user, None).await?)
    }
}

/// Sets the user's role on the profile, or removes the user from it when `role` is `None`, in
/// one transaction that holds the profile's lock, so concurrent changes cannot leave the
/// profile without an owner.
async fn change(
    db: &Db,
    viewer: &Viewer,
    profile_key: i64,
    user_key: i64,
    role: Option<ProfileRole>,
) -> AppResult<MembershipPayload> {
    let mut tx = db.begin_write().await?;
    let profile = store::profiles::lock(&*tx, profile_key)
        .await?
        .ok_or_else(no_profile)?;
    let access = ProfileAccess::of(&*tx, viewer, profile.id).await?;
    let leaving = role.is_none() && user_key == viewer.id() && access.role.is_some();
    access.require(access.can_manage() || leaving, "change its managers")?;

    // The link is written first and read only when it was there already: a new link is
    // one statement, and the profile's lock keeps other changes of its managers out meanwhile.
    let (link, change) = match role {
        Some(role) => {
            // An unknown user fails the link's foreign key.
            let added = memberships::add(&*tx, user_key, profile.id, role.into())
                .await
                .on_foreign_key_violation("no such user")?;
            match added {
                Some(link) => (Some(link), Change::Added),
                None => {
                    // Gone only if the user was deleted meanwhile (deleting a user does not
                    // take the profile's lock).
                    let current = memberships::find(&*tx, user_key, profile.id)
                        .await?
                        .ok_or_else(|| AppError::not_found("no such user"))?;
                    if current.role == entity::ProfileRole::Owner && role != ProfileRole::Owner {
                        keep_an_owner(&tx, profile.id, user_key).await?;
                    }
                    let (link, change) = memberships::set_role(&*tx, current, role.into()).await?;
                    (Some(link), change)
                }
            }
        }
        None => match memberships::remove(&*tx, user_key, profile.id).await? {
            // Removing the last owner is refused, and the transaction rolled back.
            Some(removed) => {
                if removed.role == entity::ProfileRole::Owner {
                    keep_an_owner(&tx, profile.id, user_key).await?;
                }
                (None, Change::Removed)
            }
            None => {
                user::Entity::find_by_id(user_key)
                    .one(&*tx)
                    .await?
                    .ok_or_else(|| AppError::not_found("no such user"))?;
                (None, Change::Unchanged)
            }
        },
    };
    let event = match change {
        Change::Added => Some(events::Change::Added),
        Change::RoleChanged => Some(events::Change::RoleChanged),
        Change::Removed => Some(events::Change::Removed),
        Change::Unchanged => None,
    };
    if let Some(event) = event {
        let role = link.as_ref().map(|link| link.role);
        tx.publish(Membership::now(event, profile.id, user_key, role))
            .await?;
    }
    tx.commit().await?;
    Ok(MembershipPayload {
        profile: Profile::new(profile),
        user_id: user_key,
        role: link.as_ref().map(|link| link.role.into()),
        linked_at: link.map(|link| link.created_at),
        changed: change != Change::Unchanged,
    })
}

/// Refuses a change that leaves the profile without an owner besides `user_key`.
async fn keep_an_owner(tx: &WriteTx, profile: i64, user_key: i64) -> AppResult<()> {
    if memberships::other_owners(&**tx, profile, user_key).await? == 0 {
        return Err(AppError::conflict(
            "a profile always has an owner: make another user an owner first",
        ));
    }
    Ok(())
}

fn keys(profile_id: &ID, user_id: &ID) -> AppResult<(i64, i64)> {
    Ok((
        NodeId::decode_as(profile_id, NodeType::Profile)?,
        NodeId::decode_as(user_id, NodeType::User)?,
    ))
}
