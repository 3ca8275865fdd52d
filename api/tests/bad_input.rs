//! Bad input gets a clear error with `extensions.code` and writes nothing.

use serde_json::{Value, json};

use crate::{
    db_tests,
    helpers::{Gql, PASSWORD, TestApp},
};

db_tests!(
    malformed_and_unknown_ids,
    bad_profile_names_write_nothing,
    bad_emails_and_passwords_write_nothing,
    page_arguments_out_of_range,
    filter_texts_are_bounded,
    cursors_that_are_not_ours,
    missing_targets_of_mutations_write_nothing,
    variables_of_the_wrong_type,
);

/// Sends `query` as `token` (without a token when it is empty) and checks it was refused with
/// `code` and a message.
async fn refused(app: &TestApp, token: &str, query: &str, variables: Value, code: &str) -> Gql {
    let response = if token.is_empty() {
        app.gql(query, variables).await
    } else {
        app.gql_as(token, query, variables).await
    };
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

async fn totals(app: &TestApp, token: &str) -> Value {
    app.data_as(
        token,
        "{ users { totalCount } profiles { totalCount } }",
        json!({}),
    )
    .await
}

async fn malformed_and_unknown_ids(app: &TestApp) {
    let admin = app.admin().await;
    let token = admin.token.as_str();
    let garbage = [
        "",
        "nope",
        "VXNlcjo=",
        "VXNlcjotMQ==",
        "VXNlcjo5OTk5OTk5OTk5OTk5OTk5OTk5OTk=",
        "Rm9vOjE=",
    ];
    for id in garbage {
        let user = "query($id: ID!) { user(id: $id) { email } }";
        let response = refused(app, token, user, json!({ "id": id }), "BAD_USER_INPUT").await;
        assert_eq!(response.body["data"]["user"], json!(null));
        let node = "query($id: ID!) { node(id: $id) { id } }";
        refused(app, token, node, json!({ "id": id }), "BAD_USER_INPUT").await;
    }
    // An ID of another type is refused where a profile is expected.
    let profile = "query($id: ID!) { profile(id: $id) { name } }";
    refused(
        app,
        token,
        profile,
        json!({ "id": admin.id }),
        "BAD_USER_INPUT",
    )
    .await;
    // A well-formed ID of nothing is simply null.
    let unknown = api::graphql::NodeId::user(9_999_999);
    let data = app
        .data_as(
            token,
            "query($id: ID!) { user(id: $id) { email } node(id: $id) { id } }",
            json!({ "id": unknown }),
        )
        .await;
    assert_eq!(data, json!({ "user": null, "node": null }));
}

async fn bad_profile_names_write_nothing(app: &TestApp) {
    let admin = app.admin().await;
    let token = admin.token.as_str();
    let before = totals(app, token).await;
    let too_long = "x".repeat(256);
    let create = "mutation($n: String!) { createProfile(name: $n) { id } }";
    for name in ["", "   ", too_long.as_str(), "bad\u{0}name", "tab\tname"] {
        refused(app, token, create, json!({ "n": name }), "BAD_USER_INPUT").await;
    }
    assert_eq!(totals(app, token).await, before);
    // 255 characters (not bytes) is the limit.
    let longest = "é".repeat(255);
    let team = app.create_profile(&admin, &longest).await;
    let update = "mutation($id: ID!, $n: String!) { updateProfile(id: $id, name: $n) { id } }";
    refused(
        app,
        token,
        update,
        json!({ "id": team, "n": too_long }),
        "BAD_USER_INPUT",
    )
    .await;
    let data = app
        .data_as(
            token,
            "query($id: ID!) { profile(id: $id) { name } }",
            json!({ "id": team }),
        )
        .await;
    assert_eq!(data["profile"]["name"], longest);
}

async fn bad_emails_and_passwords_write_nothing(app: &TestApp) {
    app.register("Ann@Example.com").await;
    let admin = app.admin().await;
    let before = totals(app, &admin.token).await;
    let register = "mutation($e: String!, $p: String!) {
        register(input: { email: $e, password: $p }) { email }
    }";
    for email in [
        "",
        "plain",
        "a@",
        "@example.com",
        "a b@example.com",
        "ann@example.com\u{0}",
    ] {
        let vars = json!({ "e": email, "p": PASSWORD });
        refused(app, "", register, vars, "BAD_USER_INPUT").await;
    }
    // An address with an account is answered as a new one, and makes no second account.
    for email in ["ann@example.com", "ANN@EXAMPLE.COM", " Ann@example.com "] {
        let vars = json!({ "e": email, "p": PASSWORD });
        let response = app.gql(register, vars).await;
        assert!(response.errors().is_empty(), "{}", response.body);
    }
    for password in ["short", "1234567", &"x".repeat(129)] {
        let vars = json!({ "e": "new@example.com", "p": password });
        refused(app, "", register, vars, "BAD_USER_INPUT").await;
    }
    assert_eq!(totals(app, &admin.token).await, before);
}

