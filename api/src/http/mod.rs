//! The HTTP surface: routes, limits and shared state.

mod graphql;
mod health;

use std::sync::Arc;

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request},
    routing::get,
};
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::{auth::Accounts, config::Config, db::Db, graphql::RosterSchema};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub accounts: Accounts,
    pub schema: RosterSchema,
    pub config: Arc<Config>,
}

/// The span of a request. Only the path: a query string may carry a GraphQL document and its
/// variables, passwords included.
fn request_span(request: &Request) -> Span {
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
}

/// The router of the whole API, buildable without a socket.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/health", get(health::health))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}
