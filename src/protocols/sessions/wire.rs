//! The shapes of the `sessions` protocol, after seed 001's Prisma models (`ChatSession`,
//! `ChatMessage`, `ChatParticipant`) with camelCase fields. Every id it sends (chat, message,
//! user) is a JSON string, as Prisma's are; every id it reads may be a string or a number.

use serde::{Deserialize, Serialize};

use crate::ids::{Id, UserId};
use crate::service::edits::EditView;
use crate::service::views::{
    ConversationView, MessageView, Page, PresenceView, ReadReceipt, ReceiptsView, UserView,
};
use crate::time::serde_rfc3339;
use crate::transport::rest::Pagination;

type Time = chrono::DateTime<chrono::Utc>;

/// An id in its JSON string form.
fn id(n: i64) -> String {
    n.to_string()
}

/// A user: `{ id, name, username, email, avatar }`, the id a string.
#[derive(Debug, Serialize)]
pub struct User<'a> {
    id: &'a str,
    name: Option<&'a str>,
    username: Option<&'a str>,
    email: Option<&'a str>,
    avatar: Option<&'a str>,
}

impl<'a> From<&'a UserView> for User<'a> {
    fn from(u: &'a UserView) -> Self {
        Self {
            id: u.id.key(),
            name: u.name.as_deref(),
            username: u.username.as_deref(),
            email: u.email.as_deref(),
            avatar: u.avatar.as_deref(),
        }
    }
}

/// A `ChatMessage`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message<'a> {
    id: String,
    chat_id: String,
    sender_id: &'a str,
    content: &'a str,
    #[serde(rename = "type")]
    kind: String,
    attachment_url: Option<&'a str>,
    attachment_name: Option<&'a str>,
    attachment_mime_type: Option<&'a str>,
    attachment_size: Option<i64>,
    /// Seconds.
    attachment_duration: Option<f64>,
    reply_to_id: Option<String>,
    file_id: Option<&'a str>,
    seq: i64,
    client_msg_id: Option<&'a str>,
    is_edited: bool,
    #[serde(serialize_with = "serde_rfc3339::option")]
    edited_at: Option<Time>,
    is_deleted: bool,
    #[serde(serialize_with = "serde_rfc3339::option")]
    deleted_at: Option<Time>,
    #[serde(serialize_with = "serde_rfc3339::serialize")]
    created_at: Time,
    #[serde(serialize_with = "serde_rfc3339::serialize")]
    updated_at: Time,
    sender: User<'a>,
}

impl<'a> From<&'a MessageView> for Message<'a> {
    fn from(m: &'a MessageView) -> Self {
        Self {
            id: id(m.id),
            chat_id: id(m.conversation_id),
            sender_id: m.sender.id.key(),
            content: &m.content,
            kind: m.kind.to_uppercase(),
            attachment_url: m.attachment_url.as_deref(),
            attachment_name: m.attachment.name.as_deref(),
            attachment_mime_type: m.attachment.mime.as_deref(),
            attachment_size: m.attachment.size,
            // Milliseconds to seconds: exact for any duration a client may state.
            #[allow(clippy::cast_precision_loss)]
            attachment_duration: m.attachment.duration_ms.map(|ms| ms as f64 / 1000.0),
            reply_to_id: m.reply_to.map(id),
            file_id: m.file_id.as_deref(),
            seq: m.seq,
            client_msg_id: m.client_msg_id.as_deref(),
            is_edited: m.edited_at.is_some(),
            edited_at: m.edited_at,
            is_deleted: m.deleted_at.is_some(),
            deleted_at: m.deleted_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            sender: User::from(&m.sender),
        }
    }
}

/// `message_sent`, to the sending socket: the stored message and the client's `tempId`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sent<'a> {
    #[serde(flatten)]
    message: Message<'a>,
    temp_id: Option<&'a str>,
}

impl<'a> Sent<'a> {
    /// `message`, sent with `temp_id`.
    pub fn new(message: &'a MessageView, temp_id: Option<&'a str>) -> Self {
        Self {
            message: Message::from(message),
            temp_id,
        }
    }
}

/// A stored message as an owned answer (acknowledgements, REST).
#[derive(Debug)]
pub struct MessageJson(pub MessageView);

impl Serialize for MessageJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Message::from(&self.0).serialize(s)
    }
}

/// A `ChatParticipant`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Participant<'a> {
    user_id: &'a str,
    role: String,
    #[serde(serialize_with = "serde_rfc3339::serialize")]
    joined_at: Time,
    user: User<'a>,
}

