//! Group commit: the sends that arrive while a transaction is being written wait, and are then
//! written together in the next one. Each send is still acknowledged only after the transaction
//! that holds it committed, and broadcast before it is acknowledged.
//!
//! A writer is a task that owns a queue of sends. It takes everything queued (up to
//! [`MAX_BATCH`]), locks the order stripes of the conversations involved, and in one transaction
//! answers repeated client message ids, creates new direct conversations, takes a run of `seq`
//! numbers per conversation with one `UPDATE`, and inserts every message with one `INSERT`.
//! After the commit it broadcasts in queue order, releases the stripes and answers the callers.
//! If the transaction fails, each send is written again on its own, so one bad send cannot sink
//! the others.
//!
//! A conversation always goes to the same writer (by its order key), so its `seq` numbers and
//! broadcasts follow one queue. SQLite has one writer (it allows one write transaction at a
//! time anyway); PostgreSQL several, which write concurrently.

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;

use entity::{media_file, message, participant};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, EntityTrait, QueryFilter, QuerySelect, Set, SqlErr, Statement,
};
use tokio::sync::{mpsc, oneshot};

use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::service::blocks::{self, blocked_pairs};
use crate::service::events::{ChatEvent, EventSink};
use crate::service::media::{Media, link_attachment};
use crate::service::messages::{SendInput, Target, accept, create_direct, message_view, same_send};
use crate::service::store::{ConvRef, OrderLocks, Params};
use crate::service::threads::count_replies;
use crate::service::users::{Profiles, PublicFields, insert_stub};
use crate::service::views::{MessageView, Sent};
use crate::service::{begin_write, settle};

/// Most sends written in one transaction.
const MAX_BATCH: usize = 256;
/// Sends that may wait for a writer before senders wait to enqueue.
const QUEUE: usize = 4_096;
/// Writers on PostgreSQL, which lets transactions on different rows proceed side by side.
const POSTGRES_WRITERS: usize = 4;

