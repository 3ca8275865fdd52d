//! Login attempts in place of failed logins: keyed by the account's identifier (a digest of
//! the normalized email, whether or not an account has it) and the client address, so an
//! unknown email is throttled exactly like a known one, and failures from one address do not
//! lock the account for its other addresses.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LoginFailure {
    Table,
}

#[derive(DeriveIden)]
enum LoginAttempt {
    Table,
    Id,
    Account,
    Ip,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LoginFailure::Table).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoginAttempt::Table)
                    .col(big_pk_auto(LoginAttempt::Id))
                    .col(string_len(LoginAttempt::Account, 64))
                    .col(string_len(LoginAttempt::Ip, 64))
                    .col(timestamp_with_time_zone(LoginAttempt::At))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("login_attempt_account_at_idx", LoginAttempt::Account),
            ("login_attempt_ip_at_idx", LoginAttempt::Ip),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(LoginAttempt::Table)
                        .col(column)
                        .col(LoginAttempt::At)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LoginAttempt::Table).to_owned())
            .await?;
        crate::m20261125_000002_accounts::create_login_failures(manager).await
    }
}
