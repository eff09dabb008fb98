//! The HTTP server under parley: accepts TCP connections up to a cap and serves each with hyper
//! (HTTP/1.1, upgrades for WebSocket) under time bounds, so that a connection costs little
//! before it does real work.
//!
//! - A connection must send a complete request head within the header timeout, also when it
//!   sits idle between two requests (hyper's `header_read_timeout` restarts when a keep-alive
//!   connection goes idle). After its head, the request's body must be complete within the
//!   same time (`body.rs`), or the request is answered `408` and the connection closed. A
//!   request in flight (a Socket.IO long-polling `GET` waiting for data) is not timed here.
//! - At most `max_connections` are open at once, HTTP and WebSocket alike: each holds a slot
//!   until its socket is closed (`conn.rs`). At the cap, parley stops accepting, and new
//!   connections wait in the kernel's listen backlog.
//! - Every request carries its connection's [`ConnectionCloser`] in its extensions.
//! - Shutdown is two steps that the caller sequences: [`Server::stop_accepting`], then
//!   [`Server::drain`] with a deadline.

mod body;
mod conn;
mod packets;

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::config::Config;
use crate::error::AppError;
use body::DeadlineBody;
pub use conn::ConnectionCloser;
use conn::{Connection, Slots};

/// Where Socket.IO is served (socketioxide's `req_path`): its `POST` bodies are Engine.IO
/// payloads, read for packets socketioxide would misread (`packets.rs`).
pub const SOCKET_IO_PATH: &str = "/socket.io";

/// Shortest time between two warnings that the connection cap is reached.
const CAP_WARNING_EVERY: Duration = Duration::from_secs(5);
/// Files the process keeps open besides client connections and the database: the listener,
/// the runtime's epoll and wakers, standard streams, log files, DNS, and room to spare.
const RESERVED_FILES: u64 = 64;
/// Files one pooled database connection may hold: a PostgreSQL socket, or an SQLite database
/// with its WAL and shared-memory files.
const FILES_PER_DB_CONNECTION: u64 = 3;
/// The cap when the open-file limit cannot be read.
const FALLBACK_MAX_CONNECTIONS: usize = 10_000;
/// The highest automatic cap, whatever the open-file limit says.
const MAX_AUTO_CONNECTIONS: u64 = 1 << 20;
/// Wait after an accept that failed for want of resources (file descriptors, memory).
const ACCEPT_RETRY: Duration = Duration::from_millis(250);

/// What bounds a connection.
#[derive(Debug, Clone)]
pub struct Limits {
    /// A connection must send a complete request head within this, whether it is new or idle
    /// between two requests; a request's body must be complete within this after its head.
    pub header_timeout: Duration,
    /// Most connections open at once, HTTP and WebSocket alike (at least 1).
    pub max_connections: usize,
    /// Uploads: `POST` requests under these path prefixes have this long for their body
    /// instead of [`Limits::header_timeout`].
    pub uploads: (Vec<&'static str>, Duration),
}

impl Limits {
    /// The limits `config` asks for, `MAX_CONNECTIONS=0` resolved from the open-file limit
    /// (raised to its hard limit first, where allowed). Logs the cap in force.
    pub fn from_config(config: &Config) -> Self {
        let files = open_file_limit();
        // The writer pool of an SQLite file adds one connection to the pool's.
        let reserved =
            RESERVED_FILES + FILES_PER_DB_CONNECTION * (u64::from(config.db_max_connections) + 1);
        let room = files.map(|limit| limit.saturating_sub(reserved));
        let max_connections = match (config.max_connections, files, room) {
            (0, Some(limit), Some(room)) => {
                let cap = room.clamp(1, MAX_AUTO_CONNECTIONS);
                tracing::info!(
                    "at most {cap} connections at once (MAX_CONNECTIONS=0: the open-file limit \
                     {limit} less {reserved} kept for the database and the process)"
                );
                if room < 100 {
                    tracing::warn!(
                        "the open-file limit ({limit}) leaves room for only {cap} connections: \
                         raise it (ulimit -n) or set MAX_CONNECTIONS"
                    );
                }
                usize::try_from(cap).unwrap_or(usize::MAX)
            }
            (0, _, _) => {
                tracing::info!(
                    "at most {FALLBACK_MAX_CONNECTIONS} connections at once (MAX_CONNECTIONS=0 \
                     and the open-file limit is unknown)"
                );
                FALLBACK_MAX_CONNECTIONS
            }
            (cap, limit, room) => {
                tracing::info!("at most {cap} connections at once (MAX_CONNECTIONS)");
                if let (Some(limit), Some(room)) = (limit, room)
                    && u64::try_from(cap).unwrap_or(u64::MAX) > room
                {
                    tracing::warn!(
                        "MAX_CONNECTIONS={cap} is more than the open-file limit allows ({limit}, \
                         of which {reserved} are kept for the database and the process): past \
                         {room} connections, accepting fails until some close; raise the limit \
                         (ulimit -n) or lower MAX_CONNECTIONS"
                    );
                }
                cap
            }
        };
        Self {
            header_timeout: config.header_timeout(),
            max_connections,
            uploads: (Vec::new(), Duration::from_secs(config.upload_timeout_secs)),
        }
    }
}

/// The process's open-file soft limit, raised to the hard limit where that is allowed.
#[cfg(unix)]
fn open_file_limit() -> Option<u64> {
    // An unlimited hard limit cannot be the soft one on Linux (it stops at fs.nr_open): ask
    // for everything, else for as much as an automatic cap would use.
    for wanted in [u64::MAX, MAX_AUTO_CONNECTIONS] {
        match rlimit::increase_nofile_limit(wanted) {
            Ok(limit) => return Some(limit),
            Err(e) => tracing::debug!(error = %e, wanted, "cannot raise the open-file limit"),
        }
    }
    rlimit::Resource::NOFILE.get().ok().map(|(soft, _)| soft)
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<u64> {
    None
}

/// Where the server is in its life. Each step includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Accepting and serving.
    Serving,
    /// No longer accepting; open connections are served as before.
    NotAccepting,
    /// Each connection finishes the request in flight and closes.
    Draining,
    /// The deadline passed: every connection still open is dropped.
    Cut,
}

/// How [`Server::drain`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every HTTP connection finished its request and closed.
    Finished,
    /// The deadline passed first: this many connections were cut.
    Cut(usize),
}

