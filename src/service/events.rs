//! What the service tells after a commit: one [`ChatEvent`] per change that others should hear,
//! handed to the one [`EventSink`] the service was built with. The socket layer's broadcaster is
//! that sink: it renders each event in the vocabulary of every protocol the server speaks, so a
//! change made through any door reaches every client in its own shape.

use crate::ids::UserId;
use crate::service::views::{MessageView, PresenceView, ReactionCount, ReadReceipt};

/// The client connection an event came from, so that it is not told back to it. Opaque to the
/// service: the transport gives each connection one (a Socket.IO session id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Origin(pub [u8; 16]);

/// A change others should hear, told after the transaction that made it committed.
#[derive(Debug, Clone, Copy)]
pub enum ChatEvent<'a> {
    /// A message was stored. Told in `seq` order per conversation.
    MessageCreated {
        /// The message.
        message: &'a MessageView,
        /// The sender's connection, when it came from a socket (protocols that answer the
        /// sender apart do not echo it there).
        origin: Option<Origin>,
    },
    /// A conversation was opened (a group created, a direct conversation opened empty or by its
    /// first message, told just before it): its members should hear it from now on.
    ConversationStarted {
        /// The conversation.
        conversation_id: i64,
        /// Its members.
        members: &'a [UserId],
        /// Who opened it, when a user did.
        opened_by: Option<&'a UserId>,
        /// Whether it is a chat request to the other member (a direct conversation, with
        /// `DIRECT_REQUESTS` on).
        request: bool,
    },
    /// The recipient of a chat request accepted or declined it.
    RequestAnswered {
        /// The direct conversation.
        conversation_id: i64,
        /// The recipient, who answered.
        by: &'a UserId,
        /// The initiator, who is told.
        initiator: &'a UserId,
        /// Accepted (`true`) or declined.
        accepted: bool,
    },
    /// Users were added to a group: they can hear it from now on.
    MembersAdded {
        /// The group.
        conversation_id: i64,
        /// Who was added.
        users: &'a [UserId],
        /// The admin who added them.
        by: &'a UserId,
    },
    /// A member left a group, or was removed from it: their sockets leave its room.
    MemberLeft {
        /// The group.
        conversation_id: i64,
        /// Who.
        user: &'a UserId,
        /// Who removed them; `None` when they left.
        by: Option<&'a UserId>,
    },
    /// A message's content was edited.
    MessageEdited(&'a MessageView),
    /// A message was soft-deleted.
    MessageDeleted(&'a MessageView),
    /// A member deleted a message for themselves only: only their own clients are told.
    MessageHidden {
        /// The message (still there for everyone else).
        message: &'a MessageView,
        /// Who no longer sees it.
        user: &'a UserId,
    },
    /// A member added or removed a reaction.
    ReactionChanged {
        /// The message.
        message_id: i64,
        /// Its conversation.
        conversation_id: i64,
        /// Who reacted.
        user: &'a UserId,
        /// With what.
        emoji: &'a str,
        /// Added (`true`) or removed.
        added: bool,
        /// The message's reactions now (`mine` for nobody).
        reactions: &'a [ReactionCount],
    },
    /// A user's read position moved (or was re-affirmed).
    MessagesRead(&'a ReadReceipt),
    /// What others see of a user's presence changed: their first socket connected, their last
    /// disconnected, or they chose another status.
    PresenceChanged {
        /// The user's presence now.
        presence: &'a PresenceView,
        /// Who may see it: the people the user took part in a conversation with.
        partners: &'a [UserId],
        /// Whether the user came online or went offline (rather than only changed status).
        came_or_went: bool,
    },
    /// An admin dissolved a group: it has no members any more.
    ConversationDissolved {
        /// The group.
        conversation_id: i64,
        /// Who were its members.
        members: &'a [UserId],
        /// The admin.
        by: &'a UserId,
    },
    /// A user started or stopped typing in a conversation (or their indicator expired).
    Typing {
        /// Where.
        conversation_id: i64,
        /// Who.
        user: &'a UserId,
        /// The typist's connection, which is not told; `None` tells everyone.
        origin: Option<Origin>,
        /// Started (`true`) or stopped.
        typing: bool,
        /// Members who block the typist and must not be told (their user keys).
        hidden_from: &'a [String],
    },
    /// A member entered (`joined`) or left a conversation's room on one of their connections.
    RoomPresence {
        /// Where.
        conversation_id: i64,
        /// Who.
        user: &'a UserId,
        /// The member's connection, which is not told.
        origin: Origin,
        /// Entered (`true`) or left.
        joined: bool,
    },
}

/// Where the service tells what happened. Called with the conversation's order lock held, so
/// events of one conversation are told in the order they committed; an implementation hands
/// them on without waiting.
pub trait EventSink: Send + Sync + std::fmt::Debug {
    /// Tells `event`.
    fn publish(&self, event: &ChatEvent<'_>);
}

/// Tells nobody: a service with no clients to tell (command-line tools).
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl EventSink for Silent {
    fn publish(&self, _event: &ChatEvent<'_>) {}
}