/// A validated send whose target the sender may write to.
pub(crate) struct Job {
    pub(crate) sender: UserId,
    pub(crate) target: Target,
    pub(crate) input: SendInput,
    /// Whether this is the sender's first part in the conversation, to be recorded with it.
    pub(crate) first_part: bool,
    pub(crate) reply: oneshot::Sender<AppResult<Sent>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("sender", &self.sender)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Job {
    /// The sender's client message id, if it gave one.
    fn idempotency_key(&self) -> Option<(&str, &str)> {
        let key = self.input.client_msg_id.as_deref()?;
        Some((self.sender.key(), key))
    }
}

/// The queues of the writers. Dropping the last handle ends the writer tasks.
#[derive(Debug)]
pub(crate) struct Writers {
    queues: Vec<mpsc::Sender<Job>>,
}

impl Writers {
    /// Starts the writers for `db` (one on SQLite, several on PostgreSQL). Must be called within
    /// a Tokio runtime.
    pub(crate) fn start(
        db: DatabaseConnection,
        order: Arc<OrderLocks>,
        profiles: Arc<Profiles>,
        public: PublicFields,
        events: Arc<dyn EventSink>,
        direct_requests: bool,
        media: Option<Arc<Media>>,
    ) -> Self {
        let count = match db.get_database_backend() {
            DbBackend::Postgres => POSTGRES_WRITERS,
            _ => 1,
        };
        let queues = (0..count)
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE);
                let store = Store {
                    db: db.clone(),
                    order: order.clone(),
                    profiles: profiles.clone(),
                    public,
                    events: events.clone(),
                    direct_requests,
                    media: media.clone(),
                };
                tokio::spawn(store.run(rx));
                tx
            })
            .collect();
        Self { queues }
    }

    /// Queues a send with the writer of its conversation and waits for its answer.
    pub(crate) async fn write(
        &self,
        sender: UserId,
        target: Target,
        input: SendInput,
        first_part: bool,
    ) -> AppResult<Sent> {
        let stopped = || AppError::Internal("the message writer has stopped".to_owned());
        let lane = usize::try_from(target.order_key() % self.queues.len() as u64).unwrap_or(0);
        let (reply, answer) = oneshot::channel();
        let job = Job {
            sender,
            target,
            input,
            first_part,
            reply,
        };
        self.queues[lane].send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// What a writer task owns.
struct Store {
    db: DatabaseConnection,
    order: Arc<OrderLocks>,
    profiles: Arc<Profiles>,
    /// What users are shown of each other.
    public: PublicFields,
    /// Told of each message after its commit, before its answer.
    events: Arc<dyn EventSink>,
    /// Whether a direct conversation a message opens is a chat request (`DIRECT_REQUESTS`).
    direct_requests: bool,
    /// Uploaded files, whose links the messages that carry them show.
    media: Option<Arc<Media>>,
}

impl Store {
    /// A message as it leaves the writer (see `Chat::present`).
    fn present(&self, view: MessageView) -> MessageView {
        link_attachment(self.public.show_message(view), self.media.as_deref())
    }
}

/// What became of one send in a batch.
enum Outcome {
    /// Stored now; `answered` when it accepted a chat request to its sender.
    Created { view: MessageView, answered: bool },
    /// Stored by an earlier send with the same client message id.
    Repeat(MessageView),
    /// Refused.
    Failed(AppError),
}

impl Store {
    async fn run(self, mut queue: mpsc::Receiver<Job>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let mut jobs = std::mem::take(&mut batch);
            // A second send with a client id already in this batch waits for the next one, where
            // it finds the first stored.
            while !jobs.is_empty() {
                let (now, later) = split_twins(jobs);
                // A bug that panics costs its batch (whose senders get INTERNAL and whose
                // transaction rolls back when dropped), not the writer.
                if AssertUnwindSafe(self.commit(now))
                    .catch_unwind()
                    .await
                    .is_err()
                {
                    tracing::error!("a message batch panicked; its sends were answered INTERNAL");
                }
                jobs = later;
            }
        }
    }

    /// Writes a batch, broadcasts what it created in order, and answers every sender.
    async fn commit(&self, jobs: Vec<Job>) {
        let keys: Vec<u64> = jobs.iter().map(|j| j.target.order_key()).collect();
        let _order = self.order.lock_all(&keys).await;
        let outcomes = match self.write(&jobs).await {
            Ok(outcomes) => outcomes,
            Err(e) if jobs.len() == 1 => vec![self.after_failure(&jobs[0], e).await],
            Err(e) if one_send_may_be_at_fault(&e) => {
                tracing::debug!(error = %e, sends = jobs.len(), "batch refused; writing each send alone");
                let mut outcomes = Vec::with_capacity(jobs.len());
                for job in &jobs {
                    let one = match self.write(std::slice::from_ref(job)).await {
                        Ok(mut o) => o.pop().unwrap_or_else(|| Outcome::Failed(lost())),
                        Err(e) => self.after_failure(job, e).await,
                    };
                    outcomes.push(one);
                }
                outcomes
            }
            Err(e) => {
                // The database itself failed (unreachable, busy past its timeout, a failed
                // commit): every send gets the error now, none is written again.
                let e = AppError::from(e);
                jobs.iter().map(|_| Outcome::Failed(e.clone())).collect()
            }
        };
        // Only now that they are committed are the rows' users worth remembering; a user that
        // came from the cache keeps its entry's age.
        for outcome in &outcomes {
            if let Outcome::Created { view, .. } | Outcome::Repeat(view) = outcome {
                for user in std::iter::once(&view.sender).chain(&view.receiver) {
                    self.profiles.fill(user.id.key().to_owned(), user.clone());
                }
            }
        }
        // Everything told or answered from here on shows only the public profile fields.
        let outcomes: Vec<Outcome> = outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Outcome::Created { view, answered } => Outcome::Created {
                    view: self.present(view),
                    answered,
                },
                Outcome::Repeat(view) => Outcome::Repeat(self.present(view)),
                failed @ Outcome::Failed(_) => failed,
            })
            .collect();
        // Broadcast everything first (in `seq` order), then answer: a sender that sees its
        // acknowledgement knows the room has been told.
        for (job, outcome) in jobs.iter().zip(&outcomes) {
            if let Outcome::Created {
                view: message,
                answered,
            } = outcome
            {
                // The initiator of the request this message accepted hears that first.
                if *answered && let Some(initiator) = &message.receiver {
                    self.events.publish(&ChatEvent::RequestAnswered {
                        conversation_id: message.conversation_id,
                        by: &job.sender,
                        initiator: &initiator.id,
                        accepted: true,
                    });
                }
                // A direct conversation this message opened: its two members hear of it first.
                if let Target::NewDirect(first, second) = &job.target
                    && message.seq == 1
                {
                    self.events.publish(&ChatEvent::ConversationStarted {
                        conversation_id: message.conversation_id,
                        members: &[first.clone(), second.clone()],
                        opened_by: Some(&job.sender),
                        request: self.direct_requests,
                    });
                }
                self.events.publish(&ChatEvent::MessageCreated {
                    message,
                    origin: job.input.origin,
                });
            }
        }
        for (job, outcome) in jobs.into_iter().zip(outcomes) {
            let answer = match outcome {
                Outcome::Created { view: message, .. } => Ok(Sent {
                    message,
                    created: true,
                }),
                Outcome::Repeat(message) => Ok(Sent {
                    message,
                    created: false,
                }),
                Outcome::Failed(e) => Err(e),
            };
            // The sender may have gone; the message is stored and broadcast all the same.
            let _ = job.reply.send(answer);
        }
    }

    /// The outcome of a send whose own transaction failed: a repeat if the failure was its client
    /// id, committed meanwhile by another process; the error otherwise.
    async fn after_failure(&self, job: &Job, e: DbErr) -> Outcome {
        if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
            match self.existing(&self.db, std::slice::from_ref(job)).await {
                Ok(mut found) => {
                    if let Some(stored) = job.idempotency_key().and_then(|k| found.remove(&own(k)))
                    {
                        return self.repeat(&self.db, job, stored).await;
                    }
                }
                Err(e) => return Outcome::Failed(e.into()),
            }
        }
        Outcome::Failed(e.into())
    }

    /// Writes the sends in one transaction; an `Err` means nothing was written.
    async fn write(&self, jobs: &[Job]) -> Result<Vec<Outcome>, DbErr> {
        let txn = begin_write(&self.db).await?;
        let written = self.write_in(&txn, jobs).await;
        settle(txn, written).await
    }

    async fn write_in(
        &self,
        txn: &DatabaseTransaction,
        jobs: &[Job],
    ) -> Result<Vec<Outcome>, DbErr> {
        let now = crate::time::now();
        let mut found = self.existing(txn, jobs).await?;
        let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(jobs.len());
        // The conversation of each new message, in queue order.
        let mut fresh: Vec<(usize, ConvRef)> = Vec::with_capacity(jobs.len());
        let mut created_directs: HashMap<(String, String), ConvRef> = HashMap::new();
        insert_stubs(txn, jobs, now).await?;
        let mut refusals = refused(txn, jobs).await?;
        // The sends that accepted a chat request to their sender.
        let mut answered: HashSet<usize> = HashSet::new();
        for (i, job) in jobs.iter().enumerate() {
            if let Some(stored) = job.idempotency_key().and_then(|k| found.remove(&own(k))) {
                outcomes.push(Some(self.repeat(txn, job, stored).await));
                continue;
            }
            if let Some(refusal) = refusals.remove(&i) {
                outcomes.push(Some(Outcome::Failed(refusal)));
                continue;
            }
            let conv = match &job.target {
                Target::Existing(conv) => conv.clone(),
                Target::NewDirect(first, second) => {
                    let pair = (first.key().to_owned(), second.key().to_owned());
                    match created_directs.get(&pair) {
                        Some(conv) => conv.clone(),
                        None => {
                            let opened =
                                create_direct(txn, first, second, &job.sender, now).await?;
                            let conv = ConvRef::of(&opened);
                            created_directs.insert(pair, conv.clone());
                            conv
                        }
                    }
                }
            };
            // A first part in a direct conversation another opened accepts its request.
            if job.first_part
                && accept(txn, conv.id, &job.sender, now).await?
                && self.direct_requests
                && conv.pair.is_some()
                && matches!(job.target, Target::Existing(_))
            {
                answered.insert(i);
            }
            outcomes.push(None);
            fresh.push((i, conv));
        }
        if !fresh.is_empty() {
            let seqs = take_seqs(txn, jobs, &fresh, now).await?;
            let rows = fresh.iter().zip(&seqs).map(|((i, conv), seq)| {
                let job = &jobs[*i];
                message::ActiveModel {
                    conversation_id: Set(conv.id),
                    seq: Set(*seq),
                    sender_id: Set(job.sender.key().to_owned()),
                    receiver_id: Set(conv.other(&job.sender).map(str::to_owned)),
                    content: Set(job.input.content.clone()),
                    attachment_url: Set(job.input.attachment_url.clone()),
                    attachment_name: Set(job.input.attachment.name.clone()),
                    attachment_mime: Set(job.input.attachment.mime.clone()),
                    attachment_size: Set(job.input.attachment.size),
                    attachment_duration_ms: Set(job.input.attachment.duration_ms),
                    kind: Set(job.input.kind().to_owned()),
                    reply_to: Set(job.input.reply_to),
                    file_id: Set(job.input.file_id.clone()),
                    client_msg_id: Set(job.input.client_msg_id.clone()),
                    read_at: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                    edited_at: Set(None),
                    deleted_at: Set(None),
                    ..Default::default()
                }
            });
            // Each reply counts in its thread.
            let mut parents: Vec<(i64, i64)> = Vec::new();
            for (i, _) in &fresh {
                if let Some(parent) = jobs[*i].input.reply_to {
                    match parents.iter_mut().find(|(p, _)| *p == parent) {
                        Some((_, n)) => *n += 1,
                        None => parents.push((parent, 1)),
                    }
                }
            }
            count_replies(txn, &parents).await?;
            let mut stored: HashMap<(i64, i64), message::Model> =
                message::Entity::insert_many(rows)
                    .exec_with_returning(txn)
                    .await?
                    .into_iter()
                    .map(|m| ((m.conversation_id, m.seq), m))
                    .collect();
            for ((i, conv), seq) in fresh.iter().zip(seqs) {
                let m = stored.remove(&(conv.id, seq)).ok_or_else(|| {
                    DbErr::RecordNotFound(format!("message {seq} of conversation {}", conv.id))
                })?;
                // The file it carries is sent now: its conversation's members may read it. A
                // file another send took meanwhile (or its uploader deleted) fails the batch,
                // which is then written send by send.
                if let Some(file) = &m.file_id {
                    let taken = media_file::Entity::update_many()
                        .col_expr(media_file::Column::MessageId, Expr::value(m.id))
                        .filter(media_file::Column::Id.eq(file.as_str()))
                        .filter(media_file::Column::MessageId.is_null())
                        .exec(txn)
                        .await?
                        .rows_affected;
                    if taken == 0 {
                        return Err(DbErr::RecordNotFound(format!(
                            "file {file} is gone or sent already"
                        )));
                    }
                }
                outcomes[*i] = Some(Outcome::Created {
                    view: message_view(txn, &self.profiles, m).await?,
                    answered: answered.contains(i),
                });
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Outcome::Failed(lost())))
            .collect())
    }

    /// The stored messages that the batch's client message ids name.
    async fn existing<C: ConnectionTrait>(
        &self,
        conn: &C,
        jobs: &[Job],
    ) -> Result<HashMap<(String, String), message::Model>, DbErr> {
        let keys: HashSet<(&str, &str)> = jobs.iter().filter_map(Job::idempotency_key).collect();
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        // One index probe per (sender, id) pair: `IN` lists on each column would probe their
        // cross product.
        let backend = conn.get_database_backend();
        let mut params = Params::new(backend);
        let pairs: Vec<String> = keys
            .iter()
            .map(|(sender, key)| {
                let sender = params.push((*sender).into());
                let key = params.push((*key).into());
                format!("({sender}, {key})")
            })
            .collect();
        let sql = format!(
            "SELECT * FROM messages WHERE (sender_id, client_msg_id) IN (VALUES {})",
            pairs.join(", ")
        );
        let rows = message::Entity::find()
            .from_raw_sql(Statement::from_sql_and_values(backend, sql, params.values))
            .all(conn)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|m| {
                let key = m.client_msg_id.clone()?;
                Some(((m.sender_id.clone(), key), m))
            })
            .collect())
    }

    /// The answer to a repeated client message id: the stored message if the repeat asks for the
    /// same thing, `CONFLICT` otherwise.
    async fn repeat<C: ConnectionTrait>(
        &self,
        conn: &C,
        job: &Job,
        stored: message::Model,
    ) -> Outcome {
        if let Err(e) = same_send(&stored, &job.input) {
            return Outcome::Failed(e);
        }
        match message_view(conn, &self.profiles, stored).await {
            Ok(view) => Outcome::Repeat(view),
            Err(e) => Outcome::Failed(e.into()),
        }
    }
}

