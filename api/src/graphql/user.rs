//! Users: the `User` object and its queries.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entity::user;

use super::{
    account::Role,
    arguments::{ListOrder, UserFilter, UserOrder, UserProfileFilter, UserProfileOrder},
    connection::{
        self, List, ListItem, ListKind, Paging, ProfileInvitationConnection, ReadAhead, Total,
        UserConnection, UserProfileConnection,
    },
    id::{NodeId, NodeType},
    invitation,
    loaders::{Batch, ProfilesOfUser, RolesOfUser, UserKey},
    plain::PlainFields,
};
use crate::{
    auth::{
        Permission,
        guards::{Authenticated, Needs, caller},
    },
    cards::{UserCard, UserCardFields},
    db::Db,
    error::{AppError, AppResult},
    store,
    store::listing::Filter,
    text,
};

/// A person who manages profiles.
#[derive(Clone, Debug)]
pub struct User {
    card: Arc<UserCard>,
    /// The whole row, when it is at hand; lists read only the card.
    account: Option<Arc<user::Model>>,
    /// Just signed in by this request: its account details are the caller's own.
    signed_in: bool,
    /// The page of the user's profiles read with the user, if any.
    profiles: ReadAhead<ProfilesOfUser>,
}

impl User {
    pub fn new(model: user::Model) -> Self {
        User {
            card: Arc::new(UserCard::of(&model)),
            account: Some(Arc::new(model)),
            signed_in: false,
            profiles: ReadAhead::default(),
        }
    }

    /// The user with key `key` and, when the field resolving it selects `profiles` once, the
    /// page of profiles it asks for, read in one statement; `None` when the caller cannot see
    /// the user.
    async fn read(ctx: &Context<'_>, key: i64) -> async_graphql::Result<Option<User>> {
        let loader = Batch::of(ctx)?;
        if loader.loader().reads_ahead()
            && let Some(ahead) = connection::list_arguments_ahead(ctx, "profiles")
            && let Ok(args) = connection::page_args(
                ctx,
                &Self::profiles_list(key, ahead.order_by, ahead.filter),
                ahead.paging,
                ahead.links,
            )
        {
            let read = loader
                .loader()
                .with_page::<ProfilesOfUser>(key, &args)
                .await?;
            return Ok(read.map(|(model, rows)| User {
                profiles: ReadAhead::new(args, rows),
                ..User::new(model)
            }));
        }
        Ok(loader.load_one(UserKey(key)).await?.map(User::new))
    }

    /// The list of the user's profiles that `order_by` and `filter` ask for.
    fn profiles_list(
        user: i64,
        order_by: Option<UserProfileOrder>,
        filter: Option<UserProfileFilter>,
    ) -> List {
        let filter: Filter = filter.unwrap_or_default().into();
        List {
            kind: ListKind::UserProfiles,
            sort: order_by.map(|order| order.sort()).unwrap_or_default(),
            total: Total::ProfilesOfUser(user, filter.clone()),
            filter,
        }
    }

    /// The user a login, registration or token refresh of this request signed in.
    pub fn signed_in(model: user::Model) -> Self {
        User {
            signed_in: true,
            ..User::new(model)
        }
    }

    /// The global ID, for the `Node` interface.
    pub async fn id(&self, ctx: &Context<'_>) -> async_graphql::Result<ID> {
        UserCardFields(&self.card).id(ctx).await
    }

    fn from_card(card: Arc<UserCard>) -> Self {
        User {
            card,
            account: None,
            signed_in: false,
            profiles: ReadAhead::default(),
        }
    }

    /// The user's account details, for the user themself and `users:read` holders only;
    /// read (in one batch with the other users of the level) when a list brought only the card.
    async fn account(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Arc<user::Model>>> {
        if !self.signed_in {
            let Ok(viewer) = caller(ctx).await?.viewer() else {
                return Ok(None);
            };
            if viewer.id() != self.card.id && !viewer.can(Permission::UsersRead) {
                return Ok(None);
            }
        }
        if let Some(account) = &self.account {
            return Ok(Some(account.clone()));
        }
        Ok(Batch::of(ctx)?
            .load_one(UserKey(self.card.id))
            .await?
            .map(Arc::new))
    }
}

#[Object]
impl User {
    /// The fields of the user's card.
    #[graphql(flatten)]
    async fn card(&self) -> UserCardFields<'_> {
        UserCardFields(&self.card)
    }

