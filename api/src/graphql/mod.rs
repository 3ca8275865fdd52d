//! The GraphQL schema: objects grouped by domain, merged into one query and one mutation root.

mod account;
mod arguments;
mod connection;
mod described;
mod engine;
mod id;
mod invitation;
mod json;
mod loaders;
mod membership;
mod mutation;
mod node;
mod plain;
mod profile;
mod scheduler;
mod subscription;
mod two_factor;
mod user;

use std::sync::Arc;

use async_graphql::{
    Context, MergedObject, Schema, ServerError, parser::types::ExecutableDocument,
};

pub use account::ClientIp;
pub use engine::Caught;
pub use id::{NodeId, NodeType};
pub use json::to_json;
pub use loaders::Batch;
use mutation::Mutation;
pub use plain::{PlainCard, PlainValue};
pub use scheduler::Loads;

use crate::{
    AppState,
    auth::{Accounts, Credentials, Viewer, guards::caller},
    config::Config,
    db::Db,
    metrics::Metrics,
};

#[derive(MergedObject, Default)]
pub struct Query(node::NodeQuery, user::UserQuery, profile::ProfileQuery);

pub type RosterSchema = Schema<Query, Mutation, subscription::Subscription>;

/// The schema that validates documents (`validate`), and runs none.
pub type Validator = RosterSchema;

fn builder() -> async_graphql::SchemaBuilder<Query, Mutation, subscription::Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        subscription::Subscription,
    )
    .override_output_type_description::<chrono::DateTime<chrono::Utc>>(DATE_TIME)
}

/// The description of `DateTime`, in place of the Rust type async-graphql names in its own.
const DATE_TIME: &str = "A moment, as an RFC 3339 date and time with its offset \
                         (`2026-12-06T17:31:50.123Z`); Roster writes it in UTC.";

/// The schema of `config` in SDL, as introspection describes it.
pub fn sdl(config: &Config) -> String {
    let options = async_graphql::SDLExportOptions::new().include_specified_by();
    let printed = schema(None, config).sdl_with_options(options);
    described::sdl(&printed, config.limits.page_max_size)
}

/// The schema that runs operations prepared by `exec` (validated, their fields collected),
/// with the limits and introspection setting of `config`; `services` are `None` only to print
/// the SDL.
pub fn schema(services: Option<(Db, Accounts, Metrics)>, config: &Config) -> RosterSchema {
    let limits = &config.limits;
    let mut builder = builder()
        .validation_mode(engine::RUNNING)
        .extension(engine::FieldErrors)
        .data(limits.clone())
        .data(invitation::InvitationRules::of(config));
    if !config.introspection {
        builder = builder.disable_introspection();
    }
    match services {
        Some((db, accounts, metrics)) => builder.data(db).data(accounts).data(metrics).finish(),
        None => builder.finish(),
    }
}

/// The schema that validates documents, with the introspection setting of `config`.
pub fn validator(config: &Config) -> Validator {
    let mut builder = builder()
        .validation_mode(engine::VALIDATING)
        .extension(engine::ValidationOnly);
    if !config.introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The errors of `document` by the rules of GraphQL validation that do not depend on the
/// values of variables.
pub async fn validate(validator: &Validator, document: &ExecutableDocument) -> Vec<ServerError> {
    engine::validate(validator, document).await
}

/// The answer of the schema to the introspection query `query` (introspection enabled), as
/// JSON.
pub async fn introspect(query: &str) -> Result<serde_json::Value, String> {
    let response = builder().finish().execute(query).await;
    if !response.errors.is_empty() {
        return Err(format!("{:?}", response.errors));
    }
    response.data.into_json().map_err(|err| err.to_string())
}

/// Attaches the request data of one GraphQL request: the caller, their address, a batch
/// loader scoped to what the caller may see, whose loads `loads` runs, and where its caught
/// errors go. Its answer must be written by `to_json`.
/// `db` is the handle of this request (a mutation's has its transaction).
pub fn with_request_data(
    request: async_graphql::Request,
    state: &AppState,
    db: Db,
    credentials: Arc<Credentials>,
    ip: String,
    loads: &Loads,
    caught: Arc<Caught>,
) -> async_graphql::Request {
    let loader = Batch::per_request(
        db.clone(),
        credentials.clone(),
        state.metrics.clone(),
        loads,
    );
    let request = if state.config.one_pass_answers {
        request.data(json::Splice).data(plain::OnePass)
    } else {
        request
    };
    request
        .data(caught)
        .data(credentials)
        .data(ClientIp(ip))
        .data(loader)
        .data(db)
}

/// The data of one operation of a WebSocket connection whose data is `session`: its caller's
/// credentials checked anew, and a batch loader that sees what they may see now.
pub fn with_operation_data(
    request: async_graphql::Request,
    state: &AppState,
    session: &async_graphql::Data,
) -> async_graphql::Request {
    let connection = session
        .get(&std::any::TypeId::of::<Arc<Credentials>>())
        .and_then(|credentials| credentials.downcast_ref::<Arc<Credentials>>());
    let Some(connection) = connection else {
        return request;
    };
    let credentials = Arc::new(connection.renewed());
    let loader =
        Batch::per_connection(state.db.clone(), credentials.clone(), state.metrics.clone());
    request.data(credentials).data(loader)
}

/// The data of a WebSocket connection: its caller, already authenticated, and a batch loader
/// shared by the events it receives.
pub fn connection_data(
    state: &AppState,
    credentials: Arc<Credentials>,
    ip: String,
) -> async_graphql::Data {
    let mut data = async_graphql::Data::default();
    data.insert(Batch::per_connection(
        state.db.clone(),
        credentials.clone(),
        state.metrics.clone(),
    ));
    data.insert(credentials);
    data.insert(ClientIp(ip));
    if state.config.one_pass_answers {
        data.insert(plain::OnePass);
    }
    data
}

/// The database handle: the request's, else the schema's.
fn state<'c>(ctx: &Context<'c>) -> async_graphql::Result<&'c Db> {
    ctx.data::<Db>()
}

/// The authenticated caller (fields that call this are guarded by `Authenticated`).
async fn viewer<'c>(ctx: &Context<'c>) -> async_graphql::Result<&'c Arc<Viewer>> {
    Ok(caller(ctx).await?.viewer()?)
}
