//! The socket events of the `chats` protocol: `join_chat`, `leave_chat`, `send_message`,
//! `mark_as_read`, `typing`, `stop_typing`, `edit_message`, `delete_message`, `add_reaction`,
//! `remove_reaction`. Each parses its payload, calls the service, and returns its answer.

use std::sync::Arc;

use socketioxide::extract::SocketRef;

use crate::error::{AppError, AppResult};
use crate::protocols::chats::chat_room;
use crate::protocols::chats::wire::{
    ChatPayload, ChatRef, DeletePayload, Deleted, EditPayload, MessageJson, ReactionPayload,
    ReactionsJson, ReadJson, SendMediaPayload, SendPayload, TypingPayload,
};
use crate::service::Origin;
use crate::service::messages::SendInput;
use crate::transport::socket::{Payload, SocketCtx, enter_room, leave_room, parse};

/// `join_chat`: members only (a request's recipient included). Joining a room the socket is in
/// answers the same.
pub async fn join(ctx: Arc<SocketCtx>, socket: SocketRef, payload: Payload) -> AppResult<ChatRef> {
    let ChatPayload { chat_id } = parse(payload)?;
    let conv = enter_room(&ctx, &socket, chat_room(chat_id.0), chat_id.0).await?;
    Ok(ChatRef::new(conv.id, Some(conv.last_seq)))
}

/// `leave_chat`: the socket no longer hears the chat until it joins again.
pub async fn leave(ctx: Arc<SocketCtx>, socket: SocketRef, payload: Payload) -> AppResult<ChatRef> {
    let ChatPayload { chat_id } = parse(payload)?;
    leave_room(&ctx, &socket, chat_room(chat_id.0), chat_id.0);
    Ok(ChatRef::new(chat_id.0, None))
}

/// `send_message`: stores the message and answers after commit; the chat's room hears
/// `message_received`.
pub async fn send(
    ctx: Arc<SocketCtx>,
    _socket: SocketRef,
    payload: Payload,
) -> AppResult<MessageJson> {
    let p: SendPayload = parse(payload)?;
    let chat_id = p
        .chat_id
        .ok_or_else(|| AppError::validation("chatId is required"))?;
    let input = send_input(chat_id.0, p, Some(ctx.origin))?;
    let sent = ctx.app.chat.send_message(&ctx.identity.user, input).await?;
    Ok(MessageJson(sent.message))
}

/// What a send of `p` to chat `chat_id` asks of the service (REST and socket alike).
pub(crate) fn send_input(
    chat_id: i64,
    p: SendPayload,
    origin: Option<Origin>,
) -> AppResult<SendInput> {
    Ok(SendInput {
        conversation_id: Some(chat_id),
        content: p.content.unwrap_or_default(),
        client_msg_id: p.client_msg_id.or(p.temp_id),
        origin,
        reply_to: p.reply_to.map(|id| id.0),
        ..Default::default()
    })
}

/// `send_media`: `{ chatId, media: { fileId }, content?, replyTo?, tempId? }`, a file the
/// sender uploaded for this chat (its kind decides the message's); the room hears
/// `media_received`.
pub async fn send_media(
    ctx: Arc<SocketCtx>,
    _socket: SocketRef,
    payload: Payload,
) -> AppResult<MessageJson> {
    let p: SendMediaPayload = parse(payload)?;
    let chat_id = p
        .chat_id
        .ok_or_else(|| AppError::validation("chatId is required"))?;
    let file_id = p
        .media
        .and_then(|m| m.file_id)
        .ok_or_else(|| AppError::validation("media.fileId is required: upload the file first"))?;
    let input = SendInput {
        conversation_id: Some(chat_id.0),
        content: p.content.unwrap_or_default(),
        client_msg_id: p.client_msg_id.or(p.temp_id),
        origin: Some(ctx.origin),
        reply_to: p.reply_to.map(|id| id.0),
        file_id: Some(file_id),
        ..Default::default()
    };
    let sent = ctx.app.chat.send_message(&ctx.identity.user, input).await?;
    Ok(MessageJson(sent.message))
}