    /// The profiles of this user that the caller may see.
    #[allow(clippy::too_many_arguments)]
    async fn profiles(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Return at most this many profiles from the start, 0 to {PAGE_MAX_SIZE}."
        )]
        first: Option<i32>,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return at most this many profiles from the end, 0 to {PAGE_MAX_SIZE}.")]
        last: Option<i32>,
        #[graphql(desc = "End before this cursor.")] before: Option<String>,
        #[graphql(desc = "The order; by ID when not given.")] order_by: Option<UserProfileOrder>,
        #[graphql(desc = "Which profiles to list.")] filter: Option<UserProfileFilter>,
    ) -> async_graphql::Result<UserProfileConnection> {
        let list = Self::profiles_list(self.card.id, order_by, filter);
        let paging = Paging {
            first,
            after,
            last,
            before,
        };
        connection::nested::<ProfilesOfUser, _, _, _>(
            ctx,
            self.card.id,
            list,
            paging,
            &self.profiles,
        )
        .await
    }

    /// The pending invitations to manage profiles sent to the user's address, oldest first.
    /// Only for the user themself; null otherwise.
    async fn invitations(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Return at most this many invitations from the start, 0 to {PAGE_MAX_SIZE}."
        )]
        first: Option<i32>,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
        #[graphql(
            desc = "Return at most this many invitations from the end, 0 to {PAGE_MAX_SIZE}."
        )]
        last: Option<i32>,
        #[graphql(desc = "End before this cursor.")] before: Option<String>,
    ) -> async_graphql::Result<Option<ProfileInvitationConnection>> {
        let paging = Paging {
            first,
            after,
            last,
            before,
        };
        invitation::of_user(ctx, self.card.id, paging).await
    }

    /// The user's roles. Only for the user themself and `users:read` holders; null otherwise.
    async fn roles(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<Role>>> {
        if self.account(ctx).await?.is_none() {
            return Ok(None);
        }
        let roles = Batch::of(ctx)?.load_one(RolesOfUser(self.card.id)).await?;
        Ok(Some(
            roles.unwrap_or_default().into_iter().map(Role).collect(),
        ))
    }

    /// Whether the user may log in. Only for the user themself and `users:read` holders.
    async fn active(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        Ok(self.account(ctx).await?.map(|user| user.active))
    }

    /// When the user logged in before their current session. Only for the user themself and
    /// `users:read` holders.
    async fn last_login_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        Ok(self.account(ctx).await?.and_then(|user| user.last_login_at))
    }

    /// When the user last logged in. Only for the user themself and `users:read` holders.
    async fn current_login_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        Ok(self
            .account(ctx)
            .await?
            .and_then(|user| user.current_login_at))
    }

    /// The address of the login before the current one. Only for the user themself and
    /// `users:read` holders.
    async fn last_login_ip(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(self
            .account(ctx)
            .await?
            .and_then(|user| user.last_login_ip.clone()))
    }

    /// The address of the last login. Only for the user themself and `users:read` holders.
    async fn current_login_ip(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(self
            .account(ctx)
            .await?
            .and_then(|user| user.current_login_ip.clone()))
    }

    /// How many times the user logged in. Only for the user themself and `users:read` holders.
    async fn login_count(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
        Ok(self.account(ctx).await?.map(|user| user.login_count))
    }

    /// When the user confirmed their email address through the link mailed to it; null while
    /// they have not (`resendConfirmation` sends another). Only for the user themself and
    /// `users:read` holders.
    async fn email_confirmed_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        Ok(self.account(ctx).await?.and_then(|user| user.confirmed_at))
    }
}

impl PlainFields for User {
    type Card = Arc<UserCard>;

    fn of_card(card: Arc<UserCard>) -> Self {
        User::from_card(card)
    }
}

impl ListItem for User {
    type Entity = user::Entity;
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The caller.
    #[graphql(guard = "Authenticated")]
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        Ok(User::new(caller(ctx).await?.viewer()?.user.clone()))
    }

    /// The user with this ID, or null when there is none or the caller may not see it: the
    /// caller, users sharing a profile with the caller, and, for `users:read` holders, everyone.
    #[graphql(guard = "Authenticated")]
    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<User>> {
        User::read(ctx, NodeId::decode_as(&id, NodeType::User)?).await
    }

    /// All users. Needs `users:read`.
    #[graphql(guard = "Needs(Permission::UsersRead)")]
    #[allow(clippy::too_many_arguments)]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return at most this many users from the start, 0 to {PAGE_MAX_SIZE}.")]
        first: Option<i32>,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return at most this many users from the end, 0 to {PAGE_MAX_SIZE}.")]
        last: Option<i32>,
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

/// The longest display name, in characters.
const DISPLAY_NAME_MAX: usize = 64;

#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Sets the name the caller shows others: 1 to 64 characters in NFC, without invisible,
    /// control or bidi characters, nor a word mixing scripts as look-alike spoofs do (`Pаypal`
    /// with a Cyrillic `а`); null clears it.
    #[graphql(guard = "Authenticated")]
    async fn set_display_name(
        &self,
        ctx: &Context<'_>,
        display_name: Option<String>,
    ) -> async_graphql::Result<User> {
        let display_name = display_name
            .map(|name| text::shown("displayName", &name, DISPLAY_NAME_MAX))
            .transpose()?;
        let viewer = super::viewer(ctx).await?;
        let user = set_display_name(super::state(ctx)?, viewer.id(), display_name).await?;
        Ok(User::new(user))
    }
}

async fn set_display_name(db: &Db, key: i64, name: Option<String>) -> AppResult<user::Model> {
    let mut tx = db.begin_write().await?;
    let user = store::users::set_display_name(&*tx, key, name)
        .await?
        .ok_or_else(|| AppError::not_found("no such user"))?;
    tx.card_changed(key).await?;
    tx.commit().await?;
    Ok(user)
}
