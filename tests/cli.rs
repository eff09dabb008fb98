//! The `parley` binary as a user runs it: `token`, `migrate`, `serve` with no secret, and a clean
//! exit on SIGTERM.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::TestDb;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn parley() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_parley"));
    // Nothing from the developer's environment or a .env file leaks in.
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "parley=info")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Reads the server's log until it says it is listening (30 s at most); returns what it read.
async fn until_listening(child: &mut tokio::process::Child) -> String {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    let listening = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("listening on") {
                return;
            }
        }
    })
    .await;
    assert!(listening.is_ok(), "no 'listening on' line: {seen}");
    seen
}

#[tokio::test]
async fn token_mints_a_verifiable_token_and_needs_a_secret() {
    let out = parley()
        .args(["token", "--user", "42", "--name", "Ada", "--ttl", "2h"])
        .env("JWT_SECRET", "cli-secret")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_aud = false;
    let data = jsonwebtoken::decode::<serde_json::Value>(
        token.trim(),
        &jsonwebtoken::DecodingKey::from_secret(b"cli-secret"),
        &validation,
    )
    .unwrap();
    assert_eq!(data.claims["sub"], 42);
    assert_eq!(data.claims["name"], "Ada");
    let ttl = data.claims["exp"].as_i64().unwrap() - data.claims["iat"].as_i64().unwrap();
    assert_eq!(ttl, 7200);

    let out = parley()
        .args(["token", "--user", "1"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("JWT_SECRET"));
}

#[tokio::test]
async fn migrate_up_status_down() {
    let db = TestDb::fresh().await;
    let all = [
        "m20261121_000001_create_chat_tables",
        "m20261207_000001_add_participant_accepted_at",
        "m20261207_000002_add_group_details",
        "m20261207_000003_create_message_edits",
        "m20261207_000004_add_receipts_kinds_presence",
        "m20261208_000001_add_requests_blocks_mutes",
        "m20261208_000002_add_reactions_replies_hidden",
        "m20261208_000003_add_message_search",
        "m20261208_000004_create_media_files",
    ];
    let (first, last) = (all[0], all[all.len() - 1]);
    let mut steps = vec![
        (vec!["migrate", "status"], format!("pending  {first}")),
        (vec!["migrate", "up"], format!("applied  {last}")),
    ];
    // `down` reverts the last applied migration only, one at a time.
    for name in all.iter().rev() {
        steps.push((vec!["migrate", "down"], format!("pending  {name}")));
    }
    steps.push((vec!["migrate"], format!("applied  {last}")));
    for (args, expect) in steps {
        let out = parley()
            .args(&args)
            .env("DATABASE_URL", &db.url)
            .output()
            .await
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{args:?}: {all}");
        assert!(all.contains(&expect), "{args:?}: {all}");
    }
}

#[tokio::test]
async fn serve_without_a_secret_warns_and_stops_cleanly_on_sigterm() {
    let db = TestDb::fresh().await;
    let mut child = parley()
        .args(["serve", "--port", "0"])
        .env("DATABASE_URL", &db.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let seen = until_listening(&mut child).await;
    assert!(seen.contains("JWT_SECRET is not set"), "{seen}");
    assert!(seen.contains("will NOT survive a restart"), "{seen}");
    assert!(seen.contains("parley token --user 1"), "{seen}");

    let pid = child.id().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("parley did not exit within 20 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

/// Decodes an HS256 token with `secret`, or `None` when the signature does not match.
fn verifies_with(token: &str, secret: &str) -> bool {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Value>(
        token.trim(),
        &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .is_ok()
}

#[tokio::test]
async fn flags_beat_the_environment_which_beats_dotenv() {
    let dir = std::env::temp_dir().join(format!("parley-cli-{}", common::unique()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".env"), "JWT_SECRET=from-dotenv\n").unwrap();
    let mint = |env: Option<&str>, flag: Option<&str>| {
        let mut cmd = parley();
        cmd.current_dir(&dir).args(["token", "--user", "7"]);
        if let Some(secret) = env {
            cmd.env("JWT_SECRET", secret);
        }
        if let Some(secret) = flag {
            cmd.args(["--jwt-secret", secret]);
        }
        async move {
            let out = cmd.output().await.unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        }
    };
    assert!(verifies_with(&mint(None, None).await, "from-dotenv"));
    assert!(verifies_with(
        &mint(Some("from-env"), None).await,
        "from-env"
    ));
    assert!(verifies_with(
        &mint(Some("from-env"), Some("from-flag")).await,
        "from-flag"
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn serve_with_no_settings_creates_parley_db_in_the_working_directory() {
    let dir = std::env::temp_dir().join(format!("parley-cli-{}", common::unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = parley()
        .current_dir(&dir)
        .args(["--port", "0"])
        .env("JWT_SECRET", "set")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let seen = until_listening(&mut child).await;
    assert!(
        !seen.contains("JWT_SECRET is not set"),
        "a set secret is used as is: {seen}"
    );
    assert!(dir.join("parley.db").is_file(), "parley.db was not created");
    child.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
