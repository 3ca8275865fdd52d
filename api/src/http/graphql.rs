//! GraphQL over HTTP: `POST /graphql` with a JSON body (one request, or a batch when enabled),
//! `GET /graphql` with URL parameters (queries only), and GraphiQL for browsers.
//!
//! Follows the GraphQL-over-HTTP specification: a client that accepts
//! `application/graphql-response+json` gets it, with status 400 when the request could not be
//! executed at all; `application/json` answers use status 200 for every well-formed request.

use std::net::SocketAddr;

use axum::{
    Extension,
    body::Bytes,
    extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State, WebSocketUpgrade},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::{
    AppState,
    answer::{Format, is_json, not_acceptable, request_error, wants_html},
    graphiql, subscriptions,
};
use crate::exec::{self, Caller};

type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

/// Who sends a request: its `Authorization` header, and the client's address (the last of
/// `X-Forwarded-For` when `TRUST_FORWARDED_FOR` is on, the peer's otherwise).
pub fn caller(state: &AppState, headers: &HeaderMap, peer: Peer) -> Caller {
    let forwarded = state
        .config
        .trust_forwarded_for
        .then(|| {
            headers
                .get("x-forwarded-for")?
                .to_str()
                .ok()?
                .rsplit(',')
                .next()
        })
        .flatten()
        .map(|ip| ip.trim().to_owned());
    let peer = peer.map(|Extension(ConnectInfo(addr))| addr.ip().to_string());
    Caller {
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        ip: forwarded.or(peer).unwrap_or_else(|| "unknown".to_owned()),
        consistency_token: headers
            .get(CONSISTENCY_TOKEN)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
    }
}

/// The header of consistency tokens: answered to mutations, sent back with reads.
const CONSISTENCY_TOKEN: &str = "consistency-token";

/// `Consistency-Token` on the answer of a mutation, when it has one.
fn with_consistency_token(mut answer: Response, token: Option<&str>) -> Response {
    if let Some(value) = token.and_then(|token| HeaderValue::from_str(token).ok()) {
        answer.headers_mut().insert(CONSISTENCY_TOKEN, value);
    }
    answer
}

pub async fn post(State(state): State<AppState>, peer: Peer, request: Request) -> Response {
    let headers = request.headers().clone();
    let Some(format) = Format::negotiate(&headers) else {
        return not_acceptable();
    };
    let allowed = state.config.limits.body_read_timeout;
    let body = match tokio::time::timeout(allowed, Bytes::from_request(request, &state)).await {
        Ok(Ok(body)) => body,
        // Over the body limit, or a body that did not arrive whole.
        Ok(Err(rejection)) => {
            let message = rejection.body_text();
            return request_error(format, rejection.status(), "BAD_REQUEST", &message);
        }
        Err(_) => {
            let message = format!("the request body did not arrive within {allowed:?}");
            let mut answer =
                request_error(format, StatusCode::REQUEST_TIMEOUT, "TIMEOUT", &message);
            answer
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return answer;
        }
    };
    if !is_json(&headers) {
        let message = "send the request body as application/json";
        return request_error(
            format,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_REQUEST",
            message,
        );
    }
    let batch = body.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'[');
    if batch {
        return post_batch(&state, peer, &headers, &body, format).await;
    }
    let request: exec::Sent = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => return not_a_request(format, &err),
    };
    let caller = caller(&state, &headers, peer);
    let credentialed = caller.authorization.is_some();
    let executed = exec::run(&state, request.into(), caller, false).await;
    answer(&state, format, credentialed, executed)
}

/// A JSON array of requests, when `BATCH_REQUESTS` is on: run in order, answered as an array.
async fn post_batch(
    state: &AppState,
    peer: Peer,
    headers: &HeaderMap,
    body: &[u8],
    format: Format,
) -> Response {
    let limits = &state.config.limits;
    if !limits.batch_requests {
        let message = "batched requests are not accepted: send one request per body";
        return request_error(format, StatusCode::BAD_REQUEST, "BAD_REQUEST", message);
    }
    let requests: Vec<exec::Sent> = match serde_json::from_slice(body) {
        Ok(requests) => requests,
        Err(err) => return not_a_request(format, &err),
    };
    if requests.is_empty() || requests.len() > limits.batch_max_size {
        let message = format!("a batch holds 1 to {} requests", limits.batch_max_size);
        return request_error(format, StatusCode::BAD_REQUEST, "LIMIT_EXCEEDED", &message);
    }
    let mut answers = Vec::with_capacity(requests.len());
    let mut statements = 0;
    let mut retry_after = None;
    let mut consistency_token = None;
    let caller = caller(state, headers, peer);
    for request in requests {
        match exec::run(state, request.into(), caller.clone(), false).await {
            Ok(executed) => {
                statements += executed.statements;
                retry_after = retry_after.max(executed.retry_after);
                consistency_token = executed.consistency_token.or(consistency_token);
                answers.push(executed.body);
            }
            Err(failure) => return failed(format, failure),
        }
    }
    let body = [b"[".as_slice(), &answers.join(b",".as_slice()), b"]"].concat();
    let answer = with_retry_after(format.answer(StatusCode::OK, body), retry_after);
    let answer = with_consistency_token(answer, consistency_token.as_deref());
    let credentialed = caller.authorization.is_some();
    with_statements(state, private(answer, credentialed), statements)
}

