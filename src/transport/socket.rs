//! The Socket.IO door's machinery, for every protocol: the connect middleware (token, then the
//! protocol the socket speaks), each socket's event queue and the one acknowledgement envelope
//! its events are answered in ([`on`]), presence counting, token expiry, the cut-off of clients
//! that stop reading, and closing every socket at shutdown.
//!
//! Events of one socket are handled one after another, in the order the client sent them
//! (socketioxide would otherwise run each in its own task): a join followed by a send, or two
//! sends, take effect in that order.

use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use serde::Serialize;
use serde_json::Value as Json;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Event, MaybeExtension, SocketRef, TryData};
use socketioxide::handler::{FromMessageParts, MessageHandler, Value};
use socketioxide::socket::{Sid, Socket};

use crate::auth::Identity;
use crate::error::{AppError, AppResult};
use crate::service::Origin;
use crate::state::AppState;
use crate::transport::Spoken;
use crate::transport::broadcast::Broadcaster;
use crate::transport::connection::{CutOff, origin_of, undelivered, websocket_connection};

/// Client-facing event: a client event sent without an acknowledgement failed (every protocol's
/// clients listen for it).
pub const ERROR: &str = "error";

/// `error`, for a client event sent without an acknowledgement.
#[derive(Debug, Serialize)]
pub struct ErrorPayload<'a> {
    /// The client event that failed.
    pub event: &'a str,
    /// Error code.
    pub code: &'a str,
    /// What went wrong.
    pub message: &'a str,
}

/// Events a socket may have waiting before new ones are refused.
const QUEUE_DEPTH: usize = 64;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What every handler of one socket shares.
#[derive(Debug)]
pub struct SocketCtx {
    /// Service and settings.
    pub app: AppState,
    /// The connected user.
    pub identity: Identity,
    /// When the socket's token expires (a refresh moves it), in Unix seconds.
    expires_at: AtomicU64,
    /// Where the expiry is watched.
    expiries: Arc<Expiries>,
    /// The vocabulary this socket speaks.
    pub protocol: Spoken,
    /// The socket's connection, as the service knows it.
    pub origin: Origin,
    /// Delivers to other sockets.
    pub broadcaster: Broadcaster,
    /// Whether the server still takes events, and how many it has not answered yet.
    intake: Arc<Intake>,
    queue: Mutex<Queue>,
    presence: Mutex<Presence>,
}

/// A socket's events waiting to run. A task drains it while it has events and ends when it is
/// empty, so an idle socket costs no task and no buffer.
#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    draining: bool,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("waiting", &self.jobs.len())
            .field("draining", &self.draining)
            .finish()
    }
}

impl SocketCtx {
    /// When the socket's current token expires, in Unix seconds.
    fn expires_at(&self) -> u64 {
        self.expires_at.load(Ordering::SeqCst)
    }

    /// Queues an event to run after those before it; `false` when too many are waiting.
    fn enqueue(self: &Arc<Self>, job: Job) -> bool {
        let Ok(mut queue) = self.queue.lock() else {
            return false;
        };
        if queue.jobs.len() >= QUEUE_DEPTH {
            return false;
        }
        queue.jobs.push_back(job);
        if !queue.draining {
            queue.draining = true;
            tokio::spawn(self.clone().drain());
        }
        true
    }

    /// Runs the queued events one after another until none is left.
    async fn drain(self: Arc<Self>) {
        loop {
            let next = match self.queue.lock() {
                Ok(mut queue) => {
                    let next = queue.jobs.pop_front();
                    queue.draining = next.is_some();
                    next
                }
                Err(_) => None,
            };
            let Some(job) = next else { return };
            // A handler that panics loses its own event, not the socket's queue.
            if AssertUnwindSafe(job).catch_unwind().await.is_err() {
                tracing::error!(user = %self.identity.user, "an event handler panicked");
            }
        }
    }
}

/// The server's intake of client events: how many were taken and not answered yet, over every
/// socket, and whether new ones are still taken. At shutdown it closes first, and the sockets
/// are closed only once every event taken before has been answered (or the grace period ran
/// out), so a send in flight either commits and gets its acknowledgement, or is refused before
/// it is done.
#[derive(Debug, Default)]
pub struct Intake {
    closed: AtomicBool,
    pending: AtomicUsize,
    idle: tokio::sync::Notify,
}

