//! How GraphQL answers are written: the media type a client accepts, status codes, and the
//! error bodies of requests that were not executed.

use axum::{
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::exec;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
pub const JSON: &str = "application/json";

/// The media type of the answer, chosen from the request's `Accept` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    GraphQLResponseJson,
    Json,
}

impl Format {
    /// `None` when the client accepts neither JSON media type.
    pub fn negotiate(headers: &HeaderMap) -> Option<Self> {
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

    /// The status of an answer: with `application/graphql-response+json`, 400 for a request
    /// that was not executed; 200 otherwise.
    pub fn status(self, executed: bool) -> StatusCode {
        if self == Format::GraphQLResponseJson && !executed {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        }
    }

    /// An answer with this JSON body.
    pub fn answer(self, status: StatusCode, body: Vec<u8>) -> Response {
        (status, [(header::CONTENT_TYPE, self.media_type())], body).into_response()
    }
}

/// An answer to a request that could not be executed, in the GraphQL response shape.
pub fn request_error(format: Format, status: StatusCode, code: &str, message: &str) -> Response {
    format.answer(status, exec::error_body(code, message))
}

pub fn not_acceptable() -> Response {
    let message =
        "this endpoint answers with application/graphql-response+json or application/json";
    request_error(
        Format::Json,
        StatusCode::NOT_ACCEPTABLE,
        "BAD_REQUEST",
        message,
    )
}

pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(JSON))
}

pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}
