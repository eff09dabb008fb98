//! Typing indicators that expire on the server: a `typing` without a `stop_typing` within the
//! configured timeout, or the typist's disconnect, produces `user_stopped_typing`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use tokio::time::Instant;

use crate::error::AppResult;
use crate::ids::UserId;
use crate::socket::conversations::{ConversationAck, member_id};
use crate::socket::emit::{self, Emitter, TypingPayload};
use crate::socket::{Payload, SocketCtx};

/// Who is typing where, and until when.
#[derive(Debug)]
pub struct Typing {
    timeout: Duration,
    active: Mutex<HashMap<(i64, String), Entry>>,
}

#[derive(Debug)]
struct Entry {
    user: UserId,
    socket: Sid,
    deadline: Instant,
}

impl Typing {
    /// A tracker whose indicators live `timeout` after the last `typing`.
    pub fn new(timeout: Duration) -> Self {
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

    /// Records (or extends) an indicator; returns whether it is new, in which case the caller
    /// starts [`Typing::expire`].
    fn touch(&self, conversation_id: i64, user: &UserId, socket: Sid) -> bool {
        let Ok(mut active) = self.active.lock() else {
            return false;
        };
        let deadline = Instant::now() + self.timeout;
        let key = (conversation_id, user.key().to_owned());
        match active.get_mut(&key) {
            Some(entry) => {
                entry.deadline = deadline;
                entry.socket = socket;
                false
            }
            None => {
                active.insert(
                    key,
                    Entry {
                        user: user.clone(),
                        socket,
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

    /// Waits until the indicator's deadline passes without a new `typing`, then ends it.
    async fn expire(self: Arc<Self>, emitter: Emitter, conversation_id: i64, user: UserId) {
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
                stopped(&emitter, conversation_id, &entry.user, Some(entry.socket)).await;
            }
            return;
        }
    }

    /// Ends every indicator of a socket that disconnected.
    pub async fn socket_gone(&self, emitter: &Emitter, socket: Sid) {
        let gone: Vec<(i64, Entry)> = {
            let Ok(mut active) = self.active.lock() else {
                return;
            };
            let keys: Vec<(i64, String)> = active
                .iter()
                .filter(|(_, e)| e.socket == socket)
                .map(|(k, _)| k.clone())
                .collect();
            keys.into_iter()
                .filter_map(|k| active.remove(&k).map(|e| (k.0, e)))
                .collect()
        };
        for (conversation_id, entry) in gone {
            stopped(emitter, conversation_id, &entry.user, None).await;
        }
    }
}

async fn stopped(emitter: &Emitter, conversation_id: i64, user: &UserId, except: Option<Sid>) {
    let payload = TypingPayload {
        user_id: user,
        conversation_id,
    };
    let room = emit::conversation_room(conversation_id);
    emitter
        .to_room_except(room, except, emit::USER_STOPPED_TYPING, &payload)
        .await;
}

/// `typing`: participants only; tells the others in the room and (re)starts the expiry. A
/// `typing` while the indicator is already shown only restarts its expiry and tells nobody
/// (clients send one per keystroke); one that shows it draws on the user's allowance.
pub async fn start(
    ctx: Arc<SocketCtx>,
    socket: SocketRef,
    payload: Payload,
) -> AppResult<ConversationAck> {
    let conversation_id = member_id(&ctx, payload).await?;
    let user = &ctx.identity.user;
    if !ctx.typing.is_shown(conversation_id, user) {
        ctx.app.chat.charge(user)?;
    }
    if ctx.typing.touch(conversation_id, user, socket.id) {
        let payload = TypingPayload {
            user_id: user,
            conversation_id,
        };
        let room = emit::conversation_room(conversation_id);
        emit::to_others(&socket, room, emit::USER_TYPING, &payload).await;
        tokio::spawn(
            ctx.typing
                .clone()
                .expire(ctx.emitter.clone(), conversation_id, user.clone()),
        );
    }
    Ok(ConversationAck::new(conversation_id))
}

/// `stop_typing`: ends the indicator and tells the others in the room; tells nobody when no
/// indicator was shown (so stops are bounded by the `typing` events that were charged).
pub async fn stop(
    ctx: Arc<SocketCtx>,
    socket: SocketRef,
    payload: Payload,
) -> AppResult<ConversationAck> {
    let conversation_id = member_id(&ctx, payload).await?;
    let user = &ctx.identity.user;
    if ctx.typing.clear(conversation_id, user).is_some() {
        stopped(&ctx.emitter, conversation_id, user, Some(socket.id)).await;
    }
    Ok(ConversationAck::new(conversation_id))
}