/// Whether a batch failed on something one of its sends may have caused (a constraint, a
/// conversation that is gone), so that writing each send alone is worth it.
fn one_send_may_be_at_fault(e: &DbErr) -> bool {
    e.sql_err().is_some() || matches!(e, DbErr::RecordNotFound(_))
}

/// Writes the user rows the batch's new direct conversations need, all at once and in key order:
/// two PostgreSQL writers that inserted the same new users in different orders would deadlock.
async fn insert_stubs(
    txn: &DatabaseTransaction,
    jobs: &[Job],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    let mut users: Vec<&UserId> = jobs
        .iter()
        .filter_map(|job| match &job.target {
            Target::NewDirect(first, second) => Some([first, second]),
            Target::Existing(_) => None,
        })
        .flatten()
        .collect();
    users.sort_by(|a, b| a.key().cmp(b.key()));
    users.dedup_by(|a, b| a.key() == b.key());
    for user in users {
        insert_stub(txn, user, now).await?;
    }
    Ok(())
}

/// Splits off the sends whose client message id an earlier send in the batch already uses.
fn split_twins(jobs: Vec<Job>) -> (Vec<Job>, Vec<Job>) {
    let mut seen: HashSet<(String, String)> = HashSet::new();
    jobs.into_iter()
        .partition(|job| job.idempotency_key().is_none_or(|k| seen.insert(own(k))))
}

