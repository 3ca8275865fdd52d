//! Roster through the clients people use, run with Node.js from `tests-js/` (set up with
//! `npm ci` there): graphql-ws, the reference client of graphql-transport-ws; GraphiQL as
//! served by Roster, in Debian's headless Chromium driven by Playwright; Apollo Client's and
//! urql's automatic persisted queries; Relay's compiler and runtime, and GraphQL Code
//! Generator's client preset, with persisted documents;
//! graphql-js reading the served schema.

use std::{path::PathBuf, process::Stdio, time::Duration};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader, Lines},
    process::{ChildStdout, Command},
};

use crate::{db_tests, helpers::TestApp};

db_tests!(
    graphql_ws_client_receives_an_event,
    graphiql_runs_a_query_and_a_subscription_in_chromium,
    apollo_and_urql_persisted_queries_register_once_for_every_replica,
    relay_runs_only_its_compiled_persisted_queries,
    graphql_codegen_persisted_documents_run_by_their_ids,
    the_served_schema_is_schema_graphql,
    graphiql_signs_in_renews_and_signs_out_in_chromium,
    pages_of_allowed_origins_call_the_api_from_chromium,
);

const MY_PROFILES: &str =
    "subscription { myProfilesChanged { kind role user { email } profile { name } } }";
const ADD: &str = "mutation($p: ID!, $u: ID!) { addProfileManager(profileId: $p, userId: $u, role: MANAGER) { changed } }";

/// `node <script> <args>` in `tests-js/`, or a panic that says how to set it up.
fn node(script: &str, args: &[&str]) -> Command {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests-js");
    assert!(
        folder.join("node_modules").is_dir(),
        "the JavaScript clients are not installed: run `(cd tests-js && npm ci)`"
    );
    let mut command = Command::new("node");
    command
        .current_dir(&folder)
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// The next JSON line the script prints, within 20 s.
async fn line(lines: &mut Lines<BufReader<ChildStdout>>) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the client answers within 20 s")
        .expect("its output reads")
        .expect("a line");
    serde_json::from_str(&line).expect("a JSON line")
}

async fn graphql_ws_client_receives_an_event(app: &TestApp) {
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let team = app.create_profile(&ann, "Team").await;

    let mut client = node("subscribe.mjs", &[&app.url, &ann.token, MY_PROFILES])
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(client.stdout.take().expect("stdout")).lines();
    assert_eq!(line(&mut lines).await, json!({ "connected": true }));
    // The subscription starts right after the acknowledgement.
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.add_manager(&ann, &team, &bob, "MANAGER").await;
    let event = line(&mut lines).await;
    assert_eq!(
        event["next"]["data"]["myProfilesChanged"],
        json!({ "kind": "ADDED", "role": "MANAGER", "user": { "email": "bob@example.com" }, "profile": { "name": "Team" } }),
        "{event}"
    );
    assert_eq!(line(&mut lines).await, json!({ "complete": true }));
    assert!(client.wait().await.expect("node exits").success());

    // A token that is not one: the client sees the protocol's Forbidden close.
    let mut refused = node("subscribe.mjs", &[&app.url, "not-a-token", MY_PROFILES])
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(refused.stdout.take().expect("stdout")).lines();
    let error = line(&mut lines).await;
    assert_eq!(error["error"]["code"], 4403, "{error}");
    assert!(!refused.wait().await.expect("node exits").success());
}

/// Checks that Chromium is there for the browser tests.
fn chromium() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "no Chromium at {chromium}: install Debian's `chromium` package, or set CHROMIUM"
    );
}

/// Where a browser test saves its screenshot `name`, for this test's database.
fn screenshot(app: &TestApp, name: &str) -> PathBuf {
    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/artifacts");
    std::fs::create_dir_all(&artifacts).expect("the artifacts folder");
    let backend = format!("{:?}", app.backend).to_lowercase();
    let screenshot = artifacts.join(format!("{name}-{backend}.png"));
    let _ = std::fs::remove_file(&screenshot);
    screenshot
}

