//! Editing messages: the sender only, within `EDIT_WINDOW_SECS` of sending; every edit keeps
//! the content it replaced in `message_edits`, and the message gets `edited_at`.

use entity::{conversation, message, message_edit};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::service::messages::{message_view, preview};
use crate::service::store::ConvRef;
use crate::service::store::message_not_found;
use crate::service::views::MessageView;
use crate::service::{Chat, ChatEvent, settle};

/// An earlier content of a message.
#[derive(Clone, Debug)]
pub struct EditView {
    /// The content the edit replaced.
    pub previous_content: String,
    /// Who edited.
    pub editor: UserId,
    /// When.
    pub edited_at: chrono::DateTime<chrono::Utc>,
}

impl Chat {
    /// Replaces the content of `user`'s message `message_id` with `content` (checked as a send's
    /// is), keeping the old content in the edit history; the room is told
    /// ([`ChatEvent::MessageEdited`]), which draws on the user's allowance. Only the sender,
    /// still a member, may, and only within the edit window (`EDIT_WINDOW_EXPIRED` after it).
    /// An edit to the same content changes nothing and tells nobody.
    pub async fn edit_message(
        &self,
        user: &UserId,
        message_id: i64,
        content: String,
    ) -> AppResult<MessageView> {
        self.check_content(&content)?;
        let (found, conv) = self.live_message(user, message_id).await?;
        let not_found = || message_not_found(message_id);
        if found.sender_id != user.key() {
            return Err(AppError::Forbidden(
                "only the sender may edit a message".to_owned(),
            ));
        }
        let now = crate::time::now();
        if let Some(window) = self.limits.edit_window
            && (now - found.created_at)
                .to_std()
                .is_ok_and(|age| age >= window)
        {
            return Err(AppError::EditWindowExpired(format!(
                "messages can be edited for {} seconds after they are sent",
                window.as_secs()
            )));
        }
        if found.content == content {
            let view = message_view(&self.db, &self.caches.profiles, found).await?;
            return self.with_reactions(self.present(view)).await;
        }
        crate::service::blocks::refuse_in_direct(&self.db, &conv).await?;
        // The room hears every edit.
        self.charge(user)?;
        let _order = self.order.lock(ConvRef::of(&conv).order_key()).await;
        let txn = self.begin_write().await?;
        let edited = async {
            // Read again under the lock: a concurrent edit may have replaced it meanwhile, and
            // the history keeps what this edit replaces.
            let current = message::Entity::find_by_id(message_id)
                .filter(message::Column::DeletedAt.is_null())
                .one(&txn)
                .await?
                .ok_or_else(not_found)?;
            let Some(updated) = message::Entity::update_many()
                .col_expr(message::Column::Content, Expr::value(content.as_str()))
                .col_expr(message::Column::EditedAt, Expr::value(now))
                .col_expr(message::Column::UpdatedAt, Expr::value(now))
                .filter(message::Column::Id.eq(message_id))
                .filter(message::Column::DeletedAt.is_null())
                .exec_with_returning(&txn)
                .await?
                .pop()
            else {
                return Err(not_found());
            };
            message_edit::ActiveModel {
                message_id: Set(message_id),
                editor_id: Set(user.key().to_owned()),
                previous_content: Set(current.content),
                edited_at: Set(now),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            // The conversation's preview follows an edit of its latest message.
            conversation::Entity::update_many()
                .col_expr(
                    conversation::Column::LastMessage,
                    Expr::value(preview(
                        &content,
                        &updated.kind,
                        updated.attachment_name.as_deref(),
                    )),
                )
                .filter(conversation::Column::Id.eq(conv.id))
                .filter(conversation::Column::LastSeq.eq(updated.seq))
                .exec(&txn)
                .await?;
            Ok(message_view(&txn, &self.caches.profiles, updated).await?)
        }
        .await;
        let view = self
            .with_reactions(self.present(settle(txn, edited).await?))
            .await?;
        self.publish(&ChatEvent::MessageEdited(&view));
        Ok(view)
    }

    /// The earlier contents of a message, oldest first, for a member of its conversation.
    pub async fn edit_history(&self, user: &UserId, message_id: i64) -> AppResult<Vec<EditView>> {
        let found = message::Entity::find_by_id(message_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| message_not_found(message_id))?;
        self.require_participant(user, found.conversation_id)
            .await?;
        if found.deleted_at.is_some() {
            return Ok(Vec::new());
        }
        let edits = message_edit::Entity::find()
            .filter(message_edit::Column::MessageId.eq(message_id))
            .order_by_asc(message_edit::Column::Id)
            .all(&self.db)
            .await?;
        Ok(edits
            .into_iter()
            .map(|e| EditView {
                previous_content: e.previous_content,
                editor: UserId::from_stored(e.editor_id, false),
                edited_at: e.edited_at,
            })
            .collect())
    }
}
