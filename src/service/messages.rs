//! Messages: sending (validated, idempotent, numbered, acknowledged after commit, broadcast in
//! order), history pages, search and soft delete.

use entity::{conversation, message};
use sea_orm::sea_query::{Expr, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select, Set, SqlErr,
};
use tokio::sync::{Mutex, MutexGuard};

use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::service::conversations::participant_of;
use crate::service::views::{MessageView, Page, PageRequest, Sent};
use crate::service::{Chat, ChatEvents, users};

/// Longest attachment URL, in bytes.
pub const MAX_ATTACHMENT_URL: usize = 2_048;
/// Longest client message id, in characters.
pub const MAX_CLIENT_MSG_ID: usize = 128;
/// Longest search term, in characters.
pub const MAX_SEARCH_TERM: usize = 200;
/// Longest `last_message` preview kept on a conversation, in characters.
const PREVIEW_CHARS: usize = 500;
/// Number of order-lock stripes.
const STRIPES: usize = 256;

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
}

/// Per-conversation order: a send holds its conversation's stripe from before its transaction
/// until its broadcast is out, so broadcasts leave in `seq` order.
#[derive(Debug)]
pub(crate) struct OrderLocks {
    stripes: Vec<Mutex<()>>,
}

impl Default for OrderLocks {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }
}

impl OrderLocks {
    async fn lock(&self, conversation_id: i64) -> MutexGuard<'_, ()> {
        let i = conversation_id.rem_euclid(STRIPES as i64) as usize;
        self.stripes[i].lock().await
    }
}

impl Chat {
    /// Validates and stores a message from `sender`, then tells `events`. Returns after the
    /// transaction committed. A repeated client message id returns the stored message and
    /// stores and tells nothing.
    pub async fn send_message(
        &self,
        events: &impl ChatEvents,
        sender: &UserId,
        input: SendInput,
    ) -> AppResult<Sent> {
        let input = self.validate(input)?;
        // A repeat is answered before anything is resolved or created.
        if let Some(key) = &input.client_msg_id
            && let Some(existing) = self.find_by_client_id(sender, key).await?
        {
            return self.repeat(existing, &input).await;
        }
        let conv = self.target_conversation(sender, &input).await?;
        let receiver = other_participant(&conv, sender);

        let _order = self.order.lock(conv.id).await;
        if let Some(key) = &input.client_msg_id
            && let Some(existing) = self.find_by_client_id(sender, key).await?
        {
            // Committed by a concurrent send with the same key while this one waited.
            return self.repeat(existing, &input).await;
        }
        let now = crate::time::now();
        let txn = self.begin_write().await?;
        let stored = match self
            .insert(&txn, &conv, sender, receiver.as_deref(), &input, now)
            .await
        {
            Ok(stored) => stored,
            Err(e) if is_unique_violation(&e) => {
                // The same client message id, committed by a send in another conversation.
                txn.rollback().await?;
                let key = input.client_msg_id.as_deref().unwrap_or_default();
                let existing = self
                    .find_by_client_id(sender, key)
                    .await?
                    .ok_or_else(|| AppError::internal(format_args!("unique violation: {e}")))?;
                return self.repeat(existing, &input).await;
            }
            Err(e) => return Err(e.into()),
        };
        txn.commit().await?;

        let view = self.view(stored).await?;
        events.message_created(&view).await;
        Ok(Sent {
            message: view,
            created: true,
        })
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
        if term.chars().count() > MAX_SEARCH_TERM {
            return Err(AppError::validation(format!(
                "q must be at most {MAX_SEARCH_TERM} characters"
            )));
        }
        self.require_participant(user, conversation_id).await?;
        let escaped: String = term
            .to_lowercase()
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let pattern = LikeExpr::new(format!("%{escaped}%")).escape('\\');
        let query = visible(conversation_id)
            .filter(Expr::expr(Func::lower(Expr::col(message::Column::Content))).like(pattern));
        self.page_of(query, page).await
    }

