//! The Socket.IO connect middleware: a refused token becomes the client's `connect_error`.

use serde_json::Value;
use socketioxide::extract::{SocketRef, State, TryData};

use std::sync::Arc;

use crate::auth::bearer;
use crate::socket::Intake;
use crate::state::AppState;

/// Why a connection was refused; its text is the client's `connect_error` message.
#[derive(Debug)]
pub struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Finds the token (handshake `auth.token`, else `Authorization: Bearer`, else `?token=`),
/// verifies it, records the user, and keeps the identity in the socket's extensions.
pub async fn authenticate(
    socket: SocketRef,
    State(app): State<AppState>,
    State(intake): State<Arc<Intake>>,
    TryData(auth): TryData<Value>,
) -> Result<(), Refused> {
    if intake.is_closed() {
        return Err(Refused(
            "the server is shutting down: connect again".to_owned(),
        ));
    }
    let token = token_from(&socket, auth.ok().as_ref())
        .ok_or_else(|| Refused("missing token: pass auth.token".to_owned()))?;
    let identity = app
        .verifier
        .verify(&token)
        .map_err(|e| Refused(e.to_string()))?;
    app.chat
        .remember_identity(&identity)
        .await
        .map_err(|e| Refused(e.to_string()))?;
    socket.extensions.insert(identity);
    Ok(())
}

fn token_from(socket: &SocketRef, auth: Option<&Value>) -> Option<String> {
    let from_auth = auth
        .and_then(|a| a.get("token"))
        .and_then(Value::as_str)
        .map(|t| bearer(Some(t)).unwrap_or(t).trim().to_owned())
        .filter(|t| !t.is_empty());
    if from_auth.is_some() {
        return from_auth;
    }
    let parts = socket.req_parts();
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(t) = bearer(header) {
        return Some(t.to_owned());
    }
    parts.uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == "token")
            .map(|(_, v)| v.to_owned())
            .filter(|v| !v.is_empty())
    })
}
