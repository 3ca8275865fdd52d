//! How many GraphQL executions run at once, large ones counting as several: small requests
//! spend most of their time waiting for the database, so many run together, while the pages
//! of a large one are held in memory until its answer is written.

use std::sync::Arc;

use tokio::sync::{Semaphore, SemaphorePermit};

/// A request that may return more list items than this counts as one more execution for each
/// further this many.
const ITEMS_PER_EXECUTION: u64 = 1_000;

#[derive(Clone)]
pub struct Executions {
    permits: Arc<Semaphore>,
    /// The most one request counts as: a quarter of the limit, so a few large requests still
    /// run together.
    most: u64,
}

impl Executions {
    pub fn new(limit: usize) -> Self {
        let limit = limit.clamp(1, Semaphore::MAX_PERMITS);
        Executions {
            permits: Arc::new(Semaphore::new(limit)),
            most: u64::try_from(limit / 4).unwrap_or(u64::MAX).max(1),
        }
    }

    /// How many executions a request that may return `items` list items counts as.
    fn weight(&self, items: u64) -> u32 {
        let weight = items.div_ceil(ITEMS_PER_EXECUTION).clamp(1, self.most);
        u32::try_from(weight).unwrap_or(u32::MAX)
    }

    /// Waits for the turn of a request that may return `items` list items.
    pub async fn admit(&self, items: u64) -> Option<SemaphorePermit<'_>> {
        self.permits.acquire_many(self.weight(items)).await.ok()
    }
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
