//! Where a request's reads go when standbys serve query operations (`db::standbys`): the
//! standby or the primary a query reads from, running a query again on the primary when its
//! standby fails it (no client sees a standby's failure), and the consistency token a
//! committed mutation answers.

use async_graphql::{Request, Response, Value};

use crate::{
    AppState,
    auth::{Auth, Credentials},
    db::{
        Db,
        standbys::{Fallback, Lsn, ReadTarget, position_after_commit},
    },
};

/// The uniquifier of the request's caller, when standbys serve reads and the caller is a user:
/// what routes their reads after their writes.
pub(super) async fn caller_of(state: &AppState, credentials: &Credentials) -> Option<String> {
    state.db.standbys()?;
    match credentials.auth().await {
        Auth::User(viewer) => Some(viewer.user.fs_uniquifier.clone()),
        Auth::Anonymous | Auth::Refused(_) => None,
    }
}

/// Where the answer of a mutation carries its consistency token.
pub(super) const CONSISTENCY_TOKEN: &str = "consistencyToken";

/// The handle a query operation reads through: a standby's, when one may serve this caller
/// (whose tokens carry `reader`, and who sent the consistency token `token`) now.
pub(super) async fn route(state: &AppState, reader: Option<&str>, token: Option<&str>) -> Db {
    let Some(standbys) = state.db.standbys() else {
        return state.db.clone();
    };
    let target = match token.map(Lsn::parse) {
        // Not a WAL position: the primary, which has every write.
        Some(None) => ReadTarget::Primary(Fallback::NotReplayed),
        Some(Some(token)) => standbys.target(reader, Some(token)).await,
        None => standbys.target(reader, None).await,
    };
    match target {
        ReadTarget::Standby(standby) => {
            state.metrics.read(&standby.name, None);
            state.db.reading_from(standby)
        }
        ReadTarget::Primary(fallback) => {
            state.metrics.read("primary", Some(fallback.label()));
            state.db.clone()
        }
    }
}

/// Gives a committed mutation's answer its consistency token (the primary's WAL position
/// after the commit), and notes that its caller (whose tokens carry `writer`) wrote, when
/// standbys serve reads. A failure to read the position costs the client nothing but the
/// token.
pub(super) async fn consistency_token(
    state: &AppState,
    writer: Option<&str>,
    response: &mut Response,
) {
    let Some(standbys) = state.db.standbys() else {
        return;
    };
    if let Some(writer) = writer {
        standbys.wrote(writer);
    }
    match position_after_commit(state.db.pool()).await {
        Ok(Some(position)) => {
            let token = Value::from(position.to_string());
            response
                .extensions
                .insert(CONSISTENCY_TOKEN.to_owned(), token);
        }
        Ok(None) => {}
        Err(err) => tracing::warn!(error = %err, "could not read the WAL position of a commit"),
    }
}

/// A copy of a prepared `request` (its document already parsed and normalized), to run again.
pub(super) fn spare(request: &mut Request) -> Option<Request> {
    let document = request.parsed_query().ok()?.clone();
    let mut copy = Request::new(request.query.clone()).variables(request.variables.clone());
    copy.operation_name.clone_from(&request.operation_name);
    copy.extensions.clone_from(&request.extensions);
    copy.introspection_mode = request.introspection_mode;
    copy.set_parsed_query(document);
    Some(copy)
}

/// Whether the database failed `response` (`SERVICE_UNAVAILABLE`).
pub(super) fn standby_failed(response: &Response) -> bool {
    response.errors.iter().any(|error| {
        error
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("code"))
            == Some(&Value::from("SERVICE_UNAVAILABLE"))
    })
}
