//! Walking the relationship both ways, nested, and paging through it.

use serde_json::{Value, json};

use crate::{db_tests, helpers::TestApp};

db_tests!(
    both_directions_show_the_same_links,
    three_levels_of_nesting,
    nested_lists_page_with_cursors,
    top_level_lists_page_with_cursors,
    node_resolves_users_and_profiles,
);

fn emails(connection: &Value) -> Vec<String> {
    connection["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| node["email"].as_str().expect("email").to_owned())
        .collect()
}

fn names(connection: &Value) -> Vec<String> {
    connection["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| node["name"].as_str().expect("name").to_owned())
        .collect()
}

async fn both_directions_show_the_same_links(app: &TestApp) {
    let ann = app.create_user("ann@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let cat = app.create_user("cat@example.com").await;
    let team = app.create_profile("Team").await;
    let shop = app.create_profile("Shop").await;
    app.add_manager(&team, &ann, "OWNER").await;
    app.add_manager(&team, &bob, "MANAGER").await;
    app.add_manager(&shop, &bob, "OWNER").await;
    app.add_manager(&shop, &cat, "MANAGER").await;

    let data = app
        .data(
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
            json!({ "bob": bob, "team": team }),
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
    let ann = app.create_user("ann@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let team = app.create_profile("Team").await;
    let shop = app.create_profile("Shop").await;
    app.add_manager(&team, &ann, "OWNER").await;
    app.add_manager(&team, &bob, "MANAGER").await;
    app.add_manager(&shop, &bob, "OWNER").await;

    let data = app
        .data(
            "{ users { nodes { email profiles { nodes { name users { nodes {
                email profiles { nodes { name } }
            } } } } } } }",
            json!({}),
        )
        .await;
    let users = data["users"]["nodes"].as_array().expect("users");
    assert_eq!(users.len(), 2);
    let ann_teams = &users[0]["profiles"]["nodes"];
    assert_eq!(names(&users[0]["profiles"]), ["Team"]);
    assert_eq!(
        emails(&ann_teams[0]["users"]),
        ["ann@example.com", "bob@example.com"]
    );
    let bob_in_team = &ann_teams[0]["users"]["nodes"][1];
    assert_eq!(names(&bob_in_team["profiles"]), ["Team", "Shop"]);
    assert_eq!(names(&users[1]["profiles"]), ["Team", "Shop"]);
    assert_eq!(
        emails(&users[1]["profiles"]["nodes"][1]["users"]),
        ["bob@example.com"]
    );
}

/// Pages through `connection` of the one object the query returns, `first` at a time, and
/// returns the node `field` values in order with the number of pages.
async fn page_through(
    app: &TestApp,
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
        let data = app.data(query, vars).await;
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
    let team = app.create_profile("Team").await;
    let mut expected = Vec::new();
    for n in 1..=7 {
        let email = format!("user{n}@example.com");
        let user = app.create_user(&email).await;
        app.add_manager(&team, &user, "MANAGER").await;
        expected.push(email);
    }
    let (seen, pages) = page_through(
        app,
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

    // The other direction, nested under a list of users.
    let first_user = app
        .data("{ users(first: 1) { nodes { id } } }", json!({}))
        .await;
    let user = first_user["users"]["nodes"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let mut profiles = Vec::new();
    for n in 1..=5 {
        let profile = app.create_profile(&format!("P{n}")).await;
        app.add_manager(&profile, &user, "OWNER").await;
        profiles.push(format!("P{n}"));
    }
    let (seen, pages) = page_through(
        app,
        "query($after: String) {
            users(first: 1) { nodes { profiles(first: 2, after: $after) {
                pageInfo { hasNextPage endCursor } edges { cursor node { name } }
            } } }
        }",
        json!({}),
        &["users", "nodes", "0", "profiles"],
        "name",
    )
    .await;
    let mut expected = vec!["Team".to_owned()];
    expected.extend(profiles);
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);
}

async fn top_level_lists_page_with_cursors(app: &TestApp) {
    let mut expected = Vec::new();
    for n in 1..=5 {
        let name = format!("Profile {n}");
        app.create_profile(&name).await;
        expected.push(name);
    }
    let (seen, pages) = page_through(
        app,
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
        .data(
            "{ profiles(first: 0) { totalCount pageInfo { hasNextPage } nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(empty["profiles"]["totalCount"], 5);
    assert_eq!(empty["profiles"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(empty["profiles"]["nodes"], json!([]));
}

async fn node_resolves_users_and_profiles(app: &TestApp) {
    let ann = app.create_user("ann@example.com").await;
    let team = app.create_profile("Team").await;
    let data = app
        .data(
            "query($a: ID!, $t: ID!) {
                a: node(id: $a) { __typename id ... on User { email } }
                t: node(id: $t) { __typename id ... on Profile { name } }
            }",
            json!({ "a": ann, "t": team }),
        )
        .await;
    assert_eq!(
        data["a"],
        json!({ "__typename": "User", "id": ann, "email": "ann@example.com" })
    );
    assert_eq!(
        data["t"],
        json!({ "__typename": "Profile", "id": team, "name": "Team" })
    );
    // IDs are base64 of `<Type>:<key>`.
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&ann)
        .expect("base64");
    assert_eq!(String::from_utf8(decoded).expect("utf-8"), "User:1");
}
