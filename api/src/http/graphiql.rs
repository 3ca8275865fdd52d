//! GraphiQL, built into the binary: the page at `GET /graphql` (for browsers) and its scripts
//! and styles at `/graphiql/…`, so it works offline and under a strict Content-Security-Policy.
//! The files are vendored in `api/assets/graphiql` (see its `vendor.sh` and `VERSIONS`).

use axum::{
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::AppState;

const PAGE: &str = include_str!("../../assets/graphiql/index.html");

/// Scripts from this server only, styles inline too (GraphiQL sets some), connections to this
/// server only (`'self'` covers its WebSocket), and never inside a frame.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     connect-src 'self'; img-src 'self' data:; font-src 'self' data:; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'none'";

/// The files the page loads, by name.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
    (
        "graphql-ws.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphql-ws.min.js"),
    ),
    (
        "roster.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/roster.js"),
    ),
];

fn switched_off() -> Response {
    let message = "GraphiQL is switched off on this server";
    (StatusCode::NOT_FOUND, message).into_response()
}

/// The GraphiQL page, or 404 when `GRAPHIQL` is off.
pub fn page(state: &AppState) -> Response {
    if !state.config.graphiql {
        return switched_off();
    }
    let headers = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CONTENT_SECURITY_POLICY, PAGE_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-cache"),
    ];
    (headers, PAGE).into_response()
}

/// `GET /graphiql/{file}`.
pub async fn asset(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    if !state.config.graphiql {
        return switched_off();
    }
    let Some((_, content_type, body)) = ASSETS.iter().find(|(name, _, _)| *name == file) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let mut answer = (*body).into_response();
    let headers = answer.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Unversioned names: cached for an hour, so an upgraded server is picked up soon.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    answer
}
