//! The chat service alone, on in-memory SQLite after the real migrations, with a recording
//! event sink: what is stored, and what is told, for each call.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use parley::config::Config;
use parley::error::AppError;
use parley::ids::UserId;
use parley::service::messages::SendInput;
use parley::service::{Chat, ChatEvent, EventSink, Limits};

/// Shared with the service, which tells it every event.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Recorder {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl EventSink for Recorder {
    fn publish(&self, event: &ChatEvent<'_>) {
        let line = match event {
            ChatEvent::MessageCreated(m) => format!("created {} #{}", m.content, m.seq),
            ChatEvent::MessageDeleted(m) => format!("deleted #{}", m.seq),
            ChatEvent::MessagesRead(r) => format!("read {} up to #{}", r.user, r.last_read_seq),
            ChatEvent::PresenceChanged { presence, partners } => format!(
                "{} online={} partners={}",
                presence.user,
                presence.online,
                partners.len()
            ),
            ChatEvent::Typing { user, typing, .. } => format!("{user} typing={typing}"),
            ChatEvent::RoomPresence { user, joined, .. } => format!("{user} in room={joined}"),
        };
        self.0.lock().unwrap().push(line);
    }
}

/// A service on a fresh in-memory database, and the record of what it tells.
async fn chat() -> (Chat, Recorder) {
    let mut config = Config::with_defaults(None);
    config.database_url = "sqlite::memory:".to_owned();
    let db = parley::db::connect(&config).await.unwrap();
    parley::db::migrate(&db).await.unwrap();
    let events = Recorder::default();
    let chat = Chat::new(
        db,
        Limits {
            max_message_length: 20,
            send_rate_per_sec: 0,
            send_burst: 1,
            public_profile: parley::service::users::PublicFields::default(),
            typing_timeout: std::time::Duration::from_secs(5),
        },
        Arc::new(events.clone()),
    );
    (chat, events)
}

fn user(n: i64) -> UserId {
    UserId::from_json(&serde_json::json!(n)).unwrap()
}

fn to(receiver: i64, content: &str) -> SendInput {
    SendInput {
        receiver: Some(user(receiver)),
        content: content.to_owned(),
        ..Default::default()
    }
}

#[tokio::test]
async fn sends_are_numbered_told_in_order_and_repeats_are_silent() {
    let (chat, events) = chat().await;
    let a = user(1);
    let first = chat.send_message(&a, to(2, "one")).await.unwrap();
    let conv = first.message.conversation_id;
    for content in ["two", "three"] {
        let input = SendInput {
            conversation_id: Some(conv),
            content: content.to_owned(),
            ..Default::default()
        };
        chat.send_message(&a, input).await.unwrap();
    }
    assert_eq!(
        events.take(),
        ["created one #1", "created two #2", "created three #3"]
    );

    let keyed = SendInput {
        client_msg_id: Some("k".to_owned()),
        ..to(2, "four")
    };
    let stored = chat.send_message(&a, keyed.clone()).await.unwrap();
    let again = chat.send_message(&a, keyed).await.unwrap();
    assert!(stored.created && !again.created);
    assert_eq!(stored.message.id, again.message.id);
    assert_eq!(
        events.take(),
        ["created four #4"],
        "the repeat told nothing"
    );
}

#[tokio::test]
async fn refused_sends_store_and_tell_nothing() {
    let (chat, events) = chat().await;
    let a = user(1);
    let too_long = "x".repeat(21);
    let cases: Vec<(SendInput, &str)> = vec![
        (to(2, ""), "VALIDATION"),
        (to(2, &too_long), "VALIDATION"),
        (
            SendInput {
                attachment_url: Some("ftp://x".into()),
                ..to(2, "x")
            },
            "VALIDATION",
        ),
        (to(1, "myself"), "UNPROCESSABLE"),
        (
            SendInput {
                conversation_id: Some(99),
                content: "x".into(),
                ..Default::default()
            },
            "NOT_FOUND",
        ),
    ];
    for (input, code) in cases {
        let err: AppError = chat.send_message(&a, input).await.unwrap_err();
        assert_eq!(err.code(), code);
    }
    assert!(events.take().is_empty());
    let convs = chat
        .list_conversations(
            &a,
            parley::service::views::PageRequest { page: 1, limit: 10 },
        )
        .await
        .unwrap();
    assert_eq!(convs.total, 0, "no conversation was created");
}

#[tokio::test]
async fn reads_deletes_and_presence_are_told() {
    let (chat, events) = chat().await;
    let (a, b) = (user(1), user(2));
    let sent = chat.send_message(&a, to(2, "hi")).await.unwrap();
    let conv = sent.message.conversation_id;
    events.take();

    assert_eq!(chat.unread_total(&b).await.unwrap(), 1);
    let receipt = chat.mark_read(&b, conv).await.unwrap();
    assert_eq!(receipt.updated, 1);
    assert_eq!(chat.unread_total(&b).await.unwrap(), 0);

    let err = chat.delete_message(&b, sent.message.id).await.unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN");
    chat.delete_message(&a, sent.message.id).await.unwrap();

    // The socket layer announces only the first join and the last leave.
    let joins = [chat.presence_join(&a), chat.presence_join(&a)];
    assert_eq!(joins, [true, false]);
    chat.announce_online(&a).await.unwrap();
    let leaves = [
        chat.presence_leave(&a),
        chat.presence_leave(&a),
        chat.presence_leave(&a),
    ];
    assert_eq!(
        leaves,
        [false, true, false],
        "a leave never counted is not a last leave"
    );
    chat.announce_offline(&a).await.unwrap();
    assert_eq!(
        events.take(),
        [
            "read 2 up to #1",
            "deleted #1",
            "1 online=true partners=1",
            "1 online=false partners=1",
        ],
        "only the first connect and the last disconnect change presence"
    );
}
