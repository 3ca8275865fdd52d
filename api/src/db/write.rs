//! Write transactions: a transaction of its own, or the one transaction of a mutation request,
//! begun by its first write and ended with the request; and the writes that stand whatever the
//! request's outcome.

use std::{
    collections::HashSet,
    ops::Deref,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, QueryResult,
    Statement, StatementBuilder, TransactionTrait,
};
use tokio::sync::{OnceCell, OwnedMutexGuard};

use super::{Db, queues::QueueTurn};
use crate::events::{Bus, Event};

impl Db {
    /// Begins a transaction that will write. Within a mutation request (`for_mutation`) this is
    /// the request's one transaction, begun by its first write; its `commit` then leaves the
    /// commit to the request's end.
    pub async fn begin_write(&self) -> Result<WriteTx<'_>, DbErr> {
        self.begin(None).await
    }

    /// Begins a transaction whose first write is to the link of `(user, profile)`: begun in
    /// its turn among this replica's writers of that link (`queues`), unless it has begun.
    pub async fn begin_link_write(&self, user: i64, profile: i64) -> Result<WriteTx<'_>, DbErr> {
        self.begin(Some((user, profile))).await
    }

    async fn begin(&self, link: Option<(i64, i64)>) -> Result<WriteTx<'_>, DbErr> {
        match &self.request {
            Some(request) => {
                let writer = request.tx.get_or_try_init(|| self.writer(link)).await?;
                Ok(WriteTx::Request(writer))
            }
            None => Ok(WriteTx::Own(self.writer(link).await?)),
        }
    }

    async fn writer(&self, link: Option<(i64, i64)>) -> Result<Writer, DbErr> {
        let turn = match (&self.link_writers, link) {
            (Some(queues), Some(link)) => Some(queues.turn(link).await),
            _ => None,
        };
        let guard = match &self.sqlite_writer {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        let tx = self.conn.begin().await?;
        Ok(Writer {
            tx: Some(tx),
            events: self.events.clone(),
            pending: std::sync::Mutex::default(),
            account_changed: AtomicBool::new(false),
            links: std::sync::Mutex::default(),
            guard,
            turn,
        })
    }

    /// Whether this is a mutation request whose transaction has begun.
    pub fn writing(&self) -> bool {
        self.request
            .as_ref()
            .is_some_and(|request| request.tx.initialized())
    }

    /// Runs `statement`, a write that must stand whatever the request's outcome (the record of
    /// a failed login, a revoked token family): now, or once the request's transaction ended
    /// if it has begun.
    pub async fn write_regardless(&self, statement: &impl StatementBuilder) -> Result<(), DbErr> {
        let statement = self.backend().build(statement);
        match &self.request {
            Some(request) if request.tx.initialized() => {
                lock(&request.regardless).push(statement);
                Ok(())
            }
            _ => self.conn.execute_raw(statement).await.map(drop),
        }
    }

    /// Publishes `event`, an account change that must be known whatever the request's outcome
    /// (a revoked token family): now, or after the writes that stand regardless once the
    /// request's transaction ended if it has begun.
    pub async fn publish_regardless(&self, event: Event) -> Result<(), DbErr> {
        match &self.request {
            Some(request) if request.tx.initialized() => {
                lock(&request.regardless_events).push(event);
                Ok(())
            }
            _ => publish_now(&self.conn, &self.events, event).await,
        }
    }

    /// A handle for one mutation request, whose writes all go into one transaction, and the
    /// means to end it.
    pub fn for_mutation(&self) -> (Db, RequestEnd) {
        let writes = Arc::new(RequestWrites::new(self.conn.clone(), self.events.clone()));
        let db = Db {
            request: Some(writes.clone()),
            ..self.clone()
        };
        (db, RequestEnd(writes))
    }
}

/// The writes of one mutation request.
pub(super) struct RequestWrites {
    /// Begun by the request's first write.
    pub(super) tx: OnceCell<Writer>,
    /// Writes to run once the transaction ended, whatever its outcome.
    regardless: std::sync::Mutex<Vec<Statement>>,
    /// Events to publish after them.
    regardless_events: std::sync::Mutex<Vec<Event>>,
    conn: DatabaseConnection,
    events: Bus,
}

