//! The REST routes of the `sessions` protocol, under `/api/v1/chat`: `GET/POST /sessions`,
//! `GET /sessions/:id`, `GET/POST /sessions/:id/messages`, `POST /sessions/:id/read`,
//! `GET /sessions/:id/unread`, `GET /sessions/:id/search`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::error::{AppError, AppResult};
use crate::ids::Id;
use crate::ids::UserId;
use crate::protocols::sessions::PREFIX;
use crate::protocols::sessions::events::{open, send_input};
use crate::protocols::sessions::wire::{
    AddPayload, AttachmentJson, CreatePayload, Deleted, EditPayload, Edits, MessageJson,
    MessagePage, OnlineUsers, ReadJson, ReceiptsJson, RolePayload, SendPayload, SessionJson,
    SessionPage, Unread, UpdatePayload,
};
use crate::service::groups::{GroupChange, Role};
use crate::service::messages::Cursor;
use crate::state::AppState;
use crate::transport::rest::{
    ApiJson, ApiPath, ApiQuery, AuthUser, Envelope, PageQuery, SearchQuery, detached,
    idempotency_key, method_not_allowed, seq_cursor, store_message,
};
use crate::transport::upload::{self, LinkQuery};
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::response::Response;

/// Default page size of chat lists.
const DEFAULT_SESSIONS: u64 = 20;
/// Default page size of message lists.
const DEFAULT_MESSAGES: u64 = 50;

