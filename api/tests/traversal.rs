//! Walking the relationship both ways, nested, and paging through it.

use serde_json::{Value, json};

use crate::{
    db_tests,
    helpers::{Account, TestApp},
};

db_tests!(
    both_directions_show_the_same_links,
    three_levels_of_nesting,
    nested_lists_page_with_cursors,
    top_level_lists_page_with_cursors,
    node_resolves_users_and_profiles,
    list_items_answer_alike_however_they_are_resolved,
    link_fields_are_read_however_they_are_selected,
    connection_fields_answer_alike_however_they_are_selected,
);

fn field_of(connection: &Value, field: &str) -> Vec<String> {
    connection["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| node[field].as_str().expect("a string field").to_owned())
        .collect()
}

async fn both_directions_show_the_same_links(app: &TestApp) {
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let cat = app.register("cat@example.com").await;
    let team = app.create_profile(&ann, "Team").await;
    let shop = app.create_profile(&bob, "Shop").await;
    app.add_manager(&ann, &team, &bob, "MANAGER").await;
    app.add_manager(&bob, &shop, &cat, "MANAGER").await;

    let data = app
        .data_as(
            &bob.token,
            "query($bob: ID!, $team: ID!) {
                user(id: $bob) {
                    email
                    profiles { totalCount edges { role linkedAt node { id name } } }
                }
                profile(id: $team) {
                    name
                    users { totalCount edges { role linkedAt node { id email } } }
                }
            }",
            json!({ "bob": bob.id, "team": team }),
        )
        .await;

    let bobs = &data["user"]["profiles"];
    assert_eq!(bobs["totalCount"], 2);
    assert_eq!(bobs["edges"][0]["node"]["name"], "Team");
    assert_eq!(bobs["edges"][0]["role"], "MANAGER");
    assert_eq!(bobs["edges"][1]["node"]["name"], "Shop");
    assert_eq!(bobs["edges"][1]["role"], "OWNER");
    assert!(bobs["edges"][0]["linkedAt"].is_string());

    let teams = &data["profile"]["users"];
    assert_eq!(teams["totalCount"], 2);
    assert_eq!(teams["edges"][0]["node"]["email"], "ann@example.com");
    assert_eq!(teams["edges"][0]["role"], "OWNER");
    assert_eq!(teams["edges"][1]["node"]["email"], "bob@example.com");
    assert_eq!(teams["edges"][1]["role"], "MANAGER");
    // The link seen from either side is the same link.
    assert_eq!(teams["edges"][1]["linkedAt"], bobs["edges"][0]["linkedAt"]);
}

async fn three_levels_of_nesting(app: &TestApp) {
    let admin = app.admin().await;
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let team = app.create_profile(&ann, "Team").await;
    app.add_manager(&ann, &team, &bob, "MANAGER").await;
    app.create_profile(&bob, "Shop").await;

    let data = app
        .data_as(
            &admin.token,
            "{ users { nodes { email profiles { nodes { name users { nodes {
                email profiles { nodes { name } }
            } } } } } } }",
            json!({}),
        )
        .await;
    let users = data["users"]["nodes"].as_array().expect("users");
    assert_eq!(
        field_of(&data["users"], "email"),
        ["admin@example.com", "ann@example.com", "bob@example.com"]
    );
    assert_eq!(
        field_of(&users[0]["profiles"], "name"),
        Vec::<String>::new()
    );
    let ann_teams = &users[1]["profiles"]["nodes"];
    assert_eq!(field_of(&users[1]["profiles"], "name"), ["Team"]);
    assert_eq!(
        field_of(&ann_teams[0]["users"], "email"),
        ["ann@example.com", "bob@example.com"]
    );
    let bob_in_team = &ann_teams[0]["users"]["nodes"][1];
    assert_eq!(field_of(&bob_in_team["profiles"], "name"), ["Team", "Shop"]);
    assert_eq!(field_of(&users[2]["profiles"], "name"), ["Team", "Shop"]);
    assert_eq!(
        field_of(&users[2]["profiles"]["nodes"][1]["users"], "email"),
        ["bob@example.com"]
    );
}

