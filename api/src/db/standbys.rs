//! PostgreSQL standbys that serve query operations (`DATABASE_READ_URL`).
//!
//! Each standby is watched by a task of its own: every `WATCH_EVERY` it reads how far the
//! standby has replayed the primary's WAL, while the primary's position is sampled at the same
//! pace. A standby's lag is how long ago the primary first passed the position the standby has
//! replayed (0 when it has replayed all the primary had); one lagging more than
//! `READ_REPLICA_MAX_LAG`, or that does not answer, is not used until it catches up or answers
//! again. A read that carries a consistency token (the WAL position of a write the client made)
//! goes to a standby that has replayed past it, waiting up to `READ_CONSISTENCY_WAIT` for one,
//! and otherwise to the primary. Nothing a standby does shows to a client: when none is usable,
//! the primary serves.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, Statement};

/// How often the standbys and the primary's position are read.
const WATCH_EVERY: Duration = Duration::from_millis(100);
/// How long the primary's positions are remembered, to tell how far behind a standby is.
const HISTORY: Duration = Duration::from_secs(60);
/// How often a read with a token asks a standby again how far it has replayed.
const POLL_EVERY: Duration = Duration::from_millis(5);
/// How long a standby's statement may take before it counts as not answering.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// A position in the primary's WAL (`pg_lsn`), as a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lsn(pub u64);

impl Lsn {
    /// Parses PostgreSQL's text form, `16/B374D848`.
    pub fn parse(text: &str) -> Option<Lsn> {
        let (high, low) = text.trim().split_once('/')?;
        let high = u64::from_str_radix(high, 16).ok()?;
        let low = u64::from_str_radix(low, 16).ok()?;
        (high <= u64::from(u32::MAX) && low <= u64::from(u32::MAX)).then_some(Lsn(high << 32 | low))
    }
}

impl std::fmt::Display for Lsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & u64::from(u32::MAX))
    }
}

/// What the watcher last saw of a standby.
#[derive(Clone, Copy, Debug)]
struct Seen {
    /// Whether it answered, as a standby, the last time it was asked.
    answers: bool,
    replayed: Lsn,
    lag: Duration,
}

/// One standby.
#[derive(Debug)]
pub struct Standby {
    /// Its address without credentials, for logs, metrics and `/health`.
    pub name: String,
    pub conn: DatabaseConnection,
    seen: Mutex<Seen>,
}

impl Standby {
    fn seen(&self) -> Seen {
        *self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether it may serve reads now.
    fn usable(&self, max_lag: Duration) -> bool {
        let seen = self.seen();
        seen.answers && seen.lag <= max_lag
    }

    /// Notes that it failed a read: not used until its watcher finds it answering again.
    pub fn failed(&self) {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.answers = false;
    }

    /// How far it has replayed, asked now.
    async fn replayed(&self) -> Option<Lsn> {
        let asked = self.conn.query_one_raw(Statement::from_string(
            self.conn.get_database_backend(),
            "SELECT pg_last_wal_replay_lsn()::text",
        ));
        let row = tokio::time::timeout(ANSWER_WITHIN, asked)
            .await
            .ok()?
            .ok()??;
        Lsn::parse(&row.try_get_by_index::<Option<String>>(0).ok()??)
    }
}

/// What `/health` and `/metrics` say of a standby.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StandbyState {
    pub name: String,
    pub in_use: bool,
    pub lag_seconds: f64,
}

/// The standbys, and how reads are sent to them.
#[derive(Debug)]
pub struct Standbys {
    list: Vec<Arc<Standby>>,
    max_lag: Duration,
    consistency_wait: Duration,
    read_after_write: Duration,
    next: AtomicUsize,
    /// When each writer (by the uniquifier its tokens carry) last wrote through this replica.
    writers: Mutex<HashMap<String, Instant>>,
}

/// Where a read goes.
pub enum ReadTarget {
    Primary(Fallback),
    Standby(Arc<Standby>),
}

