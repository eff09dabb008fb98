//! The shapes of the `chats` protocol, in the spirit of seed 004's MongoDB models: objects carry
//! their id as `_id` (and `id`), every id a JSON string; every id it reads may be a string or a
//! number.

use serde::{Deserialize, Serialize};

use crate::ids::{Id, UserId};
use crate::service::media::FileView;
use crate::service::search::{SearchFrom, SearchPage};
use crate::service::views::PageRequest;
use crate::service::views::{
    BlockView, ConversationView, MessageView, Page, ReactionCount, ReactionsView, ReadReceipt,
    ReplyPreview, UserView,
};
use crate::time::serde_rfc3339;
use crate::transport::rest::Pagination;

type Time = chrono::DateTime<chrono::Utc>;

/// A user: `{ _id, id, name, username, email, avatar }`.
#[derive(Debug, Serialize)]
pub struct User<'a> {
    #[serde(rename = "_id")]
    object_id: &'a str,
    id: &'a str,
    name: Option<&'a str>,
    username: Option<&'a str>,
    email: Option<&'a str>,
    avatar: Option<&'a str>,
}

impl<'a> From<&'a UserView> for User<'a> {
    fn from(u: &'a UserView) -> Self {
        Self {
            object_id: u.id.key(),
            id: u.id.key(),
            name: u.name.as_deref(),
            username: u.username.as_deref(),
            email: u.email.as_deref(),
            avatar: u.avatar.as_deref(),
        }
    }
}

/// The `messageType` of a stored kind: `text`, `image`, `video`, `file`, `audio` (a voice
/// message) or `system`.
fn message_type(kind: &str) -> &str {
    match kind {
        entity::message::KIND_VOICE => "audio",
        other => other,
    }
}

/// A message.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message<'a> {
    #[serde(rename = "_id")]
    object_id: String,
    id: String,
    chat_id: String,
    sender_id: &'a str,
    content: &'a str,
    message_type: &'a str,
    seq: i64,
    client_msg_id: Option<&'a str>,
    media: Option<Media<'a>>,
    reply_to: Option<ReplyTo<'a>>,
    reply_count: i64,
    reactions: Vec<Reaction<'a>>,
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
            object_id: m.id.to_string(),
            id: m.id.to_string(),
            chat_id: m.conversation_id.to_string(),
            sender_id: m.sender.id.key(),
            content: &m.content,
            message_type: message_type(&m.kind),
            seq: m.seq,
            client_msg_id: m.client_msg_id.as_deref(),
            media: Media::of(m),
            reply_to: m.reply.as_ref().map(ReplyTo::from),
            reply_count: m.reply_count,
            reactions: m.reactions.iter().map(Reaction::from).collect(),
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

/// What a reply shows of the message it replies to: `{ _id, id, senderId, content,
/// messageType, isDeleted }` (`content` is the start of it).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ReplyTo<'a> {
    #[serde(rename = "_id")]
    object_id: String,
    id: String,
    sender_id: &'a str,
    content: &'a str,
    message_type: &'a str,
    is_deleted: bool,
}

impl<'a> From<&'a ReplyPreview> for ReplyTo<'a> {
    fn from(r: &'a ReplyPreview) -> Self {
        Self {
            object_id: r.id.to_string(),
            id: r.id.to_string(),
            sender_id: r.sender.key(),
            content: &r.preview,
            message_type: message_type(&r.kind),
            is_deleted: r.deleted,
        }
    }
}

/// One emoji's reactions: `{ emoji, count, users, reacted }` (`reacted`: the user the answer
/// is for is among `users`; left out of room broadcasts).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reaction<'a> {
    emoji: &'a str,
    count: i64,
    users: &'a [String],
    reacted: bool,
}

impl<'a> From<&'a ReactionCount> for Reaction<'a> {
    fn from(r: &'a ReactionCount) -> Self {
        Self {
            emoji: &r.emoji,
            count: r.count,
            users: &r.users,
            reacted: r.mine,
        }
    }
}

/// The answer to a reaction: `{ messageId, chatId, reactions }`.
#[derive(Debug)]
pub struct ReactionsJson(pub ReactionsView);

impl Serialize for ReactionsJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer<'a> {
            message_id: String,
            chat_id: String,
            reactions: Vec<Reaction<'a>>,
        }
        Answer {
            message_id: self.0.message_id.to_string(),
            chat_id: self.0.conversation_id.to_string(),
            reactions: self.0.reactions.iter().map(Reaction::from).collect(),
        }
        .serialize(s)
    }
}

