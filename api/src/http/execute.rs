//! Executing one GraphQL request: limits, the caller, the batch loads, metrics, and the answer.

use std::{net::SocketAddr, sync::Arc, time::Instant};

use async_graphql::{ErrorExtensionValues, Pos, Value};
use axum::{
    Extension,
    extract::ConnectInfo,
    http::{HeaderMap, StatusCode, header},
};

use tokio::sync::{Semaphore, SemaphorePermit};

use super::{AppState, answer::error_body, document::Operation};
use crate::{
    auth::Credentials,
    db::{RequestEnd, StatementCounter},
    error::AppError,
    graphql,
    metrics::Outcome,
};

/// A request that may return more list items than this counts as one more execution for each
/// further this many.
const ITEMS_PER_EXECUTION: u64 = 1_000;

/// How many GraphQL executions run at once, large ones counting as several: small requests
/// spend most of their time waiting for the database, so many run together, while the pages
/// of a large one are held in memory until its answer is written.
#[derive(Clone)]
pub struct Executions {
    permits: Arc<Semaphore>,
    /// The most one request counts as: a quarter of the limit, so a few large requests still
    /// run together.
    most: u64,
}

impl Executions {
    pub fn new(limit: usize) -> Self {
        let limit = limit.clamp(1, Semaphore::MAX_PERMITS);
        Executions {
            permits: Arc::new(Semaphore::new(limit)),
            most: u64::try_from(limit / 4).unwrap_or(u64::MAX).max(1),
        }
    }

    /// How many executions a request that may return `items` list items counts as.
    fn weight(&self, items: u64) -> u32 {
        let weight = items.div_ceil(ITEMS_PER_EXECUTION).clamp(1, self.most);
        u32::try_from(weight).unwrap_or(u32::MAX)
    }

    /// Waits for the turn of a request that may return `items` list items.
    async fn admit(&self, items: u64) -> Option<SemaphorePermit<'_>> {
        self.permits.acquire_many(self.weight(items)).await.ok()
    }
}

/// Who sends a request: the `Authorization` header and the client's address.
pub struct Caller {
    authorization: Option<String>,
    ip: String,
}

impl Caller {
    pub fn new(authorization: Option<String>, ip: String) -> Self {
        Caller { authorization, ip }
    }

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
    let variables = std::mem::take(&mut request.variables);
    let operation = match state.documents.parse(&mut request) {
        Ok(document) => Operation::of(document, wanted.as_deref(), &variables),
        Err(err) => {
            let message = format!("the document does not parse: {}", err.message);
            state
                .metrics
                .request(None, Outcome::Invalid, started.elapsed(), 0);
            return Ok(Executed::refused("GRAPHQL_PARSE_FAILED", &message));
        }
    };
    request.variables = variables;
    let name = operation
        .as_ref()
        .and_then(|operation| operation.name.clone());
    let items = operation.as_ref().map_or(0, |operation| operation.items);
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

    let mutation = operation
        .as_ref()
        .is_some_and(|operation| operation.mutation);
    let counter = StatementCounter::default();
    // The execution is a task of its own: a client that hangs up does not cut a mutation
    // short between its last write and its commit.
    let execution = tokio::spawn(counter.scope({
        let state = state.clone();
        async move {
            let _permit = state.executions.admit(items).await;
            let credentials = Arc::new(Credentials::new(
                state.accounts.clone(),
                caller.authorization,
            ));
            let (db, end) = if mutation {
                let (db, end) = state.db.for_mutation();
                (db, Some(end))
            } else {
                (state.db.clone(), None)
            };
            let loads = graphql::Loads::default();
            let request =
                graphql::with_request_data(request, &state, db, credentials, caller.ip, &loads);
            let mut response = loads.run(state.schema.execute(request)).await;
            if let Some(end) = end {
                end_mutation(end, &mut response).await;
            }
            response
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
    let body = match graphql::to_json(&response) {
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

/// Ends a mutation request's transaction: commits what it wrote if it answers without an
/// error; otherwise rolls it back and answers no data, since none of it was kept.
async fn end_mutation(end: RequestEnd, response: &mut async_graphql::Response) {
    if let Err(err) = end.end(response.errors.is_empty()).await {
        let error = async_graphql::Error::from(AppError::from(err));
        response
            .errors
            .push(error.into_server_error(Pos::default()));
    }
    if !response.errors.is_empty() {
        response.data = Value::Null;
    }
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

#[cfg(test)]
mod tests {
    use super::Executions;

    #[test]
    fn large_requests_count_as_several_up_to_a_quarter_of_the_limit() {
        let executions = Executions::new(32);
        assert_eq!(executions.weight(0), 1);
        assert_eq!(executions.weight(1_000), 1);
        assert_eq!(executions.weight(1_001), 2);
        // 50 users × 10 profiles × 10 users, with the users and profiles themselves.
        assert_eq!(executions.weight(5_550), 6);
        assert_eq!(executions.weight(u64::MAX), 8);
        assert_eq!(Executions::new(2).weight(5_550), 1);
    }
}
