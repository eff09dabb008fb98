//! Presence: how many sockets each user has on this node, the status each user chose
//! (`online`, `away`, `busy`, or `invisible`, which others see as offline), and the last-seen
//! time when their last socket goes. Others see a user as offline when the user has no socket
//! or chose `invisible`; partners hear each change of what they see.

use std::collections::HashMap;
use std::sync::Mutex;

use entity::{participant, user};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, JoinType, QueryFilter,
    QuerySelect, RelationDef,
};

use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::service::views::PresenceView;
use crate::service::{Chat, ChatEvent};

/// Connected sockets per user key.
#[derive(Debug, Default)]
pub struct Presence {
    sockets: Mutex<HashMap<String, usize>>,
}

impl Presence {
    /// Counts a new socket; returns the user's socket count after it.
    fn add(&self, user: &UserId) -> usize {
        let Ok(mut map) = self.sockets.lock() else {
            return 0;
        };
        let n = map.entry(user.key().to_owned()).or_insert(0);
        *n += 1;
        *n
    }

    /// Counts a socket gone; returns the user's socket count after it, `None` if none was
    /// counted.
    fn remove(&self, user: &UserId) -> Option<usize> {
        let mut map = self.sockets.lock().ok()?;
        let n = map.get_mut(user.key())?;
        *n = n.saturating_sub(1);
        let left = *n;
        if left == 0 {
            map.remove(user.key());
        }
        Some(left)
    }

    /// Whether the user with this key has a socket on this node.
    pub(crate) fn is_connected(&self, key: &str) -> bool {
        self.sockets.lock().is_ok_and(|map| map.contains_key(key))
    }
}

/// The stored status of a user shown to others as offline.
const INVISIBLE: &str = "invisible";

/// A presence status a user may choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Available (the default).
    Online,
    /// Away from the keyboard.
    Away,
    /// Do not disturb.
    Busy,
    /// Connected, but shown to others as offline.
    Invisible,
}

impl Status {
    /// `online`, `away`, `busy`, `invisible` (or `offline`, the same), in any case.
    pub fn parse(name: &str) -> AppResult<Self> {
        match name.to_ascii_lowercase().as_str() {
            "online" => Ok(Self::Online),
            "away" => Ok(Self::Away),
            "busy" => Ok(Self::Busy),
            "invisible" | "offline" => Ok(Self::Invisible),
            _ => Err(AppError::validation(
                "status must be online, away, busy or offline (invisible)",
            )),
        }
    }

    /// The stored column: `None` for online.
    fn stored(self) -> Option<&'static str> {
        match self {
            Self::Online => None,
            Self::Away => Some("away"),
            Self::Busy => Some("busy"),
            Self::Invisible => Some(INVISIBLE),
        }
    }

    fn from_stored(stored: Option<&str>) -> Self {
        match stored {
            Some("away") => Self::Away,
            Some("busy") => Self::Busy,
            Some(INVISIBLE) => Self::Invisible,
            _ => Self::Online,
        }
    }

    /// The name a client chose it by.
    pub fn as_str(self) -> &'static str {
        self.stored().unwrap_or("online")
    }

    /// What others see of a connected user with this status.
    fn shown(self) -> &'static str {
        match self {
            Self::Invisible => "offline",
            other => other.as_str(),
        }
    }
}

/// The members of a conversation others see online now, with their status: connected to this
/// node, taking part in it (see `participants.accepted_at`), and not invisible.
pub(crate) async fn shown_online<C: ConnectionTrait>(
    conn: &C,
    presence: &Presence,
    conversation_id: i64,
) -> Result<Vec<(UserId, Status)>, DbErr> {
    let to_user: RelationDef = participant::Entity::belongs_to(user::Entity)
        .from(participant::Column::UserId)
        .to(user::Column::Id)
        .into();
    let rows: Vec<(String, bool, Option<String>)> = participant::Entity::find()
        .select_only()
        .column(participant::Column::UserId)
        .column(user::Column::IdIsNumber)
        .column(user::Column::PresenceStatus)
        .join(JoinType::InnerJoin, to_user)
        .filter(participant::Column::ConversationId.eq(conversation_id))
        .filter(participant::Column::LeftAt.is_null())
        .filter(participant::Column::AcceptedAt.is_not_null())
        .filter(
            Condition::any()
                .add(user::Column::PresenceStatus.is_null())
                .add(user::Column::PresenceStatus.ne(INVISIBLE)),
        )
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|(key, _, _)| presence.is_connected(key))
        .map(|(key, numeric, stored)| {
            (
                UserId::from_stored(key, numeric),
                Status::from_stored(stored.as_deref()),
            )
        })
        .collect())
}

