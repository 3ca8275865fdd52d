//! Executing GraphQL requests, whatever carries them (HTTP or WebSocket), as one pipeline: the
//! document (parsed and validated once by its text), the operation and its limits, the
//! variables coerced, the operation as the specification executes it (fields collected and
//! merged), admission, the caller, the transaction, the batch loads, and the answer.

pub mod admission;
mod collect;
mod cost;
mod document;
mod limits;
mod persisted;
mod reads;
mod rules;
mod stream;
pub mod types;
mod variables;

use std::{sync::Arc, time::Instant};

use async_graphql::{
    ErrorExtensionValues, Name, Pos, Request, Response, ServerError, Value,
    parser::types::{DocumentOperations, OperationType},
};

pub use admission::Executions;
pub use document::Documents;
pub use persisted::{APQ_CACHE_BYTES, Persisted, Sent};
pub use stream::{Subscriptions, connection_data};
pub use types::Types;

use crate::{
    AppState,
    auth::Credentials,
    db::{RequestEnd, StatementCounter},
    error::AppError,
    graphql::{self, Caught},
    metrics::Outcome,
};

/// Who sends a request: the `Authorization` header and the client's address.
#[derive(Clone)]
pub struct Caller {
    pub authorization: Option<String>,
    pub ip: String,
    /// The `Consistency-Token` the client sent: the WAL position of a write it made, which a
    /// standby must have replayed to serve it.
    pub consistency_token: Option<String>,
}

/// The answer to one request: the JSON body, what became of the request, and the SQL
/// statements it ran.
pub struct Answer {
    pub body: Vec<u8>,
    pub verdict: Verdict,
    pub statements: u32,
    /// Seconds to wait before trying again, when some work was refused as too much at once
    /// (`RATE_LIMITED`).
    pub retry_after: Option<u64>,
    /// The consistency token of a mutation's commit, when standbys serve reads.
    pub consistency_token: Option<String>,
}

/// What became of a request, which transports report as they do (HTTP by its status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It ran (its answer may still hold field errors).
    Executed,
    /// It was refused before it ran: its document, operation, variables or limits.
    Refused,
    /// It is not a GraphQL request as the protocols define it (no document at all, a
    /// persisted query's hash that is not its text's).
    Malformed,
    /// It names a persisted document this server does not hold.
    Missing,
}

/// A request that gets no GraphQL answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// A mutation where only queries are accepted (`only_queries`).
    MutationNotAllowed,
    /// The execution itself failed (a bug): logged.
    Internal,
}

/// Why a request does not run: the errors of a request error, each with its code, and the
/// name of the operation when it is known; or a mutation where only queries are accepted.
pub enum Stop {
    Refused {
        errors: Vec<ServerError>,
        name: Option<String>,
        verdict: Verdict,
    },
    MutationNotAllowed,
}

impl Stop {
    fn refused(code: &str, message: impl Into<String>, at: Vec<Pos>) -> Stop {
        Stop::judged(code, message, at, Verdict::Refused)
    }

    /// A request that does not run, for `verdict`, with one error.
    fn judged(code: &str, message: impl Into<String>, at: Vec<Pos>, verdict: Verdict) -> Stop {
        let mut error = ServerError::new(message, None);
        error.locations = at;
        Stop::Refused {
            errors: vec![with_code(error, code)],
            name: None,
            verdict,
        }
    }

    /// The same refusal, of the operation named `name`.
    fn of(self, name: Option<&Name>) -> Stop {
        match self {
            Stop::Refused {
                errors, verdict, ..
            } => Stop::Refused {
                errors,
                name: name.map(ToString::to_string),
                verdict,
            },
            stop => stop,
        }
    }
}

/// A request ready for the schema: its document is the operation as the specification runs
/// it, its variables are coerced.
pub struct Prepared {
    pub request: Request,
    pub name: Option<String>,
    pub kind: OperationType,
    /// How many nodes it may return at most, every page full (`cost::nodes`).
    pub nodes: u64,
}