/// `Retry-After` on an answer that refused some work as too much at once.
fn with_retry_after(mut answer: Response, seconds: Option<u64>) -> Response {
    if let Some(seconds) = seconds {
        answer
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    answer
}

pub async fn get(State(state): State<AppState>, peer: Peer, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let headers = parts.headers.clone();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let upgrading = headers
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok());
    if upgrading.is_some_and(|value| value.eq_ignore_ascii_case("websocket")) {
        let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
            Ok(upgrade) => upgrade,
            Err(rejection) => return rejection.into_response(),
        };
        let Some(protocol) = subscriptions::protocol(&headers) else {
            let message = "offer the graphql-transport-ws subprotocol";
            return (StatusCode::BAD_REQUEST, message).into_response();
        };
        let ip = caller(&state, &headers, peer).ip;
        // A message gets the limit of a request body, checked as its frames arrive.
        let largest = state.config.limits.max_body_bytes;
        return upgrade
            .max_message_size(largest)
            .max_frame_size(largest)
            .protocols([protocol.sec_websocket_protocol()])
            .on_upgrade(move |socket| subscriptions::serve(socket, protocol, state, ip));
    }
    if query.is_empty() && wants_html(&headers) {
        return graphiql::page(&state);
    }
    let Some(format) = Format::negotiate(&headers) else {
        return not_acceptable();
    };
    let request = match from_url_parameters(&query) {
        Ok(request) => request,
        Err(message) => {
            return request_error(format, StatusCode::BAD_REQUEST, "BAD_REQUEST", &message);
        }
    };
    let caller = caller(&state, &headers, peer);
    let credentialed = caller.authorization.is_some();
    let executed = exec::run(&state, request, caller, true).await;
    answer(&state, format, credentialed, executed)
}

/// The request of a GET's URL parameters, named as GraphQL over HTTP names them: `query`,
/// `operationName`, `variables` and `extensions` as JSON, and a persisted document's
/// `documentId` (or Relay's `doc_id`). (async-graphql's own parser reads `operation_name`.)
fn from_url_parameters(parameters: &str) -> Result<async_graphql::Request, String> {
    #[derive(serde::Deserialize)]
    struct Parameters {
        #[serde(default)]
        query: String,
        #[serde(rename = "operationName")]
        operation_name: Option<String>,
        variables: Option<String>,
        extensions: Option<String>,
        #[serde(rename = "documentId", alias = "doc_id")]
        document_id: Option<String>,
    }
    let usage = "pass the request as URL parameters `query` (or `documentId`), \
                 `operationName`, `variables` and `extensions`";
    let parameters: Parameters =
        serde_urlencoded::from_str(parameters).map_err(|err| format!("{usage}: {err}"))?;
    let sent = exec::Sent {
        query: parameters.query,
        operation_name: parameters.operation_name,
        variables: json_parameter("variables", parameters.variables)?,
        extensions: json_parameter("extensions", parameters.extensions)?,
        document_id: parameters.document_id,
    };
    Ok(sent.into())
}

/// The JSON object of URL parameter `name`, empty when it is absent.
fn json_parameter<T: serde::de::DeserializeOwned + Default>(
    name: &str,
    text: Option<String>,
) -> Result<T, String> {
    match text {
        None => Ok(T::default()),
        Some(text) => serde_json::from_str(&text)
            .map_err(|err| format!("the URL parameter `{name}` is not a JSON object: {err}")),
    }
}

fn answer(
    state: &AppState,
    format: Format,
    credentialed: bool,
    executed: Result<exec::Answer, exec::Failure>,
) -> Response {
    match executed {
        Ok(executed) => {
            let mut answer = format.answer(format.status(executed.verdict), executed.body);
            if executed.verdict == exec::Verdict::Missing {
                // The document may be registered a moment later: no cache may keep this.
                answer
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            }
            let answer = with_retry_after(private(answer, credentialed), executed.retry_after);
            let answer = with_consistency_token(answer, executed.consistency_token.as_deref());
            with_statements(state, answer, executed.statements)
        }
        Err(failure) => failed(format, failure),
    }
}

/// An answer to a caller who sent credentials is theirs alone: no cache keeps it.
fn private(mut answer: Response, credentialed: bool) -> Response {
    if credentialed {
        answer.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    answer
}

/// The HTTP answer to a request that got no GraphQL answer.
fn failed(format: Format, failure: exec::Failure) -> Response {
    match failure {
        exec::Failure::MutationNotAllowed => {
            let message = "mutations are only accepted with POST";
            let mut answer = request_error(
                format,
                StatusCode::METHOD_NOT_ALLOWED,
                "BAD_REQUEST",
                message,
            );
            answer
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
            answer
        }
        exec::Failure::Internal => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn not_a_request(format: Format, err: &serde_json::Error) -> Response {
    let message = format!("the body is not a GraphQL request: {err}");
    request_error(format, StatusCode::BAD_REQUEST, "BAD_REQUEST", &message)
}

/// Adds `x-sql-statements` when `EXPOSE_SQL_COUNT` is on.
fn with_statements(state: &AppState, mut answer: Response, statements: u32) -> Response {
    if state.config.expose_sql_count {
        answer
            .headers_mut()
            .insert("x-sql-statements", HeaderValue::from(statements));
    }
    answer
}
