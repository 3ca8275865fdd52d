//! What a caller may see, as SQL conditions that join the batched statements.
//!
//! A profile is visible to its managers and to holders of `profiles:read`. A user is visible
//! to themself, to the users who share a profile with them, and to holders of `users:read`.

use std::sync::Arc;

use entity::{profile, user, user_profile};
use sea_orm::{
    DbErr, EntityTrait, QueryResult,
    sea_query::{Alias, Expr, ExprTrait, JoinType, Query},
};

use super::cards::{CardCache, Cards};
use crate::cards::{ProfileCard, UserCard};

/// The caller's reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The caller's user key; `None` sees no row that visibility restricts.
    pub viewer: Option<i64>,
    /// Holds `users:read`.
    pub all_users: bool,
    /// Holds `profiles:read`.
    pub all_profiles: bool,
}

/// The tables whose rows visibility restricts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    User,
    Profile,
}

/// What lists read of each row of an entity (its card), and how (see `crate::cards`).
pub trait Card: Clone + Send + Sync + 'static {
    type Entity: EntityTrait;
    /// The columns a card is read from, in the order `read` takes them.
    const COLUMNS: &'static [<Self::Entity as EntityTrait>::Column];
    /// The card of a row whose `COLUMNS` start at column `first` (by position: a page of a
    /// nested list holds thousands of rows, and a lookup by name hashes the name each time).
    fn read(row: &QueryResult, first: usize) -> Result<Self, DbErr>;
    /// The card of a whole row.
    fn of(model: &<Self::Entity as EntityTrait>::Model) -> Self;
}

/// Cards are shared: a page of users is thousands of cards, mostly taken from `Cards`.
impl<C: Card> Card for Arc<C> {
    type Entity = C::Entity;
    const COLUMNS: &'static [<Self::Entity as EntityTrait>::Column] = C::COLUMNS;

    fn read(row: &QueryResult, first: usize) -> Result<Self, DbErr> {
        C::read(row, first).map(Arc::new)
    }

    fn of(model: &<Self::Entity as EntityTrait>::Model) -> Self {
        Arc::new(C::of(model))
    }
}

/// An entity whose rows visibility restricts, and what its lists read of each row.
pub trait Scoped: EntityTrait + Default {
    const KIND: Kind;
    type Card: Card<Entity = Self>;

    /// The kept cards of `E`, if they are kept.
    fn cached(_cards: &Cards) -> Option<&CardCache<Self::Card>> {
        None
    }
}

impl Scoped for user::Entity {
    const KIND: Kind = Kind::User;
    type Card = Arc<UserCard>;

    fn cached(cards: &Cards) -> Option<&CardCache<Arc<UserCard>>> {
        cards.users.as_ref()
    }
}

impl Scoped for profile::Entity {
    const KIND: Kind = Kind::Profile;
    type Card = Arc<ProfileCard>;
}

impl Scope {
    /// The condition that the row whose key is `key` is visible; `None` when all are.
    pub fn filter(&self, kind: Kind, key: Expr) -> Option<Expr> {
        match kind {
            Kind::User if self.all_users => None,
            Kind::Profile if self.all_profiles => None,
            _ => Some(match self.viewer {
                None => Expr::val(false),
                Some(viewer) => match kind {
                    Kind::User => user_visible(viewer, key),
                    Kind::Profile => profile_visible(viewer, key),
                },
            }),
        }
    }
}

/// The viewer manages the profile.
fn profile_visible(viewer: i64, profile: Expr) -> Expr {
    let link = Alias::new("visible_link");
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from_as(user_profile::Entity, link.clone())
            .and_where(Expr::col((link.clone(), user_profile::Column::ProfileId)).eq(profile))
            .and_where(Expr::col((link, user_profile::Column::UserId)).eq(viewer))
            .to_owned(),
    )
}

/// The user is the viewer, or manages a profile the viewer manages too.
fn user_visible(viewer: i64, user: Expr) -> Expr {
    let theirs = Alias::new("their_link");
    let mine = Alias::new("my_link");
    let shared = Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from_as(user_profile::Entity, theirs.clone())
            .join_as(
                JoinType::InnerJoin,
                user_profile::Entity,
                mine.clone(),
                Expr::col((mine.clone(), user_profile::Column::ProfileId))
                    .equals((theirs.clone(), user_profile::Column::ProfileId)),
            )
            .and_where(Expr::col((theirs, user_profile::Column::UserId)).eq(user.clone()))
            .and_where(Expr::col((mine, user_profile::Column::UserId)).eq(viewer))
            .to_owned(),
    );
    user.eq(viewer).or(shared)
}
