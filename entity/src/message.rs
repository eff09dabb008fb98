//! `messages`: every message, numbered per conversation.

use sea_orm::entity::prelude::*;

/// `kind` of a plain text message (with an optional attachment URL).
pub const KIND_TEXT: &str = "text";
/// `kind` of a message showing an image (its attachment).
pub const KIND_IMAGE: &str = "image";
/// `kind` of a message carrying a file (its attachment).
pub const KIND_FILE: &str = "file";
/// `kind` of a voice message (its attachment, with a duration).
pub const KIND_VOICE: &str = "voice";
/// `kind` of a message showing a video (its attachment).
pub const KIND_VIDEO: &str = "video";
/// `kind` of a message written by the system, not by a user's client.
pub const KIND_SYSTEM: &str = "system";

/// A message. `(conversation_id, seq)` is unique and `seq` runs 1, 2, 3 ... without gaps;
/// `(sender_id, client_msg_id)` is unique, which makes sends idempotent.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    /// Database id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The conversation it belongs to.
    pub conversation_id: i64,
    /// Position in the conversation, assigned in the transaction that stores the message.
    pub seq: i64,
    /// Who sent it.
    pub sender_id: String,
    /// The other user of a direct conversation; `None` in groups.
    pub receiver_id: Option<String>,
    /// The text.
    #[sea_orm(column_type = "Text")]
    pub content: String,
    /// An http(s) URL of an attachment.
    pub attachment_url: Option<String>,
    /// The attachment's file name.
    pub attachment_name: Option<String>,
    /// The attachment's MIME type.
    pub attachment_mime: Option<String>,
    /// The attachment's size in bytes.
    pub attachment_size: Option<i64>,
    /// A voice message's length, in milliseconds.
    pub attachment_duration_ms: Option<i64>,
    /// [`KIND_TEXT`], [`KIND_IMAGE`], [`KIND_VIDEO`], [`KIND_FILE`], [`KIND_VOICE`] or [`KIND_SYSTEM`].
    pub kind: String,
    /// The message this one replies to (in the same conversation).
    pub reply_to: Option<i64>,
    /// How many messages reply to this one (deleted replies not counted).
    pub reply_count: i64,
    /// The uploaded file it carries (`media_files`), whose signed link is its attachment URL.
    pub file_id: Option<String>,
    /// The sender's own id for this send, for idempotent retries.
    pub client_msg_id: Option<String>,
    /// When the receiver of a direct message read it.
    pub read_at: Option<DateTimeUtc>,
    /// When it was stored.
    pub created_at: DateTimeUtc,
    /// Last change to the row.
    pub updated_at: DateTimeUtc,
    /// When its content was last edited.
    pub edited_at: Option<DateTimeUtc>,
    /// Soft delete: set when deleted, the row stays.
    pub deleted_at: Option<DateTimeUtc>,
}

/// No navigable relations are declared; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
