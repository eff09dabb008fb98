//! Socket.IO adapters: the connect handler registers every client event; each event's handler
//! parses its payload, calls the service, and answers through one acknowledgement envelope.
//!
//! Events of one socket are handled one after another, in the order the client sent them
//! (socketioxide would otherwise run each in its own task): a `join_conversation` followed by a
//! `send_message`, or two sends, take effect in that order.

pub mod conversations;
pub mod emit;
pub mod messages;
pub mod typing;

use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use serde::Serialize;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};
use socketioxide::handler::{FromMessageParts, MessageHandler, Value};
use socketioxide::socket::{Sid, Socket};
use socketioxide::{SendError, SocketError, SocketIo};

use crate::auth::Identity;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use emit::Emitter;
use typing::Typing;

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
    /// Broadcasts.
    pub emitter: Emitter,
    /// Typing indicators.
    pub typing: Arc<Typing>,
    /// Whether the server still takes events, and how many it has not answered yet.
    intake: Arc<Intake>,
    /// Set once the connection was cut off for not reading its events.
    cut: AtomicBool,
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
    async fn run(self: Arc<Self>, emitter: Emitter) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if !emitter.is_open() {
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
                emitter.disconnect(sid);
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

/// Registers parley's namespace on `io`. On a connection, [`authenticate`] runs first, then
/// [`prepare`]; both run before the client is told it is connected, so every handler is in place
/// before its first event can arrive. Then `on_connect` counts the socket for presence. Starts
/// the task that disconnects sockets whose token expired.
///
/// [`authenticate`]: crate::auth::socket::authenticate
pub fn register(io: &SocketIo, expiries: Arc<Expiries>) {
    use socketioxide::handler::ConnectHandler;
    io.ns(
        "/",
        on_connect
            .with(prepare)
            .with(crate::auth::socket::authenticate),
    );
    tokio::spawn(expiries.run(Emitter::new(io.clone())));
}

/// Joins the user's personal room and registers every event handler of the socket.
async fn prepare(
    socket: SocketRef,
    io: SocketIo,
    State(app): State<AppState>,
    State(typing): State<Arc<Typing>>,
    State(expiries): State<Arc<Expiries>>,
    State(intake): State<Arc<Intake>>,
    Extension(identity): Extension<Identity>,
) -> Result<(), std::convert::Infallible> {
    expiries.watch(identity.expires_at, socket.id);
    let ctx = Arc::new(SocketCtx {
        app,
        identity,
        emitter: Emitter::new(io),
        typing,
        intake,
        cut: AtomicBool::new(false),
        queue: Mutex::default(),
        presence: Mutex::new(Presence::New),
    });
    socket.join(emit::user_room(&ctx.identity.user));

    on(&socket, &ctx, emit::JOIN_CONVERSATION, conversations::join);
    on(
        &socket,
        &ctx,
        emit::LEAVE_CONVERSATION,
        conversations::leave,
    );
    on(
        &socket,
        &ctx,
        emit::MARK_AS_READ,
        conversations::mark_as_read,
    );
    on(
        &socket,
        &ctx,
        emit::JOIN_PERSONAL_ROOM,
        conversations::join_personal_room,
    );
    on(&socket, &ctx, emit::SEND_MESSAGE, messages::send);
    on(&socket, &ctx, emit::TYPING, typing::start);
    on(&socket, &ctx, emit::STOP_TYPING, typing::stop);

    let on_leave = ctx.clone();
    socket.on_disconnect(async move |socket: SocketRef| {
        let ctx = on_leave;
        expiries.forget(ctx.identity.expires_at, socket.id);
        ctx.typing.socket_gone(&ctx.emitter, socket.id).await;
        let last = match ctx.presence.lock() {
            Ok(mut state) => {
                let was = std::mem::replace(&mut *state, Presence::Gone);
                was == Presence::Counted && ctx.app.chat.presence_leave(&ctx.identity.user)
            }
            Err(_) => false,
        };
        if last
            && let Err(e) = ctx
                .app
                .chat
                .announce_offline(&ctx.emitter, &ctx.identity.user)
                .await
        {
            tracing::warn!(error = %e, "presence update on disconnect failed");
        }
    });
    socket.extensions.insert(ctx);
    Ok(())
}

/// Counts the socket for presence, now that it is in the namespace (a socket whose transport
/// closed while it was being prepared never gets here, nor to its disconnect handler).
async fn on_connect(Extension(ctx): Extension<Arc<SocketCtx>>) {
    let first = match ctx.presence.lock() {
        Ok(mut state) if *state == Presence::New => {
            *state = Presence::Counted;
            ctx.app.chat.presence_join(&ctx.identity.user)
        }
        _ => false,
    };
    if first
        && let Err(e) = ctx
            .app
            .chat
            .announce_online(&ctx.emitter, &ctx.identity.user)
            .await
    {
        tracing::warn!(error = %e, "presence update on connect failed");
    }
}

/// The payload of a client event: the first argument, or why it could not be read.
pub type Payload = Result<serde_json::Value, String>;

/// Registers `handler` for `event` on this socket, behind the socket's event queue.
fn on<H, Fut, T>(socket: &SocketRef, ctx: &Arc<SocketCtx>, event: &'static str, handler: H)
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
        let Ok(TryData(data)) =
            TryData::<serde_json::Value>::from_message_parts(&s, &mut v, &ack_id);
        let payload = data.map_err(|e| e.to_string());
        let reply = Reply::new(self.event, &s, &mut v, ack_id);
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
            Reply::new(self.event, &s, &mut v, ack_id).send::<()>(Err(AppError::RateLimited(
                "too many events waiting on this connection; slow down".to_owned(),
            )));
        }
    }
}

