//! `GET /conversations`, `PUT /conversations/:id/read`.

use axum::extract::State;
use serde::Serialize;

use crate::auth::http::AuthUser;
use crate::error::AppResult;
use crate::http::views::ConversationPage;
use crate::http::{ApiPath, ApiQuery, ApiState, Envelope, PageQuery, detached};
use crate::ids::Id;

/// Default page size of conversation lists.
const DEFAULT_LIMIT: u64 = 20;

/// `GET /conversations`: the caller's conversations, most recent first.
pub async fn list(
    State(state): State<ApiState>,
    AuthUser(me): AuthUser,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> AppResult<Envelope<ConversationPage>> {
    let page = query.resolve(DEFAULT_LIMIT)?;
    let found = state.app.chat.list_conversations(&me.user, page).await?;
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
    State(state): State<ApiState>,
    AuthUser(me): AuthUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Envelope<ReadJson>> {
    let id = Id::parse(&id, "conversation id")?;
    let (chat, emitter) = (state.app.chat.clone(), state.emitter.clone());
    let receipt = detached(async move { chat.mark_read(&emitter, &me.user, id.0).await }).await?;
    Ok(Envelope::ok(ReadJson {
        conversation_id: receipt.conversation_id,
        last_read_seq: receipt.last_read_seq,
        updated: receipt.updated,
    })
    .message("Messages marked as read"))
}
