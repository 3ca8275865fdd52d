//! Accounts: registration, login, lockout, tokens and their revocation, roles, and the CLI.

use std::time::Duration;

use api::config::Registration;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::{
    db_tests,
    helpers::{Account, Backend, PASSWORD, TestApp, TestDatabase, account},
};

db_tests!(
    registration_signs_in_and_normalizes_the_email,
    only_register_login_and_refresh_work_without_a_token,
    login_tracks_and_refuses_alike,
    forged_and_malformed_tokens_are_refused,
    refresh_tokens_rotate_and_reuse_revokes_the_family,
    logout_ends_one_session,
    logout_everywhere_revokes_every_token,
    changing_the_password_revokes_old_tokens,
    deactivated_users_are_refused,
    roles_are_granted_and_revoked_by_users_write_holders,
    registration_can_be_closed[own_server],
    access_tokens_expire[own_server],
    lockout_and_its_expiry[own_server],
    failed_logins_are_limited_per_address[own_server],
    the_signing_key_survives_restarts_and_rotates[own_server],
    create_user_bootstraps_an_admin[own_server],
    secrets_never_reach_the_logs[own_server],
);

const ME: &str = "{ me { email active loginCount lastLoginAt currentLoginAt currentLoginIp roles { name permissions } } }";
const REFRESH: &str = "mutation($t: String!) { refreshToken(token: $t) { accessToken refreshToken user { id email } } }";

async fn code_of_me(app: &TestApp, token: &str) -> String {
    let response = app.gql_as(token, "{ me { email } }", json!({})).await;
    assert!(response.status < 500, "{}", response.body);
    if response.errors().is_empty() {
        "OK".into()
    } else {
        response.code().into()
    }
}

async fn refresh(app: &TestApp, token: &str) -> Result<Account, String> {
    let response = app.gql(REFRESH, json!({ "t": token })).await;
    match response.errors().is_empty() {
        true => Ok(account(&response.body["data"]["refreshToken"])),
        false => Err(response.code().to_owned()),
    }
}

async fn registration_signs_in_and_normalizes_the_email(app: &TestApp) {
    let ann = app.register(" Ann@Example.COM ").await;
    assert_eq!(ann.email, "Ann@example.com");
    let me = app.data_as(&ann.token, ME, json!({})).await;
    assert_eq!(me["me"]["email"], "Ann@example.com");
    assert_eq!(me["me"]["active"], true);
    assert_eq!(me["me"]["roles"], json!([]));
    // Logging in ignores the case of the whole address.
    let login = app.login("ANN@example.com", PASSWORD).await;
    assert!(login.errors().is_empty(), "{}", login.body);
}

async fn registration_can_be_closed(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.registration = Registration::Closed).await;
    let response = app
        .gql(
            "mutation { register(input: { email: \"a@example.com\", password: \"long enough\" }) { email } }",
            json!({}),
        )
        .await;
    assert_eq!(response.code(), "FORBIDDEN");
    assert_eq!(
        response.body["errors"][0]["message"],
        "registration is closed"
    );
    // The operator's way still works.
    let admin = app.admin().await;
    let users = app
        .data_as(&admin.token, "{ users { totalCount } }", json!({}))
        .await;
    assert_eq!(users["users"]["totalCount"], 1);
    app.stop().await;
}

async fn only_register_login_and_refresh_work_without_a_token(app: &TestApp) {
    let ann = app.register("ann@example.com").await;
    let team = app.create_profile(&ann, "Team").await;
    let vars = json!({ "u": ann.id, "p": team });
    let protected = [
        "{ me { email } }",
        "{ users { totalCount } }",
        "{ profiles { totalCount } }",
        "query($u: ID!) { user(id: $u) { email } }",
        "query($p: ID!) { profile(id: $p) { name } }",
        "query($u: ID!) { node(id: $u) { id } }",
        "mutation { createProfile(name: \"X\") { id } }",
        "mutation($p: ID!) { updateProfile(id: $p, name: \"X\") { id } }",
        "mutation($p: ID!) { deleteProfile(id: $p) }",
        "mutation($p: ID!, $u: ID!) { addProfileManager(profileId: $p, userId: $u) { changed } }",
        "mutation($p: ID!, $u: ID!) { removeProfileManager(profileId: $p, userId: $u) { changed } }",
        "mutation($u: ID!) { deleteUser(id: $u) }",
        "mutation { logout(refreshToken: \"x\") }",
        "mutation { logoutEverywhere }",
        "mutation { changePassword(currentPassword: \"a\", newPassword: \"b\") { accessToken } }",
        "mutation($u: ID!) { setUserActive(userId: $u, active: false) { id } }",
        "mutation($u: ID!) { grantRole(userId: $u, role: \"admin\") { id } }",
        "mutation($u: ID!) { revokeRole(userId: $u, role: \"admin\") { id } }",
    ];
    for query in protected {
        let response = app.gql(query, vars.clone()).await;
        assert_eq!(
            response.code(),
            "UNAUTHENTICATED",
            "{query}: {}",
            response.body
        );
    }
    let still = app.data_as(&ann.token, ME, json!({})).await;
    assert_eq!(still["me"]["active"], true, "nothing was changed");
    assert!(
        app.login("ann@example.com", PASSWORD)
            .await
            .errors()
            .is_empty()
    );
    assert!(refresh(app, &ann.refresh).await.is_ok());
}