/// Takes the next `seq` numbers for the new messages, one `UPDATE` for all their conversations,
/// which also moves each conversation's preview to its last new message. Returns each message's
/// `seq`, in order.
async fn take_seqs(
    txn: &DatabaseTransaction,
    jobs: &[Job],
    fresh: &[(usize, ConvRef)],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<i64>, DbErr> {
    // Per conversation: how many new messages, and the last one's preview.
    let mut counts: Vec<(i64, i64, usize)> = Vec::new();
    for (i, conv) in fresh {
        match counts.iter_mut().find(|(id, _, _)| *id == conv.id) {
            Some((_, n, last)) => {
                *n += 1;
                *last = *i;
            }
            None => counts.push((conv.id, 1, *i)),
        }
    }
    // A conversation belongs to one writer, so writers never wait on each other's rows here.
    counts.sort_unstable_by_key(|(id, _, _)| *id);
    let backend = txn.get_database_backend();
    let mut params = Params::new(backend);
    let now_param = params.push(now.into());
    let rows: Vec<String> = counts
        .iter()
        .map(|(id, n, last)| {
            format!(
                "(CAST({} AS BIGINT), CAST({} AS BIGINT), {})",
                params.push((*id).into()),
                params.push((*n).into()),
                params.push(jobs[*last].input.preview().into()),
            )
        })
        .collect();
    let sql = format!(
        "UPDATE conversations SET last_seq = conversations.last_seq + v.column2, \
         last_message = v.column3, last_message_at = {now_param}, updated_at = {now_param} \
         FROM (VALUES {}) AS v WHERE conversations.id = v.column1 \
         RETURNING conversations.id, conversations.last_seq",
        rows.join(", ")
    );
    let returned = txn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, params.values))
        .await?;
    let mut next: HashMap<i64, i64> = HashMap::with_capacity(returned.len());
    for row in returned {
        let id: i64 = row.try_get("", "id")?;
        let last: i64 = row.try_get("", "last_seq")?;
        let n = counts
            .iter()
            .find(|(c, _, _)| *c == id)
            .map_or(0, |(_, n, _)| *n);
        next.insert(id, last - n + 1);
    }
    fresh
        .iter()
        .map(|(_, conv)| {
            let seq = next
                .get_mut(&conv.id)
                .ok_or_else(|| DbErr::RecordNotFound(format!("conversation {}", conv.id)))?;
            *seq += 1;
            Ok(*seq - 1)
        })
        .collect()
}