/// `reaction_added` / `reaction_removed`: `{ messageId, chatId, userId, emoji, reactions }`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reacted<'a> {
    /// The message.
    pub message_id: String,
    /// Its chat.
    pub chat_id: String,
    /// Who reacted.
    pub user_id: &'a str,
    /// With what.
    pub emoji: &'a str,
    /// The message's reactions now.
    pub reactions: Vec<Reaction<'a>>,
}

impl<'a> Reacted<'a> {
    /// The broadcast of a change to `reactions` of a message.
    pub fn new(
        message_id: i64,
        chat_id: i64,
        user: &'a UserId,
        emoji: &'a str,
        reactions: &'a [ReactionCount],
    ) -> Self {
        Self {
            message_id: message_id.to_string(),
            chat_id: chat_id.to_string(),
            user_id: user.key(),
            emoji,
            reactions: reactions.iter().map(Reaction::from).collect(),
        }
    }
}

/// `add_reaction` / `remove_reaction`: `{ messageId, emoji }`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionPayload {
    /// The message.
    pub message_id: Id,
    /// The emoji.
    pub emoji: String,
}

/// A stored message as an owned answer.
#[derive(Debug)]
pub struct MessageJson(pub MessageView);

impl Serialize for MessageJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Message::from(&self.0).serialize(s)
    }
}

/// A chat as the member who asked sees it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Chat<'a> {
    #[serde(rename = "_id")]
    object_id: String,
    id: String,
    #[serde(rename = "type")]
    kind: &'a str,
    name: Option<&'a str>,
    participants: Vec<User<'a>>,
    status: &'static str,
    initiator: Option<&'a str>,
    is_request: bool,
    last_message: Option<&'a str>,
    #[serde(serialize_with = "serde_rfc3339::option")]
    last_message_at: Option<Time>,
    last_seq: i64,
    unread_count: i64,
    is_archived: bool,
    is_muted: bool,
    is_blocked: bool,
    #[serde(serialize_with = "serde_rfc3339::serialize")]
    created_at: Time,
    #[serde(serialize_with = "serde_rfc3339::serialize")]
    updated_at: Time,
}

impl<'a> From<&'a ConversationView> for Chat<'a> {
    fn from(c: &'a ConversationView) -> Self {
        Self {
            object_id: c.id.to_string(),
            id: c.id.to_string(),
            kind: &c.kind,
            name: c.title.as_deref(),
            participants: c.members.iter().map(|m| User::from(&m.user)).collect(),
            status: c.request.as_str(),
            initiator: c.opened_by.as_ref().map(UserId::key),
            is_request: c.standing.awaiting_answer,
            last_message: c.last_message.as_deref(),
            last_message_at: c.last_message_at,
            last_seq: c.last_seq,
            unread_count: c.unread_count,
            is_archived: c.standing.archived,
            is_muted: c.standing.muted,
            is_blocked: c.blocked,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A chat as an owned answer.
#[derive(Debug)]
pub struct ChatJson(pub ConversationView);

impl Serialize for ChatJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Chat::from(&self.0).serialize(s)
    }
}

/// A page of chats: `{ chats, pagination }`.
#[derive(Debug, Serialize)]
pub struct ChatPage {
    chats: Vec<ChatJson>,
    pagination: Pagination,
}

impl ChatPage {
    /// `page`, of pages of `limit`.
    pub fn new(page: Page<ConversationView>, limit: u64) -> Self {
        let pagination = Pagination::of(&page, limit);
        Self {
            chats: page.items.into_iter().map(ChatJson).collect(),
            pagination,
        }
    }
}

/// A page of messages, newest first: `{ messages, pagination, hasMore }`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagePage {
    messages: Vec<MessageJson>,
    pagination: Pagination,
    has_more: bool,
}

impl MessagePage {
    /// `page` (in any order), of pages of `limit`, newest message first.
    pub fn newest_first(page: Page<MessageView>, limit: u64) -> Self {
        let pagination = Pagination::of(&page, limit);
        let mut items = page.items;
        items.sort_by_key(|m| std::cmp::Reverse(m.seq));
        Self {
            messages: items.into_iter().map(MessageJson).collect(),
            has_more: pagination.has_more(),
            pagination,
        }
    }
}

impl MessagePage {
    /// `page` in the order it was read, of pages of `limit`.
    pub fn in_order(page: Page<MessageView>, limit: u64) -> Self {
        let pagination = Pagination::of(&page, limit);
        Self {
            messages: page.items.into_iter().map(MessageJson).collect(),
            has_more: pagination.has_more(),
            pagination,
        }
    }
}

