//! Many clients at once: racing links, racing owners, and a graceful stop.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::{
    db_tests,
    helpers::{Account, Backend, PASSWORD, ServerProcess, TestApp, TestDatabase},
};

db_tests!(
    racing_clients_keep_links_whole,
    racing_owners_never_leave_a_profile_without_one,
    racing_administrators_never_leave_a_profile_without_an_owner,
    racing_links_and_unlinks_of_one_pair_never_fail,
    racing_registrations_of_one_address_answer_alike,
    sigterm_finishes_requests_in_flight_then_exits[own_server],
);

const SET: &str = "mutation($p: ID!, $u: ID!, $r: ProfileRole!) {
    addProfileManager(profileId: $p, userId: $u, role: $r) { role } }";
const REMOVE: &str =
    "mutation($p: ID!, $u: ID!) { removeProfileManager(profileId: $p, userId: $u) { changed } }";

/// Makes `users` managers of a profile of `owner`'s by invitation, so that the owner sees them
/// and may add them to other profiles directly.
async fn acquaint(app: &TestApp, owner: &Account, users: &[Account]) {
    let club = app.create_profile(owner, "Club").await;
    for user in users {
        app.add_manager(owner, &club, user, "MANAGER").await;
    }
}

/// The users of a profile and their roles, as its owner sees them.
async fn managers(app: &TestApp, owner: &Account, profile: &str) -> Vec<(String, String)> {
    let data = app
        .data_as(
            &owner.token,
            "query($p: ID!) { profile(id: $p) { users { edges { role node { id } } } } }",
            json!({ "p": profile }),
        )
        .await;
    data["profile"]["users"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| {
            (
                edge["node"]["id"].as_str().expect("id").to_owned(),
                edge["role"].as_str().expect("role").to_owned(),
            )
        })
        .collect()
}

async fn racing_clients_keep_links_whole(app: &TestApp) {
    let owner = app.register("owner@example.com").await;
    let profile = app.create_profile(&owner, "Team").await;
    let mut users = Vec::new();
    for n in 0..4 {
        users.push(app.register(&format!("user{n}@example.com")).await);
    }
    acquaint(app, &owner, &users).await;
    // 64 clients at once, each adding, re-rolling or removing one of four users.
    let ops = (0..64).map(|n| {
        let target = &users[n % 4];
        let (query, vars) = match (n / 4) % 3 {
            0 => (SET, json!({ "p": profile, "u": target.id, "r": "MANAGER" })),
            1 => (SET, json!({ "p": profile, "u": target.id, "r": "OWNER" })),
            _ => (REMOVE, json!({ "p": profile, "u": target.id })),
        };
        app.gql_as(&owner.token, query, vars)
    });
    for response in join_all(ops).await {
        assert_eq!(response.status, 200);
        // The owner never leaves, so every change is allowed: no error at all, on SQLite too
        // (writers wait for each other instead of failing with "database is locked").
        assert!(response.errors().is_empty(), "{}", response.body);
    }
    // Then one last change per user, each after all the others on its link: the final state
    // is what they said.
    let last = users.iter().enumerate().map(|(n, user)| {
        let (query, vars) = if n % 2 == 0 {
            (SET, json!({ "p": profile, "u": user.id, "r": if n == 0 { "OWNER" } else { "MANAGER" } }))
        } else {
            (REMOVE, json!({ "p": profile, "u": user.id }))
        };
        app.gql_as(&owner.token, query, vars)
    });
    for response in join_all(last).await {
        assert!(response.errors().is_empty(), "{}", response.body);
    }
    let mut expected = vec![
        (owner.id.clone(), "OWNER".to_owned()),
        (users[0].id.clone(), "OWNER".to_owned()),
        (users[2].id.clone(), "MANAGER".to_owned()),
    ];
    expected.sort();
    let mut seen = managers(app, &owner, &profile).await;
    seen.sort();
    assert_eq!(
        seen, expected,
        "one link per user, as the last changes left them"
    );
}

