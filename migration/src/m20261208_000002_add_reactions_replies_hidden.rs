//! Reactions, replies and messages hidden by one member:
//!
//! - `reactions`: one row per message, user and emoji (a user reacts with an emoji at most once);
//! - `messages.reply_count`: how many live replies a message has, and an index by `reply_to`
//!   to list a thread;
//! - `hidden_messages`: a message a member deleted for themselves only.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    ReplyTo,
    ReplyCount,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Reactions {
    Table,
    MessageId,
    UserId,
    Emoji,
    CreatedAt,
}

#[derive(DeriveIden)]
enum HiddenMessages {
    Table,
    UserId,
    MessageId,
    CreatedAt,
}

/// A foreign key from `table.column` to `messages.id`, removed with the message.
fn to_message(table: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Messages::Table, Messages::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// A foreign key from `table.column` to `users.id`.
fn to_user(table: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
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
                    .add_column(big_integer(Messages::ReplyCount).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_messages_reply_to")
                    .table(Messages::Table)
                    .col(Messages::ReplyTo)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Reactions::Table)
                    .col(big_integer(Reactions::MessageId))
                    .col(string(Reactions::UserId))
                    .col(string(Reactions::Emoji))
                    .col(timestamp_with_time_zone(Reactions::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(Reactions::MessageId)
                            .col(Reactions::UserId)
                            .col(Reactions::Emoji),
                    )
                    .foreign_key(&mut to_message(Reactions::Table, Reactions::MessageId))
                    .foreign_key(&mut to_user(Reactions::Table, Reactions::UserId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(HiddenMessages::Table)
                    .col(string(HiddenMessages::UserId))
                    .col(big_integer(HiddenMessages::MessageId))
                    .col(timestamp_with_time_zone(HiddenMessages::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(HiddenMessages::UserId)
                            .col(HiddenMessages::MessageId),
                    )
                    .foreign_key(&mut to_message(
                        HiddenMessages::Table,
                        HiddenMessages::MessageId,
                    ))
                    .foreign_key(&mut to_user(HiddenMessages::Table, HiddenMessages::UserId))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            HiddenMessages::Table.into_iden(),
            Reactions::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("idx_messages_reply_to")
                    .table(Messages::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .drop_column(Messages::ReplyCount)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
