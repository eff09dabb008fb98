//! Uploaded files: `media_files` holds each file's metadata (the bytes are in the storage
//! `UPLOAD_DIR` or `UPLOAD_STORAGE_URL` names, under `storage_key`), and `messages.file_id` links
//! a message to the uploaded file it carries.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    FileId,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum MediaFiles {
    Table,
    Id,
    UploaderId,
    ConversationId,
    MessageId,
    Name,
    Mime,
    Size,
    Kind,
    Width,
    Height,
    StorageKey,
    CreatedAt,
}

// The trait's async methods take `&SchemaManager` with its lifetime elided.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .add_column(string_null(Messages::FileId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MediaFiles::Table)
                    .col(string(MediaFiles::Id).primary_key())
                    .col(string(MediaFiles::UploaderId))
                    .col(big_integer(MediaFiles::ConversationId))
                    .col(big_integer_null(MediaFiles::MessageId))
                    .col(string(MediaFiles::Name))
                    .col(string(MediaFiles::Mime))
                    .col(big_integer(MediaFiles::Size))
                    .col(string(MediaFiles::Kind))
                    .col(integer_null(MediaFiles::Width))
                    .col(integer_null(MediaFiles::Height))
                    .col(string(MediaFiles::StorageKey))
                    .col(timestamp_with_time_zone(MediaFiles::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(MediaFiles::Table, MediaFiles::ConversationId)
                            .to(Conversations::Table, Conversations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MediaFiles::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .drop_column(Messages::FileId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
