//! Events of the server, delivered to every replica: changes of membership and invitations,
//! for subscribers, and changes of accounts, which close the subscriptions of revoked tokens.
//!
//! On PostgreSQL an event is a `NOTIFY` sent inside the transaction of its change, so it is
//! delivered when, and only if, the change commits, in commit order; every replica `LISTEN`s
//! and fans the events out to its own subscribers. On SQLite (one process) an in-process
//! channel does the same after the commit.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, sqlx::postgres::PgListener};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, oneshot};

/// The `LISTEN`/`NOTIFY` channel.
const CHANNEL: &str = "roster_events";
/// Events a replica buffers for its subscribers; one that falls further behind is dropped.
const BUFFER: usize = 1024;

/// What happened to a user's link to a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    Added,
    Removed,
    RoleChanged,
}

/// A change of who manages a profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub change: Change,
    pub profile_id: i64,
    pub user_id: i64,
    /// `OWNER` or `MANAGER`; none when the user was removed.
    pub role: Option<entity::ProfileRole>,
    pub at: DateTime<Utc>,
}

impl Membership {
    /// The event of a link `change`d now.
    pub fn now(
        change: Change,
        profile_id: i64,
        user_id: i64,
        role: Option<entity::ProfileRole>,
    ) -> Event {
        Event::Membership(Membership {
            change,
            profile_id,
            user_id,
            role,
            at: crate::store::now(),
        })
    }
}

/// What happened to an invitation to manage a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvitationChange {
    /// Sent, or sent again (renewed).
    Sent,
    Accepted,
    Declined,
    Revoked,
}

/// A change of an invitation to manage a profile, for its invitee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub change: InvitationChange,
    pub invitation_id: i64,
    pub profile_id: i64,
    /// `auth::email::digest` of the invited address: no address travels in clear.
    pub invitee: String,
    pub at: DateTime<Utc>,
}

/// An event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    Membership(Membership),
    Invitation(Invitation),
    /// The account changed in a way that may revoke its tokens or rights.
    Account {
        user_id: i64,
    },
    /// The card of a user changed (see `store::cards`): the change of card epoch `epoch`.
    Card {
        user_id: i64,
        epoch: i64,
    },
    /// A message was written to the mail outbox: senders look at it now rather than at their
    /// next poll.
    Mail,
    /// This replica lost its listening connection for a while: events of that time are lost
    /// to it, so its subscriptions end and their clients subscribe again and catch up.
    Missed,
}

impl Event {
    /// The event of `invitation` `change`d now.
    pub fn invitation(
        change: InvitationChange,
        invitation: &entity::profile_invitation::Model,
    ) -> Event {
        Event::Invitation(Invitation {
            change,
            invitation_id: invitation.id,
            profile_id: invitation.profile_id,
            invitee: invitation.invitee.clone(),
            at: crate::store::now(),
        })
    }

    /// Whether the event changes what is known of an account: its rights, or its user's row
    /// (which callers looked up lately hold).
    pub fn changes_account(&self) -> bool {
        matches!(self, Event::Account { .. } | Event::Card { .. })
    }
}

/// The events of this replica. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Bus {
    sender: broadcast::Sender<Event>,
    backend: DatabaseBackend,
    accounts: Arc<AccountChanges>,
}

/// What this replica knows of account changes: how many it has seen, and whether it can see
/// them at all (on PostgreSQL, only while it listens). Caches of accounts check against it.
#[derive(Debug, Default)]
struct AccountChanges {
    seen: AtomicU64,
    listening: AtomicBool,
}

impl AccountChanges {
    fn count(&self) {
        self.seen.fetch_add(1, Ordering::AcqRel);
    }
}

