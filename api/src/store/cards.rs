//! Users' cards (key, email, creation time) kept by key, so a nested page of users reads the
//! link index alone and only the cards it has not seen. A card never changes through the API: a
//! user is created with it and deleted whole, and a deleted user's links go with it, so no page
//! reaches a card it should not show. Each replica keeps its own, up to a number of cards.

use std::{
    num::NonZeroUsize,
    sync::{Arc, Mutex, MutexGuard},
};

use lru::LruCache;

use super::visibility::UserCard;

/// Cards by key, the least recently used dropped first.
pub struct CardCache<C>(Mutex<LruCache<i64, C>>);

impl<C: Clone> CardCache<C> {
    fn new(capacity: NonZeroUsize) -> Self {
        CardCache(Mutex::new(LruCache::new(capacity)))
    }

    fn cards(&self) -> MutexGuard<'_, LruCache<i64, C>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cards of `keys` that are kept, in the order of `keys`, and the keys of the others.
    pub fn get_many(&self, keys: &[i64]) -> (Vec<Option<C>>, Vec<i64>) {
        let mut cards = self.cards();
        let mut missing = Vec::new();
        let found = keys
            .iter()
            .map(|key| {
                let card = cards.get(key).cloned();
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

    pub fn put_many(&self, read: impl IntoIterator<Item = (i64, C)>) {
        let mut cards = self.cards();
        for (key, card) in read {
            cards.put(key, card);
        }
    }
}

/// The caches of cards of a replica.
pub struct Cards {
    pub users: Option<CardCache<Arc<UserCard>>>,
}

impl Cards {
    /// Keeps up to `users` cards of users; none when 0.
    pub fn new(users: usize) -> Self {
        Cards {
            users: NonZeroUsize::new(users).map(CardCache::new),
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
