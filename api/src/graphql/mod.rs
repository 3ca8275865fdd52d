//! The GraphQL schema: objects grouped by domain, merged into one query and one mutation root.

mod connection;
mod id;
mod loaders;
mod membership;
mod node;
mod profile;
mod scheduler;
mod user;

use async_graphql::{Context, EmptySubscription, MergedObject, Schema, dataloader::DataLoader};

pub use id::{NodeId, NodeType};
pub use loaders::Batch;
pub use scheduler::Loads;

use crate::db::Db;

#[derive(MergedObject, Default)]
pub struct Query(node::NodeQuery, user::UserQuery, profile::ProfileQuery);

#[derive(MergedObject, Default)]
pub struct Mutation(
    user::UserMutation,
    profile::ProfileMutation,
    membership::MembershipMutation,
);

pub type RosterSchema = Schema<Query, Mutation, EmptySubscription>;

/// Most levels of nested fields in one operation.
pub const MAX_DEPTH: usize = 12;
/// Largest complexity of one operation.
pub const MAX_COMPLEXITY: usize = 5_000;

/// The schema; `db` is `None` only to print the SDL.
pub fn schema(db: Option<Db>) -> RosterSchema {
    let builder = Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY);
    match db {
        Some(db) => builder.data(db).finish(),
        None => builder.finish(),
    }
}

/// The request data of one GraphQL request: its batch loader, whose loads `loads` runs.
pub fn request_data(db: &Db, loads: &Loads) -> DataLoader<Batch> {
    Batch::per_request(db.clone(), loads)
}

/// The database handle, from the schema data.
fn state<'c>(ctx: &Context<'c>) -> async_graphql::Result<&'c Db> {
    ctx.data::<Db>()
}
