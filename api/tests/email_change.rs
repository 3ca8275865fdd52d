//! Change of email and invitations by mail, through a real SMTP server: the new address is
//! confirmed by its link and then shown everywhere at once, on every replica; an invitation's
//! link signs its invitee up with the address confirmed.

use std::time::Duration;

use api::config::ConfirmEmail;
use serde_json::{Value, json};

use crate::{
    db_tests,
    helpers::{Account, Backend, PASSWORD, TestApp, account},
    smtp::SmtpServer,
};

db_tests!(
    a_new_address_is_confirmed_by_its_link_and_shown_everywhere_at_once[own_server],
    moving_to_a_taken_address_answers_the_same_and_tells_its_owner[own_server],
    an_invitation_is_mailed_with_a_link_that_signs_up_confirmed[own_server],
);

const REQUEST: &str = "mutation($e: String!) { requestEmailChange(newEmail: $e) }";
const CONFIRM: &str = "mutation($t: String!) { confirmEmailChange(token: $t) }";
const LIMIT: Duration = Duration::from_secs(10);

async fn with_mail(backend: Backend, smtp: &SmtpServer, mode: ConfirmEmail) -> TestApp {
    TestApp::spawn_with(backend, |config| {
        config.mail_url = Some(smtp.url());
        config.public_url = Some("https://roster.example".into());
        config.confirm_email = Some(mode);
    })
    .await
}

/// Signs in `email`, which must work.
async fn signed_in(app: &TestApp, email: &str) -> Account {
    let login = app.login(email, PASSWORD).await;
    assert!(login.errors().is_empty(), "{}", login.body);
    account(&login.body["data"]["login"])
}

/// The addresses of the managers of `profile`, as `caller` lists them.
async fn managers(app: &TestApp, caller: &str, profile: &str) -> Value {
    let data = app
        .data_as(
            caller,
            "query($p: ID!) { profile(id: $p) { users { nodes { email } } } }",
            json!({ "p": profile }),
        )
        .await;
    data["profile"]["users"]["nodes"].clone()
}

async fn a_new_address_is_confirmed_by_its_link_and_shown_everywhere_at_once(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = with_mail(backend, &smtp, ConfirmEmail::Off).await;
    let replica = TestApp::spawn_at(backend, app.database_url(), |config| {
        config.mail_url = Some(smtp.url());
        config.confirm_email = Some(ConfirmEmail::Off);
    })
    .await;
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let profile = app.create_profile(&bob, "Bob's").await;
    app.add_manager(&bob, &profile, &ann, "MANAGER").await;
    // Both replicas have read Ann's card.
    for server in [&app, &replica] {
        let emails = managers(server, &bob.token, &profile).await;
        assert!(emails.to_string().contains("ann@example.com"), "{emails}");
    }

    let asked = app
        .data_as(&ann.token, REQUEST, json!({ "e": "Ann.New@example.com" }))
        .await;
    assert_eq!(asked, json!({ "requestEmailChange": true }));
    let link = smtp.wait_for("Ann.New@example.com", 1, LIMIT).await;
    assert_eq!(link.subject, "Confirm your new Roster address");
    let token = link.token("confirm-email-change");
    let notice = smtp.wait_for("ann@example.com", 2, LIMIT).await;
    assert_eq!(
        notice.subject,
        "A change of your Roster address was asked for"
    );
    assert!(
        notice.text.contains("Ann.New@example.com"),
        "{}",
        notice.text
    );
    // Nothing changes before the link is followed.
    let again = app
        .gql_as(&ann.token, REQUEST, json!({ "e": "ann.other@example.com" }))
        .await;
    assert_eq!(again.code(), "RATE_LIMITED", "{}", again.body);
    assert!(
        app.login("ann@example.com", PASSWORD)
            .await
            .errors()
            .is_empty()
    );

    let confirmed = app.gql(CONFIRM, json!({ "t": token })).await;
    assert_eq!(
        confirmed.body,
        json!({ "data": { "confirmEmailChange": true } })
    );
    let reused = app.gql(CONFIRM, json!({ "t": token })).await;
    assert_eq!(reused.code(), "BAD_USER_INPUT", "{}", reused.body);

    // Seen at once: by Ann, in Bob's nested list on both replicas, and by login.
    let me = app
        .data_as(&ann.token, "{ me { email emailConfirmedAt } }", json!({}))
        .await;
    assert_eq!(me["me"]["email"], "Ann.New@example.com");
    assert!(me["me"]["emailConfirmedAt"].is_string(), "{me}");
    for server in [&replica, &app] {
        let emails = managers(server, &bob.token, &profile).await;
        assert!(
            emails.to_string().contains("Ann.New@example.com"),
            "{emails}"
        );
        assert!(
            !emails.to_string().contains("\"ann@example.com\""),
            "{emails}"
        );
    }
    let old = app.login("ann@example.com", PASSWORD).await;
    assert_eq!(old.code(), "UNAUTHENTICATED", "{}", old.body);
    let new = app.login("ann.new@EXAMPLE.com", PASSWORD).await;
    assert!(new.errors().is_empty(), "{}", new.body);
    replica.stop().await;
    app.stop().await;
}

