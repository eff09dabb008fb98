//! What the conversation and message code share: the reference a send keeps of a conversation
//! and its order key, the order locks that keep each conversation's broadcasts in `seq` order,
//! and lookups usable inside a transaction.

use entity::{conversation, participant};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter,
    Value,
};
use tokio::sync::{Mutex, MutexGuard};

use crate::error::{AppError, AppResult};
use crate::ids::UserId;

/// Number of order-lock stripes.
const STRIPES: usize = 256;

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
    /// Locks the stripe of an order key (see [`ConvRef::order_key`]).
    pub(crate) async fn lock(&self, key: u64) -> MutexGuard<'_, ()> {
        // The remainder is below STRIPES, so it fits in usize.
        let i = usize::try_from(key % STRIPES as u64).unwrap_or(0);
        self.stripes[i].lock().await
    }

    /// Locks the stripes of all these keys, in stripe order (as every caller that holds more
    /// than one does, so two callers cannot deadlock).
    pub(crate) async fn lock_all(&self, keys: &[u64]) -> Vec<MutexGuard<'_, ()>> {
        let mut stripes: Vec<usize> = keys
            .iter()
            .map(|k| usize::try_from(k % STRIPES as u64).unwrap_or(0))
            .collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut guards = Vec::with_capacity(stripes.len());
        for i in stripes {
            guards.push(self.stripes[i].lock().await);
        }
        guards
    }
}

/// A user's membership of a conversation, as the send path needs it.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    /// The conversation.
    pub(crate) conv: ConvRef,
    /// Whether the user has taken part in it (see `participants.accepted_at`).
    pub(crate) accepted: bool,
}

/// What a send needs to know of a conversation; none of it changes once the conversation exists.
#[derive(Clone, Debug)]
pub(crate) struct ConvRef {
    /// The conversation id.
    pub(crate) id: i64,
    /// The ordered pair of a direct conversation.
    pub(crate) pair: Option<(String, String)>,
}

impl ConvRef {
    /// The parts of a stored conversation a send needs.
    pub(crate) fn of(conv: &conversation::Model) -> Self {
        let pair = match (&conv.participant_1_id, &conv.participant_2_id) {
            (Some(first), Some(second)) => Some((first.clone(), second.clone())),
            _ => None,
        };
        Self { id: conv.id, pair }
    }

    /// The order lock of a conversation: a direct conversation's is derived from its pair, so
    /// the send that creates it and every later send share it.
    pub(crate) fn order_key(&self) -> u64 {
        match &self.pair {
            Some((first, second)) => pair_key(first, second),
            None => self.id.unsigned_abs(),
        }
    }

    /// The other user of a direct conversation.
    pub(crate) fn other(&self, me: &UserId) -> Option<&str> {
        let (first, second) = self.pair.as_ref()?;
        [first, second]
            .into_iter()
            .find(|k| k.as_str() != me.key())
            .map(String::as_str)
    }
}

pub(crate) fn pair_key(first: &str, second: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&(first, second), &mut h);
    std::hash::Hasher::finish(&h)
}

/// The conversation's `last_seq` as it is now, not as `conv` was read.
pub(crate) async fn current_last_seq(
    txn: &DatabaseTransaction,
    conv: &conversation::Model,
) -> Result<i64, DbErr> {
    Ok(conversation::Entity::find_by_id(conv.id)
        .one(txn)
        .await?
        .map_or(conv.last_seq, |c| c.last_seq))
}

/// The direct conversation of an ordered pair.
pub(crate) async fn find_direct<C: ConnectionTrait>(
    conn: &C,
    first: &UserId,
    second: &UserId,
) -> Result<Option<conversation::Model>, DbErr> {
    conversation::Entity::find()
        .filter(conversation::Column::Participant1Id.eq(first.key()))
        .filter(conversation::Column::Participant2Id.eq(second.key()))
        .one(conn)
        .await
}

/// See [`Chat::require_participant`]; usable inside a transaction.
pub(crate) async fn participant_of<C: ConnectionTrait>(
    conn: &C,
    user: &UserId,
    conversation_id: i64,
) -> AppResult<conversation::Model> {
    Ok(membership(conn, user, conversation_id).await?.0)
}

/// The conversation and `user`'s current membership of it: `NOT_FOUND` when the conversation
/// does not exist, `FORBIDDEN` when the user is not in it.
pub(crate) async fn membership<C: ConnectionTrait>(
    conn: &C,
    user: &UserId,
    conversation_id: i64,
) -> AppResult<(conversation::Model, participant::Model)> {
    let conv = conversation::Entity::find_by_id(conversation_id)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("conversation {conversation_id} not found")))?;
    let member = participant::Entity::find_by_id((conversation_id, user.key().to_owned()))
        .one(conn)
        .await?;
    match member {
        Some(p) if p.left_at.is_none() => Ok((conv, p)),
        _ => Err(AppError::Forbidden(format!(
            "not a participant of conversation {conversation_id}"
        ))),
    }
}

/// The values of a raw statement, with their placeholders: numbered, so a value can be used
/// twice (`$n` on PostgreSQL, `?n` on SQLite).
#[derive(Debug)]
pub(crate) struct Params {
    backend: DbBackend,
    /// The values, in placeholder order.
    pub(crate) values: Vec<Value>,
}

impl Params {
    /// No values yet, for `backend`.
    pub(crate) fn new(backend: DbBackend) -> Self {
        Self {
            backend,
            values: Vec::new(),
        }
    }

    /// Adds a value; returns its placeholder.
    pub(crate) fn push(&mut self, value: Value) -> String {
        self.values.push(value);
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => format!("?{}", self.values.len()),
        }
    }
}

/// `NOT_FOUND` for message `message_id`.
pub(crate) fn message_not_found(message_id: i64) -> AppError {
    AppError::NotFound(format!("message {message_id} not found"))
}
