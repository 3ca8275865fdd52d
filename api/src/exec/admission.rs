//! How many GraphQL executions run at once, large ones counting as several: small requests
//! spend most of their time waiting for the database, so many run together, while the pages
//! of a large one are held in memory until its answer is written. A request gives its slot
//! back while it waits for work admitted elsewhere (a password hash), so such waits never
//! starve other requests.

use std::{
    future::Future,
    sync::{Arc, Mutex},
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A request that may return more nodes than this (`cost::nodes`) counts as one more execution
/// for each further this many.
const NODES_PER_EXECUTION: u64 = 1_000;

tokio::task_local! {
    /// The slot of the request the current task executes.
    static SLOT: Arc<Slot>;
}

#[derive(Clone)]
pub struct Executions {
    permits: Arc<Semaphore>,
    /// The most one request counts as: a quarter of the limit, so a few large requests still
    /// run together.
    most: u64,
}

/// The executions one request holds, while it holds them.
struct Slot {
    permits: Arc<Semaphore>,
    weight: u32,
    held: Mutex<Option<OwnedSemaphorePermit>>,
}

impl Slot {
    async fn take(&self) {
        let permit = self
            .permits
            .clone()
            .acquire_many_owned(self.weight)
            .await
            .ok();
        *self.held.lock().unwrap_or_else(|e| e.into_inner()) = permit;
    }

    fn give_back(&self) {
        drop(self.held.lock().unwrap_or_else(|e| e.into_inner()).take());
    }
}

impl Executions {
    pub fn new(limit: usize) -> Self {
        let limit = limit.clamp(1, Semaphore::MAX_PERMITS);
        Executions {
            permits: Arc::new(Semaphore::new(limit)),
            most: u64::try_from(limit / 4).unwrap_or(u64::MAX).max(1),
        }
    }

    /// How many executions a request that may return `nodes` nodes counts as.
    fn weight(&self, nodes: u64) -> u32 {
        let weight = nodes.div_ceil(NODES_PER_EXECUTION).clamp(1, self.most);
        u32::try_from(weight).unwrap_or(u32::MAX)
    }

    /// Runs `request`, which may return `nodes` nodes, in its turn.
    pub async fn run<F: Future>(&self, nodes: u64, request: F) -> F::Output {
        let slot = Arc::new(Slot {
            permits: self.permits.clone(),
            weight: self.weight(nodes),
            held: Mutex::new(None),
        });
        slot.take().await;
        SLOT.scope(slot, request).await
    }
}

/// Runs `work` with the slot of the current request given back, and takes the slot again
/// after: for waits admitted and bounded elsewhere.
pub async fn without_slot<F: Future>(work: F) -> F::Output {
    let Ok(slot) = SLOT.try_with(Arc::clone) else {
        return work.await;
    };
    slot.give_back();
    let output = work.await;
    slot.take().await;
    output
}

#[cfg(test)]
mod tests {
    use super::Executions;

    #[test]
    fn large_requests_count_as_several_up_to_a_quarter_of_the_limit() {
        let executions = Executions::new(32);
        assert_eq!(executions.weight(0), 1);
        assert_eq!(executions.weight(1_000), 1);
        assert_eq!(executions.weight(1_001), 2);
        // 50 users × 10 profiles × 10 users, with the users and profiles themselves.
        assert_eq!(executions.weight(5_550), 6);
        assert_eq!(executions.weight(u64::MAX), 8);
        assert_eq!(Executions::new(2).weight(5_550), 1);
    }
}