/// Answers one client event: an acknowledgement when the client asked for one, else (for
/// failures only) an `error` event.
struct Reply {
    event: &'static str,
    socket: SocketRef,
    ack: AckSender,
    wants_ack: bool,
}

impl Reply {
    fn new(event: &'static str, s: &Arc<Socket>, v: &mut Value, ack_id: Option<i64>) -> Self {
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
                    emit::ERROR,
                    &emit::ErrorPayload {
                        event: self.event,
                        code: body.code,
                        message: &body.message,
                    },
                )
            }
        };
        if let Err(e) = sent {
            undelivered(&self.socket, self.event, &e);
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

/// The connection a WebSocket socket rides on: the one its session was opened on, or, for a
/// session that began on long-polling and upgraded, the upgrade's (see [`note_upgrade`]).
/// `None` for a socket on long-polling.
fn websocket_connection(socket: &SocketRef) -> Option<crate::serve::ConnectionCloser> {
    if socket.transport_type() != socketioxide::TransportType::Websocket {
        return None;
    }
    if let Some(Upgraded(closer)) = socket.extensions.get::<Upgraded>() {
        return Some(closer);
    }
    let parts = socket.req_parts();
    is_websocket_request(&parts.uri)
        .then(|| {
            parts
                .extensions
                .get::<crate::serve::ConnectionCloser>()
                .cloned()
        })
        .flatten()
}

/// The connection a session's WebSocket upgrade arrived on (the session's request parts are
/// those of the long-polling request that opened it).
#[derive(Clone, Debug)]
struct Upgraded(crate::serve::ConnectionCloser);

fn is_websocket_request(uri: &axum::http::Uri) -> bool {
    uri.query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "transport=websocket"))
}

/// Notes, on the socket of a session that is upgrading from long-polling to WebSocket, which
/// connection the WebSocket arrives on, so that [`cut_off`] can close it. Runs on every request
/// before the Socket.IO layer; only an upgrade of a connected socket is noted.
pub fn note_upgrade<B>(io: &SocketIo, req: axum::http::Request<B>) -> axum::http::Request<B> {
    if !is_websocket_request(req.uri()) {
        return req;
    }
    let sid = req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("sid="))
            .and_then(|sid| sid.parse::<Sid>().ok())
    });
    // Noted while the socket is still on long-polling (the last attempt wins, as the one that
    // upgrades is the last); once it rides a WebSocket, another request with its sid changes
    // nothing.
    if let (Some(sid), Some(closer)) = (
        sid,
        req.extensions().get::<crate::serve::ConnectionCloser>(),
    ) && let Some(socket) = io.of("/").and_then(|ns| ns.get_socket(sid))
        && socket.transport_type() == socketioxide::TransportType::Polling
    {
        socket.extensions.insert(Upgraded(closer.clone()));
    }
    req
}

/// What to do when `event` could not be handed to `socket`: a full buffer means the client is
/// not reading what it is sent (or sends far faster than it reads its answers), so its
/// connection is cut off rather than the event silently lost; a closed socket needs nothing.
pub(crate) fn undelivered(socket: &SocketRef, event: &str, error: &SendError) {
    match error {
        SendError::Socket(SocketError::InternalChannelFull) => cut_off(socket, event),
        SendError::Socket(SocketError::Closed) => {}
        SendError::Serialize(e) => tracing::error!(event, error = %e, "cannot serialize an event"),
    }
}

/// Closes the connection of a socket whose outgoing buffer is full, so that the client sees a
/// transport close, reconnects, and catches up by `seq` (the room events it missed are in the
/// history).
pub(crate) fn cut_off(socket: &SocketRef, event: &str) {
    let first = socket
        .extensions
        .get::<Arc<SocketCtx>>()
        .is_none_or(|ctx| !ctx.cut.swap(true, Ordering::SeqCst));
    if !first {
        return;
    }
    tracing::warn!(
        sid = %socket.id,
        event,
        "a client is not reading its events (its buffer is full): closing its connection"
    );
    match websocket_connection(socket) {
        // Closing the connection the WebSocket rides on fails it at once.
        Some(closer) => closer.close(),
        // Long-polling spreads over requests: the session is ended with a disconnect packet as
        // soon as the buffer has room for it (the client's next poll makes room), and by the
        // Engine.IO heartbeat if the client never polls again.
        _ => {
            let socket = socket.clone();
            tokio::spawn(async move {
                let mut retry = tokio::time::interval(Duration::from_millis(100));
                for _ in 0..600 {
                    retry.tick().await;
                    match socket.clone().disconnect() {
                        Err(SocketError::InternalChannelFull) => continue,
                        _ => return,
                    }
                }
            });
        }
    }
}

/// A successful acknowledgement.
#[derive(Serialize)]
struct Ack<'a, T> {
    success: bool,
    data: &'a T,
}

/// Reads a client payload into `T`: it must be a JSON object of the right shape.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(payload: Payload) -> AppResult<T> {
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
