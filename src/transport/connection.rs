//! The client connection under a socket: its id as the service knows it ([`origin_of`]), the
//! TCP connection its WebSocket rides on, and cutting it off when it does not read what it is
//! sent ([`cut_off`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use socketioxide::{SendError, SocketError, SocketIo};

use crate::service::Origin;

/// The service's name for the connection of socket `sid`.
pub fn origin_of(sid: Sid) -> Origin {
    let mut bytes = [0u8; 16];
    let id = sid.as_str().as_bytes();
    let n = id.len().min(16);
    bytes[..n].copy_from_slice(&id[..n]);
    Origin(bytes)
}

/// The socket whose connection the service calls `origin`.
pub(crate) fn sid_of(origin: Origin) -> Option<Sid> {
    std::str::from_utf8(&origin.0).ok()?.parse().ok()
}

/// Set on a socket once its connection was cut off for not reading its events, so that it is
/// cut (and logged) once. Kept in the socket's extensions from its connect on.
#[derive(Clone, Debug, Default)]
pub(crate) struct CutOff(Arc<AtomicBool>);

/// The connection a WebSocket socket rides on: the one its session was opened on, or, for a
/// session that began on long-polling and upgraded, the upgrade's (see [`note_upgrade`]).
/// `None` for a socket on long-polling.
pub(crate) fn websocket_connection(socket: &SocketRef) -> Option<crate::serve::ConnectionCloser> {
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
        .get::<CutOff>()
        .is_none_or(|cut| !cut.0.swap(true, Ordering::SeqCst));
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