fn own((sender, key): (&str, &str)) -> (String, String) {
    (sender.to_owned(), key.to_owned())
}

/// The sends of the batch that may not be written, with their refusal, read in the transaction
/// that writes, so that a change committed after a send was checked but before it is written
/// still holds:
///
/// - a sender who left (or was removed from) the group they write to: `FORBIDDEN`;
/// - the initiator of a chat request its recipient declined: `FORBIDDEN`;
/// - a direct message between two users one of whom blocks the other (a conversation the send
///   would create included): `BLOCKED`;
/// - a reply to a message deleted since the reply was checked: `VALIDATION`.
async fn refused(
    txn: &DatabaseTransaction,
    jobs: &[Job],
) -> Result<HashMap<usize, AppError>, DbErr> {
    let convs: HashSet<i64> = jobs
        .iter()
        .filter_map(|j| match &j.target {
            Target::Existing(conv) => Some(conv.id),
            Target::NewDirect(..) => None,
        })
        .collect();
    // (conversation, user) of members who left, and of recipients who declined.
    let (mut left, mut declined) = (HashSet::new(), HashSet::new());
    if !convs.is_empty() {
        let rows = participant::Entity::find()
            .select_only()
            .column(participant::Column::ConversationId)
            .column(participant::Column::UserId)
            .column(participant::Column::LeftAt)
            .filter(participant::Column::ConversationId.is_in(convs))
            .filter(
                Condition::any()
                    .add(participant::Column::LeftAt.is_not_null())
                    .add(participant::Column::RejectedAt.is_not_null()),
            )
            .into_tuple::<(i64, String, Option<chrono::DateTime<chrono::Utc>>)>()
            .all(txn)
            .await?;
        for (conv, user, left_at) in rows {
            if left_at.is_some() {
                left.insert((conv, user));
            } else {
                declined.insert(conv);
            }
        }
    }
    let pairs: Vec<(&str, &str)> = jobs
        .iter()
        .filter_map(|j| match &j.target {
            Target::Existing(conv) => conv.pair.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
            Target::NewDirect(a, b) => Some((a.key(), b.key())),
        })
        .collect();
    let blocked = blocked_pairs(txn, &pairs).await?;
    // Replies to a message deleted since they were checked.
    let parents: Vec<i64> = jobs.iter().filter_map(|j| j.input.reply_to).collect();
    let live_parents: HashSet<(i64, i64)> = if parents.is_empty() {
        HashSet::new()
    } else {
        message::Entity::find()
            .select_only()
            .column(message::Column::Id)
            .column(message::Column::ConversationId)
            .filter(message::Column::Id.is_in(parents))
            .filter(message::Column::DeletedAt.is_null())
            .into_tuple::<(i64, i64)>()
            .all(txn)
            .await?
            .into_iter()
            .collect()
    };
    let mut refusals = HashMap::new();
    for (i, job) in jobs.iter().enumerate() {
        let reply_gone = match (&job.target, job.input.reply_to) {
            (Target::Existing(conv), Some(parent)) => !live_parents.contains(&(parent, conv.id)),
            _ => false,
        };
        let refusal = match &job.target {
            _ if reply_gone => Some(AppError::validation(
                "replyTo must be a message of this chat (it was deleted)",
            )),
            Target::Existing(conv) if left.contains(&(conv.id, job.sender.key().to_owned())) => {
                Some(AppError::Forbidden(format!(
                    "not a participant of conversation {}",
                    conv.id
                )))
            }
            Target::Existing(conv) => match &conv.pair {
                Some((a, b)) if blocked.contains(&(a.as_str(), b.as_str())) => {
                    Some(blocks::blocked())
                }
                // The recipient who declined may still write (which accepts the request).
                Some(_) if declined.contains(&conv.id) && !job.first_part => Some(
                    AppError::Forbidden("the recipient declined this chat request".to_owned()),
                ),
                _ => None,
            },
            Target::NewDirect(a, b) if blocked.contains(&(a.key(), b.key())) => {
                Some(blocks::blocked())
            }
            Target::NewDirect(..) => None,
        };
        if let Some(refusal) = refusal {
            refusals.insert(i, refusal);
        }
    }
    Ok(refusals)
}

