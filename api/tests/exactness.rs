//! Answers exactly as the GraphQL specification executes documents, checked on the bytes a
//! client receives: fields merged by response key, in request order, each key once, `{}` for
//! empty selections, nulls where fields fail, variables coerced before anything runs.

use serde_json::{Value, json};

use crate::{
    db_tests,
    helpers::{Account, Backend, TestApp},
};

db_tests!(
    colocated_fragments_merge_their_selections,
    no_internal_value_reaches_an_answer,
    each_key_is_written_once,
    keys_come_in_request_order_every_time,
    empty_selections_answer_empty_objects,
    directives_of_typename_count_as_uses_of_variables,
    variables_are_coerced_before_anything_runs,
    a_failing_nullable_field_is_null_and_its_siblings_stay,
    fields_that_cannot_merge_are_refused,
    display_names_are_set_by_their_owner,
    a_changed_card_reads_changed_on_every_replica[own_server],
);

/// The body of the answer to `query`, as sent.
async fn raw(app: &TestApp, token: &str, query: &str, variables: Value) -> String {
    app.client()
        .post(format!("{}/graphql", app.url))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("an answer")
        .text()
        .await
        .expect("a body")
}

/// Ann owns "Team", which Bob manages; the admin sees everyone.
struct Team {
    admin: Account,
    ann: Account,
    bob: Account,
    team: String,
}

async fn team(app: &TestApp) -> Team {
    let admin = app.admin().await;
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let team = app.create_profile(&ann, "Team").await;
    app.add_manager(&ann, &team, &bob, "MANAGER").await;
    Team {
        admin,
        ann,
        bob,
        team,
    }
}

async fn colocated_fragments_merge_their_selections(app: &TestApp) {
    let Team { ann, bob, team, .. } = team(app).await;
    let answer = raw(
        app,
        &ann.token,
        "query($id: ID!) { profile(id: $id) { ...A ...B } }
         fragment A on Profile { users(first: 2) { nodes { id } } }
         fragment B on Profile { users(first: 2) { nodes { email } } }",
        json!({ "id": team }),
    )
    .await;
    let expected = format!(
        r#"{{"data":{{"profile":{{"users":{{"nodes":[{{"id":"{}","email":"ann@example.com"}},{{"id":"{}","email":"bob@example.com"}}]}}}}}}}}"#,
        ann.id, bob.id
    );
    assert_eq!(answer, expected);
    let answer = raw(
        app,
        &ann.token,
        "{ me { profiles { nodes { users { nodes { createdAt } nodes { id } } } } } }",
        json!({}),
    )
    .await;
    let body: Value = serde_json::from_str(&answer).expect("JSON");
    let users = &body["data"]["me"]["profiles"]["nodes"][0]["users"]["nodes"];
    assert_eq!(users[0]["id"], ann.id.as_str(), "{answer}");
    assert!(users[0]["createdAt"].is_string(), "{answer}");
}

