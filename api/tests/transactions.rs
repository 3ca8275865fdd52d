//! A mutation request writes all of its fields or nothing: one transaction for the request,
//! read by its own later fields, and rolled back by any error.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    db_tests,
    helpers::{Account, Backend, PASSWORD, TestApp, account},
};

db_tests!(
    a_failed_field_rolls_back_the_whole_request,
    a_request_reads_what_it_wrote,
    an_administrator_links_and_unlinks_in_one_request,
    a_failed_login_counts_though_the_request_writes_nothing[own_server],
    a_password_is_checked_before_the_writes_of_its_request,
    a_reused_refresh_token_revokes_its_session_though_the_request_writes_nothing,
);

/// The names of the caller's profiles.
async fn profile_names(app: &TestApp, caller: &Account) -> Vec<String> {
    let data = app
        .data_as(
            &caller.token,
            "{ me { profiles { nodes { name } } } }",
            json!({}),
        )
        .await;
    data["me"]["profiles"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| node["name"].as_str().expect("name").to_owned())
        .collect()
}

/// The code and path of every error of a response.
fn codes_and_paths(body: &Value) -> Vec<(String, Value)> {
    body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|error| {
            (
                error["extensions"]["code"]
                    .as_str()
                    .expect("code")
                    .to_owned(),
                error["path"].clone(),
            )
        })
        .collect()
}

async fn a_failed_field_rolls_back_the_whole_request(app: &TestApp) {
    let owner = app.register("owner@example.com").await;
    let ann = app.register("ann@example.com").await;
    let response = app
        .gql_as(
            &owner.token,
            r#"mutation {
                first: createProfile(name: "First") { id }
                empty: createProfile(name: "  ") { id }
                last: createProfile(name: "Last") { id }
            }"#,
            json!({}),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.body["data"], Value::Null, "{}", response.body);
    // The failed field says why; the one after it did not run.
    assert_eq!(
        codes_and_paths(&response.body),
        [
            ("BAD_USER_INPUT".into(), json!(["empty"])),
            ("ABORTED".into(), json!(["last"])),
        ]
    );
    assert_eq!(profile_names(app, &owner).await, Vec::<String>::new());

    // A link added, then the last owner's removal refused: the link is gone with it. (Ann
    // shares a profile with the owner, who may therefore add her to others directly.)
    let shared = app.create_profile(&owner, "Shared").await;
    app.add_manager(&owner, &shared, &ann, "MANAGER").await;
    let profile = app.create_profile(&owner, "Team").await;
    let response = app
        .gql_as(
            &owner.token,
            "mutation($p: ID!, $ann: ID!, $owner: ID!) {
                add: addProfileManager(profileId: $p, userId: $ann) { changed }
                leave: removeProfileManager(profileId: $p, userId: $owner) { changed }
            }",
            json!({ "p": profile, "ann": ann.id, "owner": owner.id }),
        )
        .await;
    assert_eq!(response.body["data"], Value::Null, "{}", response.body);
    assert_eq!(
        codes_and_paths(&response.body),
        [("CONFLICT".into(), json!(["leave"]))]
    );
    assert_eq!(profile_names(app, &ann).await, ["Shared"]);
    assert_eq!(profile_names(app, &owner).await, ["Shared", "Team"]);

    // The same request without the failing field writes both.
    let response = app
        .gql_as(
            &owner.token,
            r#"mutation { first: createProfile(name: "First") { id } last: createProfile(name: "Last") { id } }"#,
            json!({}),
        )
        .await;
    assert!(response.errors().is_empty(), "{}", response.body);
    let mut names = profile_names(app, &owner).await;
    names.sort();
    assert_eq!(names, ["First", "Last", "Shared", "Team"]);
}

async fn a_request_reads_what_it_wrote(app: &TestApp) {
    let owner = app.register("owner@example.com").await;
    let ann = app.register("ann@example.com").await;
    // A new profile lists its owner, read within the request's transaction.
    let data = app
        .data_as(
            &owner.token,
            r#"mutation { createProfile(name: "Team") { name users { edges { role node { email } } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data["createProfile"],
        json!({ "name": "Team", "users": { "edges": [
            { "role": "OWNER", "node": { "email": "owner@example.com" } }
        ] } })
    );
    // Each field sees what the fields before it wrote (Ann, sharing a profile with the owner,
    // may be added directly).
    let shared = app.create_profile(&owner, "Shared").await;
    app.add_manager(&owner, &shared, &ann, "MANAGER").await;
    let profile = app.create_profile(&owner, "Club").await;
    let data = app
        .data_as(
            &owner.token,
            "mutation($p: ID!, $u: ID!) {
                add: addProfileManager(profileId: $p, userId: $u) { changed }
                again: addProfileManager(profileId: $p, userId: $u) { changed profile { users { totalCount } } }
                remove: removeProfileManager(profileId: $p, userId: $u) { changed profile { users { totalCount } } }
                gone: removeProfileManager(profileId: $p, userId: $u) { changed }
            }",
            json!({ "p": profile, "u": ann.id }),
        )
        .await;
    assert_eq!(
        data,
        json!({
            "add": { "changed": true },
            "again": { "changed": false, "profile": { "users": { "totalCount": 2 } } },
            "remove": { "changed": true, "profile": { "users": { "totalCount": 1 } } },
            "gone": { "changed": false },
        })
    );
}

