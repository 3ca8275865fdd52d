//! Password work and its throttling under attack: lockouts an attacker cannot turn against a
//! victim, attempts counted atomically, and floods of password hashing refused in time.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde_json::json;

use crate::{
    db_tests,
    helpers::{Backend, Gql, PASSWORD, TestApp},
};

db_tests!(
    an_attacker_locks_an_account_only_for_their_own_address[own_server],
    guessing_from_many_addresses_locks_out_new_addresses_only[own_server],
    an_address_over_its_limit_still_serves_accounts_known_there[own_server],
    unknown_and_existing_emails_are_throttled_alike[own_server],
    concurrent_attempts_are_counted_at_once[own_server],
    excess_password_work_is_refused_at_once[own_server],
    one_address_can_make_only_so_much_mail_be_sent[own_server],
);

const LOGIN: &str =
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";

/// Logs in from `ip` (the server trusts `X-Forwarded-For` in these tests).
async fn login_from(app: &TestApp, ip: &str, email: &str, password: &str) -> Gql {
    let response = app
        .client()
        .post(format!("{}/graphql", app.url))
        .header("x-forwarded-for", ip)
        .json(&json!({ "query": LOGIN, "variables": { "e": email, "p": password } }))
        .send()
        .await
        .expect("the server answers");
    Gql::read(response).await
}

/// `OK`, or the code of the first error.
fn outcome(response: &Gql) -> String {
    if response.errors().is_empty() {
        "OK".into()
    } else {
        response.code().into()
    }
}

async fn an_attacker_locks_an_account_only_for_their_own_address(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.trust_forwarded_for = true;
        c.lockout_max_failures = 3;
    })
    .await;
    app.register("ann@example.com").await;
    for _ in 0..3 {
        let guess = login_from(&app, "203.0.113.66", "ann@example.com", "a wrong guess").await;
        assert_eq!(outcome(&guess), "UNAUTHENTICATED");
    }
    let right = login_from(&app, "203.0.113.66", "ann@example.com", PASSWORD).await;
    assert_eq!(outcome(&right), "LOCKED", "{}", right.body);
    // Ann, from any other address, logs in: whether she has logged in from it or not.
    for ip in ["198.51.100.1", "198.51.100.2"] {
        let ann = login_from(&app, ip, "ann@example.com", PASSWORD).await;
        assert_eq!(outcome(&ann), "OK", "{}", ann.body);
    }
    // Guesses made while locked out do not count, nor extend the lock.
    let still = login_from(&app, "203.0.113.66", "ann@example.com", "a wrong guess").await;
    assert_eq!(outcome(&still), "LOCKED");
    app.stop().await;
}

async fn guessing_from_many_addresses_locks_out_new_addresses_only(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.trust_forwarded_for = true;
        c.lockout_account_max_failures = 4;
    })
    .await;
    app.register("ann@example.com").await;
    let home = login_from(&app, "198.51.100.1", "ann@example.com", PASSWORD).await;
    assert_eq!(outcome(&home), "OK");
    for n in 0..4 {
        let ip = format!("203.0.113.{n}");
        let guess = login_from(&app, &ip, "ann@example.com", "a wrong guess").await;
        assert_eq!(outcome(&guess), "UNAUTHENTICATED");
    }
    let elsewhere = login_from(&app, "192.0.2.7", "ann@example.com", PASSWORD).await;
    assert_eq!(outcome(&elsewhere), "LOCKED");
    let home = login_from(&app, "198.51.100.1", "ann@example.com", PASSWORD).await;
    assert_eq!(outcome(&home), "OK", "{}", home.body);
    app.stop().await;
}

async fn an_address_over_its_limit_still_serves_accounts_known_there(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.trust_forwarded_for = true;
        c.login_ip_max_failures = 4;
    })
    .await;
    app.register("ann@example.com").await;
    app.register("bob@example.com").await;
    let office = "198.51.100.9";
    assert_eq!(
        outcome(&login_from(&app, office, "ann@example.com", PASSWORD).await),
        "OK"
    );
    for n in 0..4 {
        let email = format!("guess{n}@example.com");
        let guess = login_from(&app, office, &email, "a wrong guess").await;
        assert_eq!(outcome(&guess), "UNAUTHENTICATED");
    }
    let bob = login_from(&app, office, "bob@example.com", PASSWORD).await;
    assert_eq!(outcome(&bob), "RATE_LIMITED", "{}", bob.body);
    let window = app.state.config.lockout_window.as_secs();
    assert_eq!(bob.retry_after, Some(window), "Retry-After over HTTP");
    assert_eq!(bob.body["errors"][0]["extensions"]["retryAfter"], window);
    let ann = login_from(&app, office, "ann@example.com", PASSWORD).await;
    assert_eq!(outcome(&ann), "OK", "{}", ann.body);
    app.stop().await;
}

async fn unknown_and_existing_emails_are_throttled_alike(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.trust_forwarded_for = true;
        c.lockout_max_failures = 2;
    })
    .await;
    app.register("ann@example.com").await;
    let mut answers = BTreeMap::new();
    for email in ["ann@example.com", "nobody@example.com"] {
        let mut seen = Vec::new();
        for _ in 0..4 {
            let guess = login_from(&app, "203.0.113.5", email, "a wrong guess").await;
            seen.push((guess.status, guess.body.clone()));
        }
        answers.insert(email, seen);
    }
    assert_eq!(
        answers["ann@example.com"], answers["nobody@example.com"],
        "the same answers whether or not the email has an account"
    );
    assert_eq!(
        answers["nobody@example.com"][3].1["errors"][0]["extensions"]["code"],
        "LOCKED"
    );
    app.stop().await;
}

