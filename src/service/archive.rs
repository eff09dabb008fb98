//! Each member's own keeping of a conversation: archiving and muting. An archived conversation
//! leaves the member's active list for their archive without their leaving it; a message after
//! it was archived brings it back, unless the member mutes it. Nobody else is told.
//!
//! Archiving records the conversation's last `seq` (`participants.archived_seq`), so whether it
//! is still archived is a comparison with `conversations.last_seq`, and the send path writes
//! nothing for it.

use entity::participant;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Value};

use crate::error::AppResult;
use crate::ids::UserId;
use crate::service::Chat;
use crate::service::store::membership;
use crate::service::views::ConversationView;

/// SQL (over `participants p` joined with `conversations c`) that holds for a conversation in
/// the member `p`'s archive.
pub(crate) const ARCHIVED_BY_MEMBER: &str = "(p.archived_seq IS NOT NULL \
     AND (p.muted_at IS NOT NULL OR c.last_seq <= p.archived_seq))";

/// Whether the member `p` keeps the conversation, whose last `seq` is `last_seq`, in their
/// archive (as [`ARCHIVED_BY_MEMBER`]).
pub(crate) fn archived(p: &participant::Model, last_seq: i64) -> bool {
    p.archived_seq
        .is_some_and(|at| p.muted_at.is_some() || last_seq <= at)
}

impl Chat {
    /// `user` archives the conversation (`true`) or takes it out of their archive; answers it
    /// as they see it now.
    pub async fn archive(
        &self,
        user: &UserId,
        conversation_id: i64,
        archive: bool,
    ) -> AppResult<ConversationView> {
        let (conv, _) = membership(&self.db, user, conversation_id).await?;
        let (at, seq) = if archive {
            (Some(crate::time::now()), Some(conv.last_seq))
        } else {
            (None, None)
        };
        self.set_own(
            user,
            conversation_id,
            &[
                (participant::Column::ArchivedAt, at.into()),
                (participant::Column::ArchivedSeq, seq.into()),
            ],
        )
        .await?;
        self.conversation_view(user, conversation_id).await
    }

    /// `user` mutes the conversation (`true`) or unmutes it. Unmuting an archived conversation
    /// keeps it archived until the next message.
    pub async fn mute(
        &self,
        user: &UserId,
        conversation_id: i64,
        mute: bool,
    ) -> AppResult<ConversationView> {
        let (conv, me) = membership(&self.db, user, conversation_id).await?;
        if mute {
            if me.muted_at.is_none() {
                let now = Some(crate::time::now());
                let mut changes = vec![(participant::Column::MutedAt, now.into())];
                // A message brought it back from the archive: muting does not put it back.
                if me.archived_seq.is_some() && !archived(&me, conv.last_seq) {
                    changes.push((participant::Column::ArchivedSeq, Option::<i64>::None.into()));
                }
                self.set_own(user, conversation_id, &changes).await?;
            }
        } else {
            let none: Option<chrono::DateTime<chrono::Utc>> = None;
            let mut changes = vec![(participant::Column::MutedAt, none.into())];
            if archived(&me, conv.last_seq) {
                changes.push((participant::Column::ArchivedSeq, Some(conv.last_seq).into()));
            }
            self.set_own(user, conversation_id, &changes).await?;
        }
        self.conversation_view(user, conversation_id).await
    }

    /// Writes `changes` to `user`'s membership row of the conversation.
    async fn set_own(
        &self,
        user: &UserId,
        conversation_id: i64,
        changes: &[(participant::Column, Value)],
    ) -> AppResult<()> {
        let mut update = participant::Entity::update_many()
            .filter(participant::Column::ConversationId.eq(conversation_id))
            .filter(participant::Column::UserId.eq(user.key()));
        for (column, value) in changes {
            update = update.col_expr(*column, Expr::value(value.clone()));
        }
        update.exec(&self.db).await?;
        Ok(())
    }
}
