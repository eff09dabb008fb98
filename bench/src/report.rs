//! The report: `REPORT.md` (targets, machine, settings, one table per scenario with both servers
//! and their ratio, correctness counters) and `latency.svg` (p99 delivery latency against offered
//! load, log scale), both made from [`Results`] alone so they can be regenerated from
//! `results.json`.

use std::fmt::Write as _;

use crate::results::{
    Backend, ClosedFigures, FanoutFigures, IdleFigures, Latency, OpenStep, Results, Run,
    ScenarioKind, ServerKind,
};

/// Rate at which the latency target is judged.
const TARGET_RATE: u32 = 2000;
/// parley's RSS per idle connection must not exceed this, KiB.
const TARGET_KIB_PER_CONNECTION: f64 = 12.0;

fn find(
    results: &Results,
    backend: Backend,
    server: ServerKind,
    scenario: ScenarioKind,
) -> Option<&Run> {
    results
        .runs
        .iter()
        .find(|r| r.backend == backend && r.server == server && r.scenario == scenario)
}

fn backends(results: &Results) -> Vec<Backend> {
    let mut out = Vec::new();
    for r in &results.runs {
        if !out.contains(&r.backend) {
            out.push(r.backend);
        }
    }
    out
}

fn ms(l: Option<Latency>, pick: fn(&Latency) -> f64) -> String {
    l.map_or_else(|| "–".to_owned(), |l| num(pick(&l)))
}

/// A number with sensible precision.
fn num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), num)
}

fn ratio(parley: Option<f64>, node: Option<f64>) -> String {
    match (parley, node) {
        (Some(p), Some(n)) if n > 0.0 => format!("{}×", num(p / n)),
        _ => "–".to_owned(),
    }
}

/// Why a run has no figures, for a table cell.
fn absent(run: Option<&Run>) -> String {
    match run {
        None => "not run".to_owned(),
        Some(r) if r.skipped.is_some() => "skipped".to_owned(),
        Some(r) if r.error.is_some() => "failed".to_owned(),
        Some(_) => "–".to_owned(),
    }
}

/// One target on one database.
struct Verdict {
    target: &'static str,
    backend: String,
    parley: String,
    node: String,
    ratio: String,
    met: String,
}

fn met(ok: Option<bool>) -> String {
    match ok {
        Some(true) => "**met**".to_owned(),
        Some(false) => "**not met**".to_owned(),
        None => "not measured".to_owned(),
    }
}

fn closed_of(r: Option<&Run>) -> Option<&ClosedFigures> {
    r.and_then(|r| r.closed.as_ref())
}

fn step_at(r: Option<&Run>, rate: u32) -> Option<&OpenStep> {
    r.and_then(|r| r.open.as_ref())
        .and_then(|steps| steps.iter().find(|s| s.offered == rate))
}

fn idle_of(r: Option<&Run>) -> Option<&IdleFigures> {
    r.and_then(|r| r.idle.as_ref())
}

fn fanout_of(r: Option<&Run>) -> Option<&FanoutFigures> {
    r.and_then(|r| r.fanout.as_ref())
}

