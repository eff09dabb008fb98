//! `message_edits`: the content each edit of a message replaced.

use sea_orm::entity::prelude::*;

/// One edit of a message.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "message_edits")]
pub struct Model {
    /// Database id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The edited message.
    pub message_id: i64,
    /// Who edited it (its sender).
    pub editor_id: String,
    /// The content before this edit.
    #[sea_orm(column_type = "Text")]
    pub previous_content: String,
    /// When.
    pub edited_at: DateTimeUtc,
}

/// No navigable relations are declared; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
