//! Cards that change: a user's display name, and the count of changes to users' cards that
//! replicas keeping cards check their cache against.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum User {
    Table,
    DisplayName,
}

#[derive(DeriveIden)]
enum CardEpoch {
    Table,
    Id,
    Epoch,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(User::Table)
                    .add_column(string_len_null(User::DisplayName, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CardEpoch::Table)
                    .col(integer(CardEpoch::Id).primary_key())
                    .col(big_integer(CardEpoch::Epoch))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(CardEpoch::Table)
                    .columns([CardEpoch::Id, CardEpoch::Epoch])
                    .values_panic([1.into(), 0.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CardEpoch::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(User::Table)
                    .drop_column(User::DisplayName)
                    .to_owned(),
            )
            .await
    }
}
