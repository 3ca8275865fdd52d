//! One SQL statement per nesting level, however many parents the level has, with the caller's
//! access rules inside the same statements.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};

use crate::{
    db_tests,
    helpers::{Account, Backend, TestApp},
};

db_tests!(
    statements_do_not_grow_with_parents[own_server],
    access_rules_ride_in_the_same_statements[own_server],
    the_caller_is_looked_up_again_after_account_changes,
    one_object_and_its_list_read_together_answer_as_read_apart[own_server],
);

/// A server that looks its caller up in every request, so each count below includes that
/// statement (`CALLER_CACHE_TTL=0`).
async fn uncached(backend: Backend, test: impl AsyncFnOnce(&TestApp)) {
    let app = TestApp::spawn_with(backend, |config| {
        config.caller_cache_ttl = Duration::ZERO;
        config.user_card_cache = 0;
    })
    .await;
    test(&app).await;
    app.stop().await;
}

const PROFILES: i64 = 50;
const LINKS_PER_USER: i64 = 5;
/// Seeded users get keys from here on, after the accounts the test registers.
const FIRST_SEEDED: i64 = 101;

/// The profiles of seeded user `i` (1-based): five distinct ones, as in the benchmark dataset.
fn profiles_of(user: i64) -> Vec<i64> {
    let mut profiles: Vec<i64> = (0..LINKS_PER_USER)
        .map(|t| (user * 7 + t * 11) % PROFILES + 1)
        .collect();
    profiles.sort_unstable();
    profiles
}

/// Seeds `users` users (keys from `FIRST_SEEDED`), `PROFILES` profiles and their links.
async fn seed(app: &TestApp, users: i64) {
    app.execute_sql("DELETE FROM user_profile WHERE user_id >= 101")
        .await;
    app.execute_sql("DELETE FROM \"user\" WHERE id >= 101")
        .await;
    let at = "'2026-01-01T00:00:00+00:00'";
    let user_rows: Vec<String> = (1..=users)
        .map(|i| {
            let key = FIRST_SEEDED + i - 1;
            // ASCII: the email's key is the email.
            format!("({key}, 'user{i}@example.com', 'user{i}@example.com', {at}, 'seed-{i}', {at})")
        })
        .collect();
    app.execute_sql(&format!(
        "INSERT INTO \"user\" (id, email, email_key, created_at, fs_uniquifier, updated_at) VALUES {}",
        user_rows.join(", ")
    ))
    .await;
    let links: Vec<String> = (1..=users)
        .flat_map(|i| {
            let key = FIRST_SEEDED + i - 1;
            profiles_of(i)
                .into_iter()
                .map(move |j| format!("({key}, {j}, 'MANAGER', {at})"))
        })
        .collect();
    app.execute_sql(&format!(
        "INSERT INTO user_profile (user_id, profile_id, role, created_at) VALUES {}",
        links.join(", ")
    ))
    .await;
}

/// Four levels: users → profiles (with totals) → users (with totals) → profiles, from the
/// seeded users (those after the first `FIRST_SEEDED - 1`).
const NESTED: &str = "query($after: String) {
    users(first: 100, after: $after) { nodes { email profiles(first: 5) { totalCount nodes {
        name users(first: 3) { totalCount nodes { email profiles(first: 2) { nodes { name } } } }
    } } } }
}";

/// The seeded users of profile `j` among `users`, by number.
fn users_of(profile: i64, users: i64) -> Vec<i64> {
    (1..=users)
        .filter(|i| profiles_of(*i).contains(&profile))
        .collect()
}

fn number_in(text: &Value, prefix: &str) -> Option<i64> {
    let text = text.as_str()?.strip_prefix(prefix)?;
    text.trim_end_matches("@example.com").parse().ok()
}

