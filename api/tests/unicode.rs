//! Unicode identities: emails and names that look alike, hide characters or differ only in
//! case or width are refused or are the same account; filters and orders fold text the same
//! way on both databases.

use base64::Engine;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::{
    db_tests,
    helpers::{Account, Backend, Gql, PASSWORD, TestApp, TestDatabase},
};

db_tests!(
    look_alike_and_hidden_emails_are_refused_and_width_is_ignored,
    emails_differing_in_case_are_one_account_with_one_login,
    names_hiding_characters_or_mixing_scripts_are_refused,
    contains_filters_fold_case_and_width,
    names_and_emails_order_by_their_folded_keys,
    failed_logins_count_against_the_account_however_its_email_is_written[own_server],
    existing_rows_get_keys_when_the_migration_runs[own_server],
);

const REGISTER: &str = "mutation($e: String!, $p: String!) {
    register(input: { email: $e, password: $p }) { email }
}";

async fn register(app: &TestApp, email: &str) -> Gql {
    app.gql(REGISTER, json!({ "e": email, "p": PASSWORD }))
        .await
}

/// Registering `email`, whose account exists, answers as for a new address (and makes no
/// account: the tests check who a login as `email` signs in).
async fn register_again(app: &TestApp, email: &str) {
    let response = register(app, email).await;
    assert!(response.errors().is_empty(), "{}", response.body);
}

/// `response` is a refusal with `code` and a message containing `says`.
fn assert_refused(response: &Gql, code: &str, says: &str) {
    assert_eq!(response.code(), code, "{}", response.body);
    assert_eq!(response.body["data"], Value::Null, "{}", response.body);
    let message = response.body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains(says), "{says:?} in {}", response.body);
}

