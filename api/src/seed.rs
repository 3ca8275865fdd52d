//! `api seed`: fills a database with the benchmark dataset of `bench/DATASET.md`, set-based.
//!
//! User i (1..=N) is `user{i}@example.com`, profile j (1..=P) is `Profile {j}` (ASCII, so
//! their folded keys are these lower-cased, written by the same statements), and user i
//! manages profiles ((i*7 + t*131) mod P) + 1 for t in 0..K: the first as owner, the others
//! as manager. Every seeded user has the same password, hashed once.

use std::collections::HashSet;

use anyhow::{Context, bail};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, Value};

use crate::{auth::password::Passwords, db::Db, store};

/// The size of the dataset.
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    pub users: i64,
    pub profiles: i64,
    pub links_per_user: i64,
}

impl Scale {
    /// Checks that the link formula gives every user distinct profiles.
    fn check(&self) -> anyhow::Result<()> {
        if self.users < 1 || self.profiles < 1 || self.links_per_user < 0 {
            bail!("--users and --profiles must be at least 1, --links-per-user at least 0");
        }
        let offsets: HashSet<i64> = (0..self.links_per_user)
            .map(|t| t * 131 % self.profiles)
            .collect();
        if i64::try_from(offsets.len())? != self.links_per_user {
            bail!(
                "with {} profiles, {} links per user would link some user to a profile twice",
                self.profiles,
                self.links_per_user
            );
        }
        Ok(())
    }
}

/// Seeds the dataset; refuses a database that holds users unless `force`, which replaces
/// every user and profile.
pub async fn seed(db: &Db, scale: Scale, password: &str, force: bool) -> anyhow::Result<()> {
    scale.check()?;
    let conn = db.conn();
    let existing: i64 = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            r#"SELECT COUNT(*) AS n FROM "user""#,
        ))
        .await?
        .map(|row| row.try_get("", "n"))
        .transpose()?
        .unwrap_or(0);
    if existing > 0 && !force {
        bail!(
            "the database already holds {existing} users; pass --force to replace every user and profile"
        );
    }
    let passwords = Passwords::default();
    let hash = passwords
        .hash(passwords.admit()?, password.to_owned())
        .await?;
    let now = store::now();
    let tx = db.begin_write().await?;
    let backend = tx.get_database_backend();
    if backend == DatabaseBackend::Postgres {
        // Row-by-row index upkeep and foreign-key checks would take most of the time: build
        // them once at the end instead, in the same transaction.
        for (drop, _) in DEFERRED {
            tx.execute_unprepared(drop).await?;
        }
    }
    for sql in statements(backend) {
        let links = sql
            .params
            .iter()
            .any(|param| matches!(param, Param::LastLink));
        if links && scale.links_per_user == 0 {
            continue;
        }
        let values: Vec<Value> = sql
            .params
            .iter()
            .map(|param| match param {
                Param::Users => scale.users.into(),
                Param::Profiles => scale.profiles.into(),
                Param::LastLink => (scale.links_per_user - 1).into(),
                Param::Now => now.into(),
                Param::Hash => hash.clone().into(),
            })
            .collect();
        tx.execute_raw(Statement::from_sql_and_values(backend, sql.text, values))
            .await
            .with_context(|| format!("seeding: {}", sql.text.lines().next().unwrap_or_default()))?;
    }
    if backend == DatabaseBackend::Postgres {
        for (_, create) in DEFERRED.iter().rev() {
            tx.execute_unprepared(create).await?;
        }
    }
    tx.commit().await?;
    if backend == DatabaseBackend::Postgres {
        // As after any bulk load: statistics for the planner, and the visibility map set, so
        // index-only scans of the links need not visit the table (autovacuum would do it
        // later, while the database is in use).
        conn.execute_unprepared("VACUUM ANALYZE").await?;
    }
    Ok(())
}

