//! `blocks`: who blocks whom.

use sea_orm::entity::prelude::*;

/// `blocker_id` blocks `blocked_id`: in both directions, no new chat between them, no direct
/// message, no typing, no presence.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "blocks")]
pub struct Model {
    /// The user who blocks.
    #[sea_orm(primary_key, auto_increment = false)]
    pub blocker_id: String,
    /// The user blocked.
    #[sea_orm(primary_key, auto_increment = false)]
    pub blocked_id: String,
    /// When.
    pub created_at: DateTimeUtc,
}

/// No navigable relations are declared; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
