//! What the service returns: plain data, rendered into wire shapes by the REST and socket layers.

use chrono::{DateTime, Utc};

use crate::ids::UserId;

/// A user's public details (the same JSON on every door: `{id, name, username, email, avatar}`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UserView {
    /// The id, typed as the token gave it.
    pub id: UserId,
    /// Display name.
    pub name: Option<String>,
    /// User name.
    pub username: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Avatar URL.
    pub avatar: Option<String>,
}

impl UserView {
    /// The view of a stored user.
    pub fn from_model(m: entity::user::Model) -> Self {
        Self {
            id: UserId::from_stored(m.id, m.id_is_number),
            name: m.name,
            username: m.username,
            email: m.email,
            avatar: m.avatar,
        }
    }

    /// A user known only by id.
    pub fn bare(id: UserId) -> Self {
        Self {
            id,
            name: None,
            username: None,
            email: None,
            avatar: None,
        }
    }
}

/// What a client may say of an attachment besides its URL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttachmentDetails {
    /// File name.
    pub name: Option<String>,
    /// MIME type (`image/png`).
    pub mime: Option<String>,
    /// Size in bytes.
    pub size: Option<i64>,
    /// A voice message's length, in milliseconds.
    pub duration_ms: Option<i64>,
}

/// A stored message with its sender and receiver. A deleted message is a tombstone: its
/// `seq` and times stay, its content and attachment are gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageView {
    /// Database id.
    pub id: i64,
    /// Conversation.
    pub conversation_id: i64,
    /// Position in the conversation.
    pub seq: i64,
    /// Sender.
    pub sender: UserView,
    /// Receiver of a direct message.
    pub receiver: Option<UserView>,
    /// Text.
    pub content: String,
    /// Attachment URL (for an uploaded file, a signed link to it).
    pub attachment_url: Option<String>,
    /// The uploaded file it carries.
    pub file_id: Option<String>,
    /// The attachment's name, type, size and duration.
    pub attachment: AttachmentDetails,
    /// `text`, `image`, `file`, `voice` or `system`.
    pub kind: String,
    /// Replied-to message id.
    pub reply_to: Option<i64>,
    /// What the replied-to message shows (when it was loaded with the message).
    pub reply: Option<ReplyPreview>,
    /// How many live messages reply to this one.
    pub reply_count: i64,
    /// Reactions, by emoji, in the order each emoji was first used (when loaded).
    pub reactions: Vec<ReactionCount>,
    /// The sender's client message id.
    pub client_msg_id: Option<String>,
    /// When the receiver read it.
    pub read_at: Option<DateTime<Utc>>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Last edit.
    pub edited_at: Option<DateTime<Utc>>,
    /// Soft-delete time.
    pub deleted_at: Option<DateTime<Utc>>,
}

impl MessageView {
    /// Joins a stored message with its users.
    pub fn new(m: entity::message::Model, sender: UserView, receiver: Option<UserView>) -> Self {
        Self {
            id: m.id,
            conversation_id: m.conversation_id,
            seq: m.seq,
            sender,
            receiver,
            content: m.content,
            attachment_url: m.attachment_url,
            file_id: m.file_id,
            attachment: AttachmentDetails {
                name: m.attachment_name,
                mime: m.attachment_mime,
                size: m.attachment_size,
                duration_ms: m.attachment_duration_ms,
            },
            kind: m.kind,
            reply_to: m.reply_to,
            reply: None,
            reply_count: m.reply_count,
            reactions: Vec::new(),
            client_msg_id: m.client_msg_id,
            read_at: m.read_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            edited_at: m.edited_at,
            deleted_at: m.deleted_at,
        }
    }

    /// Everyone in the conversation who should be notified, other than the sender.
    pub fn recipients(&self) -> impl Iterator<Item = &UserId> {
        self.receiver.iter().map(|r| &r.id)
    }
}

/// What a reply shows of the message it replies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyPreview {
    /// The replied-to message.
    pub id: i64,
    /// Its sender.
    pub sender: UserId,
    /// The start of its content (empty once it is deleted).
    pub preview: String,
    /// Its kind.
    pub kind: String,
    /// Whether it was deleted since.
    pub deleted: bool,
}

/// One emoji's reactions to a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReactionCount {
    /// The emoji.
    pub emoji: String,
    /// How many users reacted with it.
    pub count: i64,
    /// Who, earliest first (their user keys).
    pub users: Vec<String>,
    /// Whether the user the view is for is among them.
    pub mine: bool,
}

/// A message's reactions after a change.
#[derive(Clone, Debug)]
pub struct ReactionsView {
    /// The message.
    pub message_id: i64,
    /// Its conversation.
    pub conversation_id: i64,
    /// By emoji, `mine` for the user who asked.
    pub reactions: Vec<ReactionCount>,
}

/// The result of a send: the message, and whether this call stored it or found it stored by an
/// earlier send with the same client message id.
#[derive(Clone, Debug)]
pub struct Sent {
    /// The message.
    pub message: MessageView,
    /// `false` when an earlier send with the same client message id had stored it.
    pub created: bool,
}