async fn moving_to_a_taken_address_answers_the_same_and_tells_its_owner(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = with_mail(backend, &smtp, ConfirmEmail::Off).await;
    let ann = app.register("ann@example.com").await;
    let carl = app.register("carl@example.com").await;
    app.register("bob@example.com").await;

    let taken = app
        .gql_as(&ann.token, REQUEST, json!({ "e": "BOB@example.com" }))
        .await;
    let free = app
        .gql_as(&carl.token, REQUEST, json!({ "e": "carla@example.com" }))
        .await;
    assert_eq!(
        taken.body,
        json!({ "data": { "requestEmailChange": true } })
    );
    assert_eq!((taken.status, &taken.body), (free.status, &free.body));
    let told = smtp.wait_for("bob@example.com", 1, LIMIT).await;
    assert_eq!(
        told.subject,
        "Someone tried to move a Roster account to your address"
    );
    assert!(!told.text.contains("token="), "no link: {}", told.text);
    smtp.wait_for("ann@example.com", 1, LIMIT).await;

    // The same address, the address already held, and invalid ones.
    let own = app
        .gql_as(&carl.token, REQUEST, json!({ "e": "Carl@example.com" }))
        .await;
    assert_eq!(own.code(), "BAD_USER_INPUT", "{}", own.body);
    let invalid = app
        .gql_as(
            &carl.token,
            REQUEST,
            json!({ "e": "carl\u{202e}@example.com" }),
        )
        .await;
    assert_eq!(invalid.code(), "BAD_USER_INPUT", "{}", invalid.body);
    for token in ["", "nonsense", &"A".repeat(43)] {
        let refused = app.gql(CONFIRM, json!({ "t": token })).await;
        assert_eq!(refused.code(), "BAD_USER_INPUT", "{}", refused.body);
    }
    let me = app.data_as(&ann.token, "{ me { email } }", json!({})).await;
    assert_eq!(me["me"]["email"], "ann@example.com");
    app.stop().await;
}

async fn an_invitation_is_mailed_with_a_link_that_signs_up_confirmed(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = with_mail(backend, &smtp, ConfirmEmail::Required).await;
    app.register_only("ann@example.com").await;
    let confirm = smtp.wait_for("ann@example.com", 1, LIMIT).await;
    app.gql(
        "mutation($t: String!) { confirmEmail(token: $t) }",
        json!({ "t": confirm.token("confirm-email") }),
    )
    .await;
    let ann = signed_in(&app, "ann@example.com").await;
    let profile = app.create_profile(&ann, "Ann's").await;

    app.invite(&ann, &profile, "Dan@example.com", "MANAGER")
        .await;
    // Inviting again at once renews the invitation and mails nothing more.
    app.invite(&ann, &profile, "dan@example.com", "OWNER").await;
    let invited = smtp.wait_for("Dan@example.com", 1, LIMIT).await;
    assert_eq!(
        invited.subject,
        "ann@example.com invites you to manage a profile on Roster"
    );
    assert!(invited.text.contains("\"Ann's\""), "{}", invited.text);
    assert!(
        invited
            .text
            .contains("https://roster.example/invitation?token="),
        "{}",
        invited.text
    );
    let token = invited.token("invitation");

    // The token is the invitee's only: not for another address, and not a made-up one.
    let register = "mutation($e: String!, $t: String) {
        register(input: { email: $e, password: \"correct horse battery staple\", invitationToken: $t }) {
            email confirmationRequired
        }
    }";
    for (email, token) in [
        ("eve@example.com", token.as_str()),
        ("dan@example.com", "A".repeat(43).as_str()),
    ] {
        let refused = app.gql(register, json!({ "e": email, "t": token })).await;
        assert_eq!(refused.code(), "BAD_USER_INPUT", "{}", refused.body);
    }
    let registered = app
        .gql(register, json!({ "e": "dan@example.com", "t": token }))
        .await;
    assert_eq!(
        registered.body,
        json!({ "data": { "register": { "email": "dan@example.com", "confirmationRequired": false } } })
    );
    // Signed up confirmed: no confirmation message, and the invitation waits.
    let dan = signed_in(&app, "dan@example.com").await;
    let pending = app
        .data_as(
            &dan.token,
            "{ me { emailConfirmedAt invitations { nodes { role profileName inviterEmail } } } }",
            json!({}),
        )
        .await;
    assert!(pending["me"]["emailConfirmedAt"].is_string(), "{pending}");
    assert_eq!(
        pending["me"]["invitations"]["nodes"],
        json!([{ "role": "OWNER", "profileName": "Ann's", "inviterEmail": "ann@example.com" }])
    );
    // An address with an account is mailed too; its owner signs in to answer.
    app.register_only("fay@example.com").await;
    app.invite(&ann, &profile, "fay@example.com", "MANAGER")
        .await;
    let fay = smtp.wait_for("fay@example.com", 2, LIMIT).await;
    assert_eq!(
        fay.subject,
        "ann@example.com invites you to manage a profile on Roster"
    );
    // Dan got the one invitation, and no confirmation message.
    assert_eq!(smtp.delivered_to("Dan@example.com").len(), 1);
    assert_eq!(smtp.delivered_to("dan@example.com").len(), 0);
    app.stop().await;
}
