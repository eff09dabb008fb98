//! The REST routes of the `chats` protocol: under `/api/chats` the chat lists (`active`,
//! `requests`, `archived`), `or-create`, a chat, its answers (`accept`, `reject`), its keeping
//! (`archive`, `unarchive`, `mute`, `unmute`), its messages, read position and search; under
//! `/api/users` blocking.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::error::{AppError, AppResult};
use crate::ids::{Id, UserId};
use crate::protocols::chats::events::{delete, send_input};
use crate::protocols::chats::wire::{
    Block, BlockedList, ChatJson, ChatPage, DeletePayload, Deleted, MessageJson, MessagePage,
    OrCreatePayload, ReactionsJson, ReadJson, SearchResults, SendPayload,
};
use crate::protocols::chats::{CHATS_PREFIX, USERS_PREFIX};
use crate::service::conversations::Folder;
use crate::service::messages::Cursor;
use crate::service::search::{SearchCursor, SearchFrom};
use crate::state::AppState;
use crate::transport::rest::{
    ApiJson, ApiPath, ApiQuery, AuthUser, Envelope, PageQuery, detached, idempotency_key,
    method_not_allowed, store_message,
};

/// Default page size of chat lists.
const DEFAULT_CHATS: u64 = 20;
/// Default page size of message lists.
const DEFAULT_MESSAGES: u64 = 50;

/// Every route, under [`CHATS_PREFIX`] and [`USERS_PREFIX`].
pub fn routes() -> Router<AppState> {
    let chats = Router::new()
        .route("/active", get(active))
        .route("/requests", get(requests))
        .route("/archived", get(archived))
        .route("/or-create", post(or_create))
        .route("/search", get(search_all))
        .route("/{chat}", get(details))
        .route("/{chat}/accept", post(accept))
        .route("/{chat}/reject", post(reject))
        .route("/{chat}/archive", post(archive))
        .route("/{chat}/unarchive", post(unarchive))
        .route("/{chat}/mute", post(mute))
        .route("/{chat}/unmute", post(unmute))
        .route("/{chat}/messages", get(history).post(send))
        .route("/{chat}/read", post(read))
        .route("/{chat}/search", get(search))
        .route(
            "/messages/{message}",
            axum::routing::patch(edit_message).delete(delete_message),
        )
        .route("/messages/{message}/replies", get(replies))
        .route("/messages/{message}/reactions", post(add_reaction))
        .route(
            "/messages/{message}/reactions/{emoji}",
            axum::routing::delete(remove_reaction),
        )
        .method_not_allowed_fallback(method_not_allowed);
    let users = Router::new()
        .route("/blocked", get(blocked))
        .route("/{user}/block", post(block).delete(unblock))
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .nest(CHATS_PREFIX, chats)
        .nest(USERS_PREFIX, users)
        .merge(crate::protocols::chats::media::routes())
}

/// `GET /active`: the caller's chats, most recent first.
pub async fn active(
    state: State<AppState>,
    me: AuthUser,
    query: ApiQuery<PageQuery>,
) -> AppResult<Envelope<ChatPage>> {
    list(state, me, query, Folder::Active).await
}

/// `GET /requests`: chat requests to the caller that they have not answered.
pub async fn requests(
    state: State<AppState>,
    me: AuthUser,
    query: ApiQuery<PageQuery>,
) -> AppResult<Envelope<ChatPage>> {
    list(state, me, query, Folder::Requests).await
}

/// `GET /archived`: the caller's archive.
pub async fn archived(
    state: State<AppState>,
    me: AuthUser,
    query: ApiQuery<PageQuery>,
) -> AppResult<Envelope<ChatPage>> {
    list(state, me, query, Folder::Archived).await
}

async fn list(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiQuery(query): ApiQuery<PageQuery>,
    folder: Folder,
) -> AppResult<Envelope<ChatPage>> {
    let page = query.resolve(DEFAULT_CHATS)?;
    let found = app.chat.list_folder(&me.user, folder, page).await?;
    Ok(Envelope::ok(ChatPage::new(found, page.limit)))
}

