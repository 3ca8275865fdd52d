//! The mutation root. A request's mutation fields run in order in one transaction, which is
//! committed only when the whole request succeeded (see `exec`); once a field has failed, the
//! fields after it do not run.

use std::{borrow::Cow, sync::Arc};

use async_graphql::{
    ContainerType, Context, ContextSelectionSet, MergedObject, ObjectType, OutputType, Positioned,
    ServerResult, Value, parser::types::Field, registry::Registry,
    resolver_utils::resolve_container_serial,
};

use super::{
    account::AccountMutation,
    engine::{self, Caught},
    invitation::InvitationMutation,
    membership::MembershipMutation,
    profile::ProfileMutation,
    two_factor::TwoFactorMutation,
    user::UserMutation,
};
use crate::error::AppError;

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutations(
    AccountMutation,
    UserMutation,
    ProfileMutation,
    MembershipMutation,
    InvitationMutation,
    TwoFactorMutation,
);

/// `Mutations`, whose fields do not run after an error.
#[derive(Default)]
pub struct Mutation(Mutations);

impl ContainerType for Mutation {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        let Some(caught) = ctx.data_opt::<Arc<Caught>>() else {
            return self.0.resolve_field(ctx).await;
        };
        // An error so far fails the request, which is rolled back: the rest does not run,
        // and says so.
        if caught.any(ctx) {
            return Err(engine::field_error(ctx, AppError::Aborted));
        }
        self.0.resolve_field(ctx).await
    }
}

impl OutputType for Mutation {
    fn type_name() -> Cow<'static, str> {
        Mutations::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Mutations::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_container_serial(ctx, self).await
    }
}

impl ObjectType for Mutation {}
