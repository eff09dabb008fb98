//! The `chats` protocol: the vocabulary of seed 004's backend (`/api/chats`, `/api/users`,
//! MongoDB models with `_id`). Every id is sent as a JSON string; REST answers in the
//! `{ success, message?, data }` envelope; a socket is in its user's personal room from its
//! connect and hears a chat's messages once it joined the chat's room. Direct chats start as
//! requests (with `DIRECT_REQUESTS` on, this protocol's default). `docs/protocols/chats.md` has
//! every shape.
//!
//! This file holds the names: client events, server events, rooms, the REST prefixes.

pub mod events;
pub mod media;
pub mod render;
pub mod rest;
pub mod wire;

use std::sync::Arc;

use socketioxide::extract::SocketRef;

use crate::ids::UserId;
use crate::transport::socket::{SocketCtx, on};

/// Where the chat routes are.
pub const CHATS_PREFIX: &str = "/api/chats";
/// Where the user routes (blocking) are.
pub const USERS_PREFIX: &str = "/api/users";
/// Where the upload routes are.
pub const MEDIA_PREFIX: &str = "/api/media";
/// Where an uploaded file is downloaded (`/api/media/files/:fileId`).
pub const FILES_PATH: &str = "/api/media/files";

/// Client event: enter a chat's room.
pub const JOIN_CHAT: &str = "join_chat";
/// Client event: leave a chat's room.
pub const LEAVE_CHAT: &str = "leave_chat";
/// Client event: send a message.
pub const SEND_MESSAGE: &str = "send_message";
/// Client event: send an uploaded file.
pub const SEND_MEDIA: &str = "send_media";
/// Client event: mark a chat read.
pub const MARK_AS_READ: &str = "mark_as_read";
/// Client event: typing (`{ chatId, isTyping? }`).
pub const TYPING: &str = "typing";
/// Client event: stopped typing.
pub const STOP_TYPING: &str = "stop_typing";
/// Client event: edit a message.
pub const EDIT_MESSAGE: &str = "edit_message";
/// Client event: delete a message (for everyone, or for the caller only).
pub const DELETE_MESSAGE: &str = "delete_message";
/// Client event: react to a message with an emoji.
pub const ADD_REACTION: &str = "add_reaction";
/// Client event: take a reaction back.
pub const REMOVE_REACTION: &str = "remove_reaction";

/// Server event: a message in a chat whose room the socket is in.
pub const MESSAGE_RECEIVED: &str = "message_received";
/// Server event: a message carrying an uploaded file.
pub const MEDIA_RECEIVED: &str = "media_received";
/// Server event: a message was edited.
pub const MESSAGE_EDITED: &str = "message_edited";
/// Server event: a message was deleted.
pub const MESSAGE_DELETED: &str = "message_deleted";
/// Server event: someone reacted to a message.
pub const REACTION_ADDED: &str = "reaction_added";
/// Server event: someone took a reaction back.
pub const REACTION_REMOVED: &str = "reaction_removed";
/// Server event: someone read the chat.
pub const MESSAGES_READ: &str = "messages_read";
/// Server event: someone is typing.
pub const USER_TYPING: &str = "user_typing";
/// Server event: someone stopped typing (or their typing expired).
pub const USER_STOPPED_TYPING: &str = "user_stopped_typing";
/// Server event: to the recipient, a chat request.
pub const CHAT_REQUEST: &str = "chat_request";
/// Server event: to the initiator, their request was accepted.
pub const CHAT_ACCEPTED: &str = "chat_accepted";
/// Server event: to the initiator, their request was declined.
pub const CHAT_REJECTED: &str = "chat_rejected";

/// The room of a chat, for sockets of this protocol that joined it.
pub fn chat_room(id: i64) -> String {
    format!("chats:chat:{id}")
}

/// The personal room of a user: all their sockets of this protocol.
pub fn user_room(user: &UserId) -> String {
    user_room_of(user.key())
}

/// The personal room of the user with this key.
pub fn user_room_of(key: &str) -> String {
    format!("chats:user:{key}")
}

/// A socket of this protocol is in its user's personal room from the start, and joins chat
/// rooms when it asks.
pub fn connect(socket: &SocketRef, ctx: &Arc<SocketCtx>) {
    socket.join(user_room(&ctx.identity.user));
    on(socket, ctx, JOIN_CHAT, events::join);
    on(socket, ctx, LEAVE_CHAT, events::leave);
    on(socket, ctx, SEND_MESSAGE, events::send);
    on(socket, ctx, SEND_MEDIA, events::send_media);
    on(socket, ctx, MARK_AS_READ, events::mark_as_read);
    on(socket, ctx, TYPING, events::typing);
    on(socket, ctx, STOP_TYPING, events::stop_typing);
    on(socket, ctx, EDIT_MESSAGE, events::edit_message);
    on(socket, ctx, DELETE_MESSAGE, events::delete_message);
    on(socket, ctx, ADD_REACTION, events::add_reaction);
    on(socket, ctx, REMOVE_REACTION, events::remove_reaction);
}
