//! Who manages which profile: the role enum, and the mutations that link and unlink.

use async_graphql::{ComplexObject, Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{user, user_profile};
use sea_orm::{EntityTrait, SqlErr};

use super::{
    id::{NodeId, NodeType},
    loaders::{Batch, UserKey},
    profile::{Profile, no_profile},
    state,
    user::User,
};
use crate::{
    auth::{Permission, Viewer, guards::Authenticated, rules::ProfileAccess},
    db::{Db, WriteTx},
    error::{AppError, AppResult, DbResultExt},
    events::{self, Membership},
    store::{
        self,
        memberships::{self, Outcome},
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
    #[graphql(skip)]
    profile_id: i64,
    /// The profile's row, when the change read it.
    #[graphql(skip)]
    profile: Option<Profile>,
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
    /// The ID of the profile, always (for a client cache to find the edge changed).
    async fn profile_id(&self) -> ID {
        NodeId::profile(self.profile_id)
    }

    /// The ID of the user, always: also when `user` is null because the caller no longer sees
    /// them (for a client cache to remove the edge, e.g. Relay's `@deleteEdge`).
    async fn user_id(&self) -> ID {
        NodeId::user(self.user_id)
    }

    /// The profile.
    async fn profile(&self, ctx: &Context<'_>) -> async_graphql::Result<Profile> {
        if let Some(profile) = &self.profile {
            return Ok(profile.clone());
        }
        // The caller just changed its managers: they may see it.
        let profile = entity::profile::Entity::find_by_id(self.profile_id)
            .one(&state(ctx)?.conn())
            .await
            .map_err(AppError::from)?
            .ok_or_else(no_profile)?;
        Ok(Profile::new(profile))
    }

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
    /// with the same role changes nothing; with another role, it changes the role.
    /// `profiles:write` holders may add anyone; owners of the profile may add only users they
    /// already see (who share a profile with them), and invite anyone else
    /// (`inviteProfileManager`). A user the caller may not see answers as one who does not
    /// exist. The last owner cannot be demoted.
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
    /// and any manager may remove themself; the last owner cannot be removed. A user the
    /// caller may not see answers as one who does not exist.
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

/// Sets the user's role on the profile, or removes the user from it when `role` is `None`.
async fn change(
    db: &Db,
    viewer: &Viewer,
    profile_key: i64,
    user_key: i64,
    role: Option<ProfileRole>,
) -> AppResult<MembershipPayload> {
    if viewer.can(Permission::ProfilesWrite)
        && let Some(payload) = change_unlocked(db, profile_key, user_key, role).await?
    {
        return Ok(payload);
    }
    change_locked(db, viewer, profile_key, user_key, role).await
}

/// The changes of a `profiles:write` holder that need no access check and cannot touch an
/// owner: a new link, the removal of a manager's link, and the requests that find things as
/// they ask already (the link there with that role, or no link to remove). They take no lock on
/// the profile, only the link's row. `None` for every other case (a role to change, an owner
/// removed, a profile or user missing): those go through `change_locked`, this having written
/// nothing.
async fn change_unlocked(
    db: &Db,
    profile_key: i64,
    user_key: i64,
    role: Option<ProfileRole>,
) -> AppResult<Option<MembershipPayload>> {
    let mut tx = db.begin_link_write(user_key, profile_key).await?;
    // `add` and `remove` publish what they changed with the transaction.
    let (link, changed) = match role {
        Some(role) => {
            let added = memberships::add(&mut tx, user_key, profile_key, role.into()).await;
            match added {
                Ok(Some(link)) => (Some(link), true),
                // The link was there; unchanged if it has this role already.
                Ok(None) => match memberships::find(&*tx, user_key, profile_key).await? {
                    Some(link) if link.role == role.into() => (Some(link), false),
                    _ => return Ok(None),
                },
                Err(err)
                    if matches!(
                        err.sql_err(),
                        Some(SqlErr::ForeignKeyConstraintViolation(_))
                    ) =>
                {
                    return Err(missing(db, profile_key).await);
                }
                Err(err) => return Err(err.into()),
            }
        }
        None => {
            // A link made an owner's meanwhile stays locked by the DELETE that found it so,
            // and the locked path, waiting for the profile's lock with it, could deadlock
            // with a holder of that lock waiting for the link: the fallback releases it. A
            // link this transaction wrote is locked by it already: nobody changes it meanwhile.
            let savepoint = !tx.holds_link(user_key, profile_key);
            if savepoint {
                tx.savepoint().await?;
            }
            match memberships::remove(&mut tx, user_key, profile_key, false).await? {
                Some(_) => (None, true),
                // Nothing removed: unchanged when both exist unlinked (otherwise the link is
                // an owner's, or the locked path says what is missing).
                None if memberships::unlinked(&*tx, user_key, profile_key).await? => (None, false),
                None => {
                    if savepoint {
                        tx.roll_back_to_savepoint().await?;
                    }
                    return Ok(None);
                }
            }
        }
    };
    let role = link.as_ref().map(|link| link.role);
    tx.commit().await?;
    Ok(Some(MembershipPayload {
        profile_id: profile_key,
        profile: None,
        user_id: user_key,
        role: role.map(ProfileRole::from),
        linked_at: link.map(|link| link.created_at),
        changed,
    }))
}

/// What a link's foreign key missed: the profile, or else the user. Read outside the request's
/// transaction, which PostgreSQL refuses to use after the failed statement.
async fn missing(db: &Db, profile_key: i64) -> AppError {
    match entity::profile::Entity::find_by_id(profile_key)
        .one(db.pool())
        .await
    {
        Ok(None) => no_profile(),
        Ok(Some(_)) => no_user(),
        Err(err) => err.into(),
    }
}

/// Sets the user's role on the profile, or removes the user from it when `role` is `None`, in
/// one transaction that holds the profile's lock, so concurrent changes cannot leave the
/// profile without an owner.
async fn change_locked(
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
    // Nobody learns of, or attaches anything to, a user who has not shared a profile with
    // them: such a user is as missing as one who does not exist.
    if !viewer.can(Permission::ProfilesWrite)
        && store::by_ids::<user::Entity>(&*tx, &viewer.scope(), &[user_key])
            .await?
            .is_empty()
    {
        return Err(no_user());
    }

    // The link is written first and read only when it was there already: a new link is
    // one statement, and the profile's lock keeps other changes of its managers out meanwhile.
    let (link, outcome) = match role {
        Some(role) => set_locked(&mut tx, profile.id, user_key, role).await?,
        None => match memberships::remove(&mut tx, user_key, profile.id, true).await? {
            // Removing the last owner is refused, and the transaction (its event with it)
            // rolled back.
            Some(removed) => {
                if removed.role == entity::ProfileRole::Owner {
                    keep_an_owner(&tx, profile.id, user_key).await?;
                }
                (None, Outcome::Removed)
            }
            None => {
                user::Entity::find_by_id(user_key)
                    .one(&*tx)
                    .await?
                    .ok_or_else(no_user)?;
                (None, Outcome::Unchanged)
            }
        },
    };
    tx.commit().await?;
    Ok(MembershipPayload::locked(profile, user_key, link, outcome))
}

/// Gives the user `role` on the profile whose lock `tx` holds (an invitation accepted).
pub(super) async fn link_locked(
    tx: &mut WriteTx<'_>,
    profile: entity::profile::Model,
    user_key: i64,
    role: ProfileRole,
) -> AppResult<MembershipPayload> {
    let (link, outcome) = set_locked(tx, profile.id, user_key, role).await?;
    Ok(MembershipPayload::locked(profile, user_key, link, outcome))
}

impl MembershipPayload {
    /// The payload of a change made holding the profile's lock (which read the profile): the
    /// user's link after it, if any, and what it did.
    fn locked(
        profile: entity::profile::Model,
        user_key: i64,
        link: Option<user_profile::Model>,
        outcome: Outcome,
    ) -> Self {
        MembershipPayload {
            profile_id: profile.id,
            profile: Some(Profile::new(profile)),
            user_id: user_key,
            role: link.as_ref().map(|link| link.role.into()),
            linked_at: link.map(|link| link.created_at),
            changed: outcome != Outcome::Unchanged,
        }
    }
}

fn no_user() -> AppError {
    AppError::not_found("no such user")
}

/// How many times a change holding the profile's lock tries to add or lock a link that
/// changes without that lock (administrators' changes take none) before giving up.
const LINK_ATTEMPTS: usize = 16;

/// Gives the user `role` on the profile whose lock `tx` holds: adds the link, or locks the
/// one there and sets its role. The link is written first and read only when it was there
/// already, so a new link is one statement.
async fn set_locked(
    tx: &mut WriteTx<'_>,
    profile: i64,
    user_key: i64,
    role: ProfileRole,
) -> AppResult<(Option<user_profile::Model>, Outcome)> {
    for _ in 0..LINK_ATTEMPTS {
        // An unknown user fails the link's foreign key.
        let added = memberships::add(tx, user_key, profile, role.into())
            .await
            .on_foreign_key_violation("no such user")?;
        if let Some(link) = added {
            return Ok((Some(link), Outcome::Added));
        }
        // The link was there: lock it, so it stays until the role is set. It is gone if a
        // change without the profile's lock removed it in between: then add it again.
        let Some(current) = memberships::find_locked(&**tx, user_key, profile).await? else {
            continue;
        };
        if current.role == entity::ProfileRole::Owner && role != ProfileRole::Owner {
            keep_an_owner(tx, profile, user_key).await?;
        }
        let (link, outcome) = memberships::set_role(&**tx, current, role.into()).await?;
        if outcome == Outcome::RoleChanged {
            let event = Membership::now(
                events::Change::RoleChanged,
                profile,
                user_key,
                Some(link.role),
            );
            tx.publish(event).await?;
        }
        return Ok((Some(link), outcome));
    }
    Err(AppError::conflict(
        "the managers of the profile kept changing meanwhile: try again",
    ))
}

/// Refuses a change that leaves the profile without an owner besides `user_key`.
async fn keep_an_owner(tx: &WriteTx<'_>, profile: i64, user_key: i64) -> AppResult<()> {
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
