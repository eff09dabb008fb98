//! The shapes of the `conversations` protocol: REST answers (snake_case fields with the seed's
//! `createdAt`/`updatedAt`), socket payloads in, and socket answers and events out (camelCase).

use serde::{Deserialize, Serialize};

use crate::ids::{Id, UserId};
use crate::service::views::{
    ConversationView, MessageView, Page, PresenceView, ReadReceipt, UnreadView, UserView,
};
use crate::time::serde_rfc3339;

type Time = chrono::DateTime<chrono::Utc>;

/// A message.
#[derive(Debug, Serialize)]
pub struct MessageJson {
    id: i64,
    conversation_id: i64,
    seq: i64,
    sender_id: UserId,
    receiver_id: Option<UserId>,
    content: String,
    attachment_url: Option<String>,
    kind: String,
    reply_to: Option<i64>,
    client_msg_id: Option<String>,
    is_read: bool,
    #[serde(serialize_with = "serde_rfc3339::option")]
    read_at: Option<Time>,
    #[serde(rename = "createdAt", serialize_with = "serde_rfc3339::serialize")]
    created_at: Time,
    #[serde(rename = "updatedAt", serialize_with = "serde_rfc3339::serialize")]
    updated_at: Time,
    #[serde(serialize_with = "serde_rfc3339::option")]
    edited_at: Option<Time>,
    sender: UserView,
    receiver: Option<UserView>,
}

impl From<MessageView> for MessageJson {
    fn from(m: MessageView) -> Self {
        Self {
            id: m.id,
            conversation_id: m.conversation_id,
            seq: m.seq,
            sender_id: m.sender.id.clone(),
            receiver_id: m.receiver.as_ref().map(|r| r.id.clone()),
            content: m.content,
            attachment_url: m.attachment_url,
            kind: m.kind,
            reply_to: m.reply_to,
            client_msg_id: m.client_msg_id,
            is_read: m.read_at.is_some(),
            read_at: m.read_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            edited_at: m.edited_at,
            sender: m.sender,
            receiver: m.receiver,
        }
    }
}

/// A page of messages: `{ messages, total, page, totalPages }`.
#[derive(Debug, Serialize)]
pub struct MessagePage {
    messages: Vec<MessageJson>,
    total: u64,
    page: u64,
    #[serde(rename = "totalPages")]
    total_pages: u64,
}

impl From<Page<MessageView>> for MessagePage {
    fn from(p: Page<MessageView>) -> Self {
        Self {
            messages: p.items.into_iter().map(MessageJson::from).collect(),
            total: p.total,
            page: p.page,
            total_pages: p.total_pages,
        }
    }
}

/// A conversation.
#[derive(Debug, Serialize)]
pub struct ConversationJson {
    id: i64,
    #[serde(rename = "type")]
    kind: String,
    participant_1_id: Option<UserId>,
    participant_2_id: Option<UserId>,
    last_message: Option<String>,
    #[serde(serialize_with = "serde_rfc3339::option")]
    last_message_at: Option<Time>,
    last_seq: i64,
    unread_count: i64,
    #[serde(rename = "createdAt", serialize_with = "serde_rfc3339::serialize")]
    created_at: Time,
    #[serde(rename = "updatedAt", serialize_with = "serde_rfc3339::serialize")]
    updated_at: Time,
    participant1: Option<UserView>,
    participant2: Option<UserView>,
}

impl From<ConversationView> for ConversationJson {
    fn from(c: ConversationView) -> Self {
        Self {
            id: c.id,
            participant_1_id: c.participant1.as_ref().map(|u| u.id.clone()),
            participant_2_id: c.participant2.as_ref().map(|u| u.id.clone()),
            kind: c.kind,
            last_message: c.last_message,
            last_message_at: c.last_message_at,
            last_seq: c.last_seq,
            unread_count: c.unread_count,
            created_at: c.created_at,
            updated_at: c.updated_at,
            participant1: c.participant1,
            participant2: c.participant2,
        }
    }
}

/// A page of conversations: `{ conversations, total, page, totalPages }`.
#[derive(Debug, Serialize)]
pub struct ConversationPage {
    conversations: Vec<ConversationJson>,
    total: u64,
    page: u64,
    #[serde(rename = "totalPages")]
    total_pages: u64,
}

impl From<Page<ConversationView>> for ConversationPage {
    fn from(p: Page<ConversationView>) -> Self {
        Self {
            conversations: p.items.into_iter().map(ConversationJson::from).collect(),
            total: p.total,
            page: p.page,
            total_pages: p.total_pages,
        }
    }
}

/// Unread messages of one conversation.
#[derive(Debug, Serialize)]
pub struct UnreadJson {
    conversation_id: i64,
    unread_count: i64,
    other_participant: Option<UserView>,
}

impl From<UnreadView> for UnreadJson {
    fn from(u: UnreadView) -> Self {
        Self {
            conversation_id: u.conversation_id,
            unread_count: u.unread_count,
            other_participant: u.other_participant,
        }
    }
}

/// `{ conversationId }`, the payload of most conversation events.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationPayload {
    /// The conversation.
    pub conversation_id: Id,
}

/// The payload of `send_message`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessagePayload {
    /// The other user of a direct conversation.
    pub receiver_id: Option<UserId>,
    /// The conversation.
    pub conversation_id: Option<Id>,
    /// The text.
    pub content: String,
    /// An http(s) URL.
    pub attachment_url: Option<String>,
    /// The client's id for this send; repeating it repeats nothing.
    pub client_msg_id: Option<String>,
}