/// `POST /or-create`: `{ recipientId }`; `201` with a new chat (a request to the recipient,
/// with requests on), `200` with the pair's existing one.
pub async fn or_create(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(body): ApiJson<OrCreatePayload>,
) -> AppResult<Envelope<ChatJson>> {
    let other = body
        .recipient_id
        .ok_or_else(|| AppError::validation("recipientId is required"))?;
    let chat = app.chat.clone();
    let (view, created) = detached(async move { chat.open_direct(&me.user, &other).await }).await?;
    let (status, message) = if created {
        (StatusCode::CREATED, "Chat created")
    } else {
        (StatusCode::OK, "Chat already exists")
    };
    Ok(Envelope::ok(ChatJson(view)).status(status).message(message))
}

/// `GET /:chatId`: the chat as the caller sees it.
pub async fn details(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(chat): ApiPath<String>,
) -> AppResult<Envelope<ChatJson>> {
    let id = Id::parse(&chat, "chat id")?;
    Ok(Envelope::ok(ChatJson(
        app.chat.conversation_view(&me.user, id.0).await?,
    )))
}

/// `POST /:chatId/accept`: the recipient accepts the chat request.
pub async fn accept(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(chat): ApiPath<String>,
) -> AppResult<Envelope<ChatJson>> {
    let id = Id::parse(&chat, "chat id")?;
    let chat = app.chat.clone();
    let view = detached(async move { chat.accept_request(&me.user, id.0).await }).await?;
    Ok(Envelope::ok(ChatJson(view)).message("Chat request accepted"))
}

/// `POST /:chatId/reject`: the recipient declines the chat request.
pub async fn reject(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(chat): ApiPath<String>,
) -> AppResult<Envelope<ChatJson>> {
    let id = Id::parse(&chat, "chat id")?;
    let chat = app.chat.clone();
    let view = detached(async move { chat.reject_request(&me.user, id.0).await }).await?;
    Ok(Envelope::ok(ChatJson(view)).message("Chat request rejected"))
}

/// `POST /:chatId/archive`.
pub async fn archive(
    state: State<AppState>,
    me: AuthUser,
    chat: ApiPath<String>,
) -> AppResult<Envelope<ChatJson>> {
    keep(state, me, chat, Keeping::Archive(true)).await
}

/// `POST /:chatId/unarchive`.
pub async fn unarchive(
    state: State<AppState>,
    me: AuthUser,
    chat: ApiPath<String>,
) -> AppResult<Envelope<ChatJson>> {
    keep(state, me, chat, Keeping::Archive(false)).await
}

/// `POST /:chatId/mute`.
pub async fn mute(
    state: State<AppState>,
    me: AuthUser,
    chat: ApiPath<String>,
) -> AppResult<Envelope<ChatJson>> {
    keep(state, me, chat, Keeping::Mute(true)).await
}

/// `POST /:chatId/unmute`.
pub async fn unmute(
    state: State<AppState>,
    me: AuthUser,
    chat: ApiPath<String>,
) -> AppResult<Envelope<ChatJson>> {
    keep(state, me, chat, Keeping::Mute(false)).await
}

/// What a member changes of how they keep a chat.
#[derive(Clone, Copy, Debug)]
enum Keeping {
    Archive(bool),
    Mute(bool),
}

async fn keep(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(chat): ApiPath<String>,
    keeping: Keeping,
) -> AppResult<Envelope<ChatJson>> {
    let id = Id::parse(&chat, "chat id")?;
    let (view, message) = match keeping {
        Keeping::Archive(on) => (
            app.chat.archive(&me.user, id.0, on).await?,
            if on {
                "Chat archived"
            } else {
                "Chat unarchived"
            },
        ),
        Keeping::Mute(on) => (
            app.chat.mute(&me.user, id.0, on).await?,
            if on { "Chat muted" } else { "Chat unmuted" },
        ),
    };
    Ok(Envelope::ok(ChatJson(view)).message(message))
}

/// Query of the history.
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    #[serde(flatten)]
    page: PageQuery,
    /// Only messages older than this one (a message id).
    before: Option<String>,
}