/// The user a login as `email` signs in, or its error code.
async fn login_as(app: &TestApp, email: &str) -> Result<String, String> {
    let response = app.login(email, PASSWORD).await;
    match response.errors().first() {
        None => Ok(response.body["data"]["login"]["user"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()),
        Some(_) => Err(response.code().to_owned()),
    }
}

async fn user_count(app: &TestApp, admin: &Account) -> Value {
    app.data_as(&admin.token, "{ users { totalCount } }", json!({}))
        .await["users"]["totalCount"]
        .clone()
}

async fn look_alike_and_hidden_emails_are_refused_and_width_is_ignored(app: &TestApp) {
    let admin = app.admin().await;
    let ann = app.register("ann@example.com").await;
    let before = user_count(app, &admin).await;

    let mixed = "mixes letters of different scripts";
    for (email, says) in [
        // A Cyrillic `а` among Latin letters, in the local part and in the domain.
        ("аnn@example.com", mixed),
        ("ann@exаmple.com", mixed),
        // All Cyrillic, or Latin with a dotless `ı`: it reads as ASCII it is not.
        ("асе@example.com", "look like ASCII ones"),
        ("bıll@example.com", "look like ASCII ones"),
        // A Latin alpha, a Braille blank, an emoji: not identifier characters (UTS 39).
        ("ɑnn@example.com", "U+0251"),
        ("ann\u{2800}@example.com", "U+2800"),
        ("i\u{2764}u@example.com", "U+2764"),
        // The same, as the punycode of an all-Cyrillic `аррӏе`.
        ("ann@xn--80ak6aa92e.com", "look like ASCII ones"),
        ("ann\u{200B}@example.com", "U+200B"),
        ("\u{202E}ann@example.com", "U+202E"),
        ("ann\u{FEFF}@example.com", "U+FEFF"),
        ("ann@exa\u{200D}mple.com", "U+200D"),
        ("ann\u{FE0F}@example.com", "U+FE0F"),
        ("ann\u{3164}@example.com", "U+3164"),
        ("\"ann\"@example.com", "not a valid email address"),
    ] {
        assert_refused(&register(app, email).await, "BAD_USER_INPUT", says);
        assert_eq!(login_as(app, email).await, Err("UNAUTHENTICATED".into()));
    }
    // Full-width letters are the same letters (NFKC): the same account.
    for email in ["ａnn@example.com", "ＡＮＮ＠ＥＸＡＭＰＬＥ．ＣＯＭ"] {
        register_again(app, email).await;
        assert_eq!(login_as(app, email).await, Ok(ann.id.clone()));
    }
    assert_eq!(user_count(app, &admin).await, before);

    // A full-width address registers in its plain form.
    let bob = register(app, "ｂｏｂ@ｅｘａｍｐｌｅ．ｃｏｍ").await;
    assert_eq!(bob.body["data"]["register"]["email"], "bob@example.com");
}

async fn emails_differing_in_case_are_one_account_with_one_login(app: &TestApp) {
    let emile = app.register("Émile@example.com").await;
    assert_eq!(emile.email, "Émile@example.com");
    for email in [
        "émile@example.com",
        "ÉMILE@EXAMPLE.COM",
        // `E` and a combining acute accent.
        "E\u{301}mile@example.com",
    ] {
        register_again(app, email).await;
        assert_eq!(login_as(app, email).await, Ok(emile.id.clone()));
    }

    let jose = app.register("JOSÉ@example.com").await;
    for email in [
        "josé@example.com",
        "José@Example.com",
        "jose\u{301}@example.com",
    ] {
        assert_eq!(login_as(app, email).await, Ok(jose.id.clone()), "{email}");
    }
    assert_eq!(
        login_as(app, "jose@example.com").await,
        Err("UNAUTHENTICATED".into())
    );

    // Full case folding: `ß` is `ss`.
    let strasse = app.register("Straße@example.com").await;
    register_again(app, "STRASSE@example.com").await;
    assert_eq!(
        login_as(app, "strasse@example.com").await,
        Ok(strasse.id.clone())
    );

    // A domain is one whether typed in Unicode or in punycode (IDNA), kept in Unicode.
    let buecher = app.register(" Ann@Bücher.DE ").await;
    assert_eq!(buecher.email, "Ann@bücher.de");
    register_again(app, "ann@xn--bcher-kva.de").await;
    assert_eq!(
        login_as(app, "ANN@XN--BCHER-KVA.DE").await,
        Ok(buecher.id.clone())
    );
}

async fn names_hiding_characters_or_mixing_scripts_are_refused(app: &TestApp) {
    let admin = app.admin().await;
    let team = app.create_profile(&admin, "Team").await;
    let create = "mutation($n: String!) { createProfile(name: $n) { id } }";
    let rename = "mutation($id: ID!, $n: String!) { updateProfile(id: $id, name: $n) { id } }";
    let display = "mutation($n: String) { setDisplayName(displayName: $n) { displayName } }";
    let mixed = "mixes letters of different scripts (Latin, Cyrillic)";
    for (name, says) in [
        ("invoice\u{202E}gnp.exe", "U+202E"),
        ("\u{200B}\u{200B}", "U+200B"),
        ("\u{FEFF}", "U+FEFF"),
        ("\u{2066}Team\u{2069}", "U+2066"),
        ("Te\u{AD}am", "U+00AD"),
        ("Team\u{3164}", "U+3164"),
        ("A\u{34F}cme", "U+034F"),
        ("Pаypal", mixed),
        ("Acme Pаypal", mixed),
    ] {
        for (query, variables) in [
            (create, json!({ "n": name })),
            (rename, json!({ "id": team, "n": name })),
            (display, json!({ "n": name })),
        ] {
            let response = app.gql_as(&admin.token, query, variables).await;
            assert_refused(&response, "BAD_USER_INPUT", says);
        }
    }
    // 255 ligatures, each folding to 18 characters: a key no index could hold.
    let ligatures = "\u{FDFA}".repeat(255);
    for (query, variables) in [
        (create, json!({ "n": ligatures })),
        (rename, json!({ "id": team, "n": ligatures })),
    ] {
        let response = app.gql_as(&admin.token, query, variables).await;
        assert_refused(&response, "BAD_USER_INPUT", "once folded");
    }
    let profiles = "{ profiles { totalCount nodes { name } } }";
    let listed = app.data_as(&admin.token, profiles, json!({})).await;
    assert_eq!(
        listed["profiles"],
        json!({ "totalCount": 1, "nodes": [{ "name": "Team" }] })
    );

    for name in [
        "Zoë 李",
        "Müller GmbH",
        "東京タワー",
        "ひらがなとカタカナと漢字",
        "서울 Seoul",
        "Café Москва",
        "👩\u{200D}💻 Team",
        "❤\u{FE0F} Team",
        "نوروز‌نامه",
    ] {
        let data = app
            .data_as(&admin.token, rename, json!({ "id": team, "n": name }))
            .await;
        assert_eq!(data["updateProfile"]["id"], team.as_str());
        let shown = app
            .data_as(&admin.token, display, json!({ "n": name }))
            .await;
        assert_eq!(shown["setDisplayName"]["displayName"], name);
    }
}

async fn contains_filters_fold_case_and_width(app: &TestApp) {
    let admin = app.admin().await;
    for name in [
        "Ärger",
        "äpfel",
        "Apfel",
        "Straße",
        "STRASSE",
        "Strasbourg",
        "ﬁle",
        "Ｆｕｌｌ",
        "100% Ä_B",
    ] {
        app.create_profile(&admin, name).await;
    }
    for email in ["Émile@example.com", "JOSÉ@example.com", "ann@bücher.de"] {
        app.register(email).await;
    }
    let top = "query($t: String) { profiles(filter: { nameContains: $t }, orderBy: { field: ID }) { nodes { name } } }";
    let nested = "query($t: String) { me { profiles(filter: { nameContains: $t }, orderBy: { field: ID }) { nodes { name } } } }";
    for (text, names) in [
        ("ä", vec!["Ärger", "äpfel", "100% Ä_B"]),
        ("Ä", vec!["Ärger", "äpfel", "100% Ä_B"]),
        ("A\u{308}", vec!["Ärger", "äpfel", "100% Ä_B"]),
        ("SS", vec!["Straße", "STRASSE"]),
        ("ß", vec!["Straße", "STRASSE"]),
        ("STRAS", vec!["Straße", "STRASSE", "Strasbourg"]),
        ("FI", vec!["ﬁle"]),
        ("full", vec!["Ｆｕｌｌ"]),
        ("ＦＵＬ", vec!["Ｆｕｌｌ"]),
        ("% ä_", vec!["100% Ä_B"]),
        ("_", vec!["100% Ä_B"]),
        ("\\", vec![]),
    ] {
        let expected: Vec<Value> = names.iter().map(|name| json!({ "name": name })).collect();
        let data = app.data_as(&admin.token, top, json!({ "t": text })).await;
        assert_eq!(data["profiles"]["nodes"], json!(expected), "{text:?}");
        let data = app
            .data_as(&admin.token, nested, json!({ "t": text }))
            .await;
        assert_eq!(data["me"]["profiles"]["nodes"], json!(expected), "{text:?}");
    }
    let users = "query($t: String) { users(filter: { emailContains: $t }, orderBy: { field: ID }) { nodes { email } } }";
    for (text, emails) in [
        ("É", vec!["Émile@example.com", "JOSÉ@example.com"]),
        ("josé@", vec!["JOSÉ@example.com"]),
        ("BÜCHER", vec!["ann@bücher.de"]),
        (
            "EXAMPLE.COM",
            vec!["admin@example.com", "Émile@example.com", "JOSÉ@example.com"],
        ),
    ] {
        let expected: Vec<Value> = emails
            .iter()
            .map(|email| json!({ "email": email }))
            .collect();
        let data = app.data_as(&admin.token, users, json!({ "t": text })).await;
        assert_eq!(data["users"]["nodes"], json!(expected), "{text:?}");
    }
}

async fn failed_logins_count_against_the_account_however_its_email_is_written(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.lockout_max_failures = 2).await;
    app.register("JOSÉ@example.com").await;
    for email in ["josé@example.com", "ＪＯＳＥ\u{301}@example.com"] {
        let response = app.login(email, "wrong password").await;
        assert_eq!(response.code(), "UNAUTHENTICATED", "{}", response.body);
    }
    let response = app.login("José@Example.com", PASSWORD).await;
    assert_eq!(response.code(), "LOCKED", "{}", response.body);
    app.stop().await;
}

