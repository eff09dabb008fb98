//! The servers under test as child processes: migrating a database with `parley migrate up`,
//! starting parley or the Node reference on a free port, waiting for `/health`, reading their CPU
//! time and memory from /proc, and stopping them with SIGTERM.
//!
//! Children run in a scratch directory, so no `.env` of the workspace is read, with a cleared
//! environment plus the settings given here; their output goes to a log file whose tail is shown
//! when something fails.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::results::ServerKind;

/// Where the servers' programs are.
#[derive(Debug, Clone)]
pub(crate) struct Programs {
    /// The `parley` binary.
    pub(crate) parley: PathBuf,
    /// The directory holding the Node reference's `server.js` and `node_modules`.
    pub(crate) node_dir: PathBuf,
}

impl Programs {
    /// Why `kind` cannot run here, if it cannot.
    pub(crate) fn missing(&self, kind: ServerKind) -> Option<String> {
        match kind {
            ServerKind::Parley => (!self.parley.is_file())
                .then(|| format!("no parley binary at {}", self.parley.display())),
            ServerKind::Node => {
                if !self.node_dir.join("server.js").is_file() {
                    Some(format!("no {}", self.node_dir.join("server.js").display()))
                } else if !self.node_dir.join("node_modules").is_dir() {
                    Some(format!(
                        "no {} (run npm ci --prefix {})",
                        self.node_dir.join("node_modules").display(),
                        self.node_dir.display()
                    ))
                } else {
                    None
                }
            }
        }
    }
}

/// Settings given to both servers alike.
#[derive(Debug, Clone)]
pub(crate) struct ServerSettings {
    /// HS256 secret the generator signs tokens with.
    pub(crate) jwt_secret: String,
    /// `SQLITE_SYNCHRONOUS`.
    pub(crate) sqlite_synchronous: String,
    /// `DB_MAX_CONNECTIONS`.
    pub(crate) db_max_connections: u32,
}

/// A server process under test.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    log: PathBuf,
}

/// Base environment for a child: only what a program needs to run.
fn base_command(program: &Path, scratch: &Path, log: &Path) -> Result<Command, String> {
    let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .current_dir(scratch)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    for keep in ["PATH", "HOME", "LANG", "TMPDIR"] {
        if let Some(v) = std::env::var_os(keep) {
            cmd.env(keep, v);
        }
    }
    Ok(cmd)
}

/// The last lines of a log file, for error messages.
pub(crate) fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(15);
    lines[from..].join("\n")
}

/// Applies parley's migrations to `database_url` with `parley migrate up`.
pub(crate) async fn migrate(
    programs: &Programs,
    database_url: &str,
    scratch: &Path,
) -> Result<(), String> {
    let log = scratch.join("migrate.log");
    let mut cmd = base_command(&programs.parley, scratch, &log)?;
    cmd.args(["migrate", "up"])
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn");
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("{}: {e}", programs.parley.display()))?;
    let status = wait_exit(&mut child, Duration::from_secs(60)).await?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "parley migrate up failed ({status}):\n{}",
            log_tail(&log)
        ))
    }
}

async fn wait_exit(child: &mut Child, limit: Duration) -> Result<std::process::ExitStatus, String> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "process {} did not exit within {limit:?}",
                    child.id()
                ));
            }
            Err(e) => return Err(format!("waiting for process {}: {e}", child.id())),
        }
    }
}

/// A port nobody listens on right now.
fn free_port() -> Result<u16, String> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

impl ServerProcess {
    /// Starts `kind` on `database_url` and waits until `/health` answers 200.
    pub(crate) async fn start(
        kind: ServerKind,
        programs: &Programs,
        settings: &ServerSettings,
        database_url: &str,
        scratch: &Path,
    ) -> Result<Self, String> {
        let port = free_port()?;
        let log = scratch.join(format!("{}-{port}.log", kind.label().to_lowercase()));
        let mut cmd = match kind {
            ServerKind::Parley => {
                let mut cmd = base_command(&programs.parley, scratch, &log)?;
                cmd.arg("serve")
                    .env("HOST", "127.0.0.1")
                    .env("RUST_LOG", "warn");
                cmd
            }
            ServerKind::Node => {
                let mut cmd = base_command(Path::new("node"), scratch, &log)?;
                cmd.arg(programs.node_dir.join("server.js"))
                    .env("NODE_ENV", "production");
                cmd
            }
        };
        cmd.env("PORT", port.to_string())
            .env("DATABASE_URL", database_url)
            .env("JWT_SECRET", &settings.jwt_secret)
            .env(
                "DB_MAX_CONNECTIONS",
                settings.db_max_connections.to_string(),
            )
            .env("SQLITE_SYNCHRONOUS", &settings.sqlite_synchronous)
            .env("SEND_RATE_PER_SEC", "0");
        let child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {e}", kind.label()))?;
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "{} exited at start ({status}):\n{}",
                    kind.label(),
                    log_tail(&server.log)
                ));
            }
            if health(server.addr) {
                return Ok(server);
            }
            if Instant::now() > deadline {
                let tail = log_tail(&server.log);
                server.stop().await;
                return Err(format!(
                    "{} did not answer /health within 30 s:\n{tail}",
                    kind.label()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its log so far, the last lines.
    pub(crate) fn log_tail(&self) -> String {
        log_tail(&self.log)
    }

    /// Whether it is still running.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// User + system CPU time so far, in clock ticks.
    pub(crate) fn cpu_ticks(&self) -> Result<u64, String> {
        cpu_ticks(self.pid())
    }

    /// Resident memory now, KiB.
    pub(crate) fn rss_kib(&self) -> Result<u64, String> {
        rss_kib(self.pid())
    }

    /// SIGTERM, then up to 20 s for a clean exit, then SIGKILL.
    pub(crate) async fn stop(&mut self) {
        if !self.alive() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if wait_exit(&mut self.child, Duration::from_secs(20))
            .await
            .is_err()
        {
            eprintln!("  (server {} ignored SIGTERM for 20 s; killed)", self.pid());
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One `GET /health`; true on a 200.
fn health(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// utime + stime of a process, in clock ticks, from /proc/<pid>/stat.
pub(crate) fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    parse_cpu_ticks(&stat).ok_or_else(|| format!("/proc/{pid}/stat: unexpected format"))
}

fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may contain spaces; fields after its closing paren start at 3.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime is field 14 and stime field 15, i.e. 11th and 12th after the paren.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// VmRSS of a process, KiB.
pub(crate) fn rss_kib(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("/proc/{pid}/status: no VmRSS"))
}

/// Clock ticks per second (`getconf CLK_TCK`), and whether it had to be assumed (100).
pub(crate) fn clk_tck() -> (u64, bool) {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .map_or((100, true), |t| (t, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_cpu_fields() {
        let stat = "1234 (my (odd) name) S 1 2 3 4 5 6 7 8 9 10 250 31 0 0 20 0 4 0 100";
        assert_eq!(parse_cpu_ticks(stat), Some(281));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[test]
    fn own_process_accounting_reads() {
        let pid = std::process::id();
        assert!(rss_kib(pid).unwrap() > 0);
        cpu_ticks(pid).unwrap();
        assert!(clk_tck().0 > 0);
    }
}
