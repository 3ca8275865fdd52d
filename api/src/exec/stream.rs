//! Operations that async-graphql's WebSocket protocol runs (subscriptions, and queries sent
//! over the socket) go through the same preparation as requests over HTTP.

use std::sync::Arc;

use async_graphql::{Data, Executor, Request, Response};
use futures_util::{FutureExt, StreamExt, stream::BoxStream};

use super::{Stop, finish, prepare};
use crate::{
    AppState,
    auth::Credentials,
    graphql::{self, Caught},
};

/// The data of a WebSocket connection whose caller is `credentials`, from `ip`: what its
/// operations run with.
pub fn connection_data(state: &AppState, credentials: Arc<Credentials>, ip: String) -> Data {
    graphql::connection_data(state, credentials, ip)
}

/// The executor async-graphql's WebSocket drives.
#[derive(Clone)]
pub struct Subscriptions(pub AppState);

impl Executor for Subscriptions {
    async fn execute(&self, request: Request) -> Response {
        let mut answers = self.execute_stream(request, None);
        answers.next().await.unwrap_or_default()
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let state = self.0.clone();
        async move {
            match prepare(&state, request, false).await {
                Ok(prepared) => {
                    let caught = Arc::new(Caught::default());
                    let mut request = prepared.request.data(caught.clone());
                    if let Some(session) = &session_data {
                        request = graphql::with_operation_data(request, &state, session);
                    }
                    state
                        .schema
                        .execute_stream_with_session_data(request, session_data.unwrap_or_default())
                        .map(move |mut response| {
                            finish(&mut response, &caught);
                            response
                        })
                        .boxed()
                }
                Err(Stop::Refused { errors, .. }) => {
                    futures_util::stream::once(async { Response::from_errors(errors) }).boxed()
                }
                // Mutations never reach the protocol: the socket runs them as over HTTP.
                Err(Stop::MutationNotAllowed) => futures_util::stream::empty().boxed(),
            }
        }
        .flatten_stream()
        .boxed()
    }
}
