//! Conversations: finding or creating the direct conversation of a pair, membership, listing,
//! read positions and unread counts.

use entity::{conversation, message, participant, read_mark};
use sea_orm::sea_query::{Expr, NullOrdering, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};

use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::service::archive::{ARCHIVED_BY_MEMBER, archived};
use crate::service::blocks::{blocks_of, refuse_if_blocked};
use crate::service::receipts::advance_delivered;
use crate::service::requests::{DECLINED_BY_MEMBER, PENDING_TO_MEMBER, initiator, request_status};
use crate::service::store::{
    ConvRef, Member, current_last_seq, find_direct, membership, participant_of,
};
use crate::service::views::{
    ConversationView, MemberView, Page, PageRequest, ReadReceipt, RequestStatus, Standing,
    UnreadView,
};
use crate::service::{Chat, ChatEvent, Origin, settle, users};

/// One of a member's lists of conversations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Folder {
    /// Their chats: neither a request waiting for their answer, nor one they declined, nor in
    /// their archive.
    Active,
    /// Chat requests to them that they have not answered.
    Requests,
    /// Chats in their archive.
    Archived,
}

impl Chat {
    /// The conversation, if `user` is a current participant of it: `NOT_FOUND` when it does not
    /// exist, `FORBIDDEN` when the user is not in it.
    pub async fn require_participant(
        &self,
        user: &UserId,
        conversation_id: i64,
    ) -> AppResult<conversation::Model> {
        participant_of(&self.db, user, conversation_id).await
    }

    /// [`Chat::require_participant`] for the send path: what a send needs of the conversation
    /// and the membership, from the membership cache when this process saw the membership in
    /// the last minute.
    pub(crate) async fn member_conversation(
        &self,
        user: &UserId,
        conversation_id: i64,
    ) -> AppResult<Member> {
        let key = (conversation_id, user.key().to_owned());
        if let Some(member) = self.caches.members.get(&key) {
            return Ok(member);
        }
        let (conv, participant) = membership(&self.db, user, conversation_id).await?;
        let member = Member {
            conv: ConvRef::of(&conv),
            accepted: participant.accepted_at.is_some(),
        };
        self.caches.members.put(key, member.clone());
        Ok(member)
    }

    /// The direct conversation of an ordered pair, if it exists (cached once found: a pair's
    /// conversation never changes).
    pub(crate) async fn direct_conversation(
        &self,
        first: &UserId,
        second: &UserId,
    ) -> AppResult<Option<ConvRef>> {
        let key = (first.key().to_owned(), second.key().to_owned());
        if let Some(conv) = self.caches.directs.get(&key) {
            return Ok(Some(conv));
        }
        let Some(conv) = find_direct(&self.db, first, second).await? else {
            return Ok(None);
        };
        let conv = ConvRef::of(&conv);
        self.caches.directs.put(key, conv.clone());
        Ok(Some(conv))
    }

    /// The user's conversations, most recent message first.
    pub async fn list_conversations(
        &self,
        user: &UserId,
        page: PageRequest,
    ) -> AppResult<Page<ConversationView>> {
        let mine = Query::select()
            .column(participant::Column::ConversationId)
            .from(participant::Entity)
            .and_where(participant::Column::UserId.eq(user.key()))
            .and_where(participant::Column::LeftAt.is_null())
            .to_owned();
        let query = conversation::Entity::find().filter(conversation::Column::Id.in_subquery(mine));
        let total = query.clone().count(&self.db).await?;
        let rows = query
            .order_by_with_nulls(
                conversation::Column::LastMessageAt,
                Order::Desc,
                NullOrdering::Last,
            )
            .order_by_desc(conversation::Column::Id)
            .offset(page.offset())
            .limit(page.limit)
            .all(&self.db)
            .await?;
        let items = self.views(user, rows).await?;
        Ok(page.wrap(items, total))
    }