fn verdicts(results: &Results) -> Vec<Verdict> {
    let mut out = Vec::new();
    for backend in backends(results) {
        let get = |server, scenario| find(results, backend, server, scenario);
        let label = backend.label().to_owned();

        let (p, n) = (
            get(ServerKind::Parley, ScenarioKind::Closed),
            get(ServerKind::Node, ScenarioKind::Closed),
        );
        let (pv, nv) = (
            closed_of(p).map(|f| f.msgs_per_s),
            closed_of(n).map(|f| f.msgs_per_s),
        );
        if p.is_some() || n.is_some() {
            out.push(Verdict {
                target: "closed-loop msg/s: parley ≥ 3× Node",
                backend: label.clone(),
                parley: pv.map_or_else(|| absent(p), |v| format!("{v:.0} msg/s")),
                node: nv.map_or_else(|| absent(n), |v| format!("{v:.0} msg/s")),
                ratio: ratio(pv, nv),
                met: met(pv.zip(nv).map(|(p, n)| p >= 3.0 * n)),
            });
            let (pc, nc) = (
                closed_of(p).and_then(|f| f.cpu_ms_per_msg),
                closed_of(n).and_then(|f| f.cpu_ms_per_msg),
            );
            out.push(Verdict {
                target: "server CPU per message (closed loop): parley ≤ ¼ of Node",
                backend: label.clone(),
                parley: pc.map_or_else(|| absent(p), |v| format!("{} ms", num(v))),
                node: nc.map_or_else(|| absent(n), |v| format!("{} ms", num(v))),
                ratio: ratio(pc, nc),
                met: met(pc.zip(nc).map(|(p, n)| p * 4.0 <= n)),
            });
        }

        let (p, n) = (
            get(ServerKind::Parley, ScenarioKind::Open),
            get(ServerKind::Node, ScenarioKind::Open),
        );
        if p.is_some() || n.is_some() {
            // A server that saturated below the target rate has no usable p99 there.
            let p99 = |r: Option<&Run>| -> (Option<f64>, String) {
                match step_at(r, TARGET_RATE) {
                    Some(s) if s.saturated.is_none() => {
                        let v = s.delivery.map(|l| l.p99_ms);
                        (v, v.map_or("–".to_owned(), |v| format!("{} ms", num(v))))
                    }
                    Some(s) => (
                        None,
                        format!(
                            "saturated ({} ms)",
                            s.delivery.map_or("–".to_owned(), |l| num(l.p99_ms))
                        ),
                    ),
                    None if r.and_then(|r| r.open.as_ref()).is_some_and(|st| {
                        st.last()
                            .is_some_and(|l| l.saturated.is_some() && l.offered < TARGET_RATE)
                    }) =>
                    {
                        (None, "saturated below".to_owned())
                    }
                    None => (None, format!("{} (no {TARGET_RATE} msg/s step)", absent(r))),
                }
            };
            let ((pv, ps), (nv, ns)) = (p99(p), p99(n));
            let p_ok = step_at(p, TARGET_RATE).is_some_and(|s| s.saturated.is_none());
            let n_saturated = step_at(n, TARGET_RATE).is_some_and(|s| s.saturated.is_some())
                || ns == "saturated below";
            let ok = match (pv, nv) {
                (Some(p), Some(n)) => Some(p * 5.0 <= n),
                _ if p_ok && n_saturated => Some(true),
                _ if !p_ok && step_at(p, TARGET_RATE).is_some() => Some(false),
                _ => None,
            };
            out.push(Verdict {
                target: "p99 send-to-receive at 2,000 msg/s: parley ≤ ⅕ of Node",
                backend: label.clone(),
                parley: ps,
                node: ns,
                ratio: ratio(pv, nv),
                met: met(ok),
            });
        }

        let (p, n) = (
            get(ServerKind::Parley, ScenarioKind::Idle),
            get(ServerKind::Node, ScenarioKind::Idle),
        );
        if p.is_some() || n.is_some() {
            let (pv, nv) = (
                idle_of(p).map(|f| f.kib_per_connection),
                idle_of(n).map(|f| f.kib_per_connection),
            );
            out.push(Verdict {
                target: "RSS per idle connection: parley ≤ 12 KiB",
                backend: label.clone(),
                parley: pv.map_or_else(|| absent(p), |v| format!("{} KiB", num(v))),
                node: nv.map_or_else(|| absent(n), |v| format!("{} KiB", num(v))),
                ratio: ratio(pv, nv),
                met: met(pv.map(|v| v <= TARGET_KIB_PER_CONNECTION)),
            });
        }

        let runs: Vec<&Run> = results
            .runs
            .iter()
            .filter(|r| r.backend == backend)
            .collect();
        let verdict_of = |server: ServerKind| {
            let mine: Vec<&&Run> = runs.iter().filter(|r| r.server == server).collect();
            let measured: Vec<_> = mine.iter().filter_map(|r| r.correctness.as_ref()).collect();
            if measured.is_empty() {
                return ("–".to_owned(), None);
            }
            let bad = mine
                .iter()
                .filter(|r| r.correctness.as_ref().is_some_and(|c| !c.ok()))
                .count();
            let acked: u64 = measured.iter().map(|c| c.acked).sum();
            (
                format!("{acked} acked, {bad} of {} runs failed", measured.len()),
                Some(bad == 0),
            )
        };
        let (ps, pok) = verdict_of(ServerKind::Parley);
        let (ns, _) = verdict_of(ServerKind::Node);
        out.push(Verdict {
            target: "every acked message stored once, delivered once to each member (parley)",
            backend: label,
            parley: ps,
            node: ns,
            ratio: String::new(),
            met: met(pok),
        });
    }
    out
}

