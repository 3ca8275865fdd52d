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
        .conn()
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
