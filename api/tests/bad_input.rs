//! Bad input gets a clear error with `extensions.code` and writes nothing.

use serde_json::{Value, json};

use crate::{
    db_tests,
    helpers::{Gql, TestApp},
};

db_tests!(
    malformed_and_unknown_ids,
    bad_profile_names_write_nothing,
    bad_and_duplicate_emails_write_nothing,
    page_arguments_out_of_range,
    cursors_that_are_not_ours,
    missing_targets_of_mutations_write_nothing,
    variables_of_the_wrong_type,
);

/// Sends `query` and checks it was refused with `code` and a message, and no data.
async fn refused(app: &TestApp, query: &str, variables: Value, code: &str) -> Gql {
    let response = app.gql(query, variables).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.code(), code, "{}", response.body);
    let message = response.body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(!message.is_empty(), "{}", response.body);
    assert!(
        !message.to_lowercase().contains("sql"),
        "leaks internals: {message}"
    );
    response
}

async fn totals(app: &TestApp) -> Value {
    app.data(
        "{ users { totalCount } profiles { totalCount } }",
        json!({}),
    )
    .await
}

async fn malformed_and_unknown_ids(app: &TestApp) {
    let ann = app.create_user("ann@example.com").await;
    for garbage in [
        "",
        "nope",
        "VXNlcjo=",
        "VXNlcjotMQ==",
        "VXNlcjo5OTk5OTk5OTk5OTk5OTk5OTk5OTk=",
        "Rm9vOjE=",
    ] {
        let response = refused(
            app,
            "query($id: ID!) { user(id: $id) { email } }",
            json!({ "id": garbage }),
            "BAD_USER_INPUT",
        )
        .await;
        assert_eq!(response.body["data"]["user"], json!(null));
        refused(
            app,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": garbage }),
            "BAD_USER_INPUT",
        )
        .await;
    }
    // An ID of another type is refused where a profile is expected.
    refused(
        app,
        "query($id: ID!) { profile(id: $id) { name } }",
        json!({ "id": ann }),
        "BAD_USER_INPUT",
    )
    .await;
    // A well-formed ID of nothing is simply null.
    let unknown = api::graphql::NodeId::user(9_999_999);
    let data = app
        .data(
            "query($id: ID!) { user(id: $id) { email } node(id: $id) { id } }",
            json!({ "id": unknown }),
        )
        .await;
    assert_eq!(data, json!({ "user": null, "node": null }));
}

async fn bad_profile_names_write_nothing(app: &TestApp) {
    let before = totals(app).await;
    let too_long = "x".repeat(256);
    for name in ["", "   ", too_long.as_str(), "bad\u{0}name", "tab\tname"] {
        refused(
            app,
            "mutation($n: String!) { createProfile(name: $n) { id } }",
            json!({ "n": name }),
            "BAD_USER_INPUT",
        )
        .await;
    }
    assert_eq!(totals(app).await, before);
    // 255 characters (not bytes) is the limit.
    let longest = "é".repeat(255);
    let team = app.create_profile(&longest).await;
    refused(
        app,
        "mutation($id: ID!, $n: String!) { updateProfile(id: $id, name: $n) { id } }",
        json!({ "id": team, "n": too_long }),
        "BAD_USER_INPUT",
    )
    .await;
    let data = app
        .data(
            "query($id: ID!) { profile(id: $id) { name } }",
            json!({ "id": team }),
        )
        .await;
    assert_eq!(data["profile"]["name"], longest);
}

async fn bad_and_duplicate_emails_write_nothing(app: &TestApp) {
    app.create_user("Ann@Example.com").await;
    let before = totals(app).await;
    for email in [
        "",
        "plain",
        "a@",
        "@example.com",
        "a b@example.com",
        "ann@example.com\u{0}",
    ] {
        refused(
            app,
            "mutation($e: String!) { createUser(email: $e) { id } }",
            json!({ "e": email }),
            "BAD_USER_INPUT",
        )
        .await;
    }
    for email in ["ann@example.com", "ANN@EXAMPLE.COM", " Ann@example.com "] {
        let response = refused(
            app,
            "mutation($e: String!) { createUser(email: $e) { id } }",
            json!({ "e": email }),
            "CONFLICT",
        )
        .await;
        assert_eq!(
            response.body["errors"][0]["message"],
            "a user with this email already exists"
        );
    }
    assert_eq!(totals(app).await, before);
}

