//! Group details on `conversations`: `description` and `avatar_url` (the title is `title`).
//! Members' roles (`admin`, `moderator`, `member`) were in `participants.role` from the start.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Description,
    AvatarUrl,
}

// The trait's async methods take `&SchemaManager` with its lifetime elided.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Conversations::Table)
                    .add_column(text_null(Conversations::Description))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Conversations::Table)
                    .add_column(string_null(Conversations::AvatarUrl))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Conversations::AvatarUrl, Conversations::Description] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Conversations::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
