//! Password recovery by mail, through a real SMTP server: the link arrives, works once, sets
//! the password and ends every session; asking tells nothing of whether an account exists; a
//! mail server that is down delays the message, and loses nothing.

use std::time::Duration;

use serde_json::json;

use crate::{
    db_tests,
    helpers::{Backend, PASSWORD, TestApp},
    smtp::SmtpServer,
};

db_tests!(
    a_forgotten_password_is_reset_through_the_link_sent_by_mail[own_server],
    reset_links_work_once_expire_and_yield_to_newer_ones_and_password_changes[own_server],
    messages_wait_in_the_outbox_while_the_mail_server_is_down[own_server],
);

const REQUEST: &str = "mutation($email: String!) { requestPasswordReset(email: $email) }";
const RESET: &str = "mutation($token: String!, $password: String!) { resetPassword(token: $token, newPassword: $password) }";
const NEW_PASSWORD: &str = "a brand new long passphrase";

/// A server whose mail goes to `smtp`, with links under `https://roster.example`. (Its only
/// replica: any replica of a database delivers its outbox.)
async fn with_mail(backend: Backend, smtp: &SmtpServer) -> TestApp {
    TestApp::spawn_with(backend, |config| {
        config.mail_url = Some(smtp.url());
        config.public_url = Some("https://roster.example".into());
        // No confirmation messages: these tests count the messages of recovery.
        config.confirm_email = Some(api::config::ConfirmEmail::Off);
    })
    .await
}

async fn a_forgotten_password_is_reset_through_the_link_sent_by_mail(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = with_mail(backend, &smtp).await;
    let ann = app.register("ann@example.com").await;

    // Known and unknown addresses get the same answer.
    let known = app
        .gql(REQUEST, json!({ "email": "ANN@example.com" }))
        .await;
    let unknown = app
        .gql(REQUEST, json!({ "email": "nobody@example.com" }))
        .await;
    assert_eq!(
        known.body,
        json!({ "data": { "requestPasswordReset": true } })
    );
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));

    let message = smtp
        .wait_for("ann@example.com", 1, Duration::from_secs(10))
        .await;
    assert_eq!(message.subject, "Reset your Roster password");
    assert!(
        message.from.contains("roster@localhost"),
        "{}",
        message.from
    );
    assert!(
        message
            .text
            .contains("https://roster.example/reset-password?token="),
        "{}",
        message.text
    );
    let token = message.token("reset-password");
    assert!(token.len() >= 43, "a long random token: {token}");

    let reset = app
        .gql(RESET, json!({ "token": token, "password": NEW_PASSWORD }))
        .await;
    assert_eq!(reset.body, json!({ "data": { "resetPassword": true } }));
    // Every session ended; the new password signs in, the old one does not.
    let me = app.gql_as(&ann.token, "{ me { email } }", json!({})).await;
    assert_eq!(me.code(), "UNAUTHENTICATED", "{}", me.body);
    assert!(
        app.login("ann@example.com", NEW_PASSWORD)
            .await
            .errors()
            .is_empty()
    );
    assert!(
        !app.login("ann@example.com", PASSWORD)
            .await
            .errors()
            .is_empty()
    );
    // Its owner is told, and the link does not work twice.
    let notice = smtp
        .wait_for("ann@example.com", 2, Duration::from_secs(10))
        .await;
    assert_eq!(notice.subject, "Your Roster password was changed");
    let again = app
        .gql(
            RESET,
            json!({ "token": token, "password": "yet another passphrase" }),
        )
        .await;
    assert_eq!(again.code(), "BAD_USER_INPUT", "{}", again.body);
    assert!(
        app.login("ann@example.com", NEW_PASSWORD)
            .await
            .errors()
            .is_empty()
    );
    // Nothing went to the address without an account.
    assert!(smtp.delivered_to("nobody@example.com").is_empty());
    app.stop().await;
}

