//! Invitations to manage a profile: the `ProfileInvitation` object, its lists
//! (`User.invitations` for the invitee, `Profile.invitations` for the owners) and the mutations
//! that send, accept, decline and revoke one.
//!
//! An invitation names an email address, never a user: sending one reads nothing of the users
//! table and answers the same whether or not the address has an account. Whoever holds an
//! account with that address (now or later) sees it and decides.

use std::sync::Arc;

use async_graphql::{
    Context, ID, Object, SimpleObject,
    connection::{Connection, Edge},
};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::ConnectionTrait;
use serde_json::json;

use super::{
    connection::{ListKind, Paging, ProfileInvitationConnection, Window, page_info},
    id::{NodeId, NodeType},
    loaders::{Batch, InvitationCountOfProfile, InvitationsOfProfile, ProfileKey},
    membership::{self, MembershipPayload, ProfileRole},
    profile::Profile,
    state,
};
use crate::{
    auth::{
        Accounts, Viewer,
        email::{self, Email},
        guards::Authenticated,
        rules::ProfileAccess,
        tokens,
    },
    config::Config,
    db::{Db, WriteTx},
    error::{AppError, AppResult, DbResultExt},
    events::InvitationChange,
    mail::{Mail, Message},
    store::{
        self,
        invitations::{self, NewInvitation, Of, Pending},
    },
};

/// How often the same invitation is mailed at most.
const MAIL_INTERVAL: TimeDelta = TimeDelta::minutes(1);

/// What invitations may be sent: how long one waits, and how many one user may have pending.
#[derive(Clone, Copy, Debug)]
pub struct InvitationRules {
    pub ttl: TimeDelta,
    pub max_pending: u64,
}

impl InvitationRules {
    pub fn of(config: &Config) -> Self {
        InvitationRules {
            ttl: TimeDelta::from_std(config.invitation_ttl).unwrap_or(TimeDelta::MAX),
            max_pending: config.invitations_max_pending,
        }
    }
}

/// An invitation to manage a profile, pending until its invitee accepts or declines it, an
/// owner of the profile revokes it, or it expires. Seen by its invitee (the account with the
/// invited address) and by the profile's owners.
#[derive(Clone, Debug)]
pub struct ProfileInvitation(Arc<Pending>);

#[Object]
impl ProfileInvitation {
    /// The global ID of the invitation.
    pub async fn id(&self) -> ID {
        NodeId::invitation(self.0.invitation.id)
    }

    /// The profile, when the caller may see it (its managers do; the invitee once they
    /// accepted).
    async fn profile(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Profile>> {
        Ok(Batch::of(ctx)?
            .load_one(ProfileKey(self.0.invitation.profile_id))
            .await?
            .map(Profile::new))
    }

    /// The name of the profile, for the invitee to decide by.
    async fn profile_name(&self) -> &str {
        &self.0.profile_name
    }

    /// The address invited, as the inviter wrote it.
    async fn email(&self) -> &str {
        &self.0.invitation.email
    }

    /// The role the invitee gets on the profile by accepting.
    async fn role(&self) -> ProfileRole {
        self.0.invitation.role.into()
    }

    /// The email of the owner who sent the invitation (or last sent it again).
    async fn inviter_email(&self) -> &str {
        &self.0.inviter_email
    }

    /// When the invitation was sent (or last sent again).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.invitation.created_at
    }

    /// When the invitation expires unless it is answered first.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.invitation.expires_at
    }
}

/// Where a list of invitations counts its total from.
#[derive(Clone, Debug)]
pub enum InvitationTotal {
    Invitee(String),
    Profile(i64),
}

#[Object]
impl InvitationTotal {
    /// The number of items in the whole list, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        match self {
            InvitationTotal::Invitee(invitee) => {
                let counts = invitations::counts(&state(ctx)?.conn(), Of::Invitee(invitee))
                    .await
                    .map_err(AppError::from)?;
                Ok(counts.first().map_or(0, |(_, count)| *count))
            }
            InvitationTotal::Profile(profile) => Ok(Batch::of(ctx)?
                .load_one(InvitationCountOfProfile(*profile))
                .await?
                .unwrap_or(0)),
        }
    }
}

