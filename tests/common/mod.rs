//! The real server on 127.0.0.1:0 with a fresh database, and the clients that drive it: a Rust
//! Socket.IO client (`rust_socketio`) and an HTTP client (`reqwest`).
//!
//! The database is a fresh SQLite file per server, or, when `PARLEY_TEST_DATABASE_URL` names a
//! PostgreSQL database, a fresh schema in it.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub mod raw;

use futures_util::FutureExt;
use parley::config::Config;
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload, TransportType};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

/// How long a test waits for anything it expects.
pub const WAIT: Duration = Duration::from_secs(5);
/// The secret every test server signs with.
pub const SECRET: &str = "parley-test-secret";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique number for this process (user ids, schema names).
pub fn unique() -> u64 {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    u64::from(std::process::id()) * 100_000 + n + 1
}

/// A fresh database: its URL and what to clean up.
#[derive(Debug, Clone)]
pub struct TestDb {
    /// The URL the server is given.
    pub url: String,
    file: Option<std::path::PathBuf>,
    /// PostgreSQL: the admin URL and the schema to drop.
    schema: Option<(String, String)>,
}

impl TestDb {
    /// A fresh SQLite file, or a fresh schema in `PARLEY_TEST_DATABASE_URL`'s PostgreSQL database.
    pub async fn fresh() -> Self {
        match std::env::var("PARLEY_TEST_DATABASE_URL") {
            Ok(base) if base.starts_with("postgres") => {
                let schema = format!("parley_t_{}", unique());
                let admin = sea_orm::Database::connect(base.as_str()).await.unwrap();
                use sea_orm::ConnectionTrait;
                admin
                    .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
                    .await
                    .unwrap();
                admin.close().await.unwrap();
                let sep = if base.contains('?') { '&' } else { '?' };
                Self {
                    url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
                    file: None,
                    schema: Some((base, schema)),
                }
            }
            _ => {
                let path = std::env::temp_dir().join(format!("parley-test-{}.db", unique()));
                Self {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    file: Some(path),
                    schema: None,
                }
            }
        }
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.schema.is_some()
    }

    /// The same database, reached at `url` (through a proxy, say); cleaned up as before.
    pub fn with_url(mut self, url: String) -> Self {
        self.url = url;
        self
    }

    /// The `host:port` of a PostgreSQL URL.
    pub fn authority(&self) -> String {
        let rest = self.url.split_once("://").unwrap().1;
        let authority = rest.split('/').next().unwrap();
        authority.rsplit('@').next().unwrap().to_owned()
    }

    async fn remove(&self) {
        if let Some(path) = &self.file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        if let Some((base, schema)) = &self.schema {
            use sea_orm::ConnectionTrait;
            let admin = sea_orm::Database::connect(base.as_str()).await.unwrap();
            admin
                .execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
                .await
                .unwrap();
            admin.close().await.unwrap();
        }
    }
}

/// A running parley.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its database.
    pub db: TestDb,
    /// The settings it runs with.
    pub config: Config,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), parley::RunError>>>,
    http: reqwest::Client,
}

impl TestServer {
    /// A server with default settings on a fresh database.
    pub async fn start() -> Self {
        Self::start_with(TestDb::fresh().await, |_| {}).await
    }

    /// A server on `db` with settings changed by `tune`.
    pub async fn start_with(db: TestDb, tune: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::with_defaults(Some(SECRET.to_owned()));
        config.database_url = db.url.clone();
        config.port = 0;
        // Uploads of each server in a directory of their own, not the working directory.
        config.upload_dir = std::env::temp_dir().join(format!("parley-test-uploads-{}", unique()));
        tune(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(parley::run(listener, config.clone(), async {
            let _ = stopped.await;
        }));
        let server = Self {
            addr,
            url: format!("http://{addr}"),
            db,
            config,
            stop: Some(stop),
            task: Some(task),
            http: reqwest::Client::new(),
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.http.get(format!("{}/health", self.url)).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "server did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server (as on SIGTERM) and waits for `run` to return; keeps the database.
    pub async fn stop(mut self) -> TestDb {
        self.shutdown().await;
        let db = self.db.clone();
        // The database outlives this server.
        self.db.file = None;
        self.db.schema = None;
        db
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let result = tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .expect("server did not stop within 20 s")
                .unwrap();
            result.expect("run returned an error");
        }
    }

    /// Stops the server and removes its database.
    pub async fn finish(mut self) {
        self.shutdown().await;
        self.db.remove().await;
        let _ = std::fs::remove_dir_all(&self.config.upload_dir);
    }

    /// A token for `sub` (a JSON number or string) signed with the test secret.
    pub fn token(&self, sub: Value) -> String {
        token_for(json!({ "sub": sub, "exp": exp_in(3600) }))
    }

    /// A REST call: method, path, optional bearer token and JSON body; returns status and body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = tokio::time::timeout(WAIT, req.send())
            .await
            .unwrap()
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let json =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        (status, json)
    }

    /// `GET` with a token.
    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    /// `POST` JSON with a token.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(token), Some(body))
            .await
    }

