//! Replies: a message may reply to another message of the same conversation. A reply carries
//! the replied-to message's id and a short preview of it; a message carries how many live
//! replies it has (`messages.reply_count`, moved in the transactions that store and delete
//! replies), and its thread can be listed.

use std::collections::HashMap;

use entity::message;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter};

use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::service::Chat;
use crate::service::store::message_not_found;
use crate::service::users::Profiles;
use crate::service::views::{MessageView, Page, PageRequest, ReplyPreview};

/// Longest preview of a replied-to message, in characters.
pub const REPLY_PREVIEW_CHARS: usize = 100;

impl Chat {
    /// Refuses a reply to anything but a live message of conversation `conversation_id`.
    pub(crate) async fn check_reply(&self, conversation_id: i64, reply_to: i64) -> AppResult<()> {
        let parent = message::Entity::find_by_id(reply_to)
            .filter(message::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?;
        match parent {
            Some(p) if p.conversation_id == conversation_id => Ok(()),
            _ => Err(AppError::validation(format!(
                "replyTo must be a message of this chat (message {reply_to} is not)"
            ))),
        }
    }

    /// The live replies to message `message_id`, oldest first, for a member of its
    /// conversation.
    pub async fn replies(
        &self,
        user: &UserId,
        message_id: i64,
        page: PageRequest,
    ) -> AppResult<Page<MessageView>> {
        let parent = message::Entity::find_by_id(message_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| message_not_found(message_id))?;
        self.require_participant(user, parent.conversation_id)
            .await?;
        let query = message::Entity::find()
            .filter(message::Column::ReplyTo.eq(message_id))
            .filter(message::Column::DeletedAt.is_null())
            .filter(self.not_hidden_from(user));
        self.page_of(query, page, user).await
    }
}

/// Adds `n` to the reply count of each `(parent, n)`.
pub(crate) async fn count_replies(
    txn: &DatabaseTransaction,
    parents: &[(i64, i64)],
) -> Result<(), DbErr> {
    for (parent, n) in parents {
        message::Entity::update_many()
            .col_expr(
                message::Column::ReplyCount,
                Expr::col(message::Column::ReplyCount).add(*n),
            )
            .filter(message::Column::Id.eq(*parent))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// The previews of the messages `ids` (those that exist), by id, their senders from
/// `profiles` or `conn`.
pub(crate) async fn previews<C: ConnectionTrait>(
    conn: &C,
    profiles: &Profiles,
    ids: Vec<i64>,
) -> Result<HashMap<i64, ReplyPreview>, DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let parents = message::Entity::find()
        .filter(message::Column::Id.is_in(ids))
        .all(conn)
        .await?;
    let mut found = HashMap::with_capacity(parents.len());
    for p in parents {
        let sender = crate::service::users::user_view(conn, profiles, &p.sender_id)
            .await?
            .id;
        found.insert(
            p.id,
            ReplyPreview {
                id: p.id,
                sender,
                preview: p.content.chars().take(REPLY_PREVIEW_CHARS).collect(),
                kind: p.kind,
                deleted: p.deleted_at.is_some(),
            },
        );
    }
    Ok(found)
}

/// Fills the reply previews of `views` that are replies.
pub(crate) async fn fill_previews<C: ConnectionTrait>(
    conn: &C,
    profiles: &Profiles,
    views: &mut [MessageView],
) -> Result<(), DbErr> {
    let ids: Vec<i64> = views.iter().filter_map(|m| m.reply_to).collect();
    let found = previews(conn, profiles, ids).await?;
    for view in views.iter_mut() {
        if let Some(parent) = view.reply_to {
            view.reply = found.get(&parent).cloned();
        }
    }
    Ok(())
}
