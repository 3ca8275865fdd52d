//! Documents registered by automatic persisted queries, shared by every replica: a client
//! that registered a document on one replica finds it on the others.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PersistedQuery {
    Table,
    Hash,
    Document,
    Bytes,
    RegisteredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PersistedQuery::Table)
                    .col(string_len(PersistedQuery::Hash, 64).primary_key())
                    .col(text(PersistedQuery::Document))
                    .col(integer(PersistedQuery::Bytes))
                    .col(timestamp_with_time_zone(PersistedQuery::RegisteredAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("persisted_query_registered_at_idx")
                    .table(PersistedQuery::Table)
                    .col(PersistedQuery::RegisteredAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PersistedQuery::Table).to_owned())
            .await
    }
}
