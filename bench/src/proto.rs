//! Engine.IO v4 / Socket.IO v5 framing over WebSocket text frames: the few packets the load
//! generator writes, and a cheap classification of the ones it reads.
//!
//! Only the default namespace `/` and text frames are used. Incoming packets are told apart by
//! their first bytes; only acknowledgements and `new_message` events go through `serde_json`.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// The engine.io ping the server sends; the client answers [`PONG`].
pub(crate) const PING: &str = "2";
/// The engine.io pong.
pub(crate) const PONG: &str = "3";
/// Socket.IO DISCONNECT from the default namespace.
pub(crate) const DISCONNECT: &str = "41";

/// Prefix of the `clientMsgId` of every message the generator sends, followed by the message's
/// global index in the run.
pub(crate) const CLIENT_MSG_PREFIX: &str = "b";

/// The 100-byte content of every message.
pub(crate) const CONTENT: &str = "parley-bench 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 -----------";

/// Acknowledgement ids at or above this one belong to `join_conversation`; below, an ack id is the
/// global index of the message sent.
pub(crate) const JOIN_ACK_BASE: u32 = 1 << 31;

/// CONNECT to `/` with `{"token": ...}` as auth.
pub(crate) fn connect_frame(token: &str) -> String {
    // A JWT is base64url and dots: nothing to escape.
    format!("40{{\"token\":\"{token}\"}}")
}

/// `join_conversation` with acknowledgement id `ack`.
pub(crate) fn join_frame(ack: u32, conversation: i64) -> String {
    format!("42{ack}[\"join_conversation\",{{\"conversationId\":{conversation}}}]")
}

/// `send_message` of message `index` (also its ack id and, prefixed, its `clientMsgId`).
pub(crate) fn send_frame(index: u32, conversation: i64) -> String {
    let mut s = String::with_capacity(CONTENT.len() + 96);
    // Writing to a String cannot fail.
    let _ = write!(
        s,
        "42{index}[\"send_message\",{{\"conversationId\":{conversation},\"content\":\"{CONTENT}\",\"clientMsgId\":\"{CLIENT_MSG_PREFIX}{index}\"}}]"
    );
    s
}

/// The global message index in a `clientMsgId` the generator made, if it is one.
pub(crate) fn parse_client_msg_id(id: &str) -> Option<u32> {
    id.strip_prefix(CLIENT_MSG_PREFIX)?.parse().ok()
}

/// What an incoming text frame is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Incoming<'a> {
    /// Engine.IO OPEN (`0{...}`), the handshake.
    Open,
    /// Engine.IO PING: answer [`PONG`].
    Ping,
    /// Engine.IO CLOSE.
    Close,
    /// Socket.IO CONNECT accepted (`40{...}`).
    Connected,
    /// Socket.IO CONNECT_ERROR (`44{...}`), with its JSON body.
    ConnectError(&'a str),
    /// Socket.IO DISCONNECT (`41`).
    Disconnect,
    /// Socket.IO ACK (`43<id>[...]`): its id and the JSON array of its arguments.
    Ack {
        /// The acknowledgement id the client chose.
        id: u32,
        /// `[ ... ]`.
        args: &'a str,
    },
    /// A `new_message` event: the JSON object of the message.
    NewMessage(&'a str),
    /// Any other event, ignored.
    OtherEvent,
    /// Anything else (noop, pong, packets of other namespaces).
    Other,
}

const NEW_MESSAGE_PREFIX: &str = "42[\"new_message\",";

/// Classifies a text frame by its first bytes.
pub(crate) fn classify(frame: &str) -> Incoming<'_> {
    if let Some(rest) = frame.strip_prefix(NEW_MESSAGE_PREFIX) {
        return match rest.strip_suffix(']') {
            Some(body) => Incoming::NewMessage(body),
            None => Incoming::Other,
        };
    }
    let bytes = frame.as_bytes();
    match bytes {
        [b'2', ..] if frame == PING => Incoming::Ping,
        [b'0', ..] => Incoming::Open,
        [b'1', ..] => Incoming::Close,
        [b'4', b'0', ..] => Incoming::Connected,
        [b'4', b'1', ..] => Incoming::Disconnect,
        [b'4', b'2', ..] => Incoming::OtherEvent,
        [b'4', b'4', ..] => Incoming::ConnectError(&frame[2..]),
        [b'4', b'3', ..] => {
            let rest = &frame[2..];
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            match rest[..digits].parse() {
                Ok(id) => Incoming::Ack {
                    id,
                    args: &rest[digits..],
                },
                Err(_) => Incoming::Other,
            }
        }
        _ => Incoming::Other,
    }
}

/// An integer id that may arrive as a JSON number or as a string of digits (a Node server on
/// PostgreSQL may render `bigint` columns as strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Num(pub(crate) i64);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumVisitor;
        impl Visitor<'_> for NumVisitor {
            type Value = Num;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an integer or a string of digits")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                i64::try_from(v).map(Num).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                v.parse().map(Num).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(NumVisitor)
    }
}

