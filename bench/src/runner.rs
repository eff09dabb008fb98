//! The matrix: for each database, each scenario, each server (parley, then the Node reference,
//! with the same load), a fresh database, the seed, a fresh server process, the scenario, the
//! correctness check, and the cleanup.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::db::{self, FreshDb};
use crate::results::{Backend, Machine, Run, ScenarioKind, ServerKind};
use crate::scenario::{self, Load};
use crate::server::{Programs, ServerProcess, ServerSettings};
use crate::verify;

/// What the matrix runs and where.
#[derive(Debug, Clone)]
pub(crate) struct Matrix {
    /// Databases, in order.
    pub(crate) backends: Vec<Backend>,
    /// Scenarios, in order.
    pub(crate) scenarios: Vec<ScenarioKind>,
    /// Servers, in order, one after the other for each scenario.
    pub(crate) servers: Vec<ServerKind>,
    /// The servers' programs.
    pub(crate) programs: Programs,
    /// Settings given to both servers.
    pub(crate) settings: ServerSettings,
    /// The loads.
    pub(crate) load: Load,
    /// PostgreSQL URL whose server hosts the fresh databases.
    pub(crate) pg_url: String,
    /// A missing Node reference fails its runs instead of skipping them.
    pub(crate) require_node: bool,
    /// Scratch directory for SQLite files and server logs.
    pub(crate) scratch: PathBuf,
}

/// Runs every combination; a failure of one run is recorded and the others still run.
pub(crate) async fn run_all(matrix: &Matrix) -> Vec<Run> {
    let mut runs = Vec::new();
    for &backend in &matrix.backends {
        for &scenario in &matrix.scenarios {
            for &server in &matrix.servers {
                eprintln!(
                    "== {} / {} / {}",
                    backend.label(),
                    scenario.label(),
                    server.label()
                );
                let run = run_one(matrix, backend, server, scenario).await;
                eprintln!("   {}", summary(&run));
                runs.push(run);
            }
        }
    }
    runs
}

async fn run_one(
    matrix: &Matrix,
    backend: Backend,
    server: ServerKind,
    scenario: ScenarioKind,
) -> Run {
    let mut run = Run::new(backend, server, scenario);
    if let Some(why) = matrix.programs.missing(server) {
        if server == ServerKind::Node && !matrix.require_node {
            run.skipped = Some(why);
        } else {
            run.error = Some(why);
        }
        return run;
    }
    if let Err(e) = execute(&mut run, matrix).await {
        run.error = Some(e);
    }
    run
}

async fn execute(run: &mut Run, matrix: &Matrix) -> Result<(), String> {
    let fresh = FreshDb::create(run.backend, &matrix.scratch, &matrix.pg_url).await?;
    let result = on_database(run, matrix, &fresh.url).await;
    let removed = fresh.remove().await;
    result.and(removed)
}

async fn on_database(run: &mut Run, matrix: &Matrix, url: &str) -> Result<(), String> {
    crate::server::migrate(&matrix.programs, url, &matrix.scratch).await?;
    let (users, groups) = matrix.load.seed_shape(run.scenario);
    let conversations = db::seed(url, users, &groups).await?;
    let mut server = ServerProcess::start(
        run.server,
        &matrix.programs,
        &matrix.settings,
        url,
        &matrix.scratch,
    )
    .await?;
    let cpu0 = server.cpu_ticks()?;
    let traffic = scenario::execute(run, &matrix.load, &server, &conversations).await;
    let alive = server.alive();
    if alive {
        run.server_cpu_ms = server
            .cpu_ticks()
            .ok()
            .map(|t| t.saturating_sub(cpu0) as f64 * 1000.0 / matrix.load.clk_tck as f64);
        run.server_rss_kib = server.rss_kib().ok();
    }
    let tail = server.log_tail();
    server.stop().await;
    let traffic = traffic.map_err(|e| format!("{e}\nserver log:\n{tail}"))?;
    if !alive {
        return Err(format!("the server died during the scenario:\n{tail}"));
    }
    let stored = db::load(url).await?;
    run.correctness = Some(verify::check(&traffic.log, &traffic.finals, &stored));
    Ok(())
}

/// One line about a finished run.
fn summary(run: &Run) -> String {
    if let Some(why) = &run.skipped {
        return format!("skipped: {why}");
    }
    if let Some(e) = &run.error {
        return format!("FAILED: {e}");
    }
    let figures = match run.scenario {
        ScenarioKind::Closed => run.closed.as_ref().map(|f| {
            format!(
                "{:.0} msg/s, ack p99 {} ms, delivery p99 {} ms, CPU {} ms/msg",
                f.msgs_per_s,
                f.ack.map_or("-".to_owned(), |l| format!("{:.1}", l.p99_ms)),
                f.delivery
                    .map_or("-".to_owned(), |l| format!("{:.1}", l.p99_ms)),
                f.cpu_ms_per_msg
                    .map_or("-".to_owned(), |c| format!("{c:.3}"))
            )
        }),
        ScenarioKind::Open => run.open.as_ref().map(|steps| {
            let sustained = steps
                .iter()
                .filter(|s| s.saturated.is_none())
                .map(|s| s.offered)
                .max();
            format!(
                "{} rates, highest sustained {}",
                steps.len(),
                sustained.map_or("none".to_owned(), |r| format!("{r} msg/s"))
            )
        }),
        ScenarioKind::Fanout => run.fanout.as_ref().map(|f| {
            format!(
                "{:.0} deliveries/s, delivery p99 {} ms",
                f.deliveries_per_s,
                f.delivery
                    .map_or("-".to_owned(), |l| format!("{:.1}", l.p99_ms))
            )
        }),
        ScenarioKind::Idle => run.idle.as_ref().map(|f| {
            format!(
                "{} of {} connected in {:.1} s, {:.1} KiB per connection",
                f.connected, f.attempted, f.connect_s, f.kib_per_connection
            )
        }),
    }
    .unwrap_or_default();
    let verdict = match &run.correctness {
        Some(c) if c.ok() => format!(
            "ok: {} acked, {} stored, {}/{} deliveries",
            c.acked, c.stored, c.delivered, c.expected_deliveries
        ),
        Some(c) => format!("CORRECTNESS FAILED: {}", c.problems().join(", ")),
        None => String::new(),
    };
    format!("{figures}; {verdict}")
}

fn command_line(program: &str, args: &[&str], dir: &Path) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The machine and the software versions, for the report.
pub(crate) async fn machine(workspace: &Path, pg_url: Option<&str>) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown".to_owned(), |(_, v)| v.trim().to_owned());
    let ram_mib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024);
    let commit = command_line("git", &["rev-parse", "--short=12", "HEAD"], workspace);
    let dirty =
        command_line("git", &["status", "--porcelain"], workspace).is_some_and(|s| !s.is_empty());
    let postgres = match pg_url {
        Some(url) => db::postgres_version(url).await.ok(),
        None => None,
    };
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        ram_mib,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned()),
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        rustc: command_line("rustc", &["--version"], workspace)
            .unwrap_or_else(|| "unknown".to_owned()),
        node: command_line("node", &["--version"], workspace)
            .unwrap_or_else(|| "not found".to_owned()),
        git_commit: commit.map_or_else(
            || "unknown".to_owned(),
            |c| if dirty { format!("{c}+dirty") } else { c },
        ),
        postgres,
    }
}
