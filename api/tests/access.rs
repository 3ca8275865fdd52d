//! Who sees and changes what: visibility of users and profiles, and the rules of each mutation.

use serde_json::{Value, json};

use crate::{
    db_tests,
    helpers::{Account, TestApp},
};

db_tests!(
    callers_see_only_what_they_may,
    permissions_widen_what_callers_see,
    profile_mutations_follow_roles,
    a_profile_always_has_an_owner,
    users_are_deleted_by_themselves_or_users_write_holders,
    account_details_are_private,
);

/// Ann owns Team and Bob manages it; Bob also owns Shop; Cat owns Attic alone.
struct World {
    ann: Account,
    bob: Account,
    cat: Account,
    team: String,
    shop: String,
    attic: String,
}

async fn world(app: &TestApp) -> World {
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let cat = app.register("cat@example.com").await;
    let team = app.create_profile(&ann, "Team").await;
    app.add_manager(&ann, &team, &bob, "MANAGER").await;
    let shop = app.create_profile(&bob, "Shop").await;
    let attic = app.create_profile(&cat, "Attic").await;
    World {
        ann,
        bob,
        cat,
        team,
        shop,
        attic,
    }
}

/// A role with these permissions, granted to `user` (roles other than `admin` are made by
/// operators in the database).
async fn grant_permissions(
    app: &TestApp,
    admin: &Account,
    user: &Account,
    role: &str,
    permissions: &str,
) {
    app.execute_sql(&format!(
        "INSERT INTO role (name, description, permissions) VALUES ('{role}', '', '{permissions}')"
    ))
    .await;
    app.data_as(
        &admin.token,
        "mutation($u: ID!, $r: String!) { grantRole(userId: $u, role: $r) { id } }",
        json!({ "u": user.id, "r": role }),
    )
    .await;
}

fn names(connection: &Value) -> Vec<&str> {
    connection["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["name"].as_str())
        .collect()
}

fn emails(connection: &Value) -> Vec<&str> {
    connection["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["email"].as_str())
        .collect()
}

async fn callers_see_only_what_they_may(app: &TestApp) {
    let w = world(app).await;
    let data = app
        .data_as(
            &w.ann.token,
            "query($bob: ID!, $cat: ID!, $shop: ID!, $attic: ID!) {
                bob: user(id: $bob) { email profiles { totalCount nodes { name } } }
                cat: user(id: $cat) { email }
                catNode: node(id: $cat) { id }
                shop: profile(id: $shop) { name }
                attic: node(id: $attic) { id }
                profiles { totalCount nodes { name users { totalCount nodes { email } } } }
            }",
            json!({ "bob": w.bob.id, "cat": w.cat.id, "shop": w.shop, "attic": w.attic }),
        )
        .await;
    // Bob shares Team with Ann; of Bob's profiles she sees Team only, and counts only it.
    assert_eq!(data["bob"]["email"], "bob@example.com");
    assert_eq!(names(&data["bob"]["profiles"]), ["Team"]);
    assert_eq!(data["bob"]["profiles"]["totalCount"], 1);
    // Cat shares nothing with Ann: null, as for an unknown ID.
    assert_eq!(data["cat"], Value::Null);
    assert_eq!(data["catNode"], Value::Null);
    assert_eq!(data["shop"], Value::Null);
    assert_eq!(data["attic"], Value::Null);
    assert_eq!(data["profiles"]["totalCount"], 1);
    assert_eq!(names(&data["profiles"]), ["Team"]);
    assert_eq!(
        emails(&data["profiles"]["nodes"][0]["users"]),
        ["ann@example.com", "bob@example.com"]
    );
    // The list of every user needs users:read.
    let users = app
        .gql_as(&w.ann.token, "{ users { totalCount } }", json!({}))
        .await;
    assert_eq!(users.code(), "FORBIDDEN");
}

async fn permissions_widen_what_callers_see(app: &TestApp) {
    let w = world(app).await;
    let admin = app.admin().await;
    let auditor = app.register("auditor@example.com").await;
    grant_permissions(app, &admin, &auditor, "auditor", "profiles:read").await;
    let data = app
        .data_as(
            &auditor.token,
            "{ profiles { totalCount nodes { name users { totalCount } } } }",
            json!({}),
        )
        .await;
    // Every profile, but of their managers only those the auditor may see: none.
    assert_eq!(names(&data["profiles"]), ["Team", "Shop", "Attic"]);
    assert_eq!(data["profiles"]["nodes"][0]["users"]["totalCount"], 0);

    let everything = app
        .data_as(
            &admin.token,
            "query($cat: ID!) { user(id: $cat) { email } users { totalCount }
                profiles { nodes { name users { nodes { email } } } } }",
            json!({ "cat": w.cat.id }),
        )
        .await;
    assert_eq!(everything["user"]["email"], "cat@example.com");
    assert_eq!(everything["users"]["totalCount"], 5);
    assert_eq!(
        emails(&everything["profiles"]["nodes"][2]["users"]),
        ["cat@example.com"]
    );
}

