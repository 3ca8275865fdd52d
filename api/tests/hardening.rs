//! Attacks through the query language, the body, strings and configuration: each refused
//! clearly, before any SQL where the request is over a limit, and never with a 500.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    db_tests,
    helpers::{Backend, Gql, TestApp},
};

db_tests!(
    limits_refuse_before_any_sql[own_server],
    hostile_documents_are_refused[own_server],
    batches_are_off_unless_switched_on[own_server],
    introspection_and_graphiql_can_be_switched_off[own_server],
    cors_answers_only_allowed_origins[own_server],
    slow_and_huge_answers_are_cut[own_server],
    metacharacters_and_nul_bytes_in_every_string,
    the_largest_page_drives_costs_and_descriptions[own_server],
);

/// A server with the default limits (the shared test server raises the complexity limit).
async fn with_defaults(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |config| {
        config.limits = api::Config::with_database("").limits;
    })
    .await
}

fn assert_refused(response: &Gql, code: &str) {
    assert_eq!(response.code(), code, "{}", response.body);
    assert_eq!(
        response.sql(),
        0,
        "no SQL runs for a refused request: {}",
        response.body
    );
    assert_eq!(response.body["data"], Value::Null, "{}", response.body);
}

/// The introspection query GraphiQL 3 sends on opening: 15 fields deep.
const GRAPHIQL_INTROSPECTION: &str = "query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType {
  kind name } } } } } } } } }
}";

/// `{ me { profiles { nodes { users { nodes { … } } } } } }` nested `levels` deep.
fn nested(levels: usize) -> String {
    let mut query = String::from("id");
    for level in 0..levels {
        // From the outside in: profiles of `me`, their users, those users' profiles, …
        let outer = (levels - 1 - level).is_multiple_of(2);
        let list = if outer {
            "profiles(first: 1)"
        } else {
            "users(first: 1)"
        };
        query = format!("{list} {{ nodes {{ {query} }} }}");
    }
    format!("{{ me {{ {query} }} }}")
}