/// A running server: its accept loop and the connections it accepted.
///
/// Connections taken over by a WebSocket leave hyper and are no longer counted by
/// [`drain`](Self::drain) (they still hold their slot): close them through Socket.IO
/// (`SocketIo::close`) before draining.
#[derive(Debug)]
pub struct Server {
    phase: watch::Sender<Phase>,
    accept: Option<JoinHandle<()>>,
    slots: Arc<Slots>,
}

impl Server {
    /// Starts accepting on `listener` and serving `router` within `limits`.
    pub fn start(listener: TcpListener, router: Router, limits: &Limits) -> Self {
        let slots = Slots::new(limits.max_connections.max(1));
        let (phase, watching) = watch::channel(Phase::Serving);
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout);
        let acceptor = Acceptor {
            listener,
            http,
            router,
            body_timeout: limits.header_timeout,
            uploads: Arc::new(limits.uploads.clone()),
            slots: slots.clone(),
            phase: watching,
        };
        Self {
            phase,
            accept: Some(tokio::spawn(acceptor.run())),
            slots,
        }
    }

    /// Connections open now (HTTP and WebSocket).
    pub fn open_connections(&self) -> usize {
        self.slots.open()
    }

    /// Stops accepting and closes the listener (new connections are refused); open connections
    /// are served as before. Returns once the listener is closed. Idempotent.
    pub async fn stop_accepting(&mut self) {
        self.advance(Phase::NotAccepting);
        if let Some(accept) = self.accept.take()
            && let Err(e) = accept.await
        {
            tracing::error!(error = %e, "the accept loop failed");
        }
    }

    /// Stops accepting (if not done yet), asks every HTTP connection to finish the request in
    /// flight and close (an idle one closes at once), and waits until they all have or until
    /// `deadline`, when the rest are cut.
    pub async fn drain(mut self, deadline: Instant) -> Drained {
        self.stop_accepting().await;
        self.advance(Phase::Draining);
        if tokio::time::timeout_at(deadline, self.phase.closed())
            .await
            .is_ok()
        {
            return Drained::Finished;
        }
        let left = self.phase.receiver_count();
        self.advance(Phase::Cut);
        Drained::Cut(left)
    }

    fn advance(&self, to: Phase) {
        self.phase.send_if_modified(|phase| {
            let later = *phase < to;
            if later {
                *phase = to;
            }
            later
        });
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Dropped without `drain` (the caller's future was dropped): stop accepting; the
        // connections see the phase sender gone and end.
        if let Some(accept) = &self.accept {
            accept.abort();
        }
    }
}

