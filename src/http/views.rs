//! The REST JSON shapes: snake_case fields with the seed's `createdAt`/`updatedAt`.

use serde::Serialize;

use crate::ids::UserId;
use crate::service::views::{ConversationView, MessageView, Page, UnreadView, UserView};
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
