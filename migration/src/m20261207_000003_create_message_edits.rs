//! `message_edits`: every edit of a message keeps the content it replaced, who edited it and when.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum MessageEdits {
    Table,
    Id,
    MessageId,
    EditorId,
    PreviousContent,
    EditedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
}

// The trait's async methods take `&SchemaManager` with its lifetime elided.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MessageEdits::Table)
                    .col(big_pk_auto(MessageEdits::Id))
                    .col(big_integer(MessageEdits::MessageId))
                    .col(string(MessageEdits::EditorId))
                    .col(text(MessageEdits::PreviousContent))
                    .col(timestamp_with_time_zone(MessageEdits::EditedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(MessageEdits::Table, MessageEdits::MessageId)
                            .to(Messages::Table, Messages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A message's edits, oldest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_message_edits_message")
                    .table(MessageEdits::Table)
                    .col(MessageEdits::MessageId)
                    .col(MessageEdits::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MessageEdits::Table).to_owned())
            .await?;
        Ok(())
    }
}
