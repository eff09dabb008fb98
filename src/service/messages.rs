//! Messages: sending (validated, idempotent, numbered, acknowledged after commit, broadcast in
//! order), history pages, search and soft delete.

use entity::{conversation, hidden_message, message, message_edit, participant};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select, Set,
};

use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::service::media::link_attachment;
use crate::service::reactions::reactions_of;
use crate::service::store::{
    ConvRef, Member, current_last_seq, find_direct, message_not_found, pair_key,
};
use crate::service::threads::{count_replies, fill_previews};
use crate::service::users::{Profiles, user_view};
use crate::service::views::{AttachmentDetails, MessageView, Page, PageRequest, Sent};
use crate::service::{Chat, ChatEvent, settle, users};

/// Longest attachment URL, in bytes.
pub const MAX_ATTACHMENT_URL: usize = 2_048;
/// Longest client message id, in characters.
pub const MAX_CLIENT_MSG_ID: usize = 128;
/// Longest attachment file name, in characters.
pub const MAX_ATTACHMENT_NAME: usize = 255;
/// Longest attachment MIME type, in characters.
const MAX_MIME: usize = 127;
/// Largest attachment size a client may state, in bytes (the largest integer a JSON number
/// carries exactly).
const MAX_ATTACHMENT_SIZE: i64 = (1 << 53) - 1;
/// Longest voice message a client may state: a day, in milliseconds.
const MAX_DURATION_MS: i64 = 24 * 60 * 60 * 1000;
/// Longest `last_message` preview kept on a conversation, in characters.
const PREVIEW_CHARS: usize = 500;

/// Bounds of a history read: messages before `before` and after `after` (by `seq`), and before
/// the message `before_message` (by id: `NOT_FOUND` unless it is in the conversation).
#[derive(Clone, Copy, Debug, Default)]
pub struct Cursor {
    /// Only messages with a smaller `seq`.
    pub before: Option<i64>,
    /// Only messages with a larger `seq`.
    pub after: Option<i64>,
    /// Only messages older than this one.
    pub before_message: Option<i64>,
}

/// What a client asks to send, before validation.
#[derive(Clone, Debug, Default)]
pub struct SendInput {
    /// The other user (direct messages).
    pub receiver: Option<UserId>,
    /// The conversation, if the client names it.
    pub conversation_id: Option<i64>,
    /// The text.
    pub content: String,
    /// An http(s) URL.
    pub attachment_url: Option<String>,
    /// The attachment's name, MIME type, size and duration (only with a URL).
    pub attachment: AttachmentDetails,
    /// The client's id for this send (socket `clientMsgId`, REST `Idempotency-Key`).
    pub client_msg_id: Option<String>,
    /// The connection it came from, for a socket send.
    pub origin: Option<crate::service::Origin>,
    /// `text` (the default), `image`, `file` or `voice`, in any case; `system` is the
    /// server's own and refused from clients.
    pub kind: Option<String>,
    /// The message this one replies to: a live message of the same conversation.
    pub reply_to: Option<i64>,
    /// An uploaded file to carry (the sender's, uploaded for this conversation): its link,
    /// name, type and size are the attachment, and its kind the message's.
    pub file_id: Option<String>,
}

impl SendInput {
    /// The kind to store (validated sends carry it).
    pub(crate) fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or(message::KIND_TEXT)
    }

    /// What the conversation shows of this message.
    pub(crate) fn preview(&self) -> String {
        preview(&self.content, self.kind(), self.attachment.name.as_deref())
    }
}

