//! The socket events of the `sessions` protocol: `join_chat`, `leave_chat`, `send_message`,
//! `mark_as_read`, `typing_start`, `typing_stop`, `typing_indicator`, `create_chat`. Each
//! parses its payload, calls the service, and returns its answer.

use std::sync::Arc;

use socketioxide::extract::SocketRef;

use crate::error::{AppError, AppResult};
use crate::protocols::sessions::wire::{
    ChatPayload, ChatRef, CreatePayload, Deleted, EditPayload, MessageJson, MessagePayload,
    OnlineUsers, ReadJson, SendPayload, Sent, SessionJson, StatusPayload, StatusSet, TypingPayload,
};
use crate::protocols::sessions::{CHAT_JOINED, CHAT_LEFT, MESSAGE_SENT, ONLINE_USERS, chat_room};
use crate::service::Origin;
use crate::service::groups::NewGroup;
use crate::service::messages::SendInput;
use crate::service::presence::Status;
use crate::service::views::AttachmentDetails;
use crate::transport::connection::undelivered;
use crate::transport::socket::{Payload, SocketCtx, enter_room, leave_room, parse};

/// `join_chat`: members only. The socket is in its chats' rooms from its connect; joining again
/// answers the same and tells nobody; entering a room it had left tells the others.
pub async fn join(ctx: Arc<SocketCtx>, socket: SocketRef, payload: Payload) -> AppResult<ChatRef> {
    let ChatPayload { chat_id } = parse(payload)?;
    let conv = enter_room(&ctx, &socket, chat_room(chat_id.0), chat_id.0).await?;
    let joined = ChatRef::new(conv.id, Some(conv.last_seq));
    tell(&socket, CHAT_JOINED, &joined);
    Ok(joined)
}

/// `leave_chat`: leaves the room and tells it (only a socket in the room tells anyone). New
/// messages of the chat no longer reach this socket until it joins again.
pub async fn leave(ctx: Arc<SocketCtx>, socket: SocketRef, payload: Payload) -> AppResult<ChatRef> {
    let ChatPayload { chat_id } = parse(payload)?;
    leave_room(&ctx, &socket, chat_room(chat_id.0), chat_id.0);
    let left = ChatRef::new(chat_id.0, None);
    tell(&socket, CHAT_LEFT, &left);
    Ok(left)
}

/// `send_message`: stores the message and answers after commit; the socket also gets
/// `message_sent`, the chat's other sockets `message_received`.
pub async fn send(
    ctx: Arc<SocketCtx>,
    socket: SocketRef,
    payload: Payload,
) -> AppResult<MessageJson> {
    let p: SendPayload = parse(payload)?;
    let chat_id = p
        .chat_id
        .ok_or_else(|| AppError::validation("chatId is required"))?;
    let temp_id = p.temp_id.clone();
    let input = send_input(chat_id.0, p, Some(ctx.origin))?;
    let sent = ctx.app.chat.send_message(&ctx.identity.user, input).await?;
    tell(
        &socket,
        MESSAGE_SENT,
        &Sent::new(&sent.message, temp_id.as_deref()),
    );
    Ok(MessageJson(sent.message))
}

/// What a send of `p` to chat `chat_id` asks of the service (REST and socket alike).
pub(crate) fn send_input(
    chat_id: i64,
    p: SendPayload,
    origin: Option<Origin>,
) -> AppResult<SendInput> {
    let duration_ms = match p.attachment_duration {
        None => None,
        // Seconds to milliseconds; the service bounds it.
        #[allow(clippy::cast_possible_truncation)]
        Some(secs) if (0.0..=1e9).contains(&secs) => Some((secs * 1000.0).round() as i64),
        Some(_) => {
            return Err(AppError::validation(
                "attachmentDuration must be a number of seconds, not negative",
            ));
        }
    };
    Ok(SendInput {
        receiver: None,
        conversation_id: Some(chat_id),
        content: p.content.unwrap_or_default(),
        attachment_url: p.attachment_url,
        attachment: AttachmentDetails {
            name: p.attachment_name,
            mime: p.attachment_mime_type,
            size: p.attachment_size,
            duration_ms,
        },
        client_msg_id: p.client_msg_id.or(p.temp_id),
        origin,
        kind: p.kind,
        reply_to: p.reply_to_id.map(|id| id.0),
        file_id: p.file_id,
    })
}

/// `mark_as_read`: moves the user's read position to the end; the chat hears `messages_read`.
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

/// `typing_start`.
pub async fn typing_start(
    ctx: Arc<SocketCtx>,
    _socket: SocketRef,
    payload: Payload,
) -> AppResult<ChatRef> {
    let ChatPayload { chat_id } = parse(payload)?;
    set_typing(&ctx, chat_id.0, true).await
}

/// `typing_stop`.
pub async fn typing_stop(
    ctx: Arc<SocketCtx>,
    _socket: SocketRef,
    payload: Payload,
) -> AppResult<ChatRef> {
    let ChatPayload { chat_id } = parse(payload)?;
    set_typing(&ctx, chat_id.0, false).await
}

