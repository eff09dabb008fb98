//! Chat requests, blocking, archiving and muting:
//!
//! - `conversations.opened_by`: who opened a direct conversation (or created a group), so a
//!   pending request knows its initiator;
//! - `participants.rejected_at`: when the recipient of a chat request declined it;
//! - `participants.muted_at`: when the member muted the conversation (a new message does not
//!   bring a muted, archived conversation back to the member's active list);
//! - `participants.archived_seq`: the conversation's last `seq` when the member archived it (a
//!   later message brings it back, unless muted);
//! - `blocks`: who blocks whom, one row per ordered pair, with an index by the blocked user.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Conversations {
    Table,
    OpenedBy,
}

#[derive(DeriveIden)]
enum Participants {
    Table,
    RejectedAt,
    MutedAt,
    ArchivedSeq,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Blocks {
    Table,
    BlockerId,
    BlockedId,
    CreatedAt,
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
            add(Conversations::Table, string_null(Conversations::OpenedBy)),
            add(
                Participants::Table,
                timestamp_with_time_zone_null(Participants::RejectedAt),
            ),
            add(
                Participants::Table,
                timestamp_with_time_zone_null(Participants::MutedAt),
            ),
            add(
                Participants::Table,
                big_integer_null(Participants::ArchivedSeq),
            ),
        ] {
            manager.alter_table(alter).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Blocks::Table)
                    .col(string(Blocks::BlockerId))
                    .col(string(Blocks::BlockedId))
                    .col(timestamp_with_time_zone(Blocks::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(Blocks::BlockerId)
                            .col(Blocks::BlockedId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Blocks::Table, Blocks::BlockerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Blocks::Table, Blocks::BlockedId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Who blocks a user (typing in groups hides from them).
        manager
            .create_index(
                Index::create()
                    .name("idx_blocks_blocked")
                    .table(Blocks::Table)
                    .col(Blocks::BlockedId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Blocks::Table).to_owned())
            .await?;
        for alter in [
            drop(Participants::Table, Participants::ArchivedSeq),
            drop(Participants::Table, Participants::MutedAt),
            drop(Participants::Table, Participants::RejectedAt),
            drop(Conversations::Table, Conversations::OpenedBy),
        ] {
            manager.alter_table(alter).await?;
        }
        Ok(())
    }
}
