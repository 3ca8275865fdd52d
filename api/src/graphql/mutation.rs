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
    membership::MembershipMutation,
    profile::ProfileMutation,
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
);

/// `Mutations`, whose fields do not run after an error.
#[derive(Default)]
pub struct Mutation(Mutations);

impl ContainerType for Mutation {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        let Some(caught) = ctx.data_opt::<Arc<Caught>>() else {
            return self.0.resolve_field(ctx).await;
        };
        // An error so far fails the request, which is rolled back: the rest does not run.
        // The fields' values are not kept either (the answer has no data), so a failed field
        // goes on as null rather than stopping the fields after it from saying so.
        if caught.any(ctx) {
            caught.push(engine::field_error(ctx, AppError::Aborted));
            return Ok(Some(Value::Null));
        }
        match self.0.resolve_field(ctx).await {
            Err(error) => {
                caught.push(error);
                Ok(Some(Value::Null))
            }
            answer => answer,
        }
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