/// Why a read went to the primary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// The reader wrote within `READ_AFTER_WRITE_WINDOW`.
    RecentWriter,
    /// No standby replayed the reader's consistency token within `READ_CONSISTENCY_WAIT`.
    NotReplayed,
    /// No standby is usable (behind, or not answering).
    NoneUsable,
    /// The standby chosen failed the read, which then ran again on the primary.
    StandbyFailed,
}

impl Fallback {
    pub fn label(self) -> &'static str {
        match self {
            Fallback::RecentWriter => "recent_writer",
            Fallback::NotReplayed => "not_replayed",
            Fallback::NoneUsable => "none_usable",
            Fallback::StandbyFailed => "standby_failed",
        }
    }
}

/// The settings of the standbys.
pub struct StandbySettings<'a> {
    pub urls: &'a [String],
    pub max_connections: u32,
    pub max_lag: Duration,
    pub consistency_wait: Duration,
    pub read_after_write: Duration,
}

impl Standbys {
    /// Connects to the standbys (lazily: one that does not answer yet is retried by its
    /// watcher) and starts watching them against `primary`.
    pub async fn start(
        settings: StandbySettings<'_>,
        primary: DatabaseConnection,
    ) -> Result<Arc<Standbys>, DbErr> {
        let mut list = Vec::new();
        // An empty entry (`DATABASE_READ_URL=`, or a trailing comma) names no standby.
        for url in settings
            .urls
            .iter()
            .map(|url| url.trim())
            .filter(|url| !url.is_empty())
        {
            let mut options = ConnectOptions::new(url);
            options
                .max_connections(settings.max_connections)
                .connect_lazy(true)
                .acquire_timeout(ANSWER_WITHIN)
                .sqlx_logging(false)
                .map_sqlx_postgres_opts(|opts| {
                    opts.options([("plan_cache_mode", "force_generic_plan")])
                });
            list.push(Arc::new(Standby {
                name: redact(url),
                conn: Database::connect(options).await?,
                seen: Mutex::new(Seen {
                    answers: false,
                    replayed: Lsn(0),
                    lag: Duration::MAX,
                }),
            }));
        }
        let standbys = Arc::new(Standbys {
            list,
            max_lag: settings.max_lag,
            consistency_wait: settings.consistency_wait,
            read_after_write: settings.read_after_write,
            next: AtomicUsize::new(0),
            writers: Mutex::default(),
        });
        tokio::spawn(watch(Arc::downgrade(&standbys), primary));
        Ok(standbys)
    }

    /// Notes that the writer whose tokens carry `uniquifier` just wrote.
    pub fn wrote(&self, uniquifier: &str) {
        let mut writers = self
            .writers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        writers.retain(|_, at| now.duration_since(*at) < self.read_after_write);
        writers.insert(uniquifier.to_owned(), now);
    }

    fn wrote_recently(&self, uniquifier: &str) -> bool {
        let writers = self
            .writers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        writers
            .get(uniquifier)
            .is_some_and(|at| at.elapsed() < self.read_after_write)
    }

