//! The shapes of the `sessions` protocol, after seed 001's Prisma models (`ChatSession`,
//! `ChatMessage`, `ChatParticipant`) with camelCase fields. Every id it sends (chat, message,
//! user) is a JSON string, as Prisma's are; every id it reads may be a string or a number.

use serde::{Deserialize, Serialize};

use crate::ids::{Id, UserId};
use crate::service::views::{
    ConversationView, MessageView, Page, PresenceView, ReadReceipt, UserView,
};
use crate::time::serde_rfc3339;

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
    reply_to_id: Option<String>,
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
            reply_to_id: m.reply_to.map(id),
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

/// `{ page, limit, total, totalPages }`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    page: u64,
    limit: u64,
    total: u64,
    total_pages: u64,
}

impl Pagination {
    fn of<T>(page: &Page<T>, limit: u64) -> Self {
        Self {
            page: page.page,
            limit,
            total: page.total,
            total_pages: page.total_pages,
        }
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
    /// The text.
    pub content: String,
    /// `TEXT` (the only type built so far; any case).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// An http(s) URL.
    pub attachment_url: Option<String>,
    /// The client's temporary id, echoed in `message_sent`; repeating it repeats nothing.
    pub temp_id: Option<String>,
    /// The client's id for this send; repeating it repeats nothing.
    pub client_msg_id: Option<String>,
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

/// `user_online`, `user_offline`.
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
            status: if p.online { "online" } else { "offline" },
            last_seen: p.last_seen,
        }
    }
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
