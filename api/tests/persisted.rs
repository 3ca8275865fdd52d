//! Persisted documents over raw HTTP: automatic persisted queries (Apollo's protocol) and
//! trusted documents (`PERSISTED_DOCUMENTS`, `PERSISTED_DOCUMENTS_ONLY`). The clients that
//! speak them (Apollo Client, urql, Relay) are driven in `clients.rs`.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    db_tests,
    helpers::{Gql, TestApp},
};

db_tests!(
    automatic_persisted_queries_register_by_hash_and_answer_get,
    trusted_documents_only_run_what_the_manifest_holds,
    a_manifest_the_schema_does_not_run_stops_the_start,
    the_database_keeps_the_newest_registrations_within_the_bound,
);

const ME: &str = "query Me { me { email } }";
const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

fn sha256(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

fn persisted_query(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

/// Posts `body` as `token`, asking for `application/graphql-response+json`; the answer and its
/// `Cache-Control`.
async fn post(app: &TestApp, token: &str, body: Value) -> (Gql, Option<String>) {
    let response = app
        .client()
        .post(format!("{}/graphql", app.url))
        .bearer_auth(token)
        .header("accept", GRAPHQL_RESPONSE)
        .json(&body)
        .send()
        .await
        .expect("the server answers");
    let cache = response
        .headers()
        .get("cache-control")
        .map(|value| value.to_str().expect("text").to_owned());
    (Gql::read(response).await, cache)
}

async fn get(app: &TestApp, token: &str, parameters: &[(&str, String)]) -> Gql {
    let response = app
        .client()
        .get(format!("{}/graphql", app.url))
        .query(parameters)
        .bearer_auth(token)
        .header("accept", GRAPHQL_RESPONSE)
        .send()
        .await
        .expect("the server answers");
    Gql::read(response).await
}

async fn automatic_persisted_queries_register_by_hash_and_answer_get(app: &TestApp) {
    let ann = app.register("ann@example.com").await;
    let hash = sha256(ME);
    let me = json!({ "me": { "email": "ann@example.com" } });
    // Members a client leaves null are absent, as GraphQL over HTTP reads them.
    let nulls = json!({ "query": ME, "operationName": null, "variables": null, "extensions": null, "documentId": null });
    let (plain, _) = post(app, &ann.token, nulls).await;
    assert_eq!(plain.body, json!({ "data": me }));

    // Unknown: 404 with the code and message Apollo's and urql's links retry on, kept by no
    // cache.
    let (missing, cache) = post(
        app,
        &ann.token,
        json!({ "extensions": persisted_query(&hash) }),
    )
    .await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert_eq!(missing.code(), "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(
        missing.body["errors"][0]["message"],
        "PersistedQueryNotFound"
    );
    assert_eq!(cache.as_deref(), Some("private, no-store"));
    // With `application/json`, a legacy client's media type: 200, as for every request error.
    let legacy = app
        .client()
        .post(format!("{}/graphql", app.url))
        .json(&json!({ "extensions": persisted_query(&hash) }))
        .send()
        .await
        .expect("answers");
    assert_eq!(
        legacy.headers()["cache-control"],
        "no-store",
        "even an anonymous caller's"
    );
    let legacy = Gql::read(legacy).await;
    assert_eq!(
        (legacy.status, legacy.code()),
        (200, "PERSISTED_QUERY_NOT_FOUND")
    );

    // A text whose hash is not the one sent is refused, and registers nothing.
    let (mismatch, _) = post(
        app,
        &ann.token,
        json!({ "query": "{ me { id } }", "extensions": persisted_query(&hash) }),
    )
    .await;
    assert_eq!(mismatch.status, 400);
    assert_eq!(mismatch.code(), "PERSISTED_QUERY_HASH_MISMATCH");
    let (still, _) = post(
        app,
        &ann.token,
        json!({ "extensions": persisted_query(&hash) }),
    )
    .await;
    assert_eq!(still.code(), "PERSISTED_QUERY_NOT_FOUND");

    // Text and hash: answered and registered; then the hash alone runs it, by POST and GET.
    let (registered, cache) = post(
        app,
        &ann.token,
        json!({ "query": ME, "extensions": persisted_query(&hash) }),
    )
    .await;
    assert_eq!(registered.body, json!({ "data": me }));
    assert_eq!(
        cache.as_deref(),
        Some("private, no-store"),
        "Ann's answer is hers"
    );
    let (by_hash, _) = post(
        app,
        &ann.token,
        json!({ "extensions": persisted_query(&hash) }),
    )
    .await;
    assert_eq!(by_hash.body, json!({ "data": me }));
    let extensions = persisted_query(&hash.to_uppercase()).to_string();
    let by_get = get(app, &ann.token, &[("extensions", extensions)]).await;
    assert_eq!((by_get.status, &by_get.body), (200, &json!({ "data": me })));
    // Another replica of the same database knows it as well.
    let replica = TestApp::spawn_at(app.backend, app.database_url(), |_| {}).await;
    let (elsewhere, _) = post(
        &replica,
        &ann.token,
        json!({ "extensions": persisted_query(&hash) }),
    )
    .await;
    assert_eq!(elsewhere.body, json!({ "data": me }));
    replica.stop().await;

    // A mutation registered by hash still runs by POST only.
    let rename = "mutation { setDisplayName(displayName: \"Ann\") { displayName } }";
    let rename_hash = sha256(rename);
    let (renamed, _) = post(
        app,
        &ann.token,
        json!({ "query": rename, "extensions": persisted_query(&rename_hash) }),
    )
    .await;
    assert!(renamed.errors().is_empty(), "{}", renamed.body);
    let by_get = get(
        app,
        &ann.token,
        &[("extensions", persisted_query(&rename_hash).to_string())],
    )
    .await;
    assert_eq!(by_get.status, 405, "{}", by_get.body);

    // Malformed extensions are the client's error, each said plainly.
    for (extensions, says) in [
        (
            json!({ "persistedQuery": { "version": 2, "sha256Hash": hash } }),
            "version",
        ),
        (
            json!({ "persistedQuery": { "version": 1, "sha256Hash": "abc" } }),
            "SHA-256",
        ),
        (json!({ "persistedQuery": "yes" }), "object"),
    ] {
        let (refused, _) = post(app, &ann.token, json!({ "extensions": extensions })).await;
        assert_eq!(
            (refused.status, refused.code()),
            (400, "BAD_REQUEST"),
            "{}",
            refused.body
        );
        let message = refused.body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains(says), "{message}");
    }

    // Automatic persisted queries turned off: the code that makes clients stop using them.
    let off = TestApp::spawn_with(app.backend, |config| config.apq_cache_bytes = 0).await;
    let bob = off.register("bob@example.com").await;
    let (unsupported, _) = post(
        &off,
        &bob.token,
        json!({ "extensions": persisted_query(&hash) }),
    )
    .await;
    assert_eq!(unsupported.code(), "PERSISTED_QUERY_NOT_SUPPORTED");
    assert_eq!(
        unsupported.body["errors"][0]["message"],
        "PersistedQueryNotSupported"
    );
    let (full, _) = post(
        &off,
        &bob.token,
        json!({ "query": ME, "extensions": persisted_query(&hash) }),
    )
    .await;
    assert_eq!(full.body["data"]["me"]["email"], "bob@example.com");
    off.stop().await;
}

/// A manifest in Relay's format (id to text) in a temporary folder.
fn manifest(documents: &[(&str, &str)]) -> (tempfile::TempDir, std::path::PathBuf) {
    let folder = tempfile::tempdir().expect("a folder");
    let path = folder.path().join("persisted_queries.json");
    let documents: serde_json::Map<String, Value> = documents
        .iter()
        .map(|(id, text)| ((*id).to_owned(), Value::from(*text)))
        .collect();
    std::fs::write(&path, Value::Object(documents).to_string()).expect("written");
    (folder, path)
}

async fn trusted_documents_only_run_what_the_manifest_holds(app: &TestApp) {
    let profiles = "query Profiles { profiles { totalCount } }";
    let (_folder, path) = manifest(&[("6b1f0e", ME), (&sha256(profiles), profiles)]);
    let app = TestApp::spawn_with(app.backend, |config| {
        config.persisted_documents = Some(path);
        config.persisted_documents_only = true;
    })
    .await;
    // Accounts come by their own mutations, which must be in the manifest too: this app makes
    // them on a second server of the same database that runs any document.
    let open = TestApp::spawn_at(app.backend, app.database_url(), |_| {}).await;
    let ann = open.register("ann@example.com").await;
    let me = json!({ "data": { "me": { "email": "ann@example.com" } } });

    // By id, as Relay (`doc_id`) and GraphQL over HTTP (`documentId`) send it.
    let (by_doc_id, _) = post(&app, &ann.token, json!({ "doc_id": "6b1f0e" })).await;
    assert_eq!(by_doc_id.body, me);
    let (by_document_id, _) = post(&app, &ann.token, json!({ "documentId": "6b1f0e" })).await;
    assert_eq!(by_document_id.body, me);
    let by_get = get(&app, &ann.token, &[("documentId", "6b1f0e".to_owned())]).await;
    assert_eq!(by_get.body, me);
    // By the hash of its text, as GraphQL Codegen's and Apollo's manifests name documents.
    let hashed = format!("sha256:{}", sha256(profiles));
    let (by_hash, _) = post(&app, &ann.token, json!({ "documentId": hashed })).await;
    assert_eq!(
        by_hash.body,
        json!({ "data": { "profiles": { "totalCount": 0 } } })
    );
    let (by_apq, _) = post(
        &app,
        &ann.token,
        json!({ "extensions": persisted_query(&sha256(ME)) }),
    )
    .await;
    assert_eq!(by_apq.body, me);
    // The very text of a trusted document runs too.
    let (by_text, _) = post(&app, &ann.token, json!({ "query": ME })).await;
    assert_eq!(by_text.body, me);

    // Anything else is refused before it is parsed: another text, an unknown id, a text
    // offered for registration, introspection.
    let other = "{ me { id email } }";
    for body in [
        json!({ "query": other }),
        json!({ "query": other, "extensions": persisted_query(&sha256(other)) }),
        json!({ "query": "{ __schema { types { name } } }" }),
    ] {
        let (refused, _) = post(&app, &ann.token, body).await;
        assert_eq!(
            (refused.status, refused.code()),
            (400, "PERSISTED_DOCUMENTS_ONLY"),
            "{}",
            refused.body
        );
        assert!(refused.body.get("data").is_none());
    }
    let (unknown, cache) = post(&app, &ann.token, json!({ "documentId": "nope" })).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "PERSISTED_QUERY_NOT_IN_LIST")
    );
    assert_eq!(cache.as_deref(), Some("private, no-store"));
    let (unregistered, _) = post(
        &app,
        &ann.token,
        json!({ "extensions": persisted_query(&sha256(other)) }),
    )
    .await;
    assert_eq!(
        unregistered.code(),
        "PERSISTED_QUERY_NOT_IN_LIST",
        "nothing was registered"
    );
    // An id and a text that is not its document.
    let (both, _) = post(
        &app,
        &ann.token,
        json!({ "documentId": "6b1f0e", "query": other }),
    )
    .await;
    assert_eq!((both.status, both.code()), (400, "BAD_REQUEST"));
    // No manifest, no only mode.
    let mut config = api::Config::with_database(app.database_url());
    config.persisted_documents_only = true;
    let refused = api::prepare(config).await.err().expect("refused");
    assert!(
        refused.to_string().contains("PERSISTED_DOCUMENTS"),
        "{refused}"
    );
    open.stop().await;
    app.stop().await;
}