async fn a_failed_login_counts_though_the_request_writes_nothing(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.lockout_max_failures = 1;
        c.lockout_window = Duration::from_secs(600);
    })
    .await;
    let ann = app.register("ann@example.com").await;
    let response = app
        .gql_as(
            &ann.token,
            r#"mutation {
                login(email: "ann@example.com", password: "wrong password") { accessToken }
                createProfile(name: "Team") { id }
            }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        codes_and_paths(&response.body),
        [
            ("UNAUTHENTICATED".into(), json!(["login"])),
            ("ABORTED".into(), json!(["createProfile"])),
        ]
    );
    assert_eq!(profile_names(&app, &ann).await, Vec::<String>::new());
    // The failure was recorded all the same: one is enough to lock the account here.
    assert_eq!(
        app.login("ann@example.com", PASSWORD).await.code(),
        "LOCKED"
    );
    app.stop().await;
}

/// A password is checked or set before any write of its request: a login attempt is recorded
/// where concurrent attempts see it at once, which SQLite's one writer (the request's own
/// transaction) would not allow after a write, and a request gives its execution slot back
/// while it waits for a hash, which it must not do while holding that writer.
async fn a_password_is_checked_before_the_writes_of_its_request(app: &TestApp) {
    let ann = app.register("ann@example.com").await;
    for field in [
        r#"login(email: "ann@example.com", password: "wrong password") { accessToken }"#,
        r#"changePassword(currentPassword: "wrong password", newPassword: "a new password") { accessToken }"#,
        r#"register(input: { email: "bob@example.com", password: "a new password" }) { email }"#,
    ] {
        let document = format!(r#"mutation {{ createProfile(name: "Team") {{ id }} {field} }}"#);
        let response = app.gql_as(&ann.token, &document, json!({})).await;
        assert_eq!(response.code(), "BAD_USER_INPUT", "{}", response.body);
        assert_eq!(response.body["data"], Value::Null);
        assert_eq!(profile_names(app, &ann).await, Vec::<String>::new());
    }
}

async fn a_reused_refresh_token_revokes_its_session_though_the_request_writes_nothing(
    app: &TestApp,
) {
    let ann = app.register("ann@example.com").await;
    let refresh = "mutation($t: String!) { refreshToken(token: $t) { accessToken refreshToken user { id email } } }";
    let response = app.gql(refresh, json!({ "t": ann.refresh })).await;
    assert!(response.errors().is_empty(), "{}", response.body);
    let rotated = account(&response.body["data"]["refreshToken"]);
    // The first token again, after a write of the same request.
    let response = app
        .gql_as(
            &rotated.token,
            r#"mutation($t: String!) {
                createProfile(name: "Team") { id }
                refreshToken(token: $t) { accessToken }
            }"#,
            json!({ "t": ann.refresh }),
        )
        .await;
    assert_eq!(
        codes_and_paths(&response.body),
        [("UNAUTHENTICATED".into(), json!(["refreshToken"]))]
    );
    // The whole session is revoked: the tokens rotated from it no longer work, the access
    // token included, though the request that revoked it wrote nothing.
    let response = app.gql(refresh, json!({ "t": rotated.refresh })).await;
    assert_eq!(response.code(), "UNAUTHENTICATED", "{}", response.body);
    let response = app.gql_as(&rotated.token, "{ me { id } }", json!({})).await;
    assert_eq!(response.code(), "UNAUTHENTICATED", "{}", response.body);
    let login = app.login("ann@example.com", PASSWORD).await;
    let other = account(&login.body["data"]["login"]);
    assert_eq!(profile_names(app, &other).await, Vec::<String>::new());
}

/// An administrator's link and unlink of one pair in one request (the benchmark's M1) both
/// change it, whatever the role given; a link made an owner's is removed the locked way, and
/// the profile keeps its other owner.
async fn an_administrator_links_and_unlinks_in_one_request(app: &TestApp) {
    let admin = app.admin().await;
    let owner = app.register("owner@example.com").await;
    let ann = app.register("ann@example.com").await;
    let profile = app.create_profile(&owner, "Team").await;
    for role in ["MANAGER", "OWNER"] {
        let data = app
            .data_as(
                &admin.token,
                "mutation($p: ID!, $u: ID!, $role: ProfileRole!) {
                    link: addProfileManager(profileId: $p, userId: $u, role: $role) { changed role }
                    unlink: removeProfileManager(profileId: $p, userId: $u) { changed role }
                }",
                json!({ "p": profile, "u": ann.id, "role": role }),
            )
            .await;
        assert_eq!(
            data,
            json!({
                "link": { "changed": true, "role": role },
                "unlink": { "changed": true, "role": null }
            })
        );
        assert_eq!(profile_names(app, &ann).await, Vec::<String>::new());
        assert_eq!(profile_names(app, &owner).await, ["Team"]);
    }
}