impl Bus {
    /// The bus of a server on `backend`; on PostgreSQL, listens at `url` for every replica's
    /// events, reconnecting by itself, and returns once it listens (or after 5 s, the listener
    /// still trying).
    pub async fn start(backend: DatabaseBackend, url: &str) -> Bus {
        let (sender, _) = broadcast::channel(BUFFER);
        let accounts = Arc::new(AccountChanges::default());
        if backend == DatabaseBackend::Postgres {
            let (ready, listening) = oneshot::channel();
            tokio::spawn(listen(
                url.to_owned(),
                sender.clone(),
                accounts.clone(),
                ready,
            ));
            let _ = tokio::time::timeout(Duration::from_secs(5), listening).await;
        } else {
            accounts.listening.store(true, Ordering::Release);
        }
        Bus {
            sender,
            backend,
            accounts,
        }
    }

    /// How many account changes this replica has seen, or `None` while it may miss some (on
    /// PostgreSQL, while it does not listen). What is known of an account under one count is
    /// current for as long as the count stays the same.
    pub fn account_changes(&self) -> Option<u64> {
        self.accounts
            .listening
            .load(Ordering::Acquire)
            .then(|| self.accounts.seen.load(Ordering::Acquire))
    }

    /// Whether this replica hears every replica's events now (on PostgreSQL, while it listens).
    pub fn listening(&self) -> bool {
        self.accounts.listening.load(Ordering::Acquire)
    }

    /// Counts an account change this replica committed, at once (its own `NOTIFY` comes back
    /// later).
    pub fn account_changed(&self) {
        self.accounts.count();
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    /// Whether events travel with their transaction (`NOTIFY`), rather than after it.
    pub fn travels_with_commit(&self) -> bool {
        self.backend == DatabaseBackend::Postgres
    }

    /// Sends `event` with the commit of the transaction `conn` (PostgreSQL).
    pub async fn notify(&self, conn: &impl ConnectionTrait, event: &Event) -> Result<(), DbErr> {
        let payload = payload(event)?;
        conn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), payload.into()],
        ))
        .await?;
        Ok(())
    }

    /// `statement`, a write that returns rows, made to also send `event` with the commit for
    /// each row it returns (PostgreSQL): `WITH written AS (…) SELECT written.*, pg_notify(…)`.
    pub fn notify_with(&self, statement: Statement, event: &Event) -> Result<Statement, DbErr> {
        let payload = payload(event)?;
        let mut values = statement.values.map(|values| values.0).unwrap_or_default();
        let (channel, payload_at) = (values.len() + 1, values.len() + 2);
        values.push(CHANNEL.into());
        values.push(payload.into());
        Ok(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            format!(
                "WITH written AS ({}) SELECT written.*, pg_notify(${channel}, ${payload_at}) \
                 FROM written",
                statement.sql
            ),
            values,
        ))
    }

    /// Delivers `event` to this replica's subscribers now (SQLite, after the commit).
    pub fn send(&self, event: Event) {
        let _ = self.sender.send(event);
    }
}

/// The `NOTIFY` payload of `event`.
fn payload(event: &Event) -> Result<String, DbErr> {
    serde_json::to_string(event).map_err(|err| DbErr::Custom(err.to_string()))
}

/// Receives the events of every replica, forever: a lost connection is made again.
async fn listen(
    url: String,
    sender: broadcast::Sender<Event>,
    accounts: Arc<AccountChanges>,
    ready: oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut lost = false;
    loop {
        let mut listener = match PgListener::connect(&url).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!(error = %err, "cannot connect to listen for events; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(err) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %err, "cannot listen for events; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        // Changes made while not listening are unknown: count them as one.
        accounts.count();
        accounts.listening.store(true, Ordering::Release);
        if let Some(ready) = ready.take() {
            let _ = ready.send(());
        }
        if lost {
            tracing::info!("listening for events again");
            let _ = sender.send(Event::Missed);
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    match serde_json::from_str::<Event>(notification.payload()) {
                        Ok(event) => {
                            if event.changes_account() {
                                accounts.count();
                            }
                            let _ = sender.send(event);
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "ignoring an event that does not parse")
                        }
                    }
                }
                Ok(None) | Err(_) => {
                    tracing::warn!("lost the connection listening for events; reconnecting");
                    accounts.listening.store(false, Ordering::Release);
                    lost = true;
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