/// Checks `request` up to execution: everything that refuses a request before it runs.
/// `only_queries` stops mutations (requests sent with GET).
pub async fn prepare(
    state: &AppState,
    mut request: Request,
    only_queries: bool,
) -> Result<Prepared, Stop> {
    let registers = state
        .persisted
        .resolve(&mut request, state.db.pool())
        .await
        .map_err(|refusal| Stop::judged(refusal.code, refusal.message, vec![], refusal.verdict))?;
    let document = state
        .documents
        .get(&request.query, &state.validator, &state.types)
        .await
        .map_err(|refusal| match refusal {
            document::Refusal::Parse(err) => {
                let message = format!("the document does not parse: {}", err.message);
                Stop::refused("GRAPHQL_PARSE_FAILED", message, err.locations)
            }
            document::Refusal::Unchecked(err) => {
                let err = async_graphql::Error::from(err);
                let mut error = ServerError::new(err.message, None);
                error.extensions = err.extensions;
                Stop::Refused {
                    errors: vec![error],
                    name: None,
                    verdict: Verdict::Refused,
                }
            }
        })?;
    let (name, operation) =
        document::operation(&document.parsed, request.operation_name.as_deref())
            .map_err(|message| Stop::refused("GRAPHQL_VALIDATION_FAILED", message, vec![]))?;
    let refused = |code, message, at| Stop::refused(code, message, at).of(name);
    if let Some(message) = &document.explosion {
        return Err(refused("LIMIT_EXCEEDED", message.clone(), vec![]));
    }
    let facts = limits::Operation::of(&document.parsed, operation);
    if let Some(message) = facts.exceeds(&state.config.limits) {
        return Err(refused("LIMIT_EXCEEDED", message, vec![]));
    }
    if only_queries && facts.kind == OperationType::Mutation {
        return Err(Stop::MutationNotAllowed);
    }
    let errors = document.errors(&state.validator, &state.types).await;
    if !errors.is_empty() {
        let errors = errors
            .iter()
            .map(|error| {
                let code = error.extensions.as_ref().and_then(|ext| ext.get("code"));
                match code {
                    Some(_) => error.clone(),
                    None => with_code(error.clone(), "GRAPHQL_VALIDATION_FAILED"),
                }
            })
            .collect();
        return Err(Stop::Refused {
            errors,
            name: name.map(ToString::to_string),
            verdict: Verdict::Refused,
        });
    }
    if let Some(hash) = registers {
        state
            .persisted
            .register(hash, &request.query, state.db.pool())
            .await;
    }
    let variables = variables::coerce(
        &state.types,
        &operation.node.variable_definitions,
        &request.variables,
    )
    .map_err(|message| refused("GRAPHQL_VALIDATION_FAILED", message, vec![]))?;
    let root = state.types.root(facts.kind);
    let normalized =
        collect::normalize(&state.types, &document.parsed, operation, root, &variables).map_err(
            |refusal| match refusal {
                collect::Refusal::Invalid { message, at } => {
                    refused("GRAPHQL_VALIDATION_FAILED", message, at)
                }
                collect::Refusal::TooLarge => refused(
                    "LIMIT_EXCEEDED",
                    format!(
                        "the operation selects more than {} fields once its fragments are spread",
                        collect::FIELDS_MAX
                    ),
                    vec![],
                ),
            },
        )?;
    let nodes = match &normalized.operations {
        DocumentOperations::Single(operation) => cost::nodes(
            &state.types,
            root,
            &operation.node.selection_set.node,
            &variables,
            u64::try_from(state.config.limits.page_max_size).unwrap_or(0),
        ),
        DocumentOperations::Multiple(_) => 0,
    };
    let most = u64::try_from(state.config.limits.query_max_complexity).unwrap_or(u64::MAX);
    if nodes > most {
        let message = format!(
            "the operation may return {nodes} nodes, counting each list's `first` or `last` (or \
             {page}, the largest page, when it gives neither) for every node above it; at most \
             {most} are allowed: ask for smaller pages or fewer nested lists",
            page = state.config.limits.page_max_size,
        );
        return Err(refused("LIMIT_EXCEEDED", message, vec![]));
    }
    request.set_parsed_query(normalized);
    request.variables = variables;
    request.operation_name = None;
    Ok(Prepared {
        request,
        name: name.map(ToString::to_string),
        kind: facts.kind,
        nodes,
    })
}

