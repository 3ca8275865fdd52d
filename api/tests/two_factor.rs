//! Two-factor sign-in (TOTP, as an authenticator app reads it from the `otpauth://` URI, and
//! recovery codes) and freshness, over HTTP with a real SMTP server for the notices: codes work
//! once, wrong ones count as failed logins, and changes to the account need a recent sign-in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use totp_rs::Totp;

use crate::{
    db_tests,
    helpers::{Account, Backend, PASSWORD, TestApp, account},
    smtp::SmtpServer,
};

db_tests!(
    two_factor_sign_in_takes_each_code_once[own_server],
    wrong_codes_count_as_failed_logins[own_server],
    account_changes_need_a_fresh_sign_in_which_reauthenticate_renews[own_server],
);

const SET_UP: &str = "mutation { setUpTotp { secret uri } }";
const CONFIRM: &str = "mutation($code: String!) { confirmTotp(code: $code) }";
const LOGIN: &str = "mutation($email: String!, $password: String!) {
    login(email: $email, password: $password) { accessToken }
}";
const COMPLETE: &str = "mutation($challenge: String!, $code: String!) {
    completeLogin(challenge: $challenge, code: $code) {
        accessToken refreshToken expiresAt user { id email }
    }
}";
const REAUTHENTICATE: &str = "mutation($password: String!, $code: String) {
    reauthenticate(password: $password, code: $code) {
        accessToken refreshToken expiresAt user { id email }
    }
}";
const CHANGE_PASSWORD: &str = "mutation($new: String!) {
    changePassword(currentPassword: \"correct horse battery staple\", newPassword: $new) {
        accessToken
    }
}";

async fn with_mail(
    backend: Backend,
    smtp: &SmtpServer,
    configure: impl FnOnce(&mut api::config::Config),
) -> TestApp {
    TestApp::spawn_with(backend, |config| {
        config.mail_url = Some(smtp.url());
        config.public_url = Some("https://roster.example".into());
        config.confirm_email = Some(api::config::ConfirmEmail::Off);
        configure(config);
    })
    .await
}

/// The authenticator app of a `setUpTotp` answer, read from its URI as an app reads the QR code.
fn authenticator(setup: &Value) -> Totp {
    let uri = setup["uri"].as_str().expect("a URI");
    Totp::from_url(uri).unwrap_or_else(|err| panic!("{uri}: {err}"))
}

/// The code `app` shows `steps` steps of 30 s from now.
pub fn code_at(app: &Totp, steps: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let at = now.checked_add_signed(steps * 30).expect("a time");
    app.generate(at).to_string()
}

/// A code that is none of those of the steps around now.
fn wrong_code(app: &Totp) -> String {
    let near: Vec<String> = (-2..=2).map(|steps| code_at(app, steps)).collect();
    (0..)
        .map(|n| format!("{n:06}"))
        .find(|code| !near.contains(code))
        .expect("a wrong code")
}

/// Turns on two-factor sign-in for `user`: the app, and the recovery codes.
pub async fn enable(app: &TestApp, user: &Account) -> (Totp, Vec<String>) {
    let setup = app.data_as(&user.token, SET_UP, json!({})).await["setUpTotp"].clone();
    let authenticator = authenticator(&setup);
    let confirmed = app
        .data_as(
            &user.token,
            CONFIRM,
            json!({ "code": code_at(&authenticator, 0) }),
        )
        .await;
    let codes = confirmed["confirmTotp"]
        .as_array()
        .expect("recovery codes")
        .iter()
        .map(|code| code.as_str().expect("a code").to_owned())
        .collect();
    (authenticator, codes)
}

/// The challenge `login` answers for an account with two-factor sign-in.
async fn challenge(app: &TestApp, email: &str) -> String {
    let login = app
        .gql(LOGIN, json!({ "email": email, "password": PASSWORD }))
        .await;
    assert_eq!(login.code(), "TWO_FACTOR_REQUIRED", "{}", login.body);
    assert_eq!(login.body["data"], Value::Null, "no tokens: {}", login.body);
    login.body["errors"][0]["extensions"]["challenge"]
        .as_str()
        .expect("a challenge")
        .to_owned()
}