    /// One of `user`'s lists of conversations, most recent message first (see [`Folder`]).
    pub async fn list_folder(
        &self,
        user: &UserId,
        folder: Folder,
        page: PageRequest,
    ) -> AppResult<Page<ConversationView>> {
        let pending = if self.limits.direct_requests {
            PENDING_TO_MEMBER
        } else {
            "(1 = 0)"
        };
        let condition = match folder {
            Folder::Active => {
                format!("NOT {pending} AND NOT {DECLINED_BY_MEMBER} AND NOT {ARCHIVED_BY_MEMBER}")
            }
            Folder::Requests => pending.to_owned(),
            Folder::Archived => {
                format!("{ARCHIVED_BY_MEMBER} AND NOT {pending} AND NOT {DECLINED_BY_MEMBER}")
            }
        };
        let from = format!(
            "FROM conversations c JOIN participants p ON p.conversation_id = c.id \
             WHERE p.user_id = $1 AND p.left_at IS NULL AND {condition}"
        );
        let backend = self.db.get_database_backend();
        let total = self
            .db
            .query_one_raw(statement(
                &self.db,
                &format!("SELECT COUNT(*) AS n {from}"),
                user,
            ))
            .await?
            .map(|row| row.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0);
        let sql = format!(
            "SELECT c.* {from} ORDER BY COALESCE(c.last_message_at, c.created_at) DESC, c.id DESC \
             LIMIT {} OFFSET {}",
            page.limit,
            page.offset()
        );
        let rows = conversation::Entity::find()
            .from_raw_sql(Statement::from_sql_and_values(
                backend,
                sql,
                [user.key().into()],
            ))
            .all(&self.db)
            .await?;
        let items = self.views(user, rows).await?;
        Ok(page.wrap(items, u64::try_from(total).unwrap_or(0)))
    }

    /// `rows` as `user` sees them: with the users of direct conversations, unread counts, the
    /// state of each chat request, the user's own archive and mute, and blocks.
    pub(crate) async fn views(
        &self,
        user: &UserId,
        rows: Vec<conversation::Model>,
    ) -> AppResult<Vec<ConversationView>> {
        let unread = self.unread_counts(user).await?;
        let ids: Vec<i64> = rows.iter().map(|c| c.id).collect();
        let mut members = participant::Entity::find()
            .filter(participant::Column::ConversationId.is_in(ids))
            .filter(participant::Column::LeftAt.is_null())
            .order_by_asc(participant::Column::JoinedAt)
            .order_by_asc(participant::Column::UserId)
            .all(&self.db)
            .await?;
        let keys: Vec<String> = rows
            .iter()
            .flat_map(|c| {
                [
                    c.participant_1_id.clone(),
                    c.participant_2_id.clone(),
                    c.opened_by.clone(),
                ]
            })
            .flatten()
            .chain(members.iter().map(|p| p.user_id.clone()))
            .collect();
        let users = self.load_users(&self.db, keys).await?;
        let blocks = if rows.iter().any(|c| c.participant_1_id.is_some()) {
            blocks_of(&self.db, user).await?
        } else {
            std::collections::HashSet::new()
        };
        let requests = self.limits.direct_requests;
        let items = rows
            .into_iter()
            .map(|c| {
                let rows: Vec<participant::Model> = members
                    .extract_if(.., |p| p.conversation_id == c.id)
                    .collect();
                let me = rows.iter().find(|p| p.user_id == user.key());
                let opened_by = initiator(&c, &rows);
                let request = request_status(&c, &rows, requests);
                let standing = Standing {
                    archived: me.is_some_and(|p| archived(p, c.last_seq)),
                    muted: me.is_some_and(|p| p.muted_at.is_some()),
                    awaiting_answer: request == RequestStatus::Pending
                        && opened_by.as_deref() != Some(user.key()),
                };
                let blocked = c.participant_1_id.is_some()
                    && ConvRef::of(&c)
                        .other(user)
                        .is_some_and(|other| blocks.contains(other));
                ConversationView {
                    id: c.id,
                    participant1: c
                        .participant_1_id
                        .as_deref()
                        .map(|k| users::pick(&users, k)),
                    participant2: c
                        .participant_2_id
                        .as_deref()
                        .map(|k| users::pick(&users, k)),
                    members: rows
                        .into_iter()
                        .map(|p| MemberView {
                            user: users::pick(&users, &p.user_id),
                            role: p.role,
                            joined_at: p.joined_at,
                        })
                        .collect(),
                    unread_count: unread
                        .iter()
                        .find(|(id, _)| *id == c.id)
                        .map_or(0, |(_, n)| *n),
                    opened_by: opened_by.map(|k| users::pick(&users, &k).id),
                    request,
                    standing,
                    blocked,
                    kind: c.kind,
                    title: c.title,
                    description: c.description,
                    avatar_url: c.avatar_url,
                    last_message: c.last_message,
                    last_message_at: c.last_message_at,
                    last_seq: c.last_seq,
                    created_at: c.created_at,
                    updated_at: c.updated_at,
                }
            })
            .collect();
        Ok(items)
    }

