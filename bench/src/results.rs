//! The results of a run, as written to `results.json` and read back to regenerate the report, and
//! the percentile arithmetic behind them.

use serde::{Deserialize, Serialize};

/// Everything a run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Results {
    /// Where it ran.
    pub(crate) machine: Machine,
    /// With what settings and loads.
    pub(crate) settings: Settings,
    /// One entry per database × scenario × server.
    pub(crate) runs: Vec<Run>,
}

/// The machine and software a run used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Machine {
    /// CPU model from /proc/cpuinfo.
    pub(crate) cpu: String,
    /// Logical cores available.
    pub(crate) cores: usize,
    /// Total RAM, MiB.
    pub(crate) ram_mib: u64,
    /// Kernel release.
    pub(crate) kernel: String,
    /// When the run started (UTC, RFC 3339).
    pub(crate) date: String,
    /// `rustc --version`.
    pub(crate) rustc: String,
    /// `node --version`.
    pub(crate) node: String,
    /// The workspace's git commit (with `+dirty` when the tree had changes).
    pub(crate) git_commit: String,
    /// PostgreSQL `server_version`, when PostgreSQL was used.
    pub(crate) postgres: Option<String>,
}

/// Settings and loads of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Settings {
    /// Whether this was the short (CI) version.
    pub(crate) quick: bool,
    /// `SQLITE_SYNCHRONOUS` given to both servers.
    pub(crate) sqlite_synchronous: String,
    /// Database pool size given to both servers (`DB_MAX_CONNECTIONS`).
    pub(crate) db_max_connections: u32,
    /// Kernel clock ticks per second used to turn /proc CPU times into milliseconds.
    pub(crate) clk_tck: u64,
    /// Whether `clk_tck` was assumed (getconf unavailable).
    pub(crate) clk_tck_assumed: bool,
    /// Closed loop: clients, conversation size, messages per client, warm-up messages per client.
    pub(crate) closed: LoadShape,
    /// Open loop: the same clients and conversations.
    pub(crate) open_rates: Vec<u32>,
    /// Seconds per open-loop rate.
    pub(crate) open_secs: f64,
    /// Fan-out: members of the one group.
    pub(crate) fanout_members: u32,
    /// Fan-out: members that send.
    pub(crate) fanout_senders: u32,
    /// Fan-out: messages in total.
    pub(crate) fanout_messages: u32,
    /// Fan-out: messages per second, all senders together.
    pub(crate) fanout_rate: u32,
    /// Idle: connections opened.
    pub(crate) idle_clients: u32,
    /// Seconds a send may wait for its ack before it counts as timed out.
    pub(crate) ack_timeout_secs: f64,
}

/// Clients in conversations of a given size.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct LoadShape {
    /// Connected clients, one user each.
    pub(crate) clients: u32,
    /// Members per conversation.
    pub(crate) group: u32,
    /// Measured messages per client.
    pub(crate) messages: u32,
    /// Unmeasured warm-up messages per client, sent first.
    pub(crate) warmup: u32,
}

/// The database backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Backend {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

impl Backend {
    /// As shown in the report.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

/// The server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ServerKind {
    /// `target/<profile>/parley`.
    Parley,
    /// `node bench/node/server.js`.
    Node,
}

impl ServerKind {
    /// As shown in the report.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Parley => "parley",
            Self::Node => "Node",
        }
    }
}

/// A scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ScenarioKind {
    /// Every client sends its next message after the previous ack.
    Closed,
    /// All clients together send at fixed rates, climbing until the server saturates.
    Open,
    /// One large group, a few senders.
    Fanout,
    /// Many connected clients doing nothing: memory per connection.
    Idle,
}

impl ScenarioKind {
    /// As shown in the report.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Closed => "closed-loop throughput",
            Self::Open => "open-loop latency",
            Self::Fanout => "fan-out",
            Self::Idle => "idle connections",
        }
    }
}

/// One scenario against one server on one database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Run {
    /// The database.
    pub(crate) backend: Backend,
    /// The server.
    pub(crate) server: ServerKind,
    /// The scenario.
    pub(crate) scenario: ScenarioKind,
    /// Why it did not run, if it was skipped.
    pub(crate) skipped: Option<String>,
    /// Why it stopped, if it failed to run to the end.
    pub(crate) error: Option<String>,
    /// Closed-loop figures.
    pub(crate) closed: Option<ClosedFigures>,
    /// Open-loop figures, one step per offered rate.
    pub(crate) open: Option<Vec<OpenStep>>,
    /// Fan-out figures.
    pub(crate) fanout: Option<FanoutFigures>,
    /// Idle-connection figures.
    pub(crate) idle: Option<IdleFigures>,
    /// What was sent, stored and delivered, and what went wrong.
    pub(crate) correctness: Option<Correctness>,
    /// Server CPU time over the whole scenario, ms.
    pub(crate) server_cpu_ms: Option<f64>,
    /// Server RSS at the end of the scenario, KiB.
    pub(crate) server_rss_kib: Option<u64>,
}