impl Chat {
    /// Validates and stores a message from `sender`, then tells the event sink. Returns after
    /// the transaction that stored it committed and the sink was told. A repeated client message id
    /// returns the stored message and stores and tells nothing. A refused send stores nothing at
    /// all: a new direct conversation is created in the same transaction as its first message.
    /// Concurrent sends share transactions (see [`writer`](crate::service::writer)).
    pub async fn send_message(&self, sender: &UserId, input: SendInput) -> AppResult<Sent> {
        self.charge(sender)?;
        let input = self.attach_file(sender, input).await?;
        let input = self.validate(input)?;
        let (target, first_part) = self.target(sender, &input).await?;
        if let Some(parent) = input.reply_to {
            match &target {
                Target::Existing(conv) => self.check_reply(conv.id, parent).await?,
                Target::NewDirect(..) => {
                    return Err(AppError::validation(
                        "replyTo must be a message of this chat, which has none yet",
                    ));
                }
            }
        }
        let known = match &target {
            Target::Existing(conv) => Some(conv.clone()),
            Target::NewDirect(..) => None,
        };
        let sent = self
            .writers
            .write(sender.clone(), target, input, first_part)
            .await?;
        // The sender has now taken part; the next send needs no update.
        if first_part && let Some(conv) = known {
            let key = (conv.id, sender.key().to_owned());
            self.caches.members.put(
                key,
                Member {
                    conv,
                    accepted: true,
                },
            );
        }
        Ok(sent)
    }

    /// A page of the conversation's messages, oldest first, for a participant. Fetching moves
    /// the reader's delivered position over the page.
    pub async fn list_messages(
        &self,
        user: &UserId,
        conversation_id: i64,
        page: PageRequest,
        after_seq: Option<i64>,
    ) -> AppResult<Page<MessageView>> {
        self.require_participant(user, conversation_id).await?;
        let mut query = visible(conversation_id).filter(self.not_hidden_from(user));
        if let Some(after) = after_seq {
            query = query.filter(message::Column::Seq.gt(after));
        }
        let found = self.page_of(query, page, user).await?;
        if let Some(last) = found.items.iter().map(|m| m.seq).max() {
            self.delivered_by_fetch(user, conversation_id, last).await;
        }
        Ok(found)
    }

    /// A page of the conversation's history counted from its newest message, for a
    /// participant: page 1 holds the newest `limit` messages (of those before `before` and after
    /// `after`, when given), each page oldest first. With `tombstones`, deleted messages are in
    /// it (content erased, `deleted_at` set), so `seq` runs without gaps; without, they are left
    /// out. Fetching moves the reader's delivered position over the page.
    pub async fn history(
        &self,
        user: &UserId,
        conversation_id: i64,
        page: PageRequest,
        cursor: Cursor,
        tombstones: bool,
    ) -> AppResult<Page<MessageView>> {
        let Cursor {
            mut before,
            after,
            before_message,
        } = cursor;
        self.require_participant(user, conversation_id).await?;
        if let Some(id) = before_message {
            let seq = message::Entity::find_by_id(id)
                .filter(message::Column::ConversationId.eq(conversation_id))
                .one(&self.db)
                .await?
                .ok_or_else(|| message_not_found(id))?
                .seq;
            before = Some(before.map_or(seq, |b| b.min(seq)));
        }
        let mut query = if tombstones {
            message::Entity::find().filter(message::Column::ConversationId.eq(conversation_id))
        } else {
            visible(conversation_id)
        }
        .filter(self.not_hidden_from(user));
        if let Some(before) = before {
            query = query.filter(message::Column::Seq.lt(before));
        }
        if let Some(after) = after {
            query = query.filter(message::Column::Seq.gt(after));
        }
        let total = query.clone().count(&self.db).await?;
        let mut rows = query
            .order_by_desc(message::Column::Seq)
            .offset(page.offset())
            .limit(page.limit)
            .all(&self.db)
            .await?;
        rows.reverse();
        if let Some(last) = rows.last() {
            self.delivered_by_fetch(user, conversation_id, last.seq)
                .await;
        }
        let items = self.message_views(rows, Some(user)).await?;
        Ok(page.wrap(items, total))
    }

