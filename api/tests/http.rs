//! GraphQL over HTTP: media types, status codes, GET, GraphiQL, health and body limits.

use serde_json::{Value, json};

use crate::{
    db_tests,
    helpers::{Backend, ServerProcess, TestApp, TestDatabase},
};

db_tests!(
    malformed_requests_get_http_errors,
    graphql_response_json_is_negotiated,
    get_executes_queries_but_not_mutations,
    answers_and_assets_are_compressed_as_the_client_accepts,
    browsers_get_graphiql,
    health_follows_the_database,
    oversized_bodies_are_refused,
    metrics_count_requests_statements_and_batches,
    logs_are_json_lines_carrying_the_request_id[own_server],
);

/// A query anyone may send.
const TYPENAME: &str = r#"{"query": "{ __typename }"}"#;
const JSON: &str = "application/json";

/// Posts `body` with these media types; the status, the answer's media type and its body.
async fn post(
    app: &TestApp,
    content_type: &str,
    accept: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, String, String) {
    let response = app
        .client()
        .post(format!("{}/graphql", app.url))
        .header("content-type", content_type)
        .header("accept", accept)
        .body(body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let media = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    let media = media.unwrap_or_default().to_owned();
    (status, media, response.text().await.expect("a body"))
}

fn code_of(body: &str) -> String {
    let value: Value = serde_json::from_str(body).expect("a JSON body");
    value["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn malformed_requests_get_http_errors(app: &TestApp) {
    let (status, _, body) = post(app, JSON, JSON, "{ not json").await;
    assert_eq!(status, 400);
    assert_eq!(code_of(&body), "BAD_REQUEST");
    let (status, _, _) = post(app, JSON, JSON, r#"{"variables": {}}"#).await;
    assert_eq!(status, 400, "a body without a query");
    let (status, _, _) = post(app, JSON, JSON, vec![0xff, 0xfe, 0x00]).await;
    assert_eq!(status, 400, "invalid UTF-8");
    let (status, _, _) = post(
        app,
        JSON,
        JSON,
        r#"{"query": "{ __typename }", "query": "{ me { id } }"}"#,
    )
    .await;
    assert_eq!(status, 400, "a duplicate key");
    let (status, _, body) = post(app, "text/plain", JSON, TYPENAME).await;
    assert_eq!(status, 415);
    assert_eq!(code_of(&body), "BAD_REQUEST");
    let (status, _, _) = post(app, JSON, "text/html", TYPENAME).await;
    assert_eq!(status, 406);
}

async fn graphql_response_json_is_negotiated(app: &TestApp) {
    let invalid = r#"{"query": "{ nope }"}"#;
    let modern = "application/graphql-response+json, application/json;q=0.9";

    let (status, media, body) = post(app, JSON, modern, TYPENAME).await;
    assert_eq!(
        (status, media.as_str()),
        (200, "application/graphql-response+json")
    );
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(body["data"], json!({ "__typename": "Query" }));
    let (status, media, body) = post(app, JSON, modern, invalid).await;
    assert_eq!(
        (status, media.as_str()),
        (400, "application/graphql-response+json")
    );
    assert_eq!(code_of(&body), "GRAPHQL_VALIDATION_FAILED");

    // Legacy clients get application/json and 200 for every well-formed request.
    let (status, media, _) = post(app, "application/json; charset=utf-8", JSON, invalid).await;
    assert_eq!((status, media.as_str()), (200, JSON));
    let (status, media, _) = post(app, JSON, "*/*", TYPENAME).await;
    assert_eq!((status, media.as_str()), (200, JSON));

    // Quality values decide: refused outright (q=0) or liked less, the modern type is not used.
    for accept in [
        "application/graphql-response+json;q=0, application/json",
        "application/graphql-response+json;q=0.5, application/json",
        "application/json, application/*;q=0.1",
    ] {
        let (status, media, _) = post(app, JSON, accept, invalid).await;
        assert_eq!((status, media.as_str()), (200, JSON), "{accept}");
    }
    let (_, media, _) = post(
        app,
        JSON,
        "application/*;q=0.9, application/graphql-response+json",
        TYPENAME,
    )
    .await;
    assert_eq!(media, "application/graphql-response+json");
    let (status, _, _) = post(app, JSON, "application/json;q=0, text/html", TYPENAME).await;
    assert_eq!(status, 406, "JSON refused with q=0");

    // Answers chosen by `Accept` say so, for caches.
    let response = app
        .client()
        .post(format!("{}/graphql", app.url))
        .header("content-type", JSON)
        .body(TYPENAME)
        .send()
        .await
        .expect("the server answers");
    let vary = response.headers().get_all("vary").iter();
    let vary: Vec<&str> = vary.filter_map(|value| value.to_str().ok()).collect();
    assert!(
        vary.iter()
            .any(|value| value.to_ascii_lowercase().contains("accept")),
        "{vary:?}"
    );
}

async fn get_executes_queries_but_not_mutations(app: &TestApp) {
    let ann = app.register("ann@example.com").await;
    app.create_profile(&ann, "Team").await;
    let get = |query: &'static str| {
        app.client()
            .get(format!("{}/graphql", app.url))
            .bearer_auth(&ann.token)
            .query(&[("query", query)])
            .send()
    };
    let response = get("query Names { profiles { nodes { name } } }")
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["data"]["profiles"]["nodes"],
        json!([{ "name": "Team" }])
    );

    let response = get("mutation { createProfile(name: \"Sneaky\") { id } }")
        .await
        .expect("answers");
    assert_eq!(response.status(), 405);
    let data = app
        .data_as(&ann.token, "{ profiles { totalCount } }", json!({}))
        .await;
    assert_eq!(data["profiles"]["totalCount"], 1, "a GET never writes");

    // The parameters GraphQL over HTTP names: `operationName` picks one operation of several,
    // `variables` is JSON.
    let parameters = |parameters: &[(&str, &str)]| {
        app.client()
            .get(format!("{}/graphql", app.url))
            .bearer_auth(&ann.token)
            .query(parameters)
            .send()
    };
    let document = "query A { me { email } } query B($first: Int) { profiles(first: $first) { nodes { name } } }";
    let response = parameters(&[
        ("query", document),
        ("operationName", "B"),
        ("variables", r#"{"first": 1}"#),
    ])
    .await
    .expect("answers");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!({ "data": { "profiles": { "nodes": [{ "name": "Team" }] } } })
    );
    let response = parameters(&[("query", document), ("variables", "{not json")])
        .await
        .expect("answers");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
}

async fn browsers_get_graphiql(app: &TestApp) {
    let response = app
        .client()
        .get(format!("{}/graphql", app.url))
        .header(
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        )
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/html")
    );
    let page = response.text().await.expect("a page");
    assert!(page.contains("graphiql"), "the GraphiQL page");
}

