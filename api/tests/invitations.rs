//! Invitations to manage a profile, and the end of adding strangers directly: nobody learns
//! anything about, or attaches anything to, a user who has not shared a profile with them.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    db_tests,
    helpers::{Account, Backend, TestApp},
};

db_tests!(
    strangers_are_invited_not_added_and_learn_nothing,
    the_invitee_sees_accepts_and_declines,
    an_address_registered_later_finds_its_invitations,
    only_the_invitee_and_the_owners_see_an_invitation,
    invitations_expire_and_are_limited_per_inviter[own_server],
    invitations_page_like_every_list_one_statement_per_level,
);

const ADD: &str = "mutation($p: ID!, $u: ID!) {
    addProfileManager(profileId: $p, userId: $u) { changed user { email } }
}";
const REMOVE: &str = "mutation($p: ID!, $u: ID!) {
    removeProfileManager(profileId: $p, userId: $u) { changed user { email } }
}";
const INVITE: &str = "mutation($p: ID!, $e: String!, $r: ProfileRole! = MANAGER) {
    inviteProfileManager(profileId: $p, email: $e, role: $r) {
        invitation { email role profileName inviterEmail profile { name } }
    }
}";
const ACCEPT: &str =
    "mutation($i: ID!) { acceptProfileInvitation(id: $i) { changed role profile { name } } }";
const DECLINE: &str = "mutation($i: ID!) { declineProfileInvitation(id: $i) { invitationId } }";
const REVOKE: &str = "mutation($i: ID!) { revokeProfileInvitation(id: $i) { invitationId } }";
const MINE: &str = "{ me { invitations {
    totalCount nodes { id profileName email role inviterEmail profile { name } }
} } }";
/// An ID no user has.
const NOBODY: &str = "VXNlcjo5OTk5";

/// The caller's pending invitations.
async fn my_invitations(app: &TestApp, caller: &Account) -> Value {
    app.data_as(&caller.token, MINE, json!({})).await["me"]["invitations"].clone()
}

/// The answer without the parts that differ by request (none should tell two users apart).
fn error_of(answer: &Value) -> Value {
    json!({ "data": answer["data"], "message": answer["errors"][0]["message"],
            "code": answer["errors"][0]["extensions"]["code"] })
}