/// 64 changes at once by an administrator (`profiles:write`, whose new links and removals of
/// managers take no profile lock), on four users and the owner: each user keeps one link at
/// most, a removal of the last owner is the only error, and an owner is always left.
async fn racing_administrators_never_leave_a_profile_without_an_owner(app: &TestApp) {
    let admin = app.admin().await;
    let owner = app.register("owner@example.com").await;
    let profile = app.create_profile(&owner, "Team").await;
    let mut targets = vec![owner.id.clone()];
    for n in 0..4 {
        targets.push(app.register(&format!("user{n}@example.com")).await.id);
    }
    let ops = (0..64).map(|n| {
        let target = &targets[n % 5];
        let (query, vars) = match (n / 5) % 3 {
            0 => (SET, json!({ "p": profile, "u": target, "r": "MANAGER" })),
            1 => (SET, json!({ "p": profile, "u": target, "r": "OWNER" })),
            _ => (REMOVE, json!({ "p": profile, "u": target })),
        };
        app.gql_as(&admin.token, query, vars)
    });
    for response in join_all(ops).await {
        assert_eq!(response.status, 200);
        if !response.errors().is_empty() {
            let errors = response.errors();
            let message = errors[0]["message"].as_str().unwrap_or_default();
            assert!(
                message.starts_with("a profile always has an owner"),
                "{}",
                response.body
            );
        }
    }
    let seen = managers(app, &admin, &profile).await;
    let mut users: Vec<&String> = seen.iter().map(|(user, _)| user).collect();
    users.sort();
    users.dedup();
    assert_eq!(users.len(), seen.len(), "one link per user: {seen:?}");
    assert!(
        seen.iter().any(|(_, role)| role == "OWNER"),
        "an owner is left: {seen:?}"
    );
}

/// The benchmark's M1 at small scale: 32 clients, half of them the profile's owner (whose
/// changes take the profile's lock) and half an administrator (whose new links and removals
/// take none), each linking and unlinking the same user ten times in a row. None fails.
async fn racing_links_and_unlinks_of_one_pair_never_fail(app: &TestApp) {
    let admin = app.admin().await;
    let owner = app.register("owner@example.com").await;
    let ann = app.register("ann@example.com").await;
    acquaint(app, &owner, std::slice::from_ref(&ann)).await;
    let profile = app.create_profile(&owner, "Team").await;
    let both = "mutation($p: ID!, $u: ID!) {
        link: addProfileManager(profileId: $p, userId: $u) { changed }
        unlink: removeProfileManager(profileId: $p, userId: $u) { changed }
    }";
    let clients = (0..32).map(|n| {
        let token = if n % 2 == 0 {
            &admin.token
        } else {
            &owner.token
        };
        let variables = json!({ "p": profile, "u": ann.id });
        async move {
            for _ in 0..10 {
                let response = app.gql_as(token, both, variables.clone()).await;
                // Each request is one transaction: it links and unlinks whatever the others do.
                assert_eq!(
                    response.body["data"],
                    json!({ "link": { "changed": true }, "unlink": { "changed": true } }),
                    "{}",
                    response.body
                );
            }
        }
    });
    join_all(clients).await;
    let seen = managers(app, &owner, &profile).await;
    assert_eq!(seen, [(owner.id.clone(), "OWNER".to_owned())]);
}

