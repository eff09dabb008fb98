//! The wire vocabulary of the server: every event name, every room name, and every payload the
//! server emits, in one file. [`Emitter`] turns the service's domain events into broadcasts.
//!
//! A broadcast is serialized once and handed to each socket it reaches, one by one, so that a
//! socket that cannot take it (its outgoing buffer of `SOCKET_BUFFER_PACKETS` is full: the client
//! stopped reading) is known: its connection is closed ([`crate::socket::cut_off`]) rather than
//! the event silently lost. The client reconnects and catches up by `seq`.

use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;
use socketioxide::operators::BroadcastOperators;

use crate::ids::UserId;
use crate::service::ChatEvents;
use crate::service::views::{MessageView, PresenceView, ReadReceipt, UserView};
use crate::time::serde_rfc3339;

/// Client event: join a conversation's room.
pub const JOIN_CONVERSATION: &str = "join_conversation";
/// Client event: leave a conversation's room.
pub const LEAVE_CONVERSATION: &str = "leave_conversation";
/// Client event: send a message.
pub const SEND_MESSAGE: &str = "send_message";
/// Client event: the user is typing.
pub const TYPING: &str = "typing";
/// Client event: the user stopped typing.
pub const STOP_TYPING: &str = "stop_typing";
/// Client event: mark a conversation read.
pub const MARK_AS_READ: &str = "mark_as_read";
/// Client event: join the personal room (joined on connect anyway).
pub const JOIN_PERSONAL_ROOM: &str = "join_personal_room";

/// Server event: a message in a conversation the socket joined.
pub const NEW_MESSAGE: &str = "new_message";
/// Server event: a message for the user, to sockets not in the conversation room.
pub const MESSAGE_NOTIFICATION: &str = "message_notification";
/// Server event: a message was deleted.
pub const MESSAGE_DELETED: &str = "message_deleted";
/// Server event: someone is typing.
pub const USER_TYPING: &str = "user_typing";
/// Server event: someone stopped typing (or their typing expired).
pub const USER_STOPPED_TYPING: &str = "user_stopped_typing";
/// Server event: someone read the conversation.
pub const MESSAGES_READ: &str = "messages_read";
/// Server event: someone joined the conversation room.
pub const USER_JOINED: &str = "user_joined";
/// Server event: someone left the conversation room.
pub const USER_LEFT: &str = "user_left";
/// Server event: a conversation partner came online or went offline.
pub const ONLINE_STATUS: &str = "online_status";
/// Server event: a client event without an acknowledgement failed.
pub const ERROR: &str = "error";

/// The room of a conversation.
pub fn conversation_room(id: i64) -> String {
    format!("conversation:{id}")
}

/// The personal room of a user: all their sockets.
pub fn user_room(user: &UserId) -> String {
    format!("user:{}", user.key())
}

/// `new_message`, and the acknowledgement of `send_message`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewMessage<'a> {
    id: i64,
    conversation_id: i64,
    seq: i64,
    sender_id: &'a UserId,
    receiver_id: Option<&'a UserId>,
    content: &'a str,
    attachment_url: Option<&'a str>,
    kind: &'a str,
    reply_to: Option<i64>,
    client_msg_id: Option<&'a str>,
    is_read: bool,
    #[serde(serialize_with = "serde_rfc3339::serialize")]
    created_at: chrono::DateTime<chrono::Utc>,
    sender: &'a UserView,
}

impl<'a> From<&'a MessageView> for NewMessage<'a> {
    fn from(m: &'a MessageView) -> Self {
        Self {
            id: m.id,
            conversation_id: m.conversation_id,
            seq: m.seq,
            sender_id: &m.sender.id,
            receiver_id: m.receiver.as_ref().map(|r| &r.id),
            content: &m.content,
            attachment_url: m.attachment_url.as_deref(),
            kind: &m.kind,
            reply_to: m.reply_to,
            client_msg_id: m.client_msg_id.as_deref(),
            is_read: m.read_at.is_some(),
            created_at: m.created_at,
            sender: &m.sender,
        }
    }
}

/// `message_notification`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageNotification<'a> {
    from: &'a UserId,
    conversation_id: i64,
    message_id: i64,
    content: &'a str,
    #[serde(serialize_with = "serde_rfc3339::serialize")]
    timestamp: chrono::DateTime<chrono::Utc>,
    sender: &'a UserView,
}

/// `message_deleted`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageDeleted {
    message_id: i64,
    conversation_id: i64,
    #[serde(serialize_with = "serde_rfc3339::option")]
    deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// `messages_read`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MessagesRead<'a> {
    conversation_id: i64,
    user_id: &'a UserId,
    last_read_seq: i64,
    #[serde(serialize_with = "serde_rfc3339::serialize")]
    read_at: chrono::DateTime<chrono::Utc>,
}

/// `online_status`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OnlineStatus<'a> {
    user_id: &'a UserId,
    is_online: bool,
    status: &'static str,
    #[serde(serialize_with = "serde_rfc3339::option")]
    last_seen: Option<chrono::DateTime<chrono::Utc>>,
}

/// `user_typing` and `user_stopped_typing`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TypingPayload<'a> {
    /// Who.
    pub user_id: &'a UserId,
    /// Where.
    pub conversation_id: i64,
}