async fn login_tracks_and_refuses_alike(app: &TestApp) {
    app.register_only("ann@example.com").await;
    let unknown = app.login("nobody@example.com", PASSWORD).await;
    let wrong = app.login("ann@example.com", "wrong password").await;
    assert_eq!(unknown.code(), "UNAUTHENTICATED");
    assert_eq!(
        unknown.body, wrong.body,
        "an unknown email and a wrong password look alike"
    );

    let first = account(&app.login("ann@example.com", PASSWORD).await.body["data"]["login"]);
    let me = app.data_as(&first.token, ME, json!({})).await["me"].clone();
    assert_eq!(me["loginCount"], 1);
    assert_eq!(me["currentLoginIp"], "127.0.0.1");
    assert_eq!(me["lastLoginAt"], Value::Null);
    let second = account(&app.login("ann@example.com", PASSWORD).await.body["data"]["login"]);
    let again = app.data_as(&second.token, ME, json!({})).await["me"].clone();
    assert_eq!(again["loginCount"], 2);
    assert_eq!(again["lastLoginAt"], me["currentLoginAt"]);
}

/// A JWT with this header and claims, signed with HMAC-SHA256 under `key`.
fn jwt(header: &Value, claims: &Value, key: &[u8]) -> String {
    let header: jsonwebtoken::Header = serde_json::from_value(header.clone()).expect("a header");
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .expect("signed")
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json")
}

async fn forged_and_malformed_tokens_are_refused(app: &TestApp) {
    let ann = app.register("ann@example.com").await;
    assert_eq!(code_of_me(app, &ann.token).await, "OK");
    let claims = claims_of(&ann.token);
    let (header, payload) = {
        let mut parts = ann.token.split('.');
        (
            parts.next().expect("header"),
            parts.next().expect("payload"),
        )
    };
    // RS/HS confusion: an RS256 header over a payload signed with HMAC by the key.
    let confused = {
        let rs_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#);
        format!(
            "{rs_header}.{payload}.{}",
            ann.token.rsplit('.').next().expect("sig")
        )
    };
    let unsigned = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#)
    );
    let tampered = {
        let mut changed = claims.clone();
        changed["sub"] = json!("someone-else");
        format!(
            "{header}.{}.{}",
            URL_SAFE_NO_PAD.encode(changed.to_string()),
            ann.token.rsplit('.').next().expect("sig")
        )
    };
    let other_key = jwt(
        &json!({ "alg": "HS256" }),
        &claims,
        b"not the server's key, but long enough!!",
    );
    let with = |change: &dyn Fn(&mut Value)| {
        let mut changed = claims.clone();
        change(&mut changed);
        changed
    };
    // Tokens signed with the right key but wrong in content still need the key: check the
    // rules with the key the server generated, read from its database.
    let key = app.state.db.pool();
    let secret: String = {
        use sea_orm::EntityTrait;
        entity::server_secret::Entity::find_by_id("jwt".to_owned())
            .one(key)
            .await
            .expect("a query")
            .expect("the generated key")
            .value
    };
    let signed = |claims: Value| jwt(&json!({ "alg": "HS256" }), &claims, secret.as_bytes());
    assert_eq!(
        code_of_me(app, &signed(claims.clone())).await,
        "OK",
        "the test signs like the server"
    );
    let now = chrono::Utc::now().timestamp();
    let cases = [
        ("alg none", unsigned),
        ("RS256 header", confused),
        ("tampered payload", tampered),
        ("another key", other_key),
        (
            "wrong audience",
            signed(with(&|c| c["aud"] = json!("someone-else"))),
        ),
        (
            "wrong issuer",
            signed(with(&|c| c["iss"] = json!("someone-else"))),
        ),
        (
            "not an access token",
            signed(with(&|c| c["typ"] = json!("refresh"))),
        ),
        (
            "no expiry",
            signed(with(&|c| {
                c.as_object_mut().map(|o| o.remove("exp"));
            })),
        ),
        ("expired", signed(with(&|c| c["exp"] = json!(now - 1)))),
        (
            "issued in the future",
            signed(with(&|c| c["iat"] = json!(now + 3600))),
        ),
        (
            "unknown user",
            signed(with(&|c| c["sub"] = json!("nobody"))),
        ),
        (
            "HS512 instead of HS256",
            jwt(&json!({ "alg": "HS512" }), &claims, secret.as_bytes()),
        ),
        ("a refresh token", ann.refresh.clone()),
        ("garbage", "not.a.token".to_owned()),
        ("empty", String::new()),
    ];
    for (case, token) in cases {
        assert_eq!(code_of_me(app, &token).await, "UNAUTHENTICATED", "{case}");
    }
    for header in [
        "Token abc",
        "Bearer",
        "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
        "Bearer a b c",
    ] {
        let response = app
            .client()
            .post(format!("{}/graphql", app.url))
            .header("authorization", header)
            .json(&json!({ "query": "{ me { email } }" }))
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), 200, "{header}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{header}"
        );
    }
}

