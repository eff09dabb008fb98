//! `parley-bench`: a Socket.IO v5 load generator and the runner that compares parley with the
//! Node reference server on the same load, on SQLite and PostgreSQL, and writes a report.
//!
//! `parley-bench run` runs the matrix and writes `REPORT.md`, `latency.svg` and `results.json`;
//! `parley-bench report` rebuilds the first two from the third. It exits non-zero when any run
//! lost, duplicated or reordered a message, or failed to run.
//!
//! # Layout
//!
//! - `proto`: Engine.IO / Socket.IO framing, written and classified by hand.
//! - `client`: one task per connection, and the `Fleet` that drives them through phases.
//! - `scenario`: closed loop, open loop, fan-out, idle connections.
//! - `server`: the servers as child processes, `parley migrate up`, /proc accounting.
//! - `db`: fresh databases, the seed rows, reading back what was stored.
//! - `verify`: acks vs rows vs deliveries.
//! - `runner`: the matrix of databases × scenarios × servers.
//! - `results`: what a run measured (`results.json`).
//! - `report`: `REPORT.md` and `latency.svg`.

mod client;
mod db;
mod proto;
mod report;
mod results;
mod runner;
mod scenario;
mod server;
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::results::{Backend, LoadShape, Results, ScenarioKind, ServerKind, Settings};

/// Load generator and benchmark runner: parley against the Node reference server.
#[derive(Debug, Parser)]
#[command(name = "parley-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the benchmark matrix and write the report.
    Run(Box<RunArgs>),
    /// Rebuild REPORT.md and latency.svg from results.json.
    Report {
        /// Directory holding results.json; the report and chart are written next to it.
        #[arg(long, default_value_os_t = bench_dir())]
        out_dir: PathBuf,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The short version (seconds): small loads, one open-loop rate, 100 idle connections.
    #[arg(long)]
    quick: bool,
    /// Databases to run on (default: both).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Backend>,
    /// Servers to run (default: parley, node).
    #[arg(long, value_enum, value_delimiter = ',')]
    servers: Vec<ServerKind>,
    /// Scenarios to run (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    scenarios: Vec<ScenarioKind>,
    /// PostgreSQL server for the fresh databases (this URL's database is only used to create
    /// and drop them).
    #[arg(
        long,
        env = "PARLEY_BENCH_PG_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pg_url: String,
    /// Where REPORT.md, latency.svg and results.json go [default: bench/, or target/bench-quick/
    /// with --quick].
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// The parley binary [default: `parley` next to this program].
    #[arg(long)]
    parley_bin: Option<PathBuf>,
    /// Directory of the Node reference (server.js, node_modules) [default: bench/node].
    #[arg(long)]
    node_dir: Option<PathBuf>,
    /// Fail, rather than skip, the Node runs when the Node reference is not installed.
    #[arg(long)]
    require_node: bool,
    /// SQLITE_SYNCHRONOUS for both servers.
    #[arg(long, default_value = "full")]
    sqlite_synchronous: String,
    /// DB_MAX_CONNECTIONS for both servers.
    #[arg(long, default_value_t = 10)]
    db_max_connections: u32,
    /// Closed/open loop: clients [default: 200; quick 20].
    #[arg(long)]
    clients: Option<u32>,
    /// Closed/open loop: members per conversation.
    #[arg(long, default_value_t = 5)]
    group: u32,
    /// Closed loop: messages per client [default: 100; quick 10].
    #[arg(long)]
    messages: Option<u32>,
    /// Unmeasured warm-up messages per client before the closed and open loops [default: 5;
    /// quick 2].
    #[arg(long)]
    warmup: Option<u32>,
    /// Open loop: offered rates, msg/s [default: 500,1000,2000,4000,6000,8000; quick 200].
    #[arg(long, value_delimiter = ',')]
    rates: Vec<u32>,
    /// Open loop: seconds per rate [default: 5; quick 1].
    #[arg(long)]
    rate_secs: Option<f64>,
    /// Fan-out: members of the group [default: 200; quick 20].
    #[arg(long)]
    fanout_members: Option<u32>,
    /// Fan-out: members that send [default: 10; quick 4].
    #[arg(long)]
    fanout_senders: Option<u32>,
    /// Fan-out: messages in total [default: 1000; quick 100].
    #[arg(long)]
    fanout_messages: Option<u32>,
    /// Fan-out: msg/s, all senders together (× members = deliveries/s) [default: 500; quick
    /// 200].
    #[arg(long)]
    fanout_rate: Option<u32>,
    /// Idle: connections [default: 10000; quick 100].
    #[arg(long)]
    idle_clients: Option<u32>,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
    /// Seconds a send waits for its ack before it counts as timed out [default: 10; quick 5].
    #[arg(long)]
    ack_timeout_secs: Option<f64>,
    /// Seconds a phase waits after its last send for acks and deliveries [default: 10; quick 5].
    #[arg(long)]
    drain_secs: Option<f64>,
}