/// Every route, under [`PREFIX`].
pub fn routes() -> Router<AppState> {
    let chat = Router::new()
        .route("/sessions", get(list).post(create))
        .route("/sessions/{id}", get(details).put(update).delete(leave))
        .route("/sessions/{id}/participants", post(add_participants))
        .route(
            "/sessions/{id}/participants/{user}",
            axum::routing::put(set_role).delete(remove_participant),
        )
        .route("/sessions/{id}/messages", get(history).post(send))
        .route("/sessions/{id}/read", post(read))
        .route("/sessions/{id}/online", get(online))
        .route("/messages/{id}/reads", get(reads))
        .route("/messages/{id}/edits", get(edits))
        .route(
            "/messages/{id}",
            axum::routing::put(edit_message).delete(delete_message),
        )
        .route("/sessions/{id}/unread", get(unread))
        .route("/sessions/{id}/search", get(search))
        .route(
            "/attachments",
            post(attach).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/files/{file}", get(download))
        .method_not_allowed_fallback(method_not_allowed);
    Router::new().nest(PREFIX, chat)
}

/// `GET /sessions`: the caller's chats, most recent first.
pub async fn list(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> AppResult<Envelope<SessionPage>> {
    let page = query.resolve(DEFAULT_SESSIONS)?;
    let found = app.chat.list_conversations(&me.user, page).await?;
    Ok(Envelope::ok(SessionPage::new(found, page.limit)))
}

/// `POST /sessions`: `{ type: "DIRECT", targetUserId }`; `201` with a new chat, `200` with the
/// pair's existing one.
pub async fn create(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(body): ApiJson<CreatePayload>,
) -> AppResult<Envelope<SessionJson>> {
    let chat = app.chat.clone();
    let (session, created) = detached(async move { open(&chat, &me.user, body).await }).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(Envelope::ok(SessionJson(session))
        .status(status)
        .message(if created {
            "Chat created"
        } else {
            "Chat already exists"
        }))
}

/// `GET /sessions/:id`: the chat with its participants.
pub async fn details(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Envelope<SessionJson>> {
    let id = Id::parse(&id, "chat id")?;
    let session = app.chat.conversation_view(&me.user, id.0).await?;
    Ok(Envelope::ok(SessionJson(session)))
}

/// `PUT /sessions/:id`: changes a group's `name`, `description`, `avatarUrl` (admins only).
pub async fn update(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdatePayload>,
) -> AppResult<Envelope<SessionJson>> {
    let id = Id::parse(&id, "chat id")?;
    let name = match body.name {
        Some(None) => return Err(AppError::validation("a group's name cannot be cleared")),
        Some(Some(name)) => Some(name),
        None => None,
    };
    let change = GroupChange {
        name,
        description: body.description,
        avatar_url: body.avatar_url,
    };
    let session = app.chat.update_group(&me.user, id.0, change).await?;
    Ok(Envelope::ok(SessionJson(session)).message("Chat updated"))
}

/// What `DELETE /sessions/:id` answers.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Left {
    chat_id: String,
    dissolved: bool,
}

/// The query of `DELETE /sessions/:id`.
#[derive(Debug, Deserialize)]
pub struct LeaveQuery {
    /// `true` (or `1`): dissolve the group rather than leave it.
    dissolve: Option<String>,
}

/// `DELETE /sessions/:id`: the caller leaves the group; with `?dissolve=true` an admin
/// dissolves it.
pub async fn leave(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<LeaveQuery>,
) -> AppResult<Envelope<Left>> {
    let id = Id::parse(&id, "chat id")?;
    let dissolve = match query.dissolve.as_deref() {
        None | Some("false" | "0") => false,
        Some("true" | "1") => true,
        Some(_) => return Err(AppError::validation("dissolve must be true or false")),
    };
    let chat = app.chat.clone();
    detached(async move {
        if dissolve {
            chat.dissolve_group(&me.user, id.0).await
        } else {
            chat.leave_group(&me.user, id.0).await
        }
    })
    .await?;
    Ok(Envelope::ok(Left {
        chat_id: id.0.to_string(),
        dissolved: dissolve,
    })
    .message(if dissolve {
        "Chat dissolved"
    } else {
        "Left the chat"
    }))
}

/// `GET /messages/:id/reads`: who of the chat's members has read the message, and when, and
/// who it was delivered to.
pub async fn reads(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Envelope<ReceiptsJson>> {
    let id = Id::parse(&id, "message id")?;
    let found = app.chat.receipts(&me.user, id.0).await?;
    Ok(Envelope::ok(ReceiptsJson(found)))
}

/// `GET /messages/:id/edits`: the contents the message's edits replaced, oldest first (none
/// for a deleted message).
pub async fn edits(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Envelope<Edits>> {
    let id = Id::parse(&id, "message id")?;
    let found = app.chat.edit_history(&me.user, id.0).await?;
    Ok(Envelope::ok(Edits::new(id.0, found)))
}

/// `GET /sessions/:id/online`: the chat's members online now.
pub async fn online(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Envelope<OnlineUsers>> {
    let id = Id::parse(&id, "chat id")?;
    let users = app.chat.online_in(&me.user, id.0).await?;
    Ok(Envelope::ok(OnlineUsers::new(id.0, &users)))
}

/// `POST /sessions/:id/participants`: `{ userIds }` join the group (admins only).
pub async fn add_participants(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<AddPayload>,
) -> AppResult<Envelope<SessionJson>> {
    let id = Id::parse(&id, "chat id")?;
    let chat = app.chat.clone();
    let session =
        detached(async move { chat.add_members(&me.user, id.0, body.user_ids).await }).await?;
    Ok(Envelope::ok(SessionJson(session)).message("Participants added"))
}

/// `DELETE /sessions/:id/participants/:userId`: removes a member (admins; moderators remove
/// members); the caller's own id leaves.
pub async fn remove_participant(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath((id, user)): ApiPath<(String, String)>,
) -> AppResult<Envelope<Left>> {
    let id = Id::parse(&id, "chat id")?;
    let target = UserId::parse_path(&user)?;
    let chat = app.chat.clone();
    detached(async move { chat.remove_member(&me.user, id.0, &target).await }).await?;
    Ok(Envelope::ok(Left {
        chat_id: id.0.to_string(),
        dissolved: false,
    })
    .message("Participant removed"))
}

/// `PUT /sessions/:id/participants/:userId`: `{ role }` (admins only).
pub async fn set_role(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath((id, user)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<RolePayload>,
) -> AppResult<Envelope<SessionJson>> {
    let id = Id::parse(&id, "chat id")?;
    let target = UserId::parse_path(&user)?;
    let role = Role::parse(&body.role)?;
    let session = app.chat.set_role(&me.user, id.0, &target, role).await?;
    Ok(Envelope::ok(SessionJson(session)).message("Role changed"))
}

/// `PUT /messages/:id`: `{ content }`, the sender within `EDIT_WINDOW_SECS`.
pub async fn edit_message(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<EditPayload>,
) -> AppResult<Envelope<MessageJson>> {
    let id = Id::parse(&id, "message id")?;
    let chat = app.chat.clone();
    let edited =
        detached(async move { chat.edit_message(&me.user, id.0, body.content).await }).await?;
    Ok(Envelope::ok(MessageJson(edited)).message("Message edited"))
}

/// `DELETE /messages/:id`: the sender, or a group's admin or moderator.
pub async fn delete_message(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Envelope<Deleted>> {
    let id = Id::parse(&id, "message id")?;
    let chat = app.chat.clone();
    let deleted = detached(async move { chat.delete_message(&me.user, id.0).await }).await?;
    Ok(Envelope::ok(Deleted::from(&deleted)).message("Message deleted"))
}

/// Query of the history.
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    #[serde(flatten)]
    page: PageQuery,
    /// Only messages with a smaller `seq`.
    before: Option<String>,
    /// Only messages with a greater `seq`.
    after: Option<String>,
}

/// `GET /sessions/:id/messages`: newest page first (`page`, `limit`), each page oldest first;
/// `before` and `after` are `seq` cursors. Deleted messages are tombstones in it.
pub async fn history(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> AppResult<Envelope<MessagePage>> {
    let id = Id::parse(&id, "chat id")?;
    let page = query.page.resolve(DEFAULT_MESSAGES)?;
    let cursor = Cursor {
        before: seq_cursor(query.before.as_deref(), "before")?,
        after: seq_cursor(query.after.as_deref(), "after")?,
        before_message: None,
    };
    let found = app.chat.history(&me.user, id.0, page, cursor, true).await?;
    Ok(Envelope::ok(MessagePage::new(found, page.limit)))
}

/// `POST /sessions/:id/messages`: `201` with the stored message; a repeated `Idempotency-Key`
/// (or `clientMsgId`, or `tempId`) answers `200` with the message stored the first time.
pub async fn send(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(mut body): ApiJson<SendPayload>,
) -> AppResult<Envelope<MessageJson>> {
    let id = Id::parse(&id, "chat id")?;
    if let Some(key) = idempotency_key(&headers)? {
        body.client_msg_id = Some(key);
    }
    let input = send_input(id.0, body, None)?;
    let (message, status) = store_message(&app, me.user, input).await?;
    Ok(Envelope::ok(MessageJson(message))
        .status(status)
        .message("Message sent"))
}

/// `POST /attachments`: `multipart/form-data` with a `file` and the `chatId` it is for;
/// `201` with the stored file, to send with `send_message { chatId, fileId }`.
pub async fn attach(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    form: Result<Multipart, MultipartRejection>,
) -> AppResult<Envelope<AttachmentJson>> {
    let mut files = upload::receive(&app, &me.user, form, 1, None).await?;
    let file = files
        .pop()
        .ok_or_else(|| AppError::Internal("an upload went missing".to_owned()))?;
    Ok(Envelope::ok(AttachmentJson(file))
        .status(StatusCode::CREATED)
        .message("File uploaded"))
}

/// `GET /files/:fileId`: a signed link's `expires` and `signature`, or the user's token.
pub async fn download(
    State(app): State<AppState>,
    ApiPath(file): ApiPath<String>,
    ApiQuery(query): ApiQuery<LinkQuery>,
    user: Result<AuthUser, AppError>,
) -> AppResult<Response> {
    upload::download(&app, &file, &query, user).await
}

/// `POST /sessions/:id/read`: marks everything read; the chat hears `messages_read`.
pub async fn read(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Envelope<ReadJson>> {
    let id = Id::parse(&id, "chat id")?;
    let chat = app.chat.clone();
    let receipt = detached(async move { chat.mark_read(&me.user, id.0).await }).await?;
    Ok(Envelope::ok(ReadJson(receipt)).message("Messages marked as read"))
}

/// `GET /sessions/:id/unread`: messages from others the caller has not read.
pub async fn unread(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Envelope<Unread>> {
    let id = Id::parse(&id, "chat id")?;
    let session = app.chat.conversation_view(&me.user, id.0).await?;
    Ok(Envelope::ok(Unread {
        chat_id: session.id.to_string(),
        unread_count: session.unread_count,
    }))
}

/// `GET /sessions/:id/search?q=`: messages containing `q`, case-insensitively, oldest first.
pub async fn search(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> AppResult<Envelope<MessagePage>> {
    let id = Id::parse(&id, "chat id")?;
    let page = query.page.resolve(DEFAULT_MESSAGES)?;
    let term = query.q.as_deref().unwrap_or_default();
    let found = app.chat.search_messages(&me.user, id.0, term, page).await?;
    Ok(Envelope::ok(MessagePage::new(found, page.limit)))
}