    /// Soft-deletes a message. Its sender may, and in a group its admins and moderators; all
    /// still members. Anyone else gets `FORBIDDEN`.
    pub async fn delete_message(&self, user: &UserId, message_id: i64) -> AppResult<MessageView> {
        let (found, conv) = self.live_message(user, message_id).await?;
        if found.sender_id != user.key() && !self.moderates(user, &conv).await? {
            return Err(AppError::Forbidden(
                "only the sender, or an admin or moderator of the group, may delete a message"
                    .to_owned(),
            ));
        }
        let _order = self.order.lock(ConvRef::of(&conv).order_key()).await;
        let txn = self.begin_write().await?;
        let deleted = async {
            match soft_delete(&txn, &conv, message_id).await? {
                Some(deleted) => Ok(message_view(&txn, &self.caches.profiles, deleted).await?),
                None => Err(message_not_found(message_id)),
            }
        }
        .await;
        let view = self.present(settle(txn, deleted).await?);
        self.publish(&ChatEvent::MessageDeleted(&view));
        // The uploaded file it carried goes with it.
        if let Some(file) = &found.file_id {
            self.remove_file(file).await;
        }
        Ok(view)
    }

    /// Message `message_id`, not deleted, and its conversation, for a current member of it:
    /// `NOT_FOUND` for no such message, `FORBIDDEN` for someone outside its conversation.
    pub(crate) async fn live_message(
        &self,
        user: &UserId,
        message_id: i64,
    ) -> AppResult<(message::Model, conversation::Model)> {
        let found = message::Entity::find_by_id(message_id)
            .filter(message::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?
            .ok_or_else(|| message_not_found(message_id))?;
        let conv = self
            .require_participant(user, found.conversation_id)
            .await?;
        Ok((found, conv))
    }

    /// Whether `user` is an admin or moderator of the group `conv`.
    async fn moderates(&self, user: &UserId, conv: &conversation::Model) -> AppResult<bool> {
        if conv.kind != conversation::KIND_GROUP {
            return Ok(false);
        }
        let role = participant::Entity::find_by_id((conv.id, user.key().to_owned()))
            .one(&self.db)
            .await?
            .map(|p| p.role);
        Ok(matches!(
            role.as_deref(),
            Some(participant::ROLE_ADMIN | participant::ROLE_MODERATOR)
        ))
    }

    /// Refuses message content that is empty, too long, or holds control characters (sends
    /// and edits alike).
    pub(crate) fn check_content(&self, content: &str) -> AppResult<()> {
        if content.trim().is_empty() {
            return Err(AppError::validation("content must not be empty"));
        }
        if has_forbidden_control(content) {
            return Err(AppError::validation(
                "content must not contain control characters other than tab and newline \
                 (a carriage return only before a newline)",
            ));
        }
        let max = self.limits.max_message_length;
        if content.chars().count() > max {
            return Err(AppError::validation(format!(
                "content must be at most {max} characters"
            )));
        }
        Ok(())
    }

    /// A send that carries an uploaded file takes its attachment and kind from the file.
    async fn attach_file(&self, sender: &UserId, mut input: SendInput) -> AppResult<SendInput> {
        let Some(file_id) = input.file_id.clone() else {
            return Ok(input);
        };
        let conversation_id = input
            .conversation_id
            .ok_or_else(|| AppError::validation("a file is sent to a chat: chatId is required"))?;
        let file = self.attachable(sender, conversation_id, &file_id).await?;
        let base = self
            .media
            .as_deref()
            .map(|m| m.settings.link_base.as_str())
            .unwrap_or_default();
        input.attachment_url = Some(format!("{base}/{}", file.id));
        input.attachment = AttachmentDetails {
            name: Some(file.name),
            mime: Some(file.mime),
            size: Some(file.size),
            duration_ms: None,
        };
        input.kind = Some(
            match file.kind.as_str() {
                entity::media_file::KIND_IMAGE => message::KIND_IMAGE,
                entity::media_file::KIND_VIDEO => message::KIND_VIDEO,
                entity::media_file::KIND_AUDIO => message::KIND_VOICE,
                _ => message::KIND_FILE,
            }
            .to_owned(),
        );
        Ok(input)
    }

    fn validate(&self, mut input: SendInput) -> AppResult<SendInput> {
        let kind = message_kind(input.kind.as_deref())?;
        if let Some(url) = input.attachment_url.take() {
            let url = url.trim().to_owned();
            // An uploaded file's link is the server's own.
            if input.file_id.is_none() {
                check_url(&url, "attachmentUrl")?;
            }
            input.attachment_url = Some(url);
        }
        // A text needs words; an image, file or voice message may come without a caption.
        if kind == message::KIND_TEXT || !input.content.trim().is_empty() {
            self.check_content(&input.content)?;
        } else {
            input.content = String::new();
        }
        check_attachment(kind, input.attachment_url.is_some(), &input.attachment)?;
        input.kind = Some(kind.to_owned());
        if let Some(key) = &input.client_msg_id {
            let n = key.chars().count();
            if n == 0 || n > MAX_CLIENT_MSG_ID || key.chars().any(char::is_control) {
                return Err(AppError::validation(format!(
                    "clientMsgId must be 1 to {MAX_CLIENT_MSG_ID} printable characters"
                )));
            }
        }
        if input.conversation_id.is_none() && input.receiver.is_none() {
            return Err(AppError::validation(
                "receiverId or conversationId is required",
            ));
        }
        Ok(input)
    }

    /// Where a send goes: a conversation the sender is in, or the direct conversation with the
    /// receiver, which may not exist yet. Answered from the caches when it can be.
    /// Where a send goes, and whether it is the sender's first part in the conversation (a reply
    /// to someone who opened a direct conversation with them, say).
    async fn target(&self, sender: &UserId, input: &SendInput) -> AppResult<(Target, bool)> {
        if input
            .receiver
            .as_ref()
            .is_some_and(|r| r.key() == sender.key())
        {
            return Err(AppError::Unprocessable(
                "cannot send a message to yourself".to_owned(),
            ));
        }
        match (input.conversation_id, &input.receiver) {
            (Some(id), receiver) => {
                let Member { conv, accepted } = self.member_conversation(sender, id).await?;
                if let Some(r) = receiver
                    && conv.pair.is_some()
                    && conv.other(sender) != Some(r.key())
                {
                    return Err(AppError::validation(format!(
                        "receiverId is not the other participant of conversation {id}"
                    )));
                }
                Ok((Target::Existing(conv), !accepted))
            }
            (None, Some(receiver)) => {
                let (first, second) = UserId::ordered_pair(sender, receiver);
                match self.direct_conversation(first, second).await? {
                    Some(conv) => {
                        let accepted = self.member_conversation(sender, conv.id).await?.accepted;
                        Ok((Target::Existing(conv), !accepted))
                    }
                    None => Ok((Target::NewDirect(first.clone(), second.clone()), true)),
                }
            }
            (None, None) => Err(AppError::validation(
                "receiverId or conversationId is required",
            )),
        }
    }

    pub(crate) async fn page_of(
        &self,
        query: Select<message::Entity>,
        page: PageRequest,
        viewer: &UserId,
    ) -> AppResult<Page<MessageView>> {
        let total = query.clone().count(&self.db).await?;
        let rows = query
            .order_by_asc(message::Column::Seq)
            .offset(page.offset())
            .limit(page.limit)
            .all(&self.db)
            .await?;
        let items = self.message_views(rows, Some(viewer)).await?;
        Ok(page.wrap(items, total))
    }

    /// Stored messages with their senders and receivers, the previews of the messages they
    /// reply to, and their reactions (`mine` for `viewer`).
    pub(crate) async fn message_views(
        &self,
        rows: Vec<message::Model>,
        viewer: Option<&UserId>,
    ) -> AppResult<Vec<MessageView>> {
        let keys: Vec<String> = rows
            .iter()
            .flat_map(|m| [Some(m.sender_id.clone()), m.receiver_id.clone()])
            .flatten()
            .collect();
        let users = self.load_users(&self.db, keys).await?;
        let ids: Vec<i64> = rows.iter().map(|m| m.id).collect();
        let mut reactions = reactions_of(&self.db, &ids, viewer).await?;
        let mut views: Vec<MessageView> = rows
            .into_iter()
            .map(|m| {
                let sender = users::pick(&users, &m.sender_id);
                let receiver = m.receiver_id.as_deref().map(|r| users::pick(&users, r));
                let mut view = MessageView::new(m, sender, receiver);
                view.reactions = reactions.remove(&view.id).unwrap_or_default();
                link_attachment(view, self.media.as_deref())
            })
            .collect();
        fill_previews(&self.db, &self.caches.profiles, &mut views).await?;
        Ok(views)
    }

    /// A filter that leaves out the messages `user` deleted for themselves.
    pub(crate) fn not_hidden_from(&self, user: &UserId) -> sea_orm::sea_query::SimpleExpr {
        message::Column::Id.not_in_subquery(
            Query::select()
                .column(hidden_message::Column::MessageId)
                .from(hidden_message::Entity)
                .and_where(hidden_message::Column::UserId.eq(user.key()))
                .to_owned(),
        )
    }

    /// `user` deletes message `message_id` for themselves only: it leaves their history,
    /// search and threads, and stays for everyone else. Any member may, for any live message
    /// of their conversation; a repeat changes nothing. Only their own sockets are told
    /// ([`ChatEvent::MessageHidden`]).
    pub async fn delete_for_me(&self, user: &UserId, message_id: i64) -> AppResult<MessageView> {
        let (found, _) = self.live_message(user, message_id).await?;
        let now = crate::time::now();
        let inserted = hidden_message::Entity::insert(hidden_message::ActiveModel {
            user_id: Set(user.key().to_owned()),
            message_id: Set(message_id),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([
                hidden_message::Column::UserId,
                hidden_message::Column::MessageId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        let view = message_view(&self.db, &self.caches.profiles, found).await?;
        let view = self.present(view);
        if inserted > 0 {
            self.publish(&ChatEvent::MessageHidden {
                message: &view,
                user,
            });
        }
        Ok(view)
    }
}

/// Where a send goes.
#[derive(Debug)]
pub(crate) enum Target {
    /// A conversation that exists.
    Existing(ConvRef),
    /// The direct conversation of this ordered pair, to be created with the message.
    NewDirect(UserId, UserId),
}

impl Target {
    /// The order lock (and writer) of the conversation.
    pub(crate) fn order_key(&self) -> u64 {
        match self {
            Self::Existing(conv) => conv.order_key(),
            Self::NewDirect(first, second) => pair_key(first.key(), second.key()),
        }
    }
}

/// A stored message with its sender and receiver, the users from `profiles` or `conn`.
pub(crate) async fn message_view<C: ConnectionTrait>(
    conn: &C,
    profiles: &Profiles,
    m: message::Model,
) -> Result<MessageView, DbErr> {
    let sender = user_view(conn, profiles, &m.sender_id).await?;
    let receiver = match &m.receiver_id {
        Some(r) => Some(user_view(conn, profiles, r).await?),
        None => None,
    };
    let mut view = [MessageView::new(m, sender, receiver)];
    fill_previews(conn, profiles, &mut view).await?;
    let [view] = view;
    Ok(view)
}

/// The kind a client asked for, as stored: `text` when it named none; `system` is refused
/// (the server writes those).
fn message_kind(asked: Option<&str>) -> AppResult<&'static str> {
    let Some(asked) = asked else {
        return Ok(message::KIND_TEXT);
    };
    for kind in [
        message::KIND_TEXT,
        message::KIND_IMAGE,
        message::KIND_FILE,
        message::KIND_VOICE,
        message::KIND_VIDEO,
    ] {
        if asked.eq_ignore_ascii_case(kind) {
            return Ok(kind);
        }
    }
    if asked.eq_ignore_ascii_case(message::KIND_SYSTEM) {
        return Err(AppError::Forbidden(
            "system messages are written by the server, not sent by clients".to_owned(),
        ));
    }
    Err(AppError::validation(format!(
        "type must be one of TEXT, IMAGE, FILE, VOICE, got {:?}",
        asked.chars().take(40).collect::<String>()
    )))
}

/// Refuses an attachment that does not fit the message's `kind`: image, file and voice
/// messages need a URL; details need a URL; a name is printable and bounded; a MIME type is
/// `type/subtype` (an image's `image/...`, a voice message's `audio/...`); a size is not
/// negative; a duration is a voice message's, up to a day.
fn check_attachment(kind: &str, has_url: bool, details: &AttachmentDetails) -> AppResult<()> {
    if kind != message::KIND_TEXT && !has_url {
        return Err(AppError::validation(format!(
            "a message of type {} needs an attachmentUrl",
            kind.to_uppercase()
        )));
    }
    let given = details.name.is_some()
        || details.mime.is_some()
        || details.size.is_some()
        || details.duration_ms.is_some();
    if given && !has_url {
        return Err(AppError::validation(
            "attachment details need an attachmentUrl",
        ));
    }
    if let Some(name) = &details.name {
        let n = name.chars().count();
        if name.trim().is_empty() || n > MAX_ATTACHMENT_NAME || name.chars().any(char::is_control) {
            return Err(AppError::validation(format!(
                "attachmentName must be 1 to {MAX_ATTACHMENT_NAME} printable characters"
            )));
        }
    }
    if let Some(mime) = &details.mime {
        if !is_mime(mime) {
            return Err(AppError::validation(
                "attachmentMimeType must be a MIME type such as image/png",
            ));
        }
        let family = mime.split('/').next().unwrap_or_default();
        let expected = match kind {
            k if k == message::KIND_IMAGE => Some("image"),
            k if k == message::KIND_VOICE => Some("audio"),
            k if k == message::KIND_VIDEO => Some("video"),
            _ => None,
        };
        if let Some(expected) = expected
            && !family.eq_ignore_ascii_case(expected)
        {
            return Err(AppError::validation(format!(
                "a {} message's attachmentMimeType must be {expected}/...",
                kind.to_uppercase()
            )));
        }
    }
    if let Some(size) = details.size
        && !(0..=MAX_ATTACHMENT_SIZE).contains(&size)
    {
        return Err(AppError::validation(
            "attachmentSize must be a whole number of bytes, not negative",
        ));
    }
    if let Some(ms) = details.duration_ms {
        if kind != message::KIND_VOICE {
            return Err(AppError::validation(
                "attachmentDuration is for VOICE messages",
            ));
        }
        if !(0..=MAX_DURATION_MS).contains(&ms) {
            return Err(AppError::validation(
                "attachmentDuration must be 0 to 86400 seconds",
            ));
        }
    }
    Ok(())
}

/// Whether `mime` is `type/subtype` of token characters (parameters are not taken).
fn is_mime(mime: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
    };
    mime.len() <= MAX_MIME
        && mime
            .split_once('/')
            .is_some_and(|(t, sub)| token(t) && token(sub))
}

/// Refuses `url` (the client's field `what`) unless it is an http(s) URL of at most
/// [`MAX_ATTACHMENT_URL`] bytes.
pub(crate) fn check_url(url: &str, what: &str) -> AppResult<()> {
    if url.len() > MAX_ATTACHMENT_URL {
        return Err(AppError::validation(format!(
            "{what} must be at most {MAX_ATTACHMENT_URL} characters"
        )));
    }
    if !is_http_url(url) {
        return Err(AppError::validation(format!(
            "{what} must be an http:// or https:// URL"
        )));
    }
    Ok(())
}

/// Whether a repeated client message id asks for what was stored under it (same content and
/// attachment, and the same conversation or the same receiver); `CONFLICT` if not.
pub(crate) fn same_send(stored: &message::Model, input: &SendInput) -> AppResult<()> {
    let same_target = match (input.conversation_id, &input.receiver) {
        (Some(id), _) => id == stored.conversation_id,
        (None, Some(r)) => stored.receiver_id.as_deref() == Some(r.key()),
        (None, None) => false,
    };
    // A deleted message keeps no content to compare: its send was done.
    let same_message = stored.deleted_at.is_some()
        || (stored.content == input.content
            && stored.attachment_url == input.attachment_url
            && input.kind.as_deref().is_none_or(|k| k == stored.kind)
            && stored.attachment_name == input.attachment.name
            && stored.attachment_mime == input.attachment.mime
            && stored.attachment_size == input.attachment.size
            && stored.attachment_duration_ms == input.attachment.duration_ms
            && stored.reply_to == input.reply_to
            && stored.file_id == input.file_id);
    if !same_target || !same_message {
        return Err(AppError::Conflict(
            "clientMsgId was already used for a different message".to_owned(),
        ));
    }
    Ok(())
}

/// Creates the direct conversation of an ordered pair, opened by `opener` (one of them), and its
/// participants, or finds the one a concurrent transaction just created. Both users must exist
/// already (the writer inserts the users a batch needs first, in key order).
pub(crate) async fn create_direct(
    txn: &DatabaseTransaction,
    first: &UserId,
    second: &UserId,
    opener: &UserId,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<conversation::Model, DbErr> {
    let row = conversation::ActiveModel {
        kind: Set(conversation::KIND_DIRECT.to_owned()),
        title: Set(None),
        participant_1_id: Set(Some(first.key().to_owned())),
        participant_2_id: Set(Some(second.key().to_owned())),
        last_message: Set(None),
        last_message_at: Set(None),
        last_seq: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        opened_by: Set(Some(opener.key().to_owned())),
        ..Default::default()
    };
    conversation::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                conversation::Column::Participant1Id,
                conversation::Column::Participant2Id,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    let conv = find_direct(txn, first, second)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("direct conversation after insert".to_owned()))?;
    // Neither has taken part yet: the writer marks each sender who does (see `accept`).
    let members = [first, second]
        .map(|u| participant::ActiveModel::member(conv.id, u.key().to_owned(), now, false));
    participant::Entity::insert_many(members)
        .on_conflict(
            OnConflict::columns([
                participant::Column::ConversationId,
                participant::Column::UserId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(conv)
}

/// Records that `user` took part in the conversation (if they had not already): a chat request
/// to them is accepted, even one they had declined. Returns whether this changed anything.
pub(crate) async fn accept<C: ConnectionTrait>(
    txn: &C,
    conversation_id: i64,
    user: &UserId,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, DbErr> {
    let changed = participant::Entity::update_many()
        .col_expr(participant::Column::AcceptedAt, Expr::value(now))
        .col_expr(
            participant::Column::RejectedAt,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .filter(participant::Column::ConversationId.eq(conversation_id))
        .filter(participant::Column::UserId.eq(user.key()))
        .filter(participant::Column::AcceptedAt.is_null())
        .exec(txn)
        .await?
        .rows_affected
        > 0;
    Ok(changed)
}

/// Marks a message deleted, leaving a tombstone: the row keeps its `seq`, sender and times;
/// its content, attachment and edit history are erased. If the conversation's preview showed
/// it, the preview shows the latest message left. `None` when it was deleted meanwhile.
pub(crate) async fn soft_delete(
    txn: &DatabaseTransaction,
    conv: &conversation::Model,
    message_id: i64,
) -> Result<Option<message::Model>, DbErr> {
    let now = crate::time::now();
    let none: Option<String> = None;
    let no_number: Option<i64> = None;
    let Some(deleted) = message::Entity::update_many()
        .col_expr(message::Column::DeletedAt, Expr::value(now))
        .col_expr(message::Column::UpdatedAt, Expr::value(now))
        .col_expr(message::Column::Content, Expr::value(""))
        .col_expr(
            message::Column::EditedAt,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .col_expr(message::Column::AttachmentUrl, Expr::value(none.clone()))
        .col_expr(message::Column::FileId, Expr::value(none.clone()))
        .col_expr(message::Column::AttachmentName, Expr::value(none.clone()))
        .col_expr(message::Column::AttachmentMime, Expr::value(none))
        .col_expr(message::Column::AttachmentSize, Expr::value(no_number))
        .col_expr(
            message::Column::AttachmentDurationMs,
            Expr::value(no_number),
        )
        .filter(message::Column::Id.eq(message_id))
        .filter(message::Column::DeletedAt.is_null())
        .exec_with_returning(txn)
        .await?
        .pop()
    else {
        return Ok(None);
    };
    // What the edits replaced goes with it.
    message_edit::Entity::delete_many()
        .filter(message_edit::Column::MessageId.eq(message_id))
        .exec(txn)
        .await?;
    // A deleted reply no longer counts in its thread.
    if let Some(parent) = deleted.reply_to {
        count_replies(txn, &[(parent, -1)]).await?;
    }
    if deleted.seq == current_last_seq(txn, conv).await? {
        let latest = visible(conv.id)
            .order_by_desc(message::Column::Seq)
            .one(txn)
            .await?;
        conversation::Entity::update_many()
            .col_expr(
                conversation::Column::LastMessage,
                Expr::value(
                    latest.map(|m| preview(&m.content, &m.kind, m.attachment_name.as_deref())),
                ),
            )
            .filter(conversation::Column::Id.eq(conv.id))
            .exec(txn)
            .await?;
    }
    Ok(Some(deleted))
}

/// The conversation's messages that are not deleted.
pub(crate) fn visible(conversation_id: i64) -> Select<message::Entity> {
    message::Entity::find()
        .filter(message::Column::ConversationId.eq(conversation_id))
        .filter(message::Column::DeletedAt.is_null())
}

/// What a conversation shows of its latest message: its text, or for an attachment without a
/// caption its kind and file name (`[image]`, `[file: report.pdf]`).
pub(crate) fn preview(content: &str, kind: &str, name: Option<&str>) -> String {
    if !content.trim().is_empty() || kind == message::KIND_TEXT {
        return content.chars().take(PREVIEW_CHARS).collect();
    }
    let label = match name {
        Some(name) => format!("[{kind}: {name}]"),
        None => format!("[{kind}]"),
    };
    label.chars().take(PREVIEW_CHARS).collect()
}

/// Whether a text holds a control character other than tab and newline. A carriage return is
/// allowed only as part of a CRLF line ending (what Windows clients send); alone it can rewrite
/// what a terminal or a log shows, so it is refused.
pub(crate) fn has_forbidden_control(text: &str) -> bool {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let allowed = match c {
            '\t' | '\n' => true,
            '\r' => chars.peek() == Some(&'\n'),
            c => !c.is_control(),
        };
        if !allowed {
            return true;
        }
    }
    false
}

fn is_http_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            !host.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tab_newline_and_crlf_are_allowed_controls() {
        for ok in [
            "plain",
            "tab\there",
            "two\nlines",
            "windows\r\nline",
            "\r\n",
            "ÜBER",
        ] {
            assert!(!has_forbidden_control(ok), "{ok:?}");
        }
        for bad in [
            "a\rb",
            "end\r",
            "\r\r\n",
            "nul\u{0}",
            "esc\u{1b}[0m",
            "del\u{7f}",
        ] {
            assert!(has_forbidden_control(bad), "{bad:?}");
        }
    }

    #[test]
    fn attachment_urls_must_be_http() {
        assert!(is_http_url("https://example.com/a.png"));
        assert!(is_http_url("HTTP://example.com"));
        for bad in [
            "javascript:alert(1)",
            "ftp://x",
            "https://",
            "https:// x",
            "/relative",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }
}
