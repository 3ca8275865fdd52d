//! Linking and unlinking users and profiles: idempotence, role changes, cascades.

use serde_json::json;

use crate::{db_tests, helpers::TestApp};

db_tests!(
    adding_a_manager_twice_changes_nothing,
    adding_with_another_role_changes_the_role,
    removing_a_manager_is_idempotent,
    deleting_a_profile_removes_its_links,
    deleting_a_user_removes_their_links,
    profiles_write_holders_change_managers_of_any_profile,
);

const PROFILE_USERS: &str = "query($id: ID!) {
    profile(id: $id) { users { totalCount edges { role node { email } } } }
}";

async fn adding_a_manager_twice_changes_nothing(app: &TestApp) {
    let owner = app.register("owner@example.com").await;
    let ann = app.register("ann@example.com").await;
    let team = app.create_profile(&owner, "Team").await;
    let added = app.add_manager(&owner, &team, &ann, "MANAGER").await;
    assert_eq!(added, json!({ "changed": true, "role": "MANAGER" }));
    let before = app
        .data_as(&owner.token, PROFILE_USERS, json!({ "id": team }))
        .await;
    let again = app.add_manager(&owner, &team, &ann, "MANAGER").await;
    assert_eq!(again, json!({ "changed": false, "role": "MANAGER" }));
    let after = app
        .data_as(&owner.token, PROFILE_USERS, json!({ "id": team }))
        .await;
    assert_eq!(before, after);
    assert_eq!(after["profile"]["users"]["totalCount"], 2);
}

async fn adding_with_another_role_changes_the_role(app: &TestApp) {
    let owner = app.register("owner@example.com").await;
    let ann = app.register("ann@example.com").await;
    let team = app.create_profile(&owner, "Team").await;
    app.add_manager(&owner, &team, &ann, "MANAGER").await;
    let promoted = app.add_manager(&owner, &team, &ann, "OWNER").await;
    assert_eq!(promoted, json!({ "changed": true, "role": "OWNER" }));
    let data = app
        .data_as(&ann.token, PROFILE_USERS, json!({ "id": team }))
        .await;
    assert_eq!(
        data["profile"]["users"]["edges"][1],
        json!({ "role": "OWNER", "node": { "email": "ann@example.com" } })
    );
}

async fn removing_a_manager_is_idempotent(app: &TestApp) {
    let owner = app.register("owner@example.com").await;
    let bob = app.register("bob@example.com").await;
    let team = app.create_profile(&owner, "Team").await;
    let shop = app.create_profile(&owner, "Shop").await;
    app.add_manager(&owner, &team, &bob, "MANAGER").await;
    app.add_manager(&owner, &shop, &bob, "MANAGER").await;
    let remove = "mutation($p: ID!, $u: ID!) {
        removeProfileManager(profileId: $p, userId: $u) {
            changed role user { email } profile { name }
        }
    }";
    let first = app
        .data_as(&owner.token, remove, json!({ "p": team, "u": bob.id }))
        .await;
    assert_eq!(
        first["removeProfileManager"],
        json!({ "changed": true, "role": null, "user": { "email": "bob@example.com" },
                "profile": { "name": "Team" } })
    );
    let again = app
        .data_as(&owner.token, remove, json!({ "p": team, "u": bob.id }))
        .await;
    assert_eq!(again["removeProfileManager"]["changed"], false);
    let data = app
        .data_as(&owner.token, PROFILE_USERS, json!({ "id": team }))
        .await;
    assert_eq!(data["profile"]["users"]["totalCount"], 1);
    let bobs = app
        .data_as(&bob.token, "{ me { profiles { totalCount } } }", json!({}))
        .await;
    assert_eq!(bobs["me"]["profiles"]["totalCount"], 1);

    // Once Bob shares no profile with the owner, he is as unknown to them as a user who
    // never existed: the payload does not show him, and removing him again says so.
    // The payload names what changed all the same, for a client cache to drop the edge.
    let last = app
        .data_as(
            &owner.token,
            "mutation($p: ID!, $u: ID!) {
                removeProfileManager(profileId: $p, userId: $u) {
                    changed role user { email } userId profileId profile { name }
                }
            }",
            json!({ "p": shop, "u": bob.id }),
        )
        .await;
    assert_eq!(
        last["removeProfileManager"],
        json!({ "changed": true, "role": null, "user": null, "userId": bob.id,
                "profileId": shop, "profile": { "name": "Shop" } })
    );
    let hidden = app
        .gql_as(&owner.token, remove, json!({ "p": shop, "u": bob.id }))
        .await;
    let missing = app
        .gql_as(
            &owner.token,
            remove,
            json!({ "p": shop, "u": "VXNlcjo5OTk5" }),
        )
        .await;
    assert_eq!(hidden.code(), "NOT_FOUND", "{}", hidden.body);
    assert_eq!(
        hidden.body["errors"][0]["message"],
        missing.body["errors"][0]["message"]
    );
    assert_eq!(hidden.body["data"], missing.body["data"]);
}

async fn deleting_a_profile_removes_its_links(app: &TestApp) {
    let ann = app.register("ann@example.com").await;
    let team = app.create_profile(&ann, "Team").await;
    app.create_profile(&ann, "Shop").await;
    let deleted = app
        .data_as(
            &ann.token,
            "mutation($id: ID!) { deleteProfile(id: $id) }",
            json!({ "id": team }),
        )
        .await;
    assert_eq!(deleted["deleteProfile"], team);
    let data = app
        .data_as(
            &ann.token,
            "query($team: ID!) {
                profile(id: $team) { name }
                me { email profiles { totalCount nodes { name } } }
            }",
            json!({ "team": team }),
        )
        .await;
    assert_eq!(data["profile"], json!(null));
    assert_eq!(
        data["me"],
        json!({ "email": "ann@example.com", "profiles": { "totalCount": 1, "nodes": [{ "name": "Shop" }] } })
    );
}