/// The accept loop's state.
struct Acceptor {
    listener: TcpListener,
    http: http1::Builder,
    router: Router,
    body_timeout: Duration,
    /// Where uploads are, and their body timeout.
    uploads: Arc<(Vec<&'static str>, Duration)>,
    slots: Arc<Slots>,
    phase: watch::Receiver<Phase>,
}

impl Acceptor {
    /// Accepts while a slot is free, until told to stop; then drops the listener.
    async fn run(mut self) {
        let mut warned_at: Option<Instant> = None;
        let mut waiting = false;
        loop {
            while !self.slots.has_room() {
                if warned_at.is_none_or(|at| at.elapsed() >= CAP_WARNING_EVERY) {
                    tracing::warn!(
                        "connection limit reached: {} connections open; new connections wait \
                         in the listen backlog until one closes (raise MAX_CONNECTIONS, or the \
                         open-file limit when it is automatic)",
                        self.slots.max()
                    );
                    warned_at = Some(Instant::now());
                    waiting = true;
                }
                tokio::select! {
                    () = self.slots.freed() => {}
                    _ = self.phase.wait_for(|p| *p >= Phase::NotAccepting) => return,
                }
            }
            if std::mem::take(&mut waiting) {
                tracing::info!("a connection closed: accepting connections again");
            }
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                _ = self.phase.wait_for(|p| *p >= Phase::NotAccepting) => return,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors or memory: wait rather than spin.
                    tracing::error!(error = %e, "cannot accept a connection");
                    tokio::select! {
                        () = tokio::time::sleep(ACCEPT_RETRY) => continue,
                        _ = self.phase.wait_for(|p| *p >= Phase::NotAccepting) => return,
                    }
                }
            };
            // Without it, the second of two quick emits to a client waits ~40 ms (Nagle).
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
            self.spawn_connection(Connection::new(stream, Some(self.slots.take())));
        }
    }

    /// Serves `conn` in a task of its own until it closes, or until the server drains.
    fn spawn_connection(&self, conn: Connection) {
        let closer = conn.closer();
        let router = self.router.clone();
        let body_timeout = self.body_timeout;
        let uploads = self.uploads.clone();
        let service = hyper::service::service_fn(move |req: axum::http::Request<Incoming>| {
            let (prefixes, upload_timeout) = &*uploads;
            let timeout = if req.method() == axum::http::Method::POST
                && prefixes.iter().any(|p| req.uri().path().starts_with(p))
            {
                *upload_timeout
            } else {
                body_timeout
            };
            handle(router.clone(), closer.clone(), timeout, req)
        });
        let connection = self
            .http
            .serve_connection(TokioIo::new(conn), service)
            .with_upgrades();
        let mut phase = self.phase.clone();
        tokio::spawn(async move {
            tokio::pin!(connection);
            let served = tokio::select! {
                result = connection.as_mut() => Some(result),
                _ = phase.wait_for(|p| *p >= Phase::Draining) => None,
            };
            let result = match served {
                Some(result) => result,
                None => {
                    connection.as_mut().graceful_shutdown();
                    tokio::select! {
                        result = connection.as_mut() => result,
                        _ = phase.wait_for(|p| *p >= Phase::Cut) => return,
                    }
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

/// Errors of one connection that failed before it was accepted: the next one may be fine.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves one request: a deadline on its body, its connection's closer in its extensions.
async fn handle(
    router: Router,
    closer: ConnectionCloser,
    body_timeout: Duration,
    req: axum::http::Request<Incoming>,
) -> Result<Response, Infallible> {
    let deadline = Instant::now() + body_timeout;
    let socket_io = req.method() == axum::http::Method::POST && is_socket_io(req.uri().path());
    let mut req = req.map(|body| {
        let body = DeadlineBody::new(body, deadline, closer.clone());
        if socket_io {
            body.socket_io_packets()
        } else {
            body
        }
    });
    req.extensions_mut().insert(closer.clone());
    let response = router.oneshot(req).await?;
    if closer.take_body_late() {
        return Ok(body_late(body_timeout));
    }
    // Sent before the client may send a frame: every frame it sends is read.
    if response.status() == axum::http::StatusCode::SWITCHING_PROTOCOLS {
        closer.mark_websocket();
    }
    Ok(response)
}

/// Whether `path` is Socket.IO's, whose request bodies are Engine.IO payloads.
fn is_socket_io(path: &str) -> bool {
    path.strip_prefix(SOCKET_IO_PATH)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// `408` for a body that did not arrive in time, and the connection ends after it.
fn body_late(timeout: Duration) -> Response {
    let mut response = AppError::RequestTimeout(format!(
        "the request body did not arrive within {} ms",
        timeout.as_millis()
    ))
    .into_response();
    response.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}
