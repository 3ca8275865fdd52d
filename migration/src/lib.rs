//! Database migrations of Roster; the same migrations run on SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_core;
mod m20261125_000002_accounts;
mod m20261125_000003_list_indexes;
mod m20261201_000001_user_cards;
mod m20261206_000001_login_attempts;
mod m20261206_000002_invitations;
mod m20261207_000001_folded_text;
mod m20261208_000001_persisted_queries;
mod m20261209_000001_mail;
mod m20261210_000001_two_factor;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_core::Migration),
            Box::new(m20261125_000002_accounts::Migration),
            Box::new(m20261125_000003_list_indexes::Migration),
            Box::new(m20261201_000001_user_cards::Migration),
            Box::new(m20261206_000001_login_attempts::Migration),
            Box::new(m20261206_000002_invitations::Migration),
            Box::new(m20261207_000001_folded_text::Migration),
            Box::new(m20261208_000001_persisted_queries::Migration),
            Box::new(m20261209_000001_mail::Migration),
            Box::new(m20261210_000001_two_factor::Migration),
        ]
    }
}