/// `User.invitations`: the pending invitations sent to `user`'s address, for that user only.
pub async fn of_user(
    ctx: &Context<'_>,
    user: i64,
    paging: Paging,
) -> async_graphql::Result<Option<ProfileInvitationConnection>> {
    let list = ListKind::UserInvitations;
    let window = paging.by_key(ctx, list)?;
    let Ok(viewer) = super::viewer(ctx).await else {
        return Ok(None);
    };
    if viewer.id() != user {
        return Ok(None);
    }
    let invitee = email::digest(&viewer.user.email);
    let rows = invitations::page(
        &state(ctx)?.conn(),
        Of::Invitee(&invitee),
        store_window(&window),
    )
    .await
    .map_err(AppError::from)?;
    Ok(Some(connection(
        list,
        &window,
        rows,
        InvitationTotal::Invitee(invitee),
    )))
}

/// `Profile.invitations`: the profile's pending invitations, for its owners and
/// `profiles:write` holders only (one statement per nesting level).
pub async fn of_profile(
    ctx: &Context<'_>,
    profile: i64,
    paging: Paging,
) -> async_graphql::Result<Option<ProfileInvitationConnection>> {
    let list = ListKind::ProfileInvitations;
    let window = paging.by_key(ctx, list)?;
    let key = InvitationsOfProfile {
        profile,
        window: store_window(&window),
    };
    let Some(rows) = Batch::of(ctx)?.load_one(key).await? else {
        return Ok(None);
    };
    Ok(Some(connection(
        list,
        &window,
        rows,
        InvitationTotal::Profile(profile),
    )))
}

/// The window to read: one row more than the page, to tell whether the list goes on.
fn store_window(window: &Window) -> invitations::Window {
    invitations::Window {
        after: window.after.as_ref().map(|position| position.id),
        before: window.before.as_ref().map(|position| position.id),
        take: window.limit.saturating_add(1),
        backward: window.backward,
    }
}

