//! The four scenarios, each against one running server: what is connected, what is sent and how
//! fast, what is measured.
//!
//! - closed loop: clients in small groups, each sending its next message after the previous ack;
//! - open loop: the same clients sending at fixed total rates, climbing until the server saturates;
//! - fan-out: one large group, a few senders at a fixed rate;
//! - idle: many connected clients, the server's memory per connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::{ClientFinal, Fleet, Pace, PhaseLog, SendPlan, Shared};
use crate::results::{
    ClosedFigures, FanoutFigures, IdleFigures, Latency, LoadShape, OpenStep, Run, ScenarioKind,
};
use crate::server::ServerProcess;

/// Loads and limits of every scenario.
#[derive(Debug, Clone)]
pub(crate) struct Load {
    /// Closed and open loop: clients, conversation size, messages, warm-up.
    pub(crate) shape: LoadShape,
    /// Open loop: total offered rates, msg/s, in climbing order.
    pub(crate) rates: Vec<u32>,
    /// Open loop: duration of each rate.
    pub(crate) rate_time: Duration,
    /// Fan-out: members of the group.
    pub(crate) fanout_members: u32,
    /// Fan-out: members that send.
    pub(crate) fanout_senders: u32,
    /// Fan-out: messages in total.
    pub(crate) fanout_messages: u32,
    /// Fan-out: total rate, msg/s.
    pub(crate) fanout_rate: u32,
    /// Idle: connections.
    pub(crate) idle_clients: u32,
    /// Handshakes in flight at once.
    pub(crate) connect_concurrency: usize,
    /// Longest wait for one handshake.
    pub(crate) connect_timeout: Duration,
    /// Longest wait for an ack before the send counts as timed out.
    pub(crate) ack_timeout: Duration,
    /// After a phase's last send is due, longest wait for its acks and deliveries.
    pub(crate) drain: Duration,
    /// Longest a closed-loop phase may send for.
    pub(crate) closed_limit: Duration,
    /// HS256 secret for the tokens.
    pub(crate) jwt_secret: String,
    /// Clock ticks per second of /proc CPU times.
    pub(crate) clk_tck: u64,
}

impl Load {
    /// Users to seed and the sizes of the group conversations, for `scenario`.
    pub(crate) fn seed_shape(&self, scenario: ScenarioKind) -> (u32, Vec<u32>) {
        match scenario {
            ScenarioKind::Closed | ScenarioKind::Open => {
                let (clients, group) = (self.shape.clients, self.shape.group.max(1));
                let mut groups = vec![group; (clients / group) as usize];
                if clients % group > 0 {
                    groups.push(clients % group);
                }
                (clients, groups)
            }
            ScenarioKind::Fanout => (self.fanout_members, vec![self.fanout_members]),
            ScenarioKind::Idle => (self.idle_clients, Vec::new()),
        }
    }

    fn ms(&self, ticks: u64) -> f64 {
        ticks as f64 * 1000.0 / self.clk_tck as f64
    }
}

/// What a scenario leaves for the correctness check.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    /// Every phase's log, merged.
    pub(crate) log: PhaseLog,
    /// What each client received.
    pub(crate) finals: Vec<ClientFinal>,
}

/// Runs `run.scenario` against `server`, whose database holds `conversations` (as seeded by
/// [`Load::seed_shape`]); fills the run's figures and returns the traffic to check.
pub(crate) async fn execute(
    run: &mut Run,
    load: &Load,
    server: &ServerProcess,
    conversations: &[i64],
) -> Result<Traffic, String> {
    match run.scenario {
        ScenarioKind::Closed => closed(run, load, server, conversations).await,
        ScenarioKind::Open => open(run, load, server, conversations).await,
        ScenarioKind::Fanout => fanout(run, load, server, conversations).await,
        ScenarioKind::Idle => idle(run, load, server).await,
    }
}

