//! What every request shares: the database, the schema, the caches and the configuration.

use std::sync::Arc;

use crate::{
    auth::Accounts,
    config::Config,
    db::Db,
    exec::{Documents, Executions, Persisted, Types},
    graphql::{RosterSchema, Validator},
    mail::Mail,
    metrics::Metrics,
};

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    /// Admission of GraphQL executions (`MAX_CONCURRENT_REQUESTS`).
    pub executions: Executions,
    /// Documents parsed and validated lately.
    pub documents: Documents,
    /// Documents requests may name instead of sending them.
    pub persisted: Arc<Persisted>,
    /// Open WebSocket connections by user, on this replica.
    pub connections: Arc<std::sync::Mutex<std::collections::HashMap<i64, usize>>>,
    /// Becomes true when the server is shutting down: WebSocket connections close then.
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
    pub accounts: Accounts,
    pub metrics: Metrics,
    /// Messages and where they go.
    pub mail: Mail,
    /// The schema that runs operations.
    pub schema: RosterSchema,
    /// The schema that validates documents.
    pub validator: Validator,
    /// The schema's types, as execution needs them.
    pub types: Arc<Types>,
    pub config: Arc<Config>,
}