impl Intake {
    /// Takes an event, unless the intake is closed. The event counts as pending until the
    /// returned ticket is dropped.
    fn admit(self: &Arc<Self>) -> Option<Ticket> {
        // Counted before the check: `drained` cannot miss an event admitted as it closes.
        self.pending.fetch_add(1, Ordering::SeqCst);
        let ticket = Ticket(self.clone());
        (!self.closed.load(Ordering::SeqCst)).then_some(ticket)
    }

    /// Whether new events and connections are refused.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Stops taking events (and connections); those taken before still run.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// Completes when every event taken has been answered.
    pub async fn drained(&self) {
        loop {
            let idle = self.idle.notified();
            if self.pending.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}

/// One pending event of an [`Intake`]; dropped when the event has been answered.
struct Ticket(Arc<Intake>);

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.0.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// When each socket's token expires. One task for the whole server disconnects the sockets
/// whose time has come, once a second, rather than a timer per socket.
#[derive(Debug, Default)]
pub struct Expiries {
    due: Mutex<BTreeSet<(u64, Sid)>>,
}

impl Expiries {
    fn watch(&self, at: u64, sid: Sid) {
        if let Ok(mut due) = self.due.lock() {
            due.insert((at, sid));
        }
    }

    fn forget(&self, at: u64, sid: Sid) {
        if let Ok(mut due) = self.due.lock() {
            due.remove(&(at, sid));
        }
    }

    /// Disconnects sockets as their tokens expire, until the server closes.
    async fn run(self: Arc<Self>, broadcaster: Broadcaster) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if !broadcaster.is_open() {
                return;
            }
            let now = chrono::Utc::now().timestamp().max(0).unsigned_abs();
            let expired: Vec<Sid> = match self.due.lock() {
                Ok(mut due) => {
                    let later = due.split_off(&(now.saturating_add(1), Sid::ZERO));
                    std::mem::replace(&mut *due, later)
                        .into_iter()
                        .map(|(_, sid)| sid)
                        .collect()
                }
                Err(_) => return,
            };
            for sid in expired {
                tracing::debug!(%sid, "token expired: disconnecting");
                broadcaster.disconnect(sid);
            }
        }
    }
}

/// Where a socket stands in the user's presence count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    /// Prepared, not yet in the namespace.
    New,
    /// Counted as one of the user's sockets.
    Counted,
    /// Disconnected.
    Gone,
}

/// What the connect handlers need, besides the socket.
#[derive(Clone, Debug)]
struct Door {
    app: AppState,
    broadcaster: Broadcaster,
    protocols: Arc<[Spoken]>,
    expiries: Arc<Expiries>,
    intake: Arc<Intake>,
}

/// Registers parley's namespace on `io`, speaking `protocols` (the first is the default). On a
/// connection, [`authenticate`] runs first, then [`prepare`]; both run before the client is
/// told it is connected, so every handler is in place before its first event can arrive. Then
/// the socket is counted for presence. Starts the task that disconnects sockets whose token
/// expired.
pub fn register(
    io: &SocketIo,
    app: AppState,
    broadcaster: Broadcaster,
    protocols: &[Spoken],
    expiries: Arc<Expiries>,
    intake: Arc<Intake>,
) {
    use socketioxide::handler::ConnectHandler;
    let door = Door {
        app,
        broadcaster: broadcaster.clone(),
        protocols: protocols.into(),
        expiries: expiries.clone(),
        intake,
    };
    let (authenticating, preparing) = (door.clone(), door);
    io.ns(
        "/",
        on_connect
            .with(move |socket: SocketRef| {
                let door = preparing.clone();
                async move { prepare(&socket, &door).await }
            })
            .with(move |socket: SocketRef, TryData(auth): TryData<Json>| {
                let door = authenticating.clone();
                async move { authenticate(&socket, &door, auth.ok()).await }
            }),
    );
    tokio::spawn(expiries.run(broadcaster));
}