/// Connects users `1..=count`; all must connect.
async fn connect_all(
    load: &Load,
    server: &ServerProcess,
    count: u32,
    shared: Arc<Shared>,
) -> Result<Fleet, String> {
    let users: Vec<u32> = (1..=count).collect();
    let fleet = Fleet::connect(
        server.addr,
        &load.jwt_secret,
        &users,
        shared,
        load.connect_concurrency,
        load.connect_timeout,
        load.ack_timeout,
    )
    .await;
    if let Some(first) = fleet.failures.first() {
        let failed = fleet.failures.len();
        let first = first.clone();
        fleet.close().await;
        return Err(format!(
            "{failed} of {count} clients could not connect; first: {first}"
        ));
    }
    Ok(fleet)
}

/// Client `i`'s conversation: groups of `group` consecutive clients.
fn conversation_of(conversations: &[i64], group: u32, i: u32) -> Result<i64, String> {
    conversations
        .get((i / group.max(1)) as usize)
        .copied()
        .ok_or_else(|| format!("no conversation seeded for client {i}"))
}

fn seconds(from_us: u64, to_us: u64) -> f64 {
    to_us.saturating_sub(from_us) as f64 / 1e6
}

/// Closed-loop plans: client `i` sends messages `base + i*count ..` one after another.
fn closed_plans(clients: u32, base: u32, count: u32, limit: Duration) -> Vec<Option<SendPlan>> {
    let deadline = Instant::now() + limit;
    (0..clients)
        .map(|i| {
            Some(SendPlan {
                first: base + i * count,
                count,
                pace: Pace::Closed,
                deadline,
            })
        })
        .collect()
}

/// Open-loop plans for `senders` of `clients` at `rate` msg/s in total for `time`: each sender
/// sends every `senders / rate` seconds, senders staggered by `1 / rate`, so the sends of all of
/// them are evenly spaced; each sends `per_sender` messages from `base + i * per_sender`.
fn open_plans(
    clients: u32,
    senders: u32,
    base: u32,
    rate: u32,
    time: Duration,
    per_sender: u32,
) -> Vec<Option<SendPlan>> {
    let rate = f64::from(rate.max(1));
    let interval = Duration::from_secs_f64(f64::from(senders) / rate);
    let start = Instant::now() + Duration::from_millis(50);
    // A generator more than a second behind its schedule stops rather than catching up forever.
    let deadline = start + time + Duration::from_secs(1);
    (0..clients)
        .map(|i| {
            (i < senders).then(|| SendPlan {
                first: base + i * per_sender,
                count: per_sender,
                pace: Pace::Open {
                    start: start + Duration::from_secs_f64(f64::from(i) / rate),
                    interval,
                },
                deadline,
            })
        })
        .collect()
}

/// Messages each of `senders` sends at `rate` in total during about `time` (at least one).
fn per_sender(senders: u32, rate: u32, time: Duration) -> u32 {
    ((f64::from(rate) * time.as_secs_f64() / f64::from(senders.max(1))).round() as u32).max(1)
}

/// How long `senders` sending `per_sender` messages each at `rate` in total take.
fn span_of(senders: u32, per_sender: u32, rate: u32) -> Duration {
    Duration::from_secs_f64(f64::from(senders) * f64::from(per_sender) / f64::from(rate.max(1)))
}

/// CPU time of this process (the load generator), ms.
fn own_cpu_ms(load: &Load) -> Option<f64> {
    crate::server::cpu_ticks(std::process::id())
        .ok()
        .map(|t| load.ms(t))
}

/// Generator CPU over a phase, as percent of one core.
fn generator_pct(before: Option<f64>, after: Option<f64>, wall: Duration) -> Option<f64> {
    let (b, a) = (before?, after?);
    let wall_ms = wall.as_secs_f64() * 1000.0;
    (wall_ms > 0.0).then(|| (a - b) / wall_ms * 100.0)
}

fn cpu_per_message(load: &Load, before: u64, after: u64, acked: u64) -> Option<f64> {
    (acked > 0).then(|| load.ms(after.saturating_sub(before)) / acked as f64)
}