/// A `ChatSession` as its member sees it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Session<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    name: Option<&'a str>,
    description: Option<&'a str>,
    avatar_url: Option<&'a str>,
    last_message_preview: Option<&'a str>,
    #[serde(serialize_with = "serde_rfc3339::option")]
    last_message_at: Option<Time>,
    last_seq: i64,
    unread_count: i64,
    #[serde(serialize_with = "serde_rfc3339::serialize")]
    created_at: Time,
    #[serde(serialize_with = "serde_rfc3339::serialize")]
    updated_at: Time,
    participants: Vec<Participant<'a>>,
}

impl<'a> From<&'a ConversationView> for Session<'a> {
    fn from(c: &'a ConversationView) -> Self {
        let participants = c
            .members
            .iter()
            .map(|m| Participant {
                user_id: m.user.id.key(),
                role: m.role.to_uppercase(),
                joined_at: m.joined_at,
                user: User::from(&m.user),
            })
            .collect();
        Self {
            id: id(c.id),
            kind: c.kind.to_uppercase(),
            name: c.title.as_deref(),
            description: c.description.as_deref(),
            avatar_url: c.avatar_url.as_deref(),
            last_message_preview: c.last_message.as_deref(),
            last_message_at: c.last_message_at,
            last_seq: c.last_seq,
            unread_count: c.unread_count,
            created_at: c.created_at,
            updated_at: c.updated_at,
            participants,
        }
    }
}

/// A session as an owned answer.
#[derive(Debug)]
pub struct SessionJson(pub ConversationView);

impl Serialize for SessionJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Session::from(&self.0).serialize(s)
    }
}

/// A page of sessions: `{ sessions, pagination }`.
#[derive(Debug, Serialize)]
pub struct SessionPage {
    sessions: Vec<SessionJson>,
    pagination: Pagination,
}

impl SessionPage {
    /// `page`, of pages of `limit`.
    pub fn new(page: Page<ConversationView>, limit: u64) -> Self {
        let pagination = Pagination::of(&page, limit);
        Self {
            sessions: page.items.into_iter().map(SessionJson).collect(),
            pagination,
        }
    }
}

/// A page of messages: `{ messages, pagination }`.
#[derive(Debug, Serialize)]
pub struct MessagePage {
    messages: Vec<MessageJson>,
    pagination: Pagination,
}

impl MessagePage {
    /// `page`, of pages of `limit`.
    pub fn new(page: Page<MessageView>, limit: u64) -> Self {
        let pagination = Pagination::of(&page, limit);
        Self {
            messages: page.items.into_iter().map(MessageJson).collect(),
            pagination,
        }
    }
}

/// `{ chatId }`, the payload of most chat events.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatPayload {
    /// The chat.
    pub chat_id: Id,
}

/// `send_message`, and the body of `POST /sessions/:id/messages` (without `chatId` there).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendPayload {
    /// The chat (socket only; REST takes it from the path).
    pub chat_id: Option<Id>,
    /// The text (an image, file or voice message may have none).
    pub content: Option<String>,
    /// `TEXT` (the default), `IMAGE`, `FILE` or `VOICE`, in any case.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// An http(s) URL (required for `IMAGE`, `FILE` and `VOICE`).
    pub attachment_url: Option<String>,
    /// The attachment's file name.
    pub attachment_name: Option<String>,
    /// The attachment's MIME type.
    #[serde(alias = "attachmentMime")]
    pub attachment_mime_type: Option<String>,
    /// The attachment's size in bytes.
    pub attachment_size: Option<i64>,
    /// A voice message's length in seconds.
    pub attachment_duration: Option<f64>,
    /// The client's temporary id, echoed in `message_sent`; repeating it repeats nothing.
    #[serde(default, deserialize_with = "crate::ids::text_or_number")]
    pub temp_id: Option<String>,
    /// The client's id for this send; repeating it repeats nothing.
    #[serde(default, deserialize_with = "crate::ids::text_or_number")]
    pub client_msg_id: Option<String>,
    /// The message this one replies to (a message of the same chat).
    pub reply_to_id: Option<Id>,
    /// A file uploaded to this chat (`POST /attachments`): its kind is the message's type and
    /// its link, name, type and size are the attachment.
    pub file_id: Option<String>,
}

/// `create_chat`, and the body of `POST /sessions`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePayload {
    /// `DIRECT` (the default) or `GROUP`, in any case.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The other user of a direct chat.
    pub target_user_id: Option<UserId>,
    /// A group's name.
    pub name: Option<String>,
    /// A group's description.
    pub description: Option<String>,
    /// A group's avatar URL.
    pub avatar_url: Option<String>,
    /// A group's members besides its creator.
    #[serde(default)]
    pub participant_ids: Vec<UserId>,
}