/// Why a connection was refused; its text is the client's `connect_error` message.
#[derive(Debug)]
pub struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Finds the handshake's token ([`crate::auth::handshake_token`]), verifies it, records the
/// user, and keeps the identity and the protocol the socket speaks in its extensions. A socket
/// of a protocol with an `authenticate` event may come without a token: it is kept with its
/// protocol only, and [`prepare`] makes it wait for that event.
async fn authenticate(socket: &SocketRef, door: &Door, auth: Option<Json>) -> Result<(), Refused> {
    if door.intake.is_closed() {
        return Err(Refused(
            "the server is shutting down: connect again".to_owned(),
        ));
    }
    let protocol = chosen_protocol(&door.protocols, socket, auth.as_ref())?;
    let Some(token) = crate::auth::handshake_token(auth.as_ref(), socket.req_parts()) else {
        if protocol.authenticate_event().is_some() {
            socket.extensions.insert(protocol);
            return Ok(());
        }
        return Err(Refused("missing token: pass auth.token".to_owned()));
    };
    let identity = verified(door, &token)
        .await
        .map_err(|e| Refused(e.to_string()))?;
    socket.extensions.insert(identity);
    socket.extensions.insert(protocol);
    Ok(())
}

/// The identity `token` proves, recorded.
async fn verified(door: &Door, token: &str) -> AppResult<Identity> {
    let identity = door.app.verifier.verify(token)?;
    door.app.chat.remember_identity(&identity).await?;
    Ok(identity)
}

/// The protocol a connecting socket speaks: the one its handshake names (`auth.protocol`, else
/// `?protocol=`), which must be enabled, else the first enabled.
fn chosen_protocol(
    enabled: &[Spoken],
    socket: &SocketRef,
    auth: Option<&Json>,
) -> Result<Spoken, Refused> {
    let named = auth
        .and_then(|a| a.get("protocol"))
        .and_then(Json::as_str)
        .map(str::to_owned)
        .or_else(|| {
            socket.req_parts().uri.query().and_then(|q| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("protocol="))
                    .map(str::to_owned)
            })
        });
    match named {
        None => enabled
            .first()
            .cloned()
            .ok_or_else(|| Refused("this server speaks no protocol".to_owned())),
        Some(name) => enabled
            .iter()
            .find(|p| p.name() == name)
            .cloned()
            .ok_or_else(|| Refused(format!("this server does not speak protocol {name:?}"))),
    }
}

/// Builds the socket's context, and lets its protocol join its rooms and register every event
/// handler; a socket that came without a token waits for its `authenticate` event instead.
async fn prepare(socket: &SocketRef, door: &Door) -> Result<(), Refused> {
    let Some(protocol) = socket.extensions.get::<Spoken>() else {
        return Err(Refused("the connection was not authenticated".to_owned()));
    };
    match socket.extensions.get::<Identity>() {
        Some(identity) => attach(socket, door, identity, protocol)
            .await
            .map(drop)
            .map_err(|e| Refused(e.to_string())),
        None => match protocol.authenticate_event() {
            Some(event) => {
                await_token(socket, door, protocol.clone(), event);
                Ok(())
            }
            None => Err(Refused("missing token: pass auth.token".to_owned())),
        },
    }
}

/// Makes `socket` the socket of `identity`, speaking `protocol`: builds its context, lets the
/// protocol join its rooms and register its handlers (and the transport its token refresh),
/// and watches its token's expiry.
async fn attach(
    socket: &SocketRef,
    door: &Door,
    identity: Identity,
    protocol: Spoken,
) -> AppResult<Arc<SocketCtx>> {
    door.expiries.watch(identity.expires_at, socket.id);
    let ctx = Arc::new(SocketCtx {
        app: door.app.clone(),
        expires_at: AtomicU64::new(identity.expires_at),
        identity,
        protocol: protocol.clone(),
        origin: origin_of(socket.id),
        broadcaster: door.broadcaster.clone(),
        expiries: door.expiries.clone(),
        intake: door.intake.clone(),
        queue: Mutex::default(),
        presence: Mutex::new(Presence::New),
    });
    if let Err(e) = protocol.connect(socket, &ctx).await {
        door.expiries.forget(ctx.expires_at(), socket.id);
        return Err(e);
    }
    if let Some(event) = protocol.authenticate_event() {
        on(socket, &ctx, event, refresh);
    }

    let on_leave = ctx.clone();
    socket.on_disconnect(async move |socket: SocketRef| {
        let ctx = on_leave;
        ctx.expiries.forget(ctx.expires_at(), socket.id);
        ctx.app.chat.connection_gone(ctx.origin);
        let last = match ctx.presence.lock() {
            Ok(mut state) => {
                let was = std::mem::replace(&mut *state, Presence::Gone);
                was == Presence::Counted && ctx.app.chat.presence_leave(&ctx.identity.user)
            }
            Err(_) => false,
        };
        if last && let Err(e) = ctx.app.chat.announce_offline(&ctx.identity.user).await {
            tracing::warn!(error = %e, "presence update on disconnect failed");
        }
    });
    socket.extensions.insert(ctx.clone());
    socket.extensions.insert(CutOff::default());
    Ok(ctx)
}

