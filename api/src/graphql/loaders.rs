//! The per-request batch loader: every lookup of a nesting level becomes one SQL statement.
//!
//! One `DataLoader<Batch>` is created for each request (never shared between requests). Each
//! relation has its own key type, so two relations never share a batch, and a page key carries
//! its window: the keys of one batch are grouped by window and each group is one statement.

use std::{collections::HashMap, time::Duration};

use async_graphql::{
    Context,
    dataloader::{DataLoader, Loader},
};
use entity::{profile, user};

use super::{connection::Total, scheduler::Loads};
use crate::{
    db::Db,
    error::{AppError, AppResult},
    store::{
        self, Window,
        links::{self, Direction, Linked},
    },
};

/// Loads users, profiles, and both directions of their relationship, in batches.
pub struct Batch {
    db: Db,
}

/// A user by primary key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserKey(pub i64);

/// A profile by primary key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProfileKey(pub i64);

/// One page of the profiles a user manages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProfilesOfUser {
    pub user: i64,
    pub window: Window,
}

/// One page of the users who manage a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UsersOfProfile {
    pub profile: i64,
    pub window: Window,
}

/// How many profiles a user manages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct ProfileCountOfUser(i64);

/// How many users manage a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct UserCountOfProfile(i64);

impl Batch {
    /// The loader of one request, whose loads `loads` runs.
    pub fn per_request(db: Db, loads: &Loads) -> DataLoader<Batch> {
        DataLoader::new(Batch { db }, loads.spawner())
            // `Loads` starts a batch once its level has asked for every key: no need to wait.
            .delay(Duration::ZERO)
            // A batch is one statement whatever its size (keys travel as one array parameter).
            .max_batch_size(usize::MAX)
    }

    pub fn of<'c>(ctx: &Context<'c>) -> async_graphql::Result<&'c DataLoader<Batch>> {
        ctx.data::<DataLoader<Batch>>()
    }

    /// The size of a whole list.
    pub async fn total(ctx: &Context<'_>, total: Total) -> AppResult<u64> {
        let loader = Self::of(ctx).map_err(|_| AppError::Internal)?;
        let conn = loader.loader().db.conn();
        let count = match total {
            Total::Users => store::count::<user::Entity>(conn).await?,
            Total::Profiles => store::count::<profile::Entity>(conn).await?,
            Total::ProfilesOfUser(id) => {
                loader.load_one(ProfileCountOfUser(id)).await?.unwrap_or(0)
            }
            Total::UsersOfProfile(id) => {
                loader.load_one(UserCountOfProfile(id)).await?.unwrap_or(0)
            }
        };
        Ok(count)
    }
}

impl Loader<UserKey> for Batch {
    type Value = user::Model;
    type Error = AppError;

    async fn load(&self, keys: &[UserKey]) -> AppResult<HashMap<UserKey, user::Model>> {
        let ids: Vec<i64> = keys.iter().map(|key| key.0).collect();
        let users = store::by_ids::<user::Entity>(self.db.conn(), &ids).await?;
        Ok(users
            .into_iter()
            .map(|user| (UserKey(user.id), user))
            .collect())
    }
}

impl Loader<ProfileKey> for Batch {
    type Value = profile::Model;
    type Error = AppError;

    async fn load(&self, keys: &[ProfileKey]) -> AppResult<HashMap<ProfileKey, profile::Model>> {
        let ids: Vec<i64> = keys.iter().map(|key| key.0).collect();
        let profiles = store::by_ids::<profile::Entity>(self.db.conn(), &ids).await?;
        Ok(profiles
            .into_iter()
            .map(|profile| (ProfileKey(profile.id), profile))
            .collect())
    }
}

impl Loader<ProfilesOfUser> for Batch {
    type Value = Vec<Linked<profile::Model>>;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[ProfilesOfUser],
    ) -> AppResult<HashMap<ProfilesOfUser, Self::Value>> {
        let mut loaded = HashMap::new();
        for (window, users) in by_window(keys.iter().map(|key| (key.window, key.user))) {
            let pages = links::pages::<profile::Entity>(
                self.db.conn(),
                Direction::ProfilesOfUser,
                &users,
                window,
            )
            .await?;
            loaded.extend(
                pages
                    .into_iter()
                    .map(|(user, page)| (ProfilesOfUser { user, window }, page)),
            );
        }
        Ok(loaded)
    }
}

impl Loader<UsersOfProfile> for Batch {
    type Value = Vec<Linked<user::Model>>;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[UsersOfProfile],
    ) -> AppResult<HashMap<UsersOfProfile, Self::Value>> {
        let mut loaded = HashMap::new();
        for (window, profiles) in by_window(keys.iter().map(|key| (key.window, key.profile))) {
            let pages = links::pages::<user::Entity>(
                self.db.conn(),
                Direction::UsersOfProfile,
                &profiles,
                window,
            )
            .await?;
            loaded.extend(
                pages
                    .into_iter()
                    .map(|(profile, page)| (UsersOfProfile { profile, window }, page)),
            );
        }
        Ok(loaded)
    }
}

impl Loader<ProfileCountOfUser> for Batch {
    type Value = u64;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[ProfileCountOfUser],
    ) -> AppResult<HashMap<ProfileCountOfUser, u64>> {
        let users: Vec<i64> = keys.iter().map(|key| key.0).collect();
        let counts = links::counts(self.db.conn(), Direction::ProfilesOfUser, &users).await?;
        Ok(counts
            .into_iter()
            .map(|(user, count)| (ProfileCountOfUser(user), count))
            .collect())
    }
}

impl Loader<UserCountOfProfile> for Batch {
    type Value = u64;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[UserCountOfProfile],
    ) -> AppResult<HashMap<UserCountOfProfile, u64>> {
        let profiles: Vec<i64> = keys.iter().map(|key| key.0).collect();
        let counts = links::counts(self.db.conn(), Direction::UsersOfProfile, &profiles).await?;
        Ok(counts
            .into_iter()
            .map(|(profile, count)| (UserCountOfProfile(profile), count))
            .collect())
    }
}

/// Groups parent keys by the window they ask for.
fn by_window(keys: impl Iterator<Item = (Window, i64)>) -> HashMap<Window, Vec<i64>> {
    let mut groups: HashMap<Window, Vec<i64>> = HashMap::new();
    for (window, parent) in keys {
        groups.entry(window).or_default().push(parent);
    }
    groups
}
