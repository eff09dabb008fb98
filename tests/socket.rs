//! The Socket.IO door, driven by a Rust Socket.IO client against the real server.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{SocketClient, TestDb, TestServer, WAIT, unique};
use rust_socketio::TransportType;
use serde_json::{Value, json};

fn uid() -> Value {
    json!(unique())
}

/// Starts a direct conversation from `a` to `b` over REST; returns its id.
async fn conversation(server: &TestServer, a: &str, b: &Value) -> i64 {
    server.open_direct(a, b, "hi").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_send_is_acknowledged_broadcast_and_stored() {
    let server = TestServer::start().await;
    let (a, b) = (uid(), uid());
    let (ta, tb) = (server.token(a.clone()), server.token(b.clone()));
    let sa = server.socket(&ta).await;
    let mut sb = server.socket(&tb).await;

    // First message: no conversation yet; B is not in the room, so it gets a notification.
    let ack = sa
        .ack(
            "send_message",
            json!({ "receiverId": b, "content": "Hello!" }),
        )
        .await;
    assert_eq!(ack["success"], true, "{ack}");
    let first = &ack["data"];
    assert_eq!(first["seq"], 1);
    assert_eq!(first["senderId"], a);
    assert_eq!(first["receiverId"], b);
    assert_eq!(first["content"], "Hello!");
    assert_eq!(first["isRead"], false);
    let conv = first["conversationId"].as_i64().unwrap();
    let note = sb.next("message_notification").await;
    assert_eq!(note["from"], a);
    assert_eq!(note["conversationId"], conv);
    assert_eq!(note["content"], "Hello!");
    assert!(note["timestamp"].as_str().unwrap().ends_with('Z'));

    // B joins the room: now it gets new_message, and no notification.
    let joined = sb
        .ack("join_conversation", json!({ "conversationId": conv }))
        .await;
    assert_eq!(joined["success"], true, "{joined}");
    assert_eq!(joined["data"]["lastSeq"], 1);
    let ack = sa
        .ack("send_message", json!({ "conversationId": conv, "content": "Second", "attachmentUrl": "https://example.com/a.png" }))
        .await;
    assert_eq!(ack["data"]["seq"], 2, "{ack}");
    let msg = sb.next("new_message").await;
    assert_eq!(msg["id"], ack["data"]["id"]);
    assert_eq!(msg["seq"], 2);
    assert_eq!(msg["senderId"], a);
    assert_eq!(msg["conversationId"], conv);
    assert_eq!(msg["attachmentUrl"], "https://example.com/a.png");
    assert_eq!(msg["sender"]["id"], a);
    sb.assert_none("message_notification", Duration::from_millis(300))
        .await;

    // Both are in the database, in order, readable over REST by either participant.
    let (status, page) = server
        .get(&format!("/api/chat/conversations/{conv}/messages"), &tb)
        .await;
    assert_eq!(status, 200);
    let contents: Vec<&str> = page["data"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["Hello!", "Second"]);
    assert_eq!(page["data"]["messages"][1]["created_at"], Value::Null);
    assert_eq!(page["data"]["messages"][1]["createdAt"], msg["createdAt"]);

    sa.close().await;
    sb.close().await;
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outsiders_are_refused_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let (a, b, c) = (uid(), uid(), uid());
    let ta = server.token(a.clone());
    let conv = conversation(&server, &ta, &b).await;
    let mut sc = server.socket(&server.token(c.clone())).await;

    let join = sc
        .ack("join_conversation", json!({ "conversationId": conv }))
        .await;
    assert_eq!(join["success"], false);
    assert_eq!(join["error"]["code"], "FORBIDDEN");
    assert!(
        join["error"]["message"]
            .as_str()
            .unwrap()
            .contains("participant")
    );

    let send = sc
        .ack(
            "send_message",
            json!({ "conversationId": conv, "content": "intrusion" }),
        )
        .await;
    assert_eq!(send["error"]["code"], "FORBIDDEN", "{send}");
    let typing = sc.ack("typing", json!({ "conversationId": conv })).await;
    assert_eq!(typing["error"]["code"], "FORBIDDEN");
    let unknown = sc
        .ack(
            "join_conversation",
            json!({ "conversationId": 987_654_321 }),
        )
        .await;
    assert_eq!(unknown["error"]["code"], "NOT_FOUND");

    let (_, page) = server
        .get(&format!("/api/chat/conversations/{conv}/messages"), &ta)
        .await;
    assert_eq!(page["data"]["total"], 1);
    sc.assert_none("new_message", Duration::from_millis(200))
        .await;
    sc.close().await;
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let server = TestServer::start().await;
    let (a, b) = (uid(), uid());
    let ta = server.token(a.clone());
    let conv = conversation(&server, &ta, &b).await;
    let mut sa = server.socket(&ta).await;
    let mut sb = server.socket(&server.token(b.clone())).await;
    sb.ack("join_conversation", json!({ "conversationId": conv }))
        .await;

    let long = "x".repeat(10_001);
    let bad = [
        json!({ "conversationId": conv, "content": "" }),
        json!({ "conversationId": conv, "content": "   \n" }),
        json!({ "conversationId": conv, "content": long }),
        json!({ "conversationId": conv, "content": 42 }),
        json!({ "conversationId": conv }),
        json!({ "conversationId": "abc", "content": "x" }),
        json!({ "conversationId": conv, "content": "x", "attachmentUrl": "javascript:alert(1)" }),
        json!({ "conversationId": conv, "content": "x", "attachmentUrl": format!("https://e.com/{}", "a".repeat(2_100)) }),
        json!({ "content": "no target" }),
        json!({ "receiverId": 1.5, "content": "x" }),
        json!("hello"),
        json!(17),
        json!([1, 2]),
        Value::Null,
    ];
    for payload in bad {
        let ack = sa.ack("send_message", payload.clone()).await;
        assert_eq!(ack["success"], false, "{payload} -> {ack}");
        assert_eq!(ack["error"]["code"], "VALIDATION", "{payload} -> {ack}");
        assert!(!ack["error"]["message"].as_str().unwrap().is_empty());
    }
    let me = sa
        .ack("send_message", json!({ "receiverId": a, "content": "me" }))
        .await;
    assert_eq!(me["error"]["code"], "UNPROCESSABLE");

    // Without an acknowledgement the error comes back as an `error` event.
    sa.emit(
        "send_message",
        json!({ "conversationId": conv, "content": "" }),
    )
    .await;
    let err = sa.next("error").await;
    assert_eq!(err["event"], "send_message");
    assert_eq!(err["code"], "VALIDATION");

    // The connection survived, nothing was stored or broadcast, and a good send still works.
    sb.assert_none("new_message", Duration::from_millis(200))
        .await;
    let ok = sa
        .ack(
            "send_message",
            json!({ "conversationId": conv, "content": "fine" }),
        )
        .await;
    assert_eq!(ok["data"]["seq"], 2, "{ok}");
    assert_eq!(sb.next("new_message").await["content"], "fine");
    let (_, page) = server
        .get(&format!("/api/chat/conversations/{conv}/messages"), &ta)
        .await;
    assert_eq!(page["data"]["total"], 2);
    sa.close().await;
    sb.close().await;
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_client_message_ids_store_and_deliver_once() {
    let server = TestServer::start().await;
    let (a, b) = (uid(), uid());
    let ta = server.token(a.clone());
    let conv = conversation(&server, &ta, &b).await;
    let sa = server.socket(&ta).await;
    let mut sb = server.socket(&server.token(b.clone())).await;
    sb.ack("join_conversation", json!({ "conversationId": conv }))
        .await;

    let payload = json!({ "conversationId": conv, "content": "once", "clientMsgId": "c-1" });
    let first = sa.ack("send_message", payload.clone()).await;
    let again = sa.ack("send_message", payload.clone()).await;
    assert_eq!(first["data"]["id"], again["data"]["id"]);
    assert_eq!(first["data"]["seq"], again["data"]["seq"]);
    assert_eq!(first["data"]["clientMsgId"], "c-1");
    assert_eq!(sb.next("new_message").await["content"], "once");
    sb.assert_none("new_message", Duration::from_millis(300))
        .await;

    // The same key over REST answers the stored message with 200.
    let resp = reqwest::Client::new()
        .post(format!("{}/api/chat/send", server.url))
        .bearer_auth(&ta)
        .header("Idempotency-Key", "c-1")
        .json(&json!({ "receiverId": b, "content": "once" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["id"], first["data"]["id"]);

    // Reusing the key for something else is a conflict.
    let clash = sa
        .ack(
            "send_message",
            json!({ "conversationId": conv, "content": "other", "clientMsgId": "c-1" }),
        )
        .await;
    assert_eq!(clash["error"]["code"], "CONFLICT");

    let (_, page) = server
        .get(&format!("/api/chat/conversations/{conv}/messages"), &ta)
        .await;
    assert_eq!(page["data"]["total"], 2, "the opening message and `once`");
    sa.close().await;
    sb.close().await;
    server.finish().await;
}

async fn send_many(s: &SocketClient, conv: i64, n: usize) {
    for i in 0..n {
        let ack = s
            .ack(
                "send_message",
                json!({ "conversationId": conv, "content": format!("sock {i}") }),
            )
            .await;
        assert_eq!(ack["success"], true, "{ack}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_get_gapless_seq_and_arrive_in_order() {
    let server = TestServer::start().await;
    let (a, b) = (uid(), uid());
    let (ta, tb) = (server.token(a.clone()), server.token(b.clone()));
    let conv = conversation(&server, &ta, &b).await;
    let mut watcher = server.socket(&tb).await;
    watcher
        .ack("join_conversation", json!({ "conversationId": conv }))
        .await;

    // Three doors at once: REST from both users, and two sockets.
    let s1 = server.socket(&ta).await;
    let s2 = server.socket(&tb).await;
    let per_door = 15;
    let rest = |token: String| {
        let server = &server;
        async move {
            for i in 0..per_door {
                let (status, body) = server
                    .post(
                        "/api/chat/send",
                        &token,
                        json!({ "conversationId": conv, "content": format!("rest {i}") }),
                    )
                    .await;
                assert_eq!(status, 201, "{body}");
            }
        }
    };
    tokio::join!(
        rest(ta.clone()),
        rest(tb.clone()),
        send_many(&s1, conv, per_door),
        send_many(&s2, conv, per_door)
    );

    let total = 1 + 4 * per_door;
    let (_, page) = server
        .get(
            &format!("/api/chat/conversations/{conv}/messages?limit=100"),
            &ta,
        )
        .await;
    let seqs: Vec<i64> = page["data"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=total as i64).collect::<Vec<_>>());

    // The watcher saw every new message once, in seq order.
    let mut seen = Vec::new();
    for _ in 0..(4 * per_door) {
        seen.push(watcher.next("new_message").await["seq"].as_i64().unwrap());
    }
    assert_eq!(seen, (2..=total as i64).collect::<Vec<_>>());
    watcher
        .assert_none("new_message", Duration::from_millis(200))
        .await;
    for s in [watcher, s1, s2] {
        s.close().await;
    }
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_stops_on_request_on_timeout_and_on_disconnect() {
    let db = TestDb::fresh().await;
    // Long enough that the disconnect case below cannot be mistaken for an expiry.
    let server = TestServer::start_with(db, |c| c.typing_timeout_ms = 3_000).await;
    let (a, b) = (uid(), uid());
    let (ta, tb) = (server.token(a.clone()), server.token(b.clone()));
    let conv = conversation(&server, &ta, &b).await;
    let sa = server.socket(&ta).await;
    let mut sb = server.socket(&tb).await;
    for s in [&sa, &sb] {
        s.ack("join_conversation", json!({ "conversationId": conv }))
            .await;
    }
    let room = json!({ "conversationId": conv });

    sa.ack("typing", room.clone()).await;
    assert_eq!(
        sb.next("user_typing").await,
        json!({ "userId": a, "conversationId": conv })
    );
    sa.ack("stop_typing", room.clone()).await;
    assert_eq!(sb.next("user_stopped_typing").await["userId"], a);

    // No stop_typing: the server ends it after the timeout.
    sa.ack("typing", room.clone()).await;
    sb.next("user_typing").await;
    let expired = sb
        .next_within("user_stopped_typing", Duration::from_secs(6))
        .await;
    assert_eq!(expired, json!({ "userId": a, "conversationId": conv }));

    // Typing, then gone.
    sa.ack("typing", room.clone()).await;
    sb.next("user_typing").await;
    sa.close().await;
    let gone = sb
        .next_within("user_stopped_typing", Duration::from_millis(1_500))
        .await;
    assert_eq!(gone["userId"], a);
    sb.close().await;
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_presence_and_membership_events() {
    let server = TestServer::start().await;
    let (a, b) = (uid(), uid());
    let (ta, tb) = (server.token(a.clone()), server.token(b.clone()));
    let conv = conversation(&server, &ta, &b).await;
    let mut sa = server.socket(&ta).await;
    sa.ack("join_conversation", json!({ "conversationId": conv }))
        .await;

    // B comes online: A, someone B wrote to, hears it. (B's first message is read below.)
    let (status, _) = server
        .post(
            "/api/chat/send",
            &tb,
            json!({ "conversationId": conv, "content": "hi A" }),
        )
        .await;
    assert_eq!(status, 201);
    let sb = server.socket(&tb).await;
    let online = sa.next("online_status").await;
    assert_eq!(online["userId"], b);
    assert_eq!(online["isOnline"], true);

    let joined = sb
        .ack("join_conversation", json!({ "conversationId": conv }))
        .await;
    assert_eq!(joined["success"], true);
    assert_eq!(sa.next("user_joined").await["userId"], b);

    let (_, count) = server.get("/api/chat/unread-count", &tb).await;
    assert_eq!(count["data"]["unread_count"], 1);
    let read = sb
        .ack("mark_as_read", json!({ "conversationId": conv }))
        .await;
    assert_eq!(read["data"]["lastReadSeq"], 2, "{read}");
    let receipt = sa.next("messages_read").await;
    assert_eq!(receipt["userId"], b);
    assert_eq!(receipt["conversationId"], conv);
    let (_, count) = server.get("/api/chat/unread-count", &tb).await;
    assert_eq!(count["data"]["unread_count"], 0);
    let (_, page) = server
        .get(&format!("/api/chat/conversations/{conv}/messages"), &ta)
        .await;
    assert_eq!(page["data"]["messages"][0]["is_read"], true);

    sb.ack("leave_conversation", json!({ "conversationId": conv }))
        .await;
    assert_eq!(sa.next("user_left").await["userId"], b);
    let personal = sb.ack("join_personal_room", Value::Null).await;
    assert_eq!(personal["success"], true);

    sb.close().await;
    let offline = sa.next("online_status").await;
    assert_eq!(offline["userId"], b);
    assert_eq!(offline["isOnline"], false);
    assert!(offline["lastSeen"].is_string());
    sa.close().await;
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_others_hear_are_coalesced_and_rate_limited() {
    let db = TestDb::fresh().await;
    // One event a second after a burst of five, for sends and everything others hear.
    let server = TestServer::start_with(db, |c| {
        c.send_rate_per_sec = 1;
        c.send_burst = 5;
    })
    .await;
    let (a, b) = (uid(), uid());
    let (ta, tb) = (server.token(a.clone()), server.token(b.clone()));
    // B opens the conversation, so A's allowance is untouched.
    let conv = conversation(&server, &tb, &a).await;
    let mut sb = server.socket(&tb).await;
    sb.ack("join_conversation", json!({ "conversationId": conv }))
        .await;
    let sa = server.socket(&ta).await;
    let quiet = Duration::from_millis(500);

    // 200 joins of the same room: all answered, B hears one user_joined.
    for _ in 0..200 {
        let ack = sa
            .ack("join_conversation", json!({ "conversationId": conv }))
            .await;
        assert_eq!(ack["success"], true, "{ack}");
    }
    assert_eq!(sb.count_within("user_joined", quiet).await, 1);

    // 500 typing (one per keystroke): B hears one user_typing.
    for _ in 0..500 {
        let ack = sa.ack("typing", json!({ "conversationId": conv })).await;
        assert_eq!(ack["success"], true, "{ack}");
    }
    assert_eq!(sb.count_within("user_typing", quiet).await, 1);
    // A stop tells B once; stops with nothing shown tell nobody.
    for _ in 0..50 {
        sa.ack("stop_typing", json!({ "conversationId": conv }))
            .await;
    }
    assert_eq!(sb.count_within("user_stopped_typing", quiet).await, 1);

    // 50 reads: the first moves A's position and tells the room; the rest change nothing.
    for i in 0..50 {
        let ack = sa
            .ack("mark_as_read", json!({ "conversationId": conv }))
            .await;
        assert_eq!(ack["success"], true, "{ack}");
        assert_eq!(ack["data"]["lastReadSeq"], 1);
        assert_eq!(ack["data"]["updated"], if i == 0 { 1 } else { 0 });
    }
    assert_eq!(sb.count_within("messages_read", quiet).await, 1);

    // B writes again, so a read by A would move its position and tell the room.
    server
        .post(
            "/api/chat/send",
            &tb,
            json!({ "conversationId": conv, "content": "unread" }),
        )
        .await;

    // Leaving and joining again, over and over: each join that tells B is charged, so the
    // allowance runs out and joins are refused before they are done.
    let (mut joined, mut refused) = (0, 0);
    for _ in 0..30 {
        let left = sa
            .ack("leave_conversation", json!({ "conversationId": conv }))
            .await;
        assert_eq!(left["success"], true, "{left}");
        let ack = sa
            .ack("join_conversation", json!({ "conversationId": conv }))
            .await;
        if ack["success"] == true {
            joined += 1;
        } else {
            assert_eq!(ack["error"]["code"], "RATE_LIMITED", "{ack}");
            refused += 1;
        }
    }
    assert!(refused > 0, "joins were never refused");
    // The same allowance holds for sends.
    let sent = sa
        .ack(
            "send_message",
            json!({ "conversationId": conv, "content": "over the limit" }),
        )
        .await;
    assert_eq!(sent["error"]["code"], "RATE_LIMITED", "{sent}");
    // Over REST, a read that would tell the room is refused the same way.
    let (status, body) = server
        .call(
            reqwest::Method::PUT,
            &format!("/api/chat/conversations/{conv}/read"),
            Some(&ta),
            None,
        )
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(sb.count_within("user_joined", quiet).await, joined);
    sa.close().await;
    sb.close().await;
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_learn_neither_email_nor_presence() {
    let server = TestServer::start().await;
    let (s, t) = (uid(), uid());
    let claims = |id: &Value, name: &str| {
        json!({ "sub": id, "name": name, "email": format!("{name}@example.com"),
                "exp": common::exp_in(600) })
    };
    let ts = common::token_for(claims(&s, "stranger"));
    let tt = common::token_for(claims(&t, "target"));
    let mut ss = server.socket(&ts).await;
    // The target has used the app, so their email is stored.
    let (status, _) = server.get("/api/chat/unread-count", &tt).await;
    assert_eq!(status, 200);

    // One message from a stranger: the answers carry no email of either side.
    let (status, first) = server
        .post(
            "/api/chat/send",
            &ts,
            json!({ "receiverId": t, "content": "hello?" }),
        )
        .await;
    assert_eq!(status, 201, "{first}");
    let m = &first["data"];
    assert_eq!(m["receiver"]["name"], "target");
    assert_eq!(m["receiver"]["email"], Value::Null, "{m}");
    assert_eq!(m["sender"]["email"], Value::Null, "{m}");
    let conv = m["conversation_id"].as_i64().unwrap();
    let ack = ss
        .ack(
            "send_message",
            json!({ "conversationId": conv, "content": "are you there?" }),
        )
        .await;
    assert_eq!(ack["data"]["sender"]["email"], Value::Null, "{ack}");
    let (_, list) = server.get("/api/chat/conversations", &ts).await;
    let listed = list["data"]["conversations"][0].to_string();
    assert!(!listed.contains("@example.com"), "{listed}");

    // The target comes and goes: the stranger is not told.
    let st = server.socket(&tt).await;
    st.close().await;
    ss.assert_none("online_status", Duration::from_secs(1))
        .await;

    // Once the target writes back, they have taken part: the other side sees them.
    let (status, reply) = server
        .post(
            "/api/chat/send",
            &tt,
            json!({ "receiverId": s, "content": "hi!" }),
        )
        .await;
    assert_eq!(status, 201, "{reply}");
    let mut st = server.socket(&tt).await;
    let online = ss.next("online_status").await;
    assert_eq!(online["userId"], t);
    assert_eq!(online["isOnline"], true);
    // And the stranger, who wrote first, was seen by the target all along.
    ss.close().await;
    let offline = st.next("online_status").await;
    assert_eq!(offline["userId"], s);
    assert_eq!(offline["isOnline"], false);
    st.close().await;
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polling_works_like_websocket() {
    let server = TestServer::start().await;
    let (a, b) = (uid(), uid());
    let ta = server.token(a.clone());
    let conv = conversation(&server, &ta, &b).await;
    let sa = SocketClient::connect(&server.url, &ta, TransportType::Polling).await;
    let mut sb = SocketClient::connect(
        &server.url,
        &server.token(b.clone()),
        TransportType::Polling,
    )
    .await;
    sb.ack("join_conversation", json!({ "conversationId": conv }))
        .await;
    let ack = sa
        .ack(
            "send_message",
            json!({ "conversationId": conv, "content": "over polling" }),
        )
        .await;
    assert_eq!(ack["data"]["seq"], 2);
    assert_eq!(sb.next("new_message").await["content"], "over polling");
    sa.close().await;
    sb.close().await;
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_packet_closes_only_that_connection() {
    let db = TestDb::fresh().await;
    let server = TestServer::start_with(db, |c| c.max_payload_bytes = 16 * 1024).await;
    let (a, b) = (uid(), uid());
    let ta = server.token(a.clone());
    let conv = conversation(&server, &ta, &b).await;
    let big = SocketClient::connect(&server.url, &ta, TransportType::Websocket).await;
    let mut other = server.socket(&server.token(b.clone())).await;
    other
        .ack("join_conversation", json!({ "conversationId": conv }))
        .await;

    big.emit(
        "send_message",
        // 9,000 characters: within MAX_MESSAGE_LENGTH, but 18,000 bytes, over the 16 KiB packet
        // limit. Were the limit not enforced, this message would be stored and broadcast.
        json!({ "conversationId": conv, "content": "é".repeat(9_000) }),
    )
    .await;
    // Over MAX_PAYLOAD_BYTES the server closes this connection (the JavaScript suite sees the
    // client's `disconnect`; this client does not report a server-side close).
    other
        .assert_none("new_message", Duration::from_millis(300))
        .await;

    // The server is fine and so is everyone else.
    let sa = server.socket(&ta).await;
    let ok = sa
        .ack(
            "send_message",
            json!({ "conversationId": conv, "content": "still here" }),
        )
        .await;
    assert_eq!(ok["data"]["seq"], 2, "{ok}");
    assert_eq!(other.next("new_message").await["content"], "still here");
    for s in [big, other, sa] {
        s.close().await;
    }
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_survives_a_restart() {
    let server = TestServer::start().await;
    let (a, b) = (uid(), uid());
    let ta = server.token(a.clone());
    let conv = conversation(&server, &ta, &b).await;
    let sa = server.socket(&ta).await;
    sa.ack(
        "send_message",
        json!({ "conversationId": conv, "content": "before restart" }),
    )
    .await;
    sa.close().await;
    let db = server.stop().await;

    let server = TestServer::start_with(db, |_| {}).await;
    let (_, page) = server
        .get(&format!("/api/chat/conversations/{conv}/messages"), &ta)
        .await;
    assert_eq!(page["data"]["total"], 2);
    assert_eq!(page["data"]["messages"][1]["content"], "before restart");
    // Numbering carries on where it stopped.
    let (_, sent) = server
        .post(
            "/api/chat/send",
            &ta,
            json!({ "conversationId": conv, "content": "after" }),
        )
        .await;
    assert_eq!(sent["data"]["seq"], 3);
    server.finish().await;
}

/// The Engine.IO long-polling handshake, by hand over plain HTTP: a refused token answers the
/// namespace connect with a CONNECT_ERROR packet whose message says why.
async fn connect_error_over_polling(server: &TestServer, auth: &str) -> String {
    let http = reqwest::Client::new();
    let base = format!("{}/socket.io/?EIO=4&transport=polling", server.url);
    let open = http.get(&base).send().await.unwrap().text().await.unwrap();
    let handshake: Value = serde_json::from_str(open.trim_start_matches('0')).unwrap();
    let sid = handshake["sid"].as_str().unwrap();
    let url = format!("{base}&sid={sid}");
    let sent = http
        .post(&url)
        .body(format!("40{auth}"))
        .send()
        .await
        .unwrap();
    assert!(sent.status().is_success());
    // Poll as a client does, until the namespace's answer arrives (a ping may come first).
    let packet = tokio::time::timeout(WAIT, async {
        loop {
            let reply = http.get(&url).send().await.unwrap().text().await.unwrap();
            if let Some(p) = reply.split('\u{1e}').find(|p| p.starts_with("44")) {
                return p.to_owned();
            }
            assert!(
                reply
                    .split('\u{1e}')
                    .all(|p| p == "2" || p.starts_with("40")),
                "unexpected packets before CONNECT_ERROR: {reply}"
            );
        }
    })
    .await
    .expect("no CONNECT_ERROR within 5 s");
    let body: Value = serde_json::from_str(&packet[2..]).unwrap();
    body["message"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_tokens_say_why() {
    let server = TestServer::start().await;
    let missing = connect_error_over_polling(&server, "").await;
    assert!(missing.contains("missing token"), "{missing}");
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({ "sub": 1, "exp": common::exp_in(60) }),
        &jsonwebtoken::EncodingKey::from_secret(b"not the secret"),
    )
    .unwrap();
    let bad = connect_error_over_polling(&server, &json!({ "token": forged }).to_string()).await;
    assert!(bad.contains("bad signature"), "{bad}");
    let expired = common::token_for(json!({ "sub": 1, "exp": common::exp_in(-3600) }));
    let old = connect_error_over_polling(&server, &json!({ "token": expired }).to_string()).await;
    assert!(old.contains("expired"), "{old}");
    let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOjEsImV4cCI6OTk5OTk5OTk5OX0.";
    let unsigned = connect_error_over_polling(&server, &json!({ "token": none }).to_string()).await;
    assert!(unsigned.contains("invalid token"), "{unsigned}");
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_may_name_an_enabled_protocol_and_no_other() {
    let server = TestServer::start().await;
    let token = server.token(uid());
    let other = json!({ "token": token, "protocol": "xmpp" }).to_string();
    let refused = connect_error_over_polling(&server, &other).await;
    assert!(
        refused.contains("does not speak protocol \"xmpp\""),
        "{refused}"
    );
    // The enabled one, named, connects and answers its own events.
    let named = json!({ "token": token, "protocol": "conversations" });
    let socket =
        SocketClient::connect_with_auth(&server.url, named, TransportType::Websocket).await;
    let ack = socket.ack("join_personal_room", json!({})).await;
    assert_eq!(ack["success"], true, "{ack}");
    socket.close().await;
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_is_disconnected_when_its_token_expires() {
    let db = TestDb::fresh().await;
    let server = TestServer::start_with(db, |c| c.jwt_leeway_secs = 0).await;
    let (a, b, c) = (uid(), uid(), uid());
    let ta = server.token(a.clone());
    // B and C write to A, so A sees their presence.
    conversation(&server, &server.token(b.clone()), &a).await;
    conversation(&server, &server.token(c.clone()), &a).await;
    let mut sa = server.socket(&ta).await;
    // B's exp is an integer; C's a float, as PyJWT writes `time.time() + 2`.
    let short = common::token_for(json!({ "sub": b, "exp": common::exp_in(2) }));
    let float_exp = chrono::Utc::now().timestamp_millis() as f64 / 1000.0 + 2.0;
    let float = common::token_for(json!({ "sub": c, "exp": float_exp }));
    let sb = server.socket(&short).await;
    let sc = server.socket(&float).await;
    let mut online = Vec::new();
    for _ in 0..2 {
        let status = sa.next("online_status").await;
        assert_eq!(status["isOnline"], true);
        online.push(status["userId"].clone());
    }
    // Nobody disconnects B or C but the server, when their tokens expire.
    let mut offline = Vec::new();
    for _ in 0..2 {
        let status = sa
            .next_within("online_status", Duration::from_secs(6))
            .await;
        assert_eq!(status["isOnline"], false);
        offline.push(status["userId"].clone());
    }
    for seen in [&mut online, &mut offline] {
        seen.sort_by_key(Value::to_string);
    }
    let mut both = vec![b, c];
    both.sort_by_key(Value::to_string);
    assert_eq!(online, both);
    assert_eq!(offline, both);
    sa.close().await;
    sb.close().await;
    sc.close().await;
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_send_committed_during_shutdown_is_answered() {
    let db = TestDb::fresh().await;
    let server = TestServer::start_with(db, |c| c.send_rate_per_sec = 0).await;
    let (a, b) = (uid(), uid());
    let ta = server.token(a.clone());
    let conv = conversation(&server, &ta, &b).await;
    let url = format!("{}/api/chat/send", server.url);
    let http = reqwest::Client::new();
    let total = 200;
    let (done_tx, mut done) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..total {
        let (http, url, ta, done_tx) = (http.clone(), url.clone(), ta.clone(), done_tx.clone());
        tokio::spawn(async move {
            let sent = http
                .post(url)
                .bearer_auth(ta)
                .json(&json!({ "conversationId": conv, "content": format!("m{i}") }))
                .send()
                .await;
            let _ = done_tx.send(sent.map(|r| r.status().as_u16()).unwrap_or(0));
        });
    }
    drop(done_tx);
    // Stop once some sends are through and the rest are still in flight.
    let mut statuses = Vec::new();
    while statuses.len() < 5 {
        statuses.push(
            tokio::time::timeout(WAIT, done.recv())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let db = server.stop().await;
    while let Some(status) = done.recv().await {
        statuses.push(status);
    }
    assert_eq!(statuses.len(), total);
    let answered = statuses.iter().filter(|s| **s == 201).count() as u64;
    let server = TestServer::start_with(db, |_| {}).await;
    let (_, page) = server
        .get(
            &format!("/api/chat/conversations/{conv}/messages?limit=1"),
            &ta,
        )
        .await;
    let stored = page["data"]["total"].as_u64().unwrap() - 1;
    assert_eq!(
        stored, answered,
        "every committed send got its 201, and every 201 is stored ({answered} of {total})"
    );
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_socket_send_committed_during_shutdown_is_acknowledged() {
    sends_committed_during_shutdown_are_acknowledged(TransportType::Websocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_long_polling_send_committed_during_shutdown_is_acknowledged() {
    sends_committed_during_shutdown_are_acknowledged(TransportType::Polling).await;
}

/// Clients keep sending until the server stops: every send stored was acknowledged, and every
/// acknowledged send is stored.
async fn sends_committed_during_shutdown_are_acknowledged(transport: TransportType) {
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::sync::mpsc;

    let db = TestDb::fresh().await;
    let server = TestServer::start_with(db, |c| c.send_rate_per_sec = 0).await;
    let b = uid();
    let clients = 24;
    let mut convs = Vec::new();
    let mut sockets = Vec::new();
    for _ in 0..clients {
        let token = server.token(uid());
        convs.push(conversation(&server, &token, &b).await);
        sockets.push(SocketClient::connect(&server.url, &token, transport.clone()).await);
    }
    // Each client sends one message after another (each with its client id) until the server
    // stops; with 24 of them, sends are always in flight.
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let (answers, mut answered) = mpsc::unbounded_channel::<(String, Value)>();
    let mut senders = Vec::new();
    for (c, (socket, conv)) in sockets.into_iter().zip(convs.clone()).enumerate() {
        let (stop, answers) = (stop.clone(), answers.clone());
        senders.push(tokio::spawn(async move {
            for i in 0.. {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let content = format!("c{c}-m{i}");
                let body =
                    json!({ "conversationId": conv, "content": content, "clientMsgId": content });
                match socket.try_ack("send_message", body).await {
                    Some(ack) => {
                        let refused = ack["success"] != true;
                        let _ = answers.send((content, ack));
                        if refused {
                            break;
                        }
                    }
                    None => break,
                }
            }
            socket
        }));
    }
    drop(answers);
    // Stop once sends are flowing.
    let mut acked = BTreeSet::new();
    let mut refused = Vec::new();
    let mut note = |content: String, ack: Value| {
        if ack["success"] == true {
            acked.insert(content);
        } else {
            refused.push(ack["error"]["code"].clone());
        }
    };
    let mut seen = 0;
    while seen < 200 {
        let (content, ack) = tokio::time::timeout(WAIT, answered.recv())
            .await
            .expect("sends are answered")
            .unwrap();
        note(content, ack);
        seen += 1;
    }
    let db = server.stop().await;
    stop.store(true, Ordering::SeqCst);
    // Every sender ends: answered, refused, or cut off when the server closed its socket.
    for sender in senders {
        let socket = tokio::time::timeout(Duration::from_secs(15), sender)
            .await
            .expect("a sender did not end")
            .unwrap();
        socket.close().await;
    }
    while let Ok((content, ack)) = answered.try_recv() {
        note(content, ack);
    }
    assert!(
        refused.iter().all(|code| code == "UNAVAILABLE"),
        "refused at shutdown with UNAVAILABLE only: {refused:?}"
    );

    let server = TestServer::start_with(db, |_| {}).await;
    let token_b = server.token(b.clone());
    let mut stored = BTreeSet::new();
    for conv in convs {
        stored.extend(server.stored_client_ids(conv, &token_b).await);
    }
    let unanswered: Vec<&String> = stored.difference(&acked).collect();
    assert!(
        unanswered.is_empty(),
        "committed but never acknowledged: {unanswered:?} of {} stored",
        stored.len()
    );
    let lost: Vec<&String> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    server.finish().await;
}