/// `typing_indicator`: `{ chatId, isTyping }`; the server ends it after `TYPING_TIMEOUT_MS`.
pub async fn typing_indicator(
    ctx: Arc<SocketCtx>,
    _socket: SocketRef,
    payload: Payload,
) -> AppResult<ChatRef> {
    let TypingPayload { chat_id, is_typing } = parse(payload)?;
    set_typing(&ctx, chat_id.0, is_typing).await
}

async fn set_typing(ctx: &SocketCtx, chat_id: i64, typing: bool) -> AppResult<ChatRef> {
    let id = ctx
        .app
        .chat
        .set_typing(&ctx.identity.user, chat_id, ctx.origin, typing)
        .await?;
    Ok(ChatRef::new(id, None))
}

/// `create_chat`: `{ type: "DIRECT", targetUserId }` opens (or finds) the direct chat;
/// `{ type: "GROUP", name, participantIds, description?, avatarUrl? }` creates a group. A new
/// chat's members hear `chat_created`, and their sockets enter its room.
pub async fn create_chat(
    ctx: Arc<SocketCtx>,
    _socket: SocketRef,
    payload: Payload,
) -> AppResult<SessionJson> {
    let p: CreatePayload = parse(payload)?;
    let (chat, _) = open(&ctx.app.chat, &ctx.identity.user, p).await?;
    Ok(SessionJson(chat))
}

/// Opens the chat a [`CreatePayload`] asks for (REST and socket alike): the chat, and whether
/// it is new.
pub(crate) async fn open(
    chat: &crate::service::Chat,
    user: &crate::ids::UserId,
    p: CreatePayload,
) -> AppResult<(crate::service::views::ConversationView, bool)> {
    match p.kind.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("DIRECT") => {
            let target = p
                .target_user_id
                .ok_or_else(|| AppError::validation("targetUserId is required"))?;
            chat.open_direct(user, &target).await
        }
        Some("GROUP") => {
            let group = NewGroup {
                name: p
                    .name
                    .ok_or_else(|| AppError::validation("a group needs a name"))?,
                description: p.description,
                avatar_url: p.avatar_url,
                members: p.participant_ids,
            };
            Ok((chat.create_group(user, group).await?, true))
        }
        Some(other) => Err(AppError::validation(format!(
            "type must be DIRECT or GROUP, got {other:?}"
        ))),
    }
}

/// `edit_message`: `{ messageId, content }`, the sender within `EDIT_WINDOW_SECS`; the chat
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

/// `delete_message`: `{ messageId }`, the sender (or a group's admin or moderator); the chat
/// hears `message_deleted`.
pub async fn delete_message(
    ctx: Arc<SocketCtx>,
    _socket: SocketRef,
    payload: Payload,
) -> AppResult<Deleted> {
    let MessagePayload { message_id } = parse(payload)?;
    let deleted = ctx
        .app
        .chat
        .delete_message(&ctx.identity.user, message_id.0)
        .await?;
    Ok(Deleted::from(&deleted))
}

/// `presence_update`: `{ status }` (`online`, `away`, `busy`, `offline`); partners hear
/// what changes for them.
pub async fn presence_update(
    ctx: Arc<SocketCtx>,
    _socket: SocketRef,
    payload: Payload,
) -> AppResult<StatusSet> {
    let StatusPayload { status } = parse(payload)?;
    let status = status.ok_or_else(|| AppError::validation("status is required"))?;
    choose(&ctx, Status::parse(&status)?).await
}

/// `user_online`: shows the user online again (after `user_offline`, `away` or `busy`).
pub async fn user_online(
    ctx: Arc<SocketCtx>,
    _socket: SocketRef,
    _payload: Payload,
) -> AppResult<StatusSet> {
    choose(&ctx, Status::Online).await
}

/// `user_offline`: shows the user offline while connected (invisible) until they choose
/// another status.
pub async fn user_offline(
    ctx: Arc<SocketCtx>,
    _socket: SocketRef,
    _payload: Payload,
) -> AppResult<StatusSet> {
    choose(&ctx, Status::Invisible).await
}

async fn choose(ctx: &SocketCtx, status: Status) -> AppResult<StatusSet> {
    let chosen = ctx.app.chat.set_status(&ctx.identity.user, status).await?;
    Ok(StatusSet {
        user_id: ctx.identity.user.key().to_owned(),
        status: chosen.as_str(),
    })
}

/// `get_online_users`: `{ chatId }`; answers, and emits `online_users` to the socket, with the
/// chat's members online now.
pub async fn get_online_users(
    ctx: Arc<SocketCtx>,
    socket: SocketRef,
    payload: Payload,
) -> AppResult<OnlineUsers> {
    let ChatPayload { chat_id } = parse(payload)?;
    let users = ctx
        .app
        .chat
        .online_in(&ctx.identity.user, chat_id.0)
        .await?;
    let online = OnlineUsers::new(chat_id.0, &users);
    tell(&socket, ONLINE_USERS, &online);
    Ok(online)
}

/// Emits `event` to this socket alone.
fn tell<T: serde::Serialize + ?Sized>(socket: &SocketRef, event: &'static str, data: &T) {
    if let Err(e) = socket.emit(event, data) {
        undelivered(socket, event, &e);
    }
}