/// Pages through the connection at `path` of what `query` returns, and returns the values of
/// the nodes' `field` in order, with the number of pages.
async fn page_through(
    app: &TestApp,
    caller: &Account,
    query: &str,
    variables: Value,
    path: &[&str],
    field: &str,
) -> (Vec<String>, usize) {
    let mut seen = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let mut vars = variables.clone();
        vars["after"] = after.clone();
        let data = app.data_as(&caller.token, query, vars).await;
        let connection = path
            .iter()
            .fold(&data, |value, key| match key.parse::<usize>() {
                Ok(index) => &value[index],
                Err(_) => &value[*key],
            });
        pages += 1;
        for edge in connection["edges"].as_array().expect("edges") {
            seen.push(edge["node"][field].as_str().expect("field").to_owned());
        }
        let info = &connection["pageInfo"];
        if info["hasNextPage"] == false {
            return (seen, pages);
        }
        let last_edge = connection["edges"]
            .as_array()
            .and_then(|edges| edges.last());
        assert_eq!(info["endCursor"], last_edge.expect("a last edge")["cursor"]);
        after = info["endCursor"].clone();
        assert!(pages < 50, "paging does not end");
    }
}

async fn nested_lists_page_with_cursors(app: &TestApp) {
    let owner = app.register("owner@example.com").await;
    let team = app.create_profile(&owner, "Team").await;
    let mut expected = vec!["owner@example.com".to_owned()];
    for n in 1..=6 {
        let email = format!("user{n}@example.com");
        let user = app.register(&email).await;
        app.add_manager(&owner, &team, &user, "MANAGER").await;
        expected.push(email);
    }
    let (seen, pages) = page_through(
        app,
        &owner,
        "query($id: ID!, $after: String) {
            profile(id: $id) { users(first: 3, after: $after) {
                pageInfo { hasNextPage endCursor } edges { cursor node { email } }
            } }
        }",
        json!({ "id": team }),
        &["profile", "users"],
        "email",
    )
    .await;
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);

    // The other direction, nested under the caller.
    let mut profiles = vec!["Team".to_owned()];
    for n in 1..=4 {
        app.create_profile(&owner, &format!("P{n}")).await;
        profiles.push(format!("P{n}"));
    }
    let (seen, pages) = page_through(
        app,
        &owner,
        "query($after: String) {
            me { profiles(first: 2, after: $after) {
                pageInfo { hasNextPage endCursor } edges { cursor node { name } }
            } }
        }",
        json!({}),
        &["me", "profiles"],
        "name",
    )
    .await;
    assert_eq!(seen, profiles);
    assert_eq!(pages, 3);
}

async fn top_level_lists_page_with_cursors(app: &TestApp) {
    let owner = app.register("owner@example.com").await;
    let mut expected = Vec::new();
    for n in 1..=5 {
        let name = format!("Profile {n}");
        app.create_profile(&owner, &name).await;
        expected.push(name);
    }
    let (seen, pages) = page_through(
        app,
        &owner,
        "query($after: String) { profiles(first: 2, after: $after) {
            totalCount pageInfo { hasNextPage endCursor } edges { cursor node { name } }
        } }",
        json!({}),
        &["profiles"],
        "name",
    )
    .await;
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);

    let empty = app
        .data_as(
            &owner.token,
            "{ profiles(first: 0) { totalCount pageInfo { hasNextPage } nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(empty["profiles"]["totalCount"], 5);
    assert_eq!(empty["profiles"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(empty["profiles"]["nodes"], json!([]));
}

async fn node_resolves_users_and_profiles(app: &TestApp) {
    let ann = app.register("ann@example.com").await;
    let team = app.create_profile(&ann, "Team").await;
    let data = app
        .data_as(
            &ann.token,
            "query($a: ID!, $t: ID!) {
                a: node(id: $a) { __typename id ... on User { email } }
                t: node(id: $t) { __typename id ... on Profile { name } }
            }",
            json!({ "a": ann.id, "t": team }),
        )
        .await;
    assert_eq!(
        data["a"],
        json!({ "__typename": "User", "id": ann.id, "email": "ann@example.com" })
    );
    assert_eq!(
        data["t"],
        json!({ "__typename": "Profile", "id": team, "name": "Team" })
    );
    // IDs are base64 of `<Type>:<key>`.
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&ann.id)
        .expect("base64");
    assert_eq!(String::from_utf8(decoded).expect("utf-8"), "User:1");
}