impl Chat {
    /// Counts a socket of `user` on this node; `true` when it is their first.
    pub fn presence_join(&self, user: &UserId) -> bool {
        self.presence.add(user) == 1
    }

    /// Counts a socket of `user` gone; `true` when it was their last.
    pub fn presence_leave(&self, user: &UserId) -> bool {
        self.presence.remove(user) == Some(0)
    }

    /// Tells `user`'s partners they are online (in the status they chose), unless they chose
    /// to be invisible.
    pub async fn announce_online(&self, user: &UserId) -> AppResult<()> {
        let status = self.chosen_status(user).await?;
        if status == Status::Invisible {
            return Ok(());
        }
        self.tell_presence(user, status.shown(), None, true).await
    }

    /// Stores `user`'s last-seen time and tells their partners they are offline (unless they
    /// were invisible: then they saw nothing change).
    pub async fn announce_offline(&self, user: &UserId) -> AppResult<()> {
        let now = crate::time::now();
        user::Entity::update_many()
            .col_expr(user::Column::LastSeenAt, Expr::value(now))
            .filter(user::Column::Id.eq(user.key()))
            .exec(&self.db)
            .await?;
        if self.chosen_status(user).await? == Status::Invisible {
            return Ok(());
        }
        self.tell_presence(user, "offline", Some(now), true).await
    }

    /// Sets the status `user` shows while connected; kept until they choose another. Partners
    /// hear what changes for them (nothing while the user has no socket). Draws on the user's
    /// allowance, since partners hear it.
    pub async fn set_status(&self, user: &UserId, status: Status) -> AppResult<Status> {
        self.charge(user)?;
        let before = self.chosen_status(user).await?;
        user::Entity::update_many()
            .col_expr(user::Column::PresenceStatus, Expr::value(status.stored()))
            .filter(user::Column::Id.eq(user.key()))
            .exec(&self.db)
            .await?;
        if before.shown() != status.shown() && self.presence.is_connected(user.key()) {
            let came_or_went = (before == Status::Invisible) != (status == Status::Invisible);
            let last_seen = (status == Status::Invisible).then(crate::time::now);
            self.tell_presence(user, status.shown(), last_seen, came_or_went)
                .await?;
        }
        Ok(status)
    }

    /// The members of a conversation others see online now (connected to this node, not
    /// invisible, and taking part in it), for a member of it.
    pub async fn online_in(
        &self,
        user: &UserId,
        conversation_id: i64,
    ) -> AppResult<Vec<PresenceView>> {
        self.require_participant(user, conversation_id).await?;
        // Nobody is shown to someone they block or who blocks them.
        let blocks = crate::service::blocks::blocks_of(&self.db, user).await?;
        let mut online: Vec<PresenceView> = shown_online(&self.db, &self.presence, conversation_id)
            .await?
            .into_iter()
            .filter(|(other, _)| !blocks.contains(other.key()))
            .map(|(user, status)| PresenceView {
                user,
                status: status.shown(),
                last_seen: None,
            })
            .collect();
        online.sort_by(|a, b| a.user.key().cmp(b.user.key()));
        Ok(online)
    }

    async fn chosen_status(&self, user: &UserId) -> AppResult<Status> {
        let stored: Option<Option<String>> = user::Entity::find_by_id(user.key())
            .select_only()
            .column(user::Column::PresenceStatus)
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(Status::from_stored(stored.flatten().as_deref()))
    }

    async fn tell_presence(
        &self,
        user: &UserId,
        shown: &'static str,
        last_seen: Option<chrono::DateTime<chrono::Utc>>,
        came_or_went: bool,
    ) -> AppResult<()> {
        let partners = self.partners_of(user).await?;
        let view = PresenceView {
            user: user.clone(),
            status: shown,
            last_seen,
        };
        self.publish(&ChatEvent::PresenceChanged {
            presence: &view,
            partners: &partners,
            came_or_went,
        });
        Ok(())
    }
}