/// Checks and runs one request. `only_queries` refuses mutations (requests sent with GET).
pub async fn run(
    state: &AppState,
    request: Request,
    caller: Caller,
    only_queries: bool,
) -> Result<Answer, Failure> {
    let started = Instant::now();
    let prepared = match prepare(state, request, only_queries).await {
        Ok(prepared) => prepared,
        Err(Stop::MutationNotAllowed) => return Err(Failure::MutationNotAllowed),
        Err(Stop::Refused {
            errors,
            name,
            verdict,
        }) => {
            let elapsed = started.elapsed();
            state
                .metrics
                .request(name.as_deref(), Outcome::Invalid, elapsed, 0);
            return Ok(Answer {
                body: request_error(&errors),
                verdict,
                statements: 0,
                retry_after: retry_after(&errors),
                consistency_token: None,
            });
        }
    };
    let name = prepared.name.clone();
    let counter = StatementCounter::default();
    // The execution is a task of its own: a client that hangs up does not cut a mutation
    // short between its last write and its commit.
    // Boxed: the future is large, and the task takes it by pointer instead of by copy.
    let execution = tokio::spawn(Box::pin(counter.scope(execute(
        state.clone(),
        prepared,
        caller,
    ))));
    let abort = execution.abort_handle();
    let limits = &state.config.limits;
    let response = match tokio::time::timeout(limits.request_timeout, execution).await {
        Ok(Ok(response)) => response,
        Ok(Err(err)) => {
            tracing::error!(error = %err, "a GraphQL execution failed");
            return Err(Failure::Internal);
        }
        Err(_) => {
            abort.abort();
            let statements = counter.get();
            let outcome = Outcome::Error;
            state
                .metrics
                .request(name.as_deref(), outcome, started.elapsed(), statements);
            let message = format!("the request took longer than {:?}", limits.request_timeout);
            return Ok(Answer {
                body: request_error(&[with_code(ServerError::new(message, None), "TIMEOUT")]),
                verdict: Verdict::Executed,
                statements,
                retry_after: None,
                consistency_token: None,
            });
        }
    };
    let executed = !is_request_error(&response);
    let retry_after = retry_after(&response.errors);
    let consistency_token = match response.extensions.get(reads::CONSISTENCY_TOKEN) {
        Some(Value::String(token)) => Some(token.clone()),
        _ => None,
    };
    let outcome = match (executed, response.errors.is_empty()) {
        (false, _) => Outcome::Invalid,
        (true, true) => Outcome::Ok,
        (true, false) => Outcome::Error,
    };
    state
        .metrics
        .request(name.as_deref(), outcome, started.elapsed(), counter.get());
    let written = if executed {
        graphql::to_json(&response)
    } else {
        // Refused by the engine before it ran: a request error, without `data`.
        Ok(request_error(&response.errors))
    };
    let body = match written {
        Ok(body) if body.len() <= limits.max_response_bytes => body,
        Ok(body) => {
            let message = format!(
                "the answer would be {} bytes, over the limit of {}: ask for less",
                body.len(),
                limits.max_response_bytes
            );
            request_error(&[with_code(
                ServerError::new(message, None),
                "RESPONSE_TOO_LARGE",
            )])
        }
        Err(err) => {
            tracing::error!(error = %err, "could not serialize a response");
            return Err(Failure::Internal);
        }
    };
    Ok(Answer {
        body,
        verdict: match executed {
            true => Verdict::Executed,
            false => Verdict::Refused,
        },
        statements: counter.get(),
        retry_after,
        consistency_token,
    })
}

/// The longest wait any `RATE_LIMITED` error of `response` asks for.
fn retry_after(errors: &[ServerError]) -> Option<u64> {
    errors
        .iter()
        .filter_map(|error| {
            let extensions = error.extensions.as_ref()?;
            (extensions.get("code")? == &Value::from("RATE_LIMITED")).then_some(())?;
            match extensions.get("retryAfter")? {
                Value::Number(seconds) => seconds.as_u64(),
                _ => None,
            }
        })
        .max()
}

/// No data at all and errors outside any field: the engine refused the request before it ran.
fn is_request_error(response: &Response) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

/// Runs a prepared request when admitted: as its caller, in a transaction when it is a
/// mutation, its loads batched per level.
async fn execute(state: AppState, prepared: Prepared, caller: Caller) -> Response {
    let nodes = prepared.nodes;
    let executions = state.executions.clone();
    executions
        .run(nodes, run_admitted(state, prepared, caller))
        .await
}

