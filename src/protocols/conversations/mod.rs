//! The `conversations` protocol: the vocabulary of the `/api/chat` backends (seeds 002 and 000).
//! Numbers for conversation and message ids, user ids in the JSON type the token gave them;
//! REST under `/api/chat` in the `{ success, message?, data }` envelope; sockets that join a
//! conversation's room with `join_conversation` and hear `new_message` there, and
//! `message_notification` in their personal room. `docs/protocols/conversations.md` has every
//! shape.
//!
//! This file holds the names: client events, server events, rooms, the REST prefix.

pub mod events;
pub mod render;
pub mod rest;
pub mod wire;

use std::sync::Arc;

use socketioxide::extract::SocketRef;

use crate::ids::UserId;
use crate::transport::socket::{SocketCtx, on};

/// Where the REST routes are.
pub const PREFIX: &str = "/api/chat";

/// Client event: join a conversation's room.
pub const JOIN_CONVERSATION: &str = "join_conversation";
/// Client event: leave a conversation's room.
pub const LEAVE_CONVERSATION: &str = "leave_conversation";
/// Client event: send a message.
pub const SEND_MESSAGE: &str = "send_message";
/// Client event: the user is typing.
pub const TYPING: &str = "typing";
/// Client event: the user stopped typing.
pub const STOP_TYPING: &str = "stop_typing";
/// Client event: mark a conversation read.
pub const MARK_AS_READ: &str = "mark_as_read";
/// Client event: join the personal room (joined on connect anyway).
pub const JOIN_PERSONAL_ROOM: &str = "join_personal_room";

/// Server event: a message in a conversation the socket joined.
pub const NEW_MESSAGE: &str = "new_message";
/// Server event: a message for the user, to sockets not in the conversation room.
pub const MESSAGE_NOTIFICATION: &str = "message_notification";
/// Server event: a message was edited (through another protocol: this one has no edit).
pub const MESSAGE_EDITED: &str = "message_edited";
/// Server event: a message was deleted.
pub const MESSAGE_DELETED: &str = "message_deleted";
/// Server event: someone is typing.
pub const USER_TYPING: &str = "user_typing";
/// Server event: someone stopped typing (or their typing expired).
pub const USER_STOPPED_TYPING: &str = "user_stopped_typing";
/// Server event: someone read the conversation.
pub const MESSAGES_READ: &str = "messages_read";
/// Server event: someone joined the conversation room.
pub const USER_JOINED: &str = "user_joined";
/// Server event: someone left the conversation room.
pub const USER_LEFT: &str = "user_left";
/// Server event: a conversation partner came online or went offline.
pub const ONLINE_STATUS: &str = "online_status";

/// The room of a conversation, for sockets of this protocol that joined it. Room names are
/// each protocol's own (no other protocol's room is named like these), so a room hears one
/// vocabulary; the seed shows this one's personal room name to clients (`join_personal_room`).
pub fn conversation_room(id: i64) -> String {
    format!("conversation:{id}")
}

/// The personal room of a user: all their sockets of this protocol.
pub fn user_room(user: &UserId) -> String {
    user_room_of(user.key())
}

/// The personal room of the user with this key.
pub fn user_room_of(key: &str) -> String {
    format!("user:{key}")
}

/// A socket of this protocol is in its user's personal room from the start, and joins
/// conversation rooms when it asks.
pub fn connect(socket: &SocketRef, ctx: &Arc<SocketCtx>) {
    socket.join(user_room(&ctx.identity.user));
    on(socket, ctx, JOIN_CONVERSATION, events::join);
    on(socket, ctx, LEAVE_CONVERSATION, events::leave);
    on(socket, ctx, MARK_AS_READ, events::mark_as_read);
    on(socket, ctx, JOIN_PERSONAL_ROOM, events::join_personal_room);
    on(socket, ctx, SEND_MESSAGE, events::send);
    on(socket, ctx, TYPING, events::typing);
    on(socket, ctx, STOP_TYPING, events::stop_typing);
}