async fn a_manifest_the_schema_does_not_run_stops_the_start(app: &TestApp) {
    let (_folder, path) = manifest(&[
        ("good", ME),
        ("stale", "{ me { nickname } }"),
        ("broken", "{ me { "),
    ]);
    let mut config = api::Config::with_database(app.database_url());
    config.persisted_documents = Some(path);
    let refused = api::prepare(config)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(refused.contains("2 document(s)"), "{refused}");
    assert!(
        refused.contains("stale: ") && refused.contains("nickname"),
        "{refused}"
    );
    assert!(refused.contains("broken: "), "{refused}");
    assert!(!refused.contains("good"), "{refused}");
}

/// The replicas share the newest registrations that fit in `APQ_CACHE_BYTES`: a replica that
/// never saw a document finds it in the database, until newer ones push it out.
async fn the_database_keeps_the_newest_registrations_within_the_bound(app: &TestApp) {
    let ann = app.register("ann@example.com").await;
    let small = |config: &mut api::Config| config.apq_cache_bytes = 100;
    let writer = TestApp::spawn_at(app.backend, app.database_url(), small).await;
    // Three documents of 40 bytes: the first no longer fits once the third is in.
    let documents: Vec<String> = (0..3)
        .map(|n| format!("query Doc{n} {{ me {{ email }} }} #{}", "x".repeat(11)))
        .collect();
    for document in &documents {
        assert_eq!(document.len(), 40);
        let extensions = persisted_query(&sha256(document));
        let (registered, _) = post(
            &writer,
            &ann.token,
            json!({ "query": document, "extensions": extensions }),
        )
        .await;
        assert!(registered.errors().is_empty(), "{}", registered.body);
    }
    let reader = TestApp::spawn_at(app.backend, app.database_url(), small).await;
    let by_hash = |n: usize| json!({ "extensions": persisted_query(&sha256(&documents[n])) });
    let (oldest, _) = post(&reader, &ann.token, by_hash(0)).await;
    assert_eq!(
        oldest.code(),
        "PERSISTED_QUERY_NOT_FOUND",
        "{}",
        oldest.body
    );
    for n in [1, 2] {
        let (kept, _) = post(&reader, &ann.token, by_hash(n)).await;
        assert_eq!(
            kept.body["data"]["me"]["email"], "ann@example.com",
            "{}",
            kept.body
        );
    }
    writer.stop().await;
    reader.stop().await;
}