async fn page_arguments_out_of_range(app: &TestApp) {
    let team = app.create_profile("Team").await;
    for first in [-1, 101, i32::MAX] {
        refused(
            app,
            "query($f: Int) { users(first: $f) { totalCount } }",
            json!({ "f": first }),
            "BAD_USER_INPUT",
        )
        .await;
        refused(
            app,
            "query($id: ID!, $f: Int) { profile(id: $id) { users(first: $f) { totalCount } } }",
            json!({ "id": team, "f": first }),
            "BAD_USER_INPUT",
        )
        .await;
    }
    let data = app
        .data(
            "{ users(first: 100) { totalCount } profiles(first: 0) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["profiles"]["nodes"], json!([]));
}

async fn cursors_that_are_not_ours(app: &TestApp) {
    app.create_user("ann@example.com").await;
    app.create_profile("Team").await;
    let data = app
        .data("{ users(first: 1) { pageInfo { endCursor } } }", json!({}))
        .await;
    let user_cursor = data["users"]["pageInfo"]["endCursor"].clone();
    for after in [
        json!("garbage"),
        json!(""),
        json!("W10"),
        json!("WyJ1c2VycyIsIklEIiwiMSJd"),
    ] {
        refused(
            app,
            "query($a: String) { users(after: $a) { totalCount } }",
            json!({ "a": after }),
            "BAD_USER_INPUT",
        )
        .await;
    }
    // A cursor of the users list is refused by the profiles list and by nested lists.
    refused(
        app,
        "query($a: String) { profiles(after: $a) { totalCount } }",
        json!({ "a": user_cursor }),
        "BAD_USER_INPUT",
    )
    .await;
    refused(
        app,
        "query($a: String) { profiles { nodes { users(after: $a) { totalCount } } } }",
        json!({ "a": user_cursor }),
        "BAD_USER_INPUT",
    )
    .await;
}

async fn missing_targets_of_mutations_write_nothing(app: &TestApp) {
    let ann = app.create_user("ann@example.com").await;
    let team = app.create_profile("Team").await;
    let no_profile = api::graphql::NodeId::profile(424_242);
    let no_user = api::graphql::NodeId::user(424_242);
    refused(
        app,
        "mutation($id: ID!) { updateProfile(id: $id, name: \"X\") { id } }",
        json!({ "id": no_profile }),
        "NOT_FOUND",
    )
    .await;
    refused(
        app,
        "mutation($id: ID!) { deleteProfile(id: $id) }",
        json!({ "id": no_profile }),
        "NOT_FOUND",
    )
    .await;
    refused(
        app,
        "mutation($id: ID!) { deleteUser(id: $id) }",
        json!({ "id": no_user }),
        "NOT_FOUND",
    )
    .await;
    let link =
        "mutation($p: ID!, $u: ID!) { addProfileManager(profileId: $p, userId: $u) { changed } }";
    refused(app, link, json!({ "p": team, "u": no_user }), "NOT_FOUND").await;
    refused(app, link, json!({ "p": no_profile, "u": ann }), "NOT_FOUND").await;
    // IDs swapped: a user's ID where a profile's is expected.
    refused(app, link, json!({ "p": ann, "u": team }), "BAD_USER_INPUT").await;
    let data = app
        .data(
            "query($id: ID!) { profile(id: $id) { users { totalCount } } }",
            json!({ "id": team }),
        )
        .await;
    assert_eq!(data["profile"]["users"]["totalCount"], 0);
}

async fn variables_of_the_wrong_type(app: &TestApp) {
    let response = app
        .gql(
            "query($f: Int) { users(first: $f) { totalCount } }",
            json!({ "f": "ten" }),
        )
        .await;
    assert_eq!(
        response.code(),
        "GRAPHQL_VALIDATION_FAILED",
        "{}",
        response.body
    );
    let response = app
        .gql("mutation { createProfile(name: 42) { id } }", json!({}))
        .await;
    assert_eq!(
        response.code(),
        "GRAPHQL_VALIDATION_FAILED",
        "{}",
        response.body
    );
    let response = app.gql("{ users { nope } }", json!({})).await;
    assert_eq!(
        response.code(),
        "GRAPHQL_VALIDATION_FAILED",
        "{}",
        response.body
    );
    let response = app.gql("{ users { ", json!({})).await;
    assert_eq!(response.code(), "GRAPHQL_PARSE_FAILED", "{}", response.body);
    assert_eq!(
        totals(app).await,
        json!({ "users": { "totalCount": 0 }, "profiles": { "totalCount": 0 } })
    );
}