/// `GET /:chatId/messages`: newest first; page 1 holds the newest `limit` messages (of those
/// before the message `before`). Deleted messages are tombstones in it.
pub async fn history(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(chat): ApiPath<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> AppResult<Envelope<MessagePage>> {
    let id = Id::parse(&chat, "chat id")?;
    let page = query.page.resolve(DEFAULT_MESSAGES)?;
    let before_message = match query.before.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(Id::parse(text, "before")?.0),
    };
    let cursor = Cursor {
        before_message,
        ..Cursor::default()
    };
    let found = app.chat.history(&me.user, id.0, page, cursor, true).await?;
    Ok(Envelope::ok(MessagePage::newest_first(found, page.limit)))
}

/// `POST /:chatId/messages`: `201` with the stored message; a repeated `Idempotency-Key` (or
/// `clientMsgId`, or `tempId`) answers `200` with the message stored the first time.
pub async fn send(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(chat): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(mut body): ApiJson<SendPayload>,
) -> AppResult<Envelope<MessageJson>> {
    let id = Id::parse(&chat, "chat id")?;
    if let Some(key) = idempotency_key(&headers)? {
        body.client_msg_id = Some(key);
    }
    let input = send_input(id.0, body, None)?;
    let (message, status) = store_message(&app, me.user, input).await?;
    Ok(Envelope::ok(MessageJson(message))
        .status(status)
        .message("Message sent"))
}

/// `POST /:chatId/read`: marks everything read; the chat's room hears `messages_read`.
pub async fn read(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(chat): ApiPath<String>,
) -> AppResult<Envelope<ReadJson>> {
    let id = Id::parse(&chat, "chat id")?;
    let chat = app.chat.clone();
    let receipt = detached(async move { chat.mark_read(&me.user, id.0).await }).await?;
    Ok(Envelope::ok(ReadJson(receipt)).message("Messages marked as read"))
}

/// The query of a search: `q`, `page` and `limit`, or `cursor` and `limit`.
#[derive(Debug, Deserialize)]
pub struct SearchRequest {
    #[serde(flatten)]
    page: PageQuery,
    /// The words to find.
    q: Option<String>,
    /// Where the previous page's `nextCursor` said to carry on.
    cursor: Option<String>,
}

/// `GET /:chatId/search?q=`: the chat's messages matching `q`, best first.
pub async fn search(
    state: State<AppState>,
    me: AuthUser,
    ApiPath(chat): ApiPath<String>,
    query: ApiQuery<SearchRequest>,
) -> AppResult<Envelope<SearchResults>> {
    let id = Id::parse(&chat, "chat id")?;
    find(state, me, Some(id.0), query).await
}

/// `GET /search?q=`: the messages of all the caller's chats matching `q`, best first.
pub async fn search_all(
    state: State<AppState>,
    me: AuthUser,
    query: ApiQuery<SearchRequest>,
) -> AppResult<Envelope<SearchResults>> {
    find(state, me, None, query).await
}

async fn find(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    chat: Option<i64>,
    ApiQuery(query): ApiQuery<SearchRequest>,
) -> AppResult<Envelope<SearchResults>> {
    let page = query.page.resolve(DEFAULT_MESSAGES)?;
    let from = match query.cursor.as_deref().map(str::trim) {
        None | Some("") => SearchFrom::Page(page.page),
        Some(cursor) => SearchFrom::After(SearchCursor::decode(cursor)?),
    };
    let term = query.q.as_deref().unwrap_or_default();
    let found = app
        .chat
        .search(&me.user, chat, term, page.limit, from)
        .await?;
    Ok(Envelope::ok(SearchResults::new(found, page, from)))
}

/// The body of `PATCH /messages/:messageId`.
#[derive(Debug, Deserialize)]
pub struct EditRequest {
    /// The new text.
    content: String,
}

/// `PATCH /messages/:messageId`: `{ content }`, the sender within `EDIT_WINDOW_SECS`.
pub async fn edit_message(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(message): ApiPath<String>,
    ApiJson(body): ApiJson<EditRequest>,
) -> AppResult<Envelope<MessageJson>> {
    let id = Id::parse(&message, "message id")?;
    let chat = app.chat.clone();
    let edited =
        detached(async move { chat.edit_message(&me.user, id.0, body.content).await }).await?;
    Ok(Envelope::ok(MessageJson(edited)).message("Message edited"))
}

