//! Accounts and access: credentials, tracking, roles, refresh tokens, failed logins, and the
//! server's generated secrets.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
    PasswordHash,
    Active,
    FsUniquifier,
    ConfirmedAt,
    LastLoginAt,
    CurrentLoginAt,
    LastLoginIp,
    CurrentLoginIp,
    LoginCount,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Role {
    Table,
    Id,
    Name,
    Description,
    Permissions,
}

#[derive(DeriveIden)]
enum UserRole {
    Table,
    UserId,
    RoleId,
}

#[derive(DeriveIden)]
enum RefreshToken {
    Table,
    Id,
    UserId,
    Family,
    TokenHash,
    Uniquifier,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum LoginFailure {
    Table,
    Id,
    UserId,
    Ip,
    FailedAt,
}

#[derive(DeriveIden)]
enum ServerSecret {
    Table,
    Name,
    Value,
    CreatedAt,
}

/// Every permission; the seeded `admin` role has them all.
const ALL_PERMISSIONS: &str = "users:read,users:write,profiles:read,profiles:write";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_user_columns(manager).await?;
        create_roles(manager).await?;
        create_refresh_tokens(manager).await?;
        create_login_failures(manager).await?;
        manager
            .create_table(
                Table::create()
                    .table(ServerSecret::Table)
                    .col(string_len(ServerSecret::Name, 64).primary_key())
                    .col(text(ServerSecret::Value))
                    .col(timestamp_with_time_zone(ServerSecret::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ServerSecret::Table.into_iden(),
            LoginFailure::Table.into_iden(),
            RefreshToken::Table.into_iden(),
            UserRole::Table.into_iden(),
            Role::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("user_fs_uniquifier_key")
                    .table(User::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            User::PasswordHash,
            User::Active,
            User::FsUniquifier,
            User::ConfirmedAt,
            User::LastLoginAt,
            User::CurrentLoginAt,
            User::LastLoginIp,
            User::CurrentLoginIp,
            User::LoginCount,
            User::UpdatedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(User::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// SQLite adds one column per statement, and a NOT NULL column needs a default.
async fn add_user_columns(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let columns = [
        // Users created before accounts existed have no password and cannot log in.
        text(User::PasswordHash).default("").to_owned(),
        boolean(User::Active).default(true).to_owned(),
        string_len(User::FsUniquifier, 64).default("").to_owned(),
        timestamp_with_time_zone_null(User::ConfirmedAt),
        timestamp_with_time_zone_null(User::LastLoginAt),
        timestamp_with_time_zone_null(User::CurrentLoginAt),
        string_len_null(User::LastLoginIp, 64),
        string_len_null(User::CurrentLoginIp, 64),
        big_integer(User::LoginCount).default(0).to_owned(),
        timestamp_with_time_zone(User::UpdatedAt)
            .default("1970-01-01T00:00:00+00:00")
            .to_owned(),
    ];
    for mut column in columns {
        manager
            .alter_table(
                Table::alter()
                    .table(User::Table)
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
    }
    let random_hex = match manager.get_database_backend() {
        DatabaseBackend::Postgres => {
            "replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')"
        }
        _ => "lower(hex(randomblob(32)))",
    };
    let db = manager.get_connection();
    db.execute_unprepared(&format!(
        r#"UPDATE "user" SET "fs_uniquifier" = {random_hex}, "updated_at" = "created_at""#
    ))
    .await?;
    manager
        .create_index(
            Index::create()
                .name("user_fs_uniquifier_key")
                .table(User::Table)
                .col(User::FsUniquifier)
                .unique()
                .to_owned(),
        )
        .await
}

async fn create_roles(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Role::Table)
                .col(big_pk_auto(Role::Id))
                .col(string_len_uniq(Role::Name, 80))
                .col(text(Role::Description).default(""))
                .col(text(Role::Permissions).default(""))
                .to_owned(),
        )
        .await?;
    manager
        .create_table(
            Table::create()
                .table(UserRole::Table)
                .col(big_integer(UserRole::UserId))
                .col(big_integer(UserRole::RoleId))
                .primary_key(Index::create().col(UserRole::UserId).col(UserRole::RoleId))
                .foreign_key(
                    ForeignKey::create()
                        .name("user_role_user_id_fkey")
                        .from(UserRole::Table, UserRole::UserId)
                        .to(User::Table, User::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("user_role_role_id_fkey")
                        .from(UserRole::Table, UserRole::RoleId)
                        .to(Role::Table, Role::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("user_role_role_id_idx")
                .table(UserRole::Table)
                .col(UserRole::RoleId)
                .to_owned(),
        )
        .await?;
    let seed = Query::insert()
        .into_table(Role::Table)
        .columns([Role::Name, Role::Description, Role::Permissions])
        .values_panic([
            "admin".into(),
            "Administrators: every permission".into(),
            ALL_PERMISSIONS.into(),
        ])
        .to_owned();
    manager.exec_stmt(seed).await
}

async fn create_refresh_tokens(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(RefreshToken::Table)
                .col(big_pk_auto(RefreshToken::Id))
                .col(big_integer(RefreshToken::UserId))
                .col(string_len(RefreshToken::Family, 64))
                .col(string_len_uniq(RefreshToken::TokenHash, 64))
                .col(string_len(RefreshToken::Uniquifier, 64))
                .col(timestamp_with_time_zone(RefreshToken::CreatedAt))
                .col(timestamp_with_time_zone(RefreshToken::ExpiresAt))
                .col(timestamp_with_time_zone_null(RefreshToken::UsedAt))
                .col(timestamp_with_time_zone_null(RefreshToken::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("refresh_token_user_id_fkey")
                        .from(RefreshToken::Table, RefreshToken::UserId)
                        .to(User::Table, User::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
    for (name, column) in [
        ("refresh_token_family_idx", RefreshToken::Family),
        ("refresh_token_user_id_idx", RefreshToken::UserId),
    ] {
        manager
            .create_index(
                Index::create()
                    .name(name)
                    .table(RefreshToken::Table)
                    .col(column)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

pub(crate) async fn create_login_failures(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(LoginFailure::Table)
                .col(big_pk_auto(LoginFailure::Id))
                .col(big_integer_null(LoginFailure::UserId))
                .col(string_len(LoginFailure::Ip, 64))
                .col(timestamp_with_time_zone(LoginFailure::FailedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("login_failure_user_id_fkey")
                        .from(LoginFailure::Table, LoginFailure::UserId)
                        .to(User::Table, User::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
    for (name, column) in [
        ("login_failure_user_id_failed_at_idx", LoginFailure::UserId),
        ("login_failure_ip_failed_at_idx", LoginFailure::Ip),
    ] {
        manager
            .create_index(
                Index::create()
                    .name(name)
                    .table(LoginFailure::Table)
                    .col(column)
                    .col(LoginFailure::FailedAt)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}