/// The fields of a message (in `new_message` or a `send_message` ack) the generator checks.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessageRef<'a> {
    /// Database id.
    pub(crate) id: Num,
    /// Conversation.
    pub(crate) conversation_id: Num,
    /// Position in the conversation.
    pub(crate) seq: Num,
    /// The id the sender gave.
    #[serde(borrow, default)]
    pub(crate) client_msg_id: Option<Cow<'a, str>>,
}

/// Parses the object of a `new_message` event.
pub(crate) fn parse_message(body: &str) -> Result<MessageRef<'_>, serde_json::Error> {
    serde_json::from_str(body)
}

/// The error of a refused event.
#[derive(Debug, Deserialize)]
pub(crate) struct AckError {
    /// `VALIDATION`, `RATE_LIMITED` ...
    #[serde(default)]
    pub(crate) code: String,
    /// Human-readable text.
    #[serde(default)]
    pub(crate) message: String,
}

/// `{ success, data?, error? }`, the one argument of every acknowledgement.
#[derive(Debug, Deserialize)]
pub(crate) struct AckEnvelope<T> {
    /// Whether the event succeeded.
    pub(crate) success: bool,
    /// The result on success.
    pub(crate) data: Option<T>,
    /// The reason on failure.
    pub(crate) error: Option<AckError>,
}

/// Parses the argument array `[{"success":...}]` of an acknowledgement.
pub(crate) fn parse_ack<'a, T: Deserialize<'a>>(
    args: &'a str,
) -> Result<AckEnvelope<T>, serde_json::Error> {
    let (envelope,): (AckEnvelope<T>,) = serde_json::from_str(args)?;
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_socket_io_v5() {
        assert_eq!(connect_frame("a.b.c"), r#"40{"token":"a.b.c"}"#);
        assert_eq!(
            join_frame(JOIN_ACK_BASE, 7),
            r#"422147483648["join_conversation",{"conversationId":7}]"#
        );
        let send = send_frame(12, 3);
        assert!(send.starts_with(r#"4212["send_message",{"conversationId":3,"content":""#));
        assert!(send.ends_with(r#"","clientMsgId":"b12"}]"#));
        assert_eq!(CONTENT.len(), 100);
        let v: serde_json::Value = serde_json::from_str(&send[4..]).unwrap();
        assert_eq!(v[1]["content"], CONTENT);
    }

    #[test]
    fn incoming_frames_are_classified() {
        assert_eq!(classify("2"), Incoming::Ping);
        assert_eq!(classify(r#"0{"sid":"x"}"#), Incoming::Open);
        assert_eq!(classify(r#"40{"sid":"x"}"#), Incoming::Connected);
        assert_eq!(
            classify(r#"44{"message":"no"}"#),
            Incoming::ConnectError(r#"{"message":"no"}"#)
        );
        assert_eq!(classify("41"), Incoming::Disconnect);
        assert_eq!(classify("1"), Incoming::Close);
        assert_eq!(classify(r#"42["user_joined",{}]"#), Incoming::OtherEvent);
        assert_eq!(
            classify(r#"4317[{"success":true}]"#),
            Incoming::Ack {
                id: 17,
                args: r#"[{"success":true}]"#
            }
        );
        assert_eq!(classify("43[]"), Incoming::Other);
        assert_eq!(
            classify(r#"42["new_message",{"id":1}]"#),
            Incoming::NewMessage(r#"{"id":1}"#)
        );
    }

    #[test]
    fn messages_and_acks_parse_with_numbers_or_strings() {
        let m = parse_message(
            r#"{"id":"41","conversationId":2,"seq":3,"clientMsgId":"b9","content":"x","sender":{"id":1}}"#,
        )
        .unwrap();
        assert_eq!((m.id, m.conversation_id, m.seq), (Num(41), Num(2), Num(3)));
        assert_eq!(
            m.client_msg_id.as_deref().and_then(parse_client_msg_id),
            Some(9)
        );

        let ack: AckEnvelope<MessageRef<'_>> =
            parse_ack(r#"[{"success":true,"data":{"id":5,"conversationId":2,"seq":1}}]"#).unwrap();
        assert!(ack.success);
        assert_eq!(ack.data.unwrap().id, Num(5));

        let refused: AckEnvelope<serde::de::IgnoredAny> = parse_ack(
            r#"[{"success":false,"error":{"code":"RATE_LIMITED","message":"slow down"}}]"#,
        )
        .unwrap();
        assert!(!refused.success);
        assert_eq!(refused.error.unwrap().code, "RATE_LIMITED");
        assert!(parse_ack::<MessageRef<'_>>("[]").is_err());
        assert_eq!(parse_client_msg_id("x1"), None);
    }
}