/// The Markdown report. `svg_name` is the chart's file name next to it.
pub(crate) fn markdown(results: &Results, svg_name: &str) -> String {
    let mut md = String::new();
    let m = &results.machine;
    let s = &results.settings;
    let _ = writeln!(md, "# parley vs the Node reference: benchmark report\n");
    let _ = writeln!(
        md,
        "Made by `scripts/bench` (the `parley-bench` crate) on {}. Every figure below is in \
         `results.json`; `parley-bench report` rebuilds this page and the chart from it.\n",
        m.date
    );
    if s.quick {
        let _ = writeln!(
            md,
            "> **Quick run** (the CI-sized load): the figures only show that the harness works; \
             they say nothing about performance. Run `scripts/bench` without `--quick` for the \
             real comparison.\n"
        );
    }

    let _ = writeln!(md, "## Targets\n");
    let _ = writeln!(
        md,
        "Ratio is parley / Node. Where a target is not met, `bench/ANALYSIS.md` gives the gap's \
         measured cause and the profiles behind it.\n"
    );
    let _ = writeln!(
        md,
        "| target | database | parley | Node | ratio | verdict |"
    );
    let _ = writeln!(md, "| --- | --- | --- | --- | --- | --- |");
    for v in verdicts(results) {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            v.target, v.backend, v.parley, v.node, v.ratio, v.met
        );
    }

    let _ = writeln!(md, "\n## Machine\n");
    let _ = writeln!(md, "| | |\n| --- | --- |");
    let _ = writeln!(md, "| CPU | {} ({} cores) |", m.cpu, m.cores);
    let _ = writeln!(md, "| RAM | {} MiB |", m.ram_mib);
    let _ = writeln!(md, "| kernel | {} |", m.kernel);
    let _ = writeln!(md, "| rustc | {} |", m.rustc);
    let _ = writeln!(md, "| node | {} |", m.node);
    if let Some(pg) = &m.postgres {
        let _ = writeln!(md, "| PostgreSQL | {pg} (local, same machine) |");
    }
    let _ = writeln!(md, "| parley commit | {} |", m.git_commit);
    let _ = writeln!(
        md,
        "\nThe load generator, both servers and PostgreSQL share the same {} cores.",
        m.cores
    );

    let _ = writeln!(md, "\n## Settings and method\n");
    let _ = writeln!(
        md,
        "- Both servers get the same environment: `SQLITE_SYNCHRONOUS={}` (SQLite durability; \
         PostgreSQL commits are durable by its defaults), a database pool of {} \
         (`DB_MAX_CONNECTIONS`, parley's default; the Node reference's pool gets the same), \
         `SEND_RATE_PER_SEC=0` (parley's per-user rate limit off), the same JWT secret.",
        s.sqlite_synchronous, s.db_max_connections
    );
    let _ = writeln!(
        md,
        "- For every scenario and server: a fresh database (a new SQLite file, or a new \
         PostgreSQL database on the same server), `parley migrate up` for the schema, then the \
         seed rows, then a fresh server process. parley runs first, the Node reference second, \
         with the same load."
    );
    let _ = writeln!(
        md,
        "- Seed: users `1..N` (numeric ids) and **group conversations written in SQL**: groups \
         cannot be created through the API yet, so the runner inserts `conversations` rows \
         (`kind = 'group'`) and their `participants` directly, identically for both servers."
    );
    let _ = writeln!(
        md,
        "- The load generator is Rust (tokio, one task per WebSocket) speaking Engine.IO v4 / \
         Socket.IO v5 itself. Each message is 100 bytes of content with a unique `clientMsgId`; \
         every member socket (the sender's included) must receive `new_message`. Ack latency: \
         send to ack; delivery latency: send to `new_message` at each member."
    );
    let _ = writeln!(
        md,
        "- Open loop: sends are scheduled evenly over all clients; latency is measured from the \
         *scheduled* time, so a server that falls behind shows it. A rate counts as saturated when \
         acks fall more than 10% behind the offered rate, p99 delivery exceeds 2 s, a send is \
         refused or times out ({} s), or the phase does not drain; the climb stops there.",
        num(s.ack_timeout_secs)
    );
    let _ = writeln!(
        md,
        "- CPU: utime + stime of the server process from `/proc/<pid>/stat` around the measured \
         phase, {} ticks per second{}; per acknowledged message. On PostgreSQL the database's \
         own processes are not counted (for either server), so those figures leave out the \
         database work that the SQLite figures include. Memory: `VmRSS` from \
         `/proc/<pid>/status`. The load generator's own CPU is shown too, to show it is not \
         the bottleneck.",
        s.clk_tck,
        if s.clk_tck_assumed {
            " (assumed: getconf was unavailable)"
        } else {
            " (getconf CLK_TCK)"
        }
    );
    let _ = writeln!(
        md,
        "- After each scenario the server is stopped and the database read back: see \
         *Correctness*."
    );
    let _ = writeln!(
        md,
        "- Each figure comes from one run on a machine whose cores the load generator, both \
         servers and PostgreSQL share. Latencies near saturation vary from run to run; where a \
         ratio sits close to its target, run again before concluding."
    );

    closed_section(&mut md, results);
    open_section(&mut md, results, svg_name);
    fanout_section(&mut md, results);
    idle_section(&mut md, results);
    correctness_section(&mut md, results);
    md
}

