//! One accepted TCP connection as hyper sees it: a [`Connection`] wrapping the `TcpStream`, its
//! [`ConnectionCloser`] that can end it from outside, and the slot it takes under
//! `MAX_CONNECTIONS`, given back when the stream is dropped (whoever holds it then: hyper, or the
//! WebSocket that took the connection over).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use super::packets::{Frames, Verdict};

/// The connections open under `MAX_CONNECTIONS`. Only the accept loop takes slots, one per
/// connection it accepts, so waiting for `open < max` before an accept cannot overshoot.
#[derive(Debug)]
pub(super) struct Slots {
    max: usize,
    open: AtomicUsize,
    freed: Notify,
}

impl Slots {
    /// Room for `max` connections.
    pub(super) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            open: AtomicUsize::new(0),
            freed: Notify::new(),
        })
    }

    /// The cap.
    pub(super) fn max(&self) -> usize {
        self.max
    }

    /// Connections open now.
    pub(super) fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Whether a connection may be accepted now.
    pub(super) fn has_room(&self) -> bool {
        self.open() < self.max
    }

    /// Completes when a connection closed (at once if one closed since the last call).
    pub(super) async fn freed(&self) {
        self.freed.notified().await;
    }

    /// Counts one more connection until the returned slot is dropped.
    pub(super) fn take(self: &Arc<Self>) -> Slot {
        self.open.fetch_add(1, Ordering::AcqRel);
        Slot(self.clone())
    }
}

/// One connection's place under the cap, given back on drop.
#[derive(Debug)]
pub(super) struct Slot(Arc<Slots>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        // Stored if the accept loop is not waiting yet: it will not miss this one.
        self.0.freed.notify_one();
    }
}

/// Ends one client connection from outside, whatever rides on it (HTTP requests or a
/// WebSocket): after [`close`](Self::close), every pending and future read and write on it fails
/// at once, so hyper or the WebSocket see an IO error, drop the connection, and the socket closes.
///
/// Every request carries its connection's closer in its extensions: in an axum handler,
/// `Extension<ConnectionCloser>`; in a socketioxide handler,
/// `socket.req_parts().extensions.get::<ConnectionCloser>()` (the connection of the request that
/// opened the Engine.IO session). Cheap to clone: one `Arc`.
#[derive(Clone)]
pub struct ConnectionCloser(Arc<Shared>);

/// What a connection and its closers share: one small allocation per connection.
#[derive(Default)]
struct Shared {
    closed: AtomicBool,
    /// Set when a request body on this connection missed its deadline (see `super::body`).
    body_late: AtomicBool,
    /// Set when the connection switched to WebSocket: what it reads from then on is frames.
    websocket: AtomicBool,
    read: AtomicWaker,
    write: AtomicWaker,
}

impl ConnectionCloser {
    fn new() -> Self {
        Self(Arc::new(Shared::default()))
    }

    /// Closes the connection: reads and writes fail from now on, and a task waiting on one is
    /// woken to see it. Idempotent.
    pub fn close(&self) {
        if !self.0.closed.swap(true, Ordering::SeqCst) {
            self.0.read.wake();
            self.0.write.wake();
        }
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.0.closed.load(Ordering::SeqCst)
    }

    /// Records that the body of the request in flight missed its deadline.
    pub(super) fn mark_body_late(&self) {
        self.0.body_late.store(true, Ordering::Release);
    }

    /// Records that the connection switches to WebSocket once the answer in hand is sent.
    pub(super) fn mark_websocket(&self) {
        self.0.websocket.store(true, Ordering::Release);
    }

    /// Whether the body of the request in flight missed its deadline; clears the mark.
    pub(super) fn take_body_late(&self) -> bool {
        self.0.body_late.swap(false, Ordering::AcqRel)
    }
}

impl std::fmt::Debug for ConnectionCloser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionCloser")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// An accepted connection: the stream, its closer's state and its `MAX_CONNECTIONS` slot.
///
/// Generic over the stream so that tests can run it over `tokio::io::duplex`.
pub(super) struct Connection<S = TcpStream> {
    // Declared first, dropped first: the socket is closed before its slot is given back.
    stream: S,
    closer: ConnectionCloser,
    /// What the client's WebSocket frames say so far, once the connection switched to them.
    frames: Option<Box<Frames>>,
    _slot: Option<Slot>,
}

impl<S> Connection<S> {
    /// Wraps `stream`, holding `slot` until the connection is dropped.
    pub(super) fn new(stream: S, slot: Option<Slot>) -> Self {
        Self {
            stream,
            closer: ConnectionCloser::new(),
            frames: None,
            _slot: slot,
        }
    }

    /// A handle that closes this connection.
    pub(super) fn closer(&self) -> ConnectionCloser {
        self.closer.clone()
    }
}