async fn racing_owners_never_leave_a_profile_without_one(app: &TestApp) {
    let owners: Vec<Account> = join_all((0..4).map(|n| app.register_owned(n))).await;
    let profile = app.create_profile(&owners[0], "Contested").await;
    for owner in &owners[1..] {
        app.add_manager(&owners[0], &profile, owner, "OWNER").await;
    }
    // Every owner tries to leave and to remove every other owner, all at once, twice over.
    let attempts = (0..2).flat_map(|_| {
        owners
            .iter()
            .flat_map(|actor| owners.iter().map(move |target| (actor, target)))
    });
    let answers = join_all(attempts.map(|(actor, target)| {
        app.gql_as(
            &actor.token,
            REMOVE,
            json!({ "p": profile, "u": target.id }),
        )
    }))
    .await;
    for response in &answers {
        assert_eq!(response.status, 200);
        let code = if response.errors().is_empty() {
            "OK"
        } else {
            response.code()
        };
        // Refused because it would remove the last owner, or because the actor was removed
        // first and no longer sees the profile.
        assert!(
            ["OK", "CONFLICT", "NOT_FOUND"].contains(&code),
            "{}",
            response.body
        );
    }
    let removed = answers
        .iter()
        .filter(|r| {
            r.errors().is_empty() && r.body["data"]["removeProfileManager"]["changed"] == true
        })
        .count();
    assert_eq!(removed, 3, "all owners but one were removed, each once");
    let mut remaining = Vec::new();
    for owner in &owners {
        let data = app
            .data_as(
                &owner.token,
                "query($p: ID!) { profile(id: $p) { users { edges { role node { id } } } } }",
                json!({ "p": profile }),
            )
            .await;
        if data["profile"] != Value::Null {
            remaining.push(data["profile"]["users"]["edges"].clone());
        }
    }
    assert_eq!(
        remaining.len(),
        1,
        "exactly one owner still manages the profile"
    );
    assert_eq!(remaining[0].as_array().map(Vec::len), Some(1));
    assert_eq!(remaining[0][0]["role"], "OWNER");
}

async fn sigterm_finishes_requests_in_flight_then_exits(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let mut server = ServerProcess::start(&database.url, &[]).await;
    let client = reqwest::Client::new();
    let register = json!({ "query": format!("mutation {{ register(input: {{ email: \"ann@example.com\", password: \"{PASSWORD}\" }}) {{ email }} }}") });
    // A login takes a while: the password is hashed (argon2id, 64 MiB).
    let in_flight = tokio::spawn({
        let (client, url) = (client.clone(), format!("{}/graphql", server.url));
        async move { client.post(url).json(&register).send().await }
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    server.terminate();
    let answer = in_flight
        .await
        .expect("joined")
        .expect("the request in flight is answered");
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.expect("json");
    assert_eq!(
        body["data"]["register"]["email"], "ann@example.com",
        "{body}"
    );
    let status = server.exit_status(Duration::from_secs(15)).await;
    assert!(status.success(), "exits 0 after SIGTERM: {status:?}");
    let refused = client
        .post(format!("{}/graphql", server.url))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await;
    assert!(refused.is_err(), "no new connections once stopped");
}

/// A registration of an address that another registration, in flight, is taking gets the
/// answer any registration gets: it waits for the other, and does not fail on the address.
/// (PostgreSQL: SQLite's writers never overlap.)
async fn racing_registrations_of_one_address_answer_alike(app: &TestApp) {
    use sea_orm::{ConnectionTrait, Database, TransactionTrait};
    if app.backend == Backend::Sqlite {
        return;
    }
    let other = Database::connect(app.database_url())
        .await
        .expect("PostgreSQL answers");
    let in_flight = other.begin().await.expect("a transaction");
    in_flight
        .execute_unprepared(
            r#"INSERT INTO "user" ("email", "email_key", "created_at", "password_hash", "active",
                "fs_uniquifier", "login_count", "updated_at")
               VALUES ('twin@example.com', 'twin@example.com', now(), '', TRUE, 'twin', 0, now())"#,
        )
        .await
        .expect("the other registration's row");
    let register = app.gql(
        "mutation($e: String!, $p: String!) {
            register(input: { email: $e, password: $p }) { email confirmationRequired }
        }",
        json!({ "e": "twin@example.com", "p": PASSWORD }),
    );
    let commit = async {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        in_flight
            .commit()
            .await
            .expect("the other registration commits");
    };
    let (answer, ()) = tokio::join!(register, commit);
    assert_eq!(
        answer.body,
        json!({ "data": { "register": { "email": "twin@example.com", "confirmationRequired": false } } })
    );
}
