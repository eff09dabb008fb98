//! The chat domain: conversations, messages, read positions, presence. No axum, no socketioxide:
//! REST and Socket.IO are two doors that call the same functions here, so every rule
//! (membership, validation, idempotency, ordering) lives in one place.
//!
//! What happens after a commit is told to the service's one [`EventSink`], which the socket
//! layer implements.

pub mod archive;
pub mod blocks;
mod cache;
pub mod conversations;
pub mod edits;
pub mod events;
pub mod groups;
mod limits;
pub mod media;
pub mod messages;
pub mod presence;
pub mod reactions;
mod receipts;
pub mod requests;
pub mod search;
mod store;
pub mod threads;
mod typing;
pub mod users;
pub mod views;
mod writer;

use std::sync::Arc;

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

pub use events::{ChatEvent, EventSink, Origin};

use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::service::views::MessageView;

/// Limits on what clients may send, and on what they are shown of each other.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Longest message content, in characters.
    pub max_message_length: usize,
    /// Sends and fan-out events a user may make per second, on average (0: no limit).
    pub send_rate_per_sec: u32,
    /// Sends and fan-out events a user may make at once.
    pub send_burst: u32,
    /// The profile fields users are shown of each other (and of themselves, in the same
    /// payloads).
    pub public_profile: users::PublicFields,
    /// How long a typing indicator lives without a renewal.
    pub typing_timeout: std::time::Duration,
    /// How long after sending a message its sender may edit it (`None`: always).
    pub edit_window: Option<std::time::Duration>,
    /// Where uploaded files are kept, and how their links are signed (`None`: uploads are off).
    pub media: Option<Arc<media::Media>>,
    /// Whether a direct conversation one user opened is a request the other accepts or rejects
    /// (`DIRECT_REQUESTS`): until they answer it, it is among their requests and its messages do
    /// not count as unread for them.
    pub direct_requests: bool,
}

/// The chat service: the database, the in-process caches and locks. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Chat {
    /// The database connection pool.
    pub db: DatabaseConnection,
    /// What clients may send.
    pub limits: Limits,
    /// What the send path would otherwise read from the database every time.
    caches: Arc<Caches>,
    /// The group-commit writers that store messages.
    writers: Arc<writer::Writers>,
    /// Serialises sends per conversation, so broadcasts leave in `seq` order.
    order: Arc<store::OrderLocks>,
    /// Connected sockets per user on this node.
    presence: Arc<presence::Presence>,
    /// Sends and fan-out events per user on this node.
    rate: Arc<limits::UserRate>,
    /// Who is typing where.
    typing: Arc<typing::Typing>,
    /// Where every change is told after its commit.
    events: Arc<dyn EventSink>,
    /// Uploaded files (from [`Limits::media`]).
    media: Option<Arc<media::Media>>,
}

/// Facts the send path reads on every message, kept for a minute (see [`cache::TTL`]).
#[derive(Debug, Default)]
struct Caches {
    /// `(conversation, user)` pairs known to be memberships.
    members: cache::TtlCache<(i64, String), store::Member>,
    /// Direct conversations by their ordered pair.
    directs: cache::TtlCache<(String, String), store::ConvRef>,
    /// Users as stored.
    profiles: Arc<users::Profiles>,
}

impl Chat {
    /// A chat service over `db` that tells `events` of every change. Starts the message
    /// writers, so it must be called within a Tokio runtime.
    pub fn new(db: DatabaseConnection, limits: Limits, events: Arc<dyn EventSink>) -> Self {
        Self::with_writer_db(db.clone(), db, limits, events)
    }

    /// A chat service whose message writers store through `writer_db` (see
    /// [`crate::db::connect_writer`]) and everything else through `db`.
    pub fn with_writer_db(
        db: DatabaseConnection,
        writer_db: DatabaseConnection,
        limits: Limits,
        events: Arc<dyn EventSink>,
    ) -> Self {
        let order = Arc::new(store::OrderLocks::default());
        let caches = Arc::new(Caches::default());
        let presence = Arc::new(presence::Presence::default());
        let deliveries = Arc::new(receipts::Deliveries::default());
        tokio::spawn(deliveries.clone().run(db.clone(), presence.clone()));
        let events: Arc<dyn EventSink> = Arc::new(receipts::Noting {
            inner: events,
            deliveries,
        });
        let media = limits.media.clone();
        let writers = writer::Writers::start(
            writer_db,
            order.clone(),
            caches.profiles.clone(),
            limits.public_profile,
            events.clone(),
            limits.direct_requests,
            media.clone(),
        );
        Self {
            rate: Arc::new(limits::UserRate::new(
                limits.send_rate_per_sec,
                limits.send_burst,
            )),
            typing: Arc::new(typing::Typing::new(limits.typing_timeout)),
            db,
            limits,
            caches,
            writers: Arc::new(writers),
            order,
            presence,
            events,
            media,
        }
    }

    /// A message as it leaves the service: only the public profile fields of its users, and a
    /// fresh signed link to the file it carries.
    pub(crate) fn present(&self, view: MessageView) -> MessageView {
        media::link_attachment(
            self.limits.public_profile.show_message(view),
            self.media.as_deref(),
        )
    }

    /// Tells the service's sink of `event`.
    fn publish(&self, event: &ChatEvent<'_>) {
        self.events.publish(event);
    }

    /// Takes one event from `user`'s allowance (`SEND_BURST` at once, `SEND_RATE_PER_SEC` after
    /// that): every send, and every event that others hear (a join, a typing indicator, a read
    /// receipt), before its work is done. Repeats that change nothing and tell nobody are free.
    pub fn charge(&self, user: &UserId) -> AppResult<()> {
        if self.rate.allow(user.key()) {
            Ok(())
        } else {
            Err(AppError::RateLimited(
                "too many messages and events; wait a moment and try again".to_owned(),
            ))
        }
    }

    /// See [`begin_write`].
    pub(crate) async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        begin_write(&self.db).await
    }
}

/// Starts a transaction that will write. On SQLite it takes the write lock at `BEGIN`
/// (`BEGIN IMMEDIATE`), so a transaction that reads before it writes cannot fail on a snapshot
/// another writer moved; PostgreSQL ignores the option.
pub(crate) async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Commits `txn` when `result` is `Ok`, rolls it back when it is an error; the result passes
/// through (with a failed commit as its error).
pub(crate) async fn settle<T, E: From<DbErr>>(
    txn: DatabaseTransaction,
    result: Result<T, E>,
) -> Result<T, E> {
    match result {
        Ok(value) => {
            txn.commit().await?;
            Ok(value)
        }
        Err(e) => {
            // The error that caused the rollback is the one to report; a failed rollback is
            // only logged.
            if let Err(rollback) = txn.rollback().await {
                tracing::warn!(error = %rollback, "rollback failed");
            }
            Err(e)
        }
    }
}
