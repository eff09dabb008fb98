//! The message lifecycle and receipts:
//!
//! - `messages`: an attachment's name, MIME type, size in bytes and (voice) duration in
//!   milliseconds, for messages of kind `image`, `file` and `voice`;
//! - `participants`: a delivered position (`last_delivered_seq`, `last_delivered_at`) beside the
//!   read position;
//! - `read_marks`: every move of a read position (who, where, up to which `seq`, when), so that
//!   a message's readers and the time each read it can be told;
//! - `users`: the presence status a user chose (`away`, `busy`, `invisible`; none is online);
//! - `conversations`: when a group was dissolved.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    AttachmentName,
    AttachmentMime,
    AttachmentSize,
    AttachmentDurationMs,
}

#[derive(DeriveIden)]
enum Participants {
    Table,
    LastDeliveredSeq,
    LastDeliveredAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    PresenceStatus,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
    DissolvedAt,
}

#[derive(DeriveIden)]
enum ReadMarks {
    Table,
    Id,
    ConversationId,
    UserId,
    UpToSeq,
    ReadAt,
}

/// One `ADD COLUMN` per statement: SQLite adds one at a time.
fn add(table: impl IntoIden, column: ColumnDef) -> TableAlterStatement {
    Table::alter().table(table).add_column(column).to_owned()
}

fn drop(table: impl IntoIden, column: impl IntoIden) -> TableAlterStatement {
    Table::alter().table(table).drop_column(column).to_owned()
}

// The trait's async methods take `&SchemaManager` with its lifetime elided.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for alter in [
            add(Messages::Table, string_null(Messages::AttachmentName)),
            add(Messages::Table, string_null(Messages::AttachmentMime)),
            add(Messages::Table, big_integer_null(Messages::AttachmentSize)),
            add(
                Messages::Table,
                big_integer_null(Messages::AttachmentDurationMs),
            ),
            add(
                Participants::Table,
                big_integer(Participants::LastDeliveredSeq)
                    .default(0)
                    .take(),
            ),
            add(
                Participants::Table,
                timestamp_with_time_zone_null(Participants::LastDeliveredAt),
            ),
            add(Users::Table, string_null(Users::PresenceStatus)),
            add(
                Conversations::Table,
                timestamp_with_time_zone_null(Conversations::DissolvedAt),
            ),
        ] {
            manager.alter_table(alter).await?;
        }
        // What was read was delivered.
        manager
            .get_connection()
            .execute_unprepared("UPDATE participants SET last_delivered_seq = last_read_seq")
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReadMarks::Table)
                    .col(big_pk_auto(ReadMarks::Id))
                    .col(big_integer(ReadMarks::ConversationId))
                    .col(string(ReadMarks::UserId))
                    .col(big_integer(ReadMarks::UpToSeq))
                    .col(timestamp_with_time_zone(ReadMarks::ReadAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ReadMarks::Table, ReadMarks::ConversationId)
                            .to(Conversations::Table, Conversations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A message's readers: the marks of its conversation at or past its `seq`.
        manager
            .create_index(
                Index::create()
                    .name("idx_read_marks_conversation_seq")
                    .table(ReadMarks::Table)
                    .col(ReadMarks::ConversationId)
                    .col(ReadMarks::UpToSeq)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ReadMarks::Table).to_owned())
            .await?;
        for alter in [
            drop(Conversations::Table, Conversations::DissolvedAt),
            drop(Users::Table, Users::PresenceStatus),
            drop(Participants::Table, Participants::LastDeliveredAt),
            drop(Participants::Table, Participants::LastDeliveredSeq),
            drop(Messages::Table, Messages::AttachmentDurationMs),
            drop(Messages::Table, Messages::AttachmentSize),
            drop(Messages::Table, Messages::AttachmentMime),
            drop(Messages::Table, Messages::AttachmentName),
        ] {
            manager.alter_table(alter).await?;
        }
        Ok(())
    }
}