    /// Soft-deletes a message. Only its sender may (and only while still a participant);
    /// anyone else gets `FORBIDDEN`.
    pub async fn delete_message(
        &self,
        events: &impl ChatEvents,
        user: &UserId,
        message_id: i64,
    ) -> AppResult<MessageView> {
        let not_found = || AppError::NotFound(format!("message {message_id} not found"));
        let found = message::Entity::find_by_id(message_id)
            .filter(message::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?
            .ok_or_else(not_found)?;
        let _order = self.order.lock(found.conversation_id).await;
        let txn = self.begin_write().await?;
        if found.sender_id != user.key() {
            return Err(AppError::Forbidden(
                "only the sender may delete a message".to_owned(),
            ));
        }
        let conv = participant_of(&txn, user, found.conversation_id).await?;
        let now = crate::time::now();
        let deleted = message::Entity::update_many()
            .col_expr(message::Column::DeletedAt, Expr::value(now))
            .col_expr(message::Column::UpdatedAt, Expr::value(now))
            .filter(message::Column::Id.eq(message_id))
            .filter(message::Column::DeletedAt.is_null())
            .exec_with_returning(&txn)
            .await?
            .pop()
            .ok_or_else(not_found)?;
        if deleted.seq == conv.last_seq {
            // The conversation's preview showed this message: show the latest one left.
            let latest = visible(conv.id)
                .order_by_desc(message::Column::Seq)
                .one(&txn)
                .await?;
            conversation::Entity::update_many()
                .col_expr(
                    conversation::Column::LastMessage,
                    Expr::value(latest.map(|m| preview(&m.content))),
                )
                .filter(conversation::Column::Id.eq(conv.id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        let view = self.view(deleted).await?;
        events.message_deleted(&view).await;
        Ok(view)
    }

    fn validate(&self, mut input: SendInput) -> AppResult<SendInput> {
        if input.content.trim().is_empty() {
            return Err(AppError::validation("content must not be empty"));
        }
        let max = self.limits.max_message_length;
        if input.content.chars().count() > max {
            return Err(AppError::validation(format!(
                "content must be at most {max} characters"
            )));
        }
        if let Some(url) = input.attachment_url.take() {
            let url = url.trim().to_owned();
            if url.len() > MAX_ATTACHMENT_URL {
                return Err(AppError::validation(format!(
                    "attachmentUrl must be at most {MAX_ATTACHMENT_URL} characters"
                )));
            }
            if !is_http_url(&url) {
                return Err(AppError::validation(
                    "attachmentUrl must be an http:// or https:// URL",
                ));
            }
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

    async fn target_conversation(
        &self,
        sender: &UserId,
        input: &SendInput,
    ) -> AppResult<conversation::Model> {
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
                let conv = self.require_participant(sender, id).await?;
                if let Some(r) = receiver
                    && conv.kind == conversation::KIND_DIRECT
                    && other_participant(&conv, sender).as_deref() != Some(r.key())
                {
                    return Err(AppError::validation(format!(
                        "receiverId is not the other participant of conversation {id}"
                    )));
                }
                Ok(conv)
            }
            (None, Some(receiver)) => self.direct_conversation(sender, receiver).await,
            (None, None) => Err(AppError::validation(
                "receiverId or conversationId is required",
            )),
        }
    }

    async fn insert(
        &self,
        txn: &DatabaseTransaction,
        conv: &conversation::Model,
        sender: &UserId,
        receiver: Option<&str>,
        input: &SendInput,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<message::Model, sea_orm::DbErr> {
        // Taking the next seq locks the conversation row until commit, so concurrent sends to
        // one conversation (from any node) get consecutive numbers.
        let seq = conversation::Entity::update_many()
            .col_expr(
                conversation::Column::LastSeq,
                Expr::col(conversation::Column::LastSeq).add(1),
            )
            .col_expr(
                conversation::Column::LastMessage,
                Expr::value(preview(&input.content)),
            )
            .col_expr(conversation::Column::LastMessageAt, Expr::value(now))
            .col_expr(conversation::Column::UpdatedAt, Expr::value(now))
            .filter(conversation::Column::Id.eq(conv.id))
            .exec_with_returning(txn)
            .await?
            .pop()
            .map(|c| c.last_seq)
            .ok_or_else(|| sea_orm::DbErr::RecordNotFound(format!("conversation {}", conv.id)))?;
        let row = message::ActiveModel {
            conversation_id: Set(conv.id),
            seq: Set(seq),
            sender_id: Set(sender.key().to_owned()),
            receiver_id: Set(receiver.map(str::to_owned)),
            content: Set(input.content.clone()),
            attachment_url: Set(input.attachment_url.clone()),
            kind: Set(message::KIND_TEXT.to_owned()),
            reply_to: Set(None),
            client_msg_id: Set(input.client_msg_id.clone()),
            read_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            edited_at: Set(None),
            deleted_at: Set(None),
            ..Default::default()
        };
        message::Entity::insert(row).exec_with_returning(txn).await
    }

    async fn find_by_client_id(
        &self,
        sender: &UserId,
        key: &str,
    ) -> AppResult<Option<message::Model>> {
        Ok(message::Entity::find()
            .filter(message::Column::SenderId.eq(sender.key()))
            .filter(message::Column::ClientMsgId.eq(key))
            .one(&self.db)
            .await?)
    }

    /// The answer to a repeated send: the stored message, if the repeat asks for the same thing
    /// (same content, and the same conversation or the same receiver).
    async fn repeat(&self, existing: message::Model, input: &SendInput) -> AppResult<Sent> {
        let same_target = match (input.conversation_id, &input.receiver) {
            (Some(id), _) => id == existing.conversation_id,
            (None, Some(r)) => existing.receiver_id.as_deref() == Some(r.key()),
            (None, None) => false,
        };
        if !same_target || existing.content != input.content {
            return Err(AppError::Conflict(
                "clientMsgId was already used for a different message".to_owned(),
            ));
        }
        Ok(Sent {
            message: self.view(existing).await?,
            created: false,
        })
    }

    async fn view(&self, m: message::Model) -> AppResult<MessageView> {
        let sender = self.load_user(&self.db, &m.sender_id).await?;
        let receiver = match &m.receiver_id {
            Some(r) => Some(self.load_user(&self.db, r).await?),
            None => None,
        };
        Ok(MessageView::new(m, sender, receiver))
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
        let keys: Vec<String> = rows
            .iter()
            .flat_map(|m| [Some(m.sender_id.clone()), m.receiver_id.clone()])
            .flatten()
            .collect();
        let users = self.load_users(&self.db, keys).await?;
        let items = rows
            .into_iter()
            .map(|m| {
                let sender = users::pick(&users, &m.sender_id);
                let receiver = m.receiver_id.as_deref().map(|r| users::pick(&users, r));
                MessageView::new(m, sender, receiver)
            })
            .collect();
        Ok(page.wrap(items, total))
    }
}

/// The conversation's messages that are not deleted.
fn visible(conversation_id: i64) -> Select<message::Entity> {
    message::Entity::find()
        .filter(message::Column::ConversationId.eq(conversation_id))
        .filter(message::Column::DeletedAt.is_null())
}

/// The other user of a direct conversation.
fn other_participant(conv: &conversation::Model, me: &UserId) -> Option<String> {
    [&conv.participant_1_id, &conv.participant_2_id]
        .into_iter()
        .flatten()
        .find(|k| k.as_str() != me.key())
        .cloned()
}

fn preview(content: &str) -> String {
    content.chars().take(PREVIEW_CHARS).collect()
}

fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
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
