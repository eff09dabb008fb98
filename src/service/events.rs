//! Domain events, told after the transaction that made them committed.

use std::future::Future;
use std::pin::Pin;

use crate::ids::UserId;
use crate::service::views::{MessageView, PresenceView, ReadReceipt};

/// Where the service tells what happened. The socket layer turns these into Socket.IO events.
pub trait ChatEvents: Send + Sync {
    /// A message was stored. Called in `seq` order per conversation.
    fn message_created(&self, message: &MessageView) -> impl Future<Output = ()> + Send;

    /// A message was soft-deleted.
    fn message_deleted(&self, message: &MessageView) -> impl Future<Output = ()> + Send;

    /// A user's read position moved (or was re-affirmed).
    fn messages_read(&self, receipt: &ReadReceipt) -> impl Future<Output = ()> + Send;

    /// A user's first socket connected, or last socket disconnected; `partners` share a
    /// conversation with them.
    fn presence_changed(
        &self,
        presence: &PresenceView,
        partners: &[UserId],
    ) -> impl Future<Output = ()> + Send;
}

/// The part of [`ChatEvents`] a message writer calls from its own task, in a form it can keep
/// for any sink.
pub(crate) trait MessageSink: Send + Sync {
    /// See [`ChatEvents::message_created`].
    fn created<'a>(
        &'a self,
        message: &'a MessageView,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
}

impl<E: ChatEvents> MessageSink for E {
    fn created<'a>(
        &'a self,
        message: &'a MessageView,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(self.message_created(message))
    }
}