    /// Where a read goes: for a reader whose tokens carry `reader` (if any), which sent
    /// `token` (if any).
    pub async fn target(&self, reader: Option<&str>, token: Option<Lsn>) -> ReadTarget {
        if token.is_none() && reader.is_some_and(|reader| self.wrote_recently(reader)) {
            return ReadTarget::Primary(Fallback::RecentWriter);
        }
        let usable: Vec<&Arc<Standby>> =
            self.in_turn().filter(|s| s.usable(self.max_lag)).collect();
        if usable.is_empty() {
            return ReadTarget::Primary(Fallback::NoneUsable);
        }
        let Some(token) = token else {
            return ReadTarget::Standby(usable[0].clone());
        };
        if let Some(ready) = usable.iter().find(|s| s.seen().replayed >= token) {
            return ReadTarget::Standby((*ready).clone());
        }
        let deadline = Instant::now() + self.consistency_wait;
        loop {
            for standby in &usable {
                if standby
                    .replayed()
                    .await
                    .is_some_and(|replayed| replayed >= token)
                {
                    return ReadTarget::Standby((*standby).clone());
                }
            }
            if Instant::now() + POLL_EVERY > deadline {
                return ReadTarget::Primary(Fallback::NotReplayed);
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// The standbys, starting with the next one's turn.
    fn in_turn(&self) -> impl Iterator<Item = &Arc<Standby>> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.list.len();
        (0..count).map(move |i| &self.list[(start + i) % count.max(1)])
    }

    /// Each standby's state.
    pub fn states(&self) -> Vec<StandbyState> {
        self.list
            .iter()
            .map(|standby| {
                let seen = standby.seen();
                StandbyState {
                    name: standby.name.clone(),
                    in_use: standby.usable(self.max_lag),
                    lag_seconds: if seen.answers {
                        seen.lag.as_secs_f64()
                    } else {
                        f64::INFINITY
                    },
                }
            })
            .collect()
    }
}

/// Watches the standbys as long as they are in use.
async fn watch(standbys: std::sync::Weak<Standbys>, primary: DatabaseConnection) {
    let mut history: VecDeque<(Instant, Lsn)> = VecDeque::new();
    let mut ticks = tokio::time::interval(WATCH_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(standbys) = standbys.upgrade() else {
            return;
        };
        let now = Instant::now();
        if let Some(position) = primary_position(&primary).await
            && history.back().is_none_or(|(_, last)| *last != position)
        {
            history.push_back((now, position));
        }
        while history.len() > 1 && history.front().is_some_and(|(at, _)| now - *at > HISTORY) {
            history.pop_front();
        }
        for standby in &standbys.list {
            let seen = match standby.replayed().await {
                Some(replayed) => Seen {
                    answers: true,
                    replayed,
                    lag: lag(&history, replayed, now),
                },
                None => Seen {
                    answers: false,
                    replayed: Lsn(0),
                    lag: Duration::MAX,
                },
            };
            let before = std::mem::replace(
                &mut *standby
                    .seen
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
                seen,
            );
            if before.answers != seen.answers {
                tracing::warn!(standby = %standby.name, answers = seen.answers, "a standby changed state");
            }
        }
    }
}

/// How long ago the primary first passed `replayed`: 0 when it has not.
fn lag(history: &VecDeque<(Instant, Lsn)>, replayed: Lsn, now: Instant) -> Duration {
    match history.iter().find(|(_, position)| *position > replayed) {
        Some((at, _)) => now.duration_since(*at),
        None => Duration::ZERO,
    }
}

async fn primary_position(primary: &DatabaseConnection) -> Option<Lsn> {
    let asked = primary.query_one_raw(Statement::from_string(
        primary.get_database_backend(),
        "SELECT pg_current_wal_lsn()::text",
    ));
    let row = tokio::time::timeout(ANSWER_WITHIN, asked)
        .await
        .ok()?
        .ok()??;
    Lsn::parse(&row.try_get_by_index::<String>(0).ok()?)
}

/// The WAL position of the primary now: after a commit, past it.
pub async fn position_after_commit(primary: &DatabaseConnection) -> Result<Option<Lsn>, DbErr> {
    let row = primary
        .query_one_raw(Statement::from_string(
            primary.get_database_backend(),
            "SELECT pg_current_wal_lsn()::text",
        ))
        .await?;
    Ok(row
        .and_then(|row| row.try_get_by_index::<String>(0).ok())
        .and_then(|text| Lsn::parse(&text)))
}

/// A database address without its user and password: `postgres://host:port/db`.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            let host = host.split_once('?').map_or(host, |(host, _)| host);
            format!("{scheme}://{host}")
        }
        None => "<an address that does not parse>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::Lsn;

    #[test]
    fn wal_positions_read_and_write_as_postgresql_does() {
        assert_eq!(Lsn::parse("16/B374D848"), Some(Lsn(0x16_B374_D848)));
        assert_eq!(Lsn(0x16_B374_D848).to_string(), "16/B374D848");
        assert_eq!(Lsn::parse("0/0"), Some(Lsn(0)));
        for bad in ["", "16", "x/1", "1/100000000", "-1/0"] {
            assert_eq!(Lsn::parse(bad), None, "{bad}");
        }
    }
}