    /// Opens the direct conversation of `token`'s user and `receiver` over REST with a first
    /// message; returns the conversation's id.
    pub async fn open_direct(&self, token: &str, receiver: &Value, content: &str) -> i64 {
        let (status, body) = self
            .post(
                "/api/chat/send",
                token,
                json!({ "receiverId": receiver, "content": content }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["data"]["conversation_id"].as_i64().unwrap()
    }

    /// The client message ids of every message stored in `conv`, read page by page as `token`;
    /// panics on an id stored twice.
    pub async fn stored_client_ids(
        &self,
        conv: i64,
        token: &str,
    ) -> std::collections::BTreeSet<String> {
        let mut stored = std::collections::BTreeSet::new();
        let mut after = 0;
        loop {
            let path =
                format!("/api/chat/conversations/{conv}/messages?limit=100&after_seq={after}");
            let (status, page) = self.get(&path, token).await;
            assert_eq!(status, 200, "{page}");
            let messages = page["data"]["messages"].as_array().unwrap().clone();
            let Some(last) = messages.last() else {
                return stored;
            };
            after = last["seq"].as_i64().unwrap();
            for m in &messages {
                if let Some(key) = m["client_msg_id"].as_str() {
                    assert!(stored.insert(key.to_owned()), "stored twice: {key}");
                }
            }
        }
    }

    /// A Socket.IO client connected with `token` over WebSocket.
    pub async fn socket(&self, token: &str) -> SocketClient {
        SocketClient::connect(&self.url, token, TransportType::Websocket).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// `exp` `secs` from now.
pub fn exp_in(secs: i64) -> i64 {
    chrono::Utc::now().timestamp() + secs
}

/// An HS256 token with these claims, signed with the test secret.
pub fn token_for(claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// A connected Socket.IO client that records every event it receives.
pub struct SocketClient {
    /// The underlying client.
    pub client: Client,
    events: mpsc::UnboundedReceiver<(String, Value)>,
    seen: Vec<(String, Value)>,
}

impl SocketClient {
    /// Connects and waits until the server accepted the connection.
    pub async fn connect(url: &str, token: &str, transport: TransportType) -> Self {
        Self::connect_with_auth(url, json!({ "token": token }), transport).await
    }

    /// Connects with the handshake's `auth` and waits until the server accepted the connection.
    pub async fn connect_with_auth(url: &str, auth: Value, transport: TransportType) -> Self {
        let (tx, events) = mpsc::unbounded_channel();
        let error_tx = tx.clone();
        let (connected_tx, connected) = mpsc::unbounded_channel::<()>();
        let client = ClientBuilder::new(url)
            .namespace("/")
            .auth(auth)
            .transport_type(transport)
            .reconnect(false)
            .on(Event::Connect, move |_, _| {
                let _ = connected_tx.send(());
                async {}.boxed()
            })
            .on(Event::Error, move |payload, _| {
                // The server's `error` event reaches this callback, not `on_any`.
                if let Payload::Text(mut values) = payload
                    && !values.is_empty()
                {
                    let _ = error_tx.send(("error".to_owned(), values.remove(0)));
                }
                async {}.boxed()
            })
            .on_any(move |event, payload, _| {
                if let Payload::Text(mut values) = payload {
                    let value = if values.is_empty() {
                        Value::Null
                    } else {
                        values.remove(0)
                    };
                    let _ = tx.send((event.as_str().to_owned(), value));
                }
                async {}.boxed()
            })
            .connect()
            .await
            .unwrap();
        let mut connected = connected;
        tokio::time::timeout(WAIT, connected.recv())
            .await
            .expect("no connect within 5 s");
        Self {
            client,
            events,
            seen: Vec::new(),
        }
    }

    /// Emits and waits for the acknowledgement.
    pub async fn ack(&self, event: &str, data: Value) -> Value {
        self.try_ack(event, data)
            .await
            .unwrap_or_else(|| panic!("no ack for {event} within 5 s"))
    }

    /// Emits and waits up to 5 s for the acknowledgement; `None` when none came (the connection
    /// closed, say).
    pub async fn try_ack(&self, event: &str, data: Value) -> Option<Value> {
        let (tx, rx) = oneshot::channel();
        let tx = std::sync::Mutex::new(Some(tx));
        let sent = self
            .client
            .emit_with_ack(event, data, WAIT, move |payload, _| {
                if let (Payload::Text(mut v), Ok(mut slot)) = (payload, tx.lock())
                    && let Some(tx) = slot.take()
                {
                    // An ack's arguments arrive as one JSON array.
                    let args = if v.is_empty() {
                        Value::Null
                    } else {
                        v.remove(0)
                    };
                    let first = match args {
                        Value::Array(mut a) if !a.is_empty() => a.remove(0),
                        other => other,
                    };
                    let _ = tx.send(first);
                }
                async {}.boxed()
            })
            .await;
        sent.ok()?;
        tokio::time::timeout(WAIT, rx).await.ok()?.ok()
    }

    /// Emits without asking for an acknowledgement.
    pub async fn emit(&self, event: &str, data: Value) {
        self.client.emit(event, data).await.unwrap();
    }

    /// Waits up to 5 s for the next `event`; others received meanwhile are kept for later.
    pub async fn next(&mut self, event: &str) -> Value {
        self.next_within(event, WAIT).await
    }

    /// Waits up to `wait` for the next `event`.
    pub async fn next_within(&mut self, event: &str, wait: Duration) -> Value {
        if let Some(i) = self.seen.iter().position(|(e, _)| e == event) {
            return self.seen.remove(i).1;
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some((e, v))) if e == event => return v,
                Ok(Some(other)) => self.seen.push(other),
                Ok(None) => panic!("connection closed while waiting for {event}"),
                Err(_) => panic!("no {event} within {wait:?}; got {:?}", self.seen),
            }
        }
    }

    /// Asserts that no `event` arrives within `wait` (a bounded check of absence).
    pub async fn assert_none(&mut self, event: &str, wait: Duration) {
        assert!(
            !self.seen.iter().any(|(e, _)| e == event),
            "unexpected {event}: {:?}",
            self.seen
        );
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some((e, v))) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            assert_ne!(e, event, "unexpected {event}: {v}");
            self.seen.push((e, v));
        }
    }

    /// Counts the `event`s that arrive within `wait` (a bounded watch; others are kept).
    pub async fn count_within(&mut self, event: &str, wait: Duration) -> usize {
        let mut n = 0;
        self.seen.retain(|(e, _)| {
            let hit = e == event;
            n += usize::from(hit);
            !hit
        });
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some((e, v))) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            if e == event {
                n += 1;
            } else {
                self.seen.push((e, v));
            }
        }
        n
    }

    /// Disconnects.
    pub async fn close(self) {
        let _ = self.client.disconnect().await;
    }
}

/// A TCP proxy on 127.0.0.1 in front of `target`, which can cut every connection through it
/// and refuse new ones (a database outage, as the server sees it), then let them through again.
pub struct CutProxy {
    /// Where it listens.
    pub addr: SocketAddr,
    cut: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl CutProxy {
    /// Starts forwarding to `target`.
    pub async fn start(target: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, watch) = tokio::sync::watch::channel(false);
        let target = target.to_owned();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if *watch.borrow() {
                    continue; // Dropped at once: the connection is refused.
                }
                let mut watch = watch.clone();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watch.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Self { addr, cut, task }
    }

    /// Cuts every connection and refuses new ones.
    pub fn cut(&self) {
        let _ = self.cut.send(true);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        let _ = self.cut.send(false);
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `url` with its `host:port` replaced by `addr`.
pub fn via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let user = authority.rsplit_once('@').map(|(u, _)| format!("{u}@"));
    format!("{scheme}://{}{addr}/{path}", user.unwrap_or_default())
}
