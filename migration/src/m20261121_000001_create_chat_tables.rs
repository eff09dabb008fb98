//! Users, conversations, participants and messages, with an index for every query the API makes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    IdIsNumber,
    Name,
    Username,
    Email,
    Avatar,
    LastSeenAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
    Kind,
    Title,
    #[sea_orm(iden = "participant_1_id")]
    Participant1Id,
    #[sea_orm(iden = "participant_2_id")]
    Participant2Id,
    LastMessage,
    LastMessageAt,
    LastSeq,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Participants {
    Table,
    ConversationId,
    UserId,
    Role,
    JoinedAt,
    LastReadSeq,
    LastReadAt,
    ArchivedAt,
    LeftAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    ConversationId,
    Seq,
    SenderId,
    ReceiverId,
    Content,
    AttachmentUrl,
    Kind,
    ReplyTo,
    ClientMsgId,
    ReadAt,
    CreatedAt,
    UpdatedAt,
    EditedAt,
    DeletedAt,
}

// async_trait's expansion needs the elided lifetime of the trait's signature.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(string(Users::Id).primary_key())
                    .col(boolean(Users::IdIsNumber))
                    .col(string_null(Users::Name))
                    .col(string_null(Users::Username))
                    .col(string_null(Users::Email))
                    .col(string_null(Users::Avatar))
                    .col(timestamp_with_time_zone_null(Users::LastSeenAt))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Conversations::Table)
                    .col(big_pk_auto(Conversations::Id))
                    .col(string(Conversations::Kind))
                    .col(string_null(Conversations::Title))
                    .col(string_null(Conversations::Participant1Id))
                    .col(string_null(Conversations::Participant2Id))
                    .col(text_null(Conversations::LastMessage))
                    .col(timestamp_with_time_zone_null(Conversations::LastMessageAt))
                    .col(big_integer(Conversations::LastSeq).default(0))
                    .col(timestamp_with_time_zone(Conversations::CreatedAt))
                    .col(timestamp_with_time_zone(Conversations::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Conversations::Table, Conversations::Participant1Id)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Conversations::Table, Conversations::Participant2Id)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // One direct conversation per pair (group rows leave both NULL, which never collide).
        manager
            .create_index(
                Index::create()
                    .name("uq_conversations_direct_pair")
                    .table(Conversations::Table)
                    .col(Conversations::Participant1Id)
                    .col(Conversations::Participant2Id)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Participants::Table)
                    .col(big_integer(Participants::ConversationId))
                    .col(string(Participants::UserId))
                    .col(string(Participants::Role))
                    .col(timestamp_with_time_zone(Participants::JoinedAt))
                    .col(big_integer(Participants::LastReadSeq).default(0))
                    .col(timestamp_with_time_zone_null(Participants::LastReadAt))
                    .col(timestamp_with_time_zone_null(Participants::ArchivedAt))
                    .col(timestamp_with_time_zone_null(Participants::LeftAt))
                    .primary_key(
                        Index::create()
                            .col(Participants::ConversationId)
                            .col(Participants::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Participants::Table, Participants::ConversationId)
                            .to(Conversations::Table, Conversations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Participants::Table, Participants::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // A user's conversations (list, unread counts, presence partners).
        manager
            .create_index(
                Index::create()
                    .name("idx_participants_user")
                    .table(Participants::Table)
                    .col(Participants::UserId)
                    .col(Participants::ConversationId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Messages::Table)
                    .col(big_pk_auto(Messages::Id))
                    .col(big_integer(Messages::ConversationId))
                    .col(big_integer(Messages::Seq))
                    .col(string(Messages::SenderId))
                    .col(string_null(Messages::ReceiverId))
                    .col(text(Messages::Content))
                    .col(string_null(Messages::AttachmentUrl))
                    .col(string(Messages::Kind))
                    .col(big_integer_null(Messages::ReplyTo))
                    .col(string_null(Messages::ClientMsgId))
                    .col(timestamp_with_time_zone_null(Messages::ReadAt))
                    .col(timestamp_with_time_zone(Messages::CreatedAt))
                    .col(timestamp_with_time_zone(Messages::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Messages::EditedAt))
                    .col(timestamp_with_time_zone_null(Messages::DeletedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Messages::Table, Messages::ConversationId)
                            .to(Conversations::Table, Conversations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Messages::Table, Messages::SenderId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Messages::Table, Messages::ReceiverId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Messages::Table, Messages::ReplyTo)
                            .to(Messages::Table, Messages::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        // History pages, catch-up after a seq, unread ranges; and the no-gap/no-duplicate rule.
        manager
            .create_index(
                Index::create()
                    .name("uq_messages_conversation_seq")
                    .table(Messages::Table)
                    .col(Messages::ConversationId)
                    .col(Messages::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Idempotent sends: one message per (sender, client message id).
        manager
            .create_index(
                Index::create()
                    .name("uq_messages_sender_client_msg")
                    .table(Messages::Table)
                    .col(Messages::SenderId)
                    .col(Messages::ClientMsgId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Messages addressed to a user (the seed's unread queries).
        manager
            .create_index(
                Index::create()
                    .name("idx_messages_receiver")
                    .table(Messages::Table)
                    .col(Messages::ReceiverId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Messages::Table.into_iden(),
            Participants::Table.into_iden(),
            Conversations::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