/// The body of `PUT /sessions/:id`: what to change of a group (`null` clears a field).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatePayload {
    /// A new name (`null` is refused: a group keeps a name).
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Option<String>>,
    /// A new description (`null` clears it).
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Option<String>>,
    /// A new avatar URL (`null` clears it).
    #[serde(default, deserialize_with = "present")]
    pub avatar_url: Option<Option<String>>,
}

/// A field that is present (`Some`, its value possibly `null`) or absent (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// The body of `POST /sessions/:id/participants`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddPayload {
    /// Who to add.
    #[serde(alias = "participantIds")]
    pub user_ids: Vec<UserId>,
}

/// The body of `PUT /sessions/:id/participants/:userId`.
#[derive(Debug, Deserialize)]
pub struct RolePayload {
    /// `ADMIN`, `MODERATOR` or `MEMBER`, in any case.
    pub role: String,
}

/// `typing_indicator`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypingPayload {
    /// The chat.
    pub chat_id: Id,
    /// Started or stopped.
    pub is_typing: bool,
}

/// Answer of `join_chat`, and `chat_joined` / `chat_left`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatRef {
    /// The chat.
    pub chat_id: String,
    /// Its newest `seq`, to catch up from (`None` where it is not looked up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<i64>,
}

impl ChatRef {
    /// The chat `id`.
    pub fn new(id: i64, last_seq: Option<i64>) -> Self {
        Self {
            chat_id: self::id(id),
            last_seq,
        }
    }
}

/// `messages_read`, and the answer of `mark_as_read` and `POST /sessions/:id/read`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Read<'a> {
    chat_id: String,
    user_id: &'a str,
    last_read_seq: i64,
    #[serde(serialize_with = "serde_rfc3339::serialize")]
    read_at: Time,
}

impl<'a> From<&'a ReadReceipt> for Read<'a> {
    fn from(r: &'a ReadReceipt) -> Self {
        Self {
            chat_id: id(r.conversation_id),
            user_id: r.user.key(),
            last_read_seq: r.last_read_seq,
            read_at: r.read_at,
        }
    }
}

/// A read receipt as an owned answer.
#[derive(Debug)]
pub struct ReadJson(pub ReadReceipt);

impl Serialize for ReadJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Read::from(&self.0).serialize(s)
    }
}

/// `user_typing`, `user_stopped_typing`, `user_joined_chat`, `user_left_chat`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInChat<'a> {
    /// The chat.
    pub chat_id: String,
    /// Who.
    pub user_id: &'a str,
}

/// `user_online`, `user_offline`, `presence_update`, and each user of `online_users`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Presence<'a> {
    user_id: &'a str,
    status: &'static str,
    #[serde(serialize_with = "serde_rfc3339::option")]
    last_seen: Option<Time>,
}

impl<'a> From<&'a PresenceView> for Presence<'a> {
    fn from(p: &'a PresenceView) -> Self {
        Self {
            user_id: p.user.key(),
            status: p.status,
            last_seen: p.last_seen,
        }
    }
}

/// `online_users`, and the answer of `get_online_users` and `GET /sessions/:id/online`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineUsers {
    chat_id: String,
    users: Vec<OnlineUser>,
}

/// One user of [`OnlineUsers`]: `{ userId, status, lastSeen }`, as in `presence_update`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OnlineUser {
    user_id: String,
    status: &'static str,
    #[serde(serialize_with = "serde_rfc3339::option")]
    last_seen: Option<Time>,
}

impl OnlineUsers {
    /// Chat `chat_id`'s members online now.
    pub fn new(chat_id: i64, users: &[PresenceView]) -> Self {
        Self {
            chat_id: id(chat_id),
            users: users
                .iter()
                .map(|p| OnlineUser {
                    user_id: p.user.key().to_owned(),
                    status: p.status,
                    last_seen: p.last_seen,
                })
                .collect(),
        }
    }
}

/// `presence_update`, `user_online` and `user_offline` from a client: `{ status? }`.
#[derive(Debug, Default, Deserialize)]
pub struct StatusPayload {
    /// `online`, `away`, `busy` or `offline` (invisible), in any case.
    pub status: Option<String>,
}

/// The answer of a status change: the status the caller chose.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusSet {
    /// The caller.
    pub user_id: String,
    /// What they chose.
    pub status: &'static str,
}

/// `authenticate`: `{ token }`.
#[derive(Debug, Deserialize)]
pub struct TokenPayload {
    /// A JWT.
    pub token: String,
}

/// The answer of `authenticate`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Authenticated<'a> {
    /// Who the socket is now.
    pub user_id: &'a str,
}

/// A reader in [`Receipts`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ReadBy<'a> {
    user_id: &'a str,
    #[serde(serialize_with = "serde_rfc3339::option")]
    read_at: Option<Time>,
}