/// Indexes and constraints dropped before a PostgreSQL bulk load and made again after it, as
/// the migrations define them (a test checks the schema is the same after seeding).
const DEFERRED: [(&str, &str); 7] = [
    (
        r#"ALTER TABLE "user_profile" DROP CONSTRAINT "user_profile_user_id_fkey""#,
        r#"ALTER TABLE "user_profile" ADD CONSTRAINT "user_profile_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE"#,
    ),
    (
        r#"ALTER TABLE "user_profile" DROP CONSTRAINT "user_profile_profile_id_fkey""#,
        r#"ALTER TABLE "user_profile" ADD CONSTRAINT "user_profile_profile_id_fkey" FOREIGN KEY ("profile_id") REFERENCES "profile" ("id") ON DELETE CASCADE"#,
    ),
    (
        r#"ALTER TABLE "user_profile" DROP CONSTRAINT "user_profile_pkey""#,
        r#"ALTER TABLE "user_profile" ADD CONSTRAINT "user_profile_pkey" PRIMARY KEY ("user_id", "profile_id")"#,
    ),
    (
        r#"DROP INDEX "user_profile_profile_id_user_id_idx""#,
        r#"CREATE INDEX "user_profile_profile_id_user_id_idx" ON "user_profile" ("profile_id", "user_id")"#,
    ),
    (
        r#"DROP INDEX "user_email_key_key""#,
        r#"CREATE UNIQUE INDEX "user_email_key_key" ON "user" ("email_key")"#,
    ),
    (
        r#"DROP INDEX "user_fs_uniquifier_key""#,
        r#"CREATE UNIQUE INDEX "user_fs_uniquifier_key" ON "user" ("fs_uniquifier")"#,
    ),
    (
        r#"DROP INDEX "user_created_at_id_idx""#,
        r#"CREATE INDEX "user_created_at_id_idx" ON "user" ("created_at", "id")"#,
    ),
];

/// What a statement's parameters stand for, in order.
enum Param {
    Users,
    Profiles,
    LastLink,
    Now,
    Hash,
}

struct Sql {
    text: &'static str,
    params: &'static [Param],
}

fn statements(backend: DatabaseBackend) -> [Sql; 5] {
    match backend {
        DatabaseBackend::Postgres => [
            Sql {
                text: r#"TRUNCATE "user_profile", "user_role", "refresh_token", "login_attempt", "profile_invitation", "account_token", "mail_outbox", "mail_request", "account_request", "user_totp", "recovery_code", "user", "profile" RESTART IDENTITY"#,
                params: &[],
            },
            Sql {
                text: r#"INSERT INTO "user" ("id", "email", "email_key", "created_at", "password_hash", "active", "fs_uniquifier", "login_count", "updated_at")
                    SELECT i, 'user' || i || '@example.com', 'user' || i || '@example.com', $1, $2, TRUE, md5(random()::text || i::text) || md5(i::text), 0, $1
                    FROM generate_series(1, $3::bigint) AS i"#,
                params: &[Param::Now, Param::Hash, Param::Users],
            },
            Sql {
                text: r#"INSERT INTO "profile" ("id", "name", "name_key", "created_at", "updated_at")
                    SELECT j, 'Profile ' || j, 'profile ' || j, $1, $1 FROM generate_series(1, $2::bigint) AS j"#,
                params: &[Param::Now, Param::Profiles],
            },
            Sql {
                text: r#"INSERT INTO "user_profile" ("user_id", "profile_id", "role", "created_at")
                    SELECT i, ((i * 7 + t * 131) % $1::bigint) + 1, CASE WHEN t = 0 THEN 'OWNER' ELSE 'MANAGER' END, $2
                    FROM generate_series(1, $3::bigint) AS i, generate_series(0, $4::bigint) AS t"#,
                params: &[Param::Profiles, Param::Now, Param::Users, Param::LastLink],
            },
            Sql {
                text: r#"SELECT setval(pg_get_serial_sequence('"user"', 'id'), $1::bigint), setval(pg_get_serial_sequence('"profile"', 'id'), $2::bigint)"#,
                params: &[Param::Users, Param::Profiles],
            },
        ],
        _ => [
            Sql {
                text: r#"DELETE FROM "user""#,
                params: &[],
            },
            Sql {
                text: r#"WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
                    INSERT INTO "user" ("id", "email", "email_key", "created_at", "password_hash", "active", "fs_uniquifier", "login_count", "updated_at")
                    SELECT i, 'user' || i || '@example.com', 'user' || i || '@example.com', ?, ?, TRUE, lower(hex(randomblob(16))), 0, ? FROM seq"#,
                params: &[Param::Users, Param::Now, Param::Hash, Param::Now],
            },
            Sql {
                text: r#"DELETE FROM "profile""#,
                params: &[],
            },
            Sql {
                text: r#"WITH RECURSIVE seq(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM seq WHERE j < ?)
                    INSERT INTO "profile" ("id", "name", "name_key", "created_at", "updated_at")
                    SELECT j, 'Profile ' || j, 'profile ' || j, ?, ? FROM seq"#,
                params: &[Param::Profiles, Param::Now, Param::Now],
            },
            Sql {
                text: r#"WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?),
                    links(t) AS (SELECT 0 UNION ALL SELECT t + 1 FROM links WHERE t < ?)
                    INSERT INTO "user_profile" ("user_id", "profile_id", "role", "created_at")
                    SELECT i, ((i * 7 + t * 131) % ?) + 1, CASE WHEN t = 0 THEN 'OWNER' ELSE 'MANAGER' END, ?
                    FROM seq, links"#,
                params: &[Param::Users, Param::LastLink, Param::Profiles, Param::Now],
            },
        ],
    }
}
