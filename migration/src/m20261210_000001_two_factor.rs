//! Freshness, the second factor and invitations by mail: when each session's sign-in happened
//! (refresh tokens carry it on), what a mailed token is for beyond its purpose (the new address
//! of a change of email), each user's TOTP secret with the last time step used, recovery codes
//! and the tokens of mailed invitations, kept as digests; the requests that mail someone, by
//! client address; and the queue of requests for mail about an address (a reset link, a new
//! confirmation link), answered by the sender, so the request is the same work for any address.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RefreshToken {
    Table,
    SignedInAt,
}

#[derive(DeriveIden)]
enum AccountToken {
    Table,
    Detail,
}

#[derive(DeriveIden)]
enum ProfileInvitation {
    Table,
    TokenDigest,
}

#[derive(DeriveIden)]
enum UserTotp {
    Table,
    UserId,
    Secret,
    CreatedAt,
    ConfirmedAt,
    LastStep,
}

#[derive(DeriveIden)]
enum RecoveryCode {
    Table,
    Id,
    UserId,
    Digest,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MailRequest {
    Table,
    Id,
    Ip,
    At,
}

#[derive(DeriveIden)]
enum AccountRequest {
    Table,
    Id,
    Kind,
    Email,
    CreatedAt,
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
            .alter_table(
                Table::alter()
                    .table(RefreshToken::Table)
                    .add_column(timestamp_with_time_zone_null(RefreshToken::SignedInAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AccountToken::Table)
                    .add_column(string_len_null(AccountToken::Detail, 320))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ProfileInvitation::Table)
                    .add_column(string_len_null(ProfileInvitation::TokenDigest, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("profile_invitation_token_digest_idx")
                    .table(ProfileInvitation::Table)
                    .col(ProfileInvitation::TokenDigest)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UserTotp::Table)
                    .col(big_integer(UserTotp::UserId).primary_key())
                    .col(string_len(UserTotp::Secret, 64))
                    .col(timestamp_with_time_zone(UserTotp::CreatedAt))
                    .col(timestamp_with_time_zone_null(UserTotp::ConfirmedAt))
                    .col(big_integer(UserTotp::LastStep).default(0))
                    .foreign_key(
                        ForeignKey::create()
                            .name("user_totp_user_id_fkey")
                            .from(UserTotp::Table, UserTotp::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecoveryCode::Table)
                    .col(big_pk_auto(RecoveryCode::Id))
                    .col(big_integer(RecoveryCode::UserId))
                    .col(string_len(RecoveryCode::Digest, 64))
                    .col(timestamp_with_time_zone(RecoveryCode::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("recovery_code_user_id_fkey")
                            .from(RecoveryCode::Table, RecoveryCode::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("recovery_code_user_id_digest_idx")
                    .table(RecoveryCode::Table)
                    .col(RecoveryCode::UserId)
                    .col(RecoveryCode::Digest)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MailRequest::Table)
                    .col(big_pk_auto(MailRequest::Id))
                    .col(string_len(MailRequest::Ip, 64))
                    .col(timestamp_with_time_zone(MailRequest::At))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("mail_request_ip_at_idx")
                    .table(MailRequest::Table)
                    .col(MailRequest::Ip)
                    .col(MailRequest::At)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AccountRequest::Table)
                    .col(big_pk_auto(AccountRequest::Id))
                    .col(string_len(AccountRequest::Kind, 32))
                    .col(string_len(AccountRequest::Email, 320))
                    .col(timestamp_with_time_zone(AccountRequest::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccountRequest::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(MailRequest::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RecoveryCode::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(UserTotp::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("profile_invitation_token_digest_idx")
                    .table(ProfileInvitation::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ProfileInvitation::Table)
                    .drop_column(ProfileInvitation::TokenDigest)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AccountToken::Table)
                    .drop_column(AccountToken::Detail)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(RefreshToken::Table)
                    .drop_column(RefreshToken::SignedInAt)
                    .to_owned(),
            )
            .await
    }
}
