//! One SQL statement per nesting level, however many parents the level has.

use serde_json::{Value, json};

use crate::{db_tests, helpers::TestApp};

db_tests!(statements_do_not_grow_with_parents);

const PROFILES: i64 = 50;
const LINKS_PER_USER: i64 = 5;

/// The profiles of user `i` (1-based): five distinct ones, as in the benchmark dataset.
fn profiles_of(user: i64) -> Vec<i64> {
    let mut profiles: Vec<i64> = (0..LINKS_PER_USER)
        .map(|t| (user * 7 + t * 11) % PROFILES + 1)
        .collect();
    profiles.sort_unstable();
    profiles
}

async fn seed(app: &TestApp, users: i64) {
    let at = "'2026-01-01T00:00:00+00:00'";
    let rows = |range: std::ops::RangeInclusive<i64>, row: &dyn Fn(i64) -> String| {
        range.map(row).collect::<Vec<_>>().join(", ")
    };
    app.execute_sql(&format!(
        "INSERT INTO \"user\" (id, email, created_at) VALUES {}",
        rows(1..=users, &|i| format!(
            "({i}, 'user{i}@example.com', {at})"
        ))
    ))
    .await;
    app.execute_sql(&format!(
        "INSERT INTO profile (id, name, created_at, updated_at) VALUES {}",
        rows(1..=PROFILES, &|j| format!(
            "({j}, 'Profile {j}', {at}, {at})"
        ))
    ))
    .await;
    let links: Vec<String> = (1..=users)
        .flat_map(|i| {
            profiles_of(i)
                .into_iter()
                .map(move |j| format!("({i}, {j}, 'MANAGER', {at})"))
        })
        .collect();
    app.execute_sql(&format!(
        "INSERT INTO user_profile (user_id, profile_id, role, created_at) VALUES {}",
        links.join(", ")
    ))
    .await;
}

/// Four levels: users → profiles (with totals) → users (with totals) → profiles.
const NESTED: &str = "{ users(first: 100) { nodes { email profiles(first: 5) { totalCount nodes {
    name users(first: 3) { totalCount nodes { email profiles(first: 2) { nodes { name } } } }
} } } } }";

/// The users of profile `j` among the first `users`, in key order.
fn users_of(profile: i64, users: i64) -> Vec<i64> {
    (1..=users)
        .filter(|i| profiles_of(*i).contains(&profile))
        .collect()
}

fn number_in(text: &Value, prefix: &str) -> i64 {
    text.as_str()
        .and_then(|t| t.strip_prefix(prefix))
        .and_then(|n| n.trim_end_matches("@example.com").parse().ok())
        .expect("a seeded name")
}

/// Checks every level of the answer against the dataset's formula.
fn check(answer: &Value, users: i64) {
    let nodes = answer["users"]["nodes"].as_array().expect("users");
    assert_eq!(nodes.len() as i64, users.min(100));
    for user in nodes {
        let i = number_in(&user["email"], "user");
        let profiles = user["profiles"]["nodes"].as_array().expect("profiles");
        let seen: Vec<i64> = profiles
            .iter()
            .map(|p| number_in(&p["name"], "Profile "))
            .collect();
        assert_eq!(seen, profiles_of(i), "profiles of user {i}");
        assert_eq!(user["profiles"]["totalCount"], LINKS_PER_USER);
        for profile in profiles {
            let j = number_in(&profile["name"], "Profile ");
            let all = users_of(j, users);
            let seen: Vec<i64> = profile["users"]["nodes"]
                .as_array()
                .expect("users")
                .iter()
                .map(|u| number_in(&u["email"], "user"))
                .collect();
            assert_eq!(
                seen,
                all.iter().copied().take(3).collect::<Vec<_>>(),
                "users of profile {j}"
            );
            assert_eq!(profile["users"]["totalCount"], all.len());
        }
    }
}

async fn statements_do_not_grow_with_parents(app: &TestApp) {
    // One user: 1 parent at the second level, 5 at the third.
    seed(app, 1).await;
    let small = app.gql(NESTED, json!({})).await;
    assert!(small.errors().is_empty(), "{}", small.body);
    check(&small.body["data"], 1);

    // 100 users: 100 parents at the second level, 500 at the third.
    app.execute_sql("DELETE FROM user_profile").await;
    app.execute_sql("DELETE FROM \"user\"").await;
    app.execute_sql("DELETE FROM profile").await;
    seed(app, 100).await;
    let large = app.gql(NESTED, json!({})).await;
    assert!(large.errors().is_empty(), "{}", large.body);
    check(&large.body["data"], 100);

    // users page, profile pages + totals, user pages + totals, profile pages.
    assert_eq!(small.sql(), 6, "statements at 5 parents");
    assert_eq!(
        large.sql(),
        small.sql(),
        "statements at 500 parents equal those at 5"
    );
}
