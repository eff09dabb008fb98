//! A request body with a deadline: the whole body must have arrived by then, however it
//! trickles in (a timeout between frames would let one byte every few seconds through).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

use super::conn::ConnectionCloser;
use super::packets::{Payload, Verdict};

/// Why a [`DeadlineBody`] failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum BodyError {
    /// The connection failed or the client sent a malformed body.
    #[error(transparent)]
    Read(#[from] hyper::Error),
    /// The body was not complete by its deadline.
    #[error("the request body did not arrive in time")]
    Late,
    /// A Socket.IO packet in the body has an acknowledgement id above 2^63-1 (see
    /// `super::packets`).
    #[error("a packet's acknowledgement id is above 2^63-1")]
    Refused,
}

/// `Incoming` that fails with [`BodyError::Late`] once its deadline passes, and marks its
/// connection so that the request is answered `408` and the connection closed.
///
/// The timer is only armed when the body has to wait for the network, so a request whose body
/// is already there (or empty) allocates nothing for it.
pub(super) struct DeadlineBody {
    body: Incoming,
    deadline: Instant,
    timer: Option<Pin<Box<Sleep>>>,
    connection: ConnectionCloser,
    /// For a Socket.IO long-polling body: its packets so far.
    packets: Option<Payload>,
}

impl DeadlineBody {
    /// `body`, which must be complete by `deadline`.
    pub(super) fn new(body: Incoming, deadline: Instant, connection: ConnectionCloser) -> Self {
        Self {
            body,
            deadline,
            timer: None,
            connection,
            packets: None,
        }
    }

    /// Reads the body as Socket.IO long-polling packets, and fails it with
    /// [`BodyError::Refused`] before a packet that socketioxide would misread.
    pub(super) fn socket_io_packets(mut self) -> Self {
        self.packets = Some(Payload::new());
        self
    }

    /// Checks the packets in `frame`, if this body is read for them.
    fn check(&mut self, frame: Frame<Bytes>) -> Result<Frame<Bytes>, BodyError> {
        if let (Some(packets), Some(data)) = (self.packets.as_mut(), frame.data_ref())
            && packets.read(data) == Verdict::Refuse
        {
            tracing::debug!(
                "a long-polling packet with an acknowledgement id above 2^63-1: refused"
            );
            return Err(BodyError::Refused);
        }
        Ok(frame)
    }

    fn late(&mut self) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.connection.mark_body_late();
        Poll::Ready(Some(Err(BodyError::Late)))
    }
}

impl std::fmt::Debug for DeadlineBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadlineBody")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Body for DeadlineBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        // Only a body that keeps the server waiting is late: one that has arrived is read,
        // however long the handler took to ask for it (a busy database, say).
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(
                frame.map(|f| f.map_err(BodyError::from).and_then(|f| this.check(f))),
            );
        }
        let deadline = this.deadline;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.as_mut().poll(cx).is_ready() {
            return this.late();
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