/// A current member of a conversation.
#[derive(Clone, Debug)]
pub struct MemberView {
    /// Who.
    pub user: UserView,
    /// `admin`, `moderator` or `member`.
    pub role: String,
    /// Since when.
    pub joined_at: DateTime<Utc>,
}

/// A conversation as listed for one user.
#[derive(Clone, Debug)]
pub struct ConversationView {
    /// Database id.
    pub id: i64,
    /// `direct` or `group`.
    pub kind: String,
    /// A group's name.
    pub title: Option<String>,
    /// A group's description.
    pub description: Option<String>,
    /// A group's avatar URL.
    pub avatar_url: Option<String>,
    /// Its current members, longest-standing first.
    pub members: Vec<MemberView>,
    /// First user of a direct conversation.
    pub participant1: Option<UserView>,
    /// Second user of a direct conversation.
    pub participant2: Option<UserView>,
    /// Last message preview.
    pub last_message: Option<String>,
    /// Last message time.
    pub last_message_at: Option<DateTime<Utc>>,
    /// Last `seq`.
    pub last_seq: i64,
    /// Messages from others this user has not read.
    pub unread_count: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Who opened it (a direct conversation's initiator, a group's creator), when known.
    pub opened_by: Option<UserId>,
    /// Where a direct conversation's chat request stands (a group's is always accepted).
    pub request: RequestStatus,
    /// How the member who asked keeps it.
    pub standing: Standing,
    /// A direct conversation one of whose two users blocks the other.
    pub blocked: bool,
}

/// Where a chat request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestStatus {
    /// Open for both (or requests are off).
    Accepted,
    /// Its recipient has not answered yet.
    Pending,
    /// Its recipient declined it: the initiator may not write.
    Rejected,
}

impl RequestStatus {
    /// `accepted`, `pending` or `rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Pending => "pending",
            Self::Rejected => "rejected",
        }
    }
}

/// How one member keeps a conversation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Standing {
    /// In their archive: archived, and no message came since (or they mute it).
    pub archived: bool,
    /// Muted by them.
    pub muted: bool,
    /// A chat request to them that they have not answered.
    pub awaiting_answer: bool,
}

/// A user someone blocks.
#[derive(Clone, Debug)]
pub struct BlockView {
    /// The user blocked.
    pub user: UserView,
    /// Since when; `None` when not blocked.
    pub since: Option<DateTime<Utc>>,
}

/// One page of something, with the numbers the seed's pagination answers carry.
#[derive(Clone, Debug)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// How many there are in all.
    pub total: u64,
    /// This page, from 1.
    pub page: u64,
    /// How many pages of this size there are.
    pub total_pages: u64,
}

/// Which page to read.
#[derive(Clone, Copy, Debug)]
pub struct PageRequest {
    /// Page number, from 1.
    pub page: u64,
    /// Page size.
    pub limit: u64,
}

impl PageRequest {
    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        (self.page - 1) * self.limit
    }

    /// Wraps one page of `total` items.
    pub fn wrap<T>(&self, items: Vec<T>, total: u64) -> Page<T> {
        Page {
            items,
            total,
            page: self.page,
            total_pages: total.div_ceil(self.limit),
        }
    }
}

/// A user's read position in a conversation.
#[derive(Clone, Debug)]
pub struct ReadReceipt {
    /// Conversation.
    pub conversation_id: i64,
    /// Reader.
    pub user: UserId,
    /// Every message up to this `seq` is read.
    pub last_read_seq: i64,
    /// When.
    pub read_at: DateTime<Utc>,
    /// How many messages this call marked read.
    pub updated: u64,
    /// Whether this call moved the read position (only then is the room told).
    pub moved: bool,
}

/// Unread messages in one conversation.
#[derive(Clone, Debug)]
pub struct UnreadView {
    /// Conversation.
    pub conversation_id: i64,
    /// Unread messages from others.
    pub unread_count: i64,
    /// The other user of a direct conversation.
    pub other_participant: Option<UserView>,
}

/// A user's online state.
#[derive(Clone, Debug)]
pub struct PresenceView {
    /// The user.
    pub user: UserId,
    /// What others see: `online`, `away`, `busy` or `offline`.
    pub status: &'static str,
    /// When their last socket disconnected.
    pub last_seen: Option<DateTime<Utc>>,
}

impl PresenceView {
    /// Whether others see the user online (in any status but `offline`).
    pub fn online(&self) -> bool {
        self.status != "offline"
    }
}

/// One reader of a message.
#[derive(Clone, Debug)]
pub struct Reader {
    /// Who.
    pub user: UserId,
    /// When their read position first reached the message (`None` for reads recorded before
    /// read times were kept).
    pub at: Option<DateTime<Utc>>,
}

/// Who has read a message, and who it reached.
#[derive(Clone, Debug)]
pub struct ReceiptsView {
    /// The message.
    pub message_id: i64,
    /// Its conversation.
    pub conversation_id: i64,
    /// Its position.
    pub seq: i64,
    /// Current members other than the sender who read it, earliest first.
    pub read_by: Vec<Reader>,
    /// Current members other than the sender it was delivered to (fetched, received on a
    /// socket, or read).
    pub delivered_to: Vec<UserId>,
}