async fn two_factor_sign_in_takes_each_code_once(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = with_mail(backend, &smtp, |_| {}).await;
    let ann = app.register("ann@example.com").await;

    let setup = app.data_as(&ann.token, SET_UP, json!({})).await["setUpTotp"].clone();
    let uri = setup["uri"].as_str().expect("a URI");
    assert!(
        uri.starts_with("otpauth://totp/Roster:ann%40example.com?"),
        "{uri}"
    );
    let secret = setup["secret"].as_str().expect("a secret");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(secret.len() >= 32, "160 bits: {secret}");
    let phone = authenticator(&setup);

    // Not on until a code of the app confirms it.
    let signed_in = app.login("ann@example.com", PASSWORD).await;
    assert!(signed_in.errors().is_empty(), "{}", signed_in.body);
    let wrong = app
        .gql_as(&ann.token, CONFIRM, json!({ "code": wrong_code(&phone) }))
        .await;
    assert_eq!(wrong.code(), "BAD_USER_INPUT", "{}", wrong.body);
    let code = code_at(&phone, 0);
    let confirmed = app
        .data_as(&ann.token, CONFIRM, json!({ "code": code }))
        .await;
    let recovery: Vec<&str> = confirmed["confirmTotp"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|code| code.as_str().expect("a code"))
        .collect();
    assert_eq!(recovery.len(), 10);
    assert!(
        recovery
            .iter()
            .all(|code| code.len() == 23 && code.split('-').count() == 4),
        "{recovery:?}"
    );
    let notice = smtp
        .wait_for("ann@example.com", 1, Duration::from_secs(10))
        .await;
    assert_eq!(
        notice.subject,
        "Two-factor sign-in is on for your Roster account"
    );

    // The password alone gets a challenge, not tokens; the challenge and a code get tokens.
    let challenge_token = challenge(&app, "ann@example.com").await;
    let replayed = app
        .gql(
            COMPLETE,
            json!({ "challenge": challenge_token, "code": code }),
        )
        .await;
    assert_eq!(
        replayed.code(),
        "BAD_USER_INPUT",
        "a used code: {}",
        replayed.body
    );
    let next = code_at(&phone, 1);
    let completed = app
        .gql(
            COMPLETE,
            json!({ "challenge": challenge_token, "code": next }),
        )
        .await;
    assert!(completed.errors().is_empty(), "{}", completed.body);
    let session = account(&completed.body["data"]["completeLogin"]);
    let me = app
        .data_as(&session.token, "{ me { email } }", json!({}))
        .await;
    assert_eq!(me, json!({ "me": { "email": "ann@example.com" } }));
    let again = app
        .gql(
            COMPLETE,
            json!({ "challenge": challenge_token, "code": next }),
        )
        .await;
    assert_eq!(again.code(), "BAD_USER_INPUT", "{}", again.body);

    // A recovery code works once, typed with or without its dashes.
    let challenge_token = challenge(&app, "ann@example.com").await;
    let undashed = recovery[0].replace('-', "").to_uppercase();
    let recovered = app
        .gql(
            COMPLETE,
            json!({ "challenge": challenge_token, "code": undashed }),
        )
        .await;
    assert!(recovered.errors().is_empty(), "{}", recovered.body);
    let reused = app
        .gql(
            COMPLETE,
            json!({ "challenge": challenge_token, "code": recovery[0] }),
        )
        .await;
    assert_eq!(reused.code(), "BAD_USER_INPUT", "{}", reused.body);

    // A forged or altered challenge does nothing.
    let mut forged = challenge_token.clone();
    forged.pop();
    forged.push(if challenge_token.ends_with('A') {
        'B'
    } else {
        'A'
    });
    for challenge in [forged.as_str(), session.token.as_str(), "nonsense"] {
        let refused = app
            .gql(
                COMPLETE,
                json!({ "challenge": challenge, "code": recovery[1] }),
            )
            .await;
        assert_eq!(refused.code(), "BAD_USER_INPUT", "{}", refused.body);
    }
    // A challenge is no access token.
    let as_token = app
        .gql_as(&challenge_token, "{ me { email } }", json!({}))
        .await;
    assert_eq!(as_token.code(), "UNAUTHENTICATED", "{}", as_token.body);
    // The unused codes still work.
    let challenge_token = challenge(&app, "ann@example.com").await;
    let recovered = app
        .gql(
            COMPLETE,
            json!({ "challenge": challenge_token, "code": recovery[1] }),
        )
        .await;
    assert!(recovered.errors().is_empty(), "{}", recovered.body);
    app.stop().await;
}

