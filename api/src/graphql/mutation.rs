//! The mutation root. A request's mutation fields run in order in one transaction, which is
//! committed only when the whole request succeeded (see `http::execute`); once a field has
//! failed, the fields after it do not run.

use std::borrow::Cow;

use async_graphql::{
    ContainerType, Context, ContextSelectionSet, MergedObject, ObjectType, OutputType, Positioned,
    ServerResult, Value, parser::types::Field, registry::Registry,
    resolver_utils::resolve_container_serial,
};

use super::{account::AccountMutation, membership::MembershipMutation, profile::ProfileMutation};
use crate::error::AppError;

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutations(AccountMutation, ProfileMutation, MembershipMutation);

/// `Mutations`, whose fields do not run after an error.
#[derive(Default)]
pub struct Mutation(Mutations);

impl ContainerType for Mutation {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        // The errors of the fields run so far; the whole request is rolled back if any.
        let failed = ctx
            .query_env
            .errors
            .lock()
            .map_or(true, |errors| !errors.is_empty());
        if failed {
            let error = async_graphql::Error::from(AppError::Aborted);
            return Err(ctx.set_error_path(error.into_server_error(ctx.item.pos)));
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
