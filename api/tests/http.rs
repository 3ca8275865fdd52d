//! GraphQL over HTTP: media types, status codes, GET, GraphiQL, health and body limits.

use serde_json::{Value, json};

use crate::{db_tests, helpers::TestApp};

db_tests!(
    malformed_requests_get_http_errors,
    graphql_response_json_is_negotiated,
    get_executes_queries_but_not_mutations,
    browsers_get_graphiql,
    health_follows_the_database,
    oversized_bodies_are_refused,
);

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
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
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
    let (status, _, body) = post(app, "application/json", "application/json", "{ not json").await;
    assert_eq!(status, 400);
    assert_eq!(code_of(&body), "BAD_REQUEST");
    let (status, _, _) = post(
        app,
        "application/json",
        "application/json",
        r#"{"variables": {}}"#,
    )
    .await;
    assert_eq!(status, 400, "a body without a query");
    let (status, _, _) = post(
        app,
        "application/json",
        "application/json",
        vec![0xff, 0xfe, 0x00],
    )
    .await;
    assert_eq!(status, 400, "invalid UTF-8");
    let (status, _, body) = post(
        app,
        "text/plain",
        "application/json",
        r#"{"query": "{ users { totalCount } }"}"#,
    )
    .await;
    assert_eq!(status, 415);
    assert_eq!(code_of(&body), "BAD_REQUEST");
    let (status, _, _) = post(
        app,
        "application/json",
        "text/html",
        r#"{"query": "{ users { totalCount } }"}"#,
    )
    .await;
    assert_eq!(status, 406);
}

async fn graphql_response_json_is_negotiated(app: &TestApp) {
    let ok = r#"{"query": "{ users { totalCount } }"}"#;
    let invalid = r#"{"query": "{ users { nope } }"}"#;
    let modern = "application/graphql-response+json, application/json;q=0.9";

    let (status, media, body) = post(app, "application/json", modern, ok).await;
    assert_eq!(
        (status, media.as_str()),
        (200, "application/graphql-response+json")
    );
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("json")["data"],
        json!({ "users": { "totalCount": 0 } })
    );
    let (status, media, body) = post(app, "application/json", modern, invalid).await;
    assert_eq!(
        (status, media.as_str()),
        (400, "application/graphql-response+json")
    );
    assert_eq!(code_of(&body), "GRAPHQL_VALIDATION_FAILED");

    // Legacy clients get application/json and 200 for every well-formed request.
    let (status, media, _) = post(
        app,
        "application/json; charset=utf-8",
        "application/json",
        invalid,
    )
    .await;
    assert_eq!((status, media.as_str()), (200, "application/json"));
    let (status, media, _) = post(app, "application/json", "*/*", ok).await;
    assert_eq!((status, media.as_str()), (200, "application/json"));
}

async fn get_executes_queries_but_not_mutations(app: &TestApp) {
    app.create_profile("Team").await;
    let response = app
        .client()
        .get(format!("{}/graphql", app.url))
        .query(&[
            ("query", "query Names { profiles { nodes { name } } }"),
            ("operationName", "Names"),
        ])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["data"]["profiles"]["nodes"],
        json!([{ "name": "Team" }])
    );

    let response = app
        .client()
        .get(format!("{}/graphql", app.url))
        .query(&[(
            "query",
            "mutation { createProfile(name: \"Sneaky\") { id } }",
        )])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 405);
    let data = app.data("{ profiles { totalCount } }", json!({})).await;
    assert_eq!(data["profiles"]["totalCount"], 1, "a GET never writes");
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
    let health = format!("{}/health", app.url);
    let response = app.client().get(&health).send().await.expect("answers");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.expect("json"),
        json!({ "status": "ok" })
    );

    app.state
        .db
        .conn()
        .close_by_ref()
        .await
        .expect("the pool closes");
    let response = app.client().get(&health).send().await.expect("answers");
    assert_eq!(response.status(), 503);
    let failed = app.gql("{ users { totalCount } }", json!({})).await;
    assert_eq!(failed.code(), "SERVICE_UNAVAILABLE", "{}", failed.body);
}

async fn oversized_bodies_are_refused(app: &TestApp) {
    let padding = " ".repeat(300 * 1024);
    let body = format!(r#"{{"query": "{{ users {{ totalCount }} }}{padding}"}}"#);
    let (status, _, _) = post(app, "application/json", "application/json", body).await;
    assert_eq!(status, 413);
}