async fn graphiql_runs_a_query_and_a_subscription_in_chromium(app: &TestApp) {
    chromium();
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let team = app.create_profile(&ann, "Team").await;
    // Bob shares another profile with Ann, so she may add him to Team directly.
    let club = app.create_profile(&ann, "Club").await;
    app.add_manager(&ann, &club, &bob, "MANAGER").await;
    let screenshot = screenshot(app, "graphiql");

    let config = json!({
        "url": app.url,
        "token": ann.token,
        "query": "{ me { email } }",
        "subscription": MY_PROFILES,
        "trigger": { "token": ann.token, "query": ADD, "variables": { "p": team, "u": bob.id } },
        "screenshot": screenshot,
    });
    let run = node("graphiql.mjs", &[&config.to_string()]).output();
    let output = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("the browser run ends within 90 s")
        .expect("node runs");
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    assert!(output.status.success(), "{report}");

    assert_eq!(report["pageErrors"], json!([]), "the page logs no errors");
    assert_eq!(
        report["query"],
        json!({ "data": { "me": { "email": "ann@example.com" } } })
    );
    assert_eq!(
        report["socketUrl"],
        format!("{}/graphql", app.url.replace("http://", "ws://"))
    );
    assert_eq!(
        report["trigger"],
        json!({ "data": { "addProfileManager": { "changed": true } } })
    );
    assert_eq!(
        report["event"]["data"]["myProfilesChanged"],
        json!({ "kind": "ADDED", "role": "MANAGER", "user": { "email": "bob@example.com" }, "profile": { "name": "Team" } })
    );
    assert!(
        screenshot.is_file(),
        "a screenshot at {}",
        screenshot.display()
    );
}

/// The JSON report a script prints when it has run, within 60 s.
/// Runs `script` of `tests-js` with `args`: the JSON report it prints.
pub async fn run_script(script: &str, args: &[&str]) -> Value {
    report(node(script, args)).await
}