async fn access_tokens_expire(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.access_token_ttl = Duration::from_secs(1)).await;
    let ann = app.register("ann@example.com").await;
    assert_eq!(code_of_me(&app, &ann.token).await, "OK");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(code_of_me(&app, &ann.token).await, "UNAUTHENTICATED");
    // The refresh token still gets a fresh access token.
    let renewed = refresh(&app, &ann.refresh).await.expect("a new session");
    assert_eq!(code_of_me(&app, &renewed.token).await, "OK");
    app.stop().await;
}

async fn refresh_tokens_rotate_and_reuse_revokes_the_family(app: &TestApp) {
    let ann = app.register("ann@example.com").await;
    let second = refresh(app, &ann.refresh).await.expect("rotation");
    assert_ne!(second.refresh, ann.refresh);
    assert_eq!(second.id, ann.id);
    assert_eq!(code_of_me(app, &second.token).await, "OK");
    let third = refresh(app, &second.refresh).await.expect("rotation again");
    let elsewhere = account(&app.login("ann@example.com", PASSWORD).await.body["data"]["login"]);
    assert_eq!(code_of_me(app, &third.token).await, "OK");
    // The first token again: reuse. Its whole family is revoked, the newest token too, and
    // every access token of the family (the thief's as well as the owner's).
    assert_eq!(
        refresh(app, &ann.refresh).await.err().as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        refresh(app, &third.refresh).await.err().as_deref(),
        Some("UNAUTHENTICATED")
    );
    for token in [&ann.token, &second.token, &third.token] {
        assert_eq!(code_of_me(app, token).await, "UNAUTHENTICATED");
    }
    // Another session of the same user is not touched.
    assert_eq!(code_of_me(app, &elsewhere.token).await, "OK");
    // An access token is not a refresh token, nor is garbage.
    for token in [ann.token.as_str(), "rt_garbage", ""] {
        assert_eq!(
            refresh(app, token).await.err().as_deref(),
            Some("UNAUTHENTICATED")
        );
    }
    // Another login is another family, unaffected.
    let login = app.login("ann@example.com", PASSWORD).await;
    let other = account(&login.body["data"]["login"]);
    assert!(refresh(app, &other.refresh).await.is_ok());
}

async fn logout_ends_one_session(app: &TestApp) {
    let phone = app.register("ann@example.com").await;
    let laptop = account(&app.login("ann@example.com", PASSWORD).await.body["data"]["login"]);
    let logout = "mutation($t: String!) { logout(refreshToken: $t) }";
    let data = app
        .data_as(&phone.token, logout, json!({ "t": phone.refresh }))
        .await;
    assert_eq!(data["logout"], true);
    assert_eq!(
        refresh(app, &phone.refresh).await.err().as_deref(),
        Some("UNAUTHENTICATED")
    );
    // The session's access token ends with it; the other session's keeps working.
    assert_eq!(code_of_me(app, &phone.token).await, "UNAUTHENTICATED");
    assert_eq!(code_of_me(app, &laptop.token).await, "OK");
    assert!(refresh(app, &laptop.refresh).await.is_ok());
    // Someone else's refresh token is not the caller's to revoke.
    let bob = app.register("bob@example.com").await;
    app.data_as(&laptop.token, logout, json!({ "t": bob.refresh }))
        .await;
    assert!(refresh(app, &bob.refresh).await.is_ok());
}

