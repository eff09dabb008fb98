//! `send_message`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use socketioxide::extract::SocketRef;

use crate::error::AppResult;
use crate::ids::{Id, UserId};
use crate::service::messages::SendInput;
use crate::service::views::MessageView;
use crate::socket::emit::NewMessage;
use crate::socket::{Payload, SocketCtx, parse};

/// The payload of `send_message`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessagePayload {
    /// The other user of a direct conversation.
    pub receiver_id: Option<UserId>,
    /// The conversation.
    pub conversation_id: Option<Id>,
    /// The text.
    pub content: String,
    /// An http(s) URL.
    pub attachment_url: Option<String>,
    /// The client's id for this send; repeating it repeats nothing.
    pub client_msg_id: Option<String>,
}

/// The acknowledgement: the stored message, shaped as `new_message`.
#[derive(Debug)]
pub struct SentAck(MessageView);

impl Serialize for SentAck {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        NewMessage::from(&self.0).serialize(s)
    }
}

/// `send_message`: stores the message, acknowledges after commit; the service broadcasts.
pub async fn send(ctx: Arc<SocketCtx>, _socket: SocketRef, payload: Payload) -> AppResult<SentAck> {
    let p: SendMessagePayload = parse(payload)?;
    let input = SendInput {
        receiver: p.receiver_id,
        conversation_id: p.conversation_id.map(|id| id.0),
        content: p.content,
        attachment_url: p.attachment_url,
        client_msg_id: p.client_msg_id,
    };
    let sent = ctx
        .app
        .chat
        .send_message(&ctx.emitter, &ctx.identity.user, input)
        .await?;
    Ok(SentAck(sent.message))
}