/// A table row: its name, how to read the figure from a run, whether to show the ratio.
type Row = (&'static str, fn(&Run) -> Option<f64>, bool);

fn per_backend_table(md: &mut String, results: &Results, scenario: ScenarioKind, rows: &[Row]) {
    for backend in backends(results) {
        let p = find(results, backend, ServerKind::Parley, scenario);
        let n = find(results, backend, ServerKind::Node, scenario);
        if p.is_none() && n.is_none() {
            continue;
        }
        let _ = writeln!(md, "\n**{}**\n", backend.label());
        let _ = writeln!(md, "| | parley | Node | parley / Node |");
        let _ = writeln!(md, "| --- | --- | --- | --- |");
        for &(name, get, with_ratio) in rows {
            let pv = p.and_then(get);
            let nv = n.and_then(get);
            let _ = writeln!(
                md,
                "| {name} | {} | {} | {} |",
                pv.map_or_else(|| absent(p), num),
                nv.map_or_else(|| absent(n), num),
                if with_ratio {
                    ratio(pv, nv)
                } else {
                    String::new()
                }
            );
        }
    }
}

fn closed_section(md: &mut String, results: &Results) {
    if !results
        .runs
        .iter()
        .any(|r| r.scenario == ScenarioKind::Closed)
    {
        return;
    }
    let c = results.settings.closed;
    let _ = writeln!(md, "\n## Closed-loop throughput\n");
    let _ = writeln!(
        md,
        "{} clients in conversations of {} ({} conversations); each sends {} messages, the next \
         one after the previous ack, all clients at once (after {} unmeasured warm-up messages \
         each). msg/s = acknowledged (persisted) messages / time from the first send to the last \
         ack.",
        c.clients,
        c.group,
        c.clients.div_ceil(c.group.max(1)),
        c.messages,
        c.warmup
    );
    per_backend_table(
        md,
        results,
        ScenarioKind::Closed,
        &[
            (
                "persisted msg/s",
                |r| r.closed.as_ref().map(|f| f.msgs_per_s),
                true,
            ),
            (
                "ack p50, ms",
                |r| r.closed.as_ref()?.ack.map(|l| l.p50_ms),
                true,
            ),
            (
                "ack p99, ms",
                |r| r.closed.as_ref()?.ack.map(|l| l.p99_ms),
                true,
            ),
            (
                "delivery p50, ms",
                |r| r.closed.as_ref()?.delivery.map(|l| l.p50_ms),
                true,
            ),
            (
                "delivery p99, ms",
                |r| r.closed.as_ref()?.delivery.map(|l| l.p99_ms),
                true,
            ),
            (
                "server CPU per message, ms",
                |r| r.closed.as_ref()?.cpu_ms_per_msg,
                true,
            ),
            (
                "server RSS after, MiB",
                |r| r.closed.as_ref()?.rss_kib.map(|k| k as f64 / 1024.0),
                true,
            ),
            (
                "load generator CPU, % of one core",
                |r| r.closed.as_ref()?.generator_cpu_pct,
                false,
            ),
        ],
    );
}

fn open_section(md: &mut String, results: &Results, svg_name: &str) {
    if !results
        .runs
        .iter()
        .any(|r| r.scenario == ScenarioKind::Open)
    {
        return;
    }
    let s = &results.settings;
    let _ = writeln!(md, "\n## Open-loop latency\n");
    let _ = writeln!(
        md,
        "The closed-loop clients and conversations; all clients together offer a fixed rate for \
         {} s per step, climbing through {} msg/s until the server saturates. Latencies in ms, \
         from the scheduled send time. `sat.` marks a step beyond what the server sustains.\n",
        num(s.open_secs),
        s.open_rates
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        md,
        "![p99 delivery latency against offered load]({svg_name})"
    );
    for backend in backends(results) {
        let p = find(results, backend, ServerKind::Parley, ScenarioKind::Open);
        let n = find(results, backend, ServerKind::Node, ScenarioKind::Open);
        if p.is_none() && n.is_none() {
            continue;
        }
        let _ = writeln!(md, "\n**{}**\n", backend.label());
        let _ = writeln!(
            md,
            "| offered msg/s | parley achieved | parley delivery p50 / p99 / max | parley ack p99 | parley CPU ms/msg | Node achieved | Node delivery p50 / p99 / max | Node ack p99 | Node CPU ms/msg | p99 parley / Node |"
        );
        let _ = writeln!(
            md,
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        );
        for &rate in &s.open_rates {
            let ps = step_at(p, rate);
            let ns = step_at(n, rate);
            if ps.is_none() && ns.is_none() {
                continue;
            }
            let cells = |st: Option<&OpenStep>, run: Option<&Run>| -> [String; 4] {
                match st {
                    None => {
                        let why = if run.and_then(|r| r.open.as_ref()).is_some() {
                            "(stopped)".to_owned()
                        } else {
                            absent(run)
                        };
                        [why, String::new(), String::new(), String::new()]
                    }
                    Some(st) => [
                        format!(
                            "{:.0}{}",
                            st.achieved,
                            if st.saturated.is_some() { " sat." } else { "" }
                        ),
                        format!(
                            "{} / {} / {}",
                            ms(st.delivery, |l| l.p50_ms),
                            ms(st.delivery, |l| l.p99_ms),
                            ms(st.delivery, |l| l.max_ms)
                        ),
                        ms(st.ack, |l| l.p99_ms),
                        opt(st.cpu_ms_per_msg),
                    ],
                }
            };
            let [pa, pd, pk, pc] = cells(ps, p);
            let [na, nd, nk, nc] = cells(ns, n);
            let r = ratio(
                ps.and_then(|s| s.delivery).map(|l| l.p99_ms),
                ns.and_then(|s| s.delivery).map(|l| l.p99_ms),
            );
            let _ = writeln!(
                md,
                "| {rate} | {pa} | {pd} | {pk} | {pc} | {na} | {nd} | {nk} | {nc} | {r} |"
            );
        }
        for (name, run) in [("parley", p), ("Node", n)] {
            if let Some(steps) = run.and_then(|r| r.open.as_ref()) {
                let cpu: Vec<String> = steps
                    .iter()
                    .map(|s| format!("{} msg/s: {}", s.offered, opt(s.generator_cpu_pct)))
                    .collect();
                let _ = writeln!(
                    md,
                    "\nLoad generator CPU (% of one core) during the {name} steps: {}.",
                    cpu.join("; ")
                );
            }
        }
        for (name, run) in [("parley", p), ("Node", n)] {
            if let Some(steps) = run.and_then(|r| r.open.as_ref())
                && let Some(last) = steps.last()
                && let Some(why) = &last.saturated
            {
                let _ = writeln!(md, "\n{name} saturated at {} msg/s: {why}.", last.offered);
            }
        }
    }
}

fn fanout_section(md: &mut String, results: &Results) {
    if !results
        .runs
        .iter()
        .any(|r| r.scenario == ScenarioKind::Fanout)
    {
        return;
    }
    let s = &results.settings;
    let _ = writeln!(md, "\n## Fan-out\n");
    let _ = writeln!(
        md,
        "One group conversation of {} members, all connected and joined; {} of them send {} \
         messages in total at {} msg/s. Every message is delivered to all {} members.",
        s.fanout_members, s.fanout_senders, s.fanout_messages, s.fanout_rate, s.fanout_members
    );
    per_backend_table(
        md,
        results,
        ScenarioKind::Fanout,
        &[
            (
                "deliveries/s",
                |r| fanout_of(Some(r)).map(|f| f.deliveries_per_s),
                true,
            ),
            (
                "delivery p50, ms",
                |r| fanout_of(Some(r))?.delivery.map(|l| l.p50_ms),
                true,
            ),
            (
                "delivery p99, ms",
                |r| fanout_of(Some(r))?.delivery.map(|l| l.p99_ms),
                true,
            ),
            (
                "ack p99, ms",
                |r| fanout_of(Some(r))?.ack.map(|l| l.p99_ms),
                true,
            ),
            (
                "server CPU per message, ms",
                |r| fanout_of(Some(r))?.cpu_ms_per_msg,
                true,
            ),
            (
                "load generator CPU, % of one core",
                |r| fanout_of(Some(r))?.generator_cpu_pct,
                false,
            ),
        ],
    );
}

fn idle_section(md: &mut String, results: &Results) {
    if !results
        .runs
        .iter()
        .any(|r| r.scenario == ScenarioKind::Idle)
    {
        return;
    }
    let _ = writeln!(md, "\n## Idle connections\n");
    let _ = writeln!(
        md,
        "{} clients connect (WebSocket, Socket.IO CONNECT with a token; 200 handshakes in flight) \
         and stay idle. Per connection = (RSS with all connected, settled 4 s, − RSS after a \
         warm-up with no client) / connected.",
        results.settings.idle_clients
    );
    per_backend_table(
        md,
        results,
        ScenarioKind::Idle,
        &[
            (
                "connected",
                |r| idle_of(Some(r)).map(|f| f.connected as f64),
                false,
            ),
            (
                "seconds to connect all",
                |r| idle_of(Some(r)).map(|f| f.connect_s),
                true,
            ),
            (
                "RSS before, MiB",
                |r| idle_of(Some(r)).map(|f| f.rss_base_kib as f64 / 1024.0),
                true,
            ),
            (
                "RSS connected, MiB",
                |r| idle_of(Some(r)).map(|f| f.rss_loaded_kib as f64 / 1024.0),
                true,
            ),
            (
                "KiB per connection",
                |r| idle_of(Some(r)).map(|f| f.kib_per_connection),
                true,
            ),
        ],
    );
    for r in results
        .runs
        .iter()
        .filter(|r| r.scenario == ScenarioKind::Idle)
    {
        if let Some(f) = &r.idle
            && let Some(why) = &f.first_failure
        {
            let _ = writeln!(
                md,
                "\n{} on {}: {} connections failed; first: `{why}`",
                r.server.label(),
                r.backend.label(),
                f.attempted - f.connected
            );
        }
    }
}

fn correctness_section(md: &mut String, results: &Results) {
    let _ = writeln!(md, "\n## Correctness\n");
    let _ = writeln!(
        md,
        "After each scenario: every acked message must be in the database exactly once, with the \
         id, conversation and seq its ack gave; each conversation's seq must run 1..n with \
         `last_seq = n`; every member socket must have received every acked message of its \
         conversation exactly once, in seq order. Refusals and ack timeouts are not losses (the \
         sender was told, or never told, that its message was stored) and are shown apart; a \
         message stored after its ack timed out is listed as *stored late*.\n"
    );
    let _ = writeln!(
        md,
        "| database | scenario | server | sent | acked | refused | ack timeouts | stored | stored late | deliveries owed | delivered | lost | duplicated | out of order | verdict |"
    );
    let _ = writeln!(
        md,
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    let mut notes = Vec::new();
    for r in &results.runs {
        let head = format!(
            "| {} | {} | {} |",
            r.backend.label(),
            r.scenario.label(),
            r.server.label()
        );
        if let Some(why) = &r.skipped {
            let _ = writeln!(md, "{head} | | | | | | | | | | | | skipped |");
            notes.push(format!("{} skipped: {why}", r.server.label()));
            continue;
        }
        if let Some(e) = &r.error {
            let _ = writeln!(md, "{head} | | | | | | | | | | | | **run failed** |");
            notes.push(format!(
                "{} / {} / {}: {}",
                r.backend.label(),
                r.scenario.label(),
                r.server.label(),
                e.lines().next().unwrap_or_default()
            ));
            continue;
        }
        let Some(c) = &r.correctness else {
            continue;
        };
        let lost = c.acked_missing + c.lost_deliveries;
        let dup = c.stored_twice + c.duplicate_deliveries;
        let verdict = if c.ok() {
            "ok".to_owned()
        } else {
            format!("**FAILED**: {}", c.problems().join(", "))
        };
        let _ = writeln!(
            md,
            "{head} {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {verdict} |",
            c.sent,
            c.acked,
            c.refused,
            c.ack_timeouts,
            c.stored,
            c.stored_after_timeout,
            c.expected_deliveries,
            c.delivered,
            lost,
            dup,
            c.order_violations
        );
        if let Some(why) = &c.refusal_example {
            notes.push(format!(
                "{} / {} / {}: first refusal: `{why}`",
                r.backend.label(),
                r.scenario.label(),
                r.server.label()
            ));
        }
        if let Some(why) = &c.disconnect_example {
            notes.push(format!(
                "{} / {} / {}: {} clients disconnected; first: `{why}`",
                r.backend.label(),
                r.scenario.label(),
                r.server.label(),
                c.disconnects
            ));
        }
    }
    let _ = writeln!(
        md,
        "\n*lost* counts acked messages missing from the database plus owed deliveries never \
         received; *duplicated* counts extra rows plus extra deliveries."
    );
    if !notes.is_empty() {
        let _ = writeln!(md);
        for n in notes {
            let _ = writeln!(md, "- {n}");
        }
    }
}

/// The chart: p99 delivery latency (ms, log scale) against offered msg/s, one line per server and
/// database. Saturated steps are drawn as crosses.
pub(crate) fn svg(results: &Results) -> String {
    const W: f64 = 760.0;
    const H: f64 = 440.0;
    const LEFT: f64 = 80.0;
    const RIGHT: f64 = 200.0;
    const TOP: f64 = 40.0;
    const BOTTOM: f64 = 60.0;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;

    // (legend, colour, dashed, points (offered, p99 ms, saturated)) per server and database.
    type Series = (String, &'static str, bool, Vec<(f64, f64, bool)>);
    let mut series: Vec<Series> = Vec::new();
    for r in results
        .runs
        .iter()
        .filter(|r| r.scenario == ScenarioKind::Open)
    {
        let Some(steps) = &r.open else {
            continue;
        };
        let points: Vec<(f64, f64, bool)> = steps
            .iter()
            .filter_map(|s| {
                s.delivery.map(|l| {
                    (
                        f64::from(s.offered),
                        l.p99_ms.max(0.01),
                        s.saturated.is_some(),
                    )
                })
            })
            .collect();
        if points.is_empty() {
            continue;
        }
        let color = match r.server {
            ServerKind::Parley => "#1f6fb4",
            ServerKind::Node => "#c8402a",
        };
        series.push((
            format!("{} · {}", r.server.label(), r.backend.label()),
            color,
            r.backend == Backend::Postgres,
            points,
        ));
    }

    let all = series.iter().flat_map(|s| s.3.iter());
    let x_max = all
        .clone()
        .map(|p| p.0)
        .chain(results.settings.open_rates.iter().map(|&r| f64::from(r)))
        .fold(1.0_f64, f64::max);
    let (lo, hi) = all.fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    let (lo, hi) = if lo > hi { (1.0, 1000.0) } else { (lo, hi) };
    let y_lo = lo.log10().floor();
    let y_hi = hi.log10().ceil().max(y_lo + 1.0);
    let x = |v: f64| LEFT + v / x_max * plot_w;
    let y = |v: f64| TOP + plot_h - (v.log10() - y_lo) / (y_hi - y_lo) * plot_h;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">p99 send-to-receive latency against offered load (open loop)</text>"#,
        LEFT + plot_w / 2.0
    );
    // Y axis: decades, labelled.
    let mut d = y_lo;
    while d <= y_hi + 1e-9 {
        let v = 10f64.powf(d);
        let py = y(v);
        let label = if v < 1.0 {
            format!("{v}")
        } else {
            format!("{v:.0}")
        };
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{label}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            py + 4.0
        );
        d += 1.0;
    }
    // X axis: the offered rates.
    for &r in &results.settings.open_rates {
        let px = x(f64::from(r));
        let _ = writeln!(
            s,
            r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#eee"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{r}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 18.0
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">offered load (messages/s, all clients)</text>"#,
        LEFT + plot_w / 2.0,
        H - 18.0
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(22 {:.1}) rotate(-90)" text-anchor="middle">p99 delivery latency (ms, log scale)</text>"#,
        TOP + plot_h / 2.0
    );
    for (i, (name, color, dashed, points)) in series.iter().enumerate() {
        let dash = if *dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let path: Vec<String> = points
            .iter()
            .map(|&(px, py, _)| format!("{:.1},{:.1}", x(px), y(py)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
            path.join(" ")
        );
        for &(px, py, saturated) in points {
            let (cx, cy) = (x(px), y(py));
            if saturated {
                let _ = writeln!(
                    s,
                    r#"<path d="M{:.1},{:.1} l8,8 m0,-8 l-8,8" stroke="{color}" stroke-width="2"/>"#,
                    cx - 4.0,
                    cy - 4.0
                );
            } else {
                let _ = writeln!(
                    s,
                    r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="3.5" fill="{color}"/>"#
                );
            }
        }
        // Legend.
        let ly = TOP + 10.0 + 22.0 * i as f64;
        let lx = LEFT + plot_w + 16.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="2"{dash}/><text x="{:.1}" y="{:.1}">{name}</text>"#,
            lx + 28.0,
            lx + 34.0,
            ly + 4.0
        );
    }
    let ly = TOP + 10.0 + 22.0 * series.len() as f64;
    let lx = LEFT + plot_w + 16.0;
    let _ = writeln!(
        s,
        r##"<path d="M{:.1},{:.1} l8,8 m0,-8 l-8,8" stroke="#555" stroke-width="2"/><text x="{:.1}" y="{:.1}">saturated</text>"##,
        lx + 10.0,
        ly - 4.0,
        lx + 34.0,
        ly + 4.0
    );
    if series.is_empty() {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">no open-loop data</text>"#,
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0
        );
    }
    let _ = writeln!(s, "</svg>");
    s
}
