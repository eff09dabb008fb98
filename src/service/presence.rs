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
use crate::service::{Chat, ChatEvents};

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

    /// Counts a socket gone; returns the user's socket count after it.
    fn remove(&self, user: &UserId) -> usize {
        let Ok(mut map) = self.sockets.lock() else {
            return 0;
        };
        match map.get_mut(user.key()) {
            Some(n) if *n > 1 => {
                *n -= 1;
                *n
            }
            Some(_) => {
                map.remove(user.key());
                0
            }
            None => 0,
        }
    }

    /// Whether the user has a socket on this node.
    pub fn is_online(&self, user: &UserId) -> bool {
        self.sockets
            .lock()
            .map(|m| m.contains_key(user.key()))
            .unwrap_or(false)
    }
}

impl Chat {
    /// A socket of `user` connected; the first one tells their partners they are online.
    pub async fn socket_connected(&self, events: &impl ChatEvents, user: &UserId) -> AppResult<()> {
        if self.presence.add(user) != 1 {
            return Ok(());
        }
        let partners = self.partners_of(user).await?;
        let view = PresenceView {
            user: user.clone(),
            online: true,
            last_seen: None,
        };
        events.presence_changed(&view, &partners).await;
        Ok(())
    }

    /// A socket of `user` disconnected; the last one stores the last-seen time and tells their
    /// partners they are offline.
    pub async fn socket_disconnected(
        &self,
        events: &impl ChatEvents,
        user: &UserId,
    ) -> AppResult<()> {
        if self.presence.remove(user) != 0 {
            return Ok(());
        }
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
        events.presence_changed(&view, &partners).await;
        Ok(())
    }
}
