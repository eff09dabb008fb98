//! `POST /send`, `GET /conversations/:id/messages`, `GET /conversations/:id/search`,
//! `DELETE /messages/:id`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use crate::auth::http::AuthUser;
use crate::error::{AppError, AppResult};
use crate::http::views::{MessageJson, MessagePage};
use crate::http::{ApiJson, ApiPath, ApiQuery, ApiState, Envelope, PageQuery, detached};
use crate::ids::{Id, UserId};
use crate::service::messages::SendInput;

/// Default page size of message lists.
const DEFAULT_LIMIT: u64 = 50;

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
    State(state): State<ApiState>,
    AuthUser(me): AuthUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SendRequest>,
) -> AppResult<Envelope<MessageJson>> {
    let key = match headers.get("idempotency-key") {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| AppError::validation("Idempotency-Key must be printable text"))?
                .to_owned(),
        ),
        None => None,
    };
    let input = SendInput {
        receiver: body.receiver_id,
        conversation_id: body.conversation_id.map(|id| id.0),
        content: body.content,
        attachment_url: body.attachment_url,
        client_msg_id: key,
    };
    let (chat, emitter) = (state.app.chat.clone(), state.emitter.clone());
    let sent = detached(async move { chat.send_message(&emitter, &me.user, input).await }).await?;
    let status = if sent.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(Envelope::ok(MessageJson::from(sent.message))
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
    State(state): State<ApiState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> AppResult<Envelope<MessagePage>> {
    let id = Id::parse(&id, "conversation id")?;
    let page = query.page.resolve(DEFAULT_LIMIT)?;
    let after_seq = match query.after_seq.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(t) => Some(
            t.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| AppError::validation("after_seq must be a non-negative integer"))?,
        ),
    };
    let found = state
        .app
        .chat
        .list_messages(&me.user, id.0, page, after_seq)
        .await?;
    Ok(Envelope::ok(MessagePage::from(found)))
}

/// Query of the search.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    #[serde(flatten)]
    page: PageQuery,
    /// The text to find.
    q: Option<String>,
}

/// `GET /conversations/:id/search?q=`.
pub async fn search(
    State(state): State<ApiState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> AppResult<Envelope<MessagePage>> {
    let id = Id::parse(&id, "conversation id")?;
    let page = query.page.resolve(DEFAULT_LIMIT)?;
    let term = query.q.as_deref().unwrap_or_default();
    let found = state
        .app
        .chat
        .search_messages(&me.user, id.0, term, page)
        .await?;
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
    State(state): State<ApiState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Envelope<DeletedJson>> {
    let id = Id::parse(&id, "message id")?;
    let (chat, emitter) = (state.app.chat.clone(), state.emitter.clone());
    let deleted =
        detached(async move { chat.delete_message(&emitter, &me.user, id.0).await }).await?;
    Ok(Envelope::ok(DeletedJson {
        id: deleted.id,
        conversation_id: deleted.conversation_id,
        deleted_at: deleted.deleted_at,
    })
    .message("Message deleted"))
}
