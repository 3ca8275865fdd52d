//! GraphQL over HTTP: `POST /graphql` with a JSON body, `GET /graphql` with URL parameters
//! (queries only), and GraphiQL for browsers.
//!
//! Follows the GraphQL-over-HTTP specification: a client that accepts
//! `application/graphql-response+json` gets it, with status 400 when the request could not be
//! executed at all; `application/json` answers use status 200 for every well-formed request.

use async_graphql::{
    ErrorExtensionValues, Value,
    http::GraphiQLSource,
    parser::{parse_query, types::OperationType},
};
use std::{net::SocketAddr, time::Instant};

use axum::{
    Extension,
    body::Bytes,
    extract::{ConnectInfo, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde_json::json;

use super::AppState;
use crate::{db::StatementCounter, graphql, metrics::Outcome};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// The media type of the answer, chosen from the request's `Accept` header.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    GraphQLResponseJson,
    Json,
}

impl Format {
    /// `None` when the client accepts neither JSON media type.
    fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("*/*");
        let accepts = |media: &str| {
            accept.split(',').any(|part| {
                let media_type = part.split(';').next().unwrap_or("").trim();
                media_type.eq_ignore_ascii_case(media)
            })
        };
        if accepts(GRAPHQL_RESPONSE_JSON) {
            Some(Format::GraphQLResponseJson)
        } else if accepts(JSON) || accepts("*/*") || accepts("application/*") {
            Some(Format::Json)
        } else {
            None
        }
    }

    fn media_type(self) -> &'static str {
        match self {
            Format::GraphQLResponseJson => GRAPHQL_RESPONSE_JSON,
            Format::Json => JSON,
        }
    }
}

pub async fn post(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(format) = Format::negotiate(&headers) else {
        return not_acceptable();
    };
    if !is_json(&headers) {
        return request_error(
            format,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request body as application/json",
        );
    }
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            let message = format!("the body is not a GraphQL request: {err}");
            return request_error(format, StatusCode::BAD_REQUEST, &message);
        }
    };
    execute(&state, request, format, Caller::of(&state, &headers, peer)).await
}

pub async fn get(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    if query.is_empty() && wants_html(&headers) {
        return Html(GraphiQLSource::build().endpoint("/graphql").finish()).into_response();
    }
    let Some(format) = Format::negotiate(&headers) else {
        return not_acceptable();
    };
    let request = match async_graphql::http::parse_query_string(&query) {
        Ok(request) => request,
        Err(_) => {
            let message =
                "pass the request as URL parameters `query`, `operationName` and `variables`";
            return request_error(format, StatusCode::BAD_REQUEST, message);
        }
    };
    if is_mutation(&request) {
        let mut response = request_error(
            format,
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations are only accepted with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
        return response;
    }
    execute(&state, request, format, Caller::of(&state, &headers, peer)).await
}

/// Who sends a request: the `Authorization` header and the client's address.
struct Caller {
    authorization: Option<String>,
    ip: String,
}

impl Caller {
    fn of(
        state: &AppState,
        headers: &HeaderMap,
        peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    ) -> Self {
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
        }
    }
}

