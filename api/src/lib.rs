//! Roster: a GraphQL API server for users and the profiles they manage.

pub mod auth;
pub mod cards;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod exec;
pub mod graphql;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod seed;
mod state;
pub mod store;
pub mod text;

use std::{future::Future, sync::Arc};

use axum::Router;
use tokio::net::TcpListener;

pub use config::Config;
pub use state::AppState;

/// Connects to the database, applies pending migrations, and builds the state of the server.
pub async fn prepare(config: Config) -> anyhow::Result<AppState> {
    let db = db::Db::connect(
        &config.database_url,
        config.database_max_connections,
        config.user_card_cache,
    )
    .await?
    .with_standbys(db::standbys::StandbySettings {
        urls: &config.database_read_url,
        max_connections: config.database_max_connections,
        max_lag: config.read_replica_max_lag,
        consistency_wait: config.read_consistency_wait,
        read_after_write: config.read_after_write_window,
    })
    .await?;
    db.migrate().await?;
    let config = Arc::new(config);
    let mail = mail::Mail::of(&config)?;
    let accounts = auth::Accounts::new(db.clone(), config.clone(), mail.clone())
        .await
        .map_err(|err| anyhow::anyhow!("could not load the token signing key: {err}"))?;
    let metrics = metrics::Metrics::default();
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let executions = config.max_concurrent_requests.unwrap_or(16 * cores);
    let types = exec::Types::of_schema()
        .await
        .map_err(|err| anyhow::anyhow!("could not read the schema's types: {err}"))?;
    let validator = graphql::validator(&config);
    let persisted = match &config.persisted_documents {
        Some(path) => {
            let only = config.persisted_documents_only;
            let persisted =
                exec::Persisted::load(path, only, config.apq_cache_bytes, &validator, &types)
                    .await?;
            tracing::info!(
                documents = persisted.trusted(),
                only,
                "trusted documents loaded"
            );
            persisted
        }
        None if config.persisted_documents_only => {
            anyhow::bail!(
                "PERSISTED_DOCUMENTS_ONLY is on, but PERSISTED_DOCUMENTS names no manifest"
            )
        }
        None => exec::Persisted::automatic(config.apq_cache_bytes),
    };
    Ok(AppState {
        executions: exec::Executions::new(executions),
        documents: exec::Documents::default(),
        persisted: Arc::new(persisted),
        validator,
        types: Arc::new(types),
        connections: Arc::default(),
        stopping: Arc::new(tokio::sync::watch::Sender::new(false)),
        schema: graphql::schema(
            Some((db.clone(), accounts.clone(), metrics.clone())),
            &config,
        ),
        db,
        accounts,
        metrics,
        mail,
        config,
    })
}

/// The router of the whole API.
pub fn app(state: AppState) -> Router {
    http::router(state)
}

/// Serves the API on `listener` until `shutdown` completes, then stops accepting connections,
/// finishes the requests in flight and closes WebSocket connections as "going away" (so clients
/// reconnect to another replica), for at most `SHUTDOWN_TIMEOUT`.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = state.config.shutdown_timeout;
    let limits = &state.config.limits;
    let connections = http::server::Connections {
        max_open: limits.max_connections,
        header_read_timeout: limits.header_read_timeout,
    };
    // The outbox is delivered while the server runs, by every replica.
    tokio::spawn(mail::sender::run(
        state.db.clone(),
        state.accounts.clone(),
        state.metrics.clone(),
        state.stopping.subscribe(),
    ));
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let sockets = state.stopping.clone();
    let upgraded = state.connections.clone();
    let signal = async move {
        shutdown.await;
        sockets.send_replace(true);
        let _ = stopping.send(());
    };
    let server = async move {
        http::server::serve(listener, app(state), connections, signal).await;
        // Upgraded connections outlive the server: wait for their close frames to go out.
        while upgraded.lock().is_ok_and(|open| !open.is_empty()) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    let deadline = async move {
        match stopped.await {
            Ok(()) => tokio::time::sleep(grace).await,
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = server => {}
        () = deadline => {
            tracing::warn!("requests still in flight after {grace:?}: exiting without them");
        }
    }
    Ok(())
}
