//! Query operations served by a real PostgreSQL hot standby (`DATABASE_READ_URL`): queries read
//! the standby, mutations the primary; a consistency token reads one's writes even while the
//! standby's replay is paused; a standby too far behind is skipped, and a stopped one causes no
//! error. PostgreSQL only.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    helpers::{Account, Backend, TestApp},
    standby::Standby,
};

const NAME: &str = "mutation($n: String) { setDisplayName(displayName: $n) { displayName } }";
const READ: &str = "query($id: ID!) { user(id: $id) { displayName } }";

/// The database name of a PostgreSQL URL.
pub fn database_of(url: &str) -> String {
    url.rsplit('/').next().expect("a database").to_owned()
}

/// A server reading from `standby`, with a read-after-write window of `window`.
async fn reading_from(standby: &Standby, url: Option<&str>, window: Duration) -> TestApp {
    let configure = |config: &mut api::config::Config| {
        config.database_read_url = vec![standby.url(&database_of(&config.database_url))];
        config.read_after_write_window = window;
        config.read_replica_max_lag = Duration::from_secs(1);
        config.read_consistency_wait = Duration::from_millis(100);
    };
    match url {
        Some(url) => TestApp::spawn_at(Backend::Postgres, url, configure).await,
        None => TestApp::spawn_with(Backend::Postgres, configure).await,
    }
}

/// `/health`, once `in_use` is what its standby says, within 10 s.
pub async fn health_when(app: &TestApp, in_use: bool) -> Value {
    for _ in 0..200 {
        let health: Value = app
            .client()
            .get(format!("{}/health", app.url))
            .send()
            .await
            .expect("answers")
            .json()
            .await
            .expect("JSON");
        if health["standbys"][0]["inUse"] == in_use {
            return health;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the standby's use never became {in_use}");
}

/// Sends `query` as `user`, with `token` as `Consistency-Token`: the body, and the token
/// answered.
async fn send(
    app: &TestApp,
    user: &Account,
    query: &str,
    variables: Value,
    token: Option<&str>,
) -> (Value, Option<String>) {
    let mut request = app
        .client()
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&user.token)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.header("consistency-token", token);
    }
    let response = request.send().await.expect("answers");
    let token = response
        .headers()
        .get("consistency-token")
        .map(|value| value.to_str().expect("ASCII").to_owned());
    (response.json().await.expect("JSON"), token)
}

/// What `user` reads of their display name through `app`, sending `token`.
async fn name_read(app: &TestApp, user: &Account, token: Option<&str>) -> Value {
    let (body, _) = send(app, user, READ, json!({ "id": user.id }), token).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["user"]["displayName"].clone()
}