async fn page_arguments_out_of_range(app: &TestApp) {
    let admin = app.admin().await;
    let token = admin.token.as_str();
    let team = app.create_profile(&admin, "Team").await;
    for first in [-1, 101, i32::MAX] {
        let top = "query($f: Int) { users(first: $f) { totalCount } }";
        refused(app, token, top, json!({ "f": first }), "BAD_USER_INPUT").await;
        let nested =
            "query($id: ID!, $f: Int) { profile(id: $id) { users(first: $f) { totalCount } } }";
        refused(
            app,
            token,
            nested,
            json!({ "id": team, "f": first }),
            "BAD_USER_INPUT",
        )
        .await;
    }
    let data = app
        .data_as(
            token,
            "{ users(first: 100) { totalCount } profiles(first: 0) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["profiles"]["nodes"], json!([]));
}

async fn filter_texts_are_bounded(app: &TestApp) {
    let admin = app.admin().await;
    let token = admin.token.as_str();
    let team = app.create_profile(&admin, "Ä Team").await;
    let long = "a".repeat(200_000);
    for query in [
        "query($t: String) { users(filter: { emailContains: $t }) { totalCount } }",
        "query($t: String) { profiles(filter: { nameContains: $t }) { totalCount } }",
        "query($t: String) { me { profiles(filter: { nameContains: $t }) { totalCount } } }",
    ] {
        refused(app, token, query, json!({ "t": long }), "BAD_USER_INPUT").await;
    }
    let nested = "query($id: ID!, $t: String) { profile(id: $id) { users(filter: { emailContains: $t }) { totalCount } } }";
    refused(
        app,
        token,
        nested,
        json!({ "id": team, "t": long }),
        "BAD_USER_INPUT",
    )
    .await;
    // As long as the longest name is accepted.
    let name = "a".repeat(255);
    let data = app
        .data_as(
            token,
            "query($t: String) { profiles(filter: { nameContains: $t }) { totalCount } }",
            json!({ "t": name }),
        )
        .await;
    assert_eq!(data["profiles"]["totalCount"], 0);
}

async fn cursors_that_are_not_ours(app: &TestApp) {
    let admin = app.admin().await;
    let token = admin.token.as_str();
    app.create_profile(&admin, "Team").await;
    let data = app
        .data_as(
            token,
            "{ users(first: 1) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let user_cursor = data["users"]["pageInfo"]["endCursor"].clone();
    let users = "query($a: String) { users(after: $a) { totalCount } }";
    for after in [
        json!("garbage"),
        json!(""),
        json!("W10"),
        json!("WyJ1c2VycyIsIklEIiwiMSJd"),
    ] {
        refused(app, token, users, json!({ "a": after }), "BAD_USER_INPUT").await;
    }
    // A cursor of the users list is refused by the profiles list and by nested lists.
    let profiles = "query($a: String) { profiles(after: $a) { totalCount } }";
    refused(
        app,
        token,
        profiles,
        json!({ "a": user_cursor }),
        "BAD_USER_INPUT",
    )
    .await;
    let nested = "query($a: String) { profiles { nodes { users(after: $a) { totalCount } } } }";
    refused(
        app,
        token,
        nested,
        json!({ "a": user_cursor }),
        "BAD_USER_INPUT",
    )
    .await;
}

async fn missing_targets_of_mutations_write_nothing(app: &TestApp) {
    let admin = app.admin().await;
    let token = admin.token.as_str();
    let team = app.create_profile(&admin, "Team").await;
    let no_profile = api::graphql::NodeId::profile(424_242);
    let no_user = api::graphql::NodeId::user(424_242);
    let update = "mutation($id: ID!) { updateProfile(id: $id, name: \"X\") { id } }";
    refused(app, token, update, json!({ "id": no_profile }), "NOT_FOUND").await;
    let delete = "mutation($id: ID!) { deleteProfile(id: $id) }";
    refused(app, token, delete, json!({ "id": no_profile }), "NOT_FOUND").await;
    let delete_user = "mutation($id: ID!) { deleteUser(id: $id) }";
    refused(
        app,
        token,
        delete_user,
        json!({ "id": no_user }),
        "NOT_FOUND",
    )
    .await;
    let link =
        "mutation($p: ID!, $u: ID!) { addProfileManager(profileId: $p, userId: $u) { changed } }";
    refused(
        app,
        token,
        link,
        json!({ "p": team, "u": no_user }),
        "NOT_FOUND",
    )
    .await;
    refused(
        app,
        token,
        link,
        json!({ "p": no_profile, "u": admin.id }),
        "NOT_FOUND",
    )
    .await;
    // IDs swapped: a user's ID where a profile's is expected.
    refused(
        app,
        token,
        link,
        json!({ "p": admin.id, "u": team }),
        "BAD_USER_INPUT",
    )
    .await;
    let data = app
        .data_as(
            token,
            "query($id: ID!) { profile(id: $id) { users { totalCount } } }",
            json!({ "id": team }),
        )
        .await;
    assert_eq!(data["profile"]["users"]["totalCount"], 1);
}

async fn variables_of_the_wrong_type(app: &TestApp) {
    let admin = app.admin().await;
    let token = admin.token.as_str();
    let cases = [
        (
            "query($f: Int) { users(first: $f) { totalCount } }",
            json!({ "f": "ten" }),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "mutation { createProfile(name: 42) { id } }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        ("{ users { nope } }", json!({}), "GRAPHQL_VALIDATION_FAILED"),
        ("{ users { ", json!({}), "GRAPHQL_PARSE_FAILED"),
    ];
    for (query, variables, code) in cases {
        let response = app.gql_as(token, query, variables).await;
        assert_eq!(response.code(), code, "{}", response.body);
    }
    assert_eq!(
        totals(app, token).await,
        json!({ "users": { "totalCount": 1 }, "profiles": { "totalCount": 0 } })
    );
}