async fn logout_everywhere_revokes_every_token(app: &TestApp) {
    let phone = app.register("ann@example.com").await;
    let laptop = account(&app.login("ann@example.com", PASSWORD).await.body["data"]["login"]);
    let data = app
        .data_as(&phone.token, "mutation { logoutEverywhere }", json!({}))
        .await;
    assert_eq!(data["logoutEverywhere"], true);
    for session in [&phone, &laptop] {
        assert_eq!(code_of_me(app, &session.token).await, "UNAUTHENTICATED");
        assert_eq!(
            refresh(app, &session.refresh).await.err().as_deref(),
            Some("UNAUTHENTICATED")
        );
    }
    assert!(
        app.login("ann@example.com", PASSWORD)
            .await
            .errors()
            .is_empty()
    );
}

async fn changing_the_password_revokes_old_tokens(app: &TestApp) {
    let ann = app.register("ann@example.com").await;
    let change = "mutation($c: String!, $n: String!) {
        changePassword(currentPassword: $c, newPassword: $n) { accessToken refreshToken user { id email } }
    }";
    let wrong = app
        .gql_as(
            &ann.token,
            change,
            json!({ "c": "not it at all", "n": "a new password" }),
        )
        .await;
    assert_eq!(wrong.code(), "BAD_USER_INPUT");
    let same = app
        .gql_as(&ann.token, change, json!({ "c": PASSWORD, "n": PASSWORD }))
        .await;
    assert_eq!(same.code(), "BAD_USER_INPUT");
    let short = app
        .gql_as(&ann.token, change, json!({ "c": PASSWORD, "n": "short" }))
        .await;
    assert_eq!(short.code(), "BAD_USER_INPUT");
    assert_eq!(
        code_of_me(app, &ann.token).await,
        "OK",
        "refusals change nothing"
    );

    let changed = app
        .data_as(
            &ann.token,
            change,
            json!({ "c": PASSWORD, "n": "a new password" }),
        )
        .await;
    let fresh = account(&changed["changePassword"]);
    assert_eq!(code_of_me(app, &ann.token).await, "UNAUTHENTICATED");
    assert_eq!(
        refresh(app, &ann.refresh).await.err().as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(code_of_me(app, &fresh.token).await, "OK");
    assert_eq!(
        app.login("ann@example.com", PASSWORD).await.code(),
        "UNAUTHENTICATED"
    );
    assert!(
        app.login("ann@example.com", "a new password")
            .await
            .errors()
            .is_empty()
    );
}

async fn lockout_and_its_expiry(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.lockout_max_failures = 3;
        // Five password checks must fit in the window, also on a loaded machine.
        c.lockout_window = Duration::from_secs(5);
    })
    .await;
    app.register("ann@example.com").await;
    for _ in 0..3 {
        assert_eq!(
            app.login("ann@example.com", "wrong password").await.code(),
            "UNAUTHENTICATED"
        );
    }
    // Locked: the same answer whatever the password, so the lock tells a guesser nothing
    // about their guess.
    let right = app.login("ann@example.com", PASSWORD).await;
    let wrong = app.login("ann@example.com", "wrong password").await;
    assert_eq!(right.code(), "LOCKED");
    assert_eq!(
        (wrong.status, &wrong.body),
        (right.status, &right.body),
        "a locked account answers a wrong password as it answers the right one"
    );
    // Other accounts are not locked.
    app.register("bob@example.com").await;
    assert!(
        app.login("bob@example.com", PASSWORD)
            .await
            .errors()
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(5200)).await;
    assert!(
        app.login("ann@example.com", PASSWORD)
            .await
            .errors()
            .is_empty()
    );
    app.stop().await;
}

async fn failed_logins_are_limited_per_address(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.login_ip_max_failures = 4).await;
    app.register_only("ann@example.com").await;
    for n in 0..4 {
        let response = app
            .login(&format!("guess{n}@example.com"), "wrong password")
            .await;
        assert_eq!(response.code(), "UNAUTHENTICATED");
    }
    assert_eq!(
        app.login("ann@example.com", PASSWORD).await.code(),
        "RATE_LIMITED"
    );
    app.stop().await;
}

