//! Users: the `User` object and its queries.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entity::user;

use super::{
    account::Role,
    arguments::{ListOrder, UserFilter, UserOrder, UserProfileFilter, UserProfileOrder},
    connection::{
        self, List, ListItem, ListKind, Paging, Total, UserConnection, UserProfileConnection,
    },
    id::{NodeId, NodeType},
    loaders::{Batch, ProfilesOfUser, RolesOfUser, UserKey},
};
use crate::{
    auth::{
        Permission,
        guards::{Authenticated, Needs, viewer_auth},
    },
    store::listing::Filter,
};

/// A person who manages profiles.
#[derive(Clone, Debug)]
pub struct User {
    model: user::Model,
    /// Just signed in by this request: its account details are the caller's own.
    signed_in: bool,
}

impl User {
    pub fn new(model: user::Model) -> Self {
        User {
            model,
            signed_in: false,
        }
    }

    /// The user a login, registration or token refresh of this request signed in.
    pub fn signed_in(model: user::Model) -> Self {
        User {
            model,
            signed_in: true,
        }
    }

    /// The user's account details, for the user themself and `users:read` holders only.
    fn account(&self, ctx: &Context<'_>) -> Option<&user::Model> {
        if self.signed_in {
            return Some(&self.model);
        }
        let viewer = viewer_auth(ctx).ok()?.viewer().ok()?;
        (viewer.id() == self.model.id || viewer.can(Permission::UsersRead)).then_some(&self.model)
    }
}

#[Object]
impl User {
    /// The global ID of this user.
    pub async fn id(&self) -> ID {
        NodeId::user(self.model.id)
    }

    /// The user's email address.
    async fn email(&self) -> &str {
        &self.model.email
    }

    /// When the user was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }

    /// The profiles of this user that the caller may see.
    #[allow(clippy::too_many_arguments)]
    async fn profiles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return at most this many profiles from the start, 0 to 100.")]
        first: Option<i32>,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return at most this many profiles from the end, 0 to 100.")] last: Option<
            i32,
        >,
        #[graphql(desc = "End before this cursor.")] before: Option<String>,
        #[graphql(desc = "The order; by ID when not given.")] order_by: Option<UserProfileOrder>,
        #[graphql(desc = "Which profiles to list.")] filter: Option<UserProfileFilter>,
    ) -> async_graphql::Result<UserProfileConnection> {
        let filter: Filter = filter.unwrap_or_default().into();
        let list = List {
            kind: ListKind::UserProfiles,
            sort: order_by.map(|order| order.sort()).unwrap_or_default(),
            total: Total::ProfilesOfUser(self.model.id, filter.clone()),
            filter,
        };
        let paging = Paging {
            first,
            after,
            last,
            before,
        };
        connection::nested::<ProfilesOfUser, _, _, _>(ctx, self.model.id, list, paging).await
    }

    /// The user's roles. Only for the user themself and `users:read` holders; null otherwise.
    async fn roles(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<Role>>> {
        let Some(user) = self.account(ctx) else {
            return Ok(None);
        };
        let roles = Batch::of(ctx)?.load_one(RolesOfUser(user.id)).await?;
        Ok(Some(
            roles.unwrap_or_default().into_iter().map(Role).collect(),
        ))
    }

    /// Whether the user may log in. Only for the user themself and `users:read` holders.
    async fn active(&self, ctx: &Context<'_>) -> Option<bool> {
        self.account(ctx).map(|user| user.active)
    }

    /// When the user logged in before the current session. Only for the user themself and
    /// `users:read` holders.
    async fn last_login_at(&self, ctx: &Context<'_>) -> Option<DateTime<Utc>> {
        self.account(ctx).and_then(|user| user.last_login_at)
    }

    /// When the user last logged in. Only for the user themself and `users:read` holders.
    async fn current_login_at(&self, ctx: &Context<'_>) -> Option<DateTime<Utc>> {
        self.account(ctx).and_then(|user| user.current_login_at)
    }

    /// The address of the login before the current one. Only for the user themself and
    /// `users:read` holders.
    async fn last_login_ip(&self, ctx: &Context<'_>) -> Option<&str> {
        self.account(ctx)
            .and_then(|user| user.last_login_ip.as_deref())
    }

    /// The address of the last login. Only for the user themself and `users:read` holders.
    async fn current_login_ip(&self, ctx: &Context<'_>) -> Option<&str> {
        self.account(ctx)
            .and_then(|user| user.current_login_ip.as_deref())
    }

    /// How many times the user logged in. Only for the user themself and `users:read` holders.
    async fn login_count(&self, ctx: &Context<'_>) -> Option<i64> {
        self.account(ctx).map(|user| user.login_count)
    }
}

impl ListItem for User {
    type Entity = user::Entity;

    fn wrap(model: user::Model) -> Self {
        User::new(model)
    }
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The caller.
    #[graphql(guard = "Authenticated")]
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        Ok(User::new(viewer_auth(ctx)?.viewer()?.user.clone()))
    }

    /// The user with this ID, or null when there is none or the caller may not see it: the
    /// caller, users sharing a profile with the caller, and, for `users:read` holders, everyone.
    #[graphql(guard = "Authenticated")]
    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<User>> {
        let key = NodeId::decode_as(&id, NodeType::User)?;
        Ok(Batch::of(ctx)?.load_one(UserKey(key)).await?.map(User::new))
    }

    /// All users. Needs `users:read`.
    #[graphql(guard = "Needs(Permission::UsersRead)")]
    #[allow(clippy::too_many_arguments)]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return at most this many users from the start, 0 to 100.")] first: Option<
            i32,
        >,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return at most this many users from the end, 0 to 100.")] last: Option<
            i32,
        >,
        #[graphql(desc = "End before this cursor.")] before: Option<String>,
        #[graphql(desc = "The order; by ID when not given.")] order_by: Option<UserOrder>,
        #[graphql(desc = "Which users to list.")] filter: Option<UserFilter>,
    ) -> async_graphql::Result<UserConnection> {
        let filter: Filter = filter.unwrap_or_default().into();
        let list = List {
            kind: ListKind::Users,
            sort: order_by.map(|order| order.sort()).unwrap_or_default(),
            total: Total::Users(filter.clone()),
            filter,
        };
        connection::top_level(
            ctx,
            list,
            Paging {
                first,
                after,
                last,
                before,
            },
        )
        .await
    }
}
