//! Receipts: each member's delivered position beside their read position, and a message's
//! readers.
//!
//! A member's delivered position moves when they fetch messages (any history read), when a
//! message is told while they have a socket connected to this node, and when they read. The
//! socket case is noted as each message is told and written in the background, every
//! [`FLUSH_EVERY`], one transaction for all conversations that had messages: a delivered
//! position is advisory (it is not part of any acknowledgement), so the send path does not wait
//! for it, and a position not yet written when the process stops is moved by the member's
//! next fetch or read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use entity::{message, participant, read_mark};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect,
    TransactionTrait,
};

use crate::error::AppResult;
use crate::ids::UserId;
use crate::service::presence::{Presence, shown_online};
use crate::service::views::{Reader, ReceiptsView};
use crate::service::{Chat, ChatEvent, EventSink, users};

/// How often positions noted from sockets are written.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// Messages told since the last flush: per conversation, the highest `seq`.
#[derive(Debug, Default)]
pub(crate) struct Deliveries {
    told: Mutex<HashMap<i64, i64>>,
}

impl Deliveries {
    fn note(&self, conversation_id: i64, seq: i64) {
        if let Ok(mut told) = self.told.lock() {
            let at = told.entry(conversation_id).or_insert(seq);
            *at = (*at).max(seq);
        }
    }

    fn take(&self) -> HashMap<i64, i64> {
        self.told
            .lock()
            .map(|mut told| std::mem::take(&mut *told))
            .unwrap_or_default()
    }

    /// Writes what was noted, every [`FLUSH_EVERY`], for as long as the service lives.
    pub(crate) async fn run(self: Arc<Self>, db: DatabaseConnection, presence: Arc<Presence>) {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if Arc::strong_count(&self) == 1 {
                return;
            }
            let told = self.take();
            if told.is_empty() {
                continue;
            }
            if let Err(e) = flush(&db, &presence, told.clone()).await {
                tracing::debug!(error = %e, "delivered positions not written; kept for the next flush");
                for (conversation_id, seq) in told {
                    self.note(conversation_id, seq);
                }
            }
        }
    }
}

/// Moves the delivered position of every connected member of each conversation to its
/// noted `seq`.
async fn flush(
    db: &DatabaseConnection,
    presence: &Presence,
    told: HashMap<i64, i64>,
) -> Result<(), DbErr> {
    let mut moves: Vec<(i64, i64, Vec<String>)> = Vec::with_capacity(told.len());
    for (conversation_id, seq) in told {
        // Only members others may see online: a socket of someone who has not taken part, or
        // who chose to be invisible, must not show through their receipts.
        let shown: Vec<String> = shown_online(db, presence, conversation_id)
            .await?
            .into_iter()
            .map(|(user, _)| user.key().to_owned())
            .collect();
        if !shown.is_empty() {
            moves.push((conversation_id, seq, shown));
        }
    }
    if moves.is_empty() {
        return Ok(());
    }
    moves.sort_unstable_by_key(|(id, _, _)| *id);
    let now = crate::time::now();
    let txn = crate::service::begin_write(db).await?;
    for (conversation_id, seq, users) in moves {
        advance_delivered(&txn, conversation_id, users, seq, now).await?;
    }
    txn.commit().await
}

/// Moves the delivered position of `users` in the conversation to `seq`, where it is behind.
pub(crate) async fn advance_delivered<C: ConnectionTrait>(
    conn: &C,
    conversation_id: i64,
    users: Vec<String>,
    seq: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    participant::Entity::update_many()
        .col_expr(participant::Column::LastDeliveredSeq, Expr::value(seq))
        .col_expr(participant::Column::LastDeliveredAt, Expr::value(now))
        .filter(participant::Column::ConversationId.eq(conversation_id))
        .filter(participant::Column::UserId.is_in(users))
        .filter(participant::Column::LastDeliveredSeq.lt(seq))
        .exec(conn)
        .await?;
    Ok(())
}

/// The service's sink, noting each message told for [`Deliveries`] before handing it on.
#[derive(Debug)]
pub(crate) struct Noting {
    pub(crate) inner: Arc<dyn EventSink>,
    pub(crate) deliveries: Arc<Deliveries>,
}

impl EventSink for Noting {
    fn publish(&self, event: &ChatEvent<'_>) {
        if let ChatEvent::MessageCreated { message, .. } = event {
            self.deliveries.note(message.conversation_id, message.seq);
        }
        self.inner.publish(event);
    }
}

impl Chat {
    /// Moves `user`'s delivered position in the conversation to `seq` (they fetched up to it).
    /// Advisory: a failure is logged, and the fetch is answered all the same.
    pub(crate) async fn delivered_by_fetch(&self, user: &UserId, conversation_id: i64, seq: i64) {
        let keys = vec![user.key().to_owned()];
        let now = crate::time::now();
        if let Err(e) = advance_delivered(&self.db, conversation_id, keys, seq, now).await {
            tracing::debug!(error = %e, "delivered position not moved on fetch");
        }
    }

    /// Who of the conversation's current members, other than its sender, has read message
    /// `message_id` (and when: the first time their read position reached it), and who it was
    /// delivered to; for any current member.
    pub async fn receipts(&self, user: &UserId, message_id: i64) -> AppResult<ReceiptsView> {
        let found = message::Entity::find_by_id(message_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| crate::service::store::message_not_found(message_id))?;
        self.require_participant(user, found.conversation_id)
            .await?;
        let txn = self.db.begin().await?;
        let members: Vec<(String, i64, i64)> = participant::Entity::find()
            .select_only()
            .column(participant::Column::UserId)
            .column(participant::Column::LastReadSeq)
            .column(participant::Column::LastDeliveredSeq)
            .filter(participant::Column::ConversationId.eq(found.conversation_id))
            .filter(participant::Column::LeftAt.is_null())
            .filter(participant::Column::UserId.ne(found.sender_id.as_str()))
            .into_tuple()
            .all(&txn)
            .await?;
        let marks: Vec<(String, chrono::DateTime<chrono::Utc>)> = read_mark::Entity::find()
            .select_only()
            .column(read_mark::Column::UserId)
            .column_as(read_mark::Column::ReadAt.min(), "read_at")
            .filter(read_mark::Column::ConversationId.eq(found.conversation_id))
            .filter(read_mark::Column::UpToSeq.gte(found.seq))
            .group_by(read_mark::Column::UserId)
            .into_tuple()
            .all(&txn)
            .await?;
        txn.commit().await?;
        let first_read: HashMap<String, chrono::DateTime<chrono::Utc>> =
            marks.into_iter().collect();
        let keys = members.iter().map(|(k, _, _)| k.clone()).collect();
        let shown = self.load_users(&self.db, keys).await?;
        let mut read_by = Vec::new();
        let mut delivered_to = Vec::new();
        for (key, read, delivered) in members {
            let who = users::pick(&shown, &key).id;
            if read >= found.seq {
                read_by.push(Reader {
                    user: who.clone(),
                    at: first_read.get(&key).copied(),
                });
            }
            if read.max(delivered) >= found.seq {
                delivered_to.push(who);
            }
        }
        read_by.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.user.key().cmp(b.user.key())));
        delivered_to.sort_by(|a, b| a.key().cmp(b.key()));
        Ok(ReceiptsView {
            message_id: found.id,
            conversation_id: found.conversation_id,
            seq: found.seq,
            read_by,
            delivered_to,
        })
    }
}
