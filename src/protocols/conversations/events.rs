//! The socket events of the `conversations` protocol: `join_conversation`,
//! `leave_conversation`, `mark_as_read`, `join_personal_room`, `send_message`, `typing`,
//! `stop_typing`. Each parses its payload, calls the service, and returns its answer.

use std::sync::Arc;

use socketioxide::extract::SocketRef;

use crate::error::AppResult;
use crate::protocols::conversations::wire::{
    ConversationAck, ConversationPayload, Joined, ReadAck, RoomAck, SendMessagePayload, SentAck,
};
use crate::protocols::conversations::{conversation_room, user_room};
use crate::service::messages::SendInput;
use crate::transport::socket::{Payload, SocketCtx, enter_room, leave_room, parse};

/// `join_conversation`: participants only; tells the room. Joining a room the socket is already
/// in answers the same and tells nobody again.
pub async fn join(ctx: Arc<SocketCtx>, socket: SocketRef, payload: Payload) -> AppResult<Joined> {
    let ConversationPayload { conversation_id } = parse(payload)?;
    let room = conversation_room(conversation_id.0);
    let conv = enter_room(&ctx, &socket, room, conversation_id.0).await?;
    Ok(Joined {
        conversation_id: conv.id,
        last_seq: conv.last_seq,
    })
}

/// `leave_conversation`: leaves the room and tells it (only a socket in the room tells anyone).
pub async fn leave(
    ctx: Arc<SocketCtx>,
    socket: SocketRef,
    payload: Payload,
) -> AppResult<ConversationAck> {
    let ConversationPayload { conversation_id } = parse(payload)?;
    let room = conversation_room(conversation_id.0);
    leave_room(&ctx, &socket, room, conversation_id.0);
    Ok(ConversationAck::new(conversation_id.0))
}

/// `mark_as_read`: moves the user's read position to the end; the room hears `messages_read`.
pub async fn mark_as_read(
    ctx: Arc<SocketCtx>,
    _socket: SocketRef,
    payload: Payload,
) -> AppResult<ReadAck> {
    let ConversationPayload { conversation_id } = parse(payload)?;
    let receipt = ctx
        .app
        .chat
        .mark_read(&ctx.identity.user, conversation_id.0)
        .await?;
    Ok(ReadAck::from(&receipt))
}

/// `join_personal_room`: every socket is in its user's room from the start; kept for old clients.
pub async fn join_personal_room(
    ctx: Arc<SocketCtx>,
    socket: SocketRef,
    _payload: Payload,
) -> AppResult<RoomAck> {
    let room = user_room(&ctx.identity.user);
    socket.join(room.clone());
    Ok(RoomAck { room })
}

/// `send_message`: stores the message, answers after commit; the service broadcasts it.
pub async fn send(ctx: Arc<SocketCtx>, _socket: SocketRef, payload: Payload) -> AppResult<SentAck> {
    let p: SendMessagePayload = parse(payload)?;
    let input = SendInput {
        receiver: p.receiver_id,
        conversation_id: p.conversation_id.map(|id| id.0),
        content: p.content,
        attachment_url: p.attachment_url,
        client_msg_id: p.client_msg_id,
        origin: Some(ctx.origin),
        kind: None,
        attachment: Default::default(),
        reply_to: None,
        file_id: None,
    };
    let sent = ctx.app.chat.send_message(&ctx.identity.user, input).await?;
    Ok(SentAck(sent.message))
}

/// `typing`: participants only; the others in the room see it until `stop_typing` or the
/// server's timeout.
pub async fn typing(
    ctx: Arc<SocketCtx>,
    _socket: SocketRef,
    payload: Payload,
) -> AppResult<ConversationAck> {
    set_typing(&ctx, payload, true).await
}

/// `stop_typing`: ends the indicator.
pub async fn stop_typing(
    ctx: Arc<SocketCtx>,
    _socket: SocketRef,
    payload: Payload,
) -> AppResult<ConversationAck> {
    set_typing(&ctx, payload, false).await
}

async fn set_typing(ctx: &SocketCtx, payload: Payload, typing: bool) -> AppResult<ConversationAck> {
    let ConversationPayload { conversation_id } = parse(payload)?;
    let id = ctx
        .app
        .chat
        .set_typing(&ctx.identity.user, conversation_id.0, ctx.origin, typing)
        .await?;
    Ok(ConversationAck::new(id))
}