impl Run {
    /// A run with nothing measured yet.
    pub(crate) fn new(backend: Backend, server: ServerKind, scenario: ScenarioKind) -> Self {
        Self {
            backend,
            server,
            scenario,
            skipped: None,
            error: None,
            closed: None,
            open: None,
            fanout: None,
            idle: None,
            correctness: None,
            server_cpu_ms: None,
            server_rss_kib: None,
        }
    }

    /// Whether it ran and nothing was lost, duplicated or out of order.
    pub(crate) fn passed(&self) -> bool {
        self.skipped.is_some()
            || (self.error.is_none() && self.correctness.as_ref().is_none_or(Correctness::ok))
    }
}

/// Latency percentiles, milliseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct Latency {
    /// Samples.
    pub(crate) count: u64,
    /// Median.
    pub(crate) p50_ms: f64,
    /// 99th percentile.
    pub(crate) p99_ms: f64,
    /// Largest.
    pub(crate) max_ms: f64,
}

impl Latency {
    /// Percentiles of microsecond samples; `None` without samples.
    pub(crate) fn of(mut samples: Vec<u32>) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let at = |q: f64| {
            // Nearest rank: the smallest sample with at least q of all samples at or below it.
            let rank = (q * samples.len() as f64).ceil() as usize;
            f64::from(samples[rank.clamp(1, samples.len()) - 1]) / 1000.0
        };
        Some(Self {
            count: samples.len() as u64,
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        })
    }
}

/// Closed-loop figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ClosedFigures {
    /// Acknowledged (persisted) messages in the measured phase.
    pub(crate) acked: u64,
    /// From the first send to the last ack, seconds.
    pub(crate) wall_s: f64,
    /// `acked / wall_s`.
    pub(crate) msgs_per_s: f64,
    /// Ack latency.
    pub(crate) ack: Option<Latency>,
    /// Send-to-receive latency of every delivery.
    pub(crate) delivery: Option<Latency>,
    /// Server CPU time per acknowledged message, ms.
    pub(crate) cpu_ms_per_msg: Option<f64>,
    /// Server RSS after the phase, KiB.
    pub(crate) rss_kib: Option<u64>,
    /// The load generator's own CPU during the phase, percent of one core.
    #[serde(default)]
    pub(crate) generator_cpu_pct: Option<f64>,
}

/// One open-loop rate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct OpenStep {
    /// Messages per second offered, all clients together.
    pub(crate) offered: u32,
    /// Messages scheduled (at exactly `offered` msg/s).
    pub(crate) scheduled: u64,
    /// Messages acknowledged.
    pub(crate) acked: u64,
    /// `acked` over the time from the first scheduled send to the last ack (at least the
    /// scheduled duration), msg/s.
    pub(crate) achieved: f64,
    /// Send-to-receive latency, from the scheduled send time.
    pub(crate) delivery: Option<Latency>,
    /// Ack latency, from the scheduled send time.
    pub(crate) ack: Option<Latency>,
    /// Sends refused by the server (e.g. `RATE_LIMITED`).
    pub(crate) refused: u64,
    /// Sends without an ack within the ack timeout.
    pub(crate) timed_out: u64,
    /// Server CPU time per acknowledged message, ms.
    pub(crate) cpu_ms_per_msg: Option<f64>,
    /// The load generator's own CPU during the step, percent of one core.
    #[serde(default)]
    pub(crate) generator_cpu_pct: Option<f64>,
    /// Why this rate counts as beyond what the server sustains, if it does.
    pub(crate) saturated: Option<String>,
}

/// Fan-out figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FanoutFigures {
    /// Messages acknowledged.
    pub(crate) acked: u64,
    /// `new_message` events received, all members.
    pub(crate) deliveries: u64,
    /// Deliveries over the time from the first send to the last delivery.
    pub(crate) deliveries_per_s: f64,
    /// Send-to-receive latency.
    pub(crate) delivery: Option<Latency>,
    /// Ack latency.
    pub(crate) ack: Option<Latency>,
    /// Server CPU time per acknowledged message, ms.
    pub(crate) cpu_ms_per_msg: Option<f64>,
    /// The load generator's own CPU during the phase, percent of one core.
    #[serde(default)]
    pub(crate) generator_cpu_pct: Option<f64>,
}