/// Lets a socket that has its context go live once it is in the namespace (a socket still
/// waiting for its token goes live when it authenticates).
async fn on_connect(socket: SocketRef, MaybeExtension(ctx): MaybeExtension<Arc<SocketCtx>>) {
    if let Some(ctx) = ctx {
        go_live(&socket, &ctx).await;
    }
}

/// Lets the socket's protocol catch up, then counts the socket for presence, now that it is in
/// the namespace (a socket whose transport closed while it was being prepared never gets here,
/// nor to its disconnect handler).
async fn go_live(socket: &SocketRef, ctx: &Arc<SocketCtx>) {
    if let Err(e) = ctx.protocol.connected(socket, ctx).await {
        tracing::warn!(error = %e, "a socket could not catch up on connect; disconnecting it");
        if let Err(e) = socket.clone().disconnect() {
            tracing::debug!(error = %e, "disconnect failed");
        }
        return;
    }
    let first = match ctx.presence.lock() {
        Ok(mut state) if *state == Presence::New => {
            *state = Presence::Counted;
            ctx.app.chat.presence_join(&ctx.identity.user)
        }
        _ => false,
    };
    if first && let Err(e) = ctx.app.chat.announce_online(&ctx.identity.user).await {
        tracing::warn!(error = %e, "presence update on connect failed");
    }
}

/// `authenticate` on an authenticated socket: a fresh token for the same user moves the
/// socket's expiry; a token for anyone else is refused (that is a new connection).
async fn refresh(
    ctx: Arc<SocketCtx>,
    socket: SocketRef,
    payload: Payload,
) -> AppResult<Authenticated> {
    let TokenPayload { token } = parse(payload)?;
    let identity = ctx.app.verifier.verify(&token)?;
    if identity.user.key() != ctx.identity.user.key() {
        return Err(AppError::Forbidden(
            "the token names another user: connect again with it".to_owned(),
        ));
    }
    ctx.app.chat.remember_identity(&identity).await?;
    let before = ctx.expires_at.swap(identity.expires_at, Ordering::SeqCst);
    ctx.expiries.forget(before, socket.id);
    ctx.expiries.watch(identity.expires_at, socket.id);
    Ok(Authenticated::of(&identity))
}

/// What `authenticate` answers: `{ userId }`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Authenticated {
    user_id: String,
}

impl Authenticated {
    fn of(identity: &Identity) -> Self {
        Self {
            user_id: identity.user.key().to_owned(),
        }
    }
}

/// `{ token }`.
#[derive(Debug, serde::Deserialize)]
struct TokenPayload {
    token: String,
}

/// A socket that connected without a token, until it sends one.
#[derive(Debug)]
struct Waiting {
    door: Door,
    protocol: Spoken,
    /// Set while a token is being checked, and for good once one was accepted.
    claimed: AtomicBool,
    /// Set once the socket is authenticated.
    done: AtomicBool,
}

