//! `participants.accepted_at`: when the user took part in the conversation (sent in it, or joined
//! a group). A direct conversation someone else opened by writing to the user is not accepted
//! until the user writes back; presence is shown only where the user took part.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Participants {
    Table,
    AcceptedAt,
}

// The trait's async methods take `&SchemaManager` with its lifetime elided.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Participants::Table)
                    .add_column(timestamp_with_time_zone_null(Participants::AcceptedAt))
                    .to_owned(),
            )
            .await?;
        // Members of groups, and users who have written in a direct conversation, took part.
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE participants SET accepted_at = joined_at \
                 WHERE conversation_id IN (SELECT id FROM conversations WHERE kind <> 'direct') \
                 OR EXISTS (SELECT 1 FROM messages m \
                 WHERE m.conversation_id = participants.conversation_id \
                 AND m.sender_id = participants.user_id)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Participants::Table)
                    .drop_column(Participants::AcceptedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
