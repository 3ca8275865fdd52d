//! Arbitrary bytes as request bodies, and arbitrary strings as tokens, IDs and cursors, through
//! the real router on an embedded database: the server answers, and never panics or fails with
//! a 500.
#![no_main]

use std::sync::OnceLock;

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

struct Harness {
    runtime: tokio::runtime::Runtime,
    router: Router,
    _folder: tempfile::TempDir,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let folder = tempfile::tempdir().expect("a folder");
        let url = format!("sqlite://{}?mode=rwc", folder.path().join("fuzz.db").display());
        let state = runtime.block_on(api::prepare(api::Config::with_database(url))).expect("a server");
        Harness { runtime, router: api::app(state), _folder: folder }
    })
}

fuzz_target!(|data: &[u8]| {
    let harness = harness();
    // The first byte picks what the rest is: a whole body, or a token / ID / cursor inside a
    // well-formed request.
    let (kind, rest) = data.split_first().unwrap_or((&0, data));
    let text = String::from_utf8_lossy(rest).into_owned();
    let (body, token) = match kind % 4 {
        0 => (rest.to_vec(), None),
        1 => (br#"{"query": "{ me { email } }"}"#.to_vec(), Some(text)),
        2 => {
            let query = serde_json::json!({ "query": "query($id: ID!) { node(id: $id) { id } user(id: $id) { id } }", "variables": { "id": text } });
            (query.to_string().into_bytes(), Some("Bearer x".to_owned()))
        }
        _ => {
            let query = serde_json::json!({ "query": "query($c: String) { users(after: $c) { totalCount } profiles(before: $c, last: 2) { totalCount } }", "variables": { "c": text } });
            (query.to_string().into_bytes(), None)
        }
    };
    let mut request = Request::post("/graphql").header("content-type", "application/json");
    if let Some(token) = token.filter(|token| axum::http::HeaderValue::from_str(token).is_ok()) {
        request = request.header("authorization", token);
    }
    let request = request.body(Body::from(body)).expect("a request");
    let response = harness.runtime.block_on(harness.router.clone().oneshot(request)).expect("an answer");
    assert_ne!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
});
