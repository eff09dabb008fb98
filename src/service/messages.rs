//! Messages: sending (validated, idempotent, numbered, acknowledged after commit, broadcast in
//! order), history pages, search and soft delete.

use entity::{conversation, message, participant};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, Set,
};

use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::service::store::{ConvRef, Member, current_last_seq, find_direct, pair_key};
use crate::service::users::{Profiles, user_view};
use crate::service::views::{MessageView, Page, PageRequest, Sent};
use crate::service::{Chat, ChatEvent, settle, users};

/// Longest attachment URL, in bytes.
pub const MAX_ATTACHMENT_URL: usize = 2_048;
/// Longest client message id, in characters.
pub const MAX_CLIENT_MSG_ID: usize = 128;
/// Longest search term, in characters.
pub const MAX_SEARCH_TERM: usize = 200;
/// Longest `last_message` preview kept on a conversation, in characters.
const PREVIEW_CHARS: usize = 500;

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
    /// The client's id for this send (socket `clientMsgId`, REST `Idempotency-Key`).
    pub client_msg_id: Option<String>,
    /// The connection it came from, for a socket send.
    pub origin: Option<crate::service::Origin>,
    /// The kind the client asked for; only `text` is built (any case; `None` is text).
    pub kind: Option<String>,
}

impl Chat {
    /// Validates and stores a message from `sender`, then tells the event sink. Returns after
    /// the transaction that stored it committed and the sink was told. A repeated client message id
    /// returns the stored message and stores and tells nothing. A refused send stores nothing at
    /// all: a new direct conversation is created in the same transaction as its first message.
    /// Concurrent sends share transactions (see [`writer`](crate::service::writer)).
    pub async fn send_message(&self, sender: &UserId, input: SendInput) -> AppResult<Sent> {
        self.charge(sender)?;
        let input = self.validate(input)?;
        let (target, first_part) = self.target(sender, &input).await?;
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

    /// A page of the conversation's messages, oldest first, for a participant.
    pub async fn list_messages(
        &self,
        user: &UserId,
        conversation_id: i64,
        page: PageRequest,
        after_seq: Option<i64>,
    ) -> AppResult<Page<MessageView>> {
        self.require_participant(user, conversation_id).await?;
        let mut query = visible(conversation_id);
        if let Some(after) = after_seq {
            query = query.filter(message::Column::Seq.gt(after));
        }
        self.page_of(query, page).await
    }

    /// A page of the conversation's history counted from its newest message, for a
    /// participant: page 1 holds the newest `limit` messages (of those before `before` and after
    /// `after`, when given), each page oldest first.
    pub async fn history(
        &self,
        user: &UserId,
        conversation_id: i64,
        page: PageRequest,
        before: Option<i64>,
        after: Option<i64>,
    ) -> AppResult<Page<MessageView>> {
        self.require_participant(user, conversation_id).await?;
        let mut query = visible(conversation_id);
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
        let items = self.message_views(rows).await?;
        Ok(page.wrap(items, total))
    }

    /// A page of the conversation's messages whose content contains `term`, case-insensitively.
    pub async fn search_messages(
        &self,
        user: &UserId,
        conversation_id: i64,
        term: &str,
        page: PageRequest,
    ) -> AppResult<Page<MessageView>> {
        let term = term.trim();
        if term.is_empty() {
            return Err(AppError::validation("q must not be empty"));
        }
        if has_forbidden_control(term) {
            return Err(AppError::validation(
                "q must not contain control characters",
            ));
        }
        if term.chars().count() > MAX_SEARCH_TERM {
            return Err(AppError::validation(format!(
                "q must be at most {MAX_SEARCH_TERM} characters"
            )));
        }
        self.require_participant(user, conversation_id).await?;
        // `%`, `_` and the escape character match themselves; both sides are lowered by the
        // database, so the term and the content fold case the same way.
        let escaped: String = term
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let placeholder = match self.db.get_database_backend() {
            DbBackend::Postgres => "$1",
            _ => "?",
        };
        let query = visible(conversation_id).filter(Expr::cust_with_values(
            format!("LOWER(content) LIKE LOWER({placeholder}) ESCAPE '\\'"),
            [format!("%{escaped}%")],
        ));
        self.page_of(query, page).await
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
        let view = self
            .limits
            .public_profile
            .show_message(settle(txn, deleted).await?);
        self.publish(&ChatEvent::MessageDeleted(&view));
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

    fn validate(&self, mut input: SendInput) -> AppResult<SendInput> {
        if let Some(kind) = &input.kind
            && !kind.eq_ignore_ascii_case(message::KIND_TEXT)
        {
            return Err(AppError::validation(format!(
                "type {kind:?} is not supported yet: only text messages"
            )));
        }
        self.check_content(&input.content)?;
        if let Some(url) = input.attachment_url.take() {
            let url = url.trim().to_owned();
            check_url(&url, "attachmentUrl")?;
            input.attachment_url = Some(url);
        }
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

    async fn page_of(
        &self,
        query: Select<message::Entity>,
        page: PageRequest,
    ) -> AppResult<Page<MessageView>> {
        let total = query.clone().count(&self.db).await?;
        let rows = query
            .order_by_asc(message::Column::Seq)
            .offset(page.offset())
            .limit(page.limit)
            .all(&self.db)
            .await?;
        let items = self.message_views(rows).await?;
        Ok(page.wrap(items, total))
    }

    /// Stored messages with their senders and receivers.
    async fn message_views(&self, rows: Vec<message::Model>) -> AppResult<Vec<MessageView>> {
        let keys: Vec<String> = rows
            .iter()
            .flat_map(|m| [Some(m.sender_id.clone()), m.receiver_id.clone()])
            .flatten()
            .collect();
        let users = self.load_users(&self.db, keys).await?;
        Ok(rows
            .into_iter()
            .map(|m| {
                let sender = users::pick(&users, &m.sender_id);
                let receiver = m.receiver_id.as_deref().map(|r| users::pick(&users, r));
                MessageView::new(m, sender, receiver)
            })
            .collect())
    }
}

/// `NOT_FOUND` for message `message_id`.
pub(crate) fn message_not_found(message_id: i64) -> AppError {
    AppError::NotFound(format!("message {message_id} not found"))
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
    Ok(MessageView::new(m, sender, receiver))
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
    if !same_target
        || stored.content != input.content
        || stored.attachment_url != input.attachment_url
    {
        return Err(AppError::Conflict(
            "clientMsgId was already used for a different message".to_owned(),
        ));
    }
    Ok(())
}

/// Creates the direct conversation of an ordered pair and its participants, or finds the one a
/// concurrent transaction just created. Both users must exist already (the writer inserts the
/// users a batch needs first, in key order).
pub(crate) async fn create_direct(
    txn: &DatabaseTransaction,
    first: &UserId,
    second: &UserId,
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

/// Records that `user` took part in the conversation (if they had not already).
pub(crate) async fn accept(
    txn: &DatabaseTransaction,
    conversation_id: i64,
    user: &UserId,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    participant::Entity::update_many()
        .col_expr(participant::Column::AcceptedAt, Expr::value(now))
        .filter(participant::Column::ConversationId.eq(conversation_id))
        .filter(participant::Column::UserId.eq(user.key()))
        .filter(participant::Column::AcceptedAt.is_null())
        .exec(txn)
        .await?;
    Ok(())
}

/// Marks a message deleted and, if the conversation's preview showed it, shows the latest one
/// left. `None` when it was deleted meanwhile.
pub(crate) async fn soft_delete(
    txn: &DatabaseTransaction,
    conv: &conversation::Model,
    message_id: i64,
) -> Result<Option<message::Model>, DbErr> {
    let now = crate::time::now();
    let Some(deleted) = message::Entity::update_many()
        .col_expr(message::Column::DeletedAt, Expr::value(now))
        .col_expr(message::Column::UpdatedAt, Expr::value(now))
        .filter(message::Column::Id.eq(message_id))
        .filter(message::Column::DeletedAt.is_null())
        .exec_with_returning(txn)
        .await?
        .pop()
    else {
        return Ok(None);
    };
    if deleted.seq == current_last_seq(txn, conv).await? {
        let latest = visible(conv.id)
            .order_by_desc(message::Column::Seq)
            .one(txn)
            .await?;
        conversation::Entity::update_many()
            .col_expr(
                conversation::Column::LastMessage,
                Expr::value(latest.map(|m| preview(&m.content))),
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

pub(crate) fn preview(content: &str) -> String {
    content.chars().take(PREVIEW_CHARS).collect()
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
