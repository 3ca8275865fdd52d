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
    /// The media type the client prefers by its `Accept` header (RFC 9110, section 12.5.1:
    /// each type gets the quality of the most specific range that matches it; `q=0` refuses
    /// it). `application/graphql-response+json` is chosen when the client names it and likes
    /// it at least as much as `application/json`; a client that names neither but accepts
    /// `*/*` (or sends no `Accept`) gets `application/json`, as the GraphQL over HTTP
    /// specification asks for legacy clients. `None` when the client accepts neither.
    pub fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("*/*");
        let (modern, named) = quality(accept, GRAPHQL_RESPONSE_JSON);
        let (json, _) = quality(accept, JSON);
        if named && modern > 0.0 && modern >= json {
            Some(Format::GraphQLResponseJson)
        } else if json > 0.0 {
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

    /// The status of an answer: 400 for a request that is not one; with
    /// `application/graphql-response+json`, also 400 for a request that was refused before it
    /// ran and 404 for one that names a persisted document this server does not hold; 200
    /// otherwise.
    pub fn status(self, verdict: exec::Verdict) -> StatusCode {
        match (self, verdict) {
            (_, exec::Verdict::Executed) => StatusCode::OK,
            (_, exec::Verdict::Malformed) => StatusCode::BAD_REQUEST,
            (Format::Json, _) => StatusCode::OK,
            (Format::GraphQLResponseJson, exec::Verdict::Refused) => StatusCode::BAD_REQUEST,
            (Format::GraphQLResponseJson, exec::Verdict::Missing) => StatusCode::NOT_FOUND,
        }
    }

    /// An answer with this JSON body; its media type was chosen by `Accept`, and what it
    /// holds depends on `Authorization`: caches must key it by both.
    pub fn answer(self, status: StatusCode, body: Vec<u8>) -> Response {
        let headers = [
            (header::CONTENT_TYPE, self.media_type()),
            (header::VARY, "accept, authorization"),
        ];
        (status, headers, body).into_response()
    }
}

/// The quality `accept` gives the media type `media`, and whether a range names it exactly:
/// that of its most specific matching range, 0 when none matches. Ranges that do not parse are
/// ignored.
fn quality(accept: &str, media: &str) -> (f32, bool) {
    let kind = media.split('/').next().unwrap_or(media);
    let mut best: Option<(u8, f32)> = None;
    for range in accept.split(',') {
        let Ok(range) = range.trim().parse::<mime::Mime>() else {
            continue;
        };
        let specificity = match (range.type_().as_str(), range.subtype().as_str()) {
            _ if range.essence_str().eq_ignore_ascii_case(media) => 2,
            (t, "*") if t.eq_ignore_ascii_case(kind) => 1,
            ("*", "*") => 0,
            _ => continue,
        };
        let q = range
            .get_param("q")
            .and_then(|q| q.as_str().parse::<f32>().ok())
            .filter(|q| (0.0..=1.0).contains(q))
            .unwrap_or(1.0);
        if best.is_none_or(|(seen, _)| specificity > seen) {
            best = Some((specificity, q));
        }
    }
    best.map_or((0.0, false), |(specificity, q)| (q, specificity == 2))
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