    /// The conversation as `user` sees it, if they are a current participant.
    pub async fn conversation_view(
        &self,
        user: &UserId,
        conversation_id: i64,
    ) -> AppResult<ConversationView> {
        let conv = self.require_participant(user, conversation_id).await?;
        let mut views = self.views(user, vec![conv]).await?;
        views
            .pop()
            .ok_or_else(|| AppError::Internal("a conversation view went missing".to_owned()))
    }

    /// The ids of every conversation `user` is a current participant of.
    pub async fn conversation_ids(&self, user: &UserId) -> AppResult<Vec<i64>> {
        Ok(participant::Entity::find()
            .select_only()
            .column(participant::Column::ConversationId)
            .filter(participant::Column::UserId.eq(user.key()))
            .filter(participant::Column::LeftAt.is_null())
            .into_tuple::<i64>()
            .all(&self.db)
            .await?)
    }

    /// The direct conversation of `user` and `other`, created empty if they have none yet.
    /// Returns it as `user` sees it, and whether this call created it (then both are told,
    /// [`ChatEvent::ConversationStarted`]).
    pub async fn open_direct(
        &self,
        user: &UserId,
        other: &UserId,
    ) -> AppResult<(ConversationView, bool)> {
        if user.key() == other.key() {
            return Err(AppError::Unprocessable(
                "cannot open a conversation with yourself".to_owned(),
            ));
        }
        let (first, second) = UserId::ordered_pair(user, other);
        if let Some(conv) = self.direct_conversation(first, second).await? {
            return Ok((self.conversation_view(user, conv.id).await?, false));
        }
        // A new chat tells the other user: it draws on the opener's allowance.
        self.charge(user)?;
        // The lock a first message to the pair takes too: the two cannot both create it.
        let _order = self
            .order
            .lock(crate::service::store::pair_key(first.key(), second.key()))
            .await;
        let now = crate::time::now();
        let txn = self.begin_write().await?;
        let created = async {
            if let Some(conv) = find_direct(&txn, first, second).await? {
                return Ok((conv, false));
            }
            // No new chat (or request) between users one of whom blocks the other.
            refuse_if_blocked(&txn, user.key(), other.key()).await?;
            users::insert_stub(&txn, first, now).await?;
            users::insert_stub(&txn, second, now).await?;
            let conv =
                crate::service::messages::create_direct(&txn, first, second, user, now).await?;
            // The opener has taken part; the other user does when they first write.
            crate::service::messages::accept(&txn, conv.id, user, now).await?;
            Ok::<_, AppError>((conv, true))
        }
        .await;
        let (conv, created) = settle(txn, created).await?;
        if created {
            self.publish(&ChatEvent::ConversationStarted {
                conversation_id: conv.id,
                members: &[first.clone(), second.clone()],
                opened_by: Some(user),
                request: self.limits.direct_requests,
            });
        }
        Ok((self.conversation_view(user, conv.id).await?, created))
    }

    /// `user` entered the room of a conversation they are a member of, on the connection
    /// `origin`: the others are told, which draws on the user's allowance. The caller tells
    /// only entries that change something (a connection already in the room tells nobody).
    pub fn announce_entered(
        &self,
        user: &UserId,
        conversation_id: i64,
        origin: Origin,
    ) -> AppResult<()> {
        self.charge(user)?;
        self.publish(&ChatEvent::RoomPresence {
            conversation_id,
            user,
            origin,
            joined: true,
        });
        Ok(())
    }