async fn limits_refuse_before_any_sql(backend: Backend) {
    let app = with_defaults(backend).await;
    let ann = app.register("ann@example.com").await;
    let token = ann.token.as_str();
    // Depth: `me`, 2 levels per list, and the leaf; 12 levels at most.
    assert!(
        app.gql_as(token, &nested(5), json!({}))
            .await
            .errors()
            .is_empty(),
        "depth 12 passes"
    );
    assert_refused(
        &app.gql_as(token, &nested(6), json!({})).await,
        "LIMIT_EXCEEDED",
    );
    // Introspection is exempt from depth (GraphiQL's query is 15 deep), but not from nesting
    // its lists, which would walk the schema's cycles.
    let graphiql = app.gql(GRAPHIQL_INTROSPECTION, json!({})).await;
    assert!(graphiql.errors().is_empty(), "{}", graphiql.body);
    assert_eq!(
        graphiql.body["data"]["__schema"]["subscriptionType"]["name"],
        "Subscription"
    );
    let cycling =
        "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
    assert_refused(&app.gql(cycling, json!({})).await, "LIMIT_EXCEEDED");
    // Cost: the nodes an operation may return, page sizes multiplied. The defaults admit what
    // clients ask: the benchmark's Q1 (50 + 500 + 5,000 nodes) and two unsized levels.
    let admin = app.admin().await;
    let q1 = include_str!("../../bench/queries/q1.graphql");
    let admitted = app.gql_as(&admin.token, q1, json!({})).await;
    assert!(admitted.errors().is_empty(), "{}", admitted.body);
    let unsized_lists = "{ profiles { nodes { users { nodes { email } } } } }";
    let admitted = app.gql_as(token, unsized_lists, json!({})).await;
    assert!(admitted.errors().is_empty(), "{}", admitted.body);
    // Three levels of full pages are 1,010,100 nodes: refused, saying what was counted, the
    // limit, and how to fit.
    let heavy = "query($n: Int) { users(first: 100) { nodes { profiles(first: $n) { nodes { \
                 users(first: 100) { nodes { id } } } } } } }";
    let refused = app.gql_as(token, heavy, json!({ "n": 100 })).await;
    assert_refused(&refused, "LIMIT_EXCEEDED");
    let message = refused.body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    for says in ["1010100 nodes", "at most 100000", "smaller pages"] {
        assert!(message.contains(says), "{message}");
    }
    // The variable's value counts, and lists that return no nodes cost nothing.
    let smaller = app.gql_as(&admin.token, heavy, json!({ "n": 5 })).await;
    assert!(smaller.errors().is_empty(), "{}", smaller.body);
    let counts = "{ users(first: 100) { nodes { profiles(first: 100) { totalCount nodes { \
                  users(first: 100) { totalCount } } } } } }";
    let counted = app.gql_as(&admin.token, counts, json!({})).await;
    assert!(counted.errors().is_empty(), "{}", counted.body);
    // Aliases: 50 at most.
    let aliases = |n: usize| {
        format!(
            "{{ me {{ {} }} }}",
            (0..n)
                .map(|i| format!("a{i}: email"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let many = app.gql_as(token, &aliases(50), json!({})).await;
    assert!(many.errors().is_empty(), "{}", many.body);
    assert_refused(
        &app.gql_as(token, &aliases(51), json!({})).await,
        "LIMIT_EXCEEDED",
    );
    // Aliases hidden in a fragment spread twice count twice.
    let fragment = format!(
        "query {{ x: me {{ ...F }} y: me {{ ...F }} }} fragment F on User {{ {} }}",
        (0..25)
            .map(|i| format!("e{i}: email"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    assert_refused(
        &app.gql_as(token, &fragment, json!({})).await,
        "LIMIT_EXCEEDED",
    );
    // Root fields: 20 at most.
    let roots = |n: usize| {
        format!(
            "{{ {} }}",
            (0..n).map(|_| "__typename").collect::<Vec<_>>().join(" ")
        )
    };
    assert!(
        app.gql_as(token, &roots(20), json!({}))
            .await
            .errors()
            .is_empty()
    );
    let root_fragment = format!(
        "query {{ ...R }} fragment R on Query {{ {} }}",
        (0..21)
            .map(|i| format!("me{i}: me {{ id }}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    // 21 root fields behind a fragment, each aliased.
    assert_refused(
        &app.gql_as(token, &root_fragment, json!({})).await,
        "LIMIT_EXCEEDED",
    );
    // Page sizes.
    let page = app
        .gql_as(
            token,
            "{ me { profiles(first: 101) { totalCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(page.code(), "BAD_USER_INPUT");
    app.stop().await;
}

async fn hostile_documents_are_refused(backend: Backend) {
    let app = with_defaults(backend).await;
    let ann = app.register("ann@example.com").await;
    let token = ann.token.as_str();
    // Fragments that each spread the next four times: 4^13 fields once spread, in 700 bytes.
    let explosion = std::iter::once("query { me { ...F0 } }".to_owned())
        .chain((0..13).map(|n| {
            let next = n + 1;
            format!("fragment F{n} on User {{ ...F{next} ...F{next} ...F{next} ...F{next} }}")
        }))
        .chain(std::iter::once("fragment F13 on User { email }".to_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    let unused = explosion.replace("query { me { ...F0 } }", "{ __typename }");
    let cases = [
        (
            "fragments that explode once spread",
            explosion.as_str(),
            "LIMIT_EXCEEDED",
        ),
        (
            "fragments that explode, spread by no operation (validation would expand them)",
            unused.as_str(),
            "LIMIT_EXCEEDED",
        ),
        (
            "circular fragments",
            "query { me { ...A } } fragment A on User { profiles { nodes { users { nodes { ...B } } } } } fragment B on User { ...A }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "a fragment on itself",
            "query { me { ...A } } fragment A on User { ...A }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "an unknown field",
            "{ me { password_hash } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        ("a broken document", "{ me { id } ", "GRAPHQL_PARSE_FAILED"),
        (
            "a deep parenthesis pile",
            &format!("{{ me {{ id{} }} }}", "(".repeat(5000)),
            "GRAPHQL_PARSE_FAILED",
        ),
    ];
    for (case, query, code) in cases {
        let response = app.gql_as(token, query, json!({})).await;
        assert_eq!(response.code(), code, "{case}: {}", response.body);
        assert_eq!(response.sql(), 0, "{case}");
    }
    // A string of 10 MB in the variables is over the body limit.
    let huge = "x".repeat(10 * 1024 * 1024);
    let response = app
        .client()
        .post(format!("{}/graphql", app.url))
        .bearer_auth(token)
        .json(&json!({ "query": "mutation($n: String!) { createProfile(name: $n) { id } }", "variables": { "n": huge } }))
        .send()
        .await;
    // The server answers 413 as soon as it sees the length, and may close the connection
    // while the client is still sending: either way, the request is refused.
    match response {
        Ok(response) => assert_eq!(response.status(), 413),
        Err(err) => assert!(err.is_request(), "{err}"),
    }
    let profiles = app
        .data_as(token, "{ profiles { totalCount } }", json!({}))
        .await;
    assert_eq!(profiles["profiles"]["totalCount"], 0, "nothing was written");
    // A huge document made of valid tokens is over the body limit too, answered in the
    // GraphQL shape.
    let response = app
        .gql_as(
            token,
            &format!("{{ {} }}", "__typename ".repeat(40_000)),
            json!({}),
        )
        .await;
    assert_eq!(response.status, 413);
    assert_eq!(response.code(), "BAD_REQUEST");
    app.stop().await;
}

async fn post_raw(app: &TestApp, body: &str) -> (u16, Value) {
    let response = app
        .client()
        .post(format!("{}/graphql", app.url))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

async fn batches_are_off_unless_switched_on(backend: Backend) {
    let app = with_defaults(backend).await;
    let (status, body) = post_raw(&app, r#"[{"query": "{ __typename }"}]"#).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    app.stop().await;

    let app = TestApp::spawn_with(backend, |config| config.limits.batch_requests = true).await;
    let (status, body) = post_raw(
        &app,
        r#"[{"query": "{ __typename }"}, {"query": "{ me { id } }"}]"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["data"]["__typename"], "Query");
    assert_eq!(
        body[1]["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    let eleven = format!("[{}]", [r#"{"query": "{ __typename }"}"#; 11].join(","));
    let (status, body) = post_raw(&app, &eleven).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
    let (status, _) = post_raw(&app, "[]").await;
    assert_eq!(status, 400);
    app.stop().await;
}

async fn introspection_and_graphiql_can_be_switched_off(backend: Backend) {
    let introspect = "{ __schema { queryType { name } } }";
    let app = TestApp::spawn(backend).await;
    let open = app.gql(introspect, json!({})).await;
    assert_eq!(open.body["data"]["__schema"]["queryType"]["name"], "Query");
    app.stop().await;

    let app = TestApp::spawn_with(backend, |config| {
        config.introspection = false;
        config.graphiql = false;
    })
    .await;
    let closed = app.gql(introspect, json!({})).await;
    assert_eq!(
        closed.body["data"]["__schema"],
        Value::Null,
        "{}",
        closed.body
    );
    let page = app
        .client()
        .get(format!("{}/graphql", app.url))
        .header("accept", "text/html")
        .send()
        .await
        .expect("answers");
    assert_eq!(page.status(), 404);
    app.stop().await;
}

async fn cors_answers_only_allowed_origins(backend: Backend) {
    let preflight = |app: &TestApp, origin: &'static str| {
        app.client()
            .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.url))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, x-request-id, apollographql-client-name, \
                 apollographql-client-version",
            )
            .send()
    };
    let app = TestApp::spawn(backend).await;
    let response = preflight(&app, "https://app.example.com")
        .await
        .expect("answers");
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "CORS is off by default"
    );
    app.stop().await;

    let app = TestApp::spawn_with(backend, |config| {
        config.cors_allowed_origins = vec!["https://app.example.com".into()];
    })
    .await;
    let allowed = preflight(&app, "https://app.example.com")
        .await
        .expect("answers");
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let allowed_headers = allowed.headers()["access-control-allow-headers"]
        .to_str()
        .expect("text")
        .to_ascii_lowercase();
    for name in [
        "authorization",
        "content-type",
        "x-request-id",
        "apollographql-client-name",
        "apollographql-client-version",
    ] {
        assert!(allowed_headers.contains(name), "{name}: {allowed_headers}");
    }
    // Browsers keep the preflight's answer instead of asking before nearly every request.
    assert_eq!(allowed.headers()["access-control-max-age"], "7200");
    // Scripts may read the request ID of an answer.
    let answer = app
        .client()
        .post(format!("{}/graphql", app.url))
        .header("origin", "https://app.example.com")
        .header("content-type", "application/json")
        .body(r#"{"query": "{ __typename }"}"#)
        .send()
        .await
        .expect("answers");
    let exposed = answer.headers()["access-control-expose-headers"]
        .to_str()
        .expect("text");
    assert!(exposed.contains("x-request-id"), "{exposed}");
    let other = preflight(&app, "https://evil.example.com")
        .await
        .expect("answers");
    assert!(other.headers().get("access-control-allow-origin").is_none());
    app.stop().await;
}

async fn slow_and_huge_answers_are_cut(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let account = app.admin().await;
    let app = app
        .restart(|config| config.limits.request_timeout = Duration::from_nanos(1))
        .await;
    let slow = app
        .gql_as(
            &account.token,
            "{ me { email profiles { totalCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(slow.code(), "TIMEOUT", "{}", slow.body);
    app.stop().await;

    let app = TestApp::spawn(backend).await;
    let ann = app.register("ann@example.com").await;
    for n in 0..5 {
        app.create_profile(
            &ann,
            &format!("A profile with a rather long name, number {n}"),
        )
        .await;
    }
    let app = app
        .restart(|config| config.limits.max_response_bytes = 200)
        .await;
    let big = app
        .gql_as(
            &ann.token,
            "{ me { profiles { nodes { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(big.code(), "RESPONSE_TOO_LARGE", "{}", big.body);
    let small = app.gql_as(&ann.token, "{ me { email } }", json!({})).await;
    assert!(small.errors().is_empty(), "{}", small.body);
    app.stop().await;
}

/// Every string argument, with SQL metacharacters (stored and matched literally) and with NUL
/// bytes (refused, or matching nothing): never an internal error.
async fn metacharacters_and_nul_bytes_in_every_string(app: &TestApp) {
    let admin = app.admin().await;
    let sneaky = "Robert'); DROP TABLE \"user\"; -- %_\\";
    let team = app.create_profile(&admin, sneaky).await;
    let data = app
        .data_as(
            &admin.token,
            "query($p: ID!) { profile(id: $p) { name } }",
            json!({ "p": team }),
        )
        .await;
    assert_eq!(data["profile"]["name"], sneaky, "stored as given");
    let found = app
        .data_as(
            &admin.token,
            "query($t: String!) { profiles(filter: { nameContains: $t }) { totalCount } }",
            json!({ "t": "'); DROP" }),
        )
        .await;
    assert_eq!(found["profiles"]["totalCount"], 1);

    let calls: [(&str, &str); 14] = [
        (
            "mutation($s: String!) { createProfile(name: $s) { id } }",
            "s",
        ),
        (
            "mutation($s: String!, $p: ID!) { updateProfile(id: $p, name: $s) { id } }",
            "s",
        ),
        (
            "mutation($s: String!) { register(input: { email: $s, password: \"long enough pass\" }) { email } }",
            "s",
        ),
        (
            "mutation($s: String!) { register(input: { email: \"n@example.com\", password: $s }) { email } }",
            "s",
        ),
        (
            "mutation($s: String!) { login(email: $s, password: \"whatever it is\") { accessToken } }",
            "s",
        ),
        (
            "mutation($s: String!) { login(email: \"admin@example.com\", password: $s) { accessToken } }",
            "s",
        ),
        (
            "mutation($s: String!) { refreshToken(token: $s) { accessToken } }",
            "s",
        ),
        ("mutation($s: String!) { logout(refreshToken: $s) }", "s"),
        (
            "mutation($s: String!) { changePassword(currentPassword: $s, newPassword: \"another long one\") { accessToken } }",
            "s",
        ),
        (
            "mutation($s: String!, $u: ID!) { grantRole(userId: $u, role: $s) { id } }",
            "s",
        ),
        (
            "query($s: String!) { users(filter: { emailContains: $s, role: $s }) { totalCount } }",
            "s",
        ),
        (
            "query($s: String!) { profiles(filter: { nameContains: $s }) { totalCount } }",
            "s",
        ),
        (
            "query($s: String!) { users(after: $s) { totalCount } }",
            "s",
        ),
        ("query($s: ID!) { node(id: $s) { id } }", "s"),
    ];
    for value in [sneaky, "nul\u{0}byte", "\u{0}"] {
        for (query, name) in calls {
            let mut vars = json!({ "p": team, "u": admin.id });
            vars[name] = json!(value);
            let response = app.gql_as(&admin.token, query, vars).await;
            assert_eq!(response.status, 200, "{query}");
            for error in response.errors() {
                let code = error["extensions"]["code"].as_str().unwrap_or("<none>");
                assert_ne!(
                    code, "INTERNAL_SERVER_ERROR",
                    "{query} with {value:?}: {}",
                    response.body
                );
                assert_ne!(code, "<none>", "{query} with {value:?}: {}", response.body);
            }
        }
    }
    // The users table is still there, and so is everyone.
    let users = app
        .data_as(&admin.token, "{ users { totalCount } }", json!({}))
        .await;
    assert!(users["users"]["totalCount"].as_u64().unwrap_or(0) >= 1);
}

/// `PAGE_MAX_SIZE` is the size of a list that gives none, in the cost of an operation as in
/// paging, and the bound the schema's descriptions of `first` and `last` state.
async fn the_largest_page_drives_costs_and_descriptions(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.limits.page_max_size = 10;
        config.limits.query_max_complexity = 1_000;
    })
    .await;
    let ann = app.register("ann@example.com").await;
    let two_levels = "{ profiles { nodes { users { nodes { email } } } } }";
    let admitted = app.gql_as(&ann.token, two_levels, json!({})).await;
    assert!(admitted.errors().is_empty(), "{}", admitted.body);
    let three_levels = "{ profiles { nodes { users { nodes { profiles { nodes { name } } } } } } }";
    let refused = app.gql_as(&ann.token, three_levels, json!({})).await;
    assert_refused(&refused, "LIMIT_EXCEEDED");
    let message = refused.body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("1110 nodes") && message.contains("(or 10, the largest page"),
        "{message}"
    );
    // A page asked larger than the largest costs the largest, and is refused as it resolves.
    let larger = "{ profiles(first: 1000) { nodes { users(first: 1000) { nodes { email } } } } }";
    let refused = app.gql_as(&ann.token, larger, json!({})).await;
    assert_eq!(refused.code(), "BAD_USER_INPUT", "{}", refused.body);

    let described = app
        .gql(
            r#"{ __type(name: "Profile") { fields { name args { name description } } } }"#,
            json!({}),
        )
        .await;
    let fields = described.body["data"]["__type"]["fields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let users = fields
        .iter()
        .find(|field| field["name"] == "users")
        .expect("Profile.users");
    assert_eq!(
        users["args"][0],
        json!({ "name": "first", "description": "Return at most this many users from the start, 0 to 10." })
    );
    let schema = app.gql("{ __schema { description } }", json!({})).await;
    let description = schema.body["data"]["__schema"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(description.starts_with("Roster: "), "{description}");
}
