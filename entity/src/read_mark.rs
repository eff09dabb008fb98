//! `read_marks`: every move of a member's read position. Who read message `seq` of a
//! conversation, and when, is the first mark of each member that reaches it.

use sea_orm::entity::prelude::*;

/// A read position moved to `up_to_seq` at `read_at`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "read_marks")]
pub struct Model {
    /// Database id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The conversation.
    pub conversation_id: i64,
    /// The reader.
    pub user_id: String,
    /// Every message up to this `seq` is read.
    pub up_to_seq: i64,
    /// When.
    pub read_at: DateTimeUtc,
}

/// No navigable relations are declared; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
