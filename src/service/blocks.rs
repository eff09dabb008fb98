//! Blocking: a user blocks another, and while either blocks the other there is no new chat
//! between them, no direct message, no typing in their direct conversation and no presence
//! either way. Their history stays readable. In groups only typing is hidden from the blocker.
//!
//! The `blocks` table is the one truth; the message writer reads it in the transaction that
//! stores a batch, so a block is honoured from its commit on, on every node.

use std::collections::HashSet;

use entity::block;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::service::views::{BlockView, UserView};
use crate::service::{Chat, users};

impl Chat {
    /// `user` blocks `other` (a repeat changes nothing). Answers when the block began.
    pub async fn block(&self, user: &UserId, other: &UserId) -> AppResult<BlockView> {
        if user.key() == other.key() {
            return Err(AppError::Unprocessable("cannot block yourself".to_owned()));
        }
        let now = crate::time::now();
        let txn = self.begin_write().await?;
        let stored = async {
            users::insert_stub(&txn, user, now).await?;
            users::insert_stub(&txn, other, now).await?;
            block::Entity::insert(block::ActiveModel {
                blocker_id: Set(user.key().to_owned()),
                blocked_id: Set(other.key().to_owned()),
                created_at: Set(now),
            })
            .on_conflict(
                OnConflict::columns([block::Column::BlockerId, block::Column::BlockedId])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
            block::Entity::find_by_id((user.key().to_owned(), other.key().to_owned()))
                .one(&txn)
                .await?
                .ok_or_else(|| DbErr::RecordNotFound("a block after its insert".to_owned()))
        }
        .await;
        let stored = crate::service::settle(txn, stored).await?;
        Ok(BlockView {
            user: self.user_view(other).await?,
            since: Some(stored.created_at),
        })
    }

    /// `user` no longer blocks `other` (a repeat changes nothing). A block `other` holds on
    /// `user` stays.
    pub async fn unblock(&self, user: &UserId, other: &UserId) -> AppResult<BlockView> {
        block::Entity::delete_many()
            .filter(block::Column::BlockerId.eq(user.key()))
            .filter(block::Column::BlockedId.eq(other.key()))
            .exec(&self.db)
            .await?;
        Ok(BlockView {
            user: self.user_view(other).await?,
            since: None,
        })
    }

    /// The users `user` blocks, the latest block first.
    pub async fn blocked_users(&self, user: &UserId) -> AppResult<Vec<BlockView>> {
        let rows = block::Entity::find()
            .filter(block::Column::BlockerId.eq(user.key()))
            .order_by_desc(block::Column::CreatedAt)
            .order_by_asc(block::Column::BlockedId)
            .all(&self.db)
            .await?;
        let keys = rows.iter().map(|b| b.blocked_id.clone()).collect();
        let users = self.load_users(&self.db, keys).await?;
        Ok(rows
            .into_iter()
            .map(|b| BlockView {
                user: users::pick(&users, &b.blocked_id),
                since: Some(b.created_at),
            })
            .collect())
    }

    /// A user as stored, or known by id only.
    async fn user_view(&self, user: &UserId) -> AppResult<UserView> {
        let users = self
            .load_users(&self.db, vec![user.key().to_owned()])
            .await?;
        Ok(users::pick(&users, user.key()))
    }
}

/// Refuses with `BLOCKED` when either of `a` and `b` blocks the other.
pub(crate) async fn refuse_if_blocked<C: ConnectionTrait>(
    conn: &C,
    a: &str,
    b: &str,
) -> AppResult<()> {
    if blocked_pairs(conn, &[(a, b)]).await?.is_empty() {
        Ok(())
    } else {
        Err(blocked())
    }
}

/// Refuses with `BLOCKED` when `conv` is a direct conversation one of whose users blocks the
/// other (nothing new passes between them: no message, edit, reaction or typing).
pub(crate) async fn refuse_in_direct<C: ConnectionTrait>(
    conn: &C,
    conv: &entity::conversation::Model,
) -> AppResult<()> {
    match (&conv.participant_1_id, &conv.participant_2_id) {
        (Some(a), Some(b)) => refuse_if_blocked(conn, a, b).await,
        _ => Ok(()),
    }
}

/// The `BLOCKED` refusal.
pub(crate) fn blocked() -> AppError {
    AppError::Blocked("one of you has blocked the other: no messages between you".to_owned())
}

/// Of `pairs`, those where one blocks the other, each as given.
pub(crate) async fn blocked_pairs<'a, C: ConnectionTrait>(
    conn: &C,
    pairs: &[(&'a str, &'a str)],
) -> Result<HashSet<(&'a str, &'a str)>, DbErr> {
    if pairs.is_empty() {
        return Ok(HashSet::new());
    }
    let users: HashSet<&str> = pairs.iter().flat_map(|(a, b)| [*a, *b]).collect();
    let rows: HashSet<(String, String)> = block::Entity::find()
        .select_only()
        .column(block::Column::BlockerId)
        .column(block::Column::BlockedId)
        .filter(block::Column::BlockerId.is_in(users.iter().copied()))
        .filter(block::Column::BlockedId.is_in(users.iter().copied()))
        .into_tuple::<(String, String)>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let holds = |x: &str, y: &str| rows.contains(&(x.to_owned(), y.to_owned()));
    Ok(pairs
        .iter()
        .filter(|(a, b)| holds(a, b) || holds(b, a))
        .copied()
        .collect())
}

/// Everyone `user` blocks or is blocked by.
pub(crate) async fn blocks_of<C: ConnectionTrait>(
    conn: &C,
    user: &UserId,
) -> Result<HashSet<String>, DbErr> {
    let rows = block::Entity::find()
        .filter(
            Condition::any()
                .add(block::Column::BlockerId.eq(user.key()))
                .add(block::Column::BlockedId.eq(user.key())),
        )
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|b| {
            if b.blocker_id == user.key() {
                b.blocked_id
            } else {
                b.blocker_id
            }
        })
        .collect())
}

/// The users who block `user`.
pub(crate) async fn blockers_of<C: ConnectionTrait>(
    conn: &C,
    user: &UserId,
) -> Result<Vec<String>, DbErr> {
    block::Entity::find()
        .select_only()
        .column(block::Column::BlockerId)
        .filter(block::Column::BlockedId.eq(user.key()))
        .into_tuple::<String>()
        .all(conn)
        .await
}