impl RequestWrites {
    fn new(conn: DatabaseConnection, events: Bus) -> Self {
        RequestWrites {
            tx: OnceCell::new(),
            regardless: std::sync::Mutex::default(),
            regardless_events: std::sync::Mutex::default(),
            conn,
            events,
        }
    }

    /// What stands regardless, taken out to be run.
    fn take_regardless(&mut self) -> Regardless {
        Regardless {
            statements: std::mem::take(
                self.regardless.get_mut().unwrap_or_else(|e| e.into_inner()),
            ),
            events: std::mem::take(
                self.regardless_events
                    .get_mut()
                    .unwrap_or_else(|e| e.into_inner()),
            ),
            conn: self.conn.clone(),
            bus: self.events.clone(),
        }
    }
}

/// The writes and events of a request that stand whatever its outcome.
struct Regardless {
    statements: Vec<Statement>,
    events: Vec<Event>,
    conn: DatabaseConnection,
    bus: Bus,
}

impl Regardless {
    fn is_empty(&self) -> bool {
        self.statements.is_empty() && self.events.is_empty()
    }

    async fn run(self) {
        for statement in self.statements {
            if let Err(err) = self.conn.execute_raw(statement).await {
                tracing::error!(error = %err, "could not record a failed request's security event");
            }
        }
        for event in self.events {
            if let Err(err) = publish_now(&self.conn, &self.bus, event).await {
                tracing::error!(error = %err, "could not announce a failed request's security event");
            }
        }
    }
}

/// Publishes `event` outside any transaction: counted at once on this replica, and sent to
/// every replica.
async fn publish_now(conn: &DatabaseConnection, bus: &Bus, event: Event) -> Result<(), DbErr> {
    if event.changes_account() {
        bus.account_changed();
    }
    if bus.travels_with_commit() {
        bus.notify(conn, &event).await
    } else {
        bus.send(event);
        Ok(())
    }
}

impl std::fmt::Debug for RequestWrites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestWrites")
            .field("begun", &self.tx.initialized())
            .finish_non_exhaustive()
    }
}

impl Drop for RequestWrites {
    fn drop(&mut self) {
        // A request cut short (a timeout) still keeps these.
        let regardless = self.take_regardless();
        if regardless.is_empty() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(regardless.run());
        }
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Ends a mutation request's transaction.
pub struct RequestEnd(Arc<RequestWrites>);

impl RequestEnd {
    /// Commits what the request wrote if it `succeeded`, rolls it back otherwise, then runs
    /// the writes that stand regardless.
    pub async fn end(self, succeeded: bool) -> Result<(), DbErr> {
        // Every other handle of the request is gone once it has been executed.
        let Some(mut writes) = Arc::into_inner(self.0) else {
            tracing::error!("a mutation request's transaction outlived its execution");
            return Err(DbErr::Custom(
                "the request's transaction is still in use".into(),
            ));
        };
        let ended = match writes.tx.take() {
            Some(writer) if succeeded => writer.commit().await,
            Some(writer) => writer.rollback().await,
            None => Ok(()),
        };
        writes.take_regardless().run().await;
        ended
    }
}

/// A write transaction: its own, or a mutation request's.
pub enum WriteTx<'r> {
    Own(Writer),
    Request(&'r Writer),
}

impl WriteTx<'_> {
    fn writer(&self) -> &Writer {
        match self {
            WriteTx::Own(writer) => writer,
            WriteTx::Request(writer) => writer,
        }
    }

    /// Publishes `event` to every replica if, and once, the transaction commits.
    pub async fn publish(&mut self, event: Event) -> Result<(), DbErr> {
        self.writer().publish(event).await
    }

    /// Runs `statement`, a write that returns at most one row, and publishes `event` if it
    /// returned one: on PostgreSQL in the same statement, one round trip fewer while the rows
    /// written stay locked.
    pub async fn write_and_publish(
        &mut self,
        statement: &impl StatementBuilder,
        event: Event,
    ) -> Result<Option<QueryResult>, DbErr> {
        self.writer().write_and_publish(statement, event).await
    }

    /// Counts up the card epoch and announces with the commit that the card of user `user`
    /// changed (see `store::cards`).
    pub async fn card_changed(&mut self, user: i64) -> Result<(), DbErr> {
        let epoch = crate::store::cards::count_change(&**self).await?;
        self.publish(Event::Card {
            user_id: user,
            epoch,
        })
        .await
    }