/// Search results, best first: `{ messages, pagination, hasMore, nextCursor }`
/// (`pagination` for pages read by number).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResults {
    messages: Vec<MessageJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination: Option<Pagination>,
    has_more: bool,
    next_cursor: Option<String>,
}

impl SearchResults {
    /// `found`, read as `page` (its limit, and its number unless `from` is a cursor).
    pub fn new(found: SearchPage, page: PageRequest, from: SearchFrom) -> Self {
        let pagination = match from {
            SearchFrom::Page(_) => Some(Pagination::of(
                &page.wrap(Vec::<()>::new(), found.total),
                page.limit,
            )),
            SearchFrom::After(_) => None,
        };
        Self {
            messages: found.items.into_iter().map(MessageJson).collect(),
            pagination,
            has_more: found.next.is_some(),
            next_cursor: found.next.map(|c| c.encode()),
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

/// `typing`: `{ chatId, isTyping? }`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypingPayload {
    /// The chat.
    pub chat_id: Id,
    /// `false` stops; absent starts.
    pub is_typing: Option<bool>,
}

/// `send_message`, and the body of `POST /api/chats/:chatId/messages` (without `chatId`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendPayload {
    /// The chat (socket only; REST takes it from the path).
    pub chat_id: Option<Id>,
    /// The text.
    pub content: Option<String>,
    /// The message this one replies to (a message of the same chat).
    pub reply_to: Option<Id>,
    /// The client's temporary id; repeating it repeats nothing.
    #[serde(default, deserialize_with = "crate::ids::text_or_number")]
    pub temp_id: Option<String>,
    /// The client's id for this send; repeating it repeats nothing.
    #[serde(default, deserialize_with = "crate::ids::text_or_number")]
    pub client_msg_id: Option<String>,
}

/// The body of `POST /api/chats/or-create`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrCreatePayload {
    /// The other user.
    pub recipient_id: Option<UserId>,
}

/// `edit_message`: `{ messageId, content }`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditPayload {
    /// The message.
    pub message_id: Option<Id>,
    /// The new text.
    #[serde(default)]
    pub content: String,
}

/// `delete_message`: `{ messageId, forEveryone? }` (or `deleteFor: "me" | "everyone"`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletePayload {
    /// The message.
    pub message_id: Id,
    /// `false`: for the caller only; `true` (the default): for everyone.
    pub for_everyone: Option<bool>,
    /// `me` or `everyone`.
    pub delete_for: Option<String>,
}

impl DeletePayload {
    /// Whether the delete is for everyone (the default) or for the caller only.
    pub fn for_everyone(&self) -> Result<bool, crate::error::AppError> {
        let named = match self
            .delete_for
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => None,
            Some("everyone") => Some(true),
            Some("me") => Some(false),
            Some(_) => {
                return Err(crate::error::AppError::validation(
                    "deleteFor must be me or everyone",
                ));
            }
        };
        match (self.for_everyone, named) {
            (Some(a), Some(b)) if a != b => Err(crate::error::AppError::validation(
                "forEveryone and deleteFor disagree",
            )),
            (a, b) => Ok(a.or(b).unwrap_or(true)),
        }
    }
}

/// `{ chatId, lastSeq? }`: the answer to entering and leaving a room, and to typing.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatRef {
    chat_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_seq: Option<i64>,
}

impl ChatRef {
    /// Chat `id`, with its last `seq` when given.
    pub fn new(id: i64, last_seq: Option<i64>) -> Self {
        Self {
            chat_id: id.to_string(),
            last_seq,
        }
    }
}

/// `messages_read`: `{ chatId, readBy, lastReadSeq, readAt }`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Read<'a> {
    chat_id: String,
    read_by: &'a str,
    last_read_seq: i64,
    #[serde(serialize_with = "serde_rfc3339::serialize")]
    read_at: Time,
}

impl<'a> From<&'a ReadReceipt> for Read<'a> {
    fn from(r: &'a ReadReceipt) -> Self {
        Self {
            chat_id: r.conversation_id.to_string(),
            read_by: r.user.key(),
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

/// `user_typing` / `user_stopped_typing`: `{ chatId, userId, isTyping }`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Typing<'a> {
    /// The chat.
    pub chat_id: String,
    /// Who.
    pub user_id: &'a str,
    /// Started or stopped.
    pub is_typing: bool,
}

/// `message_deleted`: `{ messageId, chatId, deletedAt, forEveryone }`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    message_id: String,
    chat_id: String,
    #[serde(serialize_with = "serde_rfc3339::option")]
    deleted_at: Option<Time>,
    for_everyone: bool,
}

