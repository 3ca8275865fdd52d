//! Runs a request's batch loads inside the request's own task, and starts them only when the
//! request cannot progress without them.
//!
//! async-graphql's `DataLoader` collects keys for a fixed delay and then loads. With loads
//! spawned on a multi-threaded runtime, a level whose resolvers take longer than the delay to
//! register their keys is split into several batches: more SQL statements as parents grow.
//! Here the loads a `DataLoader` spawns are queued, and started only once the execution has
//! nothing left to do but wait — that is, once every resolver of the level has asked for its
//! key. A level is then one batch, whatever its size.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
};

use futures_util::{StreamExt, future::BoxFuture, stream::FuturesUnordered};

/// How many times in a row the execution may continue before yielding to the runtime.
const POLLS_BEFORE_YIELD: usize = 64;

type Queue = Arc<Mutex<Vec<BoxFuture<'static, ()>>>>;

/// The loads of one request.
#[derive(Default, Clone)]
pub struct Loads {
    queue: Queue,
}

impl Loads {
    /// The spawner to give a `DataLoader`: it queues the load for `run`.
    pub fn spawner(&self) -> impl Fn(BoxFuture<'static, ()>) + Send + Sync + 'static {
        let queue = self.queue.clone();
        move |load| {
            if let Ok(mut queue) = queue.lock() {
                queue.push(load);
            }
        }
    }

    /// Runs `execution`, driving the loads it queues.
    pub fn run<F: Future>(self, execution: F) -> impl Future<Output = F::Output> {
        Run {
            execution: Box::pin(execution),
            loads: FuturesUnordered::new(),
            queue: self.queue,
            wake: Arc::new(ExecutionWake::default()),
        }
    }
}

struct Run<F: Future> {
    execution: Pin<Box<F>>,
    loads: FuturesUnordered<BoxFuture<'static, ()>>,
    queue: Queue,
    wake: Arc<ExecutionWake>,
}

/// Wakes the request's task and notes that the execution itself can progress.
#[derive(Default)]
struct ExecutionWake {
    woken: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Wake for ExecutionWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        if let Ok(task) = self.task.lock()
            && let Some(task) = task.as_ref()
        {
            task.wake_by_ref();
        }
    }
}

impl<F: Future> Future for Run<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if let Ok(mut task) = self.wake.task.lock() {
            *task = Some(cx.waker().clone());
        }
        let execution_waker = Waker::from(self.wake.clone());
        for _ in 0..POLLS_BEFORE_YIELD {
            self.wake.woken.store(false, Ordering::SeqCst);
            let mut execution_cx = Context::from_waker(&execution_waker);
            if let Poll::Ready(output) = self.execution.as_mut().poll(&mut execution_cx) {
                return Poll::Ready(output);
            }
            if self.wake.woken.load(Ordering::SeqCst) {
                continue;
            }
            // The execution waits: every key of this round is registered, start the loads.
            let queued: Vec<_> = match self.queue.lock() {
                Ok(mut queue) => queue.drain(..).collect(),
                Err(_) => Vec::new(),
            };
            self.loads.extend(queued);
            while let Poll::Ready(Some(())) = self.loads.poll_next_unpin(cx) {}
            if !self.wake.woken.load(Ordering::SeqCst) {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