/// Checks every level of the answer against the dataset's formula, as seen by a caller who
/// sees every user (the admin) or only those sharing a profile with them.
fn check(answer: &Value, users: i64) {
    let nodes = answer["users"]["nodes"].as_array().expect("users");
    assert_eq!(nodes.len() as i64, users.min(100));
    for user in nodes {
        let i = number_in(&user["email"], "user").expect("a seeded user");
        let profiles = user["profiles"]["nodes"].as_array().expect("profiles");
        let seen: Vec<Option<i64>> = profiles
            .iter()
            .map(|p| number_in(&p["name"], "Profile "))
            .collect();
        let expected: Vec<Option<i64>> = profiles_of(i).into_iter().map(Some).collect();
        assert_eq!(seen, expected, "profiles of user {i}");
        assert_eq!(user["profiles"]["totalCount"], LINKS_PER_USER);
        for profile in profiles {
            let j = number_in(&profile["name"], "Profile ").expect("a seeded profile");
            let all = users_of(j, users);
            let seen: Vec<Option<i64>> = profile["users"]["nodes"]
                .as_array()
                .expect("users")
                .iter()
                .map(|u| number_in(&u["email"], "user"))
                .collect();
            let expected: Vec<Option<i64>> = all.iter().take(3).map(|i| Some(*i)).collect();
            assert_eq!(seen, expected, "users of profile {j}");
            assert_eq!(profile["users"]["totalCount"], all.len());
        }
    }
}

/// The cursor of the last account the test registered, so `users` starts at the seeded ones.
async fn after_accounts(app: &TestApp, admin: &Account) -> Value {
    let data = app
        .data_as(
            &admin.token,
            "{ users(first: 1) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    data["users"]["pageInfo"]["endCursor"].clone()
}

async fn seed_profiles(app: &TestApp) {
    let at = "'2026-01-01T00:00:00+00:00'";
    let profiles: Vec<String> = (1..=PROFILES)
        .map(|j| format!("({j}, 'Profile {j}', 'profile {j}', {at}, {at})"))
        .collect();
    app.execute_sql(&format!(
        "INSERT INTO profile (id, name, name_key, created_at, updated_at) VALUES {}",
        profiles.join(", ")
    ))
    .await;
}

async fn statements_do_not_grow_with_parents(backend: Backend) {
    uncached(backend, statements_do_not_grow_with_parents_on).await;
}

async fn statements_do_not_grow_with_parents_on(app: &TestApp) {
    let admin = app.admin().await;
    seed_profiles(app).await;
    let after = after_accounts(app, &admin).await;

    // One user: 1 parent at the second level, 5 at the third.
    seed(app, 1).await;
    let small = app
        .gql_as(&admin.token, NESTED, json!({ "after": after }))
        .await;
    assert!(small.errors().is_empty(), "{}", small.body);
    check(&small.body["data"], 1);

    // 100 users: 100 parents at the second level, 500 at the third.
    seed(app, 100).await;
    let large = app
        .gql_as(&admin.token, NESTED, json!({ "after": after }))
        .await;
    assert!(large.errors().is_empty(), "{}", large.body);
    check(&large.body["data"], 100);

    // The caller's lookup; users; profile pages + totals; user pages + totals; profile pages.
    assert_eq!(small.sql(), 7, "statements at 5 parents");
    assert_eq!(
        large.sql(),
        small.sql(),
        "statements at 500 parents equal those at 5"
    );
}

/// A caller without `users:read` or `profiles:read`, managing the first `profiles` profiles.
/// What they see of the seeded users' profiles is cut by the visibility filter in SQL.
const AS_MANAGER: &str = "{ me { profiles(first: 100) { totalCount nodes { name
    users(first: 100) { totalCount nodes { email profiles(first: 5) { totalCount nodes { name } } } }
} } } }";

async fn access_rules_ride_in_the_same_statements(backend: Backend) {
    uncached(backend, access_rules_ride_in_the_same_statements_on).await;
}

