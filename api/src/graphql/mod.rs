//! The GraphQL schema: objects grouped by domain, merged into one query and one mutation root.

mod account;
mod arguments;
mod connection;
mod id;
mod json;
mod loaders;
mod membership;
mod mutation;
mod node;
mod plain;
mod profile;
mod scheduler;
mod subscription;
mod user;

use std::sync::Arc;

use async_graphql::{Context, MergedObject, Schema};

pub use account::ClientIp;
pub use id::{NodeId, NodeType};
pub use json::to_json;
pub use loaders::Batch;
use mutation::Mutation;
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

/// The schema, with the limits and introspection setting of `config`; `services` are `None`
/// only to print the SDL.
pub fn schema(services: Option<(Db, Accounts, Metrics)>, config: &Config) -> RosterSchema {
    let limits = &config.limits;
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        subscription::Subscription,
    )
    .limit_complexity(limits.query_max_complexity)
    .data(limits.clone());
    if !config.introspection {
        builder = builder.disable_introspection();
    }
    match services {
        Some((db, accounts, metrics)) => builder.data(db).data(accounts).data(metrics).finish(),
        None => builder.finish(),
    }
}

/// Attaches the request data of one GraphQL request: the caller, their address, and a batch
/// loader scoped to what the caller may see, whose loads `loads` runs. Its answer must be
/// written by `to_json`.
/// `db` is the handle of this request (a mutation's has its transaction).
pub fn with_request_data(
    request: async_graphql::Request,
    state: &AppState,
    db: Db,
    credentials: Arc<Credentials>,
    ip: String,
    loads: &Loads,
) -> async_graphql::Request {
    let loader = Batch::per_request(
        db.clone(),
        credentials.clone(),
        state.metrics.clone(),
        loads,
    );
    request
        .data(json::Splice)
        .data(credentials)
        .data(ClientIp(ip))
        .data(loader)
        .data(db)
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