async fn run_admitted(state: AppState, mut prepared: Prepared, caller: Caller) -> Response {
    let credentials = Arc::new(Credentials::new(
        state.accounts.clone(),
        caller.authorization,
    ));
    // Whose request this is, for routing reads (with standbys only): the caller the request
    // is checked as anyway.
    let writer = reads::caller_of(&state, &credentials).await;
    let (db, end) = match prepared.kind {
        OperationType::Mutation => {
            let (db, end) = state.db.for_mutation();
            (db, Some(end))
        }
        OperationType::Query => (
            reads::route(
                &state,
                writer.as_deref(),
                caller.consistency_token.as_deref(),
            )
            .await,
            None,
        ),
        OperationType::Subscription => (state.db.clone(), None),
    };
    // A query a standby serves can run again on the primary if the standby fails it.
    let standby = db.standby().cloned();
    let spare = standby
        .as_ref()
        .and_then(|_| reads::spare(&mut prepared.request));
    let request = prepared.request;
    let mut response = run_on(&state, db, request, credentials.clone(), &caller.ip).await;
    if let (Some(standby), Some(spare)) = (standby, spare)
        && reads::standby_failed(&response)
    {
        standby.failed();
        let fallback = crate::db::standbys::Fallback::StandbyFailed;
        state.metrics.read("primary", Some(fallback.label()));
        response = run_on(&state, state.db.clone(), spare, credentials, &caller.ip).await;
    }
    if let Some(end) = end {
        end_mutation(end, &mut response).await;
        if response.errors.is_empty() {
            reads::consistency_token(&state, writer.as_deref(), &mut response).await;
        }
    }
    response
}

/// Executes `request` through `db`, its loads batched per level.
async fn run_on(
    state: &AppState,
    db: crate::db::Db,
    request: Request,
    credentials: Arc<Credentials>,
    ip: &str,
) -> Response {
    let loads = graphql::Loads::default();
    let caught = Arc::new(Caught::default());
    let request = graphql::with_request_data(
        request,
        state,
        db,
        credentials,
        ip.to_owned(),
        &loads,
        caught.clone(),
    );
    let mut response = loads.run(state.schema.execute(request)).await;
    finish(&mut response, &caught);
    response
}

/// Ends a mutation request's transaction: commits what it wrote if it answers without an
/// error; otherwise rolls it back and answers no data, since none of it was kept.
async fn end_mutation(end: RequestEnd, response: &mut Response) {
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

/// Completes the answer of an execution: the field errors `caught` (and `data` null when they
/// reach it), an `extensions.code` for every error (an error outside any field is a limit the
/// engine checked, such as complexity: `GRAPHQL_VALIDATION_FAILED`; an argument value refused
/// in a field, `BAD_USER_INPUT`), and the errors in the order of the document, so the same
/// request always gets the same answer.
pub fn finish(response: &mut Response, caught: &Caught) {
    let (errors, data_nulled) = caught.take();
    response.errors.extend(errors);
    if data_nulled {
        response.data = Value::Null;
    }
    for error in &mut response.errors {
        let code = if error.path.is_empty() {
            "GRAPHQL_VALIDATION_FAILED"
        } else {
            "BAD_USER_INPUT"
        };
        let extensions = error
            .extensions
            .get_or_insert_with(ErrorExtensionValues::default);
        if extensions.get("code").is_none() {
            extensions.set("code", code);
        }
    }
    response.errors.sort_by(|a, b| {
        let at = |error: &ServerError| error.locations.first().map(|pos| (pos.line, pos.column));
        at(a)
            .cmp(&at(b))
            .then_with(|| path_key(a).cmp(&path_key(b)))
    });
}

/// A path as a sortable key: names by text, indices by number.
fn path_key(error: &ServerError) -> Vec<(usize, &str)> {
    error
        .path
        .iter()
        .map(|segment| match segment {
            async_graphql::PathSegment::Field(name) => (0, name.as_str()),
            async_graphql::PathSegment::Index(index) => (*index, ""),
        })
        .collect()
}

/// `error` with `extensions.code` set to `code`.
pub(super) fn with_code(mut error: ServerError, code: &str) -> ServerError {
    error
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default)
        .set("code", code);
    error
}

/// The body of a request error: no `data`, only `errors`.
pub fn request_error(errors: &[ServerError]) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Errors<'e> {
        errors: &'e [ServerError],
    }
    serde_json::to_vec(&Errors { errors }).unwrap_or_default()
}

/// The body of a request error of one message.
pub fn error_body(code: &str, message: &str) -> Vec<u8> {
    request_error(&[with_code(ServerError::new(message, None), code)])
}