async fn access_rules_ride_in_the_same_statements_on(app: &TestApp) {
    let viewer = app.register("viewer@example.com").await;
    seed_profiles(app).await;
    seed(app, 100).await;
    let mut counts = Vec::new();
    for managed in [1, PROFILES] {
        app.execute_sql("DELETE FROM user_profile WHERE user_id = 1")
            .await;
        let links: Vec<String> = (1..=managed)
            .map(|j| format!("(1, {j}, 'MANAGER', '2026-01-01T00:00:00+00:00')"))
            .collect();
        app.execute_sql(&format!(
            "INSERT INTO user_profile (user_id, profile_id, role, created_at) VALUES {}",
            links.join(", ")
        ))
        .await;
        let answer = app.gql_as(&viewer.token, AS_MANAGER, json!({})).await;
        assert!(answer.errors().is_empty(), "{}", answer.body);
        let mine = &answer.body["data"]["me"]["profiles"];
        assert_eq!(mine["totalCount"], managed);
        for profile in mine["nodes"].as_array().expect("profiles") {
            let j = number_in(&profile["name"], "Profile ").expect("a seeded profile");
            let users = profile["users"]["nodes"].as_array().expect("users");
            // Everyone managing a profile the viewer manages is visible: the viewer and the
            // seeded users of it.
            assert_eq!(users.len(), users_of(j, 100).len() + 1);
            for user in users.iter().filter(|u| u["email"] != "viewer@example.com") {
                let i = number_in(&user["email"], "user").expect("a seeded user");
                // Of a seeded user's profiles, only those the viewer manages are visible.
                let visible: Vec<i64> = profiles_of(i)
                    .into_iter()
                    .filter(|p| *p <= managed)
                    .collect();
                assert_eq!(user["profiles"]["totalCount"], visible.len(), "user {i}");
                let seen: Vec<Option<i64>> = user["profiles"]["nodes"]
                    .as_array()
                    .expect("profiles")
                    .iter()
                    .map(|p| number_in(&p["name"], "Profile "))
                    .collect();
                let expected: Vec<Option<i64>> = visible.into_iter().map(Some).collect();
                assert_eq!(seen, expected, "profiles of user {i} seen by the viewer");
            }
        }
        counts.push(answer.sql());
    }
    // The caller's lookup; then a page and a total per level, for three levels.
    assert_eq!(counts, [7, 7]);
}

/// With the cache of callers on (the default), a token's caller is looked up once, and again
/// after any change of the account: here a login, which changes its tracking fields, and a
/// logout everywhere, which revokes the token.
async fn the_caller_is_looked_up_again_after_account_changes(app: &TestApp) {
    let ann = app.register("ann@example.com").await;
    // The change of the sign-in that registering made reaches this replica first (`NOTIFY` on
    // PostgreSQL arrives a moment later).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let me = "{ me { email loginCount } }";
    let first = app.gql_as(&ann.token, me, json!({})).await;
    let again = app.gql_as(&ann.token, me, json!({})).await;
    assert_eq!((first.sql(), again.sql()), (1, 0), "{}", again.body);
    assert_eq!(first.body, again.body);

    let login = app.login("ann@example.com", crate::helpers::PASSWORD).await;
    assert!(login.errors().is_empty(), "{}", login.body);
    let after_login = app.gql_as(&ann.token, me, json!({})).await;
    assert_eq!(after_login.sql(), 1, "looked up again after the login");
    assert_eq!(
        after_login.body["data"]["me"]["loginCount"],
        first.body["data"]["me"]["loginCount"]
            .as_i64()
            .expect("a count")
            + 1
    );

    let out = app
        .gql_as(&ann.token, "mutation { logoutEverywhere }", json!({}))
        .await;
    assert!(out.errors().is_empty(), "{}", out.body);
    let revoked = app.gql_as(&ann.token, me, json!({})).await;
    assert_eq!(revoked.code(), "UNAUTHENTICATED", "{}", revoked.body);
}

/// The global ID of a node.
fn global_id(kind: &str, key: i64) -> String {
    STANDARD.encode(format!("{kind}:{key}"))
}

/// Arguments of a nested list, each read ahead with its parent by `profile(id)` and
/// `user(id)`, and the usual way under `node(id)`.
const LIST_ARGUMENTS: [&str; 7] = [
    "",
    "(first: 3)",
    "(last: 2)",
    "(first: 4, orderBy: {field: ROLE})",
    "(orderBy: {field: LINKED_AT, direction: DESC}, first: 2)",
    "(first: 100, filter: {linkedBefore: \"2027-01-01T00:00:00Z\"})",
    "(first: 0)",
];

/// What `profile(id)` and `user(id)` read in one statement on PostgreSQL (the object and the
/// first page of its list) answers exactly what the object and its list read one after the
/// other answer, for every kind of page, with the caller's visibility applied to both.
async fn one_object_and_its_list_read_together_answer_as_read_apart(backend: Backend) {
    uncached(backend, read_together_on).await;
}

