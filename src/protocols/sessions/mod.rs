//! The `sessions` protocol: the vocabulary of seed 001's backend (`/api/v1/chat`, Prisma models
//! `ChatSession`, `ChatMessage`, `ChatParticipant`). Every id is sent as a JSON string; REST
//! answers in the `{ success, message?, data }` envelope; a socket is in the rooms of all its
//! chats from the moment it connects, and hears `message_received` there.
//! `docs/protocols/sessions.md` has every shape.
//!
//! This file holds the names: client events, server events, rooms, the REST prefix.

pub mod events;
pub mod render;
pub mod rest;
pub mod wire;

use std::sync::Arc;

use socketioxide::extract::SocketRef;

use crate::error::AppResult;
use crate::ids::UserId;
use crate::transport::socket::{SocketCtx, on};

/// Where the REST routes are.
pub const PREFIX: &str = "/api/v1/chat";
/// Where files are uploaded.
pub const UPLOADS_PATH: &str = "/api/v1/chat/attachments";
/// Where an uploaded file is downloaded (`/api/v1/chat/files/:fileId`).
pub const FILES_PATH: &str = "/api/v1/chat/files";

/// Client event: enter a chat's room (every chat's room is joined on connect anyway).
pub const JOIN_CHAT: &str = "join_chat";
/// Client event: leave a chat's room.
pub const LEAVE_CHAT: &str = "leave_chat";
/// Client event: send a message.
pub const SEND_MESSAGE: &str = "send_message";
/// Client event: mark a chat read.
pub const MARK_AS_READ: &str = "mark_as_read";
/// Client event: started typing.
pub const TYPING_START: &str = "typing_start";
/// Client event: stopped typing.
pub const TYPING_STOP: &str = "typing_stop";
/// Client event: `{ chatId, isTyping }`.
pub const TYPING_INDICATOR: &str = "typing_indicator";
/// Client event: edit a message.
pub const EDIT_MESSAGE: &str = "edit_message";
/// Client event: delete a message.
pub const DELETE_MESSAGE: &str = "delete_message";
/// Client event: open a chat.
pub const CREATE_CHAT: &str = "create_chat";
/// Client event: authenticate a socket that connected without a token, or refresh its token.
pub const AUTHENTICATE: &str = "authenticate";
/// Client event: choose a presence status (`{ status }`).
pub const PRESENCE_UPDATE_EVENT: &str = "presence_update";
/// Client event: show as online.
pub const USER_ONLINE_EVENT: &str = "user_online";
/// Client event: show as offline (invisible) while connected.
pub const USER_OFFLINE_EVENT: &str = "user_offline";
/// Client event: who of a chat's members is online (`{ chatId }`).
pub const GET_ONLINE_USERS: &str = "get_online_users";

/// Server event: a message in one of the socket's chats (not to the socket that sent it).
pub const MESSAGE_RECEIVED: &str = "message_received";
/// Server event: to the sending socket, its message as stored, with its `tempId`.
pub const MESSAGE_SENT: &str = "message_sent";
/// Server event: a message was edited.
pub const MESSAGE_EDITED: &str = "message_edited";
/// Server event: a message was deleted.
pub const MESSAGE_DELETED: &str = "message_deleted";
/// Server event: someone read the chat.
pub const MESSAGES_READ: &str = "messages_read";
/// Server event: someone is typing.
pub const USER_TYPING: &str = "user_typing";
/// Server event: someone stopped typing (or their typing expired).
pub const USER_STOPPED_TYPING: &str = "user_stopped_typing";
/// Server event: a chat partner came online.
pub const USER_ONLINE: &str = "user_online";
/// Server event: a chat partner went offline.
pub const USER_OFFLINE: &str = "user_offline";
/// Server event: what a chat partner's presence shows changed (`{ userId, status, lastSeen }`).
pub const PRESENCE_UPDATE: &str = "presence_update";
/// Server event: to the socket, a chat's members online now.
pub const ONLINE_USERS: &str = "online_users";
/// Server event: a chat was created with the user in it.
pub const CHAT_CREATED: &str = "chat_created";
/// Server event: to the socket, it entered a chat's room.
pub const CHAT_JOINED: &str = "chat_joined";
/// Server event: to the socket, it left a chat's room.
pub const CHAT_LEFT: &str = "chat_left";
/// Server event: someone entered the chat's room.
pub const USER_JOINED_CHAT: &str = "user_joined_chat";
/// Server event: a member left the group, or was removed from it.
pub const PARTICIPANT_LEFT: &str = "participant_left";
/// Server event: someone left the chat's room.
pub const USER_LEFT_CHAT: &str = "user_left_chat";

/// What every chat room's name starts with.
const CHAT_ROOM_PREFIX: &str = "sessions:chat:";

/// The room of a chat, for sockets of this protocol.
pub fn chat_room(id: i64) -> String {
    format!("{CHAT_ROOM_PREFIX}{id}")
}

/// The personal room of a user: all their sockets of this protocol.
pub fn user_room(user: &UserId) -> String {
    user_room_of(user.key())
}

/// The personal room of the user with this key.
pub fn user_room_of(key: &str) -> String {
    format!("sessions:user:{key}")
}

/// A socket of this protocol is in its user's room and in the rooms of all their chats before
/// it is told it is connected.
pub async fn connect(socket: &SocketRef, ctx: &Arc<SocketCtx>) -> AppResult<()> {
    let user = &ctx.identity.user;
    let chats = ctx.app.chat.conversation_ids(user).await?;
    let mut rooms: Vec<String> = chats.into_iter().map(chat_room).collect();
    rooms.push(user_room(user));
    socket.join(rooms);
    on(socket, ctx, JOIN_CHAT, events::join);
    on(socket, ctx, LEAVE_CHAT, events::leave);
    on(socket, ctx, SEND_MESSAGE, events::send);
    on(socket, ctx, MARK_AS_READ, events::mark_as_read);
    on(socket, ctx, TYPING_START, events::typing_start);
    on(socket, ctx, TYPING_STOP, events::typing_stop);
    on(socket, ctx, TYPING_INDICATOR, events::typing_indicator);
    on(socket, ctx, CREATE_CHAT, events::create_chat);
    on(socket, ctx, EDIT_MESSAGE, events::edit_message);
    on(socket, ctx, DELETE_MESSAGE, events::delete_message);
    on(socket, ctx, PRESENCE_UPDATE_EVENT, events::presence_update);
    on(socket, ctx, USER_ONLINE_EVENT, events::user_online);
    on(socket, ctx, USER_OFFLINE_EVENT, events::user_offline);
    on(socket, ctx, GET_ONLINE_USERS, events::get_online_users);
    Ok(())
}

/// Once the socket can be reached by broadcasts, its chats are read again: a chat it joined or
/// left while it was connecting (told before it could hear) is entered or left now.
pub async fn connected(socket: &SocketRef, ctx: &Arc<SocketCtx>) -> AppResult<()> {
    let chats = ctx.app.chat.conversation_ids(&ctx.identity.user).await?;
    let want: std::collections::HashSet<String> = chats.into_iter().map(chat_room).collect();
    let have: Vec<String> = socket
        .rooms()
        .into_iter()
        .map(|r| r.to_string())
        .filter(|r| r.starts_with(CHAT_ROOM_PREFIX))
        .collect();
    for room in &have {
        if !want.contains(room) {
            socket.leave(room.clone());
        }
    }
    let missing: Vec<String> = want.into_iter().filter(|r| !have.contains(r)).collect();
    if !missing.is_empty() {
        socket.join(missing);
    }
    Ok(())
}
