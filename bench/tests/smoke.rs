//! CI smoke test of the benchmark: the quick load (seconds) through the real runner against the
//! real servers, so the harness keeps working. It asserts the correctness counters only (every
//! planned message sent, acknowledged, stored once and delivered once to every member, nothing
//! refused, timed out, reordered or unexpected), never a timing.
//!
//! - parley on SQLite, always;
//! - parley on PostgreSQL when `PARLEY_TEST_DATABASE_URL` names one (the fresh bench databases are
//!   created on that server);
//! - the Node reference (`bench/node`) on the same databases when it is installed
//!   (`npm ci --prefix bench/node`); when it is not, the test fails under `CI` and is skipped
//!   with a note otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

const RUNNER: &str = env!("CARGO_BIN_EXE_parley-bench");
/// Longest a quick run may take before the test gives up on it.
const LIMIT: Duration = Duration::from_secs(150);

static NEXT: AtomicU32 = AtomicU32::new(0);

fn postgres_url() -> Option<String> {
    std::env::var("PARLEY_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

fn databases() -> &'static str {
    if postgres_url().is_some() {
        "sqlite,postgres"
    } else {
        "sqlite"
    }
}

fn parley_binary() -> PathBuf {
    let path = Path::new(RUNNER).with_file_name("parley");
    assert!(
        path.is_file(),
        "{} is missing: build it first (cargo test --workspace builds it; or cargo build -p parley)",
        path.display()
    );
    path
}

/// Runs `parley-bench run --quick` with `args`; returns its exit success and results.json.
fn quick_run(args: &[&str]) -> (bool, Value) {
    parley_binary();
    let out = std::env::temp_dir().join(format!(
        "parley-bench-smoke-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let mut cmd = Command::new(RUNNER);
    cmd.args(["run", "--quick", "--out-dir"])
        .arg(&out)
        .args(args)
        .stdin(Stdio::null());
    if let Some(url) = postgres_url() {
        cmd.args(["--pg-url", &url]);
    }
    let mut child = cmd.spawn().expect("start parley-bench");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("parley-bench {args:?} did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let path = out.join("results.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (runner exit: {status})", path.display()));
    let _ = std::fs::remove_dir_all(&out);
    (status.success(), serde_json::from_str(&text).unwrap())
}

fn n(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// Every run of `results` ran and its counters are exactly what the quick load plans.
fn assert_clean(results: &Value, expected_runs: usize) {
    let s = &results["settings"];
    let closed = &s["closed"];
    let clients = n(closed, "clients");
    let group = n(closed, "group");
    let warmup = n(closed, "warmup");
    let runs = results["runs"].as_array().unwrap();
    assert_eq!(runs.len(), expected_runs, "runs: {runs:#?}");
    for run in runs {
        let name = format!(
            "{} / {} / {}",
            run["backend"], run["scenario"], run["server"]
        );
        assert!(
            run["skipped"].is_null(),
            "{name} skipped: {}",
            run["skipped"]
        );
        assert!(run["error"].is_null(), "{name} failed: {}", run["error"]);
        let c = &run["correctness"];
        assert!(c.is_object(), "{name}: no correctness counters");
        let (planned, members) = match run["scenario"].as_str().unwrap() {
            "closed" => (clients * (warmup + n(closed, "messages")), group),
            "open" => {
                let per_rate: u64 = s["open_rates"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        let rate = r.as_f64().unwrap();
                        let per_client = (rate * s["open_secs"].as_f64().unwrap() / clients as f64)
                            .round()
                            .max(1.0) as u64;
                        per_client * clients
                    })
                    .sum();
                (clients * warmup + per_rate, group)
            }
            "fanout" => {
                let senders = n(s, "fanout_senders");
                (
                    n(s, "fanout_messages") / senders * senders,
                    n(s, "fanout_members"),
                )
            }
            "idle" => {
                let idle = &run["idle"];
                assert_eq!(n(idle, "connected"), n(s, "idle_clients"), "{name}");
                (0, 0)
            }
            other => panic!("unknown scenario {other}"),
        };
        assert_eq!(n(c, "sent"), planned, "{name}: sent");
        assert_eq!(n(c, "acked"), planned, "{name}: acked; {c}");
        assert_eq!(
            n(c, "acked_stored"),
            planned,
            "{name}: stored as acked; {c}"
        );
        assert_eq!(n(c, "stored"), planned, "{name}: rows; {c}");
        assert_eq!(n(c, "expected_deliveries"), planned * members, "{name}");
        assert_eq!(n(c, "delivered"), planned * members, "{name}: {c}");
        for zero in [
            "refused",
            "ack_timeouts",
            "unsent",
            "acked_missing",
            "stored_twice",
            "ack_mismatch",
            "stored_unexplained",
            "seq_errors",
            "lost_deliveries",
            "duplicate_deliveries",
            "order_violations",
            "unexpected_deliveries",
            "disconnects",
        ] {
            assert_eq!(n(c, zero), 0, "{name}: {zero}; {c}");
        }
    }
}

fn expected_runs() -> usize {
    // Four scenarios per database.
    4 * databases().split(',').count()
}

#[test]
fn parley_passes_the_quick_benchmark() {
    let (ok, results) = quick_run(&["--servers", "parley", "--only", databases()]);
    assert_clean(&results, expected_runs());
    assert!(ok, "the runner reported a failure");
}

#[test]
fn node_reference_passes_the_quick_benchmark() {
    let node_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("node");
    let installed = node_dir.join("server.js").is_file() && node_dir.join("node_modules").is_dir();
    if !installed {
        let why = format!(
            "the Node reference is not installed: {} needs server.js and node_modules \
             (npm ci --prefix bench/node)",
            node_dir.display()
        );
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipped: {why}");
        return;
    }
    let (ok, results) = quick_run(&["--servers", "node", "--require-node", "--only", databases()]);
    assert_clean(&results, expected_runs());
    assert!(ok, "the runner reported a failure");
}