    /// `user` left a conversation's room on the connection `origin`: the others are told. Free:
    /// only a connection in the room leaves it, so leaves are bounded by the charged entries.
    pub fn announce_left(&self, user: &UserId, conversation_id: i64, origin: Origin) {
        self.publish(&ChatEvent::RoomPresence {
            conversation_id,
            user,
            origin,
            joined: false,
        });
    }

    /// Marks everything in the conversation as read for `user`, and tells the room. A user who
    /// has already read everything is answered with their position and nobody is told (such a
    /// repeat costs nothing); a read that moves the position draws on the user's allowance
    /// ([`Chat::charge`]), since the whole room hears of it.
    pub async fn mark_read(&self, user: &UserId, conversation_id: i64) -> AppResult<ReadReceipt> {
        let (conv, member) = membership(&self.db, user, conversation_id).await?;
        if member.last_read_seq >= conv.last_seq {
            return Ok(ReadReceipt {
                conversation_id,
                user: user.clone(),
                last_read_seq: member.last_read_seq,
                read_at: member.last_read_at.unwrap_or_else(crate::time::now),
                updated: 0,
                moved: false,
            });
        }
        self.charge(user)?;
        // Under the conversation's order lock, a receipt cannot overtake a message broadcast.
        let _order = self.order.lock(ConvRef::of(&conv).order_key()).await;
        let now = crate::time::now();
        let txn = self.begin_write().await?;
        let read = read_all(&txn, &conv, user, now).await;
        let (last_read_seq, updated, moved) = settle(txn, read).await?;
        let receipt = ReadReceipt {
            conversation_id,
            user: user.clone(),
            last_read_seq,
            read_at: now,
            updated,
            moved,
        };
        if moved {
            self.publish(&ChatEvent::MessagesRead(&receipt));
        }
        Ok(receipt)
    }

    /// Messages from others that `user` has not read, over all their conversations.
    pub async fn unread_total(&self, user: &UserId) -> AppResult<i64> {
        Ok(self.unread_counts(user).await?.iter().map(|(_, n)| n).sum())
    }

    /// Unread counts per conversation, with the other participant of direct conversations.
    pub async fn unread_by_conversation(&self, user: &UserId) -> AppResult<Vec<UnreadView>> {
        let counts = self.unread_counts(user).await?;
        let convs = conversation::Entity::find()
            .filter(conversation::Column::Id.is_in(counts.iter().map(|(id, _)| *id)))
            .all(&self.db)
            .await?;
        let other = |c: &conversation::Model| -> Option<String> {
            [&c.participant_1_id, &c.participant_2_id]
                .into_iter()
                .flatten()
                .find(|k| k.as_str() != user.key())
                .cloned()
        };
        let keys: Vec<String> = convs.iter().filter_map(other).collect();
        let users = self.load_users(&self.db, keys).await?;
        Ok(counts
            .into_iter()
            .map(|(conversation_id, unread_count)| UnreadView {
                conversation_id,
                unread_count,
                other_participant: convs
                    .iter()
                    .find(|c| c.id == conversation_id)
                    .and_then(other)
                    .map(|k| users::pick(&users, &k)),
            })
            .collect())
    }