async fn deactivated_users_are_refused(app: &TestApp) {
    let admin = app.admin().await;
    let ann = app.register("ann@example.com").await;
    let set =
        "mutation($u: ID!, $a: Boolean!) { setUserActive(userId: $u, active: $a) { active } }";
    let refused = app
        .gql_as(&ann.token, set, json!({ "u": ann.id, "a": false }))
        .await;
    assert_eq!(refused.code(), "FORBIDDEN", "needs users:write");
    let data = app
        .data_as(&admin.token, set, json!({ "u": ann.id, "a": false }))
        .await;
    assert_eq!(data["setUserActive"]["active"], false);
    assert_eq!(code_of_me(app, &ann.token).await, "UNAUTHENTICATED");
    assert_eq!(
        refresh(app, &ann.refresh).await.err().as_deref(),
        Some("UNAUTHENTICATED")
    );
    // Told only to someone who knows the password.
    let login = app.login("ann@example.com", PASSWORD).await;
    assert_eq!(login.code(), "FORBIDDEN");
    assert_eq!(
        login.body["errors"][0]["message"],
        "this account is disabled"
    );
    assert_eq!(
        app.login("ann@example.com", "wrong password").await.code(),
        "UNAUTHENTICATED"
    );
    app.data_as(&admin.token, set, json!({ "u": ann.id, "a": true }))
        .await;
    assert!(
        app.login("ann@example.com", PASSWORD)
            .await
            .errors()
            .is_empty()
    );
}

async fn roles_are_granted_and_revoked_by_users_write_holders(app: &TestApp) {
    let admin = app.admin().await;
    let ann = app.register("ann@example.com").await;
    let grant =
        "mutation($u: ID!, $r: String!) { grantRole(userId: $u, role: $r) { roles { name } } }";
    let revoke =
        "mutation($u: ID!, $r: String!) { revokeRole(userId: $u, role: $r) { roles { name } } }";
    let refused = app
        .gql_as(&ann.token, grant, json!({ "u": ann.id, "r": "admin" }))
        .await;
    assert_eq!(refused.code(), "FORBIDDEN");
    assert_eq!(
        app.gql_as(&ann.token, "{ users { totalCount } }", json!({}))
            .await
            .code(),
        "FORBIDDEN"
    );

    let granted = app
        .data_as(&admin.token, grant, json!({ "u": ann.id, "r": "admin" }))
        .await;
    assert_eq!(granted["grantRole"]["roles"], json!([{ "name": "admin" }]));
    let again = app
        .data_as(&admin.token, grant, json!({ "u": ann.id, "r": "admin" }))
        .await;
    assert_eq!(
        again["grantRole"]["roles"],
        json!([{ "name": "admin" }]),
        "granting twice is one grant"
    );
    // The same token gains the permissions at once: they are read on every request.
    let users = app
        .data_as(&ann.token, "{ users { totalCount } }", json!({}))
        .await;
    assert_eq!(users["users"]["totalCount"], 2);
    let me = app.data_as(&ann.token, ME, json!({})).await;
    assert_eq!(
        me["me"]["roles"],
        json!([{ "name": "admin", "permissions": ["users:read", "users:write", "profiles:read", "profiles:write"] }])
    );

    let unknown = app
        .gql_as(&admin.token, grant, json!({ "u": ann.id, "r": "wizard" }))
        .await;
    assert_eq!(unknown.code(), "NOT_FOUND");
    let revoked = app
        .data_as(&admin.token, revoke, json!({ "u": ann.id, "r": "admin" }))
        .await;
    assert_eq!(revoked["revokeRole"]["roles"], json!([]));
    assert_eq!(
        app.gql_as(&ann.token, "{ users { totalCount } }", json!({}))
            .await
            .code(),
        "FORBIDDEN"
    );
}

