//! The REST routes of the `conversations` protocol, under `/api/chat`: `POST /send`,
//! `GET /conversations`, `GET /conversations/:id/messages`, `PUT /conversations/:id/read`,
//! `GET /conversations/:id/search`, `DELETE /messages/:id`, `GET /unread-count`, `GET /unread`.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post, put};
use serde::{Deserialize, Serialize};

use crate::error::AppResult;
use crate::ids::{Id, UserId};
use crate::protocols::conversations::PREFIX;
use crate::protocols::conversations::wire::{
    ConversationPage, MessageJson, MessagePage, UnreadJson,
};
use crate::service::messages::SendInput;
use crate::state::AppState;
use crate::transport::rest::{
    ApiJson, ApiPath, ApiQuery, AuthUser, Envelope, PageQuery, SearchQuery, detached,
    idempotency_key, method_not_allowed, seq_cursor, store_message,
};

/// Default page size of message lists.
const DEFAULT_LIMIT: u64 = 50;
/// Default page size of conversation lists.
const DEFAULT_CONVERSATIONS: u64 = 20;

/// Every route, under [`PREFIX`].
pub fn routes() -> Router<AppState> {
    let chat = Router::new()
        .route("/send", post(send))
        .route("/conversations", get(list_conversations))
        .route("/conversations/{id}/messages", get(list))
        .route("/conversations/{id}/read", put(read))
        .route("/conversations/{id}/search", get(search))
        .route("/messages/{id}", axum::routing::delete(delete))
        .route("/unread-count", get(unread_count))
        .route("/unread", get(unread_by_conversation))
        .method_not_allowed_fallback(method_not_allowed);
    Router::new().nest(PREFIX, chat)
}

/// The body of `POST /send`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendRequest {
    /// The other user.
    #[serde(alias = "receiver_id")]
    pub receiver_id: Option<UserId>,
    /// The conversation.
    #[serde(alias = "conversation_id")]
    pub conversation_id: Option<Id>,
    /// The text.
    pub content: String,
    /// An http(s) URL.
    #[serde(alias = "attachment_url")]
    pub attachment_url: Option<String>,
}

/// `POST /send`: `201` with the stored message; a repeated `Idempotency-Key` answers `200` with
/// the message stored the first time.
pub async fn send(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SendRequest>,
) -> AppResult<Envelope<MessageJson>> {
    let key = idempotency_key(&headers)?;
    let input = SendInput {
        receiver: body.receiver_id,
        conversation_id: body.conversation_id.map(|id| id.0),
        content: body.content,
        attachment_url: body.attachment_url,
        client_msg_id: key,
        origin: None,
        kind: None,
        attachment: Default::default(),
        reply_to: None,
        file_id: None,
    };
    let (message, status) = store_message(&app, me.user, input).await?;
    Ok(Envelope::ok(MessageJson::from(message))
        .status(status)
        .message("Message sent"))
}

/// Query of the message list.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(flatten)]
    page: PageQuery,
    /// Only messages with a greater `seq` (catch-up after a reconnect).
    after_seq: Option<String>,
}

/// `GET /conversations/:id/messages`.
pub async fn list(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> AppResult<Envelope<MessagePage>> {
    let id = Id::parse(&id, "conversation id")?;
    let page = query.page.resolve(DEFAULT_LIMIT)?;
    let after_seq = seq_cursor(query.after_seq.as_deref(), "after_seq")?;
    let found = app
        .chat
        .list_messages(&me.user, id.0, page, after_seq)
        .await?;
    Ok(Envelope::ok(MessagePage::from(found)))
}

/// `GET /conversations/:id/search?q=`.
pub async fn search(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> AppResult<Envelope<MessagePage>> {
    let id = Id::parse(&id, "conversation id")?;
    let page = query.page.resolve(DEFAULT_LIMIT)?;
    let term = query.q.as_deref().unwrap_or_default();
    let found = app.chat.search_messages(&me.user, id.0, term, page).await?;
    Ok(Envelope::ok(MessagePage::from(found)))
}

/// What `DELETE /messages/:id` answers.
#[derive(Debug, Serialize)]
pub struct DeletedJson {
    id: i64,
    conversation_id: i64,
    #[serde(serialize_with = "crate::time::serde_rfc3339::option")]
    deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// `DELETE /messages/:id`: soft delete, sender only.
pub async fn delete(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Envelope<DeletedJson>> {
    let id = Id::parse(&id, "message id")?;
    let chat = app.chat.clone();
    let deleted = detached(async move { chat.delete_message(&me.user, id.0).await }).await?;
    Ok(Envelope::ok(DeletedJson {
        id: deleted.id,
        conversation_id: deleted.conversation_id,
        deleted_at: deleted.deleted_at,
    })
    .message("Message deleted"))
}

/// `GET /conversations`: the caller's conversations, most recent first.
pub async fn list_conversations(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> AppResult<Envelope<ConversationPage>> {
    let page = query.resolve(DEFAULT_CONVERSATIONS)?;
    let found = app.chat.list_conversations(&me.user, page).await?;
    Ok(Envelope::ok(ConversationPage::from(found)))
}

/// What `PUT /conversations/:id/read` answers.
#[derive(Debug, Serialize)]
pub struct ReadJson {
    conversation_id: i64,
    last_read_seq: i64,
    updated: u64,
}

/// `PUT /conversations/:id/read`: marks everything read; the room hears `messages_read`.
pub async fn read(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Envelope<ReadJson>> {
    let id = Id::parse(&id, "conversation id")?;
    let chat = app.chat.clone();
    let receipt = detached(async move { chat.mark_read(&me.user, id.0).await }).await?;
    Ok(Envelope::ok(ReadJson {
        conversation_id: receipt.conversation_id,
        last_read_seq: receipt.last_read_seq,
        updated: receipt.updated,
    })
    .message("Messages marked as read"))
}

/// What `GET /unread-count` answers.
#[derive(Debug, Serialize)]
pub struct CountJson {
    unread_count: i64,
}

/// `GET /unread-count`: unread messages from others over all the caller's conversations.
pub async fn unread_count(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
) -> AppResult<Envelope<CountJson>> {
    let unread_count = app.chat.unread_total(&me.user).await?;
    Ok(Envelope::ok(CountJson { unread_count }))
}

/// `GET /unread`: unread counts per conversation, with the other participant.
pub async fn unread_by_conversation(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
) -> AppResult<Envelope<Vec<UnreadJson>>> {
    let found = app.chat.unread_by_conversation(&me.user).await?;
    Ok(Envelope::ok(
        found.into_iter().map(UnreadJson::from).collect(),
    ))
}
