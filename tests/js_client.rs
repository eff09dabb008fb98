//! Runs the JavaScript suite in `tests/js` (the official `socket.io-client` v4 from npm, playing a
//! frontend written from the seed documents) against a real server on a fresh database.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{SECRET, TestServer};

/// Runs `npm run <script>` in `tests/js` against a fresh server with settings changed by `tune`.
async fn run_suite(script: &str, tune: impl FnOnce(&mut parley::config::Config)) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    assert!(
        dir.join("node_modules/socket.io-client").is_dir(),
        "the JavaScript suite's packages are missing: run `npm ci --prefix tests/js` \
         (the README's test command, scripts/test, does it for you)"
    );
    let server = TestServer::start_with(common::TestDb::fresh().await, tune).await;
    let mut child = tokio::process::Command::new("npm")
        .args(["run", "--silent", script])
        .current_dir(&dir)
        .env("PARLEY_URL", &server.url)
        .env("PARLEY_JWT_SECRET", SECRET)
        .env(
            "PARLEY_TYPING_TIMEOUT_MS",
            server.config.typing_timeout_ms.to_string(),
        )
        .env(
            "PARLEY_EDIT_WINDOW_SECS",
            server.config.edit_window_secs.to_string(),
        )
        .env(
            "PARLEY_SOCKET_AUTH_TIMEOUT_MS",
            server.config.socket_auth_timeout_ms.to_string(),
        )
        .env(
            "PARLEY_MAX_UPLOAD_BYTES",
            server.config.max_upload_bytes.to_string(),
        )
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("cannot start npm (is Node.js installed?)");
    let status = tokio::time::timeout(Duration::from_secs(600), child.wait())
        .await
        .expect("the JavaScript suite did not finish within 10 minutes")
        .unwrap();
    assert!(
        status.success(),
        "the JavaScript suite `{script}` failed: {status}"
    );
    server.finish().await;
}

/// The seed 002 frontend against the default server (`PROTOCOLS=conversations`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_socket_io_client_suite() {
    run_suite("test", |_| {}).await;
}

/// The seed 001 frontend against `PROTOCOLS=sessions`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_sessions_frontend_suite() {
    run_suite("test:sessions", |c| {
        c.protocols = "sessions".to_owned();
        c.typing_timeout_ms = 1_500;
        // Long enough for the edits made right after a send, short enough to wait out.
        c.edit_window_secs = 4;
        // A socket without a token is disconnected soon enough to be seen.
        c.socket_auth_timeout_ms = 1_500;
    })
    .await;
}

/// The seed 004 frontend against `PROTOCOLS=chats` (chat requests on, the default with chats).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_chats_frontend_suite() {
    run_suite("test:chats", |c| {
        c.protocols = "chats".to_owned();
        c.typing_timeout_ms = 1_500;
        // Long enough for the edits made right after a send, short enough to wait out.
        c.edit_window_secs = 4;
        // Small enough that the suite sends a file over it quickly.
        c.max_upload_bytes = 256 * 1024;
    })
    .await;
}

/// Both frontends on one server (`PROTOCOLS=conversations,sessions`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_both_protocols_on_one_server() {
    run_suite("test:mixed", |c| {
        c.protocols = "conversations,sessions".to_owned();
    })
    .await;
}

/// The official client, pipelining sends on every socket while the server is stopped: every
/// send stored was acknowledged and every acknowledged send is stored, over long-polling (where
/// answers wait in the session's buffer for the next poll) and WebSocket alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_sends_during_shutdown_are_acknowledged() {
    use std::collections::BTreeSet;
    use tokio::io::{AsyncBufReadExt, BufReader};

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    for transport in ["polling", "websocket"] {
        let server = TestServer::start_with(common::TestDb::fresh().await, |c| {
            c.send_rate_per_sec = 0;
        })
        .await;
        let b = serde_json::json!(common::unique());
        let (mut tokens, mut convs) = (Vec::new(), Vec::new());
        for _ in 0..8 {
            let token = server.token(serde_json::json!(common::unique()));
            convs.push(server.open_direct(&token, &b, "hi").await);
            tokens.push(token);
        }
        let list = |v: &[String]| v.join(",");
        let mut child = tokio::process::Command::new("node")
            .arg("scenarios/shutdown_under_load.mjs")
            .current_dir(&dir)
            .env("PARLEY_URL", &server.url)
            .env("TOKENS", list(&tokens))
            .env(
                "CONVERSATIONS",
                list(&convs.iter().map(i64::to_string).collect::<Vec<_>>()),
            )
            .env("TRANSPORT", transport)
            .env("PIPELINE", "20")
            .env("SENDS_BEFORE_READY", "200")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("cannot start node");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let next_line = async |lines: &mut tokio::io::Lines<BufReader<_>>| {
            tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .expect("the scenario answers within 60 s")
                .unwrap()
                .expect("the scenario printed a line")
        };
        assert_eq!(next_line(&mut lines).await, "ready");
        let db = server.stop().await;
        let summary: serde_json::Value =
            serde_json::from_str(&next_line(&mut lines).await).unwrap();
        let _ = child.wait().await;
        let acked: BTreeSet<String> = summary["acked"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        let refused = summary["refused"].as_array().unwrap();
        assert!(
            refused.iter().all(|code| code == "UNAVAILABLE"),
            "{transport}: refused only as UNAVAILABLE: {refused:?}"
        );
        let server = TestServer::start_with(db, |_| {}).await;
        let token_b = server.token(b.clone());
        let mut stored = BTreeSet::new();
        for conv in &convs {
            stored.extend(server.stored_client_ids(*conv, &token_b).await);
        }
        let unanswered: Vec<&String> = stored.difference(&acked).collect();
        assert!(
            unanswered.is_empty(),
            "{transport}: committed but never acknowledged: {} of {} stored",
            unanswered.len(),
            stored.len()
        );
        let lost: Vec<&String> = acked.difference(&stored).collect();
        assert!(
            lost.is_empty(),
            "{transport}: acknowledged but not stored: {lost:?}"
        );
        server.finish().await;
    }
}
