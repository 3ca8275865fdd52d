//! The HTTP surface: routes, limits and shared state.

mod answer;
mod graphiql;
mod graphql;
mod health;
pub mod server;
mod subscriptions;

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request, State},
    http::{HeaderName, HeaderValue, Method, header},
    response::IntoResponse,
    routing::get,
};
use tower_http::{
    compression::{
        CompressionLayer,
        predicate::{DefaultPredicate, Predicate, SizeAbove},
    },
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};
use tracing::Span;

use crate::AppState;

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
    if let Some(standbys) = state.db.standbys() {
        let states = standbys.states();
        let lags = states.iter().map(|s| (s.name.as_str(), s.lag_seconds));
        state.metrics.standby_lag(lags);
    }
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
    let cors = cors(&state.config.cors_allowed_origins);
    let router = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/health", get(health::health))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(state.config.limits.max_body_bytes))
        .layer(compression())
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state);
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// Answers and assets over `COMPRESS_ABOVE` bytes are compressed with the best encoding the
/// client accepts (`br`, then `gzip`), chunk by chunk as they are written; event streams,
/// images and smaller answers are sent as they are.
fn compression() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .br(true)
        .gzip(true)
        .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE)))
}

/// Smaller answers gain too little from compression to pay for it.
const COMPRESS_ABOVE: u16 = 1024;

/// Browsers may call the API from these origins only; no CORS at all when there are none.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .map(|origin| origin.trim())
        .filter(|origin| !origin.is_empty())
        .filter_map(|origin| match HeaderValue::from_str(origin) {
            Ok(value) => Some(value),
            Err(_) => {
                tracing::warn!(
                    origin,
                    "ignoring an origin of CORS_ALLOWED_ORIGINS that is not a header value"
                );
                None
            }
        })
        .collect();
    // What GraphQL clients send besides the usual: the request ID the README invites, and
    // Apollo Client's identification and CSRF-prevention headers.
    let allowed = [
        header::AUTHORIZATION,
        header::CONTENT_TYPE,
        header::ACCEPT,
        HeaderName::from_static("x-request-id"),
        HeaderName::from_static("apollographql-client-name"),
        HeaderName::from_static("apollographql-client-version"),
        HeaderName::from_static("apollo-require-preflight"),
        HeaderName::from_static("x-apollo-operation-name"),
        HeaderName::from_static("consistency-token"),
    ];
    (!origins.is_empty()).then(|| {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers(allowed)
            .expose_headers([
                HeaderName::from_static("x-request-id"),
                HeaderName::from_static("consistency-token"),
            ])
            .max_age(CORS_MAX_AGE)
    })
}

/// How long a browser may reuse a preflight's answer (Chromium caps it at two hours).
const CORS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(2 * 60 * 60);