/// The page of `rows` (read in the window's order, one more than it holds when the list goes
/// on), as every list of Roster answers.
fn connection(
    list: ListKind,
    window: &Window,
    mut rows: Vec<Pending>,
    total: InvitationTotal,
) -> ProfileInvitationConnection {
    let limit = usize::try_from(window.limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    if window.backward {
        rows.reverse();
    }
    let (has_previous, has_next) = page_info(
        window.backward,
        window.after.is_some(),
        window.before.is_some(),
        more,
    );
    let mut connection = Connection::with_additional_fields(has_previous, has_next, total);
    connection.edges = rows
        .into_iter()
        .map(|row| {
            let cursor = Window::cursor(list, row.invitation.id);
            Edge::new(cursor, ProfileInvitation(Arc::new(row)))
        })
        .collect();
    connection
}

/// The invitation with this ID if the caller may see it, for `Query.node`.
pub async fn node(ctx: &Context<'_>, key: i64) -> async_graphql::Result<Option<ProfileInvitation>> {
    let viewer = super::viewer(ctx).await?;
    let conn = state(ctx)?.conn();
    let Some(pending) = invitations::pending(&conn, key)
        .await
        .map_err(AppError::from)?
    else {
        return Ok(None);
    };
    let standing = Standing::of(&conn, viewer, &pending.invitation).await?;
    Ok((standing.invitee || standing.owner).then(|| ProfileInvitation(Arc::new(pending))))
}

/// How the caller stands to an invitation: its invitee, an owner of its profile (or a
/// `profiles:write` holder), or neither (to whom it does not exist).
struct Standing {
    invitee: bool,
    owner: bool,
}

impl Standing {
    async fn of(
        conn: &impl ConnectionTrait,
        viewer: &Viewer,
        invitation: &entity::profile_invitation::Model,
    ) -> AppResult<Self> {
        let access = ProfileAccess::of(conn, viewer, invitation.profile_id).await?;
        Ok(Standing {
            invitee: invitation.invitee == email::digest(&viewer.user.email),
            owner: access.can_manage(),
        })
    }
}

fn no_invitation() -> AppError {
    AppError::not_found("no such invitation")
}

/// The result of sending an invitation.
#[derive(SimpleObject)]
pub struct ProfileInvitationPayload {
    /// The invitation, pending.
    invitation: ProfileInvitation,
}

/// The result of answering or revoking an invitation.
#[derive(SimpleObject)]
pub struct RemovedProfileInvitationPayload {
    /// The ID of the invitation, which is no longer pending.
    invitation_id: ID,
}

#[derive(Default)]
pub struct InvitationMutation;

#[Object]
impl InvitationMutation {
    /// Invites the holder of an email address to manage a profile with a role. The answer is
    /// the same whether or not the address has an account: its holder is sent a link by mail
    /// (`<PUBLIC_URL>/invitation?token=…`; `register` with its token makes the account with the
    /// address confirmed), sees the invitation in `me { invitations }` (now, or once they
    /// register) and accepts or declines it. Inviting
    /// an address again renews its invitation with the new role and expiry. Owners of the
    /// profile and `profiles:write` holders may; each user may have at most
    /// `INVITATIONS_MAX_PENDING` invitations pending.
    #[graphql(guard = "Authenticated")]
    async fn invite_profile_manager(
        &self,
        ctx: &Context<'_>,
        profile_id: ID,
        email: String,
        #[graphql(default_with = "ProfileRole::Manager")] role: ProfileRole,
    ) -> async_graphql::Result<ProfileInvitationPayload> {
        let profile = NodeId::decode_as(&profile_id, NodeType::Profile)?;
        let email = email::normalize(&email)?;
        let viewer = super::viewer(ctx).await?;
        let rules = *ctx.data::<InvitationRules>()?;
        let mail = ctx.data::<Accounts>()?.mail();
        let invitation = invite(state(ctx)?, mail, viewer, profile, &email, role, rules).await?;
        Ok(ProfileInvitationPayload {
            invitation: ProfileInvitation(Arc::new(invitation)),
        })
    }

    /// Accepts an invitation sent to the caller's address: the caller becomes a manager of its
    /// profile with the role offered (a manager already gets that role; the last owner cannot
    /// become a manager this way).
    #[graphql(guard = "Authenticated")]
    async fn accept_profile_invitation(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<MembershipPayload> {
        let key = NodeId::decode_as(&id, NodeType::ProfileInvitation)?;
        let viewer = super::viewer(ctx).await?;
        Ok(accept(state(ctx)?, viewer, key).await?)
    }

    /// Declines an invitation sent to the caller's address.
    #[graphql(guard = "Authenticated")]
    async fn decline_profile_invitation(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<RemovedProfileInvitationPayload> {
        removed(ctx, id, InvitationChange::Declined).await
    }

    /// Revokes an invitation to a profile. Owners of the profile and `profiles:write` holders
    /// may.
    #[graphql(guard = "Authenticated")]
    async fn revoke_profile_invitation(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<RemovedProfileInvitationPayload> {
        removed(ctx, id, InvitationChange::Revoked).await
    }
}

/// Declines or revokes the invitation `id` for the caller, as `change` says.
async fn removed(
    ctx: &Context<'_>,
    id: ID,
    change: InvitationChange,
) -> async_graphql::Result<RemovedProfileInvitationPayload> {
    let key = NodeId::decode_as(&id, NodeType::ProfileInvitation)?;
    let viewer = super::viewer(ctx).await?;
    remove(state(ctx)?, viewer, key, change).await?;
    Ok(RemovedProfileInvitationPayload { invitation_id: id })
}

/// Sends (or renews) the invitation of `email` to `profile`, within the inviter's quota, and
/// mails its link; a renewal within `MAIL_INTERVAL` of the last message keeps that message's
/// link and mails nothing, so inviting again and again floods no one.
async fn invite(
    db: &Db,
    mail: &Mail,
    viewer: &Viewer,
    profile: i64,
    email: &Email,
    role: ProfileRole,
    rules: InvitationRules,
) -> AppResult<Pending> {
    let mut tx = db.begin_write().await?;
    let access = ProfileAccess::of(&*tx, viewer, profile).await?;
    access.require(access.can_manage(), "invite managers")?;
    let invitee = tokens::digest(&email.key);
    invitations::lock_inviter(&*tx, viewer.id()).await?;
    let pending = invitations::pending_of_inviter(&*tx, viewer.id(), profile, &invitee).await?;
    if pending >= rules.max_pending {
        return Err(AppError::conflict(format!(
            "you have {} invitations pending, the most allowed: revoke some, or wait until they \
             are answered or expire",
            rules.max_pending
        )));
    }
    let now = store::now();
    let earlier = invitations::of_invitee(&*tx, profile, &invitee).await?;
    let mailed = earlier
        .filter(|earlier| earlier.expires_at > now && earlier.created_at > now - MAIL_INTERVAL)
        .and_then(|earlier| earlier.token_digest);
    let token = tokens::random_secret()?;
    let new = NewInvitation {
        profile_id: profile,
        inviter_id: viewer.id(),
        email: &email.address,
        invitee: &invitee,
        role: role.into(),
        expires_at: now
            .checked_add_signed(rules.ttl)
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
        token_digest: mailed.clone().unwrap_or_else(|| tokens::digest(&token)),
    };
    // A `profiles:write` holder's profile is not looked up: its foreign key says if it is gone.
    let sent = invitations::send(&mut tx, new)
        .await
        .on_foreign_key_violation("no such profile")?;
    let pending = invitations::pending(&*tx, sent.id)
        .await?
        .ok_or(AppError::Internal)?;
    if mailed.is_none() {
        mail_invitation(&mut tx, mail, &pending, role, &token, rules.ttl).await?;
    }
    tx.commit().await?;
    Ok(pending)
}

/// Mails the invitation to its address, with the link of `token`.
async fn mail_invitation(
    tx: &mut WriteTx<'_>,
    mail: &Mail,
    pending: &Pending,
    role: ProfileRole,
    token: &str,
    ttl: TimeDelta,
) -> AppResult<()> {
    let email = &pending.invitation.email;
    let message = Message {
        template: "invitation",
        subject: &format!(
            "{} invites you to manage a profile on Roster",
            pending.inviter_email
        ),
        context: json!({
            "email": email,
            "inviter": pending.inviter_email,
            "profile": pending.profile_name,
            "role": match role {
                ProfileRole::Owner => "an owner",
                ProfileRole::Manager => "a manager",
            },
            "link": mail.link("invitation", token),
            "days": ttl.num_days(),
        }),
    };
    mail.post(tx, email, message).await
}

/// Accepts the invitation `key` for the caller, in one transaction holding the profile's lock.
async fn accept(db: &Db, viewer: &Viewer, key: i64) -> AppResult<MembershipPayload> {
    let mut tx = db.begin_write().await?;
    let pending = invitations::pending(&*tx, key)
        .await?
        .ok_or_else(no_invitation)?;
    let invitation = pending.invitation;
    let standing = Standing::of(&*tx, viewer, &invitation).await?;
    if !standing.invitee {
        return Err(refusal(&standing, "accept it"));
    }
    let profile = store::profiles::lock(&*tx, invitation.profile_id)
        .await?
        .ok_or_else(no_invitation)?;
    // Answered meanwhile (the profile's lock orders the answers).
    if !invitations::remove(&mut tx, &invitation, InvitationChange::Accepted).await? {
        return Err(no_invitation());
    }
    let payload =
        membership::link_locked(&mut tx, profile, viewer.id(), invitation.role.into()).await?;
    tx.commit().await?;
    Ok(payload)
}

/// Declines (the invitee) or revokes (an owner) the invitation `key`.
async fn remove(db: &Db, viewer: &Viewer, key: i64, change: InvitationChange) -> AppResult<()> {
    let mut tx = db.begin_write().await?;
    let pending = invitations::pending(&*tx, key)
        .await?
        .ok_or_else(no_invitation)?;
    let standing = Standing::of(&*tx, viewer, &pending.invitation).await?;
    let (allowed, action) = match change {
        InvitationChange::Revoked => (standing.owner, "revoke it"),
        _ => (standing.invitee, "decline it"),
    };
    if !allowed {
        return Err(refusal(&standing, action));
    }
    if !invitations::remove(&mut tx, &pending.invitation, change).await? {
        return Err(no_invitation());
    }
    tx.commit().await?;
    Ok(())
}

/// Why a caller may not `action` an invitation: `FORBIDDEN` to its invitee or an owner, who
/// see it, and `NOT_FOUND` to anyone else, to whom it does not exist.
fn refusal(standing: &Standing, action: &str) -> AppError {
    match (standing.invitee, standing.owner) {
        (false, false) => no_invitation(),
        (true, _) => AppError::forbidden(format!(
            "only an owner of the profile may {action}; its invitee may accept or decline it"
        )),
        (false, true) => AppError::forbidden(format!(
            "only its invitee may {action}; an owner of the profile may revoke it"
        )),
    }
}
