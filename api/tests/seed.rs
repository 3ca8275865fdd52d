//! `api seed`: the benchmark dataset, exactly, on both databases.

use std::process::Command;

use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::{
    db_tests,
    helpers::{Backend, TestApp},
};

db_tests!(seeding_makes_the_dataset_and_keeps_the_schema);

fn seed(app: &TestApp, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_api"))
        .arg("seed")
        .args(args)
        .env("DATABASE_URL", app.database_url())
        .output()
        .expect("the api binary runs")
}

/// Every index and constraint of the schema, as PostgreSQL defines them.
async fn schema(app: &TestApp) -> Vec<String> {
    let conn = app.state.db.pool();
    let sql = "SELECT indexdef AS def FROM pg_indexes WHERE schemaname = 'public'
        UNION ALL SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
        WHERE connamespace = 'public'::regnamespace ORDER BY 1";
    let rows = conn
        .query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .expect("the schema");
    rows.iter()
        .map(|row| row.try_get::<String>("", "def").expect("text"))
        .collect()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let conn = app.state.db.pool();
    let row = conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .expect("a count")
        .expect("a row");
    row.try_get("", "n").expect("a number")
}

async fn seeding_makes_the_dataset_and_keeps_the_schema(app: &TestApp) {
    let before = if app.backend == Backend::Postgres {
        schema(app).await
    } else {
        Vec::new()
    };
    let made = seed(
        app,
        &["--users", "60", "--profiles", "20", "--links-per-user", "3"],
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(
        String::from_utf8_lossy(&made.stdout)
            .contains("seeded 60 users, 20 profiles and 180 links")
    );
    if app.backend == Backend::Postgres {
        assert_eq!(
            schema(app).await,
            before,
            "seeding leaves every index and constraint as it was"
        );
    }

    assert_eq!(count(app, r#"SELECT COUNT(*) AS n FROM "user""#).await, 60);
    assert_eq!(count(app, "SELECT COUNT(*) AS n FROM profile").await, 20);
    assert_eq!(
        count(app, "SELECT COUNT(*) AS n FROM user_profile").await,
        180
    );
    let ownerless = "SELECT COUNT(*) AS n FROM profile p WHERE NOT EXISTS
        (SELECT 1 FROM user_profile o WHERE o.profile_id = p.id AND o.role = 'OWNER')";
    assert_eq!(count(app, ownerless).await, 0, "every profile has an owner");

    // User 7 has profiles ((7*7 + t*131) mod 20) + 1 for t = 0..2: 10, 1 and 12, and logs in.
    let login = app.login("user7@example.com", "password").await;
    assert!(login.errors().is_empty(), "{}", login.body);
    let token = login.body["data"]["login"]["accessToken"]
        .as_str()
        .expect("a token")
        .to_owned();
    let data = app
        .data_as(
            &token,
            "{ me { profiles { edges { role node { name } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["me"]["profiles"]["edges"],
        json!([
            { "role": "MANAGER", "node": { "name": "Profile 1" } },
            { "role": "OWNER", "node": { "name": "Profile 10" } },
            { "role": "MANAGER", "node": { "name": "Profile 12" } },
        ])
    );

    let again = seed(
        app,
        &["--users", "10", "--profiles", "5", "--links-per-user", "1"],
    );
    assert!(
        !again.status.success(),
        "a database with users is refused without --force"
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let forced = seed(
        app,
        &[
            "--users",
            "10",
            "--profiles",
            "5",
            "--links-per-user",
            "1",
            "--force",
        ],
    );
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    assert_eq!(count(app, r#"SELECT COUNT(*) AS n FROM "user""#).await, 10);
    let twice = seed(
        app,
        &[
            "--users",
            "10",
            "--profiles",
            "131",
            "--links-per-user",
            "2",
            "--force",
        ],
    );
    assert!(
        !twice.status.success(),
        "a formula that links a user to a profile twice is refused"
    );
}