    /// Notes that this transaction wrote the link of `(user, profile)`: its row stays locked by
    /// it until it ends.
    pub fn wrote_link(&self, user: i64, profile: i64) {
        lock(&self.writer().links).insert((user, profile));
    }

    /// Whether this transaction wrote the link of `(user, profile)`, so no other writer can
    /// change it before this transaction ends.
    pub fn holds_link(&self, user: i64, profile: i64) -> bool {
        lock(&self.writer().links).contains(&(user, profile))
    }

    /// Sets a savepoint on PostgreSQL, to which `roll_back_to_savepoint` returns: undoing the
    /// statements in between and releasing the row locks they took. SQLite's writers run one
    /// at a time and need none.
    pub async fn savepoint(&self) -> Result<(), DbErr> {
        self.on_postgres("SAVEPOINT fallback").await
    }

    pub async fn roll_back_to_savepoint(&self) -> Result<(), DbErr> {
        self.on_postgres("ROLLBACK TO SAVEPOINT fallback").await
    }

    async fn on_postgres(&self, sql: &str) -> Result<(), DbErr> {
        if self.get_database_backend() == DatabaseBackend::Postgres {
            self.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    /// Commits its own transaction; a mutation request's commits when the request ends.
    pub async fn commit(self) -> Result<(), DbErr> {
        match self {
            WriteTx::Own(writer) => writer.commit().await,
            WriteTx::Request(_) => Ok(()),
        }
    }
}

impl Deref for WriteTx<'_> {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        self.writer()
    }
}

/// An open write transaction; rolled back when dropped without `commit`, before the next
/// writer of SQLite may start.
pub struct Writer {
    /// Taken by `commit`, or by the rollback.
    tx: Option<DatabaseTransaction>,
    events: Bus,
    /// Events to deliver after the commit (SQLite).
    pending: std::sync::Mutex<Vec<Event>>,
    /// Whether an account changed, to be counted at the commit.
    account_changed: AtomicBool,
    /// SQLite's writer lock, held until the transaction ends.
    guard: Option<OwnedMutexGuard<()>>,
    /// The links it wrote, by (user, profile).
    links: std::sync::Mutex<HashSet<(i64, i64)>>,
    /// Its turn among the writers of a link, held until the transaction ends.
    turn: Option<QueueTurn<(i64, i64)>>,
}

impl Writer {
    async fn publish(&self, event: Event) -> Result<(), DbErr> {
        if event.changes_account() {
            self.account_changed.store(true, Ordering::Relaxed);
        }
        if self.events.travels_with_commit() {
            self.events.notify(&**self, &event).await
        } else {
            lock(&self.pending).push(event);
            Ok(())
        }
    }

    async fn write_and_publish(
        &self,
        statement: &impl StatementBuilder,
        event: Event,
    ) -> Result<Option<QueryResult>, DbErr> {
        let statement = self.get_database_backend().build(statement);
        if self.events.travels_with_commit() {
            let statement = self.events.notify_with(statement, &event)?;
            return self.query_one_raw(statement).await;
        }
        let row = self.query_one_raw(statement).await?;
        if row.is_some() {
            lock(&self.pending).push(event);
        }
        Ok(row)
    }

    async fn commit(mut self) -> Result<(), DbErr> {
        if let Some(tx) = self.tx.take() {
            tx.commit().await?;
        }
        if *self.account_changed.get_mut() {
            self.events.account_changed();
        }
        for event in std::mem::take(&mut *lock(&self.pending)) {
            self.events.send(event);
        }
        Ok(())
    }

    async fn rollback(mut self) -> Result<(), DbErr> {
        match self.tx.take() {
            Some(tx) => tx.rollback().await,
            None => Ok(()),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let Some(tx) = self.tx.take() else {
            return;
        };
        // A dropped transaction would only be rolled back when its connection is next used:
        // roll it back now, and let the next SQLite writer in only then.
        let (guard, turn) = (self.guard.take(), self.turn.take());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(err) = tx.rollback().await {
                    tracing::warn!(error = %err, "could not roll back a transaction");
                }
                drop((guard, turn));
            });
        }
    }
}

impl Deref for Writer {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        // Only `commit`, `rollback` and `drop` take the transaction, and all consume the
        // `Writer`.
        self.tx.as_ref().expect("a write transaction in progress")
    }
}
