//! Profiles: the `Profile` object, its queries and its mutations.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use entity::{ProfileRole, folded, profile, user_profile};

use super::{
    arguments::{ListOrder, ProfileFilter, ProfileOrder, ProfileUserFilter, ProfileUserOrder},
    connection::{
        self, List, ListItem, ListKind, Paging, ProfileConnection, ProfileInvitationConnection,
        ProfileUserConnection, ReadAhead, Total,
    },
    id::{NodeId, NodeType},
    invitation,
    loaders::{Batch, ProfileKey, UsersOfProfile},
    plain::PlainFields,
    state,
};
use crate::{
    auth::{Permission, Viewer, guards::Authenticated, rules::ProfileAccess},
    cards::{ProfileCard, ProfileCardFields},
    db::Db,
    error::{AppError, AppResult},
    events::{Change, Membership},
    store::{
        self,
        listing::{Filter, SortKey},
        memberships,
    },
    text,
};

/// The longest profile name, in characters.
const MAX_NAME_LENGTH: usize = 255;

/// A profile, managed by one or more users.
#[derive(Clone, Debug)]
pub struct Profile {
    card: Arc<ProfileCard>,
    /// The page of the profile's users read with the profile, if any.
    users: ReadAhead<UsersOfProfile>,
}

impl Profile {
    pub fn new(model: profile::Model) -> Self {
        Profile::from_card(Arc::new(ProfileCard::of(&model)))
    }

    fn from_card(card: Arc<ProfileCard>) -> Self {
        Profile {
            card,
            users: ReadAhead::default(),
        }
    }

    /// The global ID, for the `Node` interface.
    pub async fn id(&self, ctx: &Context<'_>) -> async_graphql::Result<ID> {
        ProfileCardFields(&self.card).id(ctx).await
    }

    /// The list of the profile's users that `order_by` and `filter` ask for; ordering or
    /// filtering by account details needs `users:read`.
    async fn users_list(
        ctx: &Context<'_>,
        profile: i64,
        order_by: Option<ProfileUserOrder>,
        filter: Option<ProfileUserFilter>,
    ) -> async_graphql::Result<List> {
        let filter: Filter = filter.unwrap_or_default().into();
        let sort = order_by.map(|order| order.sort()).unwrap_or_default();
        let private = filter.active.is_some()
            || filter.account_role.is_some()
            || sort.key == SortKey::LastLoginAt;
        if private && !super::viewer(ctx).await?.can(Permission::UsersRead) {
            return Err(AppError::forbidden(
                "filtering or ordering by account details needs the `users:read` permission",
            )
            .into());
        }
        Ok(List {
            kind: ListKind::ProfileUsers,
            sort,
            total: Total::UsersOfProfile(profile, filter.clone()),
            filter,
        })
    }

    /// The profile with key `key` and, when the field resolving it selects `users` once, the
    /// page of users it asks for, read in one statement; `None` when the caller cannot see it.
    pub async fn read(ctx: &Context<'_>, key: i64) -> async_graphql::Result<Option<Profile>> {
        let loader = Batch::of(ctx)?;
        if loader.loader().reads_ahead()
            && let Some(ahead) = connection::list_arguments_ahead(ctx, "users")
            && let Ok(list) = Self::users_list(ctx, key, ahead.order_by, ahead.filter).await
            && let Ok(args) = connection::page_args(ctx, &list, ahead.paging, ahead.links)
        {
            let read = loader
                .loader()
                .with_page::<UsersOfProfile>(key, &args)
                .await?;
            return Ok(read.map(|(model, rows)| Profile {
                users: ReadAhead::new(args, rows),
                ..Profile::new(model)
            }));
        }
        Ok(loader.load_one(ProfileKey(key)).await?.map(Profile::new))
    }
}

#[Object]
impl Profile {
    /// The fields of the profile's card.
    #[graphql(flatten)]
    async fn card(&self) -> ProfileCardFields<'_> {
        ProfileCardFields(&self.card)
    }

    /// The managers of this profile that the caller may see.
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
        #[graphql(desc = "The order; by ID when not given.")] order_by: Option<ProfileUserOrder>,
        #[graphql(desc = "Which users to list.")] filter: Option<ProfileUserFilter>,
    ) -> async_graphql::Result<ProfileUserConnection> {
        let list = Self::users_list(ctx, self.card.id, order_by, filter).await?;
        let paging = Paging {
            first,
            after,
            last,
            before,
        };
        let (key, ahead) = (self.card.id, &self.users);
        connection::nested::<UsersOfProfile, _, _, _>(ctx, key, list, paging, ahead).await
    }

    /// The pending invitations to manage this profile, oldest first. Only for its owners and
    /// `profiles:write` holders; null otherwise.
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
        invitation::of_profile(ctx, self.card.id, paging).await
    }
}

