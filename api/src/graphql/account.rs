//! Accounts over GraphQL: registration, login, tokens, password changes, and the
//! administration of users and roles.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{role, user, user_profile};

use super::{
    id::{NodeId, NodeType},
    state,
    user::User,
};
use crate::{
    auth::{
        Accounts, Permission, Viewer,
        accounts::Session,
        guards::{Authenticated, Needs},
    },
    db::Db,
    error::{AppError, AppResult},
    events::{Change, Event, Membership},
    store::{self, memberships},
};

/// The client's address, as the server sees it (request data).
#[derive(Clone, Debug)]
pub struct ClientIp(pub String);

/// What `register` answers, whether or not the address had an account.
#[derive(SimpleObject)]
pub struct RegistrationPayload {
    /// The address, as kept (normalized).
    email: String,
    /// Whether the account signs in only once its address is confirmed (`CONFIRM_EMAIL`).
    confirmation_required: bool,
}

/// A signed-in session: send `accessToken` as `Authorization: Bearer <accessToken>`; trade
/// `refreshToken` for new tokens with `refreshToken` before `expiresAt`.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// A short-lived token that authenticates requests.
    access_token: String,
    /// A single-use token that obtains new tokens; keep it secret.
    refresh_token: String,
    /// When the access token expires.
    expires_at: DateTime<Utc>,
    /// The signed-in user.
    user: User,
}

impl From<Session> for AuthPayload {
    fn from(session: Session) -> Self {
        AuthPayload {
            access_token: session.access.token,
            refresh_token: session.refresh_token,
            expires_at: session.access.expires_at,
            user: User::signed_in(session.user),
        }
    }
}

/// A named set of permissions.
#[derive(Clone, Debug)]
pub struct Role(pub role::Model);

#[Object]
impl Role {
    /// The role's unique name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What the role is for.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// The permissions the role grants, such as `users:read`.
    async fn permissions(&self) -> Vec<&str> {
        self.0.permission_list().collect()
    }
}

/// A new account.
#[derive(InputObject)]
pub struct RegisterInput {
    /// The email address to log in with; unique, ignoring case and width (NFKC and Unicode
    /// full case folding; IDNA for the domain). Refused with invisible or bidi characters,
    /// characters UTS 39 keeps out of identifiers (symbols, emoji), a part mixing scripts, or a
    /// non-ASCII part that looks like ASCII; kept in NFKC, its domain in Unicode form.
    email: String,
    /// 8 to 128 characters.
    password: String,
    /// The token of an invitation link mailed to this address (its `token` parameter): the
    /// account is made with the address confirmed.
    invitation_token: Option<String>,
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Registers an address: a new account, whose address is confirmed through the link mailed
    /// to it (`CONFIRM_EMAIL`); sign in with `login`. The answer is the same when the address
    /// has an account already (its owner is told by mail instead), so it says nothing of
    /// whether it has. Refused when registration is closed.
    async fn register(
        &self,
        ctx: &Context<'_>,
        input: RegisterInput,
    ) -> async_graphql::Result<RegistrationPayload> {
        let ip = &ctx.data::<ClientIp>()?.0;
        let registered = accounts(ctx)?
            .register(
                state(ctx)?,
                &input.email,
                &input.password,
                input.invitation_token.as_deref(),
                ip,
            )
            .await?;
        Ok(RegistrationPayload {
            email: registered.email,
            confirmation_required: registered.confirmation_required,
        })
    }

    /// Confirms an address with the token of the link mailed to it (its `token` parameter).
    async fn confirm_email(&self, ctx: &Context<'_>, token: String) -> async_graphql::Result<bool> {
        accounts(ctx)?.confirm_email(state(ctx)?, &token).await?;
        Ok(true)
    }

    /// Mails a new confirmation link to the account of this email, if it has one still
    /// unconfirmed; `true` either way. One message per account a minute at most; requests that
    /// mail someone are limited per client address (`MAIL_IP_MAX_PER_HOUR`).
    async fn resend_confirmation(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> async_graphql::Result<bool> {
        let ip = &ctx.data::<ClientIp>()?.0;
        accounts(ctx)?
            .resend_confirmation(state(ctx)?, &email, ip)
            .await?;
        Ok(true)
    }

    /// Mails a link to choose a new password to the account of this email, if it has one;
    /// the answer is `true` either way, and says nothing of whether it has. One message per
    /// account a minute at most, and `MAIL_IP_MAX_PER_HOUR` requests per client address; the
    /// link works once, for `PASSWORD_RESET_TTL`.
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> async_graphql::Result<bool> {
        let ip = &ctx.data::<ClientIp>()?.0;
        accounts(ctx)?
            .request_password_reset(state(ctx)?, &email, ip)
            .await?;
        Ok(true)
    }

    /// Sets a new password with the token of a reset link (its `token` parameter). Ends every
    /// session of the account; sign in again with the new password.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> async_graphql::Result<bool> {
        accounts(ctx)?
            .reset_password(state(ctx)?, &token, &new_password)
            .await?;
        Ok(true)
    }

    /// Signs in with an email and a password. An account with two-factor sign-in answers the
    /// error `TWO_FACTOR_REQUIRED` instead, whose `extensions.challenge` (good for 5 minutes)
    /// `completeLogin` trades with a code for the tokens.
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> async_graphql::Result<AuthPayload> {
        let ip = &ctx.data::<ClientIp>()?.0;
        Ok(accounts(ctx)?
            .login(state(ctx)?, &email, &password, ip)
            .await?
            .into())
    }

