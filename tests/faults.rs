//! Faults a production server meets: the database going away and coming back.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{CutProxy, TestDb, TestServer, unique};
use sea_orm::{
    ConnectOptions, Database, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use serde_json::{Value, json};

fn uid() -> Value {
    json!(unique())
}

/// Makes the database unavailable to the server until dropped: on PostgreSQL every connection
/// through the proxy is cut and new ones refused; on SQLite another connection holds the write
/// lock.
enum Outage {
    Postgres(CutProxy),
    Sqlite(sea_orm::DatabaseTransaction, sea_orm::DatabaseConnection),
}

/// A transaction of another connection to `db` that is ready to write; on SQLite it holds the
/// database's write lock from its start.
async fn writing_transaction(
    db: &TestDb,
) -> (sea_orm::DatabaseTransaction, sea_orm::DatabaseConnection) {
    let mut opts = ConnectOptions::new(db.url.clone());
    opts.max_connections(1);
    let other = Database::connect(opts).await.unwrap();
    let lock = other
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await
        .unwrap();
    (lock, other)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_unavailable_and_recovers() {
    let db = TestDb::fresh().await;
    let proxy = if db.is_postgres() {
        Some(CutProxy::start(&db.authority()).await)
    } else {
        None
    };
    let served = match &proxy {
        Some(p) => {
            let url = common::via(&db.url, p.addr);
            db.clone().with_url(url)
        }
        None => db.clone(),
    };
    let server = TestServer::start_with(served, |c| {
        c.db_acquire_timeout_ms = 1_000;
        c.sqlite_busy_timeout_ms = 500;
        c.send_rate_per_sec = 0;
    })
    .await;
    let (a, b) = (uid(), uid());
    let ta = server.token(a.clone());
    let conv = server.open_direct(&ta, &b, "before").await;
    let socket = server.socket(&ta).await;

    let outage = match proxy {
        Some(proxy) => {
            proxy.cut();
            Outage::Postgres(proxy)
        }
        None => {
            let (lock, other) = writing_transaction(&db).await;
            Outage::Sqlite(lock, other)
        }
    };

    // REST: 503 UNAVAILABLE with Retry-After, within the configured timeout.
    let resp = tokio::time::timeout(
        Duration::from_secs(10),
        reqwest::Client::new()
            .post(format!("{}/api/chat/send", server.url))
            .bearer_auth(&ta)
            .json(&json!({ "conversationId": conv, "content": "during (REST)" }))
            .send(),
    )
    .await
    .expect("no answer within 10 s during the outage")
    .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.headers()["retry-after"], "2");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], "UNAVAILABLE", "{body}");
    assert!(
        !body.to_string().contains("sqlx"),
        "details stay on the server: {body}"
    );

    // Socket: the ack says UNAVAILABLE too.
    let ack = socket
        .ack(
            "send_message",
            json!({ "conversationId": conv, "content": "during (socket)" }),
        )
        .await;
    assert_eq!(ack["success"], false, "{ack}");
    assert_eq!(ack["error"]["code"], "UNAVAILABLE", "{ack}");

    // The database comes back; parley recovers by itself.
    let _proxy = match outage {
        Outage::Postgres(proxy) => {
            proxy.restore();
            Some(proxy)
        }
        Outage::Sqlite(lock, other) => {
            lock.rollback().await.unwrap();
            other.close().await.unwrap();
            None
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = server
            .post(
                "/api/chat/send",
                &ta,
                json!({ "conversationId": conv, "content": "after" }),
            )
            .await;
        if status == 201 {
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "no recovery within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ack = socket
        .ack(
            "send_message",
            json!({ "conversationId": conv, "content": "after (socket)" }),
        )
        .await;
    assert_eq!(ack["success"], true, "{ack}");
    let (_, page) = server
        .get(&format!("/api/chat/conversations/{conv}/messages"), &ta)
        .await;
    let contents: Vec<&str> = page["data"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        ["before", "after", "after (socket)"],
        "nothing refused was stored"
    );
    socket.close().await;
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_arrived_is_read_however_long_the_database_took() {
    use sea_orm::ConnectionTrait;
    let db = TestDb::fresh().await;
    // The body deadline is far shorter than the wait for the database.
    let server = TestServer::start_with(db.clone(), |c| {
        c.http_header_timeout_ms = 300;
        c.sqlite_busy_timeout_ms = 5_000;
        c.db_acquire_timeout_ms = 5_000;
    })
    .await;
    // Another connection holds the users table for a second: a new caller's first request
    // waits for it before its handler reads the body.
    let (lock, other) = writing_transaction(&db).await;
    if db.is_postgres() {
        lock.execute_unprepared("LOCK TABLE users IN EXCLUSIVE MODE")
            .await
            .unwrap();
    }
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        lock.rollback().await.unwrap();
        other.close().await.unwrap();
    });
    let started = tokio::time::Instant::now();
    let (status, body) = server
        .call(
            reqwest::Method::POST,
            "/api/chat/send",
            Some(&server.token(uid())),
            Some(json!({ "receiverId": uid(), "content": "sent at once" })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the lock was waited for"
    );
    release.await.unwrap();
    server.finish().await;
}