/// Names in the order of their folded keys' code points, the same on both databases: digits,
/// then Latin letters (`ß` as `ss`, `ﬁ` as `fi`, full-width as ASCII), then `ä` (U+00E4) and
/// `é` (U+00E9), Greek, Han. Ties (`Straße`, `STRASSE`) go by ID.
const NAMES_IN_ORDER: [&str; 13] = [
    "10 Downing",
    "apfel",
    "east",
    "ﬁle",
    "Ｆｕｌｌ",
    "Straße",
    "STRASSE",
    "zeta",
    "Zoë 李",
    "Ärger",
    "Émile",
    "Σίσυφος",
    "東京 Tower",
];

async fn names_and_emails_order_by_their_folded_keys(app: &TestApp) {
    let admin = app.admin().await;
    // Created in an order of their own, ties in the order they are listed.
    let mut created = NAMES_IN_ORDER.to_vec();
    created.sort_by_key(|name| name.len() % 3);
    let strasse = |name: &&str| name.to_lowercase().starts_with("stra");
    created.retain(|name| !strasse(name));
    created.extend(["Straße", "STRASSE"]);
    for name in &created {
        app.create_profile(&admin, name).await;
    }
    let page = "query($d: OrderDirection!, $after: String) {
        profiles(first: 5, after: $after, orderBy: { field: NAME, direction: $d }) {
            nodes { name } pageInfo { endCursor hasNextPage }
        }
    }";
    for direction in ["ASC", "DESC"] {
        let mut expected: Vec<&str> = NAMES_IN_ORDER.to_vec();
        if direction == "DESC" {
            expected.reverse();
        }
        let mut seen = Vec::new();
        let mut after = Value::Null;
        loop {
            let variables = json!({ "d": direction, "after": after });
            let data = app.data_as(&admin.token, page, variables).await;
            let profiles = &data["profiles"];
            for node in profiles["nodes"].as_array().into_iter().flatten() {
                seen.push(node["name"].as_str().unwrap_or_default().to_owned());
            }
            after = profiles["pageInfo"]["endCursor"].clone();
            if profiles["pageInfo"]["hasNextPage"] != true {
                break;
            }
        }
        assert_eq!(seen, expected, "{direction}");
    }
    // A cursor carries the folded key of its row.
    let first = app
        .data_as(&admin.token, page, json!({ "d": "ASC", "after": null }))
        .await;
    let cursor = first["profiles"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap_or_default();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .expect("a base64url cursor");
    let payload: Value = serde_json::from_slice(&payload).expect("a JSON cursor");
    assert_eq!(payload[2], "full");

    for email in [
        "Émile@example.com",
        "zoe@example.com",
        "ＡＮＮ@example.com",
        "Ärger@example.com",
    ] {
        app.register(email).await;
    }
    let users = "{ users(orderBy: { field: EMAIL }) { nodes { email } } }";
    let data = app.data_as(&admin.token, users, json!({})).await;
    assert_eq!(
        data["users"]["nodes"],
        json!([
            { "email": "admin@example.com" },
            { "email": "ANN@example.com" },
            { "email": "zoe@example.com" },
            { "email": "Ärger@example.com" },
            { "email": "Émile@example.com" },
        ])
    );
}