/// The answer of `GET /messages/:id/reads`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipts<'a> {
    message_id: String,
    chat_id: String,
    seq: i64,
    read_by: Vec<ReadBy<'a>>,
    delivered_to: Vec<&'a str>,
}

impl<'a> From<&'a ReceiptsView> for Receipts<'a> {
    fn from(r: &'a ReceiptsView) -> Self {
        Self {
            message_id: id(r.message_id),
            chat_id: id(r.conversation_id),
            seq: r.seq,
            read_by: r
                .read_by
                .iter()
                .map(|reader| ReadBy {
                    user_id: reader.user.key(),
                    read_at: reader.at,
                })
                .collect(),
            delivered_to: r.delivered_to.iter().map(UserId::key).collect(),
        }
    }
}

/// Receipts as an owned answer.
#[derive(Debug)]
pub struct ReceiptsJson(pub ReceiptsView);

impl Serialize for ReceiptsJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Receipts::from(&self.0).serialize(s)
    }
}

/// `chat_left` to every member of a dissolved group: `{ chatId, dissolved: true, by }`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dissolved<'a> {
    /// The group.
    pub chat_id: String,
    /// Always `true`.
    pub dissolved: bool,
    /// The admin who dissolved it.
    pub by: &'a str,
}

/// `chat_created`: the new chat's id, type and members.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Created<'a> {
    /// The chat.
    pub chat_id: String,
    /// Its members.
    pub participant_ids: Vec<&'a str>,
}

/// `{ chatId, unreadCount }`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unread {
    /// The chat.
    pub chat_id: String,
    /// Messages from others not read yet.
    pub unread_count: i64,
}

/// `message_deleted`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    message_id: String,
    chat_id: String,
    #[serde(serialize_with = "serde_rfc3339::option")]
    deleted_at: Option<Time>,
}

impl From<&MessageView> for Deleted {
    fn from(m: &MessageView) -> Self {
        Self {
            message_id: id(m.id),
            chat_id: id(m.conversation_id),
            deleted_at: m.deleted_at,
        }
    }
}

/// `participant_left`: `{ chatId, userId, removedBy }` (`removedBy` is `null` when they left).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantLeft<'a> {
    /// The group.
    pub chat_id: String,
    /// Who.
    pub user_id: &'a str,
    /// Who removed them.
    pub removed_by: Option<&'a str>,
}

/// `edit_message`, and the body of `PUT /messages/:id` (without `messageId` there).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditPayload {
    /// The message (socket only).
    pub message_id: Option<Id>,
    /// The new text.
    pub content: String,
}

/// `delete_message`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagePayload {
    /// The message.
    pub message_id: Id,
}

/// One entry of [`Edits`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Edit {
    previous_content: String,
    edited_by: String,
    #[serde(serialize_with = "serde_rfc3339::serialize")]
    edited_at: Time,
}

/// The answer of `GET /messages/:id/edits`: `{ messageId, edits: [...] }`, oldest first.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Edits {
    message_id: String,
    edits: Vec<Edit>,
}

impl Edits {
    /// The edits of message `message_id`.
    pub fn new(message_id: i64, edits: Vec<EditView>) -> Self {
        Self {
            message_id: id(message_id),
            edits: edits
                .into_iter()
                .map(|e| Edit {
                    previous_content: e.previous_content,
                    edited_by: e.editor.key().to_owned(),
                    edited_at: e.edited_at,
                })
                .collect(),
        }
    }
}

/// An upload: `{ fileId, chatId, type, attachmentUrl, attachmentName, attachmentMimeType,
/// attachmentSize, width, height }` (`attachmentUrl` a signed link; `type` what a message carrying
/// it is: `IMAGE`, `VIDEO`, `VOICE` or `FILE`).
#[derive(Debug)]
pub struct AttachmentJson(pub crate::service::media::FileView);

impl Serialize for AttachmentJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Attachment<'a> {
            file_id: &'a str,
            chat_id: String,
            #[serde(rename = "type")]
            kind: &'static str,
            attachment_url: &'a str,
            attachment_name: &'a str,
            attachment_mime_type: &'a str,
            attachment_size: i64,
            width: Option<i32>,
            height: Option<i32>,
        }
        let f = &self.0;
        Attachment {
            file_id: &f.id,
            chat_id: id(f.conversation_id),
            kind: match f.kind.as_str() {
                "image" => "IMAGE",
                "video" => "VIDEO",
                "audio" => "VOICE",
                _ => "FILE",
            },
            attachment_url: &f.url,
            attachment_name: &f.name,
            attachment_mime_type: &f.mime,
            attachment_size: f.size,
            width: f.width,
            height: f.height,
        }
        .serialize(s)
    }
}
