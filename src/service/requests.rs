//! Chat requests: with `DIRECT_REQUESTS` on, a direct conversation one user opened is a request
//! to the other until they answer it. While it is pending the initiator may write, and the
//! recipient may read, but its messages do not count as unread for them and it is among their
//! requests rather than their active chats. The recipient accepts it (explicitly, or by writing
//! in it) or declines it; after a decline the initiator may not write (the message writer
//! refuses in the transaction that would store the message).
//!
//! The state is the recipient's membership row: `accepted_at` (they took part) and
//! `rejected_at` (they declined); the initiator is `conversations.opened_by`.

use entity::{conversation, participant};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::service::messages::accept;
use crate::service::store::membership;
use crate::service::store::{ConvRef, Member};
use crate::service::views::{ConversationView, RequestStatus};
use crate::service::{Chat, ChatEvent, settle};

/// SQL (over `participants p` joined with `conversations c`) that holds for a chat request to
/// the member `p` that they have not answered.
pub(crate) const PENDING_TO_MEMBER: &str =
    "(c.kind = 'direct' AND p.accepted_at IS NULL AND p.rejected_at IS NULL)";

/// SQL, as [`PENDING_TO_MEMBER`], for a chat request the member `p` declined.
pub(crate) const DECLINED_BY_MEMBER: &str = "(p.rejected_at IS NOT NULL)";

impl Chat {
    /// The recipient of a chat request accepts it: it becomes an active chat for both, and the
    /// initiator is told ([`ChatEvent::RequestAnswered`]). Accepting one already accepted
    /// answers the chat and tells nobody; a group has nothing to accept. Only the recipient
    /// answers a request (`FORBIDDEN` for the initiator).
    pub async fn accept_request(
        &self,
        user: &UserId,
        conversation_id: i64,
    ) -> AppResult<ConversationView> {
        // With requests off there is nothing to accept: the chat is open for both.
        if !self.limits.direct_requests {
            return self.conversation_view(user, conversation_id).await;
        }
        let (conv, me, initiator) = self.request_to(user, conversation_id).await?;
        if conv.kind == conversation::KIND_GROUP || me.accepted_at.is_some() {
            return self.conversation_view(user, conversation_id).await;
        }
        self.charge(user)?;
        let now = crate::time::now();
        let txn = self.begin_write().await?;
        let changed = accept(&txn, conversation_id, user, now).await;
        let changed = settle(txn, changed).await?;
        self.caches.members.put(
            (conversation_id, user.key().to_owned()),
            Member {
                conv: ConvRef::of(&conv),
                accepted: true,
            },
        );
        if changed && let Some(initiator) = &initiator {
            self.publish(&ChatEvent::RequestAnswered {
                conversation_id,
                by: user,
                initiator,
                accepted: true,
            });
        }
        self.conversation_view(user, conversation_id).await
    }

    /// The recipient of a pending chat request declines it: it leaves their lists, and the
    /// initiator is told and may not write any more. Declining again answers the same; a chat
    /// that is not a pending request (accepted, a group, or requests are off) is `CONFLICT`.
    pub async fn reject_request(
        &self,
        user: &UserId,
        conversation_id: i64,
    ) -> AppResult<ConversationView> {
        if !self.limits.direct_requests {
            return Err(AppError::Conflict(
                "chat requests are off on this server: there is nothing to decline".to_owned(),
            ));
        }
        let (conv, me, initiator) = self.request_to(user, conversation_id).await?;
        if me.rejected_at.is_some() {
            return self.conversation_view(user, conversation_id).await;
        }
        if conv.kind == conversation::KIND_GROUP || me.accepted_at.is_some() {
            return Err(AppError::Conflict(format!(
                "conversation {conversation_id} is not a pending chat request"
            )));
        }
        self.charge(user)?;
        let now = crate::time::now();
        let changed = participant::Entity::update_many()
            .col_expr(participant::Column::RejectedAt, Expr::value(now))
            .filter(participant::Column::ConversationId.eq(conversation_id))
            .filter(participant::Column::UserId.eq(user.key()))
            .filter(participant::Column::AcceptedAt.is_null())
            .filter(participant::Column::RejectedAt.is_null())
            .exec(&self.db)
            .await?
            .rows_affected
            > 0;
        if changed && let Some(initiator) = &initiator {
            self.publish(&ChatEvent::RequestAnswered {
                conversation_id,
                by: user,
                initiator,
                accepted: false,
            });
        }
        self.conversation_view(user, conversation_id).await
    }

    /// The conversation, `user`'s membership, and its initiator, for answering a request:
    /// `FORBIDDEN` for the initiator of a direct conversation.
    async fn request_to(
        &self,
        user: &UserId,
        conversation_id: i64,
    ) -> AppResult<(conversation::Model, participant::Model, Option<UserId>)> {
        let (conv, me) = membership(&self.db, user, conversation_id).await?;
        if conv.kind == conversation::KIND_GROUP {
            return Ok((conv, me, None));
        }
        let rows = participant::Entity::find()
            .filter(participant::Column::ConversationId.eq(conversation_id))
            .all(&self.db)
            .await?;
        let Some(opener) = initiator(&conv, &rows) else {
            return Ok((conv, me, None));
        };
        if opener == user.key() {
            return Err(AppError::Forbidden(
                "only the recipient of a chat request answers it".to_owned(),
            ));
        }
        let users = self.load_users(&self.db, vec![opener.clone()]).await?;
        let opener = crate::service::users::pick(&users, &opener).id;
        Ok((conv, me, Some(opener)))
    }
}

/// Who opened a direct conversation (its initiator) or created a group: as recorded, else (for
/// conversations stored before it was) the one member of a direct conversation who took part
/// when the other had not.
pub(crate) fn initiator(
    conv: &conversation::Model,
    members: &[participant::Model],
) -> Option<String> {
    if let Some(opener) = &conv.opened_by {
        return Some(opener.clone());
    }
    if conv.kind != conversation::KIND_DIRECT {
        return None;
    }
    let mut taken_part = members.iter().filter(|p| p.accepted_at.is_some());
    match (taken_part.next(), taken_part.next()) {
        (Some(only), None) => Some(only.user_id.clone()),
        _ => None,
    }
}

/// Where the chat request of `conv` stands, from its members' rows: a group's is accepted; a
/// direct conversation's is declined when its recipient declined it, pending (with requests on)
/// while one of the two has not taken part, accepted otherwise.
pub(crate) fn request_status(
    conv: &conversation::Model,
    members: &[participant::Model],
    requests: bool,
) -> RequestStatus {
    if conv.kind != conversation::KIND_DIRECT {
        return RequestStatus::Accepted;
    }
    if members.iter().any(|p| p.rejected_at.is_some()) {
        RequestStatus::Rejected
    } else if requests && members.iter().any(|p| p.accepted_at.is_none()) {
        RequestStatus::Pending
    } else {
        RequestStatus::Accepted
    }
}
