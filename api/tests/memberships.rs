//! Linking and unlinking users and profiles: idempotence, role changes, cascades.

use serde_json::json;

use crate::{db_tests, helpers::TestApp};

db_tests!(
    adding_a_manager_twice_changes_nothing,
    adding_with_another_role_changes_the_role,
    removing_a_manager_is_idempotent,
    deleting_a_profile_removes_its_links,
    deleting_a_user_removes_their_links,
);

const PROFILE_USERS: &str = "query($id: ID!) {
    profile(id: $id) { users { totalCount edges { role node { email } } } }
}";

async fn adding_a_manager_twice_changes_nothing(app: &TestApp) {
    let ann = app.create_user("ann@example.com").await;
    let team = app.create_profile("Team").await;
    assert_eq!(
        app.add_manager(&team, &ann, "MANAGER").await,
        json!({ "changed": true, "role": "MANAGER" })
    );
    let before = app.data(PROFILE_USERS, json!({ "id": team })).await;
    assert_eq!(
        app.add_manager(&team, &ann, "MANAGER").await,
        json!({ "changed": false, "role": "MANAGER" })
    );
    let after = app.data(PROFILE_USERS, json!({ "id": team })).await;
    assert_eq!(before, after);
    assert_eq!(after["profile"]["users"]["totalCount"], 1);
}

async fn adding_with_another_role_changes_the_role(app: &TestApp) {
    let ann = app.create_user("ann@example.com").await;
    let team = app.create_profile("Team").await;
    app.add_manager(&team, &ann, "MANAGER").await;
    assert_eq!(
        app.add_manager(&team, &ann, "OWNER").await,
        json!({ "changed": true, "role": "OWNER" })
    );
    let data = app.data(PROFILE_USERS, json!({ "id": team })).await;
    assert_eq!(
        data["profile"]["users"],
        json!({ "totalCount": 1, "edges": [{ "role": "OWNER", "node": { "email": "ann@example.com" } }] })
    );
}

async fn removing_a_manager_is_idempotent(app: &TestApp) {
    let ann = app.create_user("ann@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let team = app.create_profile("Team").await;
    app.add_manager(&team, &ann, "OWNER").await;
    app.add_manager(&team, &bob, "MANAGER").await;
    let remove = "mutation($p: ID!, $u: ID!) {
        removeProfileManager(profileId: $p, userId: $u) { changed role user { email } profile { name } }
    }";
    let first = app.data(remove, json!({ "p": team, "u": bob })).await;
    assert_eq!(
        first["removeProfileManager"],
        json!({ "changed": true, "role": null, "user": { "email": "bob@example.com" }, "profile": { "name": "Team" } })
    );
    let again = app.data(remove, json!({ "p": team, "u": bob })).await;
    assert_eq!(again["removeProfileManager"]["changed"], false);
    let data = app.data(PROFILE_USERS, json!({ "id": team })).await;
    assert_eq!(data["profile"]["users"]["totalCount"], 1);
    assert_eq!(
        data["profile"]["users"]["edges"][0]["node"]["email"],
        "ann@example.com"
    );
    let bobs = app
        .data(
            "query($id: ID!) { user(id: $id) { profiles { totalCount } } }",
            json!({ "id": bob }),
        )
        .await;
    assert_eq!(bobs["user"]["profiles"]["totalCount"], 0);
}

async fn deleting_a_profile_removes_its_links(app: &TestApp) {
    let ann = app.create_user("ann@example.com").await;
    let team = app.create_profile("Team").await;
    let shop = app.create_profile("Shop").await;
    app.add_manager(&team, &ann, "OWNER").await;
    app.add_manager(&shop, &ann, "OWNER").await;
    let deleted = app
        .data(
            "mutation($id: ID!) { deleteProfile(id: $id) }",
            json!({ "id": team }),
        )
        .await;
    assert_eq!(deleted["deleteProfile"], team);
    let data = app
        .data(
            "query($ann: ID!, $team: ID!) {
                profile(id: $team) { name }
                user(id: $ann) { email profiles { totalCount nodes { name } } }
            }",
            json!({ "ann": ann, "team": team }),
        )
        .await;
    assert_eq!(data["profile"], json!(null));
    assert_eq!(
        data["user"],
        json!({ "email": "ann@example.com", "profiles": { "totalCount": 1, "nodes": [{ "name": "Shop" }] } })
    );
}

async fn deleting_a_user_removes_their_links(app: &TestApp) {
    let ann = app.create_user("ann@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let team = app.create_profile("Team").await;
    app.add_manager(&team, &ann, "OWNER").await;
    app.add_manager(&team, &bob, "MANAGER").await;
    app.data(
        "mutation($id: ID!) { deleteUser(id: $id) }",
        json!({ "id": bob }),
    )
    .await;
    let data = app.data(PROFILE_USERS, json!({ "id": team })).await;
    assert_eq!(
        data["profile"]["users"],
        json!({ "totalCount": 1, "edges": [{ "role": "OWNER", "node": { "email": "ann@example.com" } }] })
    );
    let gone = app
        .data(
            "query($id: ID!) { user(id: $id) { email } }",
            json!({ "id": bob }),
        )
        .await;
    assert_eq!(gone["user"], json!(null));
}
