//! Runs the JavaScript suite in `tests/js` (the official `socket.io-client` v4 from npm, playing a
//! frontend written from the seed documents) against a real server on a fresh database.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{SECRET, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_socket_io_client_suite() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    assert!(
        dir.join("node_modules/socket.io-client").is_dir(),
        "the JavaScript suite's packages are missing: run `npm ci --prefix tests/js` \
         (the README's test command, scripts/test, does it for you)"
    );
    let server = TestServer::start().await;
    let mut child = tokio::process::Command::new("npm")
        .args(["test", "--silent"])
        .current_dir(&dir)
        .env("PARLEY_URL", &server.url)
        .env("PARLEY_JWT_SECRET", SECRET)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("cannot start npm (is Node.js installed?)");
    let status = tokio::time::timeout(Duration::from_secs(600), child.wait())
        .await
        .expect("the JavaScript suite did not finish within 10 minutes")
        .unwrap();
    assert!(status.success(), "the JavaScript suite failed: {status}");
    server.finish().await;
}