/// Makes a socket that came without a token wait for `event` (`{ token }`): every other event
/// is answered `UNAUTHORIZED`, and the socket is disconnected if no token is accepted within
/// `SOCKET_AUTH_TIMEOUT_MS`.
fn await_token(socket: &SocketRef, door: &Door, protocol: Spoken, event: &'static str) {
    let waiting = Arc::new(Waiting {
        door: door.clone(),
        protocol,
        claimed: AtomicBool::new(false),
        done: AtomicBool::new(false),
    });
    socket.on(
        event,
        Login {
            event,
            waiting: waiting.clone(),
        },
    );
    socket.on_fallback(Unauthenticated);
    let (sid, broadcaster) = (socket.id, door.broadcaster.clone());
    let timeout = door.app.config.socket_auth_timeout();
    tokio::spawn(async move {
        tokio::time::sleep(timeout).await;
        // A token being checked at the deadline gets its answer; a refused one ends the wait.
        while waiting.claimed.load(Ordering::SeqCst) && !waiting.done.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if !waiting.done.load(Ordering::SeqCst) {
            tracing::debug!(%sid, "no token within {timeout:?}: disconnecting");
            broadcaster.disconnect(sid);
        }
    });
}

/// The `authenticate` handler of a socket waiting for its token.
struct Login {
    event: &'static str,
    waiting: Arc<Waiting>,
}

impl MessageHandler<socketioxide::adapter::LocalAdapter, ()> for Login {
    fn call(&self, s: Arc<Socket>, mut v: Value, ack_id: Option<i64>) {
        let (payload, reply) = incoming(self.event, &s, &mut v, ack_id);
        let waiting = self.waiting.clone();
        let socket = SocketRef::from(s);
        tokio::spawn(async move {
            let Some(ticket) = waiting.door.intake.admit() else {
                reply.send::<()>(Err(AppError::Unavailable(
                    "the server is shutting down".to_owned(),
                )));
                return;
            };
            reply.send(login(&waiting, &socket, payload).await);
            drop(ticket);
        });
    }
}

/// Authenticates a waiting socket with the token in `payload`; once accepted, the socket is
/// its user's like one that brought its token to the handshake.
async fn login(
    waiting: &Waiting,
    socket: &SocketRef,
    payload: Payload,
) -> AppResult<Authenticated> {
    let TokenPayload { token } = parse(payload)?;
    if waiting.claimed.swap(true, Ordering::SeqCst) {
        return Err(AppError::Conflict(
            "this socket is already authenticating".to_owned(),
        ));
    }
    let attached = async {
        let identity = verified(&waiting.door, &token).await?;
        let answer = Authenticated::of(&identity);
        let ctx = attach(socket, &waiting.door, identity, waiting.protocol.clone()).await?;
        waiting.done.store(true, Ordering::SeqCst);
        // A socket that went while it was being attached missed its disconnect handler: it is
        // not counted, and its expiry is not watched.
        if !socket.connected() {
            waiting.door.expiries.forget(ctx.expires_at(), socket.id);
            return Err(AppError::Unavailable("the socket disconnected".to_owned()));
        }
        go_live(socket, &ctx).await;
        Ok(answer)
    }
    .await;
    if attached.is_err() {
        waiting.claimed.store(false, Ordering::SeqCst);
    }
    attached
}

/// Every event of a socket that has not authenticated is answered `UNAUTHORIZED`; on an
/// authenticated socket, an event no handler knows is ignored.
struct Unauthenticated;

impl MessageHandler<socketioxide::adapter::LocalAdapter, ()> for Unauthenticated {
    fn call(&self, s: Arc<Socket>, mut v: Value, ack_id: Option<i64>) {
        if s.extensions.get::<Arc<SocketCtx>>().is_some() {
            return;
        }
        let event = Event::from_message_parts(&s, &mut v, &ack_id)
            .map(|Event(name)| name.chars().take(64).collect::<String>())
            .unwrap_or_default();
        Reply::new(event.into(), &s, &mut v, ack_id).send::<()>(Err(AppError::Unauthorized(
            "authenticate first: emit authenticate with { token }".to_owned(),
        )));
    }
}

/// Puts `socket` into `room`, the room of conversation `conversation_id` in its protocol, if
/// its user is a member. Entering a room the socket was not in is announced to the others (which
/// draws on the user's allowance); being there already answers the same and tells nobody. The
/// membership is checked again once the socket is in the room, so a removal that commits
/// meanwhile (and takes the member's sockets out of the room when it is told) is never missed.
pub async fn enter_room(
    ctx: &SocketCtx,
    socket: &SocketRef,
    room: String,
    conversation_id: i64,
) -> AppResult<entity::conversation::Model> {
    let user = &ctx.identity.user;
    let conv = ctx
        .app
        .chat
        .require_participant(user, conversation_id)
        .await?;
    if socket.rooms().iter().any(|r| *r == room) {
        return Ok(conv);
    }
    ctx.app.chat.announce_entered(user, conv.id, ctx.origin)?;
    socket.join(room.clone());
    if let Err(e) = ctx.app.chat.require_participant(user, conv.id).await {
        socket.leave(room);
        return Err(e);
    }
    Ok(conv)
}

