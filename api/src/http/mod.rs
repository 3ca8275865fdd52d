//! The HTTP surface: routes, limits and shared state.

mod graphql;
mod health;

use std::sync::Arc;

use tokio::sync::Semaphore;

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request, State},
    http::header,
    response::IntoResponse,
    routing::get,
};
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};
use tracing::Span;

use crate::{auth::Accounts, config::Config, db::Db, graphql::RosterSchema, metrics::Metrics};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    /// Permits to execute GraphQL requests (`MAX_CONCURRENT_REQUESTS`).
    pub executions: Arc<Semaphore>,
    pub accounts: Accounts,
    pub metrics: Metrics,
    pub schema: RosterSchema,
    pub config: Arc<Config>,
}

/// The span of a request, so every line logged for it carries its id. Only the path of the
/// URL: a query string may carry a GraphQL document and its variables, passwords included.
fn request_span(request: &Request) -> Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|id| id.to_str().ok());
    tracing::info_span!(
        "request",
        request_id = id.unwrap_or("-"),
        method = %request.method(),
        path = %request.uri().path(),
    )
}

/// `GET /metrics`: Prometheus text format.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let (in_use, idle) = state.db.pool_state();
    let body = state.metrics.render(in_use, idle);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

/// The router of the whole API, buildable without a socket.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/health", get(health::health))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}