async fn deleting_a_user_removes_their_links(app: &TestApp) {
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let team = app.create_profile(&ann, "Team").await;
    app.add_manager(&ann, &team, &bob, "MANAGER").await;
    app.data_as(
        &bob.token,
        "mutation($id: ID!) { deleteUser(id: $id) }",
        json!({ "id": bob.id }),
    )
    .await;
    let data = app
        .data_as(&ann.token, PROFILE_USERS, json!({ "id": team }))
        .await;
    assert_eq!(
        data["profile"]["users"],
        json!({ "totalCount": 1, "edges": [{ "role": "OWNER", "node": { "email": "ann@example.com" } }] })
    );
    let admin = app.admin().await;
    let gone = app
        .data_as(
            &admin.token,
            "query($id: ID!) { user(id: $id) { email } }",
            json!({ "id": bob.id }),
        )
        .await;
    assert_eq!(gone["user"], json!(null));
    // A deleted user's token no longer works.
    let response = app.gql_as(&bob.token, "{ me { email } }", json!({})).await;
    assert_eq!(response.code(), "UNAUTHENTICATED");
}

const CHANGE: &str = "mutation($p: ID!, $u: ID!, $r: ProfileRole!) {
    addProfileManager(profileId: $p, userId: $u, role: $r) {
        changed role profile { name } user { email }
    }
}";
const REMOVE: &str = "mutation($p: ID!, $u: ID!) {
    removeProfileManager(profileId: $p, userId: $u) { changed role profile { name } }
}";

/// An administrator (`profiles:write`) adds and removes managers of a profile they do not
/// manage; a new link and the removal of a manager take a path of their own, without the
/// profile's lock, and answer as the owner's changes do.
async fn profiles_write_holders_change_managers_of_any_profile(app: &TestApp) {
    let admin = app.admin().await;
    let owner = app.register("owner@example.com").await;
    let ann = app.register("ann@example.com").await;
    let team = app.create_profile(&owner, "Team").await;
    let change = |user: &str, role: &str| json!({ "p": team, "u": user, "r": role });

    // Adding Ann makes her a manager; adding her again finds her one and changes nothing.
    for changed in [true, false] {
        let added = app
            .data_as(&admin.token, CHANGE, change(&ann.id, "MANAGER"))
            .await;
        assert_eq!(
            added["addProfileManager"],
            json!({ "changed": changed, "role": "MANAGER", "profile": { "name": "Team" },
                    "user": { "email": "ann@example.com" } })
        );
    }
    let promoted = app
        .data_as(&admin.token, CHANGE, change(&ann.id, "OWNER"))
        .await;
    assert_eq!(promoted["addProfileManager"]["role"], "OWNER");
    let demoted = app
        .data_as(&admin.token, CHANGE, change(&owner.id, "MANAGER"))
        .await;
    assert_eq!(demoted["addProfileManager"]["role"], "MANAGER");

    // Ann is the only owner now: removing her is refused and changes nothing.
    let last_owner = app
        .gql_as(&admin.token, REMOVE, json!({ "p": team, "u": ann.id }))
        .await;
    assert_eq!(last_owner.code(), "CONFLICT", "{}", last_owner.body);
    // Removing the first owner takes them out; removing them again finds nothing to remove.
    for changed in [true, false] {
        let removed = app
            .data_as(&admin.token, REMOVE, json!({ "p": team, "u": owner.id }))
            .await;
        assert_eq!(
            removed["removeProfileManager"],
            json!({ "changed": changed, "role": null, "profile": { "name": "Team" } })
        );
    }
    let data = app
        .data_as(&ann.token, PROFILE_USERS, json!({ "id": team }))
        .await;
    assert_eq!(
        data["profile"]["users"],
        json!({ "totalCount": 1, "edges": [{ "role": "OWNER", "node": { "email": "ann@example.com" } }] })
    );

    // A profile or a user that does not exist is named as such, and nothing is written.
    let no_profile = json!({ "p": "UHJvZmlsZTo5OTk5", "u": owner.id, "r": "MANAGER" });
    let missing = app.gql_as(&admin.token, CHANGE, no_profile).await;
    assert_eq!(missing.code(), "NOT_FOUND", "{}", missing.body);
    assert_eq!(missing.errors()[0]["message"], "no such profile");
    let missing = app
        .gql_as(&admin.token, CHANGE, change("VXNlcjo5OTk5", "MANAGER"))
        .await;
    assert_eq!(missing.code(), "NOT_FOUND", "{}", missing.body);
    assert_eq!(missing.errors()[0]["message"], "no such user");
    for (profile, user, message) in [
        ("UHJvZmlsZTo5OTk5", owner.id.as_str(), "no such profile"),
        (team.as_str(), "VXNlcjo5OTk5", "no such user"),
    ] {
        let missing = app
            .gql_as(&admin.token, REMOVE, json!({ "p": profile, "u": user }))
            .await;
        assert_eq!(missing.code(), "NOT_FOUND", "{}", missing.body);
        assert_eq!(missing.errors()[0]["message"], message);
    }
    let after = app
        .data_as(&ann.token, PROFILE_USERS, json!({ "id": team }))
        .await;
    assert_eq!(after, data);
}