/// The query of `DELETE /messages/:messageId`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteQuery {
    /// `false`: for the caller only.
    for_everyone: Option<String>,
    /// `me` or `everyone`.
    delete_for: Option<String>,
}

/// `DELETE /messages/:messageId`: for everyone (the default), or with `forEveryone=false` (or
/// `deleteFor=me`) for the caller only.
pub async fn delete_message(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(message): ApiPath<String>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> AppResult<Envelope<Deleted>> {
    let id = Id::parse(&message, "message id")?;
    let for_everyone = match query.for_everyone.as_deref() {
        None => None,
        Some("true" | "1") => Some(true),
        Some("false" | "0") => Some(false),
        Some(_) => return Err(AppError::validation("forEveryone must be true or false")),
    };
    let asked = DeletePayload {
        message_id: id,
        for_everyone,
        delete_for: query.delete_for,
    };
    let for_everyone = asked.for_everyone()?;
    let chat = app.chat.clone();
    let deleted =
        detached(async move { delete(&chat, &me.user, id.0, for_everyone).await }).await?;
    Ok(Envelope::ok(deleted).message("Message deleted"))
}

/// `GET /messages/:messageId/replies`: the message's live replies, oldest first.
pub async fn replies(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(message): ApiPath<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> AppResult<Envelope<MessagePage>> {
    let id = Id::parse(&message, "message id")?;
    let page = query.resolve(DEFAULT_MESSAGES)?;
    let found = app.chat.replies(&me.user, id.0, page).await?;
    Ok(Envelope::ok(MessagePage::in_order(found, page.limit)))
}

/// The body of `POST /messages/:messageId/reactions`.
#[derive(Debug, Deserialize)]
pub struct ReactionRequest {
    /// The emoji.
    emoji: String,
}

/// `POST /messages/:messageId/reactions`: `{ emoji }`; the room hears `reaction_added`.
pub async fn add_reaction(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(message): ApiPath<String>,
    ApiJson(body): ApiJson<ReactionRequest>,
) -> AppResult<Envelope<ReactionsJson>> {
    let id = Id::parse(&message, "message id")?;
    let chat = app.chat.clone();
    let view = detached(async move { chat.react(&me.user, id.0, &body.emoji, true).await }).await?;
    Ok(Envelope::ok(ReactionsJson(view)).message("Reaction added"))
}

/// `DELETE /messages/:messageId/reactions/:emoji`; the room hears `reaction_removed`.
pub async fn remove_reaction(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath((message, emoji)): ApiPath<(String, String)>,
) -> AppResult<Envelope<ReactionsJson>> {
    let id = Id::parse(&message, "message id")?;
    let chat = app.chat.clone();
    let view = detached(async move { chat.react(&me.user, id.0, &emoji, false).await }).await?;
    Ok(Envelope::ok(ReactionsJson(view)).message("Reaction removed"))
}

/// `POST /api/users/:userId/block`.
pub async fn block(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(user): ApiPath<String>,
) -> AppResult<Envelope<Block>> {
    let other = UserId::parse_path(&user)?;
    let chat = app.chat.clone();
    let block = detached(async move { chat.block(&me.user, &other).await }).await?;
    Ok(Envelope::ok(Block::from(&block)).message("User blocked"))
}

/// `DELETE /api/users/:userId/block`.
pub async fn unblock(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(user): ApiPath<String>,
) -> AppResult<Envelope<Block>> {
    let other = UserId::parse_path(&user)?;
    let block = app.chat.unblock(&me.user, &other).await?;
    Ok(Envelope::ok(Block::from(&block)).message("User unblocked"))
}

/// `GET /api/users/blocked`: the users the caller blocks, the latest first.
pub async fn blocked(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
) -> AppResult<Envelope<BlockedList>> {
    Ok(Envelope::ok(BlockedList(
        app.chat.blocked_users(&me.user).await?,
    )))
}
