//! Field guards: authentication, and permissions of the caller's roles.

use async_graphql::{Context, Guard};

use std::sync::Arc;

use super::{Auth, Credentials, Permission};
use crate::error::AppError;

/// The field needs an authenticated caller.
pub struct Authenticated;

impl Guard for Authenticated {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        caller(ctx).await?.viewer()?;
        Ok(())
    }
}

/// The field needs an authenticated caller holding this permission.
pub struct Needs(pub Permission);

impl Guard for Needs {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let viewer = caller(ctx).await?.viewer()?;
        if viewer.can(self.0) {
            Ok(())
        } else {
            Err(
                AppError::Forbidden(format!("this needs the `{}` permission", self.0.name()))
                    .into(),
            )
        }
    }
}

/// The caller of the request, authenticated on first use.
pub async fn caller<'c>(ctx: &Context<'c>) -> async_graphql::Result<&'c Auth> {
    Ok(ctx.data::<Arc<Credentials>>()?.auth().await)
}
