//! The REST door under `/api/chat`, driven over plain HTTP against the real server.

#![allow(clippy::unwrap_used)]

mod common;

use common::{TestDb, TestServer, unique};
use reqwest::Method;
use serde_json::{Value, json};

fn uid() -> Value {
    json!(unique())
}

async fn send(server: &TestServer, token: &str, body: Value) -> Value {
    let (status, reply) = server.post("/api/chat/send", token, body).await;
    assert_eq!(status, 201, "{reply}");
    reply["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_answers_the_seed_envelope_and_fields() {
    let server = TestServer::start().await;
    let (a, b) = (uid(), uid());
    let ta = common::token_for(
        json!({ "sub": a, "name": "Ada", "email": "ada@example.com", "exp": common::exp_in(600) }),
    );
    let (status, body) = server
        .post("/api/chat/send", &ta, json!({ "receiverId": b, "content": "Hello! How are you?", "attachmentUrl": "https://example.com/image.jpg" }))
        .await;
    assert_eq!(status, 201);
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "Message sent");
    let m = &body["data"];
    assert!(m["id"].is_i64());
    assert_eq!(m["sender_id"], a);
    assert_eq!(m["receiver_id"], b);
    assert!(m["conversation_id"].is_i64());
    assert_eq!(m["content"], "Hello! How are you?");
    assert_eq!(m["attachment_url"], "https://example.com/image.jpg");
    assert_eq!(m["is_read"], false);
    assert_eq!(m["seq"], 1);
    assert_eq!(m["sender"]["name"], "Ada");
    // The email is not among the fields others are shown (PUBLIC_PROFILE_FIELDS).
    assert_eq!(m["sender"]["email"], Value::Null);
    let created = m["createdAt"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "{created}"
    );
    assert!(created.ends_with('Z'));

    // The receiver, known only by id until now, sees the conversation with both users.
    let tb = server.token(b.clone());
    let (status, list) = server.get("/api/chat/conversations", &tb).await;
    assert_eq!(status, 200);
    let data = &list["data"];
    assert_eq!(data["total"], 1);
    assert_eq!(data["page"], 1);
    assert_eq!(data["totalPages"], 1);
    let conv = &data["conversations"][0];
    assert_eq!(conv["last_message"], "Hello! How are you?");
    assert_eq!(conv["unread_count"], 1);
    let ids = [
        conv["participant_1_id"].clone(),
        conv["participant_2_id"].clone(),
    ];
    assert!(ids.contains(&a) && ids.contains(&b), "{conv}");
    assert!(conv["participant1"].is_object() && conv["participant2"].is_object());
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn string_user_ids_stay_strings_and_digit_strings_name_numeric_users() {
    let server = TestServer::start().await;
    let alice = json!(format!("alice-{}", unique()));
    let b = unique();
    let ta = server.token(alice.clone());
    // The receiver given as a digit string is the same user as the number.
    let m = send(
        &server,
        &ta,
        json!({ "receiverId": b.to_string(), "content": "x" }),
    )
    .await;
    assert_eq!(m["sender_id"], alice);
    let tb = server.token(json!(b));
    let (_, list) = server.get("/api/chat/conversations", &tb).await;
    assert_eq!(list["data"]["total"], 1);
    let (_, unread) = server.get("/api/chat/unread", &tb).await;
    assert_eq!(unread["data"][0]["other_participant"]["id"], alice);
    assert_eq!(unread["data"][0]["unread_count"], 1);
    // Once B's own token has been seen, B's id goes out as a number.
    let (_, page) = server
        .get(
            &format!("/api/chat/conversations/{}/messages", m["conversation_id"]),
            &tb,
        )
        .await;
    assert_eq!(page["data"]["messages"][0]["receiver_id"], json!(b));
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_search_after_seq_and_delete() {
    let server = TestServer::start().await;
    let (a, b) = (uid(), uid());
    let (ta, tb) = (server.token(a.clone()), server.token(b.clone()));
    let first = send(
        &server,
        &ta,
        json!({ "receiverId": b, "content": "alpha 100%" }),
    )
    .await;
    let conv = first["conversation_id"].as_i64().unwrap();
    for content in ["Beta", "ALPHA two", "gamma", "alphabet"] {
        send(
            &server,
            &ta,
            json!({ "conversationId": conv, "content": content }),
        )
        .await;
    }
    let base = format!("/api/chat/conversations/{conv}");

    let (_, p3) = server
        .get(&format!("{base}/messages?page=3&limit=2"), &tb)
        .await;
    assert_eq!(p3["data"]["total"], 5);
    assert_eq!(p3["data"]["page"], 3);
    assert_eq!(p3["data"]["totalPages"], 3);
    assert_eq!(p3["data"]["messages"].as_array().unwrap().len(), 1);
    assert_eq!(p3["data"]["messages"][0]["content"], "alphabet");

    let (_, after) = server
        .get(&format!("{base}/messages?after_seq=3"), &tb)
        .await;
    let seqs: Vec<i64> = after["data"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [4, 5]);

    let (_, found) = server.get(&format!("{base}/search?q=alpha"), &tb).await;
    assert_eq!(
        found["data"]["total"], 3,
        "case-insensitive, by word prefix: {found}"
    );
    let (_, pct) = server.get(&format!("{base}/search?q=100%25"), &tb).await;
    assert_eq!(pct["data"]["total"], 1, "the word 100: {pct}");
    let (_, under) = server.get(&format!("{base}/search?q=_"), &tb).await;
    assert_eq!(under["data"]["total"], 0, "punctuation alone finds nothing");
    let (_, paged) = server
        .get(&format!("{base}/search?q=ALPHA&limit=2&page=2"), &tb)
        .await;
    assert_eq!(paged["data"]["messages"].as_array().unwrap().len(), 1);
    assert_eq!(paged["data"]["totalPages"], 2);
    let (status, empty) = server.get(&format!("{base}/search?q=%20"), &tb).await;
    assert_eq!(status, 400, "{empty}");

    // Only the sender deletes; deleted messages leave the history and the search.
    let id = first["id"].as_i64().unwrap();
    let (status, refused) = server
        .call(
            Method::DELETE,
            &format!("/api/chat/messages/{id}"),
            Some(&tb),
            None,
        )
        .await;
    assert_eq!(status, 403, "{refused}");
    let (status, deleted) = server
        .call(
            Method::DELETE,
            &format!("/api/chat/messages/{id}"),
            Some(&ta),
            None,
        )
        .await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["data"]["id"], id);
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/api/chat/messages/{id}"),
            Some(&ta),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (_, left) = server.get(&format!("{base}/messages"), &tb).await;
    assert_eq!(left["data"]["total"], 4);
    let (_, found) = server.get(&format!("{base}/search?q=alpha"), &tb).await;
    assert_eq!(found["data"]["total"], 2);
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_marks_and_unread_counts() {
    let server = TestServer::start().await;
    let (a, b, c) = (uid(), uid(), uid());
    let (ta, tb) = (server.token(a.clone()), server.token(b.clone()));
    let tc = server.token(c.clone());
    let m = send(&server, &ta, json!({ "receiverId": b, "content": "1" })).await;
    send(&server, &ta, json!({ "receiverId": b, "content": "2" })).await;
    send(
        &server,
        &tc,
        json!({ "receiverId": b, "content": "from c" }),
    )
    .await;
    send(
        &server,
        &tb,
        json!({ "receiverId": a, "content": "mine do not count" }),
    )
    .await;

    let (_, count) = server.get("/api/chat/unread-count", &tb).await;
    assert_eq!(count["data"]["unread_count"], 3);
    let (_, per) = server.get("/api/chat/unread", &tb).await;
    assert_eq!(per["data"].as_array().unwrap().len(), 2);

    let conv = m["conversation_id"].as_i64().unwrap();
    let (status, read) = server
        .call(
            Method::PUT,
            &format!("/api/chat/conversations/{conv}/read"),
            Some(&tb),
            None,
        )
        .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["message"], "Messages marked as read");
    assert_eq!(read["data"]["updated"], 2);
    let (_, count) = server.get("/api/chat/unread-count", &tb).await;
    assert_eq!(count["data"]["unread_count"], 1);
    let (_, page) = server
        .get(&format!("/api/chat/conversations/{conv}/messages"), &ta)
        .await;
    assert_eq!(page["data"]["messages"][0]["is_read"], true);
    assert!(page["data"]["messages"][0]["read_at"].is_string());
    assert_eq!(
        page["data"]["messages"][2]["is_read"], false,
        "B's own message is unread by A"
    );
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_a_json_envelope_with_its_status() {
    let server = TestServer::start().await;
    let (a, b, c) = (uid(), uid(), uid());
    let ta = server.token(a.clone());
    let m = send(&server, &ta, json!({ "receiverId": b, "content": "x" })).await;
    let conv = m["conversation_id"].as_i64().unwrap();
    let tc = server.token(c.clone());
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", server.url);

    let check = |status: u16, code: &str, body: &Value| {
        assert_eq!(body["success"], false, "{body}");
        assert_eq!(body["error"]["code"], code, "{status}: {body}");
        assert!(!body["message"].as_str().unwrap().is_empty());
    };

    let (s, body) = server
        .call(Method::GET, "/api/chat/conversations", None, None)
        .await;
    assert_eq!(s, 401);
    check(s, "UNAUTHORIZED", &body);
    let expired = common::token_for(json!({ "sub": 1, "exp": common::exp_in(-600) }));
    let (s, body) = server.get("/api/chat/conversations", &expired).await;
    assert_eq!(s, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    let (s, body) = server.get("/api/chat/conversations", "garbage").await;
    assert_eq!(s, 401);
    check(s, "UNAUTHORIZED", &body);

    let (s, body) = server
        .get(&format!("/api/chat/conversations/{conv}/messages"), &tc)
        .await;
    assert_eq!(s, 403);
    check(s, "FORBIDDEN", &body);
    let (s, body) = server
        .get("/api/chat/conversations/999999/messages", &tc)
        .await;
    assert_eq!(s, 404);
    check(s, "NOT_FOUND", &body);
    let (s, body) = server
        .get("/api/chat/conversations/abc/messages", &tc)
        .await;
    assert_eq!(s, 400);
    check(s, "VALIDATION", &body);
    let (s, body) = server.get("/api/chat/nope", &tc).await;
    assert_eq!(s, 404);
    check(s, "NOT_FOUND", &body);
    let (s, body) = server.get("/api/chat/send", &tc).await;
    assert_eq!(s, 405);
    check(s, "METHOD_NOT_ALLOWED", &body);
    let (s, body) = server
        .call(Method::DELETE, "/api/chat/messages/%FF", Some(&tc), None)
        .await;
    assert_eq!(s, 400);
    check(s, "VALIDATION", &body);
    let (s, body) = server
        .get(
            &format!("/api/chat/conversations/{conv}/messages?limit=1000"),
            &ta,
        )
        .await;
    assert_eq!(s, 400);
    check(s, "VALIDATION", &body);
    let (s, body) = server
        .get(
            &format!("/api/chat/conversations/{conv}/messages?page=-1"),
            &ta,
        )
        .await;
    assert_eq!(s, 400);
    check(s, "VALIDATION", &body);

    let (s, body) = server
        .post(
            "/api/chat/send",
            &ta,
            json!({ "receiverId": a, "content": "me" }),
        )
        .await;
    assert_eq!(s, 422);
    check(s, "UNPROCESSABLE", &body);
    let (s, body) = server
        .post(
            "/api/chat/send",
            &tc,
            json!({ "conversationId": conv, "content": "no" }),
        )
        .await;
    assert_eq!(s, 403);
    check(s, "FORBIDDEN", &body);
    for bad in [
        json!({ "receiverId": b, "content": "" }),
        json!({ "receiverId": b, "content": "z".repeat(10_001) }),
        json!({ "receiverId": b, "content": "x", "attachmentUrl": "data:text/html,hi" }),
        json!({ "receiverId": b }),
        json!("just a string"),
        json!({ "receiverId": {"id": 1}, "content": "x" }),
    ] {
        let (s, body) = server.post("/api/chat/send", &ta, bad.clone()).await;
        assert_eq!(s, 400, "{bad}: {body}");
        check(s, "VALIDATION", &body);
    }

    let malformed = http
        .post(url("/api/chat/send"))
        .bearer_auth(&ta)
        .header("content-type", "application/json")
        .body("{\"receiverId\": 2, ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    check(400, "VALIDATION", &malformed.json().await.unwrap());

    let huge = http
        .post(url("/api/chat/send"))
        .bearer_auth(&ta)
        .header("content-type", "application/json")
        .body(format!(
            "{{\"receiverId\": 2, \"content\": \"{}\"}}",
            "a".repeat(2_000_000)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    check(413, "PAYLOAD_TOO_LARGE", &huge.json().await.unwrap());

    // Nothing of that was stored.
    let (_, page) = server
        .get(&format!("/api/chat/conversations/{conv}/messages"), &ta)
        .await;
    assert_eq!(page["data"]["total"], 1);
    let (_, convs) = server.get("/api/chat/conversations", &ta).await;
    assert_eq!(convs["data"]["total"], 1);
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_profile_fields_are_a_setting() {
    let db = TestDb::fresh().await;
    let server = TestServer::start_with(db, |c| {
        c.public_profile_fields = "name,email".to_owned();
    })
    .await;
    let (a, b) = (uid(), uid());
    let ta = common::token_for(json!({
        "sub": a, "name": "Ada", "username": "ada", "email": "ada@example.com",
        "avatar": "https://example.com/ada.png", "exp": common::exp_in(600)
    }));
    let m = send(&server, &ta, json!({ "receiverId": b, "content": "hi" })).await;
    assert_eq!(
        m["sender"],
        json!({ "id": a, "name": "Ada", "username": null, "email": "ada@example.com", "avatar": null })
    );
    server.finish().await;
    // An unknown field is a configuration error, not a silent leak or loss.
    let mut config = parley::config::Config::with_defaults(Some(common::SECRET.to_owned()));
    config.public_profile_fields = "name,phone".to_owned();
    config.database_url = "sqlite::memory:".to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = parley::run(listener, config, async {}).await.unwrap_err();
    assert!(err.to_string().contains("PUBLIC_PROFILE_FIELDS"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_and_non_ascii_text() {
    let server = TestServer::start().await;
    let (a, b) = (uid(), uid());
    let ta = server.token(a.clone());
    let m = send(
        &server,
        &ta,
        json!({ "receiverId": b, "content": "ÜBER straße\ttab\nline\r\nwindows line" }),
    )
    .await;
    let conv = m["conversation_id"].as_i64().unwrap();
    for bad in [
        "a\u{0}b",
        "bell\u{7}",
        "esc\u{1b}[0m",
        "over\rwrite",
        "cr at end\r",
    ] {
        let (status, body) = server
            .post(
                "/api/chat/send",
                &ta,
                json!({ "conversationId": conv, "content": bad }),
            )
            .await;
        assert_eq!(status, 400, "{bad:?}: {body}");
        assert_eq!(body["error"]["code"], "VALIDATION");
    }
    let base = format!("/api/chat/conversations/{conv}/search");
    let (status, _) = server.get(&format!("{base}?q=a%00"), &ta).await;
    assert_eq!(status, 400);
    // Same case always matches, whatever the letters; other cases fold for ASCII everywhere.
    for (q, total) in [
        ("%C3%9CBER", 1),
        ("stra%C3%9Fe", 1),
        ("TAB", 1),
        ("\u{1F600}", 0),
    ] {
        let (status, found) = server.get(&format!("{base}?q={q}"), &ta).await;
        assert_eq!(status, 200, "{q}: {found}");
        assert_eq!(found["data"]["total"], total, "{q}: {found}");
    }
    let (_, page) = server
        .get(&format!("/api/chat/conversations/{conv}/messages"), &ta)
        .await;
    assert_eq!(page["data"]["total"], 1);
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_sends_to_new_receivers_leave_nothing_behind() {
    let server = TestServer::start().await;
    let a = uid();
    let ta = server.token(a.clone());
    let key = format!("k-{}", unique());
    // Ten different new receivers, one key, all at once: one is stored, nine conflict.
    let receivers: Vec<Value> = (0..10).map(|_| uid()).collect();
    let sends = receivers.iter().map(|r| {
        let (server, ta, key) = (&server, &ta, &key);
        async move {
            let resp = reqwest::Client::new()
                .post(format!("{}/api/chat/send", server.url))
                .bearer_auth(ta)
                .header("Idempotency-Key", key.as_str())
                .json(&json!({ "receiverId": r, "content": "once" }))
                .send()
                .await
                .unwrap();
            resp.status().as_u16()
        }
    });
    let mut statuses = futures_util::future::join_all(sends).await;
    statuses.sort_unstable();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        9,
        "{statuses:?}"
    );

    let (_, convs) = server.get("/api/chat/conversations", &ta).await;
    assert_eq!(
        convs["data"]["total"], 1,
        "only the stored send made a conversation: {convs}"
    );
    let (status, _) = server
        .post(
            "/api/chat/send",
            &ta,
            json!({ "receiverId": a, "content": "me" }),
        )
        .await;
    assert_eq!(status, 422);
    let (_, convs) = server.get("/api/chat/conversations", &ta).await;
    assert_eq!(convs["data"]["total"], 1);
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_over_the_rate_limit_are_refused_on_both_doors() {
    let db = TestDb::fresh().await;
    let server = TestServer::start_with(db, |c| {
        c.send_rate_per_sec = 1;
        c.send_burst = 3;
    })
    .await;
    let (a, b) = (uid(), uid());
    let ta = server.token(a.clone());
    let m = send(&server, &ta, json!({ "receiverId": b, "content": "1" })).await;
    let conv = m["conversation_id"].as_i64().unwrap();
    send(
        &server,
        &ta,
        json!({ "conversationId": conv, "content": "2" }),
    )
    .await;
    send(
        &server,
        &ta,
        json!({ "conversationId": conv, "content": "3" }),
    )
    .await;
    let (status, body) = server
        .post(
            "/api/chat/send",
            &ta,
            json!({ "conversationId": conv, "content": "4" }),
        )
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "RATE_LIMITED");
    let socket = server.socket(&ta).await;
    let ack = socket
        .ack(
            "send_message",
            json!({ "conversationId": conv, "content": "5" }),
        )
        .await;
    assert_eq!(ack["error"]["code"], "RATE_LIMITED", "{ack}");
    // Other users are not affected.
    let tb = server.token(b.clone());
    send(
        &server,
        &tb,
        json!({ "conversationId": conv, "content": "from b" }),
    )
    .await;
    let (_, page) = server
        .get(&format!("/api/chat/conversations/{conv}/messages"), &ta)
        .await;
    assert_eq!(page["data"]["total"], 4);
    socket.close().await;
    server.finish().await;
}

/// Full-text search through the `chats` protocol's routes, on whichever database the suite runs
/// on: word prefixes, ranked, only the caller's chats, never deleted or hidden messages, edits
/// followed, pages by keyset cursor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_text_search_is_ranked_permission_filtered_and_paged_by_cursor() {
    let server = TestServer::start_with(TestDb::fresh().await, |c| {
        c.protocols = "chats".to_owned();
        c.send_rate_per_sec = 0;
    })
    .await;
    let (a, b, c) = (uid(), uid(), uid());
    let (ta, tb, tc) = (
        server.token(a.clone()),
        server.token(b.clone()),
        server.token(c.clone()),
    );
    let open = async |token: &str, other: &Value| -> String {
        let (status, body) = server
            .post(
                "/api/chats/or-create",
                token,
                json!({ "recipientId": other }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["data"]["id"].as_str().unwrap().to_owned()
    };
    let ab = open(&ta, &b).await;
    let ac = open(&ta, &c).await;
    let say = async |token: &str, chat: &str, content: &str| -> String {
        let (status, body) = server
            .post(
                &format!("/api/chats/{chat}/messages"),
                token,
                json!({ "content": content }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["data"]["id"].as_str().unwrap().to_owned()
    };
    say(&ta, &ab, "kiwi kiwi kiwi").await;
    say(
        &tb,
        &ab,
        "there is a kiwi in this rather long sentence about fruit",
    )
    .await;
    let pie = say(&ta, &ab, "apple pie").await;
    say(&tb, &ab, "Kiwifruit salad").await;
    let gone = say(&ta, &ab, "deleted kiwi").await;
    let hidden = say(&ta, &ab, "hidden kiwi").await;
    say(&tc, &ac, "kiwi for carol").await;
    say(&tb, &ab, "see report.pdf or mail bob@example.com").await;
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/api/chats/messages/{gone}"),
            Some(&ta),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/api/chats/messages/{hidden}?forEveryone=false"),
            Some(&tb),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .call(
            Method::PATCH,
            &format!("/api/chats/messages/{pie}"),
            Some(&ta),
            Some(json!({ "content": "kiwi pie" })),
        )
        .await;
    assert_eq!(status, 200);

    let contents = |body: &Value| -> Vec<String> {
        body["data"]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap().to_owned())
            .collect()
    };
    // In one chat: prefixes match, the repeated word ranks first, the deleted and (for b) the
    // hidden message are left out, the edit is followed.
    let (status, found) = server
        .get(&format!("/api/chats/{ab}/search?q=KIWI"), &tb)
        .await;
    assert_eq!(status, 200, "{found}");
    let mut seen = contents(&found);
    assert_eq!(seen[0], "kiwi kiwi kiwi", "ranked: {found}");
    seen.sort();
    assert_eq!(
        seen,
        [
            "Kiwifruit salad",
            "kiwi kiwi kiwi",
            "kiwi pie",
            "there is a kiwi in this rather long sentence about fruit"
        ]
    );
    assert_eq!(found["data"]["pagination"]["total"], 4);
    for word in ["pdf", "example", "report"] {
        let (_, found) = server
            .get(&format!("/api/chats/{ab}/search?q={word}"), &tb)
            .await;
        assert_eq!(
            contents(&found),
            ["see report.pdf or mail bob@example.com"],
            "punctuation separates words: {word}"
        );
    }
    let (_, old) = server
        .get(&format!("/api/chats/{ab}/search?q=apple"), &tb)
        .await;
    assert!(
        contents(&old).is_empty(),
        "the edit replaced the old words: {old}"
    );

    // Across chats: only the caller's; a sees the message b hid, and carol's chat.
    let (_, mine) = server.get("/api/chats/search?q=kiwi", &tb).await;
    assert_eq!(contents(&mine).len(), 4, "{mine}");
    let mut pages = Vec::new();
    let mut next = String::new();
    loop {
        let path = format!("/api/chats/search?q=kiwi&limit=2{next}");
        let (status, page) = server.get(&path, &ta).await;
        assert_eq!(status, 200, "{page}");
        pages.extend(contents(&page));
        match page["data"]["nextCursor"].as_str() {
            Some(cursor) => {
                assert_eq!(page["data"]["hasMore"], true);
                next = format!("&cursor={cursor}");
            }
            None => break,
        }
        assert!(pages.len() <= 6, "the cursor moves on: {pages:?}");
    }
    assert_eq!(pages.len(), 6, "{pages:?}");
    assert_eq!(pages[0], "kiwi kiwi kiwi");
    pages.sort();
    pages.dedup();
    assert_eq!(pages.len(), 6, "no result twice");
    assert!(
        pages.contains(&"kiwi for carol".to_owned()) && pages.contains(&"hidden kiwi".to_owned())
    );

    // Outsiders, and bad queries.
    let (status, _) = server
        .get(&format!("/api/chats/{ab}/search?q=kiwi"), &tc)
        .await;
    assert_eq!(status, 403);
    for bad in ["", "%20", &"x".repeat(201), "kiwi&cursor=nonsense"] {
        let (status, body) = server.get(&format!("/api/chats/search?q={bad}"), &ta).await;
        assert_eq!(status, 400, "q={bad}: {body}");
        assert_eq!(body["error"]["code"], "VALIDATION");
    }
    let (status, none) = server.get("/api/chats/search?q=%25%25", &ta).await;
    assert_eq!(status, 200);
    assert!(contents(&none).is_empty(), "punctuation finds nothing");
    server.finish().await;
}

/// A 3 x 2 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0x12, 0x16, 0xF1,
    0x4D, 0x00, 0x00, 0x00, 0x12, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0x00,
    0x44, 0x0C, 0x10, 0x62, 0x00, 0x00, 0x3E, 0x8F, 0x05, 0xFB, 0xF7, 0x5A, 0xAE, 0xE5, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// Where uploads go in [`uploads_are_typed_limited_signed_and_members_only`]: a fresh local
/// directory, or the S3-compatible server `PARLEY_TEST_S3_ENDPOINT` names (its bucket
/// `PARLEY_TEST_S3_BUCKET`), which `scripts/test` starts.
enum Storage {
    Local(std::path::PathBuf),
    S3 { endpoint: String, bucket: String },
}

impl Storage {
    /// Every storage the run has: the local directory, and S3 when an endpoint is given (it
    /// must be when `PARLEY_REQUIRE_S3` is set, as CI sets it).
    fn all() -> Vec<Self> {
        let dir = std::env::temp_dir().join(format!("parley-uploads-{}", unique()));
        let mut all = vec![Self::Local(dir)];
        match std::env::var("PARLEY_TEST_S3_ENDPOINT") {
            Ok(endpoint) if !endpoint.is_empty() => all.push(Self::S3 {
                endpoint,
                bucket: std::env::var("PARLEY_TEST_S3_BUCKET")
                    .unwrap_or_else(|_| "parley-test".to_owned()),
            }),
            _ => assert!(
                std::env::var_os("PARLEY_REQUIRE_S3").is_none(),
                "PARLEY_REQUIRE_S3 is set but PARLEY_TEST_S3_ENDPOINT is not"
            ),
        }
        all
    }

    fn tune(&self, c: &mut parley::config::Config) {
        match self {
            Self::Local(dir) => c.upload_dir = dir.clone(),
            Self::S3 { endpoint, bucket } => {
                c.upload_storage_url = Some(format!("s3://{bucket}"));
                c.s3_endpoint = Some(endpoint.clone());
                c.s3_region = Some("us-east-1".to_owned());
                c.s3_access_key_id = Some("test".to_owned());
                c.s3_secret_access_key = Some("test".to_owned());
            }
        }
    }

    /// The stored files' keys (the local directory's files; on S3 the bucket's keys).
    async fn keys(&self) -> Vec<String> {
        match self {
            Self::Local(dir) => {
                let mut found = Vec::new();
                let mut dirs = vec![dir.clone()];
                while let Some(d) = dirs.pop() {
                    let Ok(entries) = std::fs::read_dir(&d) else {
                        continue;
                    };
                    for entry in entries.flatten() {
                        let path = entry.path();
                        if path.is_dir() {
                            dirs.push(path);
                        } else {
                            found.push(path.display().to_string());
                        }
                    }
                }
                found.sort();
                found
            }
            Self::S3 { endpoint, bucket } => {
                let listing = reqwest::get(format!("{endpoint}/{bucket}?list-type=2"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                let mut keys: Vec<String> = listing
                    .split("<Key>")
                    .skip(1)
                    .filter_map(|part| part.split("</Key>").next())
                    .map(str::to_owned)
                    .collect();
                keys.sort();
                keys
            }
        }
    }
}

/// Uploads through the `chats` protocol's media routes, on the local directory and on S3: a
/// real PNG stored with its type, size and dimensions, sent with `send_media`, downloaded by its
/// signed link without a token by the other member; before it is sent only its uploader may
/// read it, an outsider never; an altered or expired link, a file over the limit, a mislabelled
/// or unaccepted type, a non-member's upload: refused, nothing left in storage; the uploader's
/// delete removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_typed_limited_signed_and_members_only() {
    for storage in Storage::all() {
        let server = TestServer::start_with(TestDb::fresh().await, |c| {
            c.protocols = "chats".to_owned();
            c.send_rate_per_sec = 0;
            c.max_upload_bytes = 64 * 1024;
            storage.tune(c);
        })
        .await;
        let before = storage.keys().await;
        let (a, b, c) = (uid(), uid(), uid());
        let (ta, tb, tc) = (
            server.token(a.clone()),
            server.token(b.clone()),
            server.token(c.clone()),
        );
        let (_, opened) = server
            .post("/api/chats/or-create", &ta, json!({ "recipientId": b }))
            .await;
        let chat = opened["data"]["id"].as_str().unwrap().to_owned();
        let http = reqwest::Client::new();
        let upload = async |token: &str, bytes: Vec<u8>, name: &str, mime: &str, chat_id: &str| {
            // The seed's client appends the file first, then the chat.
            let file = reqwest::multipart::Part::bytes(bytes)
                .file_name(name.to_owned())
                .mime_str(mime)
                .unwrap();
            let form = reqwest::multipart::Form::new()
                .part("file", file)
                .text("chatId", chat_id.to_owned());
            let resp = http
                .post(format!("{}/api/media/upload-chat-media", server.url))
                .bearer_auth(token)
                .multipart(form)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            (status, body)
        };
        let fetch = async |url: &str, token: Option<&str>| {
            let mut req = http.get(format!("{}{url}", server.url));
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let kind = resp
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            (status, kind, resp.bytes().await.unwrap().to_vec())
        };

        let (status, stored) = upload(&ta, PNG.to_vec(), "../../cat.png", "image/png", &chat).await;
        assert_eq!(status, 200, "{stored}");
        let file = &stored["data"];
        assert_eq!(file["messageType"], "image");
        assert_eq!(file["mimeType"], "image/png");
        assert_eq!(
            file["fileName"], "cat.png",
            "only the last segment of the name"
        );
        assert_eq!(file["size"], PNG.len());
        assert_eq!(
            (file["width"].as_i64(), file["height"].as_i64()),
            (Some(3), Some(2))
        );
        let url = file["url"].as_str().unwrap().to_owned();
        let file_id = file["fileId"].as_str().unwrap().to_owned();
        assert_eq!(storage.keys().await.len(), before.len() + 1);
        if let Storage::Local(dir) = &storage {
            assert!(
                storage
                    .keys()
                    .await
                    .iter()
                    .all(|k| k.starts_with(&dir.display().to_string()))
            );
        }

        // Before it is sent: the uploader by link or token; the other member not by token.
        let (status, kind, bytes) = fetch(&url, None).await;
        assert_eq!(
            (status, kind.as_deref(), bytes.as_slice()),
            (200, Some("image/png"), PNG)
        );
        let direct = format!("/api/media/files/{file_id}");
        assert_eq!(fetch(&direct, Some(&ta)).await.0, 200);
        assert_eq!(fetch(&direct, Some(&tb)).await.0, 403);
        assert_eq!(fetch(&direct, None).await.0, 401);

        // Sent: the other member gets media_received with a signed link that works without a
        // token; an outsider still cannot read it.
        let mut bob = server.socket(&tb).await;
        let joined = bob.ack("join_chat", json!({ "chatId": chat })).await;
        assert_eq!(joined["success"], true, "{joined}");
        let alice = server.socket(&ta).await;
        let sent = alice
            .ack(
                "send_media",
                json!({ "chatId": chat, "messageType": "image", "media": file }),
            )
            .await;
        assert_eq!(sent["success"], true, "{sent}");
        assert_eq!(sent["data"]["messageType"], "image");
        let received = bob.next("media_received").await;
        assert_eq!(received["media"]["fileId"], file_id.as_str());
        assert_eq!(received["media"]["mimeType"], "image/png");
        let link = received["media"]["url"].as_str().unwrap().to_owned();
        let (status, _, bytes) = fetch(&link, None).await;
        assert_eq!((status, bytes.as_slice()), (200, PNG));
        assert_eq!(fetch(&direct, Some(&tb)).await.0, 200);
        assert_eq!(fetch(&direct, Some(&tc)).await.0, 403);
        let (_, history) = server
            .get(&format!("/api/chats/{chat}/messages"), &tb)
            .await;
        let shown = history["data"]["messages"][0]["media"]["url"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(fetch(&shown, None).await.0, 200, "history links work too");
        // A file belongs to one message.
        let twice = alice
            .ack("send_media", json!({ "chatId": chat, "media": file }))
            .await;
        assert_eq!(twice["error"]["code"], "VALIDATION", "{twice}");
        // A file cannot be sent by someone else, nor into another chat.
        let stolen = bob
            .ack(
                "send_media",
                json!({ "chatId": chat, "media": { "fileId": file_id } }),
            )
            .await;
        assert_eq!(stolen["error"]["code"], "VALIDATION", "{stolen}");

        // Altered and expired links.
        let (path, query) = link.split_once('?').unwrap();
        let altered = query.replace("signature=", "signature=00");
        assert_eq!(fetch(&format!("{path}?{altered}"), None).await.0, 404);
        let other_file = format!("/api/media/files/{}?{query}", "0".repeat(32));
        assert_eq!(fetch(&other_file, None).await.0, 404);
        let stale = format!("{path}?expires=1000&signature=00");
        assert_eq!(fetch(&stale, None).await.0, 404);

        // Refused uploads leave nothing behind.
        let stored_now = storage.keys().await;
        let big = [PNG, &[0; 200 * 1024]].concat();
        let (status, body) = upload(&ta, big, "big.png", "image/png", &chat).await;
        assert_eq!(status, 413, "{body}");
        assert_eq!(body["error"]["code"], "PAYLOAD_TOO_LARGE");
        let (status, body) =
            upload(&ta, b"just words".to_vec(), "photo.png", "image/png", &chat).await;
        assert_eq!(status, 415, "{body}");
        let elf = [&[0x7F, b'E', b'L', b'F', 2, 1, 1, 0][..], &[0; 56]].concat();
        let (status, body) = upload(&ta, elf, "tool", "application/octet-stream", &chat).await;
        assert_eq!(status, 415, "{body}");
        let (status, body) = upload(&tc, PNG.to_vec(), "cat.png", "image/png", &chat).await;
        assert_eq!(status, 403, "a non-member: {body}");
        let (status, body) = upload(&ta, PNG.to_vec(), "cat.png", "image/png", "nope").await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(storage.keys().await, stored_now, "nothing left in storage");

        // Only the uploader deletes; then the file is gone from storage and its link.
        let (status, _) = server
            .post("/api/media/delete", &tb, json!({ "fileId": file_id }))
            .await;
        assert_eq!(status, 403);
        let (status, deleted) = server
            .post("/api/media/delete", &ta, json!({ "fileId": file_id }))
            .await;
        assert_eq!(status, 200, "{deleted}");
        assert_eq!(fetch(&link, None).await.0, 404);
        assert_eq!(storage.keys().await, before);

        // A message deleted for everyone takes its file with it.
        let (_, again) = upload(&ta, PNG.to_vec(), "dog.png", "image/png", &chat).await;
        let sent = alice
            .ack(
                "send_media",
                json!({ "chatId": chat, "media": again["data"] }),
            )
            .await;
        let message = sent["data"]["id"].as_str().unwrap().to_owned();
        let link = sent["data"]["media"]["url"].as_str().unwrap().to_owned();
        assert_eq!(fetch(&link, None).await.0, 200);
        let (status, _) = server
            .call(
                Method::DELETE,
                &format!("/api/chats/messages/{message}"),
                Some(&ta),
                None,
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(fetch(&link, None).await.0, 404);
        assert_eq!(storage.keys().await, before);
        alice.close().await;
        bob.close().await;
        server.finish().await;
        if let Storage::Local(dir) = &storage {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Client ids a frontend makes with `Date.now()` are numbers: they are taken as text, and a repeat
/// is answered with the stored message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numeric_client_ids_are_taken_as_text() {
    let server = TestServer::start_with(TestDb::fresh().await, |c| {
        c.protocols = "chats".to_owned();
    })
    .await;
    let (a, b) = (uid(), uid());
    let ta = server.token(a.clone());
    let (_, opened) = server
        .post("/api/chats/or-create", &ta, json!({ "recipientId": b }))
        .await;
    let chat = opened["data"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/chats/{chat}/messages");
    let body = json!({ "content": "hi", "tempId": 1_765_000_000_123_i64 });
    let (status, first) = server.post(&path, &ta, body.clone()).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["data"]["clientMsgId"], "1765000000123");
    let (status, again) = server.post(&path, &ta, body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["data"]["id"], first["data"]["id"]);
    server.finish().await;
}
