//! The database handle: connecting to SQLite or PostgreSQL, migrations, write transactions,
//! and counting the SQL statements each request runs.

mod queues;
pub mod standbys;
mod write;

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseExecutor, DbErr, TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};
use tokio::sync::Mutex;

pub use write::{RequestEnd, WriteTx};

use crate::{
    events::{Bus, Event},
    store::cards::Cards,
};
use queues::RowQueues;
use standbys::{Standby, StandbySettings, Standbys};
use write::RequestWrites;

/// How long a SQLite writer waits for the file lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// A pooled connection idle this long is pinged before it is handed out.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(10);
/// How long a request waits for a pooled connection before the database counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The PostgreSQL advisory lock key replicas take while they migrate ("roster" in ASCII).
const MIGRATION_LOCK: i64 = 0x726f_7374_6572;

tokio::task_local! {
    static SQL_STATEMENTS: Arc<AtomicU32>;
}

/// Counts the SQL statements run by the futures it scopes (a request and its batch loads).
#[derive(Clone, Default, Debug)]
pub struct StatementCounter(Arc<AtomicU32>);

impl StatementCounter {
    /// Runs `fut` so that every statement it executes is counted here.
    pub fn scope<F: Future>(&self, fut: F) -> impl Future<Output = F::Output> + use<F> {
        SQL_STATEMENTS.scope(self.0.clone(), fut)
    }

    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The shared database handle. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    conn: DatabaseConnection,
    events: Bus,
    /// SQLite allows one writer at a time; writers queue here instead of racing for the file
    /// lock, so a deferred transaction never fails with "database is locked" on upgrade.
    sqlite_writer: Option<Arc<Mutex<()>>>,
    /// The writes of the mutation request this handle serves, if it serves one.
    request: Option<Arc<RequestWrites>>,
    /// Users' cards, kept for nested lists.
    cards: Arc<Cards>,
    /// The writers of each link, by (user, profile), on PostgreSQL.
    link_writers: Option<Arc<RowQueues<(i64, i64)>>>,
    /// The standbys that serve query operations (`DATABASE_READ_URL`).
    standbys: Option<Arc<Standbys>>,
    /// The standby this handle's request reads from, if one serves it.
    read: Option<Arc<Standby>>,
}

impl Db {
    /// Connects with a pool of `max_connections`, keeping up to `user_cards` cards of users.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        user_cards: usize,
    ) -> Result<Self, DbErr> {
        let mut options = ConnectOptions::new(url);
        options
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // A ping per checkout would double the round trips of a request; connections that
            // sat idle long enough to have been dropped are still checked.
            .test_before_acquire_if_idle_for(IDLE_BEFORE_PING)
            .sqlx_logging(false)
            // Every statement is prepared once per connection and its parameters are keys,
            // pages sizes and filters: one plan serves them all. PostgreSQL would otherwise
            // plan again on every execution whose parameters include an array of keys (its
            // custom plan looks cheaper), which cost more than running the statement.
            .map_sqlx_postgres_opts(|opts| {
                opts.options([("plan_cache_mode", "force_generic_plan")])
            })
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true)
            });
        let mut conn = Database::connect(options).await?;
        conn.set_metric_callback(|_| {
            let _ = SQL_STATEMENTS.try_with(|count| count.fetch_add(1, Ordering::Relaxed));
        });
        let sqlite_writer = (conn.get_database_backend() == DatabaseBackend::Sqlite)
            .then(|| Arc::new(Mutex::new(())));
        let events = Bus::start(conn.get_database_backend(), url).await;
        let link_writers =
            (conn.get_database_backend() == DatabaseBackend::Postgres).then(RowQueues::new);
        let cards = Arc::new(Cards::new(user_cards, &events));
        if cards.users.is_some() {
            tokio::spawn(keep_cards(cards.clone(), events.subscribe()));
        }
        Ok(Db {
            conn,
            events,
            sqlite_writer,
            request: None,
            cards,
            link_writers,
            standbys: None,
            read: None,
        })
    }

    /// Serves query operations from the standbys of `settings` (PostgreSQL only).
    pub async fn with_standbys(mut self, settings: StandbySettings<'_>) -> Result<Self, DbErr> {
        let named = settings.urls.iter().any(|url| !url.trim().is_empty());
        if self.backend() == DatabaseBackend::Postgres && named {
            self.standbys = Some(Standbys::start(settings, self.conn.clone()).await?);
        }
        Ok(self)
    }

    /// The standbys, when query operations may be served by them.
    pub fn standbys(&self) -> Option<&Arc<Standbys>> {
        self.standbys.as_ref()
    }

    /// The standby this handle reads from, if one.
    pub fn standby(&self) -> Option<&Arc<Standby>> {
        self.read.as_ref()
    }

    /// A handle whose reads go to `standby` (a query operation's).
    pub fn reading_from(&self, standby: Arc<Standby>) -> Db {
        Db {
            read: Some(standby),
            ..self.clone()
        }
    }

    /// Applies pending migrations. On PostgreSQL they run in one transaction holding an
    /// advisory lock, so replicas starting together take turns: the first applies what is
    /// pending, the others wait and find nothing left to do.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        if self.backend() != DatabaseBackend::Postgres {
            return Migrator::up(&self.conn, None).await;
        }
        let tx = self.conn.begin().await?;
        tx.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
            .await?;
        Migrator::up(&tx, None).await?;
        tx.commit().await
    }

    /// Where statements go: a mutation request's transaction once it has begun, so the
    /// request reads what it wrote; the standby chosen for a query operation; otherwise the
    /// primary's pool.
    pub fn conn(&self) -> DatabaseExecutor<'_> {
        match self.request.as_deref().and_then(|request| request.tx.get()) {
            Some(writer) => DatabaseExecutor::Transaction(writer),
            None => match &self.read {
                Some(standby) => DatabaseExecutor::Connection(&standby.conn),
                None => DatabaseExecutor::Connection(&self.conn),
            },
        }
    }

    /// The primary's pool, outside any request's transaction: for reads after a statement
    /// failed within it, which PostgreSQL refuses until the transaction ends, and for what
    /// must read the primary (the caller's account, writes that stand regardless).
    pub fn pool(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// The cards kept for nested lists.
    pub fn cards(&self) -> &Cards {
        &self.cards
    }

    /// The events of every replica.
    pub fn events(&self) -> &Bus {
        &self.events
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.conn.get_database_backend()
    }

    /// Pooled connections in use and idle.
    pub fn pool_state(&self) -> (i64, i64) {
        let (size, idle) = match self.backend() {
            DatabaseBackend::Postgres => {
                let pool = self.conn.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            _ => {
                let pool = self.conn.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
        };
        let idle = i64::try_from(idle).unwrap_or(i64::MAX);
        (i64::from(size) - idle, idle)
    }

    pub async fn ping(&self) -> Result<(), DbErr> {
        self.conn.ping().await
    }
}

/// Applies the changes of cards announced by every replica to this replica's cards, for as
/// long as it runs.
async fn keep_cards(cards: Arc<Cards>, mut events: tokio::sync::broadcast::Receiver<Event>) {
    use tokio::sync::broadcast::error::RecvError;
    let Some(users) = &cards.users else { return };
    loop {
        match events.recv().await {
            Ok(Event::Card { user_id, epoch }) => users.changed(user_id, epoch),
            Ok(Event::Missed) | Err(RecvError::Lagged(_)) => users.lost(),
            Ok(_) => {}
            Err(RecvError::Closed) => return,
        }
    }
}
