//! Users' cards kept by key, so a nested page of users reads the link index alone and only the
//! cards it has not seen. Each replica keeps its own, up to a number of cards.
//!
//! Cards change (a user's display name), on any replica. Each change counts up the card epoch
//! (table `card_epoch`) in its transaction and is announced to every replica with its commit
//! (`Event::Card`); a replica forgets the changed card when the announcement arrives. Every
//! statement that would serve cards from here reads the epoch as well, and serves them only
//! if this replica has applied every change up to that epoch; otherwise it reads them from the
//! database. So no statement that starts after a change commits is answered with the card of
//! before, however late the announcement.

use std::{
    num::NonZeroUsize,
    sync::{Mutex, MutexGuard},
};

use entity::{card_epoch, user};
use lru::LruCache;
use sea_orm::{
    ConnectionTrait, DbErr,
    sea_query::{Expr, ExprTrait, Query},
};

use super::visibility::Scoped;
use crate::events::Bus;

/// The card epoch, as a column of a statement.
pub fn epoch() -> Expr {
    let epoch = Query::select()
        .column(card_epoch::Column::Epoch)
        .from(card_epoch::Entity)
        .and_where(Expr::col(card_epoch::Column::Id).eq(1))
        .to_owned();
    Expr::cust_with_expr("($1)", epoch)
}

/// Counts one more change of a card, in the transaction of the change; the new epoch.
pub async fn count_change(conn: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let count = Query::update()
        .table(card_epoch::Entity)
        .value(
            card_epoch::Column::Epoch,
            Expr::col(card_epoch::Column::Epoch).add(1),
        )
        .and_where(Expr::col(card_epoch::Column::Id).eq(1))
        .returning_col(card_epoch::Column::Epoch)
        .to_owned();
    let row = conn
        .query_one(&count)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the card epoch".into()))?;
    row.try_get_by_index(0)
}

/// Cards by key, the least recently used dropped first.
pub struct CardCache<C> {
    kept: Mutex<Kept<C>>,
    events: Bus,
}

struct Kept<C> {
    cards: LruCache<i64, C>,
    /// The epoch up to which every change has been applied here; `None` when unknown (at
    /// start, and after announcements were lost).
    applied: Option<i64>,
}

impl<C: Clone> CardCache<C> {
    fn new(capacity: NonZeroUsize, events: Bus) -> Self {
        CardCache {
            kept: Mutex::new(Kept {
                cards: LruCache::new(capacity),
                applied: None,
            }),
            events,
        }
    }

    fn kept(&self) -> MutexGuard<'_, Kept<C>> {
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cards of `keys` that are kept, in the order of `keys`, and the keys of the others,
    /// for a statement that read the card epoch `epoch`; all of them missing when cards kept
    /// here may be older than that.
    pub fn get_many(&self, keys: &[i64], epoch: i64) -> (Vec<Option<C>>, Vec<i64>) {
        let mut kept = self.kept();
        let current = match kept.applied {
            Some(applied) => epoch <= applied,
            // Nothing is known of the changes before: start over from this epoch, which every
            // later announcement follows (only while this replica hears them).
            None if self.events.listening() => {
                kept.cards.clear();
                kept.applied = Some(epoch);
                true
            }
            None => false,
        };
        let mut missing = Vec::new();
        let found = keys
            .iter()
            .map(|key| {
                let card = current.then(|| kept.cards.get(key).cloned()).flatten();
                if card.is_none() {
                    missing.push(*key);
                }
                card
            })
            .collect();
        missing.sort_unstable();
        missing.dedup();
        (found, missing)
    }

    /// Keeps cards read by a statement that read the card epoch `epoch`: unless a change after
    /// that epoch has been applied here meanwhile (they may be older than it).
    pub fn put_many(&self, read: impl IntoIterator<Item = (i64, C)>, epoch: i64) {
        let mut kept = self.kept();
        if kept.applied.is_none_or(|applied| epoch < applied) {
            return;
        }
        for (key, card) in read {
            kept.cards.put(key, card);
        }
    }

    /// Applies the change of the card of `key`, the change of epoch `epoch`.
    pub fn changed(&self, key: i64, epoch: i64) {
        let mut kept = self.kept();
        kept.cards.pop(&key);
        match kept.applied {
            Some(applied) if epoch <= applied + 1 => kept.applied = Some(Ord::max(applied, epoch)),
            // Some announcements did not arrive (or came before this replica started): any
            // card may be old.
            _ => {
                kept.cards.clear();
                kept.applied = Some(epoch);
            }
        }
    }

    /// Forgets every card: announcements were lost.
    pub fn lost(&self) {
        let mut kept = self.kept();
        kept.cards.clear();
        kept.applied = None;
    }
}

/// The caches of cards of a replica.
pub struct Cards {
    pub users: Option<CardCache<<user::Entity as Scoped>::Card>>,
}

impl Cards {
    /// Keeps up to `users` cards of users (none when 0), up to date through `events`.
    pub fn new(users: usize, events: &Bus) -> Self {
        Cards {
            users: NonZeroUsize::new(users).map(|users| CardCache::new(users, events.clone())),
        }
    }
}

impl std::fmt::Debug for Cards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cards")
            .field("users", &self.users.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;

    use sea_orm::DatabaseBackend;

    use super::CardCache;
    use crate::events::Bus;

    async fn cache() -> CardCache<&'static str> {
        // SQLite's bus always hears its own process.
        let events = Bus::start(DatabaseBackend::Sqlite, "").await;
        CardCache::new(NonZeroUsize::MIN.saturating_add(9), events)
    }

    #[tokio::test]
    async fn cards_serve_statements_up_to_the_epoch_applied() {
        let cache = cache().await;
        assert_eq!(cache.get_many(&[1], 5), (vec![None], vec![1]));
        cache.put_many([(1, "ann")], 5);
        assert_eq!(cache.get_many(&[1], 5), (vec![Some("ann")], vec![]));
        // A statement after a change this replica has not heard of yet reads the card.
        assert_eq!(cache.get_many(&[1], 6), (vec![None], vec![1]));
        // Cards read then are not kept past a change applied since.
        cache.changed(1, 6);
        cache.put_many([(1, "ann before")], 5);
        assert_eq!(cache.get_many(&[1], 6), (vec![None], vec![1]));
        cache.put_many([(1, "ann after")], 6);
        assert_eq!(cache.get_many(&[1], 6), (vec![Some("ann after")], vec![]));
    }

    #[tokio::test]
    async fn a_lost_announcement_forgets_every_card() {
        let cache = cache().await;
        cache.get_many(&[], 1);
        cache.put_many([(1, "ann"), (2, "bob")], 1);
        cache.changed(3, 2);
        assert_eq!(cache.get_many(&[1, 2], 2).0, vec![Some("ann"), Some("bob")]);
        // Epoch 3 never arrived.
        cache.changed(3, 4);
        assert_eq!(cache.get_many(&[1, 2], 4).1, vec![1, 2]);
        cache.put_many([(1, "ann")], 4);
        cache.lost();
        assert_eq!(
            cache.get_many(&[1], 4).1,
            vec![1],
            "nothing is kept after a loss"
        );
    }
}