async fn read_together_on(app: &TestApp) {
    let admin = app.admin().await;
    seed_profiles(app).await;
    seed(app, 100).await;
    let users = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor role linkedAt node { email } }";
    let profiles = "pageInfo { hasNextPage hasPreviousPage endCursor }
        edges { cursor role node { name } }";
    let profile = global_id("Profile", 7);
    let user = global_id("User", FIRST_SEEDED + 3);
    for arguments in LIST_ARGUMENTS {
        let ahead = format!(
            "{{ profile(id: \"{profile}\") {{ name users{arguments} {{ {users} }} }}
               user(id: \"{user}\") {{ email profiles{arguments} {{ {profiles} }} }} }}"
        );
        let apart = format!(
            "{{ profile: node(id: \"{profile}\") {{ ... on Profile {{ name users{arguments} {{ {users} }} }} }}
               user: node(id: \"{user}\") {{ ... on User {{ email profiles{arguments} {{ {profiles} }} }} }} }}"
        );
        let ahead = app.gql_as(&admin.token, &ahead, json!({})).await;
        let apart = app.gql_as(&admin.token, &apart, json!({})).await;
        assert!(ahead.errors().is_empty(), "{}", ahead.body);
        assert_eq!(ahead.body, apart.body, "users{arguments}");
        // The caller's lookup, then one statement per root field on PostgreSQL; two on SQLite.
        let per_root = if app.backend == Backend::Postgres {
            1
        } else {
            2
        };
        assert_eq!(ahead.sql(), 1 + 2 * per_root, "users{arguments}");
    }

    // A page after a cursor, read ahead: the rest of the list.
    let first = app
        .data_as(
            &admin.token,
            &format!("{{ profile(id: \"{profile}\") {{ users(first: 1) {{ {users} }} }} }}"),
            json!({}),
        )
        .await;
    let cursor = &first["profile"]["users"]["pageInfo"]["endCursor"];
    let rest = app
        .data_as(
            &admin.token,
            &format!(
                "query($after: String) {{ profile(id: \"{profile}\") {{ users(after: $after) {{ {users} }} }} }}"
            ),
            json!({ "after": cursor }),
        )
        .await;
    let all = users_of(7, 100);
    let emails: Vec<Option<i64>> = rest["profile"]["users"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| number_in(&edge["node"]["email"], "user"))
        .collect();
    let expected: Vec<Option<i64>> = all.iter().skip(1).map(|i| Some(*i)).collect();
    assert_eq!(emails, expected);

    // A profile without managers, read with its list: the profile, and an empty list.
    app.execute_sql(
        "INSERT INTO profile (id, name, name_key, created_at, updated_at) VALUES \
         (999, 'Nobody''s', 'nobody''s', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
    )
    .await;
    let empty = app
        .data_as(
            &admin.token,
            &format!(
                "{{ profile(id: \"{}\") {{ name users {{ nodes {{ email }} }} }} }}",
                global_id("Profile", 999)
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        empty,
        json!({ "profile": { "name": "Nobody's", "users": { "nodes": [] } } })
    );

    // A caller who manages neither sees neither, read ahead or not; and a filter they may not
    // use is refused by the list, as it is without reading ahead.
    let stranger = app.register("stranger@example.com").await;
    let hidden = app
        .data_as(
            &stranger.token,
            &format!(
                "{{ profile(id: \"{profile}\") {{ users {{ nodes {{ email }} }} }}
                   user(id: \"{user}\") {{ profiles {{ nodes {{ name }} }} }} }}"
            ),
            json!({}),
        )
        .await;
    assert_eq!(hidden, json!({ "profile": null, "user": null }));
    let manager = app.register("manager@example.com").await;
    app.execute_sql(
        "INSERT INTO user_profile (user_id, profile_id, role, created_at) \
         SELECT id, 7, 'MANAGER', '2026-01-01T00:00:00+00:00' FROM \"user\" \
         WHERE email = 'manager@example.com'",
    )
    .await;
    let private = app
        .gql_as(
            &manager.token,
            &format!(
                "{{ profile(id: \"{profile}\") {{ users(filter: {{active: true}}) {{ nodes {{ email }} }} }} }}"
            ),
            json!({}),
        )
        .await;
    assert_eq!(private.code(), "FORBIDDEN", "{}", private.body);
    let visible = app
        .data_as(
            &manager.token,
            &format!(
                "{{ profile(id: \"{profile}\") {{ users(first: 100) {{ nodes {{ email }} }} }} }}"
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        visible["profile"]["users"]["nodes"]
            .as_array()
            .expect("users")
            .len(),
        users_of(7, 100).len() + 1
    );
}
