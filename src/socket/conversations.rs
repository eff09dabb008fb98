//! `join_conversation`, `leave_conversation`, `mark_as_read`, `join_personal_room`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use socketioxide::extract::SocketRef;

use crate::error::AppResult;
use crate::ids::Id;
use crate::socket::emit::{self, MembershipPayload};
use crate::socket::{Payload, SocketCtx, parse};

/// `{ conversationId }`, the payload of most conversation events.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationPayload {
    /// The conversation.
    pub conversation_id: Id,
}

/// Acknowledgement of `join_conversation`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Joined {
    conversation_id: i64,
    last_seq: i64,
}

/// Acknowledgement of events that only name a conversation.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationAck {
    conversation_id: i64,
}

impl ConversationAck {
    /// The acknowledgement for `conversation_id`.
    pub fn new(conversation_id: i64) -> Self {
        Self { conversation_id }
    }
}

/// Acknowledgement of `mark_as_read`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadAck {
    conversation_id: i64,
    last_read_seq: i64,
    updated: u64,
}

/// Acknowledgement of `join_personal_room`.
#[derive(Debug, Serialize)]
pub struct RoomAck {
    room: String,
}

/// The conversation a `{ conversationId }` payload names, if the socket's user is in it.
pub(crate) async fn member_of(
    ctx: &SocketCtx,
    payload: Payload,
) -> AppResult<entity::conversation::Model> {
    let ConversationPayload { conversation_id } = parse(payload)?;
    ctx.app
        .chat
        .require_participant(&ctx.identity.user, conversation_id.0)
        .await
}

/// The id of the conversation a `{ conversationId }` payload names, if the socket's user is in
/// it, from the membership cache when it can be (as a send checks it): for events sent at
/// keystroke rate, such as `typing`, that need nothing else of the conversation.
pub(crate) async fn member_id(ctx: &SocketCtx, payload: Payload) -> AppResult<i64> {
    let ConversationPayload { conversation_id } = parse(payload)?;
    Ok(ctx
        .app
        .chat
        .member_conversation(&ctx.identity.user, conversation_id.0)
        .await?
        .conv
        .id)
}

/// `join_conversation`: participants only; tells the room. Joining a room the socket is already
/// in answers the same and tells nobody again; a join that tells the room draws on the user's
/// allowance.
pub async fn join(ctx: Arc<SocketCtx>, socket: SocketRef, payload: Payload) -> AppResult<Joined> {
    let conv = member_of(&ctx, payload).await?;
    let room = emit::conversation_room(conv.id);
    let joined = Joined {
        conversation_id: conv.id,
        last_seq: conv.last_seq,
    };
    if socket.rooms().iter().any(|r| *r == room) {
        return Ok(joined);
    }
    let user = &ctx.identity.user;
    ctx.app.chat.charge(user)?;
    socket.join(room.clone());
    let notice = MembershipPayload {
        user_id: user,
        conversation_id: conv.id,
        message: format!("User {user} joined the conversation"),
    };
    emit::to_others(&socket, room, emit::USER_JOINED, &notice).await;
    Ok(joined)
}

/// `leave_conversation`: leaves the room and tells it (only a socket in the room tells anyone,
/// so leaves are bounded by the joins that were charged).
pub async fn leave(
    ctx: Arc<SocketCtx>,
    socket: SocketRef,
    payload: Payload,
) -> AppResult<ConversationAck> {
    let ConversationPayload { conversation_id } = parse(payload)?;
    let room = emit::conversation_room(conversation_id.0);
    if socket.rooms().iter().any(|r| *r == room) {
        socket.leave(room.clone());
        let user = &ctx.identity.user;
        let notice = MembershipPayload {
            user_id: user,
            conversation_id: conversation_id.0,
            message: format!("User {user} left the conversation"),
        };
        emit::to_others(&socket, room, emit::USER_LEFT, &notice).await;
    }
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
        .mark_read(&ctx.emitter, &ctx.identity.user, conversation_id.0)
        .await?;
    Ok(ReadAck {
        conversation_id: receipt.conversation_id,
        last_read_seq: receipt.last_read_seq,
        updated: receipt.updated,
    })
}

/// `join_personal_room`: every socket is in its user's room from the start; kept for old clients.
pub async fn join_personal_room(
    ctx: Arc<SocketCtx>,
    socket: SocketRef,
    _payload: Payload,
) -> AppResult<RoomAck> {
    let room = emit::user_room(&ctx.identity.user);
    socket.join(room.clone());
    Ok(RoomAck { room })
}
