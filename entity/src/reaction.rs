//! `reactions`: emoji reactions to messages.

use sea_orm::entity::prelude::*;

/// `user_id` reacted to `message_id` with `emoji` (at most once per user and emoji).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reactions")]
pub struct Model {
    /// The message.
    #[sea_orm(primary_key, auto_increment = false)]
    pub message_id: i64,
    /// Who reacted.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    /// The emoji.
    #[sea_orm(primary_key, auto_increment = false)]
    pub emoji: String,
    /// When.
    pub created_at: DateTimeUtc,
}

/// No navigable relations are declared; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