/// Joins every client to its conversation, then sends the unmeasured warm-up messages (indexes
/// `0..warmup * clients`), closed loop; returns what the warm-up logged.
async fn join_and_warm_up(
    fleet: &Fleet,
    load: &Load,
    conversations: &[i64],
) -> Result<PhaseLog, String> {
    let LoadShape {
        clients,
        group,
        warmup,
        ..
    } = load.shape;
    let joins = (0..clients)
        .map(|i| conversation_of(conversations, group, i))
        .collect::<Result<Vec<_>, _>>()?;
    fleet.join(&joins, Duration::from_secs(30)).await?;
    let mut log = PhaseLog::default();
    if warmup > 0 {
        let plans = closed_plans(clients, 0, warmup, load.closed_limit);
        let out = fleet.phase(&plans, u64::from(group), load.drain).await?;
        log.merge(out.log);
    }
    Ok(log)
}

async fn closed(
    run: &mut Run,
    load: &Load,
    server: &ServerProcess,
    conversations: &[i64],
) -> Result<Traffic, String> {
    let LoadShape {
        clients,
        group,
        messages,
        warmup,
    } = load.shape;
    let shared = Shared::new(((warmup + messages) * clients) as usize);
    let fleet = connect_all(load, server, clients, shared).await?;
    let result = async {
        let mut all = join_and_warm_up(&fleet, load, conversations).await?;
        let cpu0 = server.cpu_ticks()?;
        let (gen0, t0) = (own_cpu_ms(load), Instant::now());
        let plans = closed_plans(clients, warmup * clients, messages, load.closed_limit);
        let mut out = fleet.phase(&plans, u64::from(group), load.drain).await?;
        let cpu1 = server.cpu_ticks()?;
        let generator_cpu_pct = generator_pct(gen0, own_cpu_ms(load), t0.elapsed());
        let log = &mut out.log;
        let wall_s = seconds(log.first_send_us.unwrap_or(out.started_us), log.last_ack_us);
        run.closed = Some(ClosedFigures {
            acked: log.acked,
            wall_s,
            msgs_per_s: if wall_s > 0.0 {
                log.acked as f64 / wall_s
            } else {
                0.0
            },
            ack: Latency::of(std::mem::take(&mut log.ack_us)),
            delivery: Latency::of(std::mem::take(&mut log.delivery_us)),
            cpu_ms_per_msg: cpu_per_message(load, cpu0, cpu1, log.acked),
            rss_kib: server.rss_kib().ok(),
            generator_cpu_pct,
        });
        all.merge(out.log);
        Ok::<_, String>(all)
    }
    .await;
    let finals = fleet.close().await;
    Ok(Traffic {
        log: result?,
        finals,
    })
}

async fn open(
    run: &mut Run,
    load: &Load,
    server: &ServerProcess,
    conversations: &[i64],
) -> Result<Traffic, String> {
    let LoadShape {
        clients,
        group,
        warmup,
        ..
    } = load.shape;
    let counts: Vec<u32> = load
        .rates
        .iter()
        .map(|&r| per_sender(clients, r, load.rate_time))
        .collect();
    let capacity = (warmup + counts.iter().sum::<u32>()) * clients;
    let shared = Shared::new(capacity as usize);
    let fleet = connect_all(load, server, clients, shared).await?;
    let mut steps = Vec::new();
    let result = async {
        let mut all = join_and_warm_up(&fleet, load, conversations).await?;
        // The warm-up used the first message indexes.
        let mut base = warmup * clients;
        for (&rate, &count) in load.rates.iter().zip(&counts) {
            let cpu0 = server.cpu_ticks()?;
            let (gen0, t0) = (own_cpu_ms(load), Instant::now());
            let span = span_of(clients, count, rate);
            let plans = open_plans(clients, clients, base, rate, span, count);
            base += count * clients;
            let mut out = fleet.phase(&plans, u64::from(group), load.drain).await?;
            let cpu1 = server.cpu_ticks()?;
            let mut step = open_step(load, rate, span, &mut out, (cpu0, cpu1));
            step.generator_cpu_pct = generator_pct(gen0, own_cpu_ms(load), t0.elapsed());
            let saturated = step.saturated.is_some();
            eprintln!(
                "    {rate} msg/s: achieved {:.0}, delivery p99 {} ms{}",
                step.achieved,
                step.delivery
                    .map_or("-".to_owned(), |l| format!("{:.1}", l.p99_ms)),
                step.saturated
                    .as_deref()
                    .map_or(String::new(), |s| format!(" (saturated: {s})"))
            );
            steps.push(step);
            all.merge(out.log);
            if saturated {
                break;
            }
        }
        Ok::<_, String>(all)
    }
    .await;
    run.open = Some(steps);
    let finals = fleet.close().await;
    Ok(Traffic {
        log: result?,
        finals,
    })
}

