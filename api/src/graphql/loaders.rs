//! The per-request batch loader: every lookup of a nesting level becomes one SQL statement.
//!
//! One `DataLoader<Batch>` is created for each request (never shared between requests). Each
//! relation has its own key type, so two relations never share a batch, and a page key carries
//! its window: the keys of one batch are grouped by window and each group is one statement.

use std::{
    collections::HashMap,
    hash::{Hash, Hasher},
    marker::PhantomData,
    time::Duration,
};

use async_graphql::{
    Context,
    dataloader::{DataLoader, Loader},
};
use entity::{profile, role, user};
use sea_orm::{DatabaseBackend, EntityTrait};

use super::{connection::Total, scheduler::Loads};
use std::sync::Arc;

use crate::{
    auth::{Credentials, Permission},
    db::Db,
    error::{AppError, AppResult},
    metrics::Metrics,
    store::{
        self,
        invitations::{self, Of},
        listing::{self, Direction, Filter, Listed, PageArgs},
        visibility::{Scope, Scoped},
    },
};

/// Loads users, profiles, and both directions of their relationship, in batches, as far as
/// the caller may see them.
pub struct Batch {
    db: Db,
    credentials: Arc<Credentials>,
    metrics: Metrics,
}

/// A user by primary key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserKey(pub i64);

/// A profile by primary key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProfileKey(pub i64);

/// The roles of a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RolesOfUser(pub i64);

/// One direction of the user–profile relationship.
pub trait Relation: Clone + Eq + Hash + Send + Sync + 'static {
    /// Where the relation starts.
    type Parent: Scoped;
    /// What the relation leads to.
    type Child: Scoped;
    const DIRECTION: Direction;
    /// The names of its page and count loaders, in the metrics.
    const PAGE: &'static str;
    const COUNT: &'static str;
}

/// From a user to the profiles they manage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProfilesOfUser;

impl Relation for ProfilesOfUser {
    type Parent = user::Entity;
    type Child = profile::Entity;
    const DIRECTION: Direction = Direction::ProfilesOfUser;
    const PAGE: &'static str = "profiles_of_user";
    const COUNT: &'static str = "profile_count_of_user";
}

/// From a profile to the users who manage it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UsersOfProfile;

impl Relation for UsersOfProfile {
    type Parent = profile::Entity;
    type Child = user::Entity;
    const DIRECTION: Direction = Direction::UsersOfProfile;
    const PAGE: &'static str = "users_of_profile";
    const COUNT: &'static str = "user_count_of_profile";
}

/// One page of the children of `parent` along relation `R`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<R> {
    pub parent: i64,
    /// Shared: the loader copies its keys several times.
    pub args: Arc<PageArgs>,
    relation: PhantomData<R>,
}

impl<R> Page<R> {
    pub fn new(parent: i64, args: Arc<PageArgs>) -> Self {
        Page {
            parent,
            args,
            relation: PhantomData,
        }
    }
}

/// Pages and counts hash by parent alone: the loader hashes every key several times, and the
/// arguments (a dozen fields) are the same for nearly every key of a level; keys of one parent
/// with other arguments (aliases) are told apart by equality.
impl<R> Hash for Page<R> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parent.hash(state);
    }
}

/// How many children `parent` has along relation `R` under a filter.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Count<R> {
    parent: i64,
    filter: Filter,
    relation: PhantomData<R>,
}

impl<R> Hash for Count<R> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parent.hash(state);
    }
}

/// The parents of `keys` grouped by the arguments `of` reads from each key (few: one per alias).
fn by_arguments<K, A: PartialEq>(keys: &[K], of: impl Fn(&K) -> (&A, i64)) -> Vec<(&A, Vec<i64>)> {
    let mut groups: Vec<(&A, Vec<i64>)> = Vec::new();
    for key in keys {
        let (arguments, parent) = of(key);
        match groups.iter_mut().find(|(seen, _)| *seen == arguments) {
            Some((_, parents)) => parents.push(parent),
            None => groups.push((arguments, vec![parent])),
        }
    }
    groups
}

impl<R> Count<R> {
    fn new(parent: i64, filter: Filter) -> Self {
        Count {
            parent,
            filter,
            relation: PhantomData,
        }
    }
}

/// The row of a relation's parent.
pub type ModelOf<R> = <<R as Relation>::Parent as EntityTrait>::Model;

/// The children of a page, at most `limit + 1` of them, in read order. Shared: the loader
/// hands every page out as a copy, which for an `Arc` is a count.
pub type Children<R> = Arc<Vec<Listed<<<R as Relation>::Child as Scoped>::Card>>>;