fn lost() -> AppError {
    AppError::Internal("the send was not written".to_owned())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures_util::future::join_all;

    use super::*;
    use crate::config::Config;

    /// Records the `seq` of every message it is told of.
    #[derive(Debug, Default)]
    struct Told(Mutex<Vec<i64>>);

    impl EventSink for Told {
        fn publish(&self, event: &ChatEvent<'_>) {
            if let ChatEvent::MessageCreated { message: m, .. } = event
                && let Ok(mut told) = self.0.lock()
            {
                told.push(m.seq);
            }
        }
    }

    fn user(n: i64) -> UserId {
        UserId::from_json(&serde_json::json!(n)).expect("a numeric id")
    }

    /// A fresh in-memory SQLite database after the real migrations.
    async fn migrated_memory_db() -> DatabaseConnection {
        let mut config = Config::with_defaults(None);
        config.database_url = "sqlite::memory:".to_owned();
        let db = crate::db::connect(&config).await.expect("database");
        crate::db::migrate(&db).await.expect("migrations");
        db
    }

    fn input(content: &str, key: Option<&str>) -> SendInput {
        SendInput {
            receiver: Some(user(2)),
            content: content.to_owned(),
            client_msg_id: key.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn only_errors_a_send_may_cause_are_retried_send_by_send() {
        assert!(one_send_may_be_at_fault(&DbErr::RecordNotFound(
            "conversation 9".to_owned()
        )));
        for database_failure in [
            DbErr::Conn(sea_orm::RuntimeErr::Internal(
                "connection refused".to_owned(),
            )),
            DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout),
            DbErr::Exec(sea_orm::RuntimeErr::Internal(
                "database is locked".to_owned(),
            )),
        ] {
            assert!(
                !one_send_may_be_at_fault(&database_failure),
                "{database_failure}"
            );
        }
    }

    #[tokio::test]
    async fn one_bad_send_does_not_sink_its_batch_and_twins_are_repeats() {
        let db = migrated_memory_db().await;
        let told = Arc::new(Told::default());
        let writers = Writers::start(
            db.clone(),
            Arc::new(OrderLocks::default()),
            Arc::new(Profiles::default()),
            PublicFields::default(),
            told.clone(),
            false,
            None,
        );
        let pair = || Target::NewDirect(user(1), user(2));
        // Queued together (the writer has not run yet on this single-threaded runtime), so
        // they are written as one batch, which the send to a missing conversation fails.
        let mut sends = Vec::new();
        for i in 0..10 {
            sends.push((pair(), input(&format!("m{i}"), Some(&format!("k{i}")))));
        }
        let missing = ConvRef {
            id: 9_999,
            pair: None,
        };
        sends.push((Target::Existing(missing), input("lost", None)));
        sends.push((pair(), input("m3", Some("k3"))));
        sends.push((pair(), input("other", Some("k4"))));
        let answers = join_all(sends.into_iter().map(|(target, input)| {
            let first = matches!(target, Target::NewDirect(..));
            writers.write(user(1), target, input, first)
        }))
        .await;

        let seqs: Vec<i64> = answers[..10]
            .iter()
            .map(|a| a.as_ref().expect("a valid send").message.seq)
            .collect();
        assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
        assert!(answers[..10].iter().flatten().all(|s| s.created));
        let err = answers[10].as_ref().expect_err("no such conversation");
        assert_eq!(err.code(), "INTERNAL");
        let twin = answers[11].as_ref().expect("a repeat");
        assert!(!twin.created);
        assert_eq!(
            twin.message.id,
            answers[3].as_ref().expect("sent").message.id
        );
        let conflict = answers[12].as_ref().expect_err("same key, other content");
        assert_eq!(conflict.code(), "CONFLICT");
        // Told once per stored message, in seq order.
        assert_eq!(*told.0.lock().expect("record"), seqs);
        let stored = message::Entity::find().all(&db).await.expect("messages");
        assert_eq!(stored.len(), 10);
    }

    #[tokio::test]
    async fn sends_written_after_their_sender_left_or_their_parent_was_deleted_are_refused() {
        use entity::{conversation, participant};
        use sea_orm::ActiveModelTrait;

        let db = migrated_memory_db().await;
        let now = crate::time::now();
        let group = conversation::ActiveModel {
            kind: Set(conversation::KIND_GROUP.to_owned()),
            title: Set(Some("g".to_owned())),
            last_seq: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&db)
        .await
        .expect("group");
        for (n, left) in [(1, true), (2, false)] {
            crate::service::users::insert_stub(&db, &user(n), now)
                .await
                .expect("user");
            let mut row = participant::ActiveModel::member(group.id, n.to_string(), now, true);
            if left {
                row.left_at = Set(Some(now));
            }
            row.insert(&db).await.expect("member");
        }
        let told = Arc::new(Told::default());
        let writers = Writers::start(
            db.clone(),
            Arc::new(OrderLocks::default()),
            Arc::new(Profiles::default()),
            PublicFields::default(),
            told.clone(),
            false,
            None,
        );
        // As if both had been checked while members, then queued.
        let to_group = || ConvRef {
            id: group.id,
            pair: None,
        };
        let in_group = |content: &str| SendInput {
            conversation_id: Some(group.id),
            content: content.to_owned(),
            ..Default::default()
        };
        let (gone, stays) = tokio::join!(
            writers.write(
                user(1),
                Target::Existing(to_group()),
                in_group("gone"),
                false
            ),
            writers.write(
                user(2),
                Target::Existing(to_group()),
                in_group("stays"),
                false
            ),
        );
        assert_eq!(gone.expect_err("left").code(), "FORBIDDEN");
        assert_eq!(stays.expect("a member").message.seq, 1);
        // A reply checked while its parent was live, written after the parent was deleted, is
        // refused.
        let parent = message::Entity::find()
            .one(&db)
            .await
            .expect("read")
            .expect("stored");
        message::Entity::update_many()
            .col_expr(message::Column::DeletedAt, Expr::value(now))
            .filter(message::Column::Id.eq(parent.id))
            .exec(&db)
            .await
            .expect("delete");
        let reply = SendInput {
            reply_to: Some(parent.id),
            ..in_group("late reply")
        };
        let late = writers
            .write(user(2), Target::Existing(to_group()), reply, false)
            .await;
        assert_eq!(late.expect_err("parent gone").code(), "VALIDATION");
        assert_eq!(*told.0.lock().expect("record"), [1]);
        let stored = message::Entity::find().all(&db).await.expect("messages");
        assert_eq!(stored.len(), 1);
    }
}
