//! Queues of the writers of one row, on this replica.
//!
//! Transactions that write the same row wait in PostgreSQL for each other's commit; when one
//! commits, PostgreSQL wakes every waiter, and all but one go back to sleep behind the next:
//! under contention on one link (the benchmark's M1: 32 clients linking and unlinking one
//! pair) most of the database's CPU went to those wake-ups, each waiter holding a pooled
//! connection meanwhile. Here a replica's writers of a row take turns before they begin their
//! transaction, so PostgreSQL sees one of them at a time (replicas still meet there).
//!
//! A transaction queues only for its first write, before it holds any lock: a writer waiting
//! here holds nothing another writer could wait for, so queues add no deadlock.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Arc, Mutex, Weak},
};

use tokio::sync::{Mutex as Turn, OwnedMutexGuard};

/// One queue per row key, made when a writer arrives and dropped when the last one leaves.
#[derive(Debug)]
pub struct RowQueues<K> {
    queues: Mutex<HashMap<K, Weak<Turn<()>>>>,
}

impl<K: Copy + Eq + Hash> RowQueues<K> {
    pub fn new() -> Arc<Self> {
        Arc::new(RowQueues {
            queues: Mutex::new(HashMap::new()),
        })
    }

    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<K, Weak<Turn<()>>>> {
        self.queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits for the turn of a writer of row `key`, in arrival order; the turn passes on
    /// when the returned value is dropped.
    pub async fn turn(self: &Arc<Self>, key: K) -> QueueTurn<K> {
        let queue = {
            let mut queues = self.queues();
            match queues.get(&key).and_then(Weak::upgrade) {
                Some(queue) => queue,
                None => {
                    let queue = Arc::new(Turn::new(()));
                    queues.insert(key, Arc::downgrade(&queue));
                    queue
                }
            }
        };
        QueueTurn {
            turn: Some(queue.lock_owned().await),
            queues: self.clone(),
            key,
        }
    }
}

/// A writer's turn on a row.
#[derive(Debug)]
pub struct QueueTurn<K: Copy + Eq + Hash> {
    turn: Option<OwnedMutexGuard<()>>,
    queues: Arc<RowQueues<K>>,
    key: K,
}

impl<K: Copy + Eq + Hash> Drop for QueueTurn<K> {
    fn drop(&mut self) {
        drop(self.turn.take());
        let mut queues = self.queues.queues();
        // Nobody else waits or writes: the queue goes (a writer arriving meanwhile made a
        // new one, which stays).
        if queues
            .get(&self.key)
            .is_some_and(|queue| queue.strong_count() == 0)
        {
            queues.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn writers_of_one_row_take_turns_and_queues_go_when_empty() {
        let queues = RowQueues::new();
        let first = queues.turn((1, 1)).await;
        // Another row is not held up.
        let other = queues.turn((1, 2)).await;
        let waiting = tokio::spawn({
            let queues = queues.clone();
            async move { queues.turn((1, 1)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        drop(first);
        let second = waiting.await.expect("the second writer gets its turn");
        drop((second, other));
        assert!(queues.queues().is_empty());
    }
}
