//! Confirmation of email addresses (`CONFIRM_EMAIL`) through a real SMTP server, and
//! registration that tells nobody whether an address has an account.

use std::time::Duration;

use api::config::ConfirmEmail;
use serde_json::json;

use crate::{
    db_tests,
    helpers::{Backend, PASSWORD, TestApp},
    smtp::SmtpServer,
};

db_tests!(
    a_new_account_signs_in_once_its_address_is_confirmed[own_server],
    registering_a_taken_address_answers_the_same_and_tells_its_owner[own_server],
    a_resent_link_voids_the_earlier_one[own_server],
);

const REGISTER: &str = "mutation($e: String!, $p: String!) {
    register(input: { email: $e, password: $p }) { email confirmationRequired }
}";
const CONFIRM: &str = "mutation($t: String!) { confirmEmail(token: $t) }";
const RESEND: &str = "mutation($e: String!) { resendConfirmation(email: $e) }";

async fn with_mail(backend: Backend, smtp: &SmtpServer, mode: ConfirmEmail) -> TestApp {
    TestApp::spawn_with(backend, |config| {
        config.mail_url = Some(smtp.url());
        config.public_url = Some("https://roster.example".into());
        config.confirm_email = Some(mode);
    })
    .await
}

async fn a_new_account_signs_in_once_its_address_is_confirmed(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = with_mail(backend, &smtp, ConfirmEmail::Required).await;
    let registered = app
        .gql(REGISTER, json!({ "e": "Ann@example.com", "p": PASSWORD }))
        .await;
    assert_eq!(
        registered.body,
        json!({ "data": { "register": { "email": "Ann@example.com", "confirmationRequired": true } } })
    );
    let message = smtp
        .wait_for("Ann@example.com", 1, Duration::from_secs(10))
        .await;
    assert_eq!(message.subject, "Confirm your Roster account");
    let token = message.token("confirm-email");

    // Not before the address is confirmed, and told so only to whoever knows the password.
    let early = app.login("ann@example.com", PASSWORD).await;
    assert_eq!(early.code(), "FORBIDDEN", "{}", early.body);
    let says = early.body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(says.contains("confirm your email address"), "{says}");
    assert_eq!(
        app.login("ann@example.com", "a wrong password")
            .await
            .code(),
        "UNAUTHENTICATED"
    );

    let confirmed = app.gql(CONFIRM, json!({ "t": token })).await;
    assert_eq!(confirmed.body, json!({ "data": { "confirmEmail": true } }));
    let login = app.login("ann@example.com", PASSWORD).await;
    assert!(login.errors().is_empty(), "{}", login.body);
    let access = login.body["data"]["login"]["accessToken"]
        .as_str()
        .unwrap_or_default();
    let me = app
        .data_as(access, "{ me { emailConfirmedAt } }", json!({}))
        .await;
    assert!(me["me"]["emailConfirmedAt"].is_string(), "{me}");
    // Once only; and a confirmed address is sent no more links.
    assert_eq!(
        app.gql(CONFIRM, json!({ "t": token })).await.code(),
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.gql(CONFIRM, json!({ "t": "made-up" })).await.code(),
        "BAD_USER_INPUT"
    );
    let resent = app.gql(RESEND, json!({ "e": "ann@example.com" })).await;
    assert_eq!(
        resent.body,
        json!({ "data": { "resendConfirmation": true } })
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(smtp.delivered_to("Ann@example.com").len(), 1);
    app.stop().await;
}

async fn registering_a_taken_address_answers_the_same_and_tells_its_owner(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = with_mail(backend, &smtp, ConfirmEmail::Optional).await;
    let first = app
        .gql(REGISTER, json!({ "e": "ann@example.com", "p": PASSWORD }))
        .await;
    let again = app
        .gql(
            REGISTER,
            json!({ "e": "ann@example.com", "p": "another long password" }),
        )
        .await;
    assert_eq!((first.status, &first.body), (again.status, &again.body));
    assert_eq!(
        first.body["data"]["register"]["confirmationRequired"],
        false
    );
    // The account is the first one; the second password opens nothing.
    assert!(
        app.login("ann@example.com", PASSWORD)
            .await
            .errors()
            .is_empty()
    );
    assert_eq!(
        app.login("ann@example.com", "another long password")
            .await
            .code(),
        "UNAUTHENTICATED"
    );
    let confirm = smtp
        .wait_for("ann@example.com", 1, Duration::from_secs(10))
        .await;
    assert_eq!(confirm.subject, "Confirm your Roster account");
    let notice = smtp
        .wait_for("ann@example.com", 2, Duration::from_secs(10))
        .await;
    assert_eq!(
        notice.subject,
        "Someone tried to register with your address"
    );
    assert!(
        notice
            .text
            .contains("https://roster.example/reset-password"),
        "{}",
        notice.text
    );
    app.stop().await;
}

async fn a_resent_link_voids_the_earlier_one(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = with_mail(backend, &smtp, ConfirmEmail::Optional).await;
    app.gql(REGISTER, json!({ "e": "ann@example.com", "p": PASSWORD }))
        .await;
    let first = smtp
        .wait_for("ann@example.com", 1, Duration::from_secs(10))
        .await
        .token("confirm-email");
    // At once: nothing more is sent; for an address without an account, nothing, alike.
    let resent = app.gql(RESEND, json!({ "e": "ann@example.com" })).await;
    let unknown = app.gql(RESEND, json!({ "e": "nobody@example.com" })).await;
    assert_eq!(resent.body, unknown.body);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(smtp.delivered_to("ann@example.com").len(), 1);
    assert!(smtp.delivered_to("nobody@example.com").is_empty());
    // A minute later, a new link voids the first.
    let sql = match backend {
        Backend::Postgres => {
            "UPDATE account_token SET created_at = created_at - INTERVAL '2 minutes'"
        }
        Backend::Sqlite => {
            "UPDATE account_token SET created_at = datetime(created_at, '-2 minutes')"
        }
    };
    app.execute_sql(sql).await;
    app.gql(RESEND, json!({ "e": "ANN@example.com" })).await;
    let second = smtp
        .wait_for("ann@example.com", 2, Duration::from_secs(10))
        .await
        .token("confirm-email");
    assert_eq!(
        app.gql(CONFIRM, json!({ "t": first })).await.code(),
        "BAD_USER_INPUT"
    );
    let confirmed = app.gql(CONFIRM, json!({ "t": second })).await;
    assert_eq!(confirmed.body, json!({ "data": { "confirmEmail": true } }));
    app.stop().await;
}
