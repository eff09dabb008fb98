//! The REST JSON shapes: snake_case fields with the seed's `createdAt`/`updatedAt`.

use serde::Serialize;

use crate::ids::UserId;
use crate::service::views::{ConversationView, MessageView, Page, UnreadView, UserView};
use crate::time::serde_rfc3339;

type Time = chrono::DateTime<chrono::Utc>;

/// A message.
#[derive(Debug, Serialize)]
pub struct MessageJson<'a> {
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
    #[serde(serialize_with = "serde_rfc3339::option")]
    read_at: Option<Time>,
    #[serde(rename = "createdAt", serialize_with = "serde_rfc3339::serialize")]
    created_at: Time,
    #[serde(rename = "updatedAt", serialize_with = "serde_rfc3339::serialize")]
    updated_at: Time,
    #[serde(serialize_with = "serde_rfc3339::option")]
    edited_at: Option<Time>,
    sender: &'a UserView,
    receiver: Option<&'a UserView>,
}

impl<'a> From<&'a MessageView> for MessageJson<'a> {
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
            read_at: m.read_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            edited_at: m.edited_at,
            sender: &m.sender,
            receiver: m.receiver.as_ref(),
        }
    }
}

/// A page of messages: `{ messages, total, page, totalPages }`.
#[derive(Debug, Serialize)]
pub struct MessagePage<'a> {
    messages: Vec<MessageJson<'a>>,
    total: u64,
    page: u64,
    #[serde(rename = "totalPages")]
    total_pages: u64,
}

impl<'a> From<&'a Page<MessageView>> for MessagePage<'a> {
    fn from(p: &'a Page<MessageView>) -> Self {
        Self {
            messages: p.items.iter().map(MessageJson::from).collect(),
            total: p.total,
            page: p.page,
            total_pages: p.total_pages,
        }
    }
}

/// A conversation.
#[derive(Debug, Serialize)]
pub struct ConversationJson<'a> {
    id: i64,
    #[serde(rename = "type")]
    kind: &'a str,
    participant_1_id: Option<&'a UserId>,
    participant_2_id: Option<&'a UserId>,
    last_message: Option<&'a str>,
    #[serde(serialize_with = "serde_rfc3339::option")]
    last_message_at: Option<Time>,
    last_seq: i64,
    unread_count: i64,
    #[serde(rename = "createdAt", serialize_with = "serde_rfc3339::serialize")]
    created_at: Time,
    #[serde(rename = "updatedAt", serialize_with = "serde_rfc3339::serialize")]
    updated_at: Time,
    participant1: Option<&'a UserView>,
    participant2: Option<&'a UserView>,
}

impl<'a> From<&'a ConversationView> for ConversationJson<'a> {
    fn from(c: &'a ConversationView) -> Self {
        Self {
            id: c.id,
            kind: &c.kind,
            participant_1_id: c.participant1.as_ref().map(|u| &u.id),
            participant_2_id: c.participant2.as_ref().map(|u| &u.id),
            last_message: c.last_message.as_deref(),
            last_message_at: c.last_message_at,
            last_seq: c.last_seq,
            unread_count: c.unread_count,
            created_at: c.created_at,
            updated_at: c.updated_at,
            participant1: c.participant1.as_ref(),
            participant2: c.participant2.as_ref(),
        }
    }
}

/// A page of conversations: `{ conversations, total, page, totalPages }`.
#[derive(Debug, Serialize)]
pub struct ConversationPage<'a> {
    conversations: Vec<ConversationJson<'a>>,
    total: u64,
    page: u64,
    #[serde(rename = "totalPages")]
    total_pages: u64,
}

impl<'a> From<&'a Page<ConversationView>> for ConversationPage<'a> {
    fn from(p: &'a Page<ConversationView>) -> Self {
        Self {
            conversations: p.items.iter().map(ConversationJson::from).collect(),
            total: p.total,
            page: p.page,
            total_pages: p.total_pages,
        }
    }
}

/// Unread messages of one conversation.
#[derive(Debug, Serialize)]
pub struct UnreadJson<'a> {
    conversation_id: i64,
    unread_count: i64,
    other_participant: Option<&'a UserView>,
}

impl<'a> From<&'a UnreadView> for UnreadJson<'a> {
    fn from(u: &'a UnreadView) -> Self {
        Self {
            conversation_id: u.conversation_id,
            unread_count: u.unread_count,
            other_participant: u.other_participant.as_ref(),
        }
    }
}