    /// `(conversation id, unread count)` for each conversation of `user` with unread messages.
    /// With chat requests on, the messages of a request the user has not accepted do not count.
    async fn unread_counts(&self, user: &UserId) -> AppResult<Vec<(i64, i64)>> {
        let unanswered = if self.limits.direct_requests {
            "AND NOT (c.kind = 'direct' AND p.accepted_at IS NULL) "
        } else {
            ""
        };
        let sql = format!(
            "SELECT p.conversation_id AS conversation_id, COUNT(m.id) AS unread \
             FROM participants p \
             JOIN conversations c ON c.id = p.conversation_id \
             JOIN messages m ON m.conversation_id = p.conversation_id \
             WHERE p.user_id = $1 AND p.left_at IS NULL AND m.seq > p.last_read_seq \
             AND m.sender_id <> $1 AND m.deleted_at IS NULL {unanswered}\
             GROUP BY p.conversation_id ORDER BY p.conversation_id"
        );
        let rows = self
            .db
            .query_all_raw(statement(&self.db, &sql, user))
            .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get::<i64>("", "conversation_id")?,
                    row.try_get::<i64>("", "unread")?,
                ))
            })
            .collect()
    }

    /// Who may see `user`'s presence: everyone in a current conversation `user` took part in
    /// (wrote in, or joined as a group member), but those who block `user` or whom `user`
    /// blocks. A stranger who only wrote to `user` is not among them until `user` writes back.
    pub async fn partners_of(&self, user: &UserId) -> AppResult<Vec<UserId>> {
        let sql = "SELECT DISTINCT o.user_id AS user_id, u.id_is_number AS id_is_number \
                   FROM participants me \
                   JOIN participants o ON o.conversation_id = me.conversation_id \
                   JOIN users u ON u.id = o.user_id \
                   WHERE me.user_id = $1 AND o.user_id <> $1 \
                   AND me.accepted_at IS NOT NULL \
                   AND me.left_at IS NULL AND o.left_at IS NULL \
                   AND NOT EXISTS (SELECT 1 FROM blocks b WHERE \
                   (b.blocker_id = $1 AND b.blocked_id = o.user_id) \
                   OR (b.blocker_id = o.user_id AND b.blocked_id = $1))";
        let rows = self
            .db
            .query_all_raw(statement(&self.db, sql, user))
            .await?;
        rows.iter()
            .map(|row| {
                Ok(UserId::from_stored(
                    row.try_get::<String>("", "user_id")?,
                    row.try_get::<bool>("", "id_is_number")?,
                ))
            })
            .collect()
    }
}

/// Moves `user`'s read position to the conversation's last `seq` and stamps its unread direct
/// messages; returns the position, how many messages it stamped, and whether the position moved
/// (a concurrent read may have moved it first).
async fn read_all(
    txn: &DatabaseTransaction,
    conv: &conversation::Model,
    user: &UserId,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(i64, u64, bool), DbErr> {
    // Messages may have arrived since the membership check.
    let last_seq = current_last_seq(txn, conv).await?;
    let moved = participant::Entity::update_many()
        .col_expr(participant::Column::LastReadSeq, Expr::value(last_seq))
        .col_expr(participant::Column::LastReadAt, Expr::value(now))
        .filter(participant::Column::ConversationId.eq(conv.id))
        .filter(participant::Column::UserId.eq(user.key()))
        .filter(participant::Column::LastReadSeq.lt(last_seq))
        .exec(txn)
        .await?
        .rows_affected
        > 0;
    // What is read was delivered.
    let reader = vec![user.key().to_owned()];
    advance_delivered(txn, conv.id, reader, last_seq, now).await?;
    if moved {
        read_mark::Entity::insert(read_mark::ActiveModel {
            conversation_id: Set(conv.id),
            user_id: Set(user.key().to_owned()),
            up_to_seq: Set(last_seq),
            read_at: Set(now),
            ..Default::default()
        })
        .exec_without_returning(txn)
        .await?;
    }
    let updated = message::Entity::update_many()
        .col_expr(message::Column::ReadAt, Expr::value(now))
        .filter(message::Column::ConversationId.eq(conv.id))
        .filter(message::Column::ReceiverId.eq(user.key()))
        .filter(message::Column::ReadAt.is_null())
        .filter(message::Column::Seq.lte(last_seq))
        .exec(txn)
        .await?
        .rows_affected;
    Ok((last_seq, updated, moved))
}

/// A raw statement with the user's key as `$1` (both SQLite and PostgreSQL read `$1`).
fn statement(db: &impl ConnectionTrait, sql: &str, user: &UserId) -> Statement {
    let backend: DbBackend = db.get_database_backend();
    Statement::from_sql_and_values(backend, sql, [user.key().into()])
}
