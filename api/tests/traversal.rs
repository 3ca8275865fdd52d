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
    app.add_manager(&ann, &team, &bob.id, "MANAGER").await;
    app.add_manager(&bob, &shop, &cat.id, "MANAGER").await;

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
    app.add_manager(&ann, &team, &bob.id, "MANAGER").await;
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
        app.add_manager(&owner, &team, &user.id, "MANAGER").await;
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
