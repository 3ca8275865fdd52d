//! Folded keys beside the text that is compared: `user.email_key`, unique in place of the index
//! on `lower(email)`, and `profile.name_key`, which profiles are filtered and ordered by. Both
//! are computed in Rust (`entity::folded`), here for the rows already there, and compared
//! bytewise on both databases: PostgreSQL's collation "C" and SQLite's BINARY both compare
//! UTF-8 bytes, which is code point order.

use std::collections::HashSet;

use entity::folded;
use sea_orm_migration::{
    prelude::*,
    schema::*,
    sea_orm::{ConnectionTrait, DatabaseBackend},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum User {
    Table,
    Id,
    Email,
    EmailKey,
}

#[derive(DeriveIden, Clone, Copy)]
enum Profile {
    Table,
    Id,
    Name,
    NameKey,
}

/// Rows read and written per statement while filling the keys.
const BATCH: u64 = 500;

/// Appended to the key of an account whose email folds like an older account's, with its key.
/// Keys are in NFKC, which maps U+FF03 FULLWIDTH NUMBER SIGN to `#`: no email has this key, so
/// the account keeps its row but cannot log in until an operator settles the two.
const DUPLICATE: char = '\u{FF03}';

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let postgres = manager.get_database_backend() == DatabaseBackend::Postgres;
        add_key(manager, User::Table, User::EmailKey, postgres).await?;
        add_key(manager, Profile::Table, Profile::NameKey, postgres).await?;
        let user = [User::Table, User::Id, User::Email, User::EmailKey];
        fill(db, user, folded::email_key).await?;
        let profile = [Profile::Table, Profile::Id, Profile::Name, Profile::NameKey];
        fill(db, profile, folded::fold).await?;
        set_duplicates_apart(db).await?;
        if postgres {
            // The default only served the rows already there: a writer must give the key.
            for (table, column) in [("user", "email_key"), ("profile", "name_key")] {
                db.execute_unprepared(&format!(
                    r#"ALTER TABLE "{table}" ALTER COLUMN "{column}" DROP DEFAULT"#
                ))
                .await?;
            }
        }
        for sql in [
            r#"DROP INDEX "user_email_lower_key""#,
            r#"CREATE UNIQUE INDEX "user_email_key_key" ON "user" ("email_key")"#,
            r#"DROP INDEX "profile_name_lower_id_idx""#,
            r#"CREATE INDEX "profile_name_key_id_idx" ON "profile" ("name_key", "id")"#,
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in [
            r#"DROP INDEX "profile_name_key_id_idx""#,
            r#"CREATE INDEX "profile_name_lower_id_idx" ON "profile" (lower("name"), "id")"#,
            r#"DROP INDEX "user_email_key_key""#,
            r#"CREATE UNIQUE INDEX "user_email_lower_key" ON "user" (lower("email"))"#,
        ] {
            db.execute_unprepared(sql).await?;
        }
        for (table, column) in [
            (User::Table.into_iden(), User::EmailKey.into_iden()),
            (Profile::Table.into_iden(), Profile::NameKey.into_iden()),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Adds the key column `column` to `table`: text compared bytewise, empty until filled.
async fn add_key(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    column: impl IntoIden,
    postgres: bool,
) -> Result<(), DbErr> {
    let mut key = text(column).default("").to_owned();
    if postgres {
        key.extra(r#"COLLATE "C""#);
    }
    manager
        .alter_table(Table::alter().table(table).add_column(&mut key).to_owned())
        .await
}

/// Sets `key` of every row of `table` to `fold` of its `text`, a batch at a time in key order.
async fn fill<C: ConnectionTrait, T: IntoIden + Copy>(
    db: &C,
    [table, id, text, key]: [T; 4],
    fold: impl Fn(&str) -> String,
) -> Result<(), DbErr> {
    let mut after = 0_i64;
    loop {
        let read = Query::select()
            .columns([id, text])
            .from(table)
            .and_where(Expr::col(id).gt(after))
            .order_by(id, Order::Asc)
            .limit(BATCH)
            .to_owned();
        let rows = db.query_all(&read).await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.try_get_by_index(0)?;
        let mut keys = CaseStatement::new();
        let mut ids = Vec::with_capacity(rows.len());
        for row in &rows {
            let row_id: i64 = row.try_get_by_index(0)?;
            let row_text: String = row.try_get_by_index(1)?;
            let key = within_index(fold(&row_text));
            keys = keys.case(Expr::col(id).eq(row_id), Expr::val(key));
            ids.push(row_id);
        }
        let write = Query::update()
            .table(table)
            .value(key, keys.finally(Expr::col(key)))
            .and_where(Expr::col(id).is_in(ids))
            .to_owned();
        db.execute(&write).await?;
    }
}

/// `key`, cut to `folded::MAX_KEY_BYTES` at a character boundary: names accepted before the
/// keys existed could fold longer (new ones are refused), and their keys must fit the index.
fn within_index(mut key: String) -> String {
    let mut end = folded::MAX_KEY_BYTES.min(key.len());
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    key.truncate(end);
    key
}

/// Keeps `email_key` unique where accounts registered apart fold alike (SQLite's `lower()`
/// folded ASCII only, so `Émile@` and `émile@` could both register): the oldest keeps the key,
/// each later one gets it marked with its own key (`DUPLICATE`), and is logged.
async fn set_duplicates_apart<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let shared = Query::select()
        .column(User::EmailKey)
        .from(User::Table)
        .group_by_col(User::EmailKey)
        .and_having(Expr::cust("COUNT(*) > 1"))
        .to_owned();
    let rows = db
        .query_all(
            &Query::select()
                .columns([User::Id, User::EmailKey])
                .from(User::Table)
                .and_where(Expr::col(User::EmailKey).in_subquery(shared))
                .order_by(User::EmailKey, Order::Asc)
                .order_by(User::Id, Order::Asc)
                .to_owned(),
        )
        .await?;
    let mut kept = HashSet::new();
    for row in rows {
        let id: i64 = row.try_get_by_index(0)?;
        let key: String = row.try_get_by_index(1)?;
        if kept.insert(key.clone()) {
            continue;
        }
        tracing::warn!(
            user_id = id,
            "the email of this user folds like an older account's: it keeps its row but cannot log in until an operator settles the two"
        );
        db.execute(
            &Query::update()
                .table(User::Table)
                .value(User::EmailKey, format!("{key}{DUPLICATE}{id}"))
                .and_where(Expr::col(User::Id).eq(id))
                .to_owned(),
        )
        .await?;
    }
    Ok(())
}