impl Deleted {
    /// A delete of `m` for everyone (`true`) or for one member.
    pub fn new(m: &MessageView, for_everyone: bool) -> Self {
        Self {
            message_id: m.id.to_string(),
            chat_id: m.conversation_id.to_string(),
            deleted_at: if for_everyone { m.deleted_at } else { None },
            for_everyone,
        }
    }
}

/// `chat_request`: `{ chatId, initiator }`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Request<'a> {
    /// The chat.
    pub chat_id: String,
    /// Who opened it.
    pub initiator: &'a str,
}

/// `chat_accepted` / `chat_rejected`: `{ chatId, userId }`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Answered<'a> {
    /// The chat.
    pub chat_id: String,
    /// Who answered.
    pub user_id: &'a str,
}

/// A block: `{ userId, blocked, blockedAt }`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Block {
    user_id: String,
    blocked: bool,
    #[serde(serialize_with = "serde_rfc3339::option")]
    blocked_at: Option<Time>,
}

impl From<&BlockView> for Block {
    fn from(b: &BlockView) -> Self {
        Self {
            user_id: b.user.id.key().to_owned(),
            blocked: b.since.is_some(),
            blocked_at: b.since,
        }
    }
}

/// One entry of `GET /api/users/blocked`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Blocked<'a> {
    user: User<'a>,
    #[serde(serialize_with = "serde_rfc3339::option")]
    blocked_at: Option<Time>,
}

/// `{ users: [{ user, blockedAt }] }`.
#[derive(Debug)]
pub struct BlockedList(pub Vec<BlockView>);

impl Serialize for BlockedList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Users<'a> {
            users: Vec<Blocked<'a>>,
        }
        Users {
            users: self
                .0
                .iter()
                .map(|b| Blocked {
                    user: User::from(&b.user),
                    blocked_at: b.since,
                })
                .collect(),
        }
        .serialize(s)
    }
}

/// A stored upload: `{ fileId, url, messageType, fileName, mimeType, size, kind, width, height }`
/// (`url` a signed link).
#[derive(Debug)]
pub struct UploadJson(pub FileView);

impl Serialize for UploadJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Upload<'a> {
            file_id: &'a str,
            url: &'a str,
            message_type: &'a str,
            file_name: &'a str,
            mime_type: &'a str,
            size: i64,
            kind: &'a str,
            width: Option<i32>,
            height: Option<i32>,
            chat_id: String,
        }
        let f = &self.0;
        Upload {
            file_id: &f.id,
            url: &f.url,
            message_type: &f.kind,
            file_name: &f.name,
            mime_type: &f.mime,
            size: f.size,
            kind: &f.kind,
            width: f.width,
            height: f.height,
            chat_id: f.conversation_id.to_string(),
        }
        .serialize(s)
    }
}

/// The body of `POST /api/media/delete`: `{ fileId }`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteFileRequest {
    /// The file.
    pub file_id: String,
}

/// `send_media`: `{ chatId, messageType?, media: { fileId, ... }, content?, replyTo?, tempId? }`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMediaPayload {
    /// The chat.
    pub chat_id: Option<Id>,
    /// What the upload answered (only `fileId` is read).
    pub media: Option<MediaRef>,
    /// A caption.
    pub content: Option<String>,
    /// The message this one replies to.
    pub reply_to: Option<Id>,
    /// The client's temporary id; repeating it repeats nothing.
    #[serde(default, deserialize_with = "crate::ids::text_or_number")]
    pub temp_id: Option<String>,
    /// The client's id for this send; repeating it repeats nothing.
    #[serde(default, deserialize_with = "crate::ids::text_or_number")]
    pub client_msg_id: Option<String>,
}

/// The part of an upload's answer a media send names.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaRef {
    /// The uploaded file.
    pub file_id: Option<String>,
}

/// What a message shows of its attachment: `{ fileId, url, fileName, mimeType, size }`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Media<'a> {
    file_id: Option<&'a str>,
    url: &'a str,
    file_name: Option<&'a str>,
    mime_type: Option<&'a str>,
    size: Option<i64>,
}

impl<'a> Media<'a> {
    fn of(m: &'a MessageView) -> Option<Self> {
        let url = m.attachment_url.as_deref()?;
        Some(Self {
            file_id: m.file_id.as_deref(),
            url,
            file_name: m.attachment.name.as_deref(),
            mime_type: m.attachment.mime.as_deref(),
            size: m.attachment.size,
        })
    }
}