impl PlainFields for Profile {
    type Card = Arc<ProfileCard>;

    fn of_card(card: Arc<ProfileCard>) -> Self {
        Profile::from_card(card)
    }
}

impl ListItem for Profile {
    type Entity = profile::Entity;
}

#[derive(Default)]
pub struct ProfileQuery;

#[Object]
impl ProfileQuery {
    /// The profile with this ID, or null when there is none or the caller may not see it (its
    /// managers, and `profiles:read` holders, may).
    #[graphql(guard = "Authenticated")]
    async fn profile(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Profile>> {
        Profile::read(ctx, NodeId::decode_as(&id, NodeType::Profile)?).await
    }

    /// The profiles the caller may see.
    #[graphql(guard = "Authenticated")]
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
        #[graphql(desc = "The order; by ID when not given.")] order_by: Option<ProfileOrder>,
        #[graphql(desc = "Which profiles to list.")] filter: Option<ProfileFilter>,
    ) -> async_graphql::Result<ProfileConnection> {
        let filter: Filter = filter.unwrap_or_default().into();
        let list = List {
            kind: ListKind::Profiles,
            sort: order_by.map(|order| order.sort()).unwrap_or_default(),
            total: Total::Profiles(filter.clone()),
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

#[derive(Default)]
pub struct ProfileMutation;

#[Object]
impl ProfileMutation {
    /// Creates a profile; the caller becomes its owner. A name is 1 to 255 characters in NFC,
    /// without invisible, control or bidi characters, nor a word mixing scripts as look-alike
    /// spoofs do.
    #[graphql(guard = "Authenticated")]
    async fn create_profile(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> async_graphql::Result<Profile> {
        let name = validate_name(&name)?;
        Ok(Profile::new(
            create(state(ctx)?, super::viewer(ctx).await?, &name).await?,
        ))
    }

    /// Renames a profile (the name as in `createProfile`). Its managers and `profiles:write`
    /// holders may.
    #[graphql(guard = "Authenticated")]
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: String,
    ) -> async_graphql::Result<Profile> {
        let key = NodeId::decode_as(&id, NodeType::Profile)?;
        let name = validate_name(&name)?;
        Ok(Profile::new(
            rename(state(ctx)?, super::viewer(ctx).await?, key, &name).await?,
        ))
    }

    /// Deletes a profile and every link to it; returns its ID. Its owners and
    /// `profiles:write` holders may.
    #[graphql(guard = "Authenticated")]
    async fn delete_profile(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let key = NodeId::decode_as(&id, NodeType::Profile)?;
        delete(state(ctx)?, super::viewer(ctx).await?, key).await?;
        Ok(id)
    }
}

async fn create(db: &Db, viewer: &Viewer, name: &str) -> AppResult<profile::Model> {
    let mut tx = db.begin_write().await?;
    let profile = store::profiles::create(&*tx, name).await?;
    // Publishes the new link with the transaction.
    memberships::add(&mut tx, viewer.id(), profile.id, ProfileRole::Owner).await?;
    tx.commit().await?;
    Ok(profile)
}

async fn rename(db: &Db, viewer: &Viewer, key: i64, name: &str) -> AppResult<profile::Model> {
    let tx = db.begin_write().await?;
    let profile = store::profiles::lock(&*tx, key)
        .await?
        .ok_or_else(no_profile)?;
    let access = ProfileAccess::of(&*tx, viewer, key).await?;
    access.require(access.can_edit(), "rename it")?;
    let profile = store::profiles::rename(&*tx, profile, name).await?;
    tx.commit().await?;
    Ok(profile)
}

async fn delete(db: &Db, viewer: &Viewer, key: i64) -> AppResult<()> {
    let mut tx = db.begin_write().await?;
    store::profiles::lock(&*tx, key)
        .await?
        .ok_or_else(no_profile)?;
    let access = ProfileAccess::of(&*tx, viewer, key).await?;
    access.require(access.can_manage(), "delete it")?;
    let links = memberships::links_of(&*tx, user_profile::Column::ProfileId, key).await?;
    store::delete::<profile::Entity>(&*tx, key).await?;
    for link in links {
        tx.publish(Membership::now(Change::Removed, key, link.user_id, None))
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub fn no_profile() -> AppError {
    AppError::not_found("no such profile")
}

/// A profile name as typed, checked and normalized (`text::shown`): 1 to 255 characters, and
/// a folded key that an index can hold.
fn validate_name(name: &str) -> AppResult<String> {
    let name = text::shown("name", name, MAX_NAME_LENGTH)?;
    if folded::fold(&name).len() > folded::MAX_KEY_BYTES {
        return Err(AppError::bad_input(format!(
            "`name` must be at most {} bytes once folded (NFKC and case folding)",
            folded::MAX_KEY_BYTES
        )));
    }
    Ok(name)
}