async fn wrong_codes_count_as_failed_logins(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = with_mail(backend, &smtp, |config| config.lockout_max_failures = 3).await;
    let ann = app.register("ann@example.com").await;
    let (phone, recovery) = enable(&app, &ann).await;

    let challenge_token = challenge(&app, "ann@example.com").await;
    for _ in 0..3 {
        let wrong = app
            .gql(
                COMPLETE,
                json!({ "challenge": challenge_token, "code": wrong_code(&phone) }),
            )
            .await;
        assert_eq!(wrong.code(), "BAD_USER_INPUT", "{}", wrong.body);
    }
    // Locked: not even the right code is looked at, nor a recovery code, nor the password.
    for code in [code_at(&phone, 1), recovery[0].clone()] {
        let locked = app
            .gql(
                COMPLETE,
                json!({ "challenge": challenge_token, "code": code }),
            )
            .await;
        assert_eq!(locked.code(), "LOCKED", "{}", locked.body);
    }
    let login = app
        .gql(
            LOGIN,
            json!({ "email": "ann@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(login.code(), "LOCKED", "{}", login.body);
    app.stop().await;
}

async fn account_changes_need_a_fresh_sign_in_which_reauthenticate_renews(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = with_mail(backend, &smtp, |config| {
        config.freshness = Duration::from_secs(2);
    })
    .await;
    let ann = app.register("ann@example.com").await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let stale = [
        (CHANGE_PASSWORD, json!({ "new": "another long passphrase" })),
        (SET_UP, json!({})),
        ("mutation { disableTotp }", json!({})),
        (
            "mutation { requestEmailChange(newEmail: \"ann2@example.com\") }",
            json!({}),
        ),
        (
            "mutation($id: ID!) { deleteUser(id: $id) }",
            json!({ "id": ann.id }),
        ),
    ];
    for (document, variables) in &stale {
        let refused = app.gql_as(&ann.token, document, variables.clone()).await;
        assert_eq!(refused.code(), "FRESH_SIGN_IN_REQUIRED", "{}", refused.body);
    }
    // Other operations go on; refreshing carries the sign-in's time, and does not renew it.
    let me = app.data_as(&ann.token, "{ me { email } }", json!({})).await;
    assert_eq!(me["me"]["email"], "ann@example.com");
    let refreshed = app
        .gql(
            "mutation($t: String!) { refreshToken(token: $t) { accessToken refreshToken expiresAt user { id email } } }",
            json!({ "t": ann.refresh }),
        )
        .await;
    let refreshed = account(&refreshed.body["data"]["refreshToken"]);
    let still = app.gql_as(&refreshed.token, SET_UP, json!({})).await;
    assert_eq!(still.code(), "FRESH_SIGN_IN_REQUIRED", "{}", still.body);

    // The password renews it, in the same session.
    let wrong = app
        .gql_as(
            &refreshed.token,
            REAUTHENTICATE,
            json!({ "password": "not the password" }),
        )
        .await;
    assert_eq!(wrong.code(), "BAD_USER_INPUT", "{}", wrong.body);
    let renewed = app
        .data_as(
            &refreshed.token,
            REAUTHENTICATE,
            json!({ "password": PASSWORD }),
        )
        .await;
    let fresh = account(&renewed["reauthenticate"]);
    let (phone, recovery) = enable(&app, &fresh).await;
    // Logging out the session ends the renewed tokens too.
    let logout = app
        .gql_as(
            &fresh.token,
            "mutation($t: String!) { logout(refreshToken: $t) }",
            json!({ "t": refreshed.refresh }),
        )
        .await;
    assert!(logout.errors().is_empty(), "{}", logout.body);
    let ended = app
        .gql_as(&fresh.token, "{ me { email } }", json!({}))
        .await;
    assert_eq!(ended.code(), "UNAUTHENTICATED", "{}", ended.body);

    // With two-factor sign-in, renewing takes a code too.
    let challenge_token = challenge(&app, "ann@example.com").await;
    let completed = app
        .gql(
            COMPLETE,
            json!({ "challenge": challenge_token, "code": code_at(&phone, 1) }),
        )
        .await;
    let ann = account(&completed.body["data"]["completeLogin"]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stale = app
        .gql_as(&ann.token, "mutation { disableTotp }", json!({}))
        .await;
    assert_eq!(stale.code(), "FRESH_SIGN_IN_REQUIRED", "{}", stale.body);
    let without_code = app
        .gql_as(&ann.token, REAUTHENTICATE, json!({ "password": PASSWORD }))
        .await;
    assert_eq!(
        without_code.code(),
        "BAD_USER_INPUT",
        "{}",
        without_code.body
    );
    let renewed = app
        .data_as(
            &ann.token,
            REAUTHENTICATE,
            // The app's codes up to the next step are used: a recovery code.
            json!({ "password": PASSWORD, "code": recovery[0] }),
        )
        .await;
    let fresh = account(&renewed["reauthenticate"]);
    let disabled = app
        .data_as(&fresh.token, "mutation { disableTotp }", json!({}))
        .await;
    assert_eq!(disabled, json!({ "disableTotp": true }));
    let notice = smtp
        .wait_for("ann@example.com", 2, Duration::from_secs(10))
        .await;
    assert_eq!(
        notice.subject,
        "Two-factor sign-in is off for your Roster account"
    );
    // The password alone signs in again.
    let login = app.login("ann@example.com", PASSWORD).await;
    assert!(login.errors().is_empty(), "{}", login.body);
    app.stop().await;
}