async fn health_follows_the_database(app: &TestApp) {
    let ann = app.register("ann@example.com").await;
    let health = format!("{}/health", app.url);
    let response = app.client().get(&health).send().await.expect("answers");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.expect("json"),
        json!({ "status": "ok" })
    );

    app.state
        .db
        .pool()
        .close_by_ref()
        .await
        .expect("the pool closes");
    let response = app.client().get(&health).send().await.expect("answers");
    assert_eq!(response.status(), 503);
    let failed = app.gql_as(&ann.token, "{ me { email } }", json!({})).await;
    assert_eq!(failed.code(), "SERVICE_UNAVAILABLE", "{}", failed.body);
}

async fn oversized_bodies_are_refused(app: &TestApp) {
    let padding = " ".repeat(300 * 1024);
    let body = format!(r#"{{"query": "{{ __typename }}{padding}"}}"#);
    let (status, _, _) = post(app, JSON, JSON, body).await;
    assert_eq!(status, 413);
}

/// The value of one sample in Prometheus text, by its name and labels as written.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {series} in:\n{metrics}"))
}

async fn metrics_count_requests_statements_and_batches(app: &TestApp) {
    let ann = app.register("ann@example.com").await;
    app.create_profile(&ann, "Team").await;
    app.create_profile(&ann, "Shop").await;
    let nested =
        "query Mine { me { profiles { nodes { users { totalCount nodes { email } } } } } }";
    for _ in 0..3 {
        app.data_as(&ann.token, nested, json!({})).await;
    }
    app.gql_as(&ann.token, "query Broken { me { nope } }", json!({}))
        .await;
    app.gql("query Mine { me { email } }", json!({})).await;
    let response = app
        .client()
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/plain")
    );
    let metrics = response.text().await.expect("text");
    assert_eq!(
        sample(
            &metrics,
            r#"roster_graphql_requests_total{operation="Mine",outcome="ok"}"#
        ),
        3.0
    );
    assert_eq!(
        sample(
            &metrics,
            r#"roster_graphql_requests_total{operation="Mine",outcome="error"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &metrics,
            r#"roster_graphql_requests_total{operation="Broken",outcome="invalid"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &metrics,
            r#"roster_graphql_request_duration_seconds_count{operation="Mine"}"#
        ),
        4.0
    );
    // The nested query: the caller, profiles, users, totals — 4 statements, 3 times.
    assert!(sample(&metrics, "roster_graphql_sql_statements_per_request_sum") >= 12.0);
    // One batch per level and request: both profiles' users in one batch of 2 keys.
    assert_eq!(
        sample(
            &metrics,
            r#"roster_dataloader_batch_size_count{loader="users_of_profile"}"#
        ),
        3.0
    );
    assert_eq!(
        sample(
            &metrics,
            r#"roster_dataloader_batch_size_sum{loader="users_of_profile"}"#
        ),
        6.0
    );
    assert!(metrics.contains(r#"roster_database_pool_connections{state="idle"}"#));
    assert!(metrics.contains(r#"roster_database_pool_connections{state="in_use"}"#));

    // Every answer carries a request id: the client's, or a new one.
    let response = app
        .client()
        .post(format!("{}/graphql", app.url))
        .header("x-request-id", "trace-me-42")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
    let ids: Vec<String> = futures_util::future::join_all((0..2).map(|_| {
        app.client()
            .post(format!("{}/graphql", app.url))
            .json(&json!({ "query": "{ __typename }" }))
            .send()
    }))
    .await
    .into_iter()
    .map(|response| {
        response.expect("answers").headers()["x-request-id"]
            .to_str()
            .expect("ascii")
            .to_owned()
    })
    .collect();
    assert_ne!(ids[0], ids[1]);
}

async fn logs_are_json_lines_carrying_the_request_id(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let env = [("LOG_FORMAT", "json"), ("RUST_LOG", "debug")];
    let server = ServerProcess::start(&database.url, &env).await;
    reqwest::Client::new()
        .post(format!("{}/graphql", server.url))
        .header("x-request-id", "find-me-7")
        .json(&json!({ "query": "{ me { email } }" }))
        .send()
        .await
        .expect("answers");
    let log = server.stop().await;
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let mine: Vec<&Value> = lines
        .iter()
        .filter(|line| line["span"]["request_id"] == "find-me-7")
        .collect();
    assert!(mine.len() >= 2, "the request's lines carry its id: {log}");
    assert!(
        mine.iter()
            .all(|line| line["timestamp"].is_string() && line["level"].is_string())
    );
}

/// What a client that accepts `encoding` gets for a GET of `path`, or a POST of `body`: the
/// `Content-Encoding` and the body decoded.
async fn fetch(app: &TestApp, path: &str, body: Option<&str>, encoding: &str) -> (String, Vec<u8>) {
    use std::io::Read;
    let url = format!("{}{path}", app.url);
    let request = match body {
        Some(body) => app
            .client()
            .post(url)
            .header("content-type", JSON)
            .body(body.to_owned()),
        None => app.client().get(url),
    };
    let response = request
        .header("accept-encoding", encoding)
        .send()
        .await
        .expect("the server answers");
    let used = response
        .headers()
        .get("content-encoding")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("identity")
        .to_owned();
    let bytes = response.bytes().await.expect("a body").to_vec();
    let mut decoded = Vec::new();
    match used.as_str() {
        "gzip" => {
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut decoded)
                .expect("gzip");
        }
        "br" => {
            brotli_decompressor::Decompressor::new(&bytes[..], 4096)
                .read_to_end(&mut decoded)
                .expect("brotli");
        }
        _ => decoded = bytes,
    }
    (used, decoded)
}

async fn answers_and_assets_are_compressed_as_the_client_accepts(app: &TestApp) {
    let introspection =
        r#"{"query": "{ __schema { types { name description fields { name description } } } }"}"#;
    let (identity, plain) = fetch(app, "/graphql", Some(introspection), "identity").await;
    assert_eq!(identity, "identity");
    assert!(
        plain.len() > 10_000,
        "a large answer: {} bytes",
        plain.len()
    );
    for (accepted, used) in [
        ("gzip", "gzip"),
        ("gzip, br", "br"),
        ("br;q=0, gzip", "gzip"),
    ] {
        let (encoding, decoded) = fetch(app, "/graphql", Some(introspection), accepted).await;
        assert_eq!(encoding, used, "{accepted}");
        assert_eq!(decoded, plain, "{accepted}: the same answer once decoded");
    }
    // Small answers are not worth it.
    let (encoding, _) = fetch(app, "/graphql", Some(TYPENAME), "gzip, br").await;
    assert_eq!(encoding, "identity");
    // GraphiQL's assets too.
    let asset = "/graphiql/graphiql.min.js";
    let (_, script) = fetch(app, asset, None, "identity").await;
    let (encoding, decoded) = fetch(app, asset, None, "br").await;
    assert_eq!((encoding.as_str(), decoded.len()), ("br", script.len()));
}