/// Items of a list whose selection holds only their own scalar fields are answered in one pass;
/// any other selection (a fragment, a directive, a field needing more) goes field by field. Both
/// must give the same answer, with keys in the order of the selection.
async fn list_items_answer_alike_however_they_are_resolved(app: &TestApp) {
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let team = app.create_profile(&ann, "Team").await;
    app.add_manager(&ann, &team, &bob, "MANAGER").await;
    let query = |user: &str, profile: &str| {
        format!(
            "query($ann: ID!) {{ user(id: $ann) {{ profiles {{
                nodes {{ {profile} }} edges {{ node {{ {profile} }} }}
                nodes2: nodes {{ {profile} users {{ nodes {{ {user} }} edges {{ node {{ {user} }} }} }} }}
            }} }} }}"
        )
    };
    let user = "createdAt email kind: __typename id";
    let profile = "updatedAt name id createdAt";
    let one_pass = query(user, profile);
    let by_field = [
        query(
            &format!("... on User {{ {user} }}"),
            &format!("... on Profile {{ {profile} }}"),
        ),
        query(
            &format!("{user} active"),
            &format!("{profile} __typename @include(if: true)"),
        ),
    ];
    let variables = json!({ "ann": ann.id });
    let text = app
        .client()
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&ann.token)
        .json(&json!({ "query": one_pass, "variables": variables }))
        .send()
        .await
        .expect("the server answers")
        .text()
        .await
        .expect("a body");
    assert!(text.contains(r#""nodes":[{"updatedAt":""#), "{text}");
    assert!(text.contains(r#""nodes":[{"createdAt":""#), "{text}");
    let expected: Value = serde_json::from_str(&text).expect("JSON");
    let expected = &expected["data"];
    let team_users = &expected["user"]["profiles"]["nodes2"][0]["users"];
    assert_eq!(
        field_of(&expected["user"]["profiles"], "id"),
        [team.as_str()]
    );
    assert_eq!(
        field_of(team_users, "id"),
        [ann.id.as_str(), bob.id.as_str()]
    );
    assert_eq!(field_of(team_users, "kind"), ["User", "User"]);
    assert_eq!(
        field_of(team_users, "email"),
        ["ann@example.com", "bob@example.com"]
    );

    /// `value` without the fields only the by-field queries select.
    fn without_extras(mut value: Value) -> Value {
        match &mut value {
            Value::Object(object) => {
                object.remove("active");
                object.remove("__typename");
                for field in object.values_mut() {
                    *field = without_extras(field.take());
                }
            }
            Value::Array(items) => {
                for item in items {
                    *item = without_extras(item.take());
                }
            }
            _ => {}
        }
        value
    }
    for query in by_field {
        let data = app.data_as(&ann.token, &query, variables.clone()).await;
        assert_eq!(without_extras(data), *expected, "{query}");
    }
}

/// A list reads the links it crosses only when its edges select `role` or `linkedAt`, directly,
/// in a fragment or an inline fragment, read ahead with its parent or in a batch of its level.
async fn link_fields_are_read_however_they_are_selected(app: &TestApp) {
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let team = app.create_profile(&ann, "Team").await;
    app.add_manager(&ann, &team, &bob, "MANAGER").await;
    let data = app
        .data_as(
            &ann.token,
            "query($team: ID!, $ann: ID!) {
                profile(id: $team) { users { edges { ...Link node { email } } } }
                user(id: $ann) { profiles { edges { ... on UserProfileEdge { linkedAt role } } } }
                node(id: $team) { ... on Profile {
                    plain: users { nodes { email } }
                    users { edges { role node { email } } }
                } }
            }
            fragment Link on ProfileUserEdge { role linkedAt }",
            json!({ "team": team, "ann": ann.id }),
        )
        .await;
    let roles = |edges: &Value| -> Vec<String> {
        edges
            .as_array()
            .expect("edges")
            .iter()
            .map(|edge| edge["role"].as_str().expect("a role").to_owned())
            .collect()
    };
    assert_eq!(
        roles(&data["profile"]["users"]["edges"]),
        ["OWNER", "MANAGER"]
    );
    assert!(data["profile"]["users"]["edges"][1]["linkedAt"].is_string());
    assert_eq!(roles(&data["user"]["profiles"]["edges"]), ["OWNER"]);
    assert!(data["user"]["profiles"]["edges"][0]["linkedAt"].is_string());
    assert_eq!(roles(&data["node"]["users"]["edges"]), ["OWNER", "MANAGER"]);
    assert_eq!(
        field_of(&data["node"]["plain"], "email"),
        ["ann@example.com", "bob@example.com"]
    );
}

/// A connection makes its nodes and edges only when they are selected: selected through a
/// fragment, an inline fragment or an alias, or `pageInfo` alone, they answer as when selected
/// directly.
async fn connection_fields_answer_alike_however_they_are_selected(app: &TestApp) {
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let team = app.create_profile(&ann, "Team").await;
    app.add_manager(&ann, &team, &bob, "MANAGER").await;
    let variables = json!({ "team": team });
    let direct = app
        .data_as(
            &ann.token,
            "query($team: ID!) { profile(id: $team) { users(first: 1) {
                nodes { email } edges { cursor node { email } } pageInfo { endCursor hasNextPage }
            } } }",
            variables.clone(),
        )
        .await;
    let users = &direct["profile"]["users"];
    assert_eq!(field_of(users, "email"), ["ann@example.com"]);
    assert_eq!(users["edges"][0]["node"]["email"], "ann@example.com");
    assert_eq!(users["pageInfo"]["endCursor"], users["edges"][0]["cursor"]);
    assert_eq!(users["pageInfo"]["hasNextPage"], true);
    let indirect = app
        .data_as(
            &ann.token,
            "query($team: ID!) { profile(id: $team) { users(first: 1) {
                ...Nodes
                ... on ProfileUserConnection { edges { cursor node { email } } }
                pageInfo { endCursor hasNextPage }
            } } }
            fragment Nodes on ProfileUserConnection { nodes { email } }",
            variables.clone(),
        )
        .await;
    assert_eq!(indirect, direct);
    let aliased = app
        .data_as(
            &ann.token,
            "query($team: ID!) { profile(id: $team) { users(first: 1) {
                nodes: edges { cursor node { email } }
            } } }",
            variables.clone(),
        )
        .await;
    assert_eq!(aliased["profile"]["users"]["nodes"], users["edges"]);
    let page_info = app
        .data_as(
            &ann.token,
            "query($team: ID!) { profile(id: $team) { users(first: 1) {
                pageInfo { endCursor hasNextPage }
            } } }",
            variables.clone(),
        )
        .await;
    assert_eq!(page_info["profile"]["users"]["pageInfo"], users["pageInfo"]);
    // Nodes alone are written in one pass; with `totalCount`, field by field.
    let query = |extra: &str| {
        format!(
            "query($team: ID!) {{ profile(id: $team) {{ users {{
                kind: __typename list: nodes {{ email }} {extra}
            }} }} }}"
        )
    };
    let one_pass = app.data_as(&ann.token, &query(""), variables.clone()).await;
    let by_field = app
        .data_as(&ann.token, &query("totalCount"), variables)
        .await;
    let users = &one_pass["profile"]["users"];
    assert_eq!(users["kind"], "ProfileUserConnection");
    assert_eq!(users["list"], by_field["profile"]["users"]["list"]);
    assert_eq!(users["kind"], by_field["profile"]["users"]["kind"]);
    assert_eq!(by_field["profile"]["users"]["totalCount"], 2);
}
