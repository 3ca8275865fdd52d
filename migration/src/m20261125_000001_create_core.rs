//! Users, profiles and the link between them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
    Email,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Profile {
    Table,
    Id,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UserProfile {
    Table,
    UserId,
    ProfileId,
    Role,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(User::Table)
                    .col(big_pk_auto(User::Id))
                    .col(string_len(User::Email, 320))
                    .col(timestamp_with_time_zone(User::CreatedAt))
                    .to_owned(),
            )
            .await?;
        // Emails are unique regardless of case; the expression index also serves lookups by
        // lower(email). Raw SQL because the same statement is valid on SQLite and PostgreSQL.
        manager
            .get_connection()
            .execute_unprepared(
                r#"CREATE UNIQUE INDEX "user_email_lower_key" ON "user" (lower("email"))"#,
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Profile::Table)
                    .col(big_pk_auto(Profile::Id))
                    .col(string_len(Profile::Name, 255))
                    .col(timestamp_with_time_zone(Profile::CreatedAt))
                    .col(timestamp_with_time_zone(Profile::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserProfile::Table)
                    .col(big_integer(UserProfile::UserId))
                    .col(big_integer(UserProfile::ProfileId))
                    .col(string_len(UserProfile::Role, 16))
                    .col(timestamp_with_time_zone(UserProfile::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(UserProfile::UserId)
                            .col(UserProfile::ProfileId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("user_profile_user_id_fkey")
                            .from(UserProfile::Table, UserProfile::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("user_profile_profile_id_fkey")
                            .from(UserProfile::Table, UserProfile::ProfileId)
                            .to(Profile::Table, Profile::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The primary key (user_id, profile_id) serves lookups by user; this one serves lookups
        // by profile, and carries user_id so a profile's users come out of the index in order.
        manager
            .create_index(
                Index::create()
                    .name("user_profile_profile_id_user_id_idx")
                    .table(UserProfile::Table)
                    .col(UserProfile::ProfileId)
                    .col(UserProfile::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserProfile::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Profile::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(User::Table).to_owned())
            .await
    }
}