async fn report(mut command: Command) -> Value {
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the script ends within 60 s")
        .expect("node runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    serde_json::from_slice(&output.stdout).expect("a JSON report")
}

/// Apollo Client's `PersistedQueryLink` (by POST, and by GET for hashed queries) and urql's
/// `persistedExchange`, each sending its requests to two replicas in turn: the first request
/// of a document finds it unknown, the client sends its text once (to the other replica), and
/// from then on every replica runs it by its hash.
async fn apollo_and_urql_persisted_queries_register_once_for_every_replica(app: &TestApp) {
    let ann = app.register("ann@example.com").await;
    let replica = TestApp::spawn_at(app.backend, app.database_url(), |_| {}).await;
    let report = report(node("persisted.mjs", &[&ann.token, &app.url, &replica.url])).await;
    let request = |server: u8, method: &str, text: bool, status: u16| json!({ "server": server, "method": method, "text": text, "status": status });
    let apollo_me =
        json!({ "data": { "me": { "__typename": "User", "email": "ann@example.com" } } });
    assert_eq!(
        report["apolloPost"]["results"],
        json!([apollo_me, apollo_me, apollo_me])
    );
    assert_eq!(
        report["apolloPost"]["requests"],
        json!([
            request(0, "POST", false, 404),
            request(1, "POST", true, 200),
            request(0, "POST", false, 200),
            request(1, "POST", false, 200),
        ])
    );
    // The same document by GET: known to both replicas already, and a CDN's key.
    assert_eq!(
        report["apolloGet"]["results"],
        json!([apollo_me, apollo_me, apollo_me])
    );
    assert_eq!(
        report["apolloGet"]["requests"],
        json!([
            request(0, "GET", false, 200),
            request(1, "GET", false, 200),
            request(0, "GET", false, 200),
        ])
    );
    let urql_me = json!({ "data": { "me": { "email": "ann@example.com" } } });
    assert_eq!(
        report["urql"]["results"],
        json!([urql_me, urql_me, urql_me])
    );
    assert_eq!(
        report["urql"]["requests"],
        json!([
            request(0, "GET", false, 404),
            request(1, "GET", true, 200),
            request(0, "GET", false, 200),
            request(1, "GET", false, 200),
        ])
    );
    replica.stop().await;
}

/// The Relay compiler writes the manifest of the operations it compiles; a server that runs
/// only those serves a Relay app whole (registration included), each operation sent by its
/// id alone, and refuses any other document.
async fn relay_runs_only_its_compiled_persisted_queries(app: &TestApp) {
    let folder = tempfile::tempdir().expect("a folder");
    let path = folder.path().to_str().expect("a UTF-8 path");
    let compiled = node("relay.mjs", &["compile", path]).status().await;
    assert!(
        compiled.expect("node runs").success(),
        "the Relay compiler failed"
    );
    let manifest = folder.path().join("persisted_queries.json");
    let relay = TestApp::spawn_at(app.backend, app.database_url(), |config| {
        config.persisted_documents = Some(manifest);
        config.persisted_documents_only = true;
    })
    .await;
    let report = report(node("relay.mjs", &["run", path, &relay.url])).await;
    assert_eq!(report["registered"], "relay@example.com");
    assert_eq!(report["created"], "Relay Team");
    assert_eq!(
        report["me"]["me"]["profiles"]["edges"][0]["node"]["users"]["edges"],
        json!([{ "role": "OWNER", "node": { "email": "relay@example.com" } }])
    );
    let sent = report["sent"].as_array().expect("the bodies sent");
    assert_eq!(sent.len(), 4);
    for body in sent {
        assert!(
            body["doc_id"].is_string() && body.get("query").is_none(),
            "{body}"
        );
    }
    let other = relay.gql("{ me { email } }", json!({})).await;
    assert_eq!(other.code(), "PERSISTED_DOCUMENTS_ONLY", "{}", other.body);
    relay.stop().await;
}

/// What introspection serves is `schema.graphql`, as graphql-js reads both: descriptions (the
/// schema's own, `DateTime`'s), `@specifiedBy`, deprecations and defaults included.
async fn the_served_schema_is_schema_graphql(app: &TestApp) {
    let report = report(node("sdl.mjs", &[&app.url])).await;
    assert_eq!(
        report,
        json!({ "same": true }),
        "run `cargo run -p api -- print-schema > schema.graphql`"
    );
}

/// The sign-in bar of Roster's GraphiQL: a wrong password is told, registering signs in and
/// every query carries the token without the Headers pane, the token is renewed before it
/// expires (a 3 s lifetime here), and signing out ends the session on the server; an account
/// with two-factor sign-in is asked for its code.
async fn graphiql_signs_in_renews_and_signs_out_in_chromium(app: &TestApp) {
    chromium();
    let short = TestApp::spawn_at(app.backend, app.database_url(), |config| {
        config.access_token_ttl = Duration::from_secs(3);
    })
    .await;
    let guarded = app.register("guarded@example.com").await;
    let (phone, _) = crate::two_factor::enable(app, &guarded).await;
    let screenshot = screenshot(app, "graphiql-sign-in");
    let config = json!({
        "url": short.url,
        "email": "ann@example.com",
        "password": "correct horse battery",
        "waitForRenewalMs": 4_500,
        "screenshot": screenshot,
        "twoFactor": {
            "email": "guarded@example.com",
            "password": crate::helpers::PASSWORD,
            "code": crate::two_factor::code_at(&phone, 1),
        },
    });
    let report = report(node("signin.mjs", &[&config.to_string()])).await;
    assert_eq!(report["pageErrors"], json!([]), "{report}");
    assert_eq!(report["wrongPassword"], "wrong email or password");
    assert_eq!(report["signedInAs"], "ann@example.com");
    assert_eq!(
        report["passwordLeftInForm"], "",
        "the password is not kept in the form"
    );
    let me = json!({ "email": "ann@example.com" });
    assert_eq!(report["first"], json!({ "data": { "me": me } }));
    assert_eq!(
        report["afterRenewal"]["data"]["me"]["email"], "ann@example.com",
        "{report}"
    );
    assert_eq!(
        report["afterSignOut"]["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    let sent: Vec<&str> = report["sent"]
        .as_array()
        .expect("the mutations sent")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(sent.first(), Some(&"SignIn"));
    assert_eq!(sent.get(1), Some(&"Register"));
    assert!(sent.contains(&"Renew"), "{sent:?}");
    assert_eq!(
        report["codePrompt"],
        "Code of your authenticator app, or a recovery code:"
    );
    assert_eq!(report["twoFactorSignedInAs"], "guarded@example.com");
    assert_eq!(sent.last(), Some(&"CompleteSignIn"));
    assert!(sent.contains(&"SignOut"), "{sent:?}");
    assert!(
        screenshot.is_file(),
        "a screenshot at {}",
        screenshot.display()
    );
    short.stop().await;
}

/// A web page of an allowed origin calls the API with the headers web apps send (the request
/// ID the README invites, Apollo Client's) and reads the request ID back; a page of another
/// origin is refused by the browser.
async fn pages_of_allowed_origins_call_the_api_from_chromium(app: &TestApp) {
    chromium();
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port()
    };
    let (allowed, other) = (free_port(), free_port());
    let cors = TestApp::spawn_at(app.backend, app.database_url(), |config| {
        config.cors_allowed_origins = vec![format!("http://127.0.0.1:{allowed}")];
    })
    .await;
    let ann = cors.register("ann@example.com").await;
    let config =
        json!({ "url": cors.url, "token": ann.token, "allowedPort": allowed, "otherPort": other });
    let report = report(node("cors.mjs", &[&config.to_string()])).await;
    assert_eq!(
        report["allowed"],
        json!({
            "status": 200,
            "body": { "data": { "me": { "email": "ann@example.com" } } },
            "requestId": "from-the-browser-1",
        }),
        "{report}"
    );
    assert_eq!(
        report["other"],
        json!({ "refused": "TypeError: Failed to fetch" })
    );
    cors.stop().await;
}

/// GraphQL Code Generator's client preset writes `persisted-documents.json` with ids
/// `sha256:<hash>`; a server that runs only those answers them by that id, by the hash alone,
/// and by Apollo's `persistedQuery` extension.
async fn graphql_codegen_persisted_documents_run_by_their_ids(app: &TestApp) {
    let folder = tempfile::tempdir().expect("a folder");
    let path = folder.path().to_str().expect("a UTF-8 path");
    let generated = report(node("codegen.mjs", &[path])).await;
    let manifest = PathBuf::from(generated["manifest"].as_str().expect("the manifest's path"));
    let documents: Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).expect("written")).expect("JSON");
    let id = documents
        .as_object()
        .and_then(|documents| documents.keys().next().cloned())
        .expect("one document");
    let ann = app.register("ann@example.com").await;
    let trusted = TestApp::spawn_at(app.backend, app.database_url(), |config| {
        config.persisted_documents = Some(manifest);
        config.persisted_documents_only = true;
    })
    .await;
    let hash = id.strip_prefix("sha256:").expect("a sha256: id").to_owned();
    let expected = json!({ "data": { "me": { "email": "ann@example.com", "profiles": { "totalCount": 0 } } } });
    for body in [
        json!({ "documentId": id }),
        json!({ "documentId": hash }),
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } }),
    ] {
        let answer = trusted
            .client()
            .post(format!("{}/graphql", trusted.url))
            .bearer_auth(&ann.token)
            .json(&body)
            .send()
            .await
            .expect("answers");
        let answer: Value = answer.json().await.expect("JSON");
        assert_eq!(answer, expected, "{body}");
    }
    trusted.stop().await;
}