impl Batch {
    /// The loader of one request, showing what `scope` may see, whose loads `loads` runs.
    pub fn per_request(
        db: Db,
        credentials: Arc<Credentials>,
        metrics: Metrics,
        loads: &Loads,
    ) -> DataLoader<Batch> {
        DataLoader::new(
            Batch {
                db,
                credentials,
                metrics,
            },
            loads.spawner(),
        )
        // `Loads` starts a batch once its level has asked for every key: no need to wait.
        .delay(Duration::ZERO)
        // A batch is one statement whatever its size (keys travel as one array parameter).
        .max_batch_size(usize::MAX)
    }

    /// What the caller may see.
    async fn scope(&self) -> Scope {
        self.credentials.auth().await.scope()
    }

    /// The loader of a WebSocket connection, shared by its events: loads run as tasks after
    /// the default short delay, since events are resolved outside a request.
    pub fn per_connection(
        db: Db,
        credentials: Arc<Credentials>,
        metrics: Metrics,
    ) -> DataLoader<Batch> {
        DataLoader::new(
            Batch {
                db,
                credentials,
                metrics,
            },
            tokio::spawn,
        )
    }

    pub fn of<'c>(ctx: &Context<'c>) -> async_graphql::Result<&'c DataLoader<Batch>> {
        ctx.data::<DataLoader<Batch>>()
    }

    /// The size of a whole list.
    pub async fn total(ctx: &Context<'_>, total: Total) -> AppResult<u64> {
        let loader = Self::of(ctx).map_err(|_| AppError::Internal)?;
        let Batch { db, .. } = loader.loader();
        let scope = &loader.loader().scope().await;
        Ok(match total {
            Total::Users(filter) => {
                listing::count::<user::Entity>(&db.conn(), scope, &filter).await?
            }
            Total::Profiles(filter) => {
                listing::count::<profile::Entity>(&db.conn(), scope, &filter).await?
            }
            Total::ProfilesOfUser(user, filter) => {
                let count = Count::<ProfilesOfUser>::new(user, filter);
                loader.load_one(count).await?.unwrap_or(0)
            }
            Total::UsersOfProfile(profile, filter) => {
                let count = Count::<UsersOfProfile>::new(profile, filter);
                loader.load_one(count).await?.unwrap_or(0)
            }
        })
    }

    /// Whether a parent and its first page can be read in one statement (PostgreSQL).
    pub fn reads_ahead(&self) -> bool {
        self.db.backend() == DatabaseBackend::Postgres
    }

    /// The parent with key `parent`, when the caller may see it, and its page `args` along
    /// `R`, in one statement (only when `reads_ahead`).
    pub async fn with_page<R: Relation>(
        &self,
        parent: i64,
        args: &PageArgs,
    ) -> AppResult<Option<(ModelOf<R>, Children<R>)>> {
        self.metrics.batch(R::PAGE, 1);
        let scope = self.scope().await;
        let read = listing::with_page::<R::Parent, R::Child>(
            &self.db.conn(),
            &scope,
            R::DIRECTION,
            parent,
            args,
            self.db.cards(),
        )
        .await?;
        Ok(read.map(|(model, rows)| (model, Arc::new(rows))))
    }

    /// Loads the rows of `E` with the keys of `keys` that the caller may see.
    async fn by_keys<E, K>(
        &self,
        loader: &'static str,
        keys: &[K],
        key: fn(&K) -> i64,
        of: fn(&E::Model) -> K,
    ) -> AppResult<HashMap<K, E::Model>>
    where
        E: Scoped,
        K: Eq + Hash,
    {
        self.metrics.batch(loader, keys.len());
        let ids: Vec<i64> = keys.iter().map(key).collect();
        let rows = store::by_ids::<E>(&self.db.conn(), &self.scope().await, &ids).await?;
        Ok(rows.into_iter().map(|row| (of(&row), row)).collect())
    }
}

impl Loader<UserKey> for Batch {
    type Value = user::Model;
    type Error = AppError;

    async fn load(&self, keys: &[UserKey]) -> AppResult<HashMap<UserKey, user::Model>> {
        self.by_keys::<user::Entity, _>("user", keys, |key| key.0, |user| UserKey(user.id))
            .await
    }
}

impl Loader<ProfileKey> for Batch {
    type Value = profile::Model;
    type Error = AppError;

    async fn load(&self, keys: &[ProfileKey]) -> AppResult<HashMap<ProfileKey, profile::Model>> {
        self.by_keys::<profile::Entity, _>(
            "profile",
            keys,
            |key| key.0,
            |profile| ProfileKey(profile.id),
        )
        .await
    }
}

impl Loader<RolesOfUser> for Batch {
    type Value = Vec<role::Model>;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[RolesOfUser],
    ) -> AppResult<HashMap<RolesOfUser, Vec<role::Model>>> {
        self.metrics.batch("roles_of_user", keys.len());
        let users: Vec<i64> = keys.iter().map(|key| key.0).collect();
        let roles = store::roles::of_users(&self.db.conn(), &users).await?;
        Ok(roles
            .into_iter()
            .map(|(user, roles)| (RolesOfUser(user), roles))
            .collect())
    }
}

