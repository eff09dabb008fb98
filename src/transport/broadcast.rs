//! The server's one broadcaster: the service's [`EventSink`]. Each event is handed to every
//! protocol the server speaks, which renders it in its own vocabulary for its own rooms
//! (`crate::protocols`); this file only delivers.
//!
//! A broadcast is serialized once and handed to each socket it reaches, one by one, so that a
//! socket that cannot take it (its outgoing buffer of `SOCKET_BUFFER_PACKETS` is full: the client
//! stopped reading) is known: its connection is closed ([`crate::transport::socket::cut_off`])
//! rather than the event silently lost. The client reconnects and catches up by `seq`.

use std::sync::Arc;

use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::operators::BroadcastOperators;
use socketioxide::socket::Sid;

use crate::service::{ChatEvent, EventSink, Origin};
use crate::transport::Spoken;
use crate::transport::connection::{sid_of, undelivered};

/// Delivers the service's events to the sockets of this node, in every enabled protocol's
/// vocabulary. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Broadcaster {
    io: SocketIo,
    protocols: Arc<[Spoken]>,
}

impl Broadcaster {
    /// A broadcaster over `io` that renders events for `protocols`.
    pub fn new(io: SocketIo, protocols: &[Spoken]) -> Self {
        Self {
            io,
            protocols: protocols.into(),
        }
    }

    /// The namespace, or `None` once the server is closing (socketioxide panics on a lookup of
    /// a namespace `close` removed).
    fn ns(&self) -> Option<BroadcastOperators> {
        self.io.of("/")
    }

    /// Whether the server still serves the namespace (it stops when the server closes).
    pub fn is_open(&self) -> bool {
        self.ns().is_some()
    }

    /// Disconnects the socket `sid`, if it is still connected.
    pub fn disconnect(&self, sid: Sid) {
        if let Some(socket) = self.ns().and_then(|ns| ns.get_socket(sid))
            && let Err(e) = socket.disconnect()
        {
            tracing::debug!(%sid, error = %e, "disconnect failed");
        }
    }

    /// Emits `event` to everyone in `room`.
    pub fn to_room<T: Serialize + ?Sized>(&self, room: String, event: &str, data: &T) {
        let Some(ns) = self.ns() else { return };
        deliver(ns.to(room), event, data);
    }

    /// Emits `event` to everyone in any of `rooms`, once each.
    pub fn to_rooms<T: Serialize + ?Sized>(&self, rooms: Vec<String>, event: &str, data: &T) {
        if rooms.is_empty() {
            return;
        }
        let Some(ns) = self.ns() else { return };
        deliver(ns.to(rooms), event, data);
    }

    /// Emits `event` to everyone in `room` who is not also in `not_in`.
    pub fn to_room_outside<T: Serialize + ?Sized>(
        &self,
        room: String,
        not_in: String,
        event: &str,
        data: &T,
    ) {
        let Some(ns) = self.ns() else { return };
        deliver(ns.to(room).except(not_in), event, data);
    }

    /// Emits `event` to everyone in `room` but the connection `except`, when it is given and
    /// still connected.
    pub fn to_room_except<T: Serialize + ?Sized>(
        &self,
        room: String,
        except: Option<Origin>,
        event: &str,
        data: &T,
    ) {
        self.to_room_hiding(room, except, Vec::new(), event, data);
    }

    /// [`Broadcaster::to_room_except`], and not to the sockets in any of `hidden` either.
    pub fn to_room_hiding<T: Serialize + ?Sized>(
        &self,
        room: String,
        except: Option<Origin>,
        hidden: Vec<String>,
        event: &str,
        data: &T,
    ) {
        let Some(ns) = self.ns() else { return };
        let target = match except.and_then(sid_of).and_then(|sid| ns.get_socket(sid)) {
            Some(socket) => socket.to(room),
            None => ns.to(room),
        };
        if hidden.is_empty() {
            deliver(target, event, data);
        } else {
            deliver(target.except(hidden), event, data);
        }
    }
}

impl Broadcaster {
    /// Puts every socket in `room` into `into` as well (on this node).
    pub fn join_room(&self, room: String, into: String) {
        let Some(ns) = self.ns() else { return };
        for socket in ns.to(room).sockets() {
            socket.join(into.clone());
        }
    }

    /// Takes every socket in `room` out of `out_of` (on this node).
    pub fn leave_room(&self, room: String, out_of: String) {
        let Some(ns) = self.ns() else { return };
        for socket in ns.to(room).sockets() {
            socket.leave(out_of.clone());
        }
    }
}

impl EventSink for Broadcaster {
    fn publish(&self, event: &ChatEvent<'_>) {
        for protocol in self.protocols.iter() {
            protocol.render(event, self);
        }
    }
}

/// Sends `event` to each socket `target` selects on this node, serialized once; a socket whose
/// buffer is full is cut off.
pub(crate) fn deliver<T: Serialize + ?Sized>(target: BroadcastOperators, event: &str, data: &T) {
    let sockets = target.sockets();
    if sockets.is_empty() {
        return;
    }
    let encoded = match serde_json::value::to_raw_value(data) {
        Ok(encoded) => encoded,
        Err(e) => {
            tracing::error!(event, error = %e, "cannot serialize a broadcast");
            return;
        }
    };
    for socket in sockets {
        if let Err(e) = socket.emit(event, &encoded) {
            undelivered(&socket, event, &e);
        }
    }
}
