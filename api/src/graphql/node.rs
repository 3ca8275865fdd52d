//! The Relay `Node` interface and `Query.node`.

use async_graphql::{Context, ID, Interface, Object};

use super::{
    id::{NodeId, NodeType},
    invitation::{self, ProfileInvitation},
    loaders::{Batch, ProfileKey, UserKey},
    profile::Profile,
    user::User,
};
use crate::auth::guards::Authenticated;

/// An object with a global ID.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "The global ID of the object."))]
pub enum Node {
    User(User),
    Profile(Profile),
    ProfileInvitation(ProfileInvitation),
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// The object with this global ID, or null when there is none or the caller may not see it.
    #[graphql(guard = "Authenticated")]
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        let node = NodeId::decode(&id)?;
        let loader = Batch::of(ctx)?;
        Ok(match node.node_type {
            NodeType::User => loader
                .load_one(UserKey(node.key))
                .await?
                .map(|user| Node::User(User::new(user))),
            NodeType::Profile => loader
                .load_one(ProfileKey(node.key))
                .await?
                .map(|profile| Node::Profile(Profile::new(profile))),
            NodeType::ProfileInvitation => invitation::node(ctx, node.key)
                .await?
                .map(Node::ProfileInvitation),
        })
    }
}