/// The issue's attack: Mallory, owner of her own profile, tries to harvest the admin's email
/// by adding them to it, and to tell existing users from missing ones by removing them.
async fn strangers_are_invited_not_added_and_learn_nothing(app: &TestApp) {
    let admin = app.admin().await;
    let mallory = app.register("mallory@example.com").await;
    let hers = app.create_profile(&mallory, "Mallory's").await;
    for query in [ADD, REMOVE] {
        let stranger = app
            .gql_as(&mallory.token, query, json!({ "p": hers, "u": admin.id }))
            .await;
        let missing = app
            .gql_as(&mallory.token, query, json!({ "p": hers, "u": NOBODY }))
            .await;
        assert_eq!(stranger.code(), "NOT_FOUND", "{}", stranger.body);
        assert_eq!(error_of(&stranger.body), error_of(&missing.body));
        assert!(
            !stranger.body.to_string().contains("admin@"),
            "{}",
            stranger.body
        );
    }
    // She may invite any address: the answer is the same whether it has an account or not,
    // and shows only what she typed.
    let known = app
        .data_as(
            &mallory.token,
            INVITE,
            json!({ "p": hers, "e": admin.email }),
        )
        .await;
    let unknown = app
        .data_as(
            &mallory.token,
            INVITE,
            json!({ "p": hers, "e": "nobody@example.com" }),
        )
        .await;
    let shape = |answer: &Value, email: &str| {
        let mut invitation = answer["inviteProfileManager"]["invitation"].clone();
        assert_eq!(invitation["email"], email);
        invitation["email"] = json!("…");
        invitation
    };
    assert_eq!(
        shape(&known, &admin.email),
        shape(&unknown, "nobody@example.com")
    );
    assert_eq!(
        shape(&known, &admin.email),
        json!({ "email": "…", "role": "MANAGER", "profileName": "Mallory's",
                "inviterEmail": "mallory@example.com", "profile": { "name": "Mallory's" } })
    );
    // An owner's role only by acceptance: the invitee is not made an owner of anything, and
    // may still delete their own account.
    let victim = app.register("victim@example.com").await;
    app.data_as(
        &mallory.token,
        INVITE,
        json!({ "p": hers, "e": victim.email, "r": "OWNER" }),
    )
    .await;
    let victims = app
        .data_as(
            &victim.token,
            "{ me { profiles { totalCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(victims["me"]["profiles"]["totalCount"], 0);
    let deleted = app
        .data_as(
            &victim.token,
            "mutation($u: ID!) { deleteUser(id: $u) }",
            json!({ "u": victim.id }),
        )
        .await;
    assert_eq!(deleted["deleteUser"], victim.id);
}

async fn the_invitee_sees_accepts_and_declines(app: &TestApp) {
    let owner = app.register("owner@example.com").await;
    let ann = app.register("ann@example.com").await;
    let team = app.create_profile(&owner, "Team").await;
    let shop = app.create_profile(&owner, "Shop").await;
    // The address is matched as accounts are: whatever its case.
    app.data_as(
        &owner.token,
        INVITE,
        json!({ "p": team, "e": "ANN@Example.com" }),
    )
    .await;
    app.data_as(
        &owner.token,
        INVITE,
        json!({ "p": shop, "e": "ann@example.com", "r": "OWNER" }),
    )
    .await;
    let pending = my_invitations(app, &ann).await;
    assert_eq!(pending["totalCount"], 2, "{pending}");
    let team_invitation = pending["nodes"][0].clone();
    let shop_invitation = pending["nodes"][1]["id"].clone();
    // Ann sees what the invitation offers, not the profile itself yet.
    assert_eq!(
        json!([
            team_invitation["profileName"],
            team_invitation["email"],
            team_invitation["role"],
            team_invitation["inviterEmail"],
            team_invitation["profile"]
        ]),
        json!([
            "Team",
            "ANN@example.com",
            "MANAGER",
            "owner@example.com",
            null
        ])
    );
    let accepted = app
        .data_as(&ann.token, ACCEPT, json!({ "i": team_invitation["id"] }))
        .await;
    assert_eq!(
        accepted["acceptProfileInvitation"],
        json!({ "changed": true, "role": "MANAGER", "profile": { "name": "Team" } })
    );
    let again = app
        .gql_as(&ann.token, ACCEPT, json!({ "i": team_invitation["id"] }))
        .await;
    assert_eq!(again.code(), "NOT_FOUND", "{}", again.body);
    let declined = app
        .data_as(&ann.token, DECLINE, json!({ "i": shop_invitation }))
        .await;
    assert_eq!(
        declined["declineProfileInvitation"]["invitationId"],
        shop_invitation
    );
    assert_eq!(
        my_invitations(app, &ann).await,
        json!({ "totalCount": 0, "nodes": [] })
    );
    let profiles = app
        .data_as(
            &ann.token,
            "{ me { profiles { edges { role node { name } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        profiles["me"]["profiles"]["edges"],
        json!([{ "role": "MANAGER", "node": { "name": "Team" } }])
    );
    // Once Ann shares Team with the owner, the owner may add her to Shop directly.
    let added = app
        .data_as(&owner.token, ADD, json!({ "p": shop, "u": ann.id }))
        .await;
    assert_eq!(
        added["addProfileManager"],
        json!({ "changed": true, "user": { "email": "ann@example.com" } })
    );
}

async fn an_address_registered_later_finds_its_invitations(app: &TestApp) {
    let owner = app.register("owner@example.com").await;
    let team = app.create_profile(&owner, "Team").await;
    app.data_as(
        &owner.token,
        INVITE,
        json!({ "p": team, "e": "later@example.com" }),
    )
    .await;
    let later = app.register("Later@example.com").await;
    let pending = my_invitations(app, &later).await;
    assert_eq!(pending["totalCount"], 1, "{pending}");
    app.data_as(
        &later.token,
        ACCEPT,
        json!({ "i": pending["nodes"][0]["id"] }),
    )
    .await;
    let names = app
        .data_as(
            &later.token,
            "{ me { profiles { nodes { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        names["me"]["profiles"]["nodes"],
        json!([{ "name": "Team" }])
    );
}

async fn only_the_invitee_and_the_owners_see_an_invitation(app: &TestApp) {
    let owner = app.register("owner@example.com").await;
    let manager = app.register("manager@example.com").await;
    let ann = app.register("ann@example.com").await;
    let carol = app.register("carol@example.com").await;
    let team = app.create_profile(&owner, "Team").await;
    app.add_manager(&owner, &team, &manager, "MANAGER").await;
    app.data_as(&owner.token, INVITE, json!({ "p": team, "e": ann.email }))
        .await;
    let invitation = my_invitations(app, &ann).await["nodes"][0]["id"].clone();
    let of_team =
        "query($p: ID!) { profile(id: $p) { invitations { totalCount nodes { email } } } }";
    let node = "query($i: ID!) { node(id: $i) { __typename ... on ProfileInvitation { email } } }";

    // The owners see the profile's invitations; its other managers do not.
    let owners = app
        .data_as(&owner.token, of_team, json!({ "p": team }))
        .await;
    assert_eq!(
        owners["profile"]["invitations"],
        json!({ "totalCount": 1, "nodes": [{ "email": "ann@example.com" }] })
    );
    let managers = app
        .data_as(&manager.token, of_team, json!({ "p": team }))
        .await;
    assert_eq!(managers["profile"]["invitations"], Value::Null);
    // The invitee and the owners find it by ID; anyone else finds nothing.
    for (caller, seen) in [
        (&owner, true),
        (&ann, true),
        (&manager, false),
        (&carol, false),
    ] {
        let found = app
            .data_as(&caller.token, node, json!({ "i": invitation }))
            .await;
        let expected = if seen {
            json!({ "__typename": "ProfileInvitation", "email": "ann@example.com" })
        } else {
            Value::Null
        };
        assert_eq!(found["node"], expected, "{}", caller.email);
    }
    // Nobody else sees a user's invitations, not even an owner who sees the user.
    let own = app
        .data_as(
            &manager.token,
            "query($u: ID!) { user(id: $u) { email invitations { totalCount } } }",
            json!({ "u": manager.id }),
        )
        .await;
    assert_eq!(own["user"]["invitations"]["totalCount"], 0, "{own}");
    let others = app
        .data_as(
            &owner.token,
            "query($u: ID!) { user(id: $u) { email invitations { totalCount } } }",
            json!({ "u": manager.id }),
        )
        .await;
    assert_eq!(
        others["user"],
        json!({ "email": "manager@example.com", "invitations": null })
    );
    // Each may do only their part: the invitee answers, an owner revokes; anyone else is told
    // there is no such invitation, as for one that never was.
    let missing = app
        .gql_as(
            &carol.token,
            REVOKE,
            json!({ "i": "UHJvZmlsZUludml0YXRpb246OTk5" }),
        )
        .await;
    for (caller, query, code) in [
        (&carol, ACCEPT, "NOT_FOUND"),
        (&carol, REVOKE, "NOT_FOUND"),
        (&manager, DECLINE, "NOT_FOUND"),
        (&ann, REVOKE, "FORBIDDEN"),
        (&owner, ACCEPT, "FORBIDDEN"),
        (&owner, DECLINE, "FORBIDDEN"),
    ] {
        let answer = app
            .gql_as(&caller.token, query, json!({ "i": invitation }))
            .await;
        assert_eq!(
            answer.code(),
            code,
            "{} {query}: {}",
            caller.email,
            answer.body
        );
        if code == "NOT_FOUND" {
            assert_eq!(error_of(&answer.body), error_of(&missing.body));
        }
    }
    let revoked = app
        .data_as(&owner.token, REVOKE, json!({ "i": invitation }))
        .await;
    assert_eq!(
        revoked["revokeProfileInvitation"]["invitationId"],
        invitation
    );
    assert_eq!(my_invitations(app, &ann).await["totalCount"], 0);
    let accept = app
        .gql_as(&ann.token, ACCEPT, json!({ "i": invitation }))
        .await;
    assert_eq!(accept.code(), "NOT_FOUND", "{}", accept.body);
}

async fn invitations_expire_and_are_limited_per_inviter(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.invitation_ttl = Duration::from_secs(1);
        c.invitations_max_pending = 2;
    })
    .await;
    let owner = app.register("owner@example.com").await;
    let ann = app.register("ann@example.com").await;
    let team = app.create_profile(&owner, "Team").await;
    for email in ["ann@example.com", "bob@example.com"] {
        app.data_as(&owner.token, INVITE, json!({ "p": team, "e": email }))
            .await;
    }
    let third = app
        .gql_as(
            &owner.token,
            INVITE,
            json!({ "p": team, "e": "carol@example.com" }),
        )
        .await;
    assert_eq!(third.code(), "CONFLICT", "{}", third.body);
    // Sending one again renews it: it does not count twice.
    let renewed = app
        .data_as(
            &owner.token,
            INVITE,
            json!({ "p": team, "e": "ann@example.com", "r": "OWNER" }),
        )
        .await;
    assert_eq!(
        renewed["inviteProfileManager"]["invitation"]["role"],
        "OWNER"
    );
    let pending = my_invitations(&app, &ann).await;
    assert_eq!(
        (
            pending["totalCount"].clone(),
            pending["nodes"][0]["role"].clone()
        ),
        (json!(1), json!("OWNER"))
    );
    let invitation = pending["nodes"][0]["id"].clone();

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(my_invitations(&app, &ann).await["totalCount"], 0);
    let late = app
        .gql_as(&ann.token, ACCEPT, json!({ "i": invitation }))
        .await;
    assert_eq!(late.code(), "NOT_FOUND", "{}", late.body);
    // Expired invitations no longer count.
    app.data_as(
        &owner.token,
        INVITE,
        json!({ "p": team, "e": "carol@example.com" }),
    )
    .await;
}