    /// Trades a refresh token for new tokens. A refresh token works once; presenting it again
    /// revokes every token of its session.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> async_graphql::Result<AuthPayload> {
        Ok(accounts(ctx)?.refresh(state(ctx)?, &token).await?.into())
    }

    /// Ends the session of this refresh token (its access tokens expire on their own).
    #[graphql(guard = "Authenticated")]
    async fn logout(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> async_graphql::Result<bool> {
        accounts(ctx)?
            .logout(state(ctx)?, super::viewer(ctx).await?, &refresh_token)
            .await?;
        Ok(true)
    }

    /// Revokes every token of the caller, on every device.
    #[graphql(guard = "Authenticated")]
    async fn logout_everywhere(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        accounts(ctx)?
            .logout_everywhere(state(ctx)?, super::viewer(ctx).await?)
            .await?;
        Ok(true)
    }

    /// Changes the caller's password, revokes every token they hold, and signs them in anew.
    /// Needs a recent sign-in (`FRESHNESS`).
    #[graphql(guard = "Authenticated")]
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> async_graphql::Result<AuthPayload> {
        let ip = &ctx.data::<ClientIp>()?.0;
        let viewer = super::viewer(ctx).await?;
        let session = accounts(ctx)?
            .change_password(state(ctx)?, viewer, &current_password, &new_password, ip)
            .await?;
        Ok(session.into())
    }

    /// Asks to change the caller's address: a link to confirm it goes to the new address, and
    /// a notice to the current one; the address changes once the link is followed
    /// (`confirmEmailChange`). The answer is the same when the new address has an account (its
    /// owner is told instead). Needs a recent sign-in (`FRESHNESS`); one request a minute.
    #[graphql(guard = "Authenticated")]
    async fn request_email_change(
        &self,
        ctx: &Context<'_>,
        new_email: String,
    ) -> async_graphql::Result<bool> {
        let viewer = super::viewer(ctx).await?;
        accounts(ctx)?
            .request_email_change(state(ctx)?, viewer, &new_email)
            .await?;
        Ok(true)
    }

    /// Switches an account to its new address with the token of the link mailed there (its
    /// `token` parameter); the new address counts as confirmed. Sessions stay signed in.
    async fn confirm_email_change(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> async_graphql::Result<bool> {
        accounts(ctx)?
            .confirm_email_change(state(ctx)?, &token)
            .await?;
        Ok(true)
    }

    /// Allows or forbids a user to log in; a deactivated user's tokens stop working at once.
    /// Needs `users:write`.
    #[graphql(guard = "Needs(Permission::UsersWrite)")]
    async fn set_user_active(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        active: bool,
    ) -> async_graphql::Result<User> {
        let key = NodeId::decode_as(&user_id, NodeType::User)?;
        Ok(User::new(
            accounts(ctx)?.set_active(state(ctx)?, key, active).await?,
        ))
    }

    /// Grants a role to a user. Needs `users:write`.
    #[graphql(guard = "Needs(Permission::UsersWrite)")]
    async fn grant_role(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        role: String,
    ) -> async_graphql::Result<User> {
        let key = NodeId::decode_as(&user_id, NodeType::User)?;
        Ok(User::new(
            accounts(ctx)?
                .change_role(state(ctx)?, key, &role, true)
                .await?,
        ))
    }

    /// Revokes a role from a user. Needs `users:write`.
    #[graphql(guard = "Needs(Permission::UsersWrite)")]
    async fn revoke_role(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        role: String,
    ) -> async_graphql::Result<User> {
        let key = NodeId::decode_as(&user_id, NodeType::User)?;
        Ok(User::new(
            accounts(ctx)?
                .change_role(state(ctx)?, key, &role, false)
                .await?,
        ))
    }

    /// Deletes a user and every link of theirs; returns their ID. Users may delete themselves
    /// (with a recent sign-in, `FRESHNESS`), `users:write` holders anyone, unless the user is the
    /// only owner of a profile.
    #[graphql(guard = "Authenticated")]
    async fn delete_user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let key = NodeId::decode_as(&id, NodeType::User)?;
        let viewer = super::viewer(ctx).await?;
        if key == viewer.id() {
            accounts(ctx)?.require_fresh(viewer)?;
        }
        delete_user(state(ctx)?, viewer, key).await?;
        Ok(id)
    }
}

async fn delete_user(db: &Db, viewer: &Viewer, key: i64) -> AppResult<()> {
    if key != viewer.id() && !viewer.can(Permission::UsersWrite) {
        let visible = store::by_ids::<user::Entity>(&db.conn(), &viewer.scope(), &[key]).await?;
        return Err(if visible.is_empty() {
            AppError::not_found("no such user")
        } else {
            AppError::forbidden(
                "only the user themself or a `users:write` holder may delete a user",
            )
        });
    }
    let mut tx = db.begin_write().await?;
    store::profiles::lock_owned_by(&*tx, key).await?;
    if !memberships::solely_owned(&*tx, key).await?.is_empty() {
        return Err(AppError::conflict(
            "the user is the only owner of a profile: give it another owner or delete it first",
        ));
    }
    let links = memberships::links_of(&*tx, user_profile::Column::UserId, key).await?;
    if !store::delete::<user::Entity>(&*tx, key).await? {
        return Err(AppError::not_found("no such user"));
    }
    for link in links {
        tx.publish(Membership::now(Change::Removed, link.profile_id, key, None))
            .await?;
    }
    tx.publish(Event::Account { user_id: key }).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) fn accounts<'c>(ctx: &Context<'c>) -> async_graphql::Result<&'c Accounts> {
    ctx.data::<Accounts>()
}
