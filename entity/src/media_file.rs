//! `media_files`: uploaded files.

use sea_orm::entity::prelude::*;

/// `kind` of an image file.
pub const KIND_IMAGE: &str = "image";
/// `kind` of a video file.
pub const KIND_VIDEO: &str = "video";
/// `kind` of an audio file.
pub const KIND_AUDIO: &str = "audio";
/// `kind` of any other file.
pub const KIND_FILE: &str = "file";

/// A file a member uploaded to a conversation. Before it is sent in a message only its
/// uploader may download it; once sent, the conversation's members may.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "media_files")]
pub struct Model {
    /// A random id (hex), which is also in its download URL.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Who uploaded it.
    pub uploader_id: String,
    /// The conversation it was uploaded for.
    pub conversation_id: i64,
    /// The message that carries it, once sent.
    pub message_id: Option<i64>,
    /// Its file name, as the client gave it (cleaned).
    pub name: String,
    /// Its MIME type, from its content.
    pub mime: String,
    /// Its size in bytes.
    pub size: i64,
    /// [`KIND_IMAGE`], [`KIND_VIDEO`], [`KIND_AUDIO`] or [`KIND_FILE`].
    pub kind: String,
    /// An image's width in pixels.
    pub width: Option<i32>,
    /// An image's height in pixels.
    pub height: Option<i32>,
    /// Where its bytes are in the storage (made by the server, never from the name).
    pub storage_key: String,
    /// When it was uploaded.
    pub created_at: DateTimeUtc,
}

/// No navigable relations are declared; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
