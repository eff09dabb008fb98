//! `conversations`: direct or group conversations.

use sea_orm::entity::prelude::*;

/// `kind` of a conversation between exactly two users, unique per pair.
pub const KIND_DIRECT: &str = "direct";
/// `kind` of a conversation with any number of participants.
pub const KIND_GROUP: &str = "group";

/// A conversation. A direct conversation stores its two users, in a fixed order, in
/// `participant_1_id`/`participant_2_id`, which are unique together: one direct conversation per pair.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversations")]
pub struct Model {
    /// Database id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// [`KIND_DIRECT`] or [`KIND_GROUP`].
    pub kind: String,
    /// Group title; `None` for direct conversations.
    pub title: Option<String>,
    /// Group description.
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    /// Group avatar: an http(s) URL.
    pub avatar_url: Option<String>,
    /// The lower of the two user ids of a direct conversation.
    pub participant_1_id: Option<String>,
    /// The higher of the two user ids of a direct conversation.
    pub participant_2_id: Option<String>,
    /// Preview of the latest message.
    pub last_message: Option<String>,
    /// When the latest message was sent.
    pub last_message_at: Option<DateTimeUtc>,
    /// The `seq` of the latest message; the next message gets `last_seq + 1`.
    pub last_seq: i64,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Last change (new message, rename ...).
    pub updated_at: DateTimeUtc,
    /// When an admin dissolved the group: it has no members from then on.
    pub dissolved_at: Option<DateTimeUtc>,
    /// Who opened the direct conversation (the initiator of its chat request) or created the
    /// group; `None` for conversations stored before this was recorded.
    pub opened_by: Option<String>,
}

/// No navigable relations are declared; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