/// A burst of concurrent guesses: no more are checked than the limits allow.
async fn concurrent_attempts_are_counted_at_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.trust_forwarded_for = true;
        c.lockout_max_failures = 3;
        c.login_ip_max_failures = 6;
    })
    .await;
    app.register("ann@example.com").await;
    // Attempts in flight count before they are checked: a burst may even be refused whole
    // (each attempt recorded before any is counted), but never checked beyond the limit.
    let checked = |answers: &[Gql]| {
        for answer in answers {
            let refused = ["UNAUTHENTICATED", "LOCKED", "RATE_LIMITED"];
            assert!(
                refused.contains(&outcome(answer).as_str()),
                "{}",
                answer.body
            );
        }
        answers
            .iter()
            .filter(|answer| outcome(answer) == "UNAUTHENTICATED")
            .count()
    };
    let on_ann = join_all(
        (0..24).map(|_| login_from(&app, "203.0.113.1", "ann@example.com", "a wrong guess")),
    )
    .await;
    let on_ann_checked = checked(&on_ann);
    assert!(
        on_ann_checked <= 3,
        "{on_ann_checked} guesses on one account checked, over the limit of 3"
    );
    let on = &app;
    let spread = join_all((0..24).map(|n| {
        let email = format!("guess{n}@example.com");
        async move { login_from(on, "203.0.113.2", &email, "a wrong guess").await }
    }))
    .await;
    let spread_checked = checked(&spread);
    assert!(
        spread_checked <= 6,
        "{spread_checked} guesses from one address checked, over the limit of 6"
    );
    app.stop().await;
}

/// More password work than the server does at once is refused at once, with `Retry-After`.
async fn excess_password_work_is_refused_at_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.trust_forwarded_for = true;
        c.login_ip_max_failures = 1_000;
    })
    .await;
    let on = &app;
    let answers = join_all((0..40).map(|n| {
        let ip = format!("203.0.113.{n}");
        async move { login_from(on, &ip, "nobody@example.com", "a wrong guess").await }
    }))
    .await;
    let mut outcomes = BTreeMap::<String, usize>::new();
    for answer in &answers {
        *outcomes.entry(outcome(answer)).or_default() += 1;
        if outcome(answer) == "RATE_LIMITED" {
            assert_eq!(answer.retry_after, Some(1), "{}", answer.body);
            assert_eq!(answer.body["errors"][0]["extensions"]["retryAfter"], 1);
        }
    }
    let refused = outcomes.get("RATE_LIMITED").copied().unwrap_or(0);
    let checked = outcomes.get("UNAUTHENTICATED").copied().unwrap_or(0);
    assert!(
        refused > 0 && refused + checked == 40,
        "excess logins refused, the others checked: {outcomes:?}"
    );
    app.stop().await;
}

/// Sends `query` from `ip`.
async fn from(app: &TestApp, ip: &str, query: &str, variables: serde_json::Value) -> Gql {
    let response = app
        .client()
        .post(format!("{}/graphql", app.url))
        .header("x-forwarded-for", ip)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("the server answers");
    Gql::read(response).await
}

async fn one_address_can_make_only_so_much_mail_be_sent(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.trust_forwarded_for = true;
        c.mail_ip_max_per_hour = 3;
    })
    .await;
    app.register_only("ann@example.com").await;
    let reset = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    let resend = "mutation($e: String!) { resendConfirmation(email: $e) }";
    let register = "mutation($e: String!) {
        register(input: { email: $e, password: \"correct horse battery staple\" }) { email }
    }";
    // Three requests that may mail someone, to known and unknown addresses alike…
    for (query, email) in [
        (reset, "ann@example.com"),
        (resend, "nobody@example.com"),
        (register, "bob@example.com"),
    ] {
        let answer = from(&app, "203.0.113.9", query, json!({ "e": email })).await;
        assert_eq!(outcome(&answer), "OK", "{}", answer.body);
    }
    // …and the address is done for the hour, whatever it asks, while others are not.
    for (query, email) in [
        (reset, "ann@example.com"),
        (resend, "nobody@example.com"),
        (register, "carl@example.com"),
    ] {
        let refused = from(&app, "203.0.113.9", query, json!({ "e": email })).await;
        assert_eq!(refused.code(), "RATE_LIMITED", "{}", refused.body);
        assert!(
            refused.body["errors"][0]["extensions"]["retryAfter"].is_u64(),
            "{}",
            refused.body
        );
    }
    // The refused registration made no account.
    let login = app.login("carl@example.com", PASSWORD).await;
    assert_eq!(login.code(), "UNAUTHENTICATED", "{}", login.body);
    let other = from(
        &app,
        "198.51.100.7",
        register,
        json!({ "e": "carl@example.com" }),
    )
    .await;
    assert_eq!(outcome(&other), "OK", "{}", other.body);
    let login = app.login("carl@example.com", PASSWORD).await;
    assert!(login.errors().is_empty(), "{}", login.body);
    app.stop().await;
}