/// Answer of `join_conversation`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Joined {
    /// The conversation.
    pub conversation_id: i64,
    /// Its newest `seq`, to catch up from.
    pub last_seq: i64,
}

/// Answer of events that only name a conversation.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationAck {
    conversation_id: i64,
}

impl ConversationAck {
    /// The answer for `conversation_id`.
    pub fn new(conversation_id: i64) -> Self {
        Self { conversation_id }
    }
}

/// Answer of `mark_as_read`, and of `PUT /conversations/:id/read` (snake_case there).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadAck {
    conversation_id: i64,
    last_read_seq: i64,
    updated: u64,
}

impl From<&ReadReceipt> for ReadAck {
    fn from(r: &ReadReceipt) -> Self {
        Self {
            conversation_id: r.conversation_id,
            last_read_seq: r.last_read_seq,
            updated: r.updated,
        }
    }
}

/// Answer of `join_personal_room`.
#[derive(Debug, Serialize)]
pub struct RoomAck {
    /// The room's name.
    pub room: String,
}

/// Answer of `send_message`: the stored message, shaped as `new_message`.
#[derive(Debug)]
pub struct SentAck(pub MessageView);

impl Serialize for SentAck {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        NewMessage::from(&self.0).serialize(s)
    }
}

/// `new_message`, and the answer of `send_message`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewMessage<'a> {
    id: i64,
    conversation_id: i64,
    seq: i64,
    sender_id: &'a UserId,
    receiver_id: Option<&'a UserId>,
    content: &'a str,
    attachment_url: Option<&'a str>,
    kind: &'a str,
    reply_to: Option<i64>,
    client_msg_id: Option<&'a str>,
    is_read: bool,
    #[serde(serialize_with = "serde_rfc3339::serialize")]
    created_at: chrono::DateTime<chrono::Utc>,
    sender: &'a UserView,
}

impl<'a> From<&'a MessageView> for NewMessage<'a> {
    fn from(m: &'a MessageView) -> Self {
        Self {
            id: m.id,
            conversation_id: m.conversation_id,
            seq: m.seq,
            sender_id: &m.sender.id,
            receiver_id: m.receiver.as_ref().map(|r| &r.id),
            content: &m.content,
            attachment_url: m.attachment_url.as_deref(),
            kind: &m.kind,
            reply_to: m.reply_to,
            client_msg_id: m.client_msg_id.as_deref(),
            is_read: m.read_at.is_some(),
            created_at: m.created_at,
            sender: &m.sender,
        }
    }
}

/// `message_notification`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageNotification<'a> {
    from: &'a UserId,
    conversation_id: i64,
    message_id: i64,
    content: &'a str,
    #[serde(serialize_with = "serde_rfc3339::serialize")]
    timestamp: chrono::DateTime<chrono::Utc>,
    sender: &'a UserView,
}

impl<'a> From<&'a MessageView> for MessageNotification<'a> {
    fn from(m: &'a MessageView) -> Self {
        Self {
            from: &m.sender.id,
            conversation_id: m.conversation_id,
            message_id: m.id,
            content: &m.content,
            timestamp: m.created_at,
            sender: &m.sender,
        }
    }
}

/// `message_deleted`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageDeleted {
    message_id: i64,
    conversation_id: i64,
    #[serde(serialize_with = "serde_rfc3339::option")]
    deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<&MessageView> for MessageDeleted {
    fn from(m: &MessageView) -> Self {
        Self {
            message_id: m.id,
            conversation_id: m.conversation_id,
            deleted_at: m.deleted_at,
        }
    }
}

/// `message_edited`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageEdited<'a> {
    message_id: i64,
    conversation_id: i64,
    content: &'a str,
    #[serde(serialize_with = "serde_rfc3339::option")]
    edited_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl<'a> From<&'a MessageView> for MessageEdited<'a> {
    fn from(m: &'a MessageView) -> Self {
        Self {
            message_id: m.id,
            conversation_id: m.conversation_id,
            content: &m.content,
            edited_at: m.edited_at,
        }
    }
}

/// `messages_read`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagesRead<'a> {
    conversation_id: i64,
    user_id: &'a UserId,
    last_read_seq: i64,
    #[serde(serialize_with = "serde_rfc3339::serialize")]
    read_at: chrono::DateTime<chrono::Utc>,
}

impl<'a> From<&'a ReadReceipt> for MessagesRead<'a> {
    fn from(r: &'a ReadReceipt) -> Self {
        Self {
            conversation_id: r.conversation_id,
            user_id: &r.user,
            last_read_seq: r.last_read_seq,
            read_at: r.read_at,
        }
    }
}

/// `online_status`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineStatus<'a> {
    user_id: &'a UserId,
    is_online: bool,
    status: &'static str,
    #[serde(serialize_with = "serde_rfc3339::option")]
    last_seen: Option<chrono::DateTime<chrono::Utc>>,
}

impl<'a> From<&'a PresenceView> for OnlineStatus<'a> {
    fn from(p: &'a PresenceView) -> Self {
        Self {
            user_id: &p.user,
            is_online: p.online(),
            status: if p.online() { "online" } else { "offline" },
            last_seen: p.last_seen,
        }
    }
}

/// `user_typing` and `user_stopped_typing`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TypingPayload<'a> {
    /// Who.
    pub user_id: &'a UserId,
    /// Where.
    pub conversation_id: i64,
}

/// `user_joined` and `user_left`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipPayload<'a> {
    /// Who.
    pub user_id: &'a UserId,
    /// Where.
    pub conversation_id: i64,
    /// A sentence for display.
    pub message: String,
}
