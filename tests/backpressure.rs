//! Clients that do not read what they are sent: the server holds at most
//! `SOCKET_BUFFER_PACKETS` for each, then closes its connection; it never drops events silently
//! on a connection that stays open. Driven over a raw WebSocket, so the test decides exactly
//! when the client reads.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::raw::{Polling, Ws, raw_member, raw_websocket, text};
use common::{TestDb, TestServer, WAIT, unique};
use futures_util::{SinkExt, StreamExt};
use parley::config::Config;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// A server with settings changed by `tune`, and a direct conversation A opened with B: the
/// server, A's and B's tokens, the conversation.
async fn pair(tune: impl FnOnce(&mut Config)) -> (TestServer, String, String, i64) {
    let server = TestServer::start_with(TestDb::fresh().await, tune).await;
    let (a, b) = (json!(unique()), json!(unique()));
    let (ta, tb) = (server.token(a), server.token(b.clone()));
    let conv = server.open_direct(&ta, &b, "hi").await;
    (server, ta, tb, conv)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_disconnected_not_silently_dropped() {
    let (server, ta, tb, conv) = pair(|c| {
        c.socket_buffer_packets = 64;
        c.send_rate_per_sec = 0;
    })
    .await;
    let reader = raw_member(&server, &tb, conv).await;
    flood_and_expect_a_close(&server, &ta, &tb, conv, reader).await;
    server.finish().await;
}

/// While `reader` (B, in the room) does not read, A sends 16 MB into the room; then B reads
/// again and must find its connection closed (not an open one that lost messages), and the
/// history holds everything.
async fn flood_and_expect_a_close(
    server: &TestServer,
    ta: &str,
    tb: &str,
    conv: i64,
    mut reader: Ws,
) {
    let sent = 2_000;
    let content = "x".repeat(8_000);
    for _ in 0..sent {
        let (status, body) = server
            .post(
                "/api/chat/send",
                ta,
                json!({ "conversationId": conv, "content": content }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let mut received = 0;
    let closed = loop {
        match tokio::time::timeout(WAIT, reader.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                if t.starts_with("42[\"new_message\"") {
                    received += 1;
                }
            }
            Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) => break true,
            Ok(Some(Ok(_))) => {}
            Err(_) => break false,
        }
    };
    assert!(
        closed,
        "the connection stayed open after {received} of {sent} messages: a silent drop"
    );
    assert!(received < sent, "{received}");
    // Reconnected, B catches up from the history.
    let (_, page) = server
        .get(
            &format!("/api/chat/conversations/{conv}/messages?limit=1&after_seq=0"),
            tb,
        )
        .await;
    assert_eq!(page["data"]["total"], Value::from(sent + 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgraded_client_that_stops_reading_is_disconnected() {
    let (server, ta, tb, conv) = pair(|c| {
        c.socket_buffer_packets = 64;
        c.send_rate_per_sec = 0;
    })
    .await;

    // B starts on long-polling, as socket.io-client does by default, joins, then upgrades.
    let polling = Polling::join(&server, &tb, conv).await;
    let mut ws = raw_websocket(&server, &format!("&sid={}", polling.sid)).await;
    ws.send(Message::text("2probe")).await.unwrap();
    assert_eq!(text(&mut ws).await, "3probe");
    ws.send(Message::text("5")).await.unwrap();

    flood_and_expect_a_close(&server, &ta, &tb, conv, ws).await;
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_polling_client_that_stops_polling_is_told_it_was_disconnected() {
    let (server, ta, tb, conv) = pair(|c| {
        c.socket_buffer_packets = 32;
        c.send_rate_per_sec = 0;
    })
    .await;

    let polling = Polling::join(&server, &tb, conv).await;

    // B stops polling while 200 messages are sent to the room.
    let sent = 200;
    for i in 0..sent {
        let (status, body) = server
            .post(
                "/api/chat/send",
                &ta,
                json!({ "conversationId": conv, "content": format!("m{i}") }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    // B polls again, answering pings so that the heartbeat does not end the session: it gets
    // what was held, then the server's disconnect packet (the heartbeat would not send one).
    let mut received = 0;
    let told = loop {
        let (status, text) = polling.poll().await;
        assert_eq!(status, 200, "the session lives until it is told: {text}");
        let packets: Vec<&str> = text.split('\u{1e}').collect();
        received += packets
            .iter()
            .filter(|p| p.starts_with("42[\"new_message\""))
            .count();
        if packets.contains(&"2") {
            polling.post("3".to_owned()).await;
        }
        if packets.contains(&"41") {
            break true;
        }
        if received == sent {
            break false;
        }
    };
    assert!(told, "all {received} arrived though the buffer holds 32");
    assert!(received < sent, "{received}");
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stopped_reading_cannot_hold_the_shutdown() {
    // A generous grace period: without the fix, shutdown waits all of it for the stuck socket.
    let (server, ta, tb, conv) = pair(|c| {
        c.send_rate_per_sec = 0;
        c.shutdown_timeout_secs = 30;
    })
    .await;
    let _reader = raw_member(&server, &tb, conv).await;
    // B stops reading: 600 messages of 8 KB fill the TCP buffers but stay under the 1,024
    // packets the server holds for it, so it is not cut off.
    let content = "x".repeat(8_000);
    for _ in 0..600 {
        let (status, body) = server
            .post(
                "/api/chat/send",
                &ta,
                json!({ "conversationId": conv, "content": content }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let started = tokio::time::Instant::now();
    server.finish().await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(15),
        "shutdown waited {took:?} of its 30 s grace for a socket that does not read"
    );
}