/// Runs one read or write `op` on a connection that `closer` may have closed: fails at once
/// if it is closed; otherwise, when `op` has to wait, registers the task in `slot` (so that
/// `close` wakes it) and looks again, in case `close` ran just before the registration. Only
/// a task that really waits is registered, so a finished task is not kept alive by its waker.
fn poll_open<T>(
    closer: &ConnectionCloser,
    slot: &AtomicWaker,
    cx: &mut Context<'_>,
    op: impl FnOnce(&mut Context<'_>) -> Poll<io::Result<T>>,
) -> Poll<io::Result<T>> {
    if closer.is_closed() {
        return Poll::Ready(Err(closed_error()));
    }
    match op(cx) {
        Poll::Pending => {
            slot.register(cx.waker());
            if closer.is_closed() {
                Poll::Ready(Err(closed_error()))
            } else {
                Poll::Pending
            }
        }
        ready @ Poll::Ready(_) => ready,
    }
}

fn closed_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection closed by the server",
    )
}

fn refused_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "a packet's acknowledgement id is above 2^63-1",
    )
}

impl<S> std::fmt::Debug for Connection<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("closer", &self.closer)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Connection<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let stream = Pin::new(&mut this.stream);
        let before = buf.filled().len();
        let read = poll_open(&this.closer, &this.closer.0.read, cx, |cx| {
            stream.poll_read(cx, buf)
        });
        if matches!(read, Poll::Ready(Ok(()))) && this.closer.0.websocket.load(Ordering::Acquire) {
            let frames = this.frames.get_or_insert_with(|| Box::new(Frames::new()));
            if frames.read(&buf.filled()[before..]) == Verdict::Refuse {
                tracing::debug!(
                    "a WebSocket packet with an acknowledgement id above 2^63-1: connection closed"
                );
                this.closer.close();
                return Poll::Ready(Err(refused_error()));
            }
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Connection<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let stream = Pin::new(&mut this.stream);
        poll_open(&this.closer, &this.closer.0.write, cx, |cx| {
            stream.poll_write(cx, buf)
        })
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let stream = Pin::new(&mut this.stream);
        poll_open(&this.closer, &this.closer.0.write, cx, |cx| {
            stream.poll_write_vectored(cx, bufs)
        })
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let stream = Pin::new(&mut this.stream);
        poll_open(&this.closer, &this.closer.0.write, cx, |cx| {
            stream.poll_flush(cx)
        })
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Shutting down a closed connection is what its owner should do next: let it through.
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const PROMPTLY: Duration = Duration::from_secs(2);

    #[tokio::test]
    async fn a_closed_connection_fails_a_pending_read_at_once() {
        let (ours, _peer) = tokio::io::duplex(64);
        let mut conn = Connection::new(ours, None);
        let closer = conn.closer();
        let read = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            conn.read(&mut buf).await
        });
        // The peer sends nothing: the read waits until the closer ends it.
        tokio::task::yield_now().await;
        assert!(!read.is_finished());
        closer.close();
        let result = tokio::time::timeout(PROMPTLY, read)
            .await
            .expect("the pending read was not woken")
            .expect("read task");
        assert_eq!(
            result.map_err(|e| e.kind()),
            Err(io::ErrorKind::ConnectionAborted)
        );
    }

    #[tokio::test]
    async fn a_closed_connection_fails_a_pending_write_at_once() {
        // A 16-byte pipe the peer never reads: the second write waits for room.
        let (ours, _peer) = tokio::io::duplex(16);
        let mut conn = Connection::new(ours, None);
        let closer = conn.closer();
        let write = tokio::spawn(async move { conn.write_all(&[7u8; 64]).await });
        tokio::task::yield_now().await;
        assert!(!write.is_finished());
        closer.close();
        let result = tokio::time::timeout(PROMPTLY, write)
            .await
            .expect("the pending write was not woken")
            .expect("write task");
        assert_eq!(
            result.map_err(|e| e.kind()),
            Err(io::ErrorKind::ConnectionAborted)
        );
    }

    #[tokio::test]
    async fn reads_and_writes_after_close_fail_and_before_pass_through() {
        let (ours, mut peer) = tokio::io::duplex(64);
        let mut conn = Connection::new(ours, None);
        peer.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        conn.write_all(b"pong").await.unwrap();
        peer.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");

        let closer = conn.closer();
        closer.clone().close();
        assert!(closer.is_closed());
        assert!(conn.read(&mut buf).await.is_err());
        assert!(conn.write(b"x").await.is_err());
        assert!(conn.flush().await.is_err());
    }

    #[tokio::test]
    async fn the_slot_is_given_back_when_the_connection_is_dropped() {
        let slots = Slots::new(1);
        let (ours, _peer) = tokio::io::duplex(16);
        let conn = Connection::new(ours, Some(slots.take()));
        let closer = conn.closer();
        assert!(!slots.has_room());
        closer.close();
        // Closing does not free the slot: the socket is open until its owner drops it.
        assert_eq!(slots.open(), 1);
        drop(conn);
        assert_eq!(slots.open(), 0);
        tokio::time::timeout(PROMPTLY, slots.freed())
            .await
            .expect("the freed slot was not announced");
        // A closer that outlives its connection is harmless.
        closer.close();
    }
}