impl<R: Relation> Loader<Page<R>> for Batch {
    type Value = Children<R>;
    type Error = AppError;

    async fn load(&self, keys: &[Page<R>]) -> AppResult<HashMap<Page<R>, Children<R>>> {
        self.metrics.batch(R::PAGE, keys.len());
        let scope = self.scope().await;
        let mut loaded = HashMap::with_capacity(keys.len());
        for (args, parents) in by_arguments(keys, |key| (&key.args, key.parent)) {
            let conn = self.db.conn();
            let pages = listing::pages::<R::Child>(
                &conn,
                &scope,
                R::DIRECTION,
                &parents,
                args,
                self.db.cards(),
            )
            .await?;
            loaded.extend(
                pages
                    .into_iter()
                    .map(|(parent, page)| (Page::new(parent, args.clone()), Arc::new(page))),
            );
        }
        Ok(loaded)
    }
}

impl<R: Relation> Loader<Count<R>> for Batch {
    type Value = u64;
    type Error = AppError;

    async fn load(&self, keys: &[Count<R>]) -> AppResult<HashMap<Count<R>, u64>> {
        self.metrics.batch(R::COUNT, keys.len());
        let scope = self.scope().await;
        let mut loaded = HashMap::with_capacity(keys.len());
        for (filter, parents) in by_arguments(keys, |key| (&key.filter, key.parent)) {
            let conn = self.db.conn();
            let counts =
                listing::counts::<R::Child>(&conn, &scope, R::DIRECTION, &parents, filter).await?;
            loaded.extend(
                counts
                    .into_iter()
                    .map(|(parent, count)| (Count::new(parent, filter.clone()), count)),
            );
        }
        Ok(loaded)
    }
}

/// A page of the pending invitations of a profile; loaded only for profiles the caller owns
/// (or every profile, for `profiles:write` holders).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InvitationsOfProfile {
    pub profile: i64,
    pub window: invitations::Window,
}

/// How many invitations of a profile are pending; only for profiles the caller owns (or
/// every profile, for `profiles:write` holders).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InvitationCountOfProfile(pub i64);

impl Batch {
    /// Of `profiles`, those whose invitations the caller may see.
    async fn invitations_visible(&self, profiles: Vec<i64>) -> AppResult<Vec<i64>> {
        let viewer = self.credentials.auth().await.viewer()?.clone();
        if viewer.can(Permission::ProfilesWrite) {
            return Ok(profiles);
        }
        Ok(invitations::owned(&self.db.conn(), viewer.id(), &profiles).await?)
    }
}

impl Loader<InvitationsOfProfile> for Batch {
    type Value = Vec<invitations::Pending>;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[InvitationsOfProfile],
    ) -> AppResult<HashMap<InvitationsOfProfile, Vec<invitations::Pending>>> {
        self.metrics.batch("invitations_of_profile", keys.len());
        let visible = self
            .invitations_visible(keys.iter().map(|key| key.profile).collect())
            .await?;
        let mut pages = HashMap::new();
        for (window, profiles) in by_arguments(keys, |key| (&key.window, key.profile)) {
            let profiles: Vec<i64> = profiles
                .into_iter()
                .filter(|profile| visible.contains(profile))
                .collect();
            if profiles.is_empty() {
                continue;
            }
            let mut rows = HashMap::<i64, Vec<invitations::Pending>>::new();
            let page = invitations::page(&self.db.conn(), Of::Profiles(&profiles), *window).await?;
            for row in page {
                rows.entry(row.invitation.profile_id).or_default().push(row);
            }
            for profile in profiles {
                let key = InvitationsOfProfile {
                    profile,
                    window: *window,
                };
                pages.insert(key, rows.remove(&profile).unwrap_or_default());
            }
        }
        Ok(pages)
    }
}

impl Loader<InvitationCountOfProfile> for Batch {
    type Value = i64;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[InvitationCountOfProfile],
    ) -> AppResult<HashMap<InvitationCountOfProfile, i64>> {
        self.metrics
            .batch("invitation_count_of_profile", keys.len());
        let visible = self
            .invitations_visible(keys.iter().map(|key| key.0).collect())
            .await?;
        let counts: HashMap<i64, i64> = if visible.is_empty() {
            HashMap::new()
        } else {
            invitations::counts(&self.db.conn(), Of::Profiles(&visible))
                .await?
                .into_iter()
                .collect()
        };
        Ok(visible
            .into_iter()
            .map(|profile| {
                let count = counts.get(&profile).copied().unwrap_or(0);
                (InvitationCountOfProfile(profile), count)
            })
            .collect())
    }
}