/// `mark_as_read`: moves the user's read position to the end; the room hears `messages_read`.
pub async fn mark_as_read(
    ctx: Arc<SocketCtx>,
    _socket: SocketRef,
    payload: Payload,
) -> AppResult<ReadJson> {
    let ChatPayload { chat_id } = parse(payload)?;
    let receipt = ctx
        .app
        .chat
        .mark_read(&ctx.identity.user, chat_id.0)
        .await?;
    Ok(ReadJson(receipt))
}

/// `typing`: `{ chatId, isTyping? }`; the server ends it after `TYPING_TIMEOUT_MS`.
pub async fn typing(
    ctx: Arc<SocketCtx>,
    _socket: SocketRef,
    payload: Payload,
) -> AppResult<ChatRef> {
    let TypingPayload { chat_id, is_typing } = parse(payload)?;
    set_typing(&ctx, chat_id.0, is_typing.unwrap_or(true)).await
}

/// `stop_typing`.
pub async fn stop_typing(
    ctx: Arc<SocketCtx>,
    _socket: SocketRef,
    payload: Payload,
) -> AppResult<ChatRef> {
    let ChatPayload { chat_id } = parse(payload)?;
    set_typing(&ctx, chat_id.0, false).await
}

async fn set_typing(ctx: &SocketCtx, chat_id: i64, typing: bool) -> AppResult<ChatRef> {
    let id = ctx
        .app
        .chat
        .set_typing(&ctx.identity.user, chat_id, ctx.origin, typing)
        .await?;
    Ok(ChatRef::new(id, None))
}

/// `edit_message`: `{ messageId, content }`, the sender within `EDIT_WINDOW_SECS`; the room
/// hears `message_edited`.
pub async fn edit_message(
    ctx: Arc<SocketCtx>,
    _socket: SocketRef,
    payload: Payload,
) -> AppResult<MessageJson> {
    let p: EditPayload = parse(payload)?;
    let id = p
        .message_id
        .ok_or_else(|| AppError::validation("messageId is required"))?;
    let edited = ctx
        .app
        .chat
        .edit_message(&ctx.identity.user, id.0, p.content)
        .await?;
    Ok(MessageJson(edited))
}

/// `delete_message`: `{ messageId, forEveryone? }`. For everyone (the default): the sender, or
/// a group's admin or moderator, and the room hears `message_deleted`; for the caller only
/// (`forEveryone: false`): any member, and only their own sockets hear it.
pub async fn delete_message(
    ctx: Arc<SocketCtx>,
    _socket: SocketRef,
    payload: Payload,
) -> AppResult<Deleted> {
    let p: DeletePayload = parse(payload)?;
    delete(
        &ctx.app.chat,
        &ctx.identity.user,
        p.message_id.0,
        p.for_everyone()?,
    )
    .await
}

/// Deletes a message for everyone or for `user` only (REST and socket alike).
pub(crate) async fn delete(
    chat: &crate::service::Chat,
    user: &crate::ids::UserId,
    message_id: i64,
    for_everyone: bool,
) -> AppResult<Deleted> {
    let deleted = if for_everyone {
        chat.delete_message(user, message_id).await?
    } else {
        chat.delete_for_me(user, message_id).await?
    };
    Ok(Deleted::new(&deleted, for_everyone))
}

/// `add_reaction`: `{ messageId, emoji }`; the room hears `reaction_added`.
pub async fn add_reaction(
    ctx: Arc<SocketCtx>,
    _socket: SocketRef,
    payload: Payload,
) -> AppResult<ReactionsJson> {
    react(&ctx, payload, true).await
}

/// `remove_reaction`: `{ messageId, emoji }`; the room hears `reaction_removed`.
pub async fn remove_reaction(
    ctx: Arc<SocketCtx>,
    _socket: SocketRef,
    payload: Payload,
) -> AppResult<ReactionsJson> {
    react(&ctx, payload, false).await
}

async fn react(ctx: &SocketCtx, payload: Payload, add: bool) -> AppResult<ReactionsJson> {
    let ReactionPayload { message_id, emoji } = parse(payload)?;
    let view = ctx
        .app
        .chat
        .react(&ctx.identity.user, message_id.0, &emoji, add)
        .await?;
    Ok(ReactionsJson(view))
}
