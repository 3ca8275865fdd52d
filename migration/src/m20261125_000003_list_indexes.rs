//! Indexes for the orders of the top-level lists, so a page by any order is an index scan.
//! (Ordering users by email uses the unique index on `lower(email)`.)

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Index name, table, and the indexed expressions (the same SQL on SQLite and PostgreSQL).
const INDEXES: [(&str, &str, &str); 4] = [
    ("user_created_at_id_idx", "user", r#""created_at", "id""#),
    (
        "profile_name_lower_id_idx",
        "profile",
        r#"lower("name"), "id""#,
    ),
    (
        "profile_created_at_id_idx",
        "profile",
        r#""created_at", "id""#,
    ),
    (
        "profile_updated_at_id_idx",
        "profile",
        r#""updated_at", "id""#,
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, table, columns) in INDEXES {
            db.execute_unprepared(&format!(
                r#"CREATE INDEX "{name}" ON "{table}" ({columns})"#
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, _, _) in INDEXES {
            db.execute_unprepared(&format!(r#"DROP INDEX "{name}""#))
                .await?;
        }
        Ok(())
    }
}