/// Takes `socket` out of `room`, the room of conversation `conversation_id` in its protocol,
/// and tells the others; a socket not in the room leaves nothing and tells nobody.
pub fn leave_room(ctx: &SocketCtx, socket: &SocketRef, room: String, conversation_id: i64) {
    if socket.rooms().iter().any(|r| *r == room) {
        socket.leave(room);
        ctx.app
            .chat
            .announce_left(&ctx.identity.user, conversation_id, ctx.origin);
    }
}

/// The payload of a client event: the first argument, or why it could not be read.
pub type Payload = Result<serde_json::Value, String>;

/// Registers `handler` for `event` on this socket, behind the socket's event queue: its result
/// is the event's answer.
pub fn on<H, Fut, T>(socket: &SocketRef, ctx: &Arc<SocketCtx>, event: &'static str, handler: H)
where
    H: Fn(Arc<SocketCtx>, SocketRef, Payload) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = AppResult<T>> + Send + 'static,
    T: Serialize + Send + 'static,
{
    socket.on(
        event,
        Queued {
            event,
            ctx: ctx.clone(),
            handler,
        },
    );
}

/// A handler whose calls go through the socket's queue, and whose result is answered as an
/// acknowledgement (or an `error` event when the client asked for none).
struct Queued<H> {
    event: &'static str,
    ctx: Arc<SocketCtx>,
    handler: H,
}

impl<H, Fut, T> MessageHandler<socketioxide::adapter::LocalAdapter, ()> for Queued<H>
where
    H: Fn(Arc<SocketCtx>, SocketRef, Payload) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = AppResult<T>> + Send + 'static,
    T: Serialize + Send + 'static,
{
    fn call(&self, s: Arc<Socket>, mut v: Value, ack_id: Option<i64>) {
        let (payload, reply) = incoming(self.event, &s, &mut v, ack_id);
        let Some(ticket) = self.ctx.intake.admit() else {
            reply.send::<()>(Err(AppError::Unavailable(
                "the server is shutting down".to_owned(),
            )));
            return;
        };
        let work = (self.handler)(self.ctx.clone(), SocketRef::from(s.clone()), payload);
        let job: Job = Box::pin(async move {
            reply.send(work.await);
            drop(ticket);
        });
        if !self.ctx.enqueue(job) {
            Reply::new(self.event.into(), &s, &mut v, ack_id).send::<()>(Err(
                AppError::RateLimited(
                    "too many events waiting on this connection; slow down".to_owned(),
                ),
            ));
        }
    }
}

/// A client event's payload, and how to answer it.
fn incoming(
    event: &'static str,
    s: &Arc<Socket>,
    v: &mut Value,
    ack_id: Option<i64>,
) -> (Payload, Reply) {
    let Ok(TryData(data)) = TryData::<serde_json::Value>::from_message_parts(s, v, &ack_id);
    let payload = data.map_err(|e| e.to_string());
    (payload, Reply::new(event.into(), s, v, ack_id))
}

/// Answers one client event: an acknowledgement when the client asked for one, else (for
/// failures only) an `error` event.
struct Reply {
    event: std::borrow::Cow<'static, str>,
    socket: SocketRef,
    ack: AckSender,
    wants_ack: bool,
}

impl Reply {
    fn new(
        event: std::borrow::Cow<'static, str>,
        s: &Arc<Socket>,
        v: &mut Value,
        ack_id: Option<i64>,
    ) -> Self {
        let Ok(ack) = AckSender::from_message_parts(s, v, &ack_id);
        Self {
            event,
            socket: SocketRef::from(s.clone()),
            ack,
            wants_ack: ack_id.is_some(),
        }
    }

    fn send<T: Serialize>(self, result: AppResult<T>) {
        let sent = match (&result, self.wants_ack) {
            (Ok(data), true) => self.ack.send(&Ack {
                success: true,
                data,
            }),
            (Ok(_), false) => Ok(()),
            (Err(e), true) => self.ack.send(&e.to_ack()),
            (Err(e), false) => {
                let body = e.body();
                self.socket.emit(
                    ERROR,
                    &ErrorPayload {
                        event: &self.event,
                        code: body.code,
                        message: &body.message,
                    },
                )
            }
        };
        if let Err(e) = sent {
            undelivered(&self.socket, &self.event, &e);
        }
    }
}

/// How long long-polling clients get, at shutdown, to collect the answers still buffered for
/// them before their sessions close (a poll is answered at once when there is data; the client
/// sends the next within a round trip).
const POLLING_SETTLE: Duration = Duration::from_secs(1);
/// How long closing the sockets may take at shutdown before the connections of those that do
/// not close (a WebSocket whose client stopped reading) are closed under them.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Closes every socket, by `deadline` at the latest. Long-polling clients first get
/// [`POLLING_SETTLE`] to collect what is buffered for them (the answers of their last events);
/// sockets that have not closed after [`CLOSE_GRACE`] have their connections closed, so one
/// client that stopped reading cannot hold the shutdown.
pub async fn close_all(io: &SocketIo, deadline: tokio::time::Instant) {
    use tokio::time::{Instant, sleep_until, timeout_at};
    let sockets = io.of("/").map(|ns| ns.sockets()).unwrap_or_default();
    if sockets
        .iter()
        .any(|s| s.transport_type() == socketioxide::TransportType::Polling)
    {
        sleep_until(deadline.min(Instant::now() + POLLING_SETTLE)).await;
    }
    let closers: Vec<_> = sockets.iter().filter_map(websocket_connection).collect();
    drop(sockets);
    let closing = io.close();
    tokio::pin!(closing);
    if timeout_at(deadline.min(Instant::now() + CLOSE_GRACE), &mut closing)
        .await
        .is_ok()
    {
        return;
    }
    tracing::warn!(
        "sockets still open {CLOSE_GRACE:?} into closing: closing their connections ({} WebSockets)",
        closers.len()
    );
    for closer in &closers {
        closer.close();
    }
    if timeout_at(deadline, closing).await.is_err() {
        tracing::warn!("sockets did not close before the shutdown deadline");
    }
}

/// A successful acknowledgement.
#[derive(Serialize)]
struct Ack<'a, T> {
    success: bool,
    data: &'a T,
}