/// The invitee's list and the owners' lists page with cursors as every list does; a page of
/// profiles reads the invitations of all of them in one statement.
async fn invitations_page_like_every_list_one_statement_per_level(app: &TestApp) {
    let owner = app.register("owner@example.com").await;
    let ann = app.register("ann@example.com").await;
    let mut profiles = Vec::new();
    for name in ["A", "B", "C"] {
        let profile = app.create_profile(&owner, name).await;
        for email in ["ann@example.com", "bob@example.com"] {
            app.data_as(&owner.token, INVITE, json!({ "p": profile, "e": email }))
                .await;
        }
        profiles.push(profile);
    }
    let page = "query($first: Int, $after: String, $last: Int, $before: String) {
        me { invitations(first: $first, after: $after, last: $last, before: $before) {
            totalCount edges { cursor node { profileName } }
            pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        } }
    }";
    let names = |answer: &Value| -> Vec<String> {
        answer["me"]["invitations"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|edge| {
                edge["node"]["profileName"]
                    .as_str()
                    .expect("name")
                    .to_owned()
            })
            .collect()
    };
    let first = app.data_as(&ann.token, page, json!({ "first": 2 })).await;
    assert_eq!(names(&first), ["A", "B"]);
    let info = &first["me"]["invitations"]["pageInfo"];
    assert_eq!(
        (info["hasNextPage"].clone(), info["hasPreviousPage"].clone()),
        (json!(true), json!(false))
    );
    let rest = app
        .data_as(
            &ann.token,
            page,
            json!({ "first": 2, "after": info["endCursor"] }),
        )
        .await;
    assert_eq!(names(&rest), ["C"]);
    assert_eq!(rest["me"]["invitations"]["totalCount"], 3);
    let last = app
        .data_as(
            &ann.token,
            page,
            json!({ "last": 1, "before": rest["me"]["invitations"]["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(names(&last), ["B"]);
    for (variables, message) in [
        (
            json!({ "first": 101 }),
            "`first` must be between 0 and 100, got 101",
        ),
        (
            json!({ "first": 1, "last": 1 }),
            "give `first` or `last`, not both",
        ),
        (
            json!({ "after": "bm90IGEgY3Vyc29y" }),
            "`after` is not a cursor of this list in this order",
        ),
    ] {
        let refused = app.gql_as(&ann.token, page, variables).await;
        assert_eq!(refused.code(), "BAD_USER_INPUT", "{}", refused.body);
        assert_eq!(refused.body["errors"][0]["message"], message);
    }

    // The owner's profiles with their invitations: one statement for the invitations of every
    // profile of the page, however many profiles.
    let nested = "query($first: Int) { me { profiles(first: $first) { nodes { name
        invitations(first: 1) { totalCount nodes { email } pageInfo { hasNextPage } }
    } } } }";
    let one = app
        .gql_as(&owner.token, nested, json!({ "first": 1 }))
        .await;
    let three = app
        .gql_as(&owner.token, nested, json!({ "first": 3 }))
        .await;
    assert!(three.errors().is_empty(), "{}", three.body);
    assert_eq!(
        three.body["data"]["me"]["profiles"]["nodes"][2],
        json!({ "name": "C", "invitations": { "totalCount": 2,
                "nodes": [{ "email": "ann@example.com" }], "pageInfo": { "hasNextPage": true } } })
    );
    assert_eq!(
        one.sql(),
        three.sql(),
        "statements for one profile and for three"
    );
}