/// How many query operations `app` sent to each target, and fell back for each reason.
async fn reads(app: &TestApp) -> String {
    let metrics = app
        .client()
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("text");
    metrics
        .lines()
        .filter(|line| line.starts_with("roster_read_"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_read_the_standby_and_tokens_read_the_writes_they_follow() {
    let standby = Standby::start().await;
    let app = reading_from(&standby, None, Duration::ZERO).await;
    let database = database_of(app.database_url());
    // A second replica of Roster on the same databases, which keeps its writers on the primary.
    let keeper = reading_from(&standby, Some(app.database_url()), Duration::from_secs(60)).await;
    health_when(&app, true).await;
    let ann = app.register("ann@example.com").await;

    // A mutation answers its commit's token, in the header and in `extensions`.
    let (named, token) = send(&app, &ann, NAME, json!({ "n": "Ann" }), None).await;
    let token = token.expect("a Consistency-Token header");
    assert_eq!(
        named["extensions"]["consistencyToken"],
        token.as_str(),
        "{named}"
    );
    assert!(token.contains('/'), "a WAL position: {token}");
    assert_eq!(name_read(&app, &ann, Some(&token)).await, "Ann");

    // Replay paused: the standby still serves reads (it is not behind yet), with what it had.
    standby.pause(&database).await;
    let (_, token) = send(&app, &ann, NAME, json!({ "n": "Ann B" }), None).await;
    let token = token.expect("a token");
    assert_eq!(
        name_read(&app, &ann, None).await,
        "Ann",
        "the standby served it"
    );
    // With the token, the primary serves once the standby does not replay it in time.
    assert_eq!(name_read(&app, &ann, Some(&token)).await, "Ann B");
    // A replica that saw the writer write sends them to the primary, token or not.
    let (_, _) = send(&keeper, &ann, NAME, json!({ "n": "Ann C" }), None).await;
    assert_eq!(name_read(&keeper, &ann, None).await, "Ann C");
    // Past READ_REPLICA_MAX_LAG behind, the standby serves nothing.
    let health = health_when(&app, false).await;
    assert!(
        health["standbys"][0]["lagSeconds"].as_f64().expect("a lag") > 1.0,
        "{health}"
    );
    assert_eq!(name_read(&app, &ann, None).await, "Ann C");
    let counted = reads(&app).await;
    assert!(counted.contains("reason=\"not_replayed\""), "{counted}");
    assert!(counted.contains("reason=\"none_usable\""), "{counted}");
    assert!(
        reads(&keeper).await.contains("reason=\"recent_writer\""),
        "{}",
        reads(&keeper).await
    );

    // Caught up, it serves again, now with every write.
    standby.resume(&database).await;
    health_when(&app, true).await;
    assert_eq!(name_read(&app, &ann, None).await, "Ann C");
    let standby_reads = format!(
        "target=\"postgres://127.0.0.1:{}/{database}\"",
        standby.port
    );
    assert!(
        reads(&app).await.contains(&standby_reads),
        "{}",
        reads(&app).await
    );

    // Stopped, it fails the reads sent to it before its watcher notices, which the primary
    // then serves: nobody sees an error. Then it is left out.
    standby.stop();
    for _ in 0..5 {
        assert_eq!(name_read(&app, &ann, None).await, "Ann C");
    }
    assert!(
        reads(&app).await.contains("reason=\"standby_failed\""),
        "{}",
        reads(&app).await
    );
    health_when(&app, false).await;
    assert_eq!(name_read(&app, &ann, None).await, "Ann C");
    keeper.stop().await;
    app.stop().await;
}

/// The primary's address moves to a promoted standby (through a proxy, as with Patroni or
/// pg_auto_failover): writes resume without restarting Roster, and a request the switch cuts
/// answers `SERVICE_UNAVAILABLE` and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_resume_on_a_promoted_standby() {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let standby = Standby::start().await;
    let proxy = crate::standby::Proxy::start(5432).await;
    let app = TestApp::spawn_with(Backend::Postgres, |config| {
        config.database_url = config
            .database_url
            .replace("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port));
    })
    .await;
    let database = database_of(app.database_url());
    let ann = app.register("ann@example.com").await;
    let (_, _) = send(&app, &ann, NAME, json!({ "n": "Before" }), None).await;
    // The standby has every write so far (it replays them in a moment), and takes over.
    let promoted = Database::connect(standby.url(&database))
        .await
        .expect("the standby answers");
    let name = "SELECT display_name FROM \"user\" WHERE email = 'ann@example.com'";
    let name_on = |conn: &sea_orm::DatabaseConnection| {
        let conn = conn.clone();
        async move {
            let row = conn
                .query_one_raw(Statement::from_string(
                    sea_orm::DatabaseBackend::Postgres,
                    name,
                ))
                .await
                .expect("reads")
                .expect("a row");
            row.try_get_by_index::<Option<String>>(0).expect("a name")
        }
    };
    for _ in 0..200 {
        if name_on(&promoted).await.as_deref() == Some("Before") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    standby.promote();
    proxy.switch_to(standby.port);

    // Writes resume; the requests the switch cut said so, and wrote nothing.
    let mut cut = Vec::new();
    let mut written = false;
    for attempt in 0..100 {
        let name = format!("After {attempt}");
        let (body, _) = send(&app, &ann, NAME, json!({ "n": name }), None).await;
        if body["errors"].is_null() {
            assert_eq!(body["data"]["setDisplayName"]["displayName"], name.as_str());
            assert_eq!(name_on(&promoted).await.as_deref(), Some(name.as_str()));
            written = true;
            break;
        }
        cut.push(body["errors"][0]["extensions"]["code"].clone());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(written, "writes never resumed: {cut:?}");
    assert!(
        cut.iter().all(|code| code == "SERVICE_UNAVAILABLE"),
        "{cut:?}"
    );
    // Reads follow.
    assert!(
        name_read(&app, &ann, None)
            .await
            .as_str()
            .is_some_and(|name| name.starts_with("After")),
    );
    promoted.close().await.expect("closes");
    app.stop().await;
}

/// Apollo Client and urql, with the link and the exchange of `docs/DEPLOYMENT.md`, read what
/// they wrote while the standby's replay is paused; without them, they read the standby's
/// older answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_carry_the_token_and_read_their_writes() {
    let standby = Standby::start().await;
    let app = TestApp::spawn_with(Backend::Postgres, |config| {
        config.database_read_url = vec![standby.url(&database_of(&config.database_url))];
        config.read_after_write_window = Duration::ZERO;
        // Paused, the standby stays in use for the whole run.
        config.read_replica_max_lag = Duration::from_secs(60);
        config.read_consistency_wait = Duration::from_millis(100);
    })
    .await;
    health_when(&app, true).await;
    let ann = app.register("ann@example.com").await;
    let (_, token) = send(&app, &ann, NAME, json!({ "n": "Before" }), None).await;
    // The standby has "Before", then stops replaying.
    assert_eq!(name_read(&app, &ann, token.as_deref()).await, "Before");
    standby.pause(&database_of(app.database_url())).await;
    let config = json!({ "url": app.url, "token": ann.token, "userId": ann.id });
    let report = crate::clients::run_script("consistency.mjs", &[&config.to_string()]).await;
    assert_eq!(report["failure"], Value::Null, "{report}");
    for (client, way, read) in [
        ("apollo", "Without", "Before"),
        ("apollo", "With", "Apollo with"),
        ("urql", "Without", "Before"),
        ("urql", "With", "urql with"),
    ] {
        assert_eq!(report[format!("{client}{way}")]["read"], read, "{report}");
    }
    app.stop().await;
}
