//! The vocabularies parley speaks, one folder each. A protocol is a thin adapter over the one
//! chat service: its event and room names, its payload shapes and id forms, its REST routes. It
//! holds no rule: every handler parses, calls `crate::service`, and shapes the answer; every
//! change the service tells comes back through [`Protocol::render`] to be said in its words.
//!
//! Each folder has the same files: `mod.rs` (names: events, rooms, REST prefix; what a socket
//! does on connect), `wire.rs` (payloads in and out), `rest.rs` (routes), `events.rs` (socket
//! event handlers), `render.rs` (service event -> event name + payload, to its rooms).
//!
//! `PROTOCOLS` chooses which are spoken. Every enabled protocol's routes are mounted; a socket
//! speaks the protocol its handshake names (`auth.protocol`, else `?protocol=`), else the first
//! enabled, and joins only that protocol's rooms, so each room hears one vocabulary.

pub mod chats;
pub mod conversations;
pub mod sessions;

use std::sync::Arc;

use axum::Router;
use futures_util::future::BoxFuture;
use socketioxide::extract::SocketRef;

use crate::error::AppResult;
use crate::service::ChatEvent;
use crate::state::AppState;
use crate::transport::broadcast::Broadcaster;
use crate::transport::socket::SocketCtx;
use crate::transport::{Spoken, Vocabulary};

/// A vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// The `/api/chat` backends (seeds 002 and 000): `join_conversation`, `new_message`.
    Conversations,
    /// Seed 001's `/api/v1/chat` backend: `join_chat`, `message_received`, string ids.
    Sessions,
    /// Seed 004's `/api/chats` backend: chat requests, blocking, archives, `_id` fields.
    Chats,
}

impl Protocol {
    /// Every protocol, in the order `PROTOCOLS` lists them by default.
    pub const ALL: [Self; 3] = [Self::Conversations, Self::Sessions, Self::Chats];

    /// The protocols a `PROTOCOLS` list names, in its order, each once.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, String> {
        let mut protocols = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let protocol = Self::ALL
                .into_iter()
                .find(|p| p.name() == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = Self::ALL.iter().map(|p| p.name()).collect();
                    format!(
                        "PROTOCOLS names {name:?}; this server speaks {}",
                        known.join(", ")
                    )
                })?;
            if !protocols.contains(&protocol) {
                protocols.push(protocol);
            }
        }
        if protocols.is_empty() {
            return Err("PROTOCOLS names no protocol".to_owned());
        }
        Ok(protocols)
    }

    /// The protocol's REST routes, with their full paths.
    pub fn routes(self) -> Router<AppState> {
        match self {
            Self::Conversations => conversations::rest::routes(),
            Self::Sessions => sessions::rest::routes(),
            Self::Chats => chats::rest::routes(),
        }
    }

    /// The path prefix of the protocol's upload routes, whose bodies may take
    /// `UPLOAD_TIMEOUT_SECS` to arrive.
    pub fn uploads(self) -> Option<&'static str> {
        match self {
            Self::Chats => Some(chats::MEDIA_PREFIX),
            Self::Sessions => Some(sessions::UPLOADS_PATH),
            Self::Conversations => None,
        }
    }

    /// The path of the protocol's file download route, when it serves uploaded files.
    pub fn file_links(self) -> Option<&'static str> {
        match self {
            Self::Chats => Some(chats::FILES_PATH),
            Self::Sessions => Some(sessions::FILES_PATH),
            Self::Conversations => None,
        }
    }

    /// This protocol as the transport holds it.
    pub fn spoken(self) -> Spoken {
        Arc::new(self)
    }
}

impl Vocabulary for Protocol {
    fn name(&self) -> &'static str {
        match self {
            Self::Conversations => "conversations",
            Self::Sessions => "sessions",
            Self::Chats => "chats",
        }
    }

    fn connect<'a>(
        &'a self,
        socket: &'a SocketRef,
        ctx: &'a Arc<SocketCtx>,
    ) -> BoxFuture<'a, AppResult<()>> {
        match self {
            Self::Conversations => {
                conversations::connect(socket, ctx);
                Box::pin(std::future::ready(Ok(())))
            }
            Self::Chats => {
                chats::connect(socket, ctx);
                Box::pin(std::future::ready(Ok(())))
            }
            Self::Sessions => Box::pin(sessions::connect(socket, ctx)),
        }
    }

    fn connected<'a>(
        &'a self,
        socket: &'a SocketRef,
        ctx: &'a Arc<SocketCtx>,
    ) -> BoxFuture<'a, AppResult<()>> {
        match self {
            Self::Conversations | Self::Chats => Box::pin(std::future::ready(Ok(()))),
            Self::Sessions => Box::pin(sessions::connected(socket, ctx)),
        }
    }

    fn authenticate_event(&self) -> Option<&'static str> {
        match self {
            Self::Conversations | Self::Chats => None,
            Self::Sessions => Some(sessions::AUTHENTICATE),
        }
    }

    fn render(&self, event: &ChatEvent<'_>, out: &Broadcaster) {
        match self {
            Self::Conversations => conversations::render::render(event, out),
            Self::Sessions => sessions::render::render(event, out),
            Self::Chats => chats::render::render(event, out),
        }
    }
}

/// The REST routes of every protocol in `protocols`.
pub fn router(protocols: &[Protocol]) -> Router<AppState> {
    protocols
        .iter()
        .fold(Router::new(), |router, p| router.merge(p.routes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_protocols_list_is_read_in_order_once_each_and_unknown_names_are_refused() {
        assert_eq!(
            Protocol::parse_list(" conversations ,conversations,").unwrap(),
            [Protocol::Conversations]
        );
        let unknown = Protocol::parse_list("conversations,smtp").unwrap_err();
        assert!(
            unknown.contains("\"smtp\"") && unknown.contains("conversations"),
            "{unknown}"
        );
        assert!(Protocol::parse_list(" , ").is_err());
    }
}