async fn profile_mutations_follow_roles(app: &TestApp) {
    let w = world(app).await;
    let rename = "mutation($p: ID!, $n: String!) { updateProfile(id: $p, name: $n) { name } }";
    let delete = "mutation($p: ID!) { deleteProfile(id: $p) }";
    let add =
        "mutation($p: ID!, $u: ID!) { addProfileManager(profileId: $p, userId: $u) { changed } }";
    let remove = "mutation($p: ID!, $u: ID!) { removeProfileManager(profileId: $p, userId: $u) { changed } }";
    let code = |caller: &Account, query: &'static str, vars: Value| {
        let token = caller.token.clone();
        async move {
            let response = app.gql_as(&token, query, vars).await;
            if response.errors().is_empty() {
                "OK".to_owned()
            } else {
                response.code().to_owned()
            }
        }
    };
    // A manager may rename, but not delete or change managers.
    assert_eq!(
        code(&w.bob, rename, json!({ "p": w.team, "n": "Team B" })).await,
        "OK"
    );
    assert_eq!(
        code(&w.bob, delete, json!({ "p": w.team })).await,
        "FORBIDDEN"
    );
    assert_eq!(
        code(&w.bob, add, json!({ "p": w.team, "u": w.cat.id })).await,
        "FORBIDDEN"
    );
    assert_eq!(
        code(&w.bob, remove, json!({ "p": w.team, "u": w.ann.id })).await,
        "FORBIDDEN"
    );
    // A stranger learns nothing of the profile.
    for (query, vars) in [
        (rename, json!({ "p": w.team, "n": "Mine" })),
        (delete, json!({ "p": w.team })),
        (add, json!({ "p": w.team, "u": w.cat.id })),
        (remove, json!({ "p": w.team, "u": w.bob.id })),
    ] {
        assert_eq!(code(&w.cat, query, vars).await, "NOT_FOUND");
    }
    // The owner may do everything, but adds a stranger only by invitation: added directly, a
    // stranger answers as a user who does not exist. A manager may leave.
    assert_eq!(
        code(&w.ann, add, json!({ "p": w.team, "u": w.cat.id })).await,
        "NOT_FOUND"
    );
    assert_eq!(
        code(&w.ann, add, json!({ "p": w.team, "u": "VXNlcjo5OTk5" })).await,
        "NOT_FOUND"
    );
    app.add_manager(&w.ann, &w.team, &w.cat, "MANAGER").await;
    assert_eq!(
        code(&w.cat, remove, json!({ "p": w.team, "u": w.cat.id })).await,
        "OK"
    );
    assert_eq!(
        code(&w.ann, remove, json!({ "p": w.team, "u": w.bob.id })).await,
        "OK"
    );
    assert_eq!(
        code(&w.bob, rename, json!({ "p": w.team, "n": "Gone" })).await,
        "NOT_FOUND"
    );
    // profiles:write reaches profiles one does not manage.
    let admin = app.admin().await;
    let editor = app.register("editor@example.com").await;
    grant_permissions(app, &admin, &editor, "editor", "profiles:write").await;
    assert_eq!(
        code(&editor, rename, json!({ "p": w.attic, "n": "Loft" })).await,
        "OK"
    );
    assert_eq!(
        code(&editor, add, json!({ "p": w.attic, "u": w.ann.id })).await,
        "OK"
    );
    assert_eq!(code(&editor, delete, json!({ "p": w.attic })).await, "OK");
    let left = app
        .data_as(&w.ann.token, "{ profiles { nodes { name } } }", json!({}))
        .await;
    assert_eq!(names(&left["profiles"]), ["Team B"]);
}

