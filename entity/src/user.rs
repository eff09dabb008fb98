//! `users`: everyone a token has named, and everyone named as a receiver.

use sea_orm::entity::prelude::*;

/// A user. The key is the id from the token, kept as text; `id_is_number` remembers whether the
/// token (or the first reference to the user) gave it as a JSON number, so it goes back out the
/// same way.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// The user id as text (`"1"`, `"alice"`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Whether the id is rendered as a JSON number.
    pub id_is_number: bool,
    /// Display name from the token's `name` claim.
    pub name: Option<String>,
    /// From the token's `username` claim.
    pub username: Option<String>,
    /// From the token's `email` claim.
    pub email: Option<String>,
    /// From the token's `avatar` or `picture` claim.
    pub avatar: Option<String>,
    /// When the user's last socket disconnected.
    pub last_seen_at: Option<DateTimeUtc>,
    /// The presence status the user chose while connected: `away`, `busy` or `invisible`
    /// (shown to others as offline); `None` is online.
    pub presence_status: Option<String>,
    /// First time parley heard of the user.
    pub created_at: DateTimeUtc,
    /// Last change to the display details.
    pub updated_at: DateTimeUtc,
}

/// No navigable relations are declared; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
