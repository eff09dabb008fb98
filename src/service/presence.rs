//! Presence: how many sockets each user has on this node, and the last-seen time when the last
//! one goes.

use std::collections::HashMap;
use std::sync::Mutex;

use entity::user;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::error::AppResult;
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

    /// Tells `user`'s partners they are online.
    pub async fn announce_online(&self, user: &UserId) -> AppResult<()> {
        let partners = self.partners_of(user).await?;
        let view = PresenceView {
            user: user.clone(),
            online: true,
            last_seen: None,
        };
        self.publish(&ChatEvent::PresenceChanged {
            presence: &view,
            partners: &partners,
        });
        Ok(())
    }

    /// Stores `user`'s last-seen time and tells their partners they are offline.
    pub async fn announce_offline(&self, user: &UserId) -> AppResult<()> {
        let now = crate::time::now();
        user::Entity::update_many()
            .col_expr(user::Column::LastSeenAt, Expr::value(now))
            .filter(user::Column::Id.eq(user.key()))
            .exec(&self.db)
            .await?;
        let partners = self.partners_of(user).await?;
        let view = PresenceView {
            user: user.clone(),
            online: false,
            last_seen: Some(now),
        };
        self.publish(&ChatEvent::PresenceChanged {
            presence: &view,
            partners: &partners,
        });
        Ok(())
    }
}