async fn a_profile_always_has_an_owner(app: &TestApp) {
    let w = world(app).await;
    let set = "mutation($p: ID!, $u: ID!, $r: ProfileRole!) {
        addProfileManager(profileId: $p, userId: $u, role: $r) { role } }";
    let remove = "mutation($p: ID!, $u: ID!) { removeProfileManager(profileId: $p, userId: $u) { changed } }";
    let leave = app
        .gql_as(&w.ann.token, remove, json!({ "p": w.team, "u": w.ann.id }))
        .await;
    assert_eq!(leave.code(), "CONFLICT");
    let demote = app
        .gql_as(
            &w.ann.token,
            set,
            json!({ "p": w.team, "u": w.ann.id, "r": "MANAGER" }),
        )
        .await;
    assert_eq!(demote.code(), "CONFLICT");
    let delete_self = app
        .gql_as(
            &w.ann.token,
            "mutation($u: ID!) { deleteUser(id: $u) }",
            json!({ "u": w.ann.id }),
        )
        .await;
    assert_eq!(delete_self.code(), "CONFLICT");
    // With a second owner, the first may step down, then leave.
    app.data_as(
        &w.ann.token,
        set,
        json!({ "p": w.team, "u": w.bob.id, "r": "OWNER" }),
    )
    .await;
    app.data_as(
        &w.ann.token,
        set,
        json!({ "p": w.team, "u": w.ann.id, "r": "MANAGER" }),
    )
    .await;
    app.data_as(&w.ann.token, remove, json!({ "p": w.team, "u": w.ann.id }))
        .await;
    let team = app
        .data_as(
            &w.bob.token,
            "query($p: ID!) { profile(id: $p) { users { edges { role node { email } } } } }",
            json!({ "p": w.team }),
        )
        .await;
    assert_eq!(
        team["profile"]["users"]["edges"],
        json!([{ "role": "OWNER", "node": { "email": "bob@example.com" } }])
    );
}

async fn users_are_deleted_by_themselves_or_users_write_holders(app: &TestApp) {
    let w = world(app).await;
    let delete = "mutation($u: ID!) { deleteUser(id: $u) }";
    // Bob sees Ann (they share Team) but may not delete her; Cat does not even see her.
    assert_eq!(
        app.gql_as(&w.bob.token, delete, json!({ "u": w.ann.id }))
            .await
            .code(),
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql_as(&w.cat.token, delete, json!({ "u": w.ann.id }))
            .await
            .code(),
        "NOT_FOUND"
    );
    let admin = app.admin().await;
    // Cat owns Attic alone: deleting her would orphan it.
    assert_eq!(
        app.gql_as(&admin.token, delete, json!({ "u": w.cat.id }))
            .await
            .code(),
        "CONFLICT"
    );
    app.data_as(
        &admin.token,
        "mutation($p: ID!) { deleteProfile(id: $p) }",
        json!({ "p": w.attic }),
    )
    .await;
    app.data_as(&admin.token, delete, json!({ "u": w.cat.id }))
        .await;
    let users = app
        .data_as(&admin.token, "{ users { nodes { email } } }", json!({}))
        .await;
    assert_eq!(
        emails(&users["users"]),
        ["ann@example.com", "bob@example.com", "admin@example.com"]
    );
}

async fn account_details_are_private(app: &TestApp) {
    let w = world(app).await;
    let admin = app.admin().await;
    let query =
        "query($u: ID!) { user(id: $u) { email active loginCount lastLoginAt roles { name } } }";
    let own = app
        .data_as(&w.bob.token, query, json!({ "u": w.bob.id }))
        .await;
    assert_eq!(own["user"]["active"], true);
    // Signed in once, as registered.
    assert_eq!(own["user"]["loginCount"], 1);
    assert_eq!(own["user"]["roles"], json!([]));
    let other = app
        .data_as(&w.ann.token, query, json!({ "u": w.bob.id }))
        .await;
    assert_eq!(
        other["user"],
        json!({ "email": "bob@example.com", "active": null, "loginCount": null, "lastLoginAt": null, "roles": null })
    );
    let by_admin = app
        .data_as(&admin.token, query, json!({ "u": w.bob.id }))
        .await;
    assert_eq!(by_admin["user"]["active"], true);
    assert_eq!(by_admin["user"]["roles"], json!([]));
}