/// Idle-connection figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct IdleFigures {
    /// Connections attempted.
    pub(crate) attempted: u64,
    /// Connections that completed the Socket.IO handshake.
    pub(crate) connected: u64,
    /// The first failure, if any.
    pub(crate) first_failure: Option<String>,
    /// Seconds to connect them all.
    pub(crate) connect_s: f64,
    /// Server RSS after warm-up with no client, KiB.
    pub(crate) rss_base_kib: u64,
    /// Server RSS with every client connected, settled, KiB.
    pub(crate) rss_loaded_kib: u64,
    /// `(loaded - base) / connected`, KiB.
    pub(crate) kib_per_connection: f64,
}

/// Correctness counters of one scenario: sends, acks, rows, deliveries.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Correctness {
    /// Messages written to a socket.
    pub(crate) sent: u64,
    /// Acknowledged with success.
    pub(crate) acked: u64,
    /// Acknowledged with an error (not a loss: the server said no).
    pub(crate) refused: u64,
    /// The first refusal's reason.
    pub(crate) refusal_example: Option<String>,
    /// Without an ack within the ack timeout.
    pub(crate) ack_timeouts: u64,
    /// Planned but never sent.
    pub(crate) unsent: u64,
    /// Rows in `messages`.
    pub(crate) stored: u64,
    /// Acked messages found in the database exactly once, as acked (same id, conversation, seq).
    pub(crate) acked_stored: u64,
    /// Rows of sends whose ack timed out (stored, but the sender never heard).
    pub(crate) stored_after_timeout: u64,
    /// LOSS: acked but not in the database.
    pub(crate) acked_missing: u64,
    /// DUPLICATE: more than one row for one sent message.
    pub(crate) stored_twice: u64,
    /// The ack named another id, conversation or seq than the row.
    pub(crate) ack_mismatch: u64,
    /// Rows for refused sends or sends never made.
    pub(crate) stored_unexplained: u64,
    /// Conversations whose seqs are not exactly 1..n, or whose `last_seq` is not n.
    pub(crate) seq_errors: u64,
    /// Deliveries owed: acked messages × members of their conversation.
    pub(crate) expected_deliveries: u64,
    /// Of those, received.
    pub(crate) delivered: u64,
    /// LOSS: owed deliveries never received.
    pub(crate) lost_deliveries: u64,
    /// DUPLICATE: deliveries received more than once (extra copies).
    pub(crate) duplicate_deliveries: u64,
    /// Deliveries whose seq was not the next one for that receiver.
    pub(crate) order_violations: u64,
    /// Deliveries matching no stored message of the receiver's conversation.
    pub(crate) unexpected_deliveries: u64,
    /// Stored messages whose sender never heard an ack, not received by a member (not a loss).
    pub(crate) unacked_undelivered: u64,
    /// Clients whose connection ended before the scenario did.
    pub(crate) disconnects: u64,
    /// The first disconnect's reason.
    pub(crate) disconnect_example: Option<String>,
}

impl Correctness {
    /// Nothing acked lost, nothing duplicated, every delivery owed made once and in order.
    pub(crate) fn ok(&self) -> bool {
        self.acked_missing == 0
            && self.stored_twice == 0
            && self.ack_mismatch == 0
            && self.stored_unexplained == 0
            && self.seq_errors == 0
            && self.lost_deliveries == 0
            && self.duplicate_deliveries == 0
            && self.order_violations == 0
            && self.unexpected_deliveries == 0
    }

    /// The counters that are not zero but should be, for messages.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, n) in [
            ("acked but not stored", self.acked_missing),
            ("stored twice", self.stored_twice),
            ("ack differs from the row", self.ack_mismatch),
            ("stored without a send", self.stored_unexplained),
            ("conversations with seq gaps", self.seq_errors),
            ("deliveries lost", self.lost_deliveries),
            ("deliveries duplicated", self.duplicate_deliveries),
            ("deliveries out of order", self.order_violations),
            ("unexpected deliveries", self.unexpected_deliveries),
        ] {
            if n > 0 {
                out.push(format!("{n} {name}"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        assert!(Latency::of(Vec::new()).is_none());
        let l = Latency::of((1..=100).map(|i| i * 1000).collect()).unwrap();
        assert_eq!((l.p50_ms, l.p99_ms, l.max_ms), (50.0, 99.0, 100.0));
        let one = Latency::of(vec![2500]).unwrap();
        assert_eq!((one.p50_ms, one.p99_ms, one.count), (2.5, 2.5, 1));
    }

    #[test]
    fn a_single_loss_fails_the_run() {
        let mut c = Correctness::default();
        assert!(c.ok());
        c.refused = 3;
        c.stored_after_timeout = 1;
        assert!(c.ok(), "refusals and timeouts are reported, not failures");
        c.lost_deliveries = 1;
        assert!(!c.ok());
        assert_eq!(c.problems(), vec!["1 deliveries lost".to_owned()]);
    }
}
