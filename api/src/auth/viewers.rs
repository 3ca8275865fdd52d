//! Callers recently looked up, so that a client sending many requests with one token is not
//! looked up again for each. An entry holds only while the replica has seen no account change
//! since it was read (`Bus::account_changes`: changes committed here count at once, those of
//! other replicas when their `NOTIFY` arrives) and for at most `CALLER_CACHE_TTL`, which bounds
//! how long changes made outside Roster (by hand, in SQL) can go unseen.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use super::Viewer;

/// Most entries kept; beyond, stale ones are dropped, then all.
const CAPACITY: usize = 10_000;

/// Callers by the uniquifier their tokens carry.
pub struct Viewers {
    entries: Mutex<HashMap<String, Entry>>,
    /// How long an entry is used at most; zero keeps none.
    fresh_for: Duration,
}

struct Entry {
    viewer: Arc<Viewer>,
    /// `Bus::account_changes` before the caller was read.
    changes: u64,
    read_at: Instant,
}

impl Viewers {
    pub fn new(fresh_for: Duration) -> Self {
        Viewers {
            entries: Mutex::default(),
            fresh_for,
        }
    }

    fn holds(&self, entry: &Entry, changes: u64, now: Instant) -> bool {
        entry.changes == changes && now.duration_since(entry.read_at) < self.fresh_for
    }

    /// The caller with this uniquifier, if read while `changes` account changes were seen.
    pub fn get(&self, uniquifier: &str, changes: u64) -> Option<Arc<Viewer>> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(uniquifier)?;
        self.holds(entry, changes, Instant::now())
            .then(|| entry.viewer.clone())
    }

    /// Keeps `viewer`, read after `changes` account changes were seen.
    pub fn put(&self, uniquifier: &str, viewer: Arc<Viewer>, changes: u64) {
        if self.fresh_for.is_zero() {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let now = Instant::now();
        if entries.len() >= CAPACITY {
            entries.retain(|_, entry| self.holds(entry, changes, now));
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            uniquifier.to_owned(),
            Entry {
                viewer,
                changes,
                read_at: now,
            },
        );
    }
}
