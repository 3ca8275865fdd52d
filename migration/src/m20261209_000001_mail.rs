//! Mail: the outbox of messages to send, written in the transaction of the change that causes
//! each, and the single-use tokens that messages carry (stored as digests only). Accounts made
//! before addresses were confirmed count as confirmed.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MailOutbox {
    Table,
    Id,
    Recipient,
    Subject,
    TextBody,
    HtmlBody,
    CreatedAt,
    Attempts,
    NextAttemptAt,
    LastError,
}

#[derive(DeriveIden)]
enum AccountToken {
    Table,
    Id,
    UserId,
    Purpose,
    Digest,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MailOutbox::Table)
                    .col(big_pk_auto(MailOutbox::Id))
                    .col(string_len(MailOutbox::Recipient, 320))
                    .col(string_len(MailOutbox::Subject, 200))
                    .col(text(MailOutbox::TextBody))
                    .col(text(MailOutbox::HtmlBody))
                    .col(timestamp_with_time_zone(MailOutbox::CreatedAt))
                    .col(integer(MailOutbox::Attempts).default(0))
                    .col(timestamp_with_time_zone(MailOutbox::NextAttemptAt))
                    .col(text_null(MailOutbox::LastError))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("mail_outbox_next_attempt_at_idx")
                    .table(MailOutbox::Table)
                    .col(MailOutbox::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AccountToken::Table)
                    .col(big_pk_auto(AccountToken::Id))
                    .col(big_integer(AccountToken::UserId))
                    .col(string_len(AccountToken::Purpose, 32))
                    .col(string_len(AccountToken::Digest, 64).unique_key())
                    .col(timestamp_with_time_zone(AccountToken::CreatedAt))
                    .col(timestamp_with_time_zone(AccountToken::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("account_token_user_id_fkey")
                            .from(AccountToken::Table, AccountToken::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("account_token_user_id_purpose_idx")
                    .table(AccountToken::Table)
                    .col(AccountToken::UserId)
                    .col(AccountToken::Purpose)
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE \"user\" SET confirmed_at = created_at WHERE confirmed_at IS NULL",
            )
            .await
            .map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccountToken::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(MailOutbox::Table).to_owned())
            .await
    }
}