/// This crate's directory (`bench/`).
fn bench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace root.
fn workspace_dir() -> PathBuf {
    bench_dir()
        .parent()
        .map_or_else(bench_dir, Path::to_path_buf)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("parley-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Run(args) => runtime.block_on(run(*args)),
        Command::Report { out_dir } => report_from_json(&out_dir),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("parley-bench: some runs failed or lost, duplicated or reordered messages");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("parley-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn pick<T>(value: Option<T>, quick: bool, quick_default: T, full_default: T) -> T {
    value.unwrap_or(if quick { quick_default } else { full_default })
}

fn or_all<T: Copy>(chosen: Vec<T>, all: &[T]) -> Vec<T> {
    if chosen.is_empty() {
        all.to_vec()
    } else {
        chosen
    }
}

/// Runs the matrix and writes the report; `Ok(false)` if any run failed.
async fn run(args: RunArgs) -> Result<bool, String> {
    let q = args.quick;
    let shape = LoadShape {
        clients: pick(args.clients, q, 20, 200),
        group: args.group.max(1),
        messages: pick(args.messages, q, 10, 100),
        warmup: pick(args.warmup, q, 2, 5),
    };
    let rates = if !args.rates.is_empty() {
        args.rates.clone()
    } else if q {
        vec![200]
    } else {
        vec![500, 1000, 2000, 4000, 6000, 8000]
    };
    let (clk_tck, clk_tck_assumed) = server::clk_tck();
    let jwt_secret = "parley-bench-secret-0123456789abcdef0123456789".to_owned();
    let load = scenario::Load {
        shape,
        rates: rates.clone(),
        rate_time: Duration::from_secs_f64(pick(args.rate_secs, q, 1.0, 5.0).max(0.1)),
        fanout_members: pick(args.fanout_members, q, 20, 200),
        fanout_senders: pick(args.fanout_senders, q, 4, 10),
        fanout_messages: pick(args.fanout_messages, q, 100, 1000),
        fanout_rate: pick(args.fanout_rate, q, 200, 500),
        idle_clients: pick(args.idle_clients, q, 100, 10_000),
        connect_concurrency: args.connect_concurrency,
        connect_timeout: Duration::from_secs(30),
        ack_timeout: Duration::from_secs_f64(pick(args.ack_timeout_secs, q, 5.0, 10.0).max(0.1)),
        drain: Duration::from_secs_f64(pick(args.drain_secs, q, 5.0, 10.0).max(0.1)),
        closed_limit: Duration::from_secs(if q { 30 } else { 300 }),
        jwt_secret: jwt_secret.clone(),
        clk_tck,
    };
    let parley = match args.parley_bin {
        Some(p) => p,
        None => std::env::current_exe()
            .map_err(|e| format!("cannot find this program: {e}"))?
            .with_file_name("parley"),
    };
    let programs = server::Programs {
        parley,
        node_dir: args.node_dir.unwrap_or_else(|| bench_dir().join("node")),
    };
    let backends = or_all(args.only, &[Backend::Sqlite, Backend::Postgres]);
    let scratch = std::env::temp_dir().join(format!("parley-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let matrix = runner::Matrix {
        scenarios: or_all(
            args.scenarios,
            &[
                ScenarioKind::Closed,
                ScenarioKind::Open,
                ScenarioKind::Fanout,
                ScenarioKind::Idle,
            ],
        ),
        servers: or_all(args.servers, &[ServerKind::Parley, ServerKind::Node]),
        programs,
        settings: server::ServerSettings {
            jwt_secret,
            sqlite_synchronous: args.sqlite_synchronous.clone(),
            db_max_connections: args.db_max_connections,
        },
        load: load.clone(),
        pg_url: args.pg_url.clone(),
        require_node: args.require_node,
        scratch: scratch.clone(),
        backends,
    };
    let uses_pg = matrix.backends.contains(&Backend::Postgres);
    let machine = runner::machine(&workspace_dir(), uses_pg.then_some(args.pg_url.as_str())).await;
    let runs = runner::run_all(&matrix).await;
    let _ = std::fs::remove_dir_all(&scratch);

    let results = Results {
        machine,
        settings: Settings {
            quick: q,
            sqlite_synchronous: args.sqlite_synchronous,
            db_max_connections: args.db_max_connections,
            clk_tck,
            clk_tck_assumed,
            closed: shape,
            open_rates: rates,
            open_secs: load.rate_time.as_secs_f64(),
            fanout_members: load.fanout_members,
            fanout_senders: load.fanout_senders,
            fanout_messages: load.fanout_messages,
            fanout_rate: load.fanout_rate,
            idle_clients: load.idle_clients,
            ack_timeout_secs: load.ack_timeout.as_secs_f64(),
        },
        runs,
    };
    let out_dir = args.out_dir.unwrap_or_else(|| {
        if q {
            workspace_dir().join("target").join("bench-quick")
        } else {
            bench_dir()
        }
    });
    write_outputs(&out_dir, &results)?;
    Ok(results.runs.iter().all(results::Run::passed))
}

fn write_outputs(out_dir: &Path, results: &Results) -> Result<(), String> {
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let write = |name: &str, text: String| {
        let path = out_dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    let json = serde_json::to_string_pretty(results).map_err(|e| e.to_string())?;
    write("results.json", json + "\n")?;
    write("latency.svg", report::svg(results))?;
    write("REPORT.md", report::markdown(results, "latency.svg"))?;
    eprintln!("wrote {}", out_dir.join("REPORT.md").display());
    Ok(())
}

fn report_from_json(out_dir: &Path) -> Result<bool, String> {
    let path = out_dir.join("results.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let results: Results =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::write(out_dir.join("latency.svg"), report::svg(&results))
        .map_err(|e| e.to_string())?;
    std::fs::write(
        out_dir.join("REPORT.md"),
        report::markdown(&results, "latency.svg"),
    )
    .map_err(|e| e.to_string())?;
    eprintln!("wrote {}", out_dir.join("REPORT.md").display());
    Ok(results.runs.iter().all(results::Run::passed))
}