async fn no_internal_value_reaches_an_answer(app: &TestApp) {
    let Team { ann, .. } = team(app).await;
    let answer = raw(
        app,
        &ann.token,
        "query($v: Boolean!) { profiles { totalCount } profiles { a0: totalCount @skip(if: $v) } }",
        json!({ "v": true }),
    )
    .await;
    assert_eq!(answer, r#"{"data":{"profiles":{"totalCount":1}}}"#);
    let answer = raw(
        app,
        &ann.token,
        "{ profiles { nodes { id } } profiles { nodes { name } } profiles { edges { cursor } } }",
        json!({}),
    )
    .await;
    assert!(!answer.contains("json"), "{answer}");
    let body: Value = serde_json::from_str(&answer).expect("JSON");
    assert_eq!(body["data"]["profiles"]["nodes"][0]["name"], "Team");
    assert!(body["data"]["profiles"]["edges"][0]["cursor"].is_string());
}

async fn each_key_is_written_once(app: &TestApp) {
    let Team { admin, .. } = team(app).await;
    let answer = raw(
        app,
        &admin.token,
        "{ users(first: 1) { nodes { id id } nodes { email } } }",
        json!({}),
    )
    .await;
    assert_eq!(answer.matches(r#""id":"#).count(), 1, "{answer}");
    assert_eq!(answer.matches(r#""nodes":"#).count(), 1, "{answer}");
    assert_eq!(answer.matches(r#""email":"#).count(), 1, "{answer}");
}

async fn keys_come_in_request_order_every_time(app: &TestApp) {
    let Team { ann, team, .. } = team(app).await;
    let answer = raw(
        app,
        &ann.token,
        "{ me { profiles { totalCount } id } }",
        json!({}),
    )
    .await;
    assert_eq!(
        answer,
        format!(
            r#"{{"data":{{"me":{{"profiles":{{"totalCount":1}},"id":"{}"}}}}}}"#,
            ann.id
        )
    );
    let query = "query($u: ID!, $p: ID!) { u: node(id: $u) { id } p: node(id: $p) { id } \
                 me { email createdAt id } }";
    let first = raw(app, &ann.token, query, json!({ "u": ann.id, "p": team })).await;
    assert!(first.starts_with(r#"{"data":{"u":"#), "{first}");
    for _ in 0..10 {
        let again = raw(app, &ann.token, query, json!({ "u": ann.id, "p": team })).await;
        assert_eq!(again, first);
    }
}

async fn empty_selections_answer_empty_objects(app: &TestApp) {
    let Team { ann, .. } = team(app).await;
    let answer = raw(
        app,
        &ann.token,
        "{ r0: me @include(if: false) { id } }",
        json!({}),
    )
    .await;
    assert_eq!(answer, r#"{"data":{}}"#);
    let answer = raw(
        app,
        &ann.token,
        "query($id: ID!) { node(id: $id) { ... on Profile { name } } }",
        json!({ "id": ann.id }),
    )
    .await;
    assert_eq!(answer, r#"{"data":{"node":{}}}"#);
    let answer = raw(
        app,
        &ann.token,
        "query($v: Boolean!) { me { id @skip(if: $v) } }",
        json!({ "v": true }),
    )
    .await;
    assert_eq!(answer, r#"{"data":{"me":{}}}"#);
}

async fn directives_of_typename_count_as_uses_of_variables(app: &TestApp) {
    let Team { ann, .. } = team(app).await;
    let query = "query Q($v: Boolean!) { __typename @skip(if: $v) }";
    assert_eq!(
        raw(app, &ann.token, query, json!({ "v": true })).await,
        r#"{"data":{}}"#
    );
    assert_eq!(
        raw(app, &ann.token, query, json!({ "v": false })).await,
        r#"{"data":{"__typename":"Query"}}"#
    );
    // A variable that is not declared is still refused there.
    let undeclared = app
        .gql_as(&ann.token, "{ __typename @skip(if: $v) }", json!({}))
        .await;
    assert_eq!(undeclared.code(), "GRAPHQL_VALIDATION_FAILED");
}

async fn variables_are_coerced_before_anything_runs(app: &TestApp) {
    let Team { ann, .. } = team(app).await;
    let query = "query($f: UserProfileFilter, $v: Boolean!) {
        me { profiles(filter: $f) @skip(if: $v) { totalCount } id } }";
    for skipped in [true, false] {
        let refused = app
            .gql_as(
                &ann.token,
                query,
                json!({ "v": skipped, "f": { "linkedBefore": "yesterday" } }),
            )
            .await;
        assert_eq!(
            refused.code(),
            "GRAPHQL_VALIDATION_FAILED",
            "{}",
            refused.body
        );
        assert!(refused.body.get("data").is_none(), "{}", refused.body);
    }
    for (variables, declared) in [
        (json!({}), "$n: Int!"),
        (json!({ "n": null }), "$n: Int!"),
        (json!({ "n": 2_147_483_648_i64 }), "$n: Int"),
        (json!({ "n": "2" }), "$n: Int"),
        (json!({ "n": 1.5 }), "$n: Int"),
    ] {
        let query =
            format!("query({declared}) {{ me {{ profiles(first: $n) {{ totalCount }} }} }}");
        let refused = app.gql_as(&ann.token, &query, variables.clone()).await;
        assert_eq!(
            refused.code(),
            "GRAPHQL_VALIDATION_FAILED",
            "{variables}: {}",
            refused.body
        );
    }
    // Coerced: an integer written as a float, a role given as a string, defaults applied.
    let data = app
        .data_as(
            &ann.token,
            "query($n: Int, $o: UserProfileOrder, $r: ProfileRole = OWNER) {
                me { profiles(first: $n, orderBy: $o, filter: { role: $r }) { totalCount } } }",
            json!({ "n": 1.0, "o": { "field": "ROLE" } }),
        )
        .await;
    assert_eq!(data["me"]["profiles"]["totalCount"], 1);
}

async fn a_failing_nullable_field_is_null_and_its_siblings_stay(app: &TestApp) {
    let Team { ann, team, .. } = team(app).await;
    let answer = raw(
        app,
        &ann.token,
        r#"{ me { email } user(id: "bad") { id } }"#,
        json!({}),
    )
    .await;
    let body: Value = serde_json::from_str(&answer).expect("JSON");
    assert_eq!(
        body["data"],
        json!({ "me": { "email": "ann@example.com" }, "user": null })
    );
    assert_eq!(body["errors"][0]["path"], json!(["user"]));
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    // A non-null field's failure nulls the nearest nullable field above it.
    let answer = raw(
        app,
        &ann.token,
        "query($id: ID!) { me { email } user(id: $id) { email profiles(first: 101) { totalCount } } }",
        json!({ "id": ann.id }),
    )
    .await;
    let body: Value = serde_json::from_str(&answer).expect("JSON");
    assert_eq!(
        body["data"],
        json!({ "me": { "email": "ann@example.com" }, "user": null })
    );
    assert_eq!(body["errors"][0]["path"], json!(["user", "profiles"]));
    // Inside a list of non-null items, the failed item nulls the list, and so on up to the
    // nearest nullable field; each error keeps its item's index, in the order of the list.
    let answer = raw(
        app,
        &ann.token,
        "query($id: ID!) { me { email } profile(id: $id) { name users { nodes { email profiles(first: 101) { totalCount } } } } }",
        json!({ "id": team }),
    )
    .await;
    let body: Value = serde_json::from_str(&answer).expect("JSON");
    assert_eq!(
        body["data"],
        json!({ "me": { "email": "ann@example.com" }, "profile": null })
    );
    let paths: Vec<&Value> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|error| &error["path"])
        .collect();
    assert_eq!(
        paths,
        [
            &json!(["profile", "users", "nodes", 0, "profiles"]),
            &json!(["profile", "users", "nodes", 1, "profiles"])
        ],
        "{answer}"
    );
}

async fn fields_that_cannot_merge_are_refused(app: &TestApp) {
    let Team { ann, .. } = team(app).await;
    for query in [
        "{ me { a: id a: email } }",
        "{ a: me { x: id } a: me { x: email } }",
        "{ me { profiles(first: 1) { totalCount } profiles(first: 2) { totalCount } } }",
    ] {
        let refused = app.gql_as(&ann.token, query, json!({})).await;
        assert_eq!(
            refused.code(),
            "GRAPHQL_VALIDATION_FAILED",
            "{query}: {}",
            refused.body
        );
    }
}

async fn display_names_are_set_by_their_owner(app: &TestApp) {
    let Team { ann, bob, team, .. } = team(app).await;
    let set = "mutation($name: String) { setDisplayName(displayName: $name) { id displayName } }";
    let data = app
        .data_as(&ann.token, set, json!({ "name": "  Ann Le\u{301}e " }))
        .await;
    assert_eq!(data["setDisplayName"]["displayName"], "Ann Lée");
    assert_eq!(data["setDisplayName"]["id"], ann.id.as_str());
    // Bob sees it in every list that shows Ann, and Ann in `me`.
    let seen = app
        .data_as(
            &bob.token,
            "query($team: ID!, $ann: ID!) {
                profile(id: $team) { users { nodes { displayName } } }
                me { profiles { nodes { users { nodes { displayName } } } } }
                user(id: $ann) { displayName }
            }",
            json!({ "team": team, "ann": ann.id }),
        )
        .await;
    assert_eq!(
        seen["profile"]["users"]["nodes"][0]["displayName"],
        "Ann Lée"
    );
    assert_eq!(
        seen["me"]["profiles"]["nodes"][0]["users"]["nodes"],
        json!([{ "displayName": "Ann Lée" }, { "displayName": null }])
    );
    assert_eq!(seen["user"]["displayName"], "Ann Lée");
    let me = app
        .data_as(&ann.token, "{ me { displayName } }", json!({}))
        .await;
    assert_eq!(me["me"]["displayName"], "Ann Lée");
    for bad in ["", "   ", "Ann\u{202E}", "A\u{200B}nn", &"x".repeat(65)] {
        let refused = app.gql_as(&ann.token, set, json!({ "name": bad })).await;
        assert_eq!(
            refused.code(),
            "BAD_USER_INPUT",
            "{bad:?}: {}",
            refused.body
        );
    }
    let cleared = app.data_as(&ann.token, set, json!({ "name": null })).await;
    assert_eq!(cleared["setDisplayName"]["displayName"], Value::Null);
    let anonymous = app.gql(set, json!({ "name": "Eve" })).await;
    assert_eq!(anonymous.code(), "UNAUTHENTICATED");
}

async fn a_changed_card_reads_changed_on_every_replica(backend: Backend) {
    let writer = TestApp::spawn(backend).await;
    let reader = TestApp::spawn_at(backend, writer.database_url(), |_| {}).await;
    let Team { ann, bob, team, .. } = team(&writer).await;
    let nested = "query($team: ID!) {
        profile(id: $team) { users { nodes { displayName } } }
        me { profiles { nodes { users { nodes { displayName } } } } }
    }";
    let set = "mutation($name: String) { setDisplayName(displayName: $name) { displayName } }";
    for round in 0..5 {
        let name = format!("Ann {round}");
        // The reader keeps Ann's card from its last answer.
        reader
            .data_as(&bob.token, nested, json!({ "team": team }))
            .await;
        writer
            .data_as(&ann.token, set, json!({ "name": name }))
            .await;
        let seen = reader
            .data_as(&bob.token, nested, json!({ "team": team }))
            .await;
        assert_eq!(
            seen["profile"]["users"]["nodes"][0]["displayName"],
            name.as_str()
        );
        assert_eq!(
            seen["me"]["profiles"]["nodes"][0]["users"]["nodes"][0]["displayName"],
            name.as_str()
        );
    }
    reader.stop().await;
    writer.stop().await;
}