/// `user_joined` and `user_left`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipPayload<'a> {
    /// Who.
    pub user_id: &'a UserId,
    /// Where.
    pub conversation_id: i64,
    /// A sentence for display.
    pub message: String,
}

/// `error`, for a client event sent without an acknowledgement.
#[derive(Debug, Serialize)]
pub struct ErrorPayload<'a> {
    /// The client event that failed.
    pub event: &'a str,
    /// Error code.
    pub code: &'a str,
    /// What went wrong.
    pub message: &'a str,
}

/// Emits `event` to everyone in `room` but `socket` itself.
pub async fn to_others<T: Serialize + ?Sized>(
    socket: &SocketRef,
    room: String,
    event: &str,
    data: &T,
) {
    deliver(socket.to(room), event, data);
}

/// Sends `event` to each socket `target` selects on this node, serialized once; a socket whose
/// buffer is full is cut off.
fn deliver<T: Serialize + ?Sized>(target: BroadcastOperators, event: &str, data: &T) {
    let sockets = target.sockets();
    if sockets.is_empty() {
        return;
    }
    let encoded = match serde_json::value::to_raw_value(data) {
        Ok(encoded) => encoded,
        Err(e) => {
            tracing::error!(event, error = %e, "cannot serialize a broadcast");
            return;
        }
    };
    for socket in sockets {
        if let Err(e) = socket.emit(event, &encoded) {
            crate::socket::undelivered(&socket, event, &e);
        }
    }
}

/// Broadcasts the service's events over Socket.IO.
#[derive(Clone, Debug)]
pub struct Emitter {
    io: SocketIo,
}

impl Emitter {
    /// An emitter over `io`.
    pub fn new(io: SocketIo) -> Self {
        Self { io }
    }

    /// The namespace, or `None` once the server is closing (socketioxide panics on a lookup of
    /// a namespace `close` removed).
    fn ns(&self) -> Option<BroadcastOperators> {
        self.io.of("/")
    }

    /// Whether the server still serves the namespace (it stops when the server closes).
    pub fn is_open(&self) -> bool {
        self.ns().is_some()
    }

    /// Disconnects the socket `sid`, if it is still connected.
    pub fn disconnect(&self, sid: socketioxide::socket::Sid) {
        if let Some(socket) = self.ns().and_then(|ns| ns.get_socket(sid))
            && let Err(e) = socket.disconnect()
        {
            tracing::debug!(%sid, error = %e, "disconnect failed");
        }
    }

    /// Emits `event` to `room` (see [`deliver`]).
    pub async fn to_room<T: Serialize + ?Sized>(&self, room: String, event: &str, data: &T) {
        let Some(ns) = self.ns() else { return };
        deliver(ns.to(room), event, data);
    }
}

impl Emitter {
    /// Emits `event` to `room` except the socket `except`, when it is given and still connected.
    pub async fn to_room_except<T: Serialize + ?Sized>(
        &self,
        room: String,
        except: Option<socketioxide::socket::Sid>,
        event: &str,
        data: &T,
    ) {
        let socket = except.and_then(|sid| self.ns()?.get_socket(sid));
        match socket {
            Some(socket) => to_others(&socket, room, event, data).await,
            None => self.to_room(room, event, data).await,
        }
    }
}

impl ChatEvents for Emitter {
    async fn message_created(&self, m: &MessageView) {
        let room = conversation_room(m.conversation_id);
        self.to_room(room.clone(), NEW_MESSAGE, &NewMessage::from(m))
            .await;
        let notification = MessageNotification {
            from: &m.sender.id,
            conversation_id: m.conversation_id,
            message_id: m.id,
            content: &m.content,
            timestamp: m.created_at,
            sender: &m.sender,
        };
        let Some(ns) = self.ns() else { return };
        for recipient in m.recipients() {
            let target = ns.clone().to(user_room(recipient)).except(room.clone());
            deliver(target, MESSAGE_NOTIFICATION, &notification);
        }
    }

    async fn message_deleted(&self, m: &MessageView) {
        let payload = MessageDeleted {
            message_id: m.id,
            conversation_id: m.conversation_id,
            deleted_at: m.deleted_at,
        };
        self.to_room(
            conversation_room(m.conversation_id),
            MESSAGE_DELETED,
            &payload,
        )
        .await;
    }

    async fn messages_read(&self, r: &ReadReceipt) {
        let payload = MessagesRead {
            conversation_id: r.conversation_id,
            user_id: &r.user,
            last_read_seq: r.last_read_seq,
            read_at: r.read_at,
        };
        self.to_room(
            conversation_room(r.conversation_id),
            MESSAGES_READ,
            &payload,
        )
        .await;
    }

    async fn presence_changed(&self, p: &PresenceView, partners: &[UserId]) {
        if partners.is_empty() {
            return;
        }
        let payload = OnlineStatus {
            user_id: &p.user,
            is_online: p.online,
            status: if p.online { "online" } else { "offline" },
            last_seen: p.last_seen,
        };
        let Some(ns) = self.ns() else { return };
        let rooms: Vec<String> = partners.iter().map(user_room).collect();
        deliver(ns.to(rooms), ONLINE_STATUS, &payload);
    }
}