/// Rows written before the keys existed — as SQLite and PostgreSQL accepted them, each by its
/// own `lower()` — get their keys from the migration: logins and registrations find them, and
/// of two accounts that now fold alike the older keeps its key.
async fn existing_rows_get_keys_when_the_migration_runs(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let conn = Database::connect(&database.url)
        .await
        .expect("the database answers");
    let ours = Migrator::migrations()
        .iter()
        .position(|migration| migration.name() == "m20261207_000001_folded_text")
        .expect("the migration of folded keys");
    let before = u32::try_from(ours).expect("a few migrations");
    Migrator::up(&conn, Some(before))
        .await
        .expect("the migrations before");
    let at = "'2026-01-01T00:00:00+00:00'";
    conn.execute_unprepared(&format!(
        "INSERT INTO \"user\" (id, email, created_at, updated_at, fs_uniquifier) VALUES \
         (1, 'ÉMILE@example.com', {at}, {at}, 'a'), \
         (2, 'Straße@example.com', {at}, {at}, 'b'), \
         (3, 'STRASSE@example.com', {at}, {at}, 'c'); \
         INSERT INTO profile (id, name, created_at, updated_at) VALUES \
         (1, 'Ärger', {at}, {at}), (2, 'apfel', {at}, {at}), (3, 'ﬁle', {at}, {at}), \
         (4, '{}', {at}, {at})",
        // Accepted then, its fold too long for an index now.
        "\u{FDFA}".repeat(255)
    ))
    .await
    .expect("rows of before");
    let _ = conn.close().await;

    let app = TestApp::spawn_at(backend, &database.url, |_| {}).await;
    app.sync_key_sequences().await;
    if backend == Backend::Postgres {
        // Bytewise whatever the database's default collation.
        let collations = "SELECT collation_name FROM information_schema.columns \
            WHERE column_name IN ('email_key', 'name_key') ORDER BY column_name";
        let rows = app
            .state
            .db
            .pool()
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Postgres,
                collations,
            ))
            .await
            .expect("the collations");
        let names: Vec<String> = rows
            .iter()
            .map(|row| row.try_get_by_index(0).expect("a collation"))
            .collect();
        assert_eq!(names, ["C", "C"]);
    }
    let admin = app.admin().await;
    // The migrated accounts get the password of a new one, to log in with.
    app.execute_sql(
        "UPDATE \"user\" SET password_hash = \
         (SELECT password_hash FROM \"user\" WHERE email = 'admin@example.com') WHERE id <= 3",
    )
    .await;
    let emile = api::graphql::NodeId::user(1).to_string();
    let strasse = api::graphql::NodeId::user(2).to_string();
    assert_eq!(login_as(&app, "émile@example.com").await, Ok(emile));
    assert_eq!(login_as(&app, "strasse@example.com").await, Ok(strasse));
    for email in ["Émile@example.com", "straße@example.com"] {
        register_again(&app, email).await;
    }
    let users = "{ users(orderBy: { field: EMAIL }) { nodes { email } } }";
    let data = app.data_as(&admin.token, users, json!({})).await;
    assert_eq!(
        data["users"]["nodes"],
        json!([
            { "email": "admin@example.com" },
            { "email": "Straße@example.com" },
            { "email": "STRASSE@example.com" },
            { "email": "ÉMILE@example.com" },
        ])
    );
    let profiles = "{ profiles(orderBy: { field: NAME }) { nodes { name } } }";
    let data = app.data_as(&admin.token, profiles, json!({})).await;
    assert_eq!(
        data["profiles"]["nodes"],
        json!([
            { "name": "apfel" },
            { "name": "ﬁle" },
            { "name": "Ärger" },
            { "name": "\u{FDFA}".repeat(255) },
        ])
    );
    app.stop().await;
    drop(database);
}