async fn execute(
    state: &AppState,
    request: async_graphql::Request,
    format: Format,
    caller: Caller,
) -> Response {
    if request.query.trim().is_empty() {
        return request_error(
            format,
            StatusCode::BAD_REQUEST,
            "the request has no `query`",
        );
    }
    let query = request.query.clone();
    let operation = request
        .operation_name
        .clone()
        .or_else(|| first_operation_name(&query));
    let started = Instant::now();
    let counter = StatementCounter::default();
    // The execution is a task of its own: a client that hangs up does not cut a mutation of
    // several fields in the middle (each field commits as it completes).
    let execution = tokio::spawn(counter.scope({
        let state = state.clone();
        async move {
            let _permit = state.executions.acquire().await;
            let auth = state
                .accounts
                .authenticate(caller.authorization.as_deref())
                .await;
            let loads = graphql::Loads::default();
            let request = graphql::with_request_data(request, &state, auth, caller.ip, &loads);
            loads.run(state.schema.execute(request)).await
        }
    }));
    let mut response = match execution.await {
        Ok(response) => response,
        Err(err) => {
            tracing::error!(error = %err, "a GraphQL execution failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    label_errors(&mut response, &query);
    let invalid = is_request_error(&response);
    let outcome = match (invalid, response.errors.is_empty()) {
        (true, _) => Outcome::Invalid,
        (false, true) => Outcome::Ok,
        (false, false) => Outcome::Error,
    };
    state.metrics.request(
        operation.as_deref(),
        outcome,
        started.elapsed(),
        counter.get(),
    );
    let status = if format == Format::GraphQLResponseJson && invalid {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut http = json_response(format, status, serde_json::to_vec(&response));
    if state.config.expose_sql_count {
        http.headers_mut()
            .insert("x-sql-statements", HeaderValue::from(counter.get()));
    }
    http
}

/// Gives every error an `extensions.code`: a document that does not parse is
/// `GRAPHQL_PARSE_FAILED`; other errors raised before execution (validation, limits) are
/// `GRAPHQL_VALIDATION_FAILED`; argument values rejected during execution are `BAD_USER_INPUT`.
fn label_errors(response: &mut async_graphql::Response, query: &str) {
    let request_code = if is_request_error(response) && parse_query(query).is_err() {
        "GRAPHQL_PARSE_FAILED"
    } else {
        "GRAPHQL_VALIDATION_FAILED"
    };
    for error in &mut response.errors {
        let extensions = error
            .extensions
            .get_or_insert_with(ErrorExtensionValues::default);
        if extensions.get("code").is_none() {
            let code = if error.path.is_empty() {
                request_code
            } else {
                "BAD_USER_INPUT"
            };
            extensions.set("code", code);
        }
    }
}

/// The name of a document's first operation, for the metrics of requests that do not name
/// the operation to run: `query Name`, `mutation Name` or `subscription Name` at its start,
/// after comments.
fn first_operation_name(document: &str) -> Option<String> {
    let text: String = document
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ");
    let rest = ["query", "mutation", "subscription"]
        .iter()
        .find_map(|keyword| text.strip_prefix(keyword))?;
    let rest = rest.strip_prefix(char::is_whitespace)?.trim_start();
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// No data at all and errors outside any field: the request was not executed.
fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

fn is_mutation(request: &async_graphql::Request) -> bool {
    let Ok(document) = parse_query(&request.query) else {
        return false;
    };
    document.operations.iter().any(|(name, operation)| {
        let selected = match (&request.operation_name, name) {
            (Some(wanted), Some(name)) => wanted == name.as_str(),
            (None, _) => true,
            (Some(_), None) => false,
        };
        selected && operation.node.ty == OperationType::Mutation
    })
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(JSON))
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

fn not_acceptable() -> Response {
    let message =
        "this endpoint answers with application/graphql-response+json or application/json";
    request_error(Format::Json, StatusCode::NOT_ACCEPTABLE, message)
}

/// An answer to a request that could not be executed, in the GraphQL response shape.
fn request_error(format: Format, status: StatusCode, message: &str) -> Response {
    let body =
        json!({ "errors": [{ "message": message, "extensions": { "code": "BAD_REQUEST" } }] });
    json_response(format, status, serde_json::to_vec(&body))
}

fn json_response(
    format: Format,
    status: StatusCode,
    body: serde_json::Result<Vec<u8>>,
) -> Response {
    match body {
        Ok(body) => (status, [(header::CONTENT_TYPE, format.media_type())], body).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "could not serialize a response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::first_operation_name;

    #[test]
    fn names_the_first_operation() {
        assert_eq!(
            first_operation_name("query Q1 { a }").as_deref(),
            Some("Q1")
        );
        assert_eq!(
            first_operation_name("# c\n  mutation M($a: Int) { a }").as_deref(),
            Some("M")
        );
        assert_eq!(first_operation_name("query{ a }"), None);
        assert_eq!(first_operation_name("{ a }"), None);
    }
}
