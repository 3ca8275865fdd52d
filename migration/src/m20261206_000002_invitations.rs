//! Invitations to manage a profile: sent by its owners to an email address, decided by whoever
//! has that address. The invitee is kept as a digest of the folded address, so an invitation
//! reaches the account that has the address now or registers it later, and nothing is read of
//! the users table when an invitation is sent.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ProfileInvitation {
    Table,
    Id,
    ProfileId,
    InviterId,
    Email,
    Invitee,
    Role,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Profile {
    Table,
    Id,
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
                    .table(ProfileInvitation::Table)
                    .col(big_pk_auto(ProfileInvitation::Id))
                    .col(big_integer(ProfileInvitation::ProfileId))
                    .col(big_integer(ProfileInvitation::InviterId))
                    .col(string_len(ProfileInvitation::Email, 254))
                    .col(string_len(ProfileInvitation::Invitee, 64))
                    .col(string_len(ProfileInvitation::Role, 16))
                    .col(timestamp_with_time_zone(ProfileInvitation::CreatedAt))
                    .col(timestamp_with_time_zone(ProfileInvitation::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("profile_invitation_profile_id_fkey")
                            .from(ProfileInvitation::Table, ProfileInvitation::ProfileId)
                            .to(Profile::Table, Profile::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("profile_invitation_inviter_id_fkey")
                            .from(ProfileInvitation::Table, ProfileInvitation::InviterId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One invitation per address and profile (inviting again renews it); the profile's
        // list in order; the invitee's list in order; what an inviter has pending.
        let indexes = [
            (
                "profile_invitation_profile_id_invitee_key",
                true,
                [ProfileInvitation::ProfileId, ProfileInvitation::Invitee],
            ),
            (
                "profile_invitation_profile_id_id_idx",
                false,
                [ProfileInvitation::ProfileId, ProfileInvitation::Id],
            ),
            (
                "profile_invitation_invitee_id_idx",
                false,
                [ProfileInvitation::Invitee, ProfileInvitation::Id],
            ),
            (
                "profile_invitation_inviter_id_expires_at_idx",
                false,
                [ProfileInvitation::InviterId, ProfileInvitation::ExpiresAt],
            ),
        ];
        for (name, unique, [first, second]) in indexes {
            let mut index = Index::create();
            index
                .name(name)
                .table(ProfileInvitation::Table)
                .col(first)
                .col(second);
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ProfileInvitation::Table).to_owned())
            .await
    }
}
