//! The doors' machinery, which speaks no vocabulary: the REST extractors, envelope and common
//! routes ([`rest`]); the Socket.IO connection, its event queue, acknowledgements, token expiry
//! and shutdown ([`socket`]); upload forms and file downloads ([`upload`]); and the one
//! [`Broadcaster`](broadcast::Broadcaster) that delivers the service's events in every enabled
//! protocol's vocabulary ([`broadcast`]).
//!
//! Each protocol in `crate::protocols` builds its routes and event handlers from these pieces.

pub mod broadcast;
pub mod connection;
pub mod rest;
pub mod socket;
pub mod upload;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use socketioxide::extract::SocketRef;

use crate::error::AppResult;

use crate::service::ChatEvent;
use broadcast::Broadcaster;
use socket::SocketCtx;

/// What the transport asks of a protocol (`crate::protocols::Protocol` is the one
/// implementation): its name, what its sockets do on connect, and how it says the service's
/// events.
pub trait Vocabulary: Send + Sync + std::fmt::Debug + 'static {
    /// The name `PROTOCOLS` and a handshake's `protocol` use.
    fn name(&self) -> &'static str;

    /// What a socket speaking this protocol does once authenticated, before it is told it is
    /// connected: joins its rooms and registers its event handlers. An error refuses the
    /// connection (`connect_error`).
    fn connect<'a>(
        &'a self,
        socket: &'a SocketRef,
        ctx: &'a Arc<SocketCtx>,
    ) -> BoxFuture<'a, AppResult<()>>;

    /// What a socket of this protocol does once it is in the namespace (it can be reached by
    /// broadcasts from now on): catch up with changes told while it was being connected.
    fn connected<'a>(
        &'a self,
        socket: &'a SocketRef,
        ctx: &'a Arc<SocketCtx>,
    ) -> BoxFuture<'a, AppResult<()>>;

    /// The client event by which a socket of this protocol authenticates after connecting
    /// (`{ token }`), if the protocol has one. Such a socket may connect without a token; with
    /// one, the event refreshes it.
    fn authenticate_event(&self) -> Option<&'static str> {
        None
    }

    /// Says `event` to this protocol's rooms, in its vocabulary.
    fn render(&self, event: &ChatEvent<'_>, out: &Broadcaster);
}

/// A protocol the server speaks, as the transport holds it.
pub type Spoken = Arc<dyn Vocabulary>;
