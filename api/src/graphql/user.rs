//! Users: the `User` object, its queries and its mutations.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entity::user;

use super::{
    connection::{self, ListKind, Listed, Total, UserConnection, UserProfileConnection},
    id::{NodeId, NodeType},
    loaders::{Batch, ProfilesOfUser, UserKey},
};
use crate::{error::AppError, graphql::state, store};

/// A person who manages profiles.
#[derive(Clone, Debug)]
pub struct User(pub user::Model);

#[Object]
impl User {
    /// The global ID of this user.
    pub async fn id(&self) -> ID {
        NodeId::user(self.0.id)
    }

    /// The user's email address.
    async fn email(&self) -> &str {
        &self.0.email
    }

    /// When the user was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The profiles this user manages, in the order they were created.
    async fn profiles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many profiles to return, 0 to 100 (default 100).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return the profiles after this cursor.")] after: Option<String>,
    ) -> async_graphql::Result<UserProfileConnection> {
        let (list, total) = (ListKind::UserProfiles, Total::ProfilesOfUser(self.0.id));
        connection::nested::<ProfilesOfUser, _, _, _>(ctx, list, self.0.id, total, first, after)
            .await
    }
}

impl Listed for User {
    type Entity = user::Entity;

    fn wrap(model: user::Model) -> Self {
        User(model)
    }

    fn key(model: &user::Model) -> i64 {
        model.id
    }
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The user with this ID, or null when there is none.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<User>> {
        let key = NodeId::decode_as(&id, NodeType::User)?;
        Ok(Batch::of(ctx)?.load_one(UserKey(key)).await?.map(User))
    }

    /// All users, in the order they were created.
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many users to return, 0 to 100 (default 100).")] first: Option<i32>,
        #[graphql(desc = "Return the users after this cursor.")] after: Option<String>,
    ) -> async_graphql::Result<UserConnection> {
        connection::top_level(ctx, ListKind::Users, Total::Users, first, after).await
    }
}

#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Creates a user with this email address (unique, ignoring case).
    async fn create_user(&self, ctx: &Context<'_>, email: String) -> async_graphql::Result<User> {
        let email = validate_email(&email)?;
        let user = store::users::create(state(ctx)?.conn(), &email).await?;
        Ok(User(user))
    }

    /// Deletes a user and every link of theirs. Returns the ID of the deleted user.
    async fn delete_user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let key = NodeId::decode_as(&id, NodeType::User)?;
        let deleted = store::delete::<user::Entity>(state(ctx)?.conn(), key)
            .await
            .map_err(AppError::from)?;
        if !deleted {
            return Err(no_user().into());
        }
        Ok(id)
    }
}

/// Trims an email address and checks its shape; the domain is lower-cased.
pub fn validate_email(email: &str) -> Result<String, AppError> {
    let email = email.trim();
    let invalid = || AppError::bad_input("`email` is not a valid email address");
    if email.len() > 254 {
        return Err(invalid());
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
    let parsed = email_address::EmailAddress::parse_with_options(
        email,
        email_address::Options::default().without_display_text(),
    )
    .map_err(|_| invalid())?;
    if local.is_empty() || !domain.contains('.') || parsed.as_str() != email {
        return Err(invalid());
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

pub fn no_user() -> AppError {
    AppError::not_found("no such user")
}
