//! Executing one GraphQL request: limits, the caller, the batch loads, metrics, and the answer.

use std::{net::SocketAddr, sync::Arc, time::Instant};

use async_graphql::{ErrorExtensionValues, Value};
use axum::{
    Extension,
    extract::ConnectInfo,
    http::{HeaderMap, StatusCode, header},
};

use super::{AppState, answer::error_body, document::Operation};
use crate::{auth::Credentials, db::StatementCounter, graphql, metrics::Outcome};

/// Who sends a request: the `Authorization` header and the client's address.
pub struct Caller {
    authorization: Option<String>,
    ip: String,
}

impl Caller {
    pub fn of(
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

impl Caller {
    /// The client's address.
    pub fn ip(self) -> String {
        self.ip
    }
}

/// The result of one request: the JSON body and whether it was executed.
pub struct Executed {
    pub body: Vec<u8>,
    pub executed: bool,
    pub statements: u32,
}

impl Executed {
    fn refused(code: &str, message: &str) -> Self {
        Executed {
            body: error_body(code, message),
            executed: false,
            statements: 0,
        }
    }
}

/// Checks and runs one request. `only_queries` refuses mutations (requests sent with GET).
pub async fn run(
    state: &AppState,
    mut request: async_graphql::Request,
    caller: Caller,
    only_queries: bool,
) -> Result<Executed, StatusCode> {
    if request.query.trim().is_empty() {
        return Ok(Executed::refused(
            "BAD_REQUEST",
            "the request has no `query`",
        ));
    }
    let started = Instant::now();
    // The document is parsed once, here; execution reuses it.
    let wanted = request.operation_name.clone();
    let operation = match request.parsed_query() {
        Ok(document) => Operation::of(document, wanted.as_deref()),
        Err(err) => {
            let message = format!("the document does not parse: {}", err.message);
            state
                .metrics
                .request(None, Outcome::Invalid, started.elapsed(), 0);
            return Ok(Executed::refused("GRAPHQL_PARSE_FAILED", &message));
        }
    };
    let name = operation
        .as_ref()
        .and_then(|operation| operation.name.clone());
    if let Some(operation) = &operation {
        if only_queries && operation.mutation {
            return Err(StatusCode::METHOD_NOT_ALLOWED);
        }
        if let Some(message) = operation.exceeds(&state.config.limits) {
            state
                .metrics
                .request(name.as_deref(), Outcome::Invalid, started.elapsed(), 0);
            return Ok(Executed::refused("LIMIT_EXCEEDED", &message));
        }
    }

    let counter = StatementCounter::default();
    // The execution is a task of its own: a client that hangs up does not cut a mutation of
    // several fields in the middle (each field commits as it completes).
    let execution = tokio::spawn(counter.scope({
        let state = state.clone();
        async move {
            let _permit = state.executions.acquire().await;
            let credentials = Arc::new(Credentials::new(
                state.accounts.clone(),
                caller.authorization,
            ));
            let loads = graphql::Loads::default();
            let request =
                graphql::with_request_data(request, &state, credentials, caller.ip, &loads);
            loads.run(state.schema.execute(request)).await
        }
    }));
    let abort = execution.abort_handle();
    let limits = &state.config.limits;
    let mut response = match tokio::time::timeout(limits.request_timeout, execution).await {
        Ok(Ok(response)) => response,
        Ok(Err(err)) => {
            tracing::error!(error = %err, "a GraphQL execution failed");
            return Err(StatusCode::INTERNAL_SERVER_ERROR);
        }
        Err(_) => {
            abort.abort();
            state.metrics.request(
                name.as_deref(),
                Outcome::Error,
                started.elapsed(),
                counter.get(),
            );
            let message = format!("the request took longer than {:?}", limits.request_timeout);
            return Ok(Executed {
                body: error_body("TIMEOUT", &message),
                executed: true,
                statements: counter.get(),
            });
        }
    };
    label_errors(&mut response);
    let executed = !is_request_error(&response);
    let outcome = match (executed, response.errors.is_empty()) {
        (false, _) => Outcome::Invalid,
        (true, true) => Outcome::Ok,
        (true, false) => Outcome::Error,
    };
    state
        .metrics
        .request(name.as_deref(), outcome, started.elapsed(), counter.get());
    let body = match serde_json::to_vec(&response) {
        Ok(body) if body.len() <= limits.max_response_bytes => body,
        Ok(body) => {
            let message = format!(
                "the answer would be {} bytes, over the limit of {}: ask for less",
                body.len(),
                limits.max_response_bytes
            );
            error_body("RESPONSE_TOO_LARGE", &message)
        }
        Err(err) => {
            tracing::error!(error = %err, "could not serialize a response");
            return Err(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    Ok(Executed {
        body,
        executed,
        statements: counter.get(),
    })
}

/// Gives every error an `extensions.code`: errors raised before execution (validation,
/// depth and complexity limits) are `GRAPHQL_VALIDATION_FAILED`; argument values rejected
/// during execution are `BAD_USER_INPUT`.
fn label_errors(response: &mut async_graphql::Response) {
    for error in &mut response.errors {
        let extensions = error
            .extensions
            .get_or_insert_with(ErrorExtensionValues::default);
        if extensions.get("code").is_none() {
            let code = if error.path.is_empty() {
                "GRAPHQL_VALIDATION_FAILED"
            } else {
                "BAD_USER_INPUT"
            };
            extensions.set("code", code);
        }
    }
}

/// No data at all and errors outside any field: the request was not executed.
fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}