/// The figures of one open-loop rate, and whether the server kept up with it.
fn open_step(
    load: &Load,
    rate: u32,
    span: Duration,
    out: &mut crate::client::PhaseOutcome,
    (cpu0, cpu1): (u64, u64),
) -> OpenStep {
    let log = &mut out.log;
    let first = log.first_send_us.unwrap_or(out.started_us);
    let time = span.as_secs_f64();
    let achieved = log.acked as f64 / seconds(first, log.last_ack_us).max(time);
    let offered = f64::from(rate);
    let scheduled = log.sent + log.unsent;
    let delivery = Latency::of(std::mem::take(&mut log.delivery_us));
    let ack = Latency::of(std::mem::take(&mut log.ack_us));
    let mut why = Vec::new();
    if achieved < 0.9 * offered {
        why.push(format!("acks {achieved:.0}/s of {offered:.0}/s offered"));
    }
    if let Some(p99) = delivery.map(|l| l.p99_ms)
        && p99 > 2000.0
    {
        why.push(format!("delivery p99 {p99:.0} ms"));
    }
    if log.refused > 0 {
        why.push(format!("{} sends refused", log.refused));
    }
    if log.timed_out > 0 {
        why.push(format!("{} acks timed out", log.timed_out));
    }
    if log.unsent > 0 {
        why.push(format!(
            "{} sends never left (generator behind)",
            log.unsent
        ));
    }
    if !out.drained {
        why.push("did not drain".to_owned());
    }
    OpenStep {
        offered: rate,
        scheduled,
        acked: log.acked,
        achieved,
        delivery,
        ack,
        refused: log.refused,
        timed_out: log.timed_out,
        cpu_ms_per_msg: cpu_per_message(load, cpu0, cpu1, log.acked),
        generator_cpu_pct: None,
        saturated: (!why.is_empty()).then(|| why.join(", ")),
    }
}

async fn fanout(
    run: &mut Run,
    load: &Load,
    server: &ServerProcess,
    conversations: &[i64],
) -> Result<Traffic, String> {
    let members = load.fanout_members;
    let senders = load.fanout_senders.clamp(1, members.max(1));
    let count = (load.fanout_messages / senders).max(1);
    let shared = Shared::new((count * senders) as usize);
    let fleet = connect_all(load, server, members, shared).await?;
    let result = async {
        let conversation = *conversations
            .first()
            .ok_or("no conversation seeded for the fan-out")?;
        fleet
            .join(
                &vec![conversation; members as usize],
                Duration::from_secs(30),
            )
            .await?;
        let time = span_of(senders, count, load.fanout_rate);
        let cpu0 = server.cpu_ticks()?;
        let (gen0, t0) = (own_cpu_ms(load), Instant::now());
        let plans = open_plans(members, senders, 0, load.fanout_rate, time, count);
        let mut out = fleet.phase(&plans, u64::from(members), load.drain).await?;
        let cpu1 = server.cpu_ticks()?;
        let generator_cpu_pct = generator_pct(gen0, own_cpu_ms(load), t0.elapsed());
        let log = &mut out.log;
        let span = seconds(
            log.first_send_us.unwrap_or(out.started_us),
            log.last_delivery_us,
        );
        run.fanout = Some(FanoutFigures {
            acked: log.acked,
            deliveries: log.delivered,
            deliveries_per_s: if span > 0.0 {
                log.delivered as f64 / span
            } else {
                0.0
            },
            delivery: Latency::of(std::mem::take(&mut log.delivery_us)),
            ack: Latency::of(std::mem::take(&mut log.ack_us)),
            cpu_ms_per_msg: cpu_per_message(load, cpu0, cpu1, log.acked),
            generator_cpu_pct,
        });
        Ok::<_, String>(out.log)
    }
    .await;
    let finals = fleet.close().await;
    Ok(Traffic {
        log: result?,
        finals,
    })
}