/// Reads a client payload into `T`: it must be a JSON object of the right shape.
pub fn parse<T: serde::de::DeserializeOwned>(payload: Payload) -> AppResult<T> {
    let value = payload.map_err(|_| AppError::validation("payload must be a JSON object"))?;
    let kind = match &value {
        serde_json::Value::Object(_) => None,
        serde_json::Value::Null => Some("nothing"),
        serde_json::Value::String(_) => Some("a string"),
        serde_json::Value::Number(_) => Some("a number"),
        serde_json::Value::Bool(_) => Some("a boolean"),
        serde_json::Value::Array(_) => Some("an array"),
    };
    if let Some(kind) = kind {
        return Err(AppError::validation(format!(
            "payload must be a JSON object, got {kind}"
        )));
    }
    serde_json::from_value(value).map_err(|e| AppError::validation(format!("invalid payload: {e}")))
}

/// Copies a request's URI and headers into allocations of their own.
///
/// hyper parses a request head in place: its URI and header values are slices of the
/// connection's read buffer (8 to 16 KiB). The Socket.IO layer keeps each connection's request
/// head for the connection's whole life, and with it that whole buffer; copied, the head costs a
/// few hundred bytes and the buffer is freed once the WebSocket takes over the connection.
pub fn detach_request_head<B>(mut req: axum::http::Request<B>) -> axum::http::Request<B> {
    use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};
    let shared = std::mem::take(req.headers_mut());
    let mut headers = HeaderMap::with_capacity(shared.len());
    for (name, value) in &shared {
        // Both constructors copy; a name or value that was valid stays valid.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    *req.headers_mut() = headers;
    if let Ok(uri) = Uri::try_from(req.uri().to_string()) {
        *req.uri_mut() = uri;
    }
    req
}