async fn the_signing_key_survives_restarts_and_rotates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ann = app.register("ann@example.com").await;
    // Without JWT_SECRET the generated key is kept in the database: tokens survive a restart.
    let app = app.restart(|_| {}).await;
    assert_eq!(code_of_me(&app, &ann.token).await, "OK");

    let first = "the first configured key, long enough to sign";
    let second = "the second configured key, long enough to sign";
    let app = app.restart(|c| c.jwt_secret = Some(first.into())).await;
    assert_eq!(
        code_of_me(&app, &ann.token).await,
        "UNAUTHENTICATED",
        "a configured key replaces the generated one"
    );
    let signed_first = account(&app.login("ann@example.com", PASSWORD).await.body["data"]["login"]);

    let app = app
        .restart(|c| {
            c.jwt_secret = Some(second.into());
            c.jwt_secret_previous = Some(first.into());
        })
        .await;
    assert_eq!(
        code_of_me(&app, &signed_first.token).await,
        "OK",
        "the previous key still verifies"
    );
    let signed_second =
        account(&app.login("ann@example.com", PASSWORD).await.body["data"]["login"]);

    let app = app.restart(|c| c.jwt_secret = Some(second.into())).await;
    assert_eq!(
        code_of_me(&app, &signed_first.token).await,
        "UNAUTHENTICATED",
        "rotation is over"
    );
    assert_eq!(code_of_me(&app, &signed_second.token).await, "OK");
    app.stop().await;
}

async fn create_user_bootstraps_an_admin(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let run = |args: &[&str], stdin: &'static str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_api"))
            .args(args)
            .env("DATABASE_URL", &database.url)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the api binary runs");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("written");
        child.wait_with_output().expect("it ends")
    };
    let made = run(
        &["create-user", "--email", "root@example.com", "--admin"],
        "a root password\n",
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(String::from_utf8_lossy(&made.stdout).contains("root@example.com"));
    let short = run(&["create-user", "--email", "weak@example.com"], "short\n");
    assert!(!short.status.success(), "a short password is refused");

    let server = crate::helpers::ServerProcess::start(&database.url, &[]).await;
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{}/graphql", server.url))
        .json(&json!({ "query": "mutation { login(email: \"root@example.com\", password: \"a root password\") { user { roles { name } } } }" }))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(
        login["data"]["login"]["user"]["roles"],
        json!([{ "name": "admin" }]),
        "{login}"
    );
    server.stop().await;
}

async fn secrets_never_reach_the_logs(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let jwt_secret = "a configured signing key that must stay secret";
    let server = crate::helpers::ServerProcess::start(
        &database.url,
        &[("RUST_LOG", "trace"), ("JWT_SECRET", jwt_secret)],
    )
    .await;
    let client = reqwest::Client::new();
    let post = |token: Option<String>, query: &'static str, variables: Value| {
        let mut request = client
            .post(format!("{}/graphql", server.url))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            request
                .send()
                .await
                .expect("answers")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    let password = "first secret password";
    let new_password = "second secret password";
    post(
        None,
        "mutation($p: String!) { register(input: { email: \"ann@example.com\", password: $p }) { email } }",
        json!({ "p": password }),
    )
    .await;
    let signed_in = post(
        None,
        "mutation($p: String!) { login(email: \"ann@example.com\", password: $p) { accessToken refreshToken user { id email } } }",
        json!({ "p": password }),
    )
    .await;
    let first = account(&signed_in["data"]["login"]);
    post(
        None,
        "mutation($p: String!) { login(email: \"ann@example.com\", password: $p) { accessToken } }",
        json!({ "p": "a wrong guess" }),
    )
    .await;
    let refreshed = post(None, REFRESH, json!({ "t": first.refresh })).await;
    let second = account(&refreshed["data"]["refreshToken"]);
    let changed = post(
        Some(second.token.clone()),
        "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { accessToken refreshToken user { id email } } }",
        json!({ "c": password, "n": new_password }),
    )
    .await;
    let third = account(&changed["data"]["changePassword"]);
    // A refresh token presented again.
    post(None, REFRESH, json!({ "t": first.refresh })).await;
    post(
        Some(third.token.clone()),
        "{ me { email profiles { totalCount } } }",
        json!({}),
    )
    .await;
    post(Some(first.token.clone()), "{ me { email } }", json!({})).await;
    // A GET carries its document in the URL; the URL must not reach the log either.
    let sneaky = format!(
        "mutation {{ login(email: \"ann@example.com\", password: \"{password}\") {{ accessToken }} }}"
    );
    client
        .get(format!("{}/graphql", server.url))
        .query(&[("query", sneaky)])
        .send()
        .await
        .expect("answers");
    let log = server.stop().await;

    assert!(log.contains("listening"), "the server logged at all: {log}");
    assert!(
        log.lines().count() > 10,
        "tracing at every level logged something"
    );
    let secrets = [
        password,
        new_password,
        jwt_secret,
        &first.token,
        &first.refresh,
        &second.token,
        &second.refresh,
        &third.token,
        &third.refresh,
    ];
    for secret in secrets {
        assert!(!log.contains(secret), "a secret reached the log: {secret}");
    }
}
