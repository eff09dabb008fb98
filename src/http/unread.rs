//! `GET /unread-count`, `GET /unread`.

use axum::extract::State;
use serde::Serialize;

use crate::auth::http::AuthUser;
use crate::error::AppResult;
use crate::http::views::UnreadJson;
use crate::http::{ApiState, Envelope};

/// What `GET /unread-count` answers.
#[derive(Debug, Serialize)]
pub struct CountJson {
    unread_count: i64,
}

/// `GET /unread-count`: unread messages from others over all the caller's conversations.
pub async fn count(
    State(state): State<ApiState>,
    AuthUser(me): AuthUser,
) -> AppResult<Envelope<CountJson>> {
    let unread_count = state.app.chat.unread_total(&me.user).await?;
    Ok(Envelope::ok(CountJson { unread_count }))
}

/// `GET /unread`: unread counts per conversation, with the other participant.
pub async fn by_conversation(
    State(state): State<ApiState>,
    AuthUser(me): AuthUser,
) -> AppResult<Envelope<Vec<UnreadJson>>> {
    let found = state.app.chat.unread_by_conversation(&me.user).await?;
    Ok(Envelope::ok(
        found.into_iter().map(UnreadJson::from).collect(),
    ))
}
