//! Typing indicators that expire on the server: a `typing` not renewed within the timeout, or
//! the typist's connection closing, ends the indicator, and the room is told it stopped.
//! Repeats are coalesced: a `typing` while the indicator is shown only renews it and tells
//! nobody (clients send one per keystroke); one that shows it draws on the user's allowance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::AppResult;
use crate::ids::UserId;
use crate::service::blocks::{blockers_of, refuse_if_blocked};
use crate::service::{Chat, ChatEvent, EventSink, Origin};

/// Who is typing where, and until when.
#[derive(Debug)]
pub(crate) struct Typing {
    timeout: Duration,
    active: Mutex<HashMap<(i64, String), Entry>>,
}

#[derive(Debug)]
struct Entry {
    user: UserId,
    origin: Origin,
    deadline: Instant,
}

impl Typing {
    /// A tracker whose indicators live `timeout` after the last `typing`.
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            active: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the user's indicator in the conversation is shown.
    fn is_shown(&self, conversation_id: i64, user: &UserId) -> bool {
        self.active
            .lock()
            .is_ok_and(|active| active.contains_key(&(conversation_id, user.key().to_owned())))
    }

    /// Records (or renews) an indicator; returns whether it is new, in which case the caller
    /// starts [`Typing::expire`].
    fn touch(&self, conversation_id: i64, user: &UserId, origin: Origin) -> bool {
        let Ok(mut active) = self.active.lock() else {
            return false;
        };
        let deadline = Instant::now() + self.timeout;
        let key = (conversation_id, user.key().to_owned());
        match active.get_mut(&key) {
            Some(entry) => {
                entry.deadline = deadline;
                entry.origin = origin;
                false
            }
            None => {
                active.insert(
                    key,
                    Entry {
                        user: user.clone(),
                        origin,
                        deadline,
                    },
                );
                true
            }
        }
    }

    /// Removes an indicator; returns whether there was one.
    fn clear(&self, conversation_id: i64, user: &UserId) -> Option<Entry> {
        self.active
            .lock()
            .ok()?
            .remove(&(conversation_id, user.key().to_owned()))
    }

    /// Waits until the indicator's deadline passes without a renewal, then ends it.
    async fn expire(
        self: Arc<Self>,
        events: Arc<dyn EventSink>,
        conversation_id: i64,
        user: UserId,
    ) {
        let key = (conversation_id, user.key().to_owned());
        loop {
            let deadline = {
                let Ok(active) = self.active.lock() else {
                    return;
                };
                match active.get(&key) {
                    Some(entry) => entry.deadline,
                    None => return,
                }
            };
            tokio::time::sleep_until(deadline).await;
            let expired = {
                let Ok(mut active) = self.active.lock() else {
                    return;
                };
                match active.get(&key) {
                    Some(entry) if entry.deadline <= Instant::now() => active.remove(&key),
                    Some(_) => continue,
                    None => return,
                }
            };
            if let Some(entry) = expired {
                stopped(&*events, conversation_id, &entry.user, Some(entry.origin));
            }
            return;
        }
    }

    /// Removes every indicator of the connection `origin`: their conversations and users.
    fn remove_origin(&self, origin: Origin) -> Vec<(i64, UserId)> {
        let Ok(mut active) = self.active.lock() else {
            return Vec::new();
        };
        let keys: Vec<(i64, String)> = active
            .iter()
            .filter(|(_, e)| e.origin == origin)
            .map(|(k, _)| k.clone())
            .collect();
        keys.into_iter()
            .filter_map(|k| active.remove(&k).map(|e| (k.0, e.user)))
            .collect()
    }
}

/// Tells the room that `user` stopped typing (all but `origin`, the typist's own connection).
fn stopped(events: &dyn EventSink, conversation_id: i64, user: &UserId, origin: Option<Origin>) {
    events.publish(&ChatEvent::Typing {
        conversation_id,
        user,
        origin,
        typing: false,
        hidden_from: &[],
    });
}

impl Chat {
    /// `user` started (`typing`) or stopped typing in the conversation, on the connection
    /// `origin`: members only. A start shows the indicator to the others (drawing on the user's
    /// allowance) or renews a shown one (free, told to nobody); a stop ends it and tells the
    /// others, or tells nobody when none was shown (so stops are bounded by the charged starts).
    /// Returns the conversation id.
    pub async fn set_typing(
        &self,
        user: &UserId,
        conversation_id: i64,
        origin: Origin,
        typing: bool,
    ) -> AppResult<i64> {
        let conv = self.member_conversation(user, conversation_id).await?.conv;
        let conversation_id = conv.id;
        if !typing {
            if self.typing.clear(conversation_id, user).is_some() {
                stopped(&*self.events, conversation_id, user, Some(origin));
            }
            return Ok(conversation_id);
        }
        // Who blocks the typist is read when the indicator is shown, not at every renewal.
        let mut hidden_from = Vec::new();
        if !self.typing.is_shown(conversation_id, user) {
            match conv.other(user) {
                Some(other) => refuse_if_blocked(&self.db, user.key(), other).await?,
                None => hidden_from = blockers_of(&self.db, user).await?,
            }
            self.charge(user)?;
        }
        if self.typing.touch(conversation_id, user, origin) {
            self.publish(&ChatEvent::Typing {
                conversation_id,
                user,
                origin: Some(origin),
                typing: true,
                hidden_from: &hidden_from,
            });
            tokio::spawn(self.typing.clone().expire(
                self.events.clone(),
                conversation_id,
                user.clone(),
            ));
        }
        Ok(conversation_id)
    }

    /// The connection `origin` closed: ends every indicator it showed, and tells each room.
    pub fn connection_gone(&self, origin: Origin) {
        for (conversation_id, user) in self.typing.remove_origin(origin) {
            stopped(&*self.events, conversation_id, &user, None);
        }
    }
}