async fn reset_links_work_once_expire_and_yield_to_newer_ones_and_password_changes(
    backend: Backend,
) {
    let smtp = SmtpServer::start().await;
    let app = with_mail(backend, &smtp).await;
    let ann = app.register("ann@example.com").await;
    let request = || app.gql(REQUEST, json!({ "email": "ann@example.com" }));
    let reset = |token: String, password: &str| {
        app.gql(RESET, json!({ "token": token, "password": password }))
    };
    // Time passes for the tokens sent so far: a request may send a new one.
    let later = |minutes: i64| {
        let sql = format!(
            "UPDATE account_token SET created_at = created_at - INTERVAL '{minutes} minutes', \
             expires_at = expires_at - INTERVAL '{minutes} minutes'"
        );
        let sqlite = format!(
            "UPDATE account_token SET created_at = datetime(created_at, '-{minutes} minutes'), \
             expires_at = datetime(expires_at, '-{minutes} minutes')"
        );
        match backend {
            Backend::Postgres => sql,
            Backend::Sqlite => sqlite,
        }
    };

    request().await;
    let first = smtp
        .wait_for("ann@example.com", 1, Duration::from_secs(10))
        .await
        .token("reset-password");
    // Asked again at once: nothing more is sent.
    request().await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(smtp.delivered_to("ann@example.com").len(), 1);
    // A minute later, a newer link voids the first.
    app.execute_sql(&later(2)).await;
    request().await;
    let second = smtp
        .wait_for("ann@example.com", 2, Duration::from_secs(10))
        .await
        .token("reset-password");
    assert_ne!(first, second);
    assert_eq!(reset(first, NEW_PASSWORD).await.code(), "BAD_USER_INPUT");
    // A password the rules refuse is refused, and the link still works after.
    assert_eq!(
        reset(second.clone(), "short").await.code(),
        "BAD_USER_INPUT"
    );
    // Made-up and malformed tokens.
    for token in ["", "nope", &"x".repeat(10_000)] {
        assert_eq!(
            reset(token.to_owned(), NEW_PASSWORD).await.code(),
            "BAD_USER_INPUT"
        );
    }
    // A change of password voids it.
    let changed = app
        .gql_as(
            &ann.token,
            "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { accessToken } }",
            json!({ "c": PASSWORD, "n": NEW_PASSWORD }),
        )
        .await;
    assert!(changed.errors().is_empty(), "{}", changed.body);
    assert_eq!(
        reset(second, "yet another passphrase").await.code(),
        "BAD_USER_INPUT"
    );
    // An expired link does not work.
    app.execute_sql(&later(2)).await;
    request().await;
    let third = smtp
        .wait_for("ann@example.com", 4, Duration::from_secs(10))
        .await;
    assert_eq!(
        third.subject, "Reset your Roster password",
        "the third message is the notice of the change, then this"
    );
    app.execute_sql(&later(61)).await;
    assert_eq!(
        reset(third.token("reset-password"), "yet another passphrase")
            .await
            .code(),
        "BAD_USER_INPUT"
    );
    assert!(
        app.login("ann@example.com", NEW_PASSWORD)
            .await
            .errors()
            .is_empty()
    );
    app.stop().await;
}

async fn messages_wait_in_the_outbox_while_the_mail_server_is_down(backend: Backend) {
    let mut smtp = SmtpServer::start().await;
    let app = with_mail(backend, &smtp).await;
    app.register("ann@example.com").await;
    smtp.pause().await;
    let asked = app
        .gql(REQUEST, json!({ "email": "ann@example.com" }))
        .await;
    assert_eq!(
        asked.body,
        json!({ "data": { "requestPasswordReset": true } })
    );
    // The failed delivery is counted, and the message kept.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = app
            .client()
            .get(format!("{}/metrics", app.url))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        if metrics.contains(r#"roster_mail_deliveries_total{outcome="failed"}"#) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no failed delivery counted: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    smtp.resume().await;
    let message = smtp
        .wait_for("ann@example.com", 1, Duration::from_secs(30))
        .await;
    assert_eq!(message.subject, "Reset your Roster password");
    app.stop().await;
}