async fn idle(run: &mut Run, load: &Load, server: &ServerProcess) -> Result<Traffic, String> {
    // Warm-up: a few clients connect and leave, so first-connection allocations are not counted.
    let warm = connect_all(load, server, load.idle_clients.min(10), Shared::new(0)).await?;
    warm.close().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_base_kib = server.rss_kib()?;

    let users: Vec<u32> = (1..=load.idle_clients).collect();
    let started = Instant::now();
    let fleet = Fleet::connect(
        server.addr,
        &load.jwt_secret,
        &users,
        Shared::new(0),
        load.connect_concurrency,
        load.connect_timeout,
        load.ack_timeout,
    )
    .await;
    let connect_s = started.elapsed().as_secs_f64();
    // Let the server settle; take the later of two readings.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let first = server.rss_kib();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = server.rss_kib().or(first);
    let connected = fleet.len() as u64;
    let first_failure = fleet.failures.first().cloned();
    let finals = fleet.close().await;
    let rss_loaded_kib = rss?;
    run.idle = Some(IdleFigures {
        attempted: users.len() as u64,
        connected,
        first_failure,
        connect_s,
        rss_base_kib,
        rss_loaded_kib,
        kib_per_connection: if connected > 0 {
            rss_loaded_kib.saturating_sub(rss_base_kib) as f64 / connected as f64
        } else {
            0.0
        },
    });
    Ok(Traffic {
        log: PhaseLog::default(),
        finals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_plans_spread_sends_evenly() {
        let count = per_sender(4, 400, Duration::from_secs(1));
        assert_eq!(count, 100);
        let plans = open_plans(5, 4, 10, 400, Duration::from_secs(1), count);
        assert!(plans[4].is_none(), "only senders get a plan");
        let starts: Vec<Instant> = plans
            .iter()
            .flatten()
            .map(|p| match p.pace {
                Pace::Open { start, interval } => {
                    assert_eq!(interval, Duration::from_millis(10));
                    start
                }
                Pace::Closed => unreachable!(),
            })
            .collect();
        assert_eq!(starts[1] - starts[0], Duration::from_micros(2500));
        let firsts: Vec<u32> = plans.iter().flatten().map(|p| p.first).collect();
        assert_eq!(firsts, vec![10, 110, 210, 310]);
    }

    #[test]
    fn groups_cover_every_client() {
        let load = Load {
            shape: LoadShape {
                clients: 12,
                group: 5,
                messages: 1,
                warmup: 0,
            },
            rates: vec![],
            rate_time: Duration::from_secs(1),
            fanout_members: 20,
            fanout_senders: 2,
            fanout_messages: 10,
            fanout_rate: 10,
            idle_clients: 3,
            connect_concurrency: 1,
            connect_timeout: Duration::from_secs(1),
            ack_timeout: Duration::from_secs(1),
            drain: Duration::from_secs(1),
            closed_limit: Duration::from_secs(1),
            jwt_secret: String::new(),
            clk_tck: 100,
        };
        assert_eq!(load.seed_shape(ScenarioKind::Closed), (12, vec![5, 5, 2]));
        assert_eq!(load.seed_shape(ScenarioKind::Fanout), (20, vec![20]));
        assert_eq!(load.seed_shape(ScenarioKind::Idle), (3, vec![]));
        assert_eq!(conversation_of(&[7, 8, 9], 5, 11), Ok(9));
        assert!(conversation_of(&[7], 5, 5).is_err());
    }
}
