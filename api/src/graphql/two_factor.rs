//! Two-factor sign-in and freshness over GraphQL: completing a sign-in with a code, renewing a
//! sign-in, and turning the authenticator on and off.

use async_graphql::{Context, Object, SimpleObject};

use super::{
    account::{AuthPayload, ClientIp, accounts},
    state,
};
use crate::auth::guards::Authenticated;

/// An authenticator to add to an app: scan `uri` (shown as a QR code) or type `secret`, then
/// turn two-factor sign-in on with `confirmTotp` and one of its codes.
#[derive(SimpleObject)]
pub struct TotpSetup {
    /// The shared secret, base32 (RFC 4648).
    secret: String,
    /// The `otpauth://totp/…` URI of the secret, for authenticator apps.
    uri: String,
}

#[derive(Default)]
pub struct TwoFactorMutation;

#[Object]
impl TwoFactorMutation {
    /// Finishes a sign-in that `login` answered with `TWO_FACTOR_REQUIRED`: its
    /// `extensions.challenge`, and the current code of the authenticator app or an unused
    /// recovery code. Each code works once; wrong codes count as failed logins.
    async fn complete_login(
        &self,
        ctx: &Context<'_>,
        challenge: String,
        code: String,
    ) -> async_graphql::Result<AuthPayload> {
        let ip = &ctx.data::<ClientIp>()?.0;
        let session = accounts(ctx)?
            .complete_login(state(ctx)?, &challenge, &code, ip)
            .await?;
        Ok(session.into())
    }

    /// Renews the caller's sign-in with their password, and a code when the account has
    /// two-factor sign-in: new tokens of the same session, fresh for `FRESHNESS`, for the
    /// operations that answer `FRESH_SIGN_IN_REQUIRED`.
    #[graphql(guard = "Authenticated")]
    async fn reauthenticate(
        &self,
        ctx: &Context<'_>,
        password: String,
        code: Option<String>,
    ) -> async_graphql::Result<AuthPayload> {
        let ip = &ctx.data::<ClientIp>()?.0;
        let viewer = super::viewer(ctx).await?;
        let session = accounts(ctx)?
            .reauthenticate(state(ctx)?, viewer, &password, code.as_deref(), ip)
            .await?;
        Ok(session.into())
    }

    /// Makes a new authenticator secret for the caller (replacing one not confirmed yet);
    /// two-factor sign-in is on once `confirmTotp` gets one of its codes. Needs a recent
    /// sign-in.
    #[graphql(guard = "Authenticated")]
    async fn set_up_totp(&self, ctx: &Context<'_>) -> async_graphql::Result<TotpSetup> {
        let viewer = super::viewer(ctx).await?;
        let setup = accounts(ctx)?.set_up_totp(state(ctx)?, viewer).await?;
        Ok(TotpSetup {
            secret: setup.secret,
            uri: setup.uri,
        })
    }

    /// Turns two-factor sign-in on with a current code of the authenticator set up last. The
    /// answer is the account's 10 recovery codes, each good for one sign-in without the app:
    /// they are shown this once. Needs a recent sign-in.
    #[graphql(guard = "Authenticated")]
    async fn confirm_totp(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> async_graphql::Result<Vec<String>> {
        let ip = &ctx.data::<ClientIp>()?.0;
        let viewer = super::viewer(ctx).await?;
        Ok(accounts(ctx)?
            .confirm_totp(state(ctx)?, viewer, ip, &code)
            .await?)
    }

    /// New recovery codes for the caller, in place of the earlier ones (which stop working);
    /// shown this once. Needs a recent sign-in.
    #[graphql(guard = "Authenticated")]
    async fn regenerate_recovery_codes(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<String>> {
        let viewer = super::viewer(ctx).await?;
        Ok(accounts(ctx)?
            .regenerate_recovery_codes(state(ctx)?, viewer)
            .await?)
    }

    /// Turns two-factor sign-in off, forgetting the authenticator and the recovery codes.
    /// Needs a recent sign-in.
    #[graphql(guard = "Authenticated")]
    async fn disable_totp(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let viewer = super::viewer(ctx).await?;
        accounts(ctx)?.disable_totp(state(ctx)?, viewer).await?;
        Ok(true)
    }
}
