//! Simulated users: one tokio task per WebSocket connection, and the [`Fleet`] that drives them
//! through phases.
//!
//! A client task owns its connection. It answers pings, joins its conversation when told, sends
//! messages by a [`SendPlan`] (closed loop: the next one after the ack; open loop: at fixed times),
//! and records ack latency, send-to-receive latency and every `new_message` it receives, by `seq`,
//! so the runner can later check that each message reached each member exactly once and in order.
//!
//! Latency is measured from the time a message was *scheduled* to leave (in a closed loop, the
//! moment it left), so a server that stalls an open-loop sender is not hidden by the sender
//! waiting for it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::de::IgnoredAny;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::proto::{self, Incoming};

/// A client's connection.
type Ws = WebSocketStream<TcpStream>;

/// Largest `seq` a client keeps a delivery counter for; anything above is counted as unexpected.
const MAX_TRACKED_SEQ: i64 = 50_000_000;

/// What every client task and the runner share: the clock origin, the time each message was
/// scheduled to be sent (by global message index), and running totals the runner polls to know
/// when a phase has drained.
#[derive(Debug)]
pub(crate) struct Shared {
    base: Instant,
    /// Microseconds since `base` at which message `i` was scheduled, plus one (0: not sent).
    sent_at: Vec<AtomicU64>,
    /// Acknowledged sends, all clients.
    pub(crate) acked: AtomicU64,
    /// Sends resolved one way or another: acknowledged, refused, timed out or never sent.
    pub(crate) settled: AtomicU64,
    /// `new_message` events received, all clients.
    pub(crate) delivered: AtomicU64,
}

impl Shared {
    /// Room for `capacity` messages, indexed `0..capacity`.
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            base: Instant::now(),
            sent_at: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            acked: AtomicU64::new(0),
            settled: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
        })
    }

    /// Microseconds since the origin.
    pub(crate) fn now_us(&self) -> u64 {
        self.us_at(Instant::now())
    }

    /// Microseconds from the origin to `t`.
    pub(crate) fn us_at(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.base).as_micros()).unwrap_or(u64::MAX)
    }

    fn mark_sent(&self, index: u32, at_us: u64) {
        if let Some(slot) = self.sent_at.get(index as usize) {
            slot.store(at_us + 1, Ordering::Release);
        }
    }

    fn sent_at(&self, index: u32) -> Option<u64> {
        match self.sent_at.get(index as usize)?.load(Ordering::Acquire) {
            0 => None,
            t => Some(t - 1),
        }
    }
}

/// Microseconds between two instants on the shared clock, as recorded (saturating at u32).
fn elapsed_us(from: u64, to: u64) -> u32 {
    u32::try_from(to.saturating_sub(from)).unwrap_or(u32::MAX)
}

/// How a client paces its sends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pace {
    /// The next message leaves when the previous one is acknowledged (or timed out).
    Closed,
    /// Message `k` of the plan leaves at `start + k * interval`.
    Open {
        /// When message 0 is due.
        start: Instant,
        /// Time between two messages of this client.
        interval: Duration,
    },
}

/// What one client sends in one phase: messages `first .. first + count` of the run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendPlan {
    /// Global index of the first message (also its ack id and, prefixed, its `clientMsgId`).
    pub(crate) first: u32,
    /// How many messages.
    pub(crate) count: u32,
    /// Closed or open loop.
    pub(crate) pace: Pace,
    /// Nothing is sent after this; what is left is counted as unsent.
    pub(crate) deadline: Instant,
}

/// A stored message as an acknowledgement described it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AckRecord {
    /// Global index of the message sent.
    pub(crate) index: u32,
    /// Database id.
    pub(crate) id: i64,
    /// Conversation.
    pub(crate) conversation: i64,
    /// Position in the conversation.
    pub(crate) seq: i64,
}

/// What the clients saw during one phase (merged over clients by [`Fleet::phase`]).
#[derive(Debug, Default)]
pub(crate) struct PhaseLog {
    /// Ack latencies, microseconds.
    pub(crate) ack_us: Vec<u32>,
    /// Send-to-receive latencies of every delivery, microseconds.
    pub(crate) delivery_us: Vec<u32>,
    /// Messages written to the socket.
    pub(crate) sent: u64,
    /// Messages acknowledged with success.
    pub(crate) acked: u64,
    /// Messages acknowledged with an error.
    pub(crate) refused: u64,
    /// Messages whose acknowledgement did not come within the ack timeout.
    pub(crate) timed_out: u64,
    /// Messages planned but never sent (deadline passed, connection lost).
    pub(crate) unsent: u64,
    /// Acknowledgements that came after their timeout.
    pub(crate) late_acks: u64,
    /// `new_message` events received.
    pub(crate) delivered: u64,
    /// Every successful acknowledgement.
    pub(crate) acks: Vec<AckRecord>,
    /// Indexes of refused messages.
    pub(crate) refused_ids: Vec<u32>,
    /// Indexes of timed-out messages.
    pub(crate) timed_out_ids: Vec<u32>,
    /// The first refusal's code and text.
    pub(crate) refusal_example: Option<String>,
    /// When the first message of the phase was scheduled (µs on the shared clock).
    pub(crate) first_send_us: Option<u64>,
    /// When the last acknowledgement arrived.
    pub(crate) last_ack_us: u64,
    /// When the last delivery arrived.
    pub(crate) last_delivery_us: u64,
}

impl PhaseLog {
    /// Adds another log (of another client or phase) to this one.
    pub(crate) fn merge(&mut self, other: Self) {
        self.ack_us.extend_from_slice(&other.ack_us);
        self.delivery_us.extend_from_slice(&other.delivery_us);
        self.sent += other.sent;
        self.acked += other.acked;
        self.refused += other.refused;
        self.timed_out += other.timed_out;
        self.unsent += other.unsent;
        self.late_acks += other.late_acks;
        self.delivered += other.delivered;
        self.acks.extend_from_slice(&other.acks);
        self.refused_ids.extend_from_slice(&other.refused_ids);
        self.timed_out_ids.extend_from_slice(&other.timed_out_ids);
        if self.refusal_example.is_none() {
            self.refusal_example = other.refusal_example;
        }
        self.first_send_us = match (self.first_send_us, other.first_send_us) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_ack_us = self.last_ack_us.max(other.last_ack_us);
        self.last_delivery_us = self.last_delivery_us.max(other.last_delivery_us);
    }
}

/// What a client knows when it ends: every delivery it received, by `seq`.
#[derive(Debug)]
pub(crate) struct ClientFinal {
    /// The conversation it was in, if it joined one.
    pub(crate) conversation: Option<i64>,
    /// `seen[seq]`: how many times `new_message` with that `seq` arrived.
    pub(crate) seen: Vec<u8>,
    /// Deliveries whose `seq` was not the next one after the highest seen so far.
    pub(crate) order_violations: u64,
    /// Deliveries that matched no message of this client's conversation.
    pub(crate) unexpected: u64,
    /// Why the connection ended early, if it did.
    pub(crate) disconnect: Option<String>,
}

enum Command {
    Join(i64, oneshot::Sender<Result<(), String>>),
    Send(SendPlan),
    Collect(oneshot::Sender<PhaseLog>),
}

struct Active {
    plan: SendPlan,
    /// Messages of the plan sent so far.
    next: u32,
}

struct Client {
    shared: Arc<Shared>,
    ws: Ws,
    ack_timeout_us: u64,
    connected: bool,
    disconnect: Option<String>,
    conversation: Option<i64>,
    joins: HashMap<u32, oneshot::Sender<Result<(), String>>>,
    next_join: u32,
    /// Unacknowledged sends: index -> scheduled time (µs).
    pending: HashMap<u32, u64>,
    active: Option<Active>,
    log: PhaseLog,
    seen: Vec<u8>,
    max_seq: i64,
    order_violations: u64,
    unexpected: u64,
}

impl Client {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) -> ClientFinal {
        let mut ticker = tokio::time::interval(Duration::from_millis(200));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let far = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
        loop {
            let due = self.next_due();
            let expiring = !self.pending.is_empty();
            tokio::select! {
                frame = self.ws.next(), if self.connected => self.on_frame(frame).await,
                command = commands.recv() => match command {
                    Some(command) => self.on_command(command).await,
                    None => break,
                },
                () = tokio::time::sleep_until(due.map_or(far, tokio::time::Instant::from_std)),
                    if due.is_some() => self.send_next().await,
                _ = ticker.tick(), if expiring => self.expire().await,
            }
        }
        if self.connected {
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                let _ = self.ws.send(Message::text(proto::DISCONNECT)).await;
                let _ = self.ws.close(None).await;
            })
            .await;
        }
        ClientFinal {
            conversation: self.conversation,
            seen: self.seen,
            order_violations: self.order_violations,
            unexpected: self.unexpected,
            disconnect: self.disconnect,
        }
    }

    /// When the next open-loop message is due.
    fn next_due(&self) -> Option<Instant> {
        let active = self.active.as_ref()?;
        match active.plan.pace {
            Pace::Open { start, interval } if active.next < active.plan.count => {
                Some(start + interval * active.next)
            }
            _ => None,
        }
    }

    async fn on_command(&mut self, command: Command) {
        match command {
            Command::Join(conversation, reply) => {
                self.conversation = Some(conversation);
                let id = proto::JOIN_ACK_BASE + self.next_join;
                self.next_join += 1;
                if !self.connected {
                    let _ = reply.send(Err(self.disconnect_text()));
                    return;
                }
                self.joins.insert(id, reply);
                self.write(proto::join_frame(id, conversation)).await;
            }
            Command::Send(plan) => {
                self.finish_plan();
                self.active = Some(Active { plan, next: 0 });
                if !self.connected {
                    self.finish_plan();
                } else if matches!(plan.pace, Pace::Closed) {
                    self.send_next().await;
                }
            }
            Command::Collect(reply) => {
                self.finish_plan();
                let now = self.shared.now_us();
                self.expire_older_than(now, 0);
                let _ = reply.send(std::mem::take(&mut self.log));
            }
        }
    }

    fn disconnect_text(&self) -> String {
        self.disconnect
            .clone()
            .unwrap_or_else(|| "not connected".to_owned())
    }

    /// Ends the active plan; what it had left to send counts as unsent.
    fn finish_plan(&mut self) {
        if let Some(active) = self.active.take() {
            let left = u64::from(active.plan.count - active.next);
            if left > 0 {
                self.log.unsent += left;
                self.shared.settled.fetch_add(left, Ordering::Relaxed);
            }
        }
    }

    /// Sends the plan's next message, or ends the plan if it is done or past its deadline.
    async fn send_next(&mut self) {
        let Some(active) = self.active.as_mut() else {
            return;
        };
        let now = Instant::now();
        if active.next >= active.plan.count || now > active.plan.deadline || !self.connected {
            self.finish_plan();
            return;
        }
        let index = active.plan.first + active.next;
        let scheduled = match active.plan.pace {
            Pace::Closed => self.shared.us_at(now),
            Pace::Open { start, interval } => self.shared.us_at(start + interval * active.next),
        };
        active.next += 1;
        let done = active.next >= active.plan.count;
        let conversation = self.conversation.unwrap_or_default();
        self.shared.mark_sent(index, scheduled);
        self.pending.insert(index, scheduled);
        self.log.sent += 1;
        self.log.first_send_us = Some(
            self.log
                .first_send_us
                .map_or(scheduled, |t| t.min(scheduled)),
        );
        self.write(proto::send_frame(index, conversation)).await;
        if done {
            self.active = None;
        }
    }

    async fn write(&mut self, frame: String) {
        if !self.connected {
            return;
        }
        if let Err(e) = self.ws.send(Message::text(frame)).await {
            self.lost(format!("write failed: {e}"));
        }
    }

    /// The connection is gone: joins fail, the plan ends; pending acks will time out.
    fn lost(&mut self, reason: String) {
        if !self.connected {
            return;
        }
        self.connected = false;
        self.disconnect = Some(reason);
        for (_, reply) in self.joins.drain() {
            let _ = reply.send(Err(self.disconnect.clone().unwrap_or_default()));
        }
        self.finish_plan();
    }

    async fn expire(&mut self) {
        let now = self.shared.now_us();
        if self.expire_older_than(now, self.ack_timeout_us) {
            self.resume_closed_loop().await;
        }
    }

    /// Gives up on acks older than `age_us`; returns whether any was given up.
    fn expire_older_than(&mut self, now: u64, age_us: u64) -> bool {
        let before = self.pending.len();
        let log = &mut self.log;
        let shared = &self.shared;
        self.pending.retain(|&index, &mut scheduled| {
            if now.saturating_sub(scheduled) >= age_us {
                log.timed_out += 1;
                log.timed_out_ids.push(index);
                shared.settled.fetch_add(1, Ordering::Relaxed);
                false
            } else {
                true
            }
        });
        self.pending.len() < before
    }

    /// In a closed loop, sends the next message once the previous one is resolved.
    async fn resume_closed_loop(&mut self) {
        let closed = self
            .active
            .as_ref()
            .is_some_and(|a| matches!(a.plan.pace, Pace::Closed));
        if closed && self.pending.is_empty() {
            self.send_next().await;
        }
    }

    async fn on_frame(
        &mut self,
        frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) {
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) | None => {
                self.lost("connection closed by the server".to_owned());
                return;
            }
            Some(Ok(_)) => return,
            Some(Err(e)) => {
                self.lost(format!("read failed: {e}"));
                return;
            }
        };
        match proto::classify(text.as_str()) {
            Incoming::Ping => self.write(proto::PONG.to_owned()).await,
            Incoming::NewMessage(body) => self.on_delivery(body),
            Incoming::Ack { id, args } if id >= proto::JOIN_ACK_BASE => {
                if let Some(reply) = self.joins.remove(&id) {
                    let result = match proto::parse_ack::<IgnoredAny>(args) {
                        Ok(ack) if ack.success => Ok(()),
                        Ok(ack) => Err(ack
                            .error
                            .map(|e| format!("{}: {}", e.code, e.message))
                            .unwrap_or_else(|| "refused".to_owned())),
                        Err(e) => Err(format!("bad join ack: {e}")),
                    };
                    let _ = reply.send(result);
                }
            }
            Incoming::Ack { id, args } => {
                self.on_ack(id, args);
                self.resume_closed_loop().await;
            }
            Incoming::Disconnect | Incoming::Close => {
                self.lost("disconnected by the server".to_owned());
            }
            Incoming::ConnectError(body) => self.lost(format!("connect error: {body}")),
            Incoming::Open | Incoming::Connected | Incoming::OtherEvent | Incoming::Other => {}
        }
    }

    fn on_ack(&mut self, index: u32, args: &str) {
        let now = self.shared.now_us();
        let Some(scheduled) = self.pending.remove(&index) else {
            self.log.late_acks += 1;
            return;
        };
        self.shared.settled.fetch_add(1, Ordering::Relaxed);
        match proto::parse_ack::<proto::MessageRef<'_>>(args) {
            Ok(ack) if ack.success && ack.data.is_some() => {
                if let Some(m) = ack.data {
                    self.log.acks.push(AckRecord {
                        index,
                        id: m.id.0,
                        conversation: m.conversation_id.0,
                        seq: m.seq.0,
                    });
                }
                self.log.acked += 1;
                self.log.ack_us.push(elapsed_us(scheduled, now));
                self.log.last_ack_us = self.log.last_ack_us.max(now);
                self.shared.acked.fetch_add(1, Ordering::Relaxed);
            }
            Ok(ack) => {
                let why = ack
                    .error
                    .map(|e| format!("{}: {}", e.code, e.message))
                    .unwrap_or_else(|| "success without data".to_owned());
                self.refuse(index, why);
            }
            Err(e) => self.refuse(index, format!("unreadable ack: {e}")),
        }
    }

    fn refuse(&mut self, index: u32, why: String) {
        self.log.refused += 1;
        self.log.refused_ids.push(index);
        if self.log.refusal_example.is_none() {
            self.log.refusal_example = Some(why);
        }
    }

    fn on_delivery(&mut self, body: &str) {
        let now = self.shared.now_us();
        self.shared.delivered.fetch_add(1, Ordering::Relaxed);
        self.log.delivered += 1;
        self.log.last_delivery_us = self.log.last_delivery_us.max(now);
        let Ok(m) = proto::parse_message(body) else {
            self.unexpected += 1;
            return;
        };
        let sent = m
            .client_msg_id
            .as_deref()
            .and_then(proto::parse_client_msg_id)
            .and_then(|index| self.shared.sent_at(index));
        match sent {
            Some(at) => self.log.delivery_us.push(elapsed_us(at, now)),
            None => self.unexpected += 1,
        }
        let seq = m.seq.0;
        if Some(m.conversation_id.0) != self.conversation || !(1..=MAX_TRACKED_SEQ).contains(&seq) {
            self.unexpected += 1;
            return;
        }
        if seq != self.max_seq + 1 {
            self.order_violations += 1;
        }
        self.max_seq = self.max_seq.max(seq);
        let slot = usize::try_from(seq).unwrap_or_default();
        if self.seen.len() <= slot {
            self.seen.resize((slot + 1).next_power_of_two(), 0);
        }
        self.seen[slot] = self.seen[slot].saturating_add(1);
    }
}

/// Opens a connection and completes the Engine.IO and Socket.IO handshakes as `token`'s user.
async fn open(addr: SocketAddr, token: &str) -> Result<Ws, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("set_nodelay: {e}"))?;
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    // Small buffers: 10,000 idle clients live in this process too.
    let config = WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
        .await
        .map_err(|e| format!("websocket handshake: {e}"))?;
    let mut connect_sent = false;
    while let Some(frame) = ws.next().await {
        let frame = frame.map_err(|e| format!("handshake read: {e}"))?;
        let Message::Text(text) = frame else {
            continue;
        };
        match proto::classify(text.as_str()) {
            Incoming::Open if !connect_sent => {
                ws.send(Message::text(proto::connect_frame(token)))
                    .await
                    .map_err(|e| format!("handshake write: {e}"))?;
                connect_sent = true;
            }
            Incoming::Ping => ws
                .send(Message::text(proto::PONG))
                .await
                .map_err(|e| format!("handshake write: {e}"))?,
            Incoming::Connected if connect_sent => return Ok(ws),
            Incoming::ConnectError(body) => return Err(format!("connection refused: {body}")),
            _ => {}
        }
    }
    Err("connection closed during the handshake".to_owned())
}

/// A signed HS256 token for user `user` (a JSON number), valid for an hour.
pub(crate) fn token(secret: &str, user: u32) -> Result<String, String> {
    let exp = chrono::Utc::now().timestamp() + 3600;
    let claims = serde_json::json!({ "sub": user, "exp": exp });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| format!("signing a token: {e}"))
}

struct Handle {
    commands: mpsc::Sender<Command>,
    task: JoinHandle<ClientFinal>,
}

/// Connected clients, driven together.
#[derive(Debug)]
pub(crate) struct Fleet {
    shared: Arc<Shared>,
    clients: Vec<Handle>,
    /// Why the clients that could not connect did not.
    pub(crate) failures: Vec<String>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handle")
    }
}

/// How a [`Fleet::phase`] ended.
#[derive(Debug)]
pub(crate) struct PhaseOutcome {
    /// Everything the clients saw, merged.
    pub(crate) log: PhaseLog,
    /// Whether every send was resolved and every acked message delivered before the deadline.
    pub(crate) drained: bool,
    /// When the phase's sends were released (µs on the shared clock).
    pub(crate) started_us: u64,
}

impl Fleet {
    /// Connects one client per user in `users`, `concurrency` handshakes at a time, each within
    /// `timeout`. Clients that fail are left out and their errors kept in `failures`.
    pub(crate) async fn connect(
        addr: SocketAddr,
        secret: &str,
        users: &[u32],
        shared: Arc<Shared>,
        concurrency: usize,
        timeout: Duration,
        ack_timeout: Duration,
    ) -> Self {
        let ack_timeout_us = u64::try_from(ack_timeout.as_micros()).unwrap_or(u64::MAX);
        let attempts = futures_util::stream::iter(users.iter().copied().enumerate())
            .map(|(slot, user)| {
                let shared = shared.clone();
                async move {
                    let token = token(secret, user)?;
                    let ws = tokio::time::timeout(timeout, open(addr, &token))
                        .await
                        .map_err(|_| format!("user {user}: handshake timed out"))?
                        .map_err(|e| format!("user {user}: {e}"))?;
                    let (commands, receiver) = mpsc::channel(8);
                    let client = Client {
                        shared,
                        ws,
                        ack_timeout_us,
                        connected: true,
                        disconnect: None,
                        conversation: None,
                        joins: HashMap::new(),
                        next_join: 0,
                        pending: HashMap::new(),
                        active: None,
                        log: PhaseLog::default(),
                        seen: Vec::new(),
                        max_seq: 0,
                        order_violations: 0,
                        unexpected: 0,
                    };
                    let task = tokio::spawn(client.run(receiver));
                    Ok::<_, String>((slot, Handle { commands, task }))
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
        let mut connected: Vec<(usize, Handle)> = Vec::with_capacity(attempts.len());
        let mut failures = Vec::new();
        for attempt in attempts {
            match attempt {
                Ok(handle) => connected.push(handle),
                Err(e) => failures.push(e),
            }
        }
        connected.sort_by_key(|(slot, _)| *slot);
        Self {
            shared,
            clients: connected.into_iter().map(|(_, h)| h).collect(),
            failures,
        }
    }

    /// How many clients are connected (or were, at connect time).
    pub(crate) fn len(&self) -> usize {
        self.clients.len()
    }

    /// Joins client `i` to `conversations[i]`; fails if any join fails or takes over `timeout`.
    pub(crate) async fn join(
        &self,
        conversations: &[i64],
        timeout: Duration,
    ) -> Result<(), String> {
        let mut replies = Vec::with_capacity(conversations.len());
        for (client, &conversation) in self.clients.iter().zip(conversations) {
            let (reply, answer) = oneshot::channel();
            client
                .commands
                .send(Command::Join(conversation, reply))
                .await
                .map_err(|_| "a client task ended".to_owned())?;
            replies.push(answer);
        }
        tokio::time::timeout(timeout, async {
            for answer in replies {
                answer
                    .await
                    .map_err(|_| "a client task ended".to_owned())?
                    .map_err(|e| format!("join_conversation: {e}"))?;
            }
            Ok(())
        })
        .await
        .map_err(|_| format!("joins did not finish within {timeout:?}"))?
    }

    /// Runs one phase: client `i` follows `plans[i]` (if any). Waits until every send is resolved
    /// and every acknowledged message has been delivered `members` times, or until `drain` after
    /// the last plan's deadline, then collects what the clients saw.
    pub(crate) async fn phase(
        &self,
        plans: &[Option<SendPlan>],
        members: u64,
        drain: Duration,
    ) -> Result<PhaseOutcome, String> {
        let acked0 = self.shared.acked.load(Ordering::Relaxed);
        let settled0 = self.shared.settled.load(Ordering::Relaxed);
        let delivered0 = self.shared.delivered.load(Ordering::Relaxed);
        let total: u64 = plans.iter().flatten().map(|p| u64::from(p.count)).sum();
        let last_deadline = plans
            .iter()
            .flatten()
            .map(|p| p.deadline)
            .max()
            .unwrap_or_else(Instant::now);
        let started_us = self.shared.now_us();
        for (client, plan) in self.clients.iter().zip(plans) {
            if let Some(plan) = plan {
                client
                    .commands
                    .send(Command::Send(*plan))
                    .await
                    .map_err(|_| "a client task ended".to_owned())?;
            }
        }
        let hard_stop = last_deadline + drain;
        let drained = loop {
            let settled = self.shared.settled.load(Ordering::Relaxed) - settled0;
            let acked = self.shared.acked.load(Ordering::Relaxed) - acked0;
            let delivered = self.shared.delivered.load(Ordering::Relaxed) - delivered0;
            if settled >= total && delivered >= acked * members {
                break true;
            }
            if Instant::now() >= hard_stop {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let mut log = PhaseLog::default();
        for client in &self.clients {
            let (reply, answer) = oneshot::channel();
            if client.commands.send(Command::Collect(reply)).await.is_ok()
                && let Ok(part) = answer.await
            {
                log.merge(part);
            }
        }
        Ok(PhaseOutcome {
            log,
            drained,
            started_us,
        })
    }

    /// Closes every connection and returns what each client received.
    pub(crate) async fn close(self) -> Vec<ClientFinal> {
        let mut finals = Vec::with_capacity(self.clients.len());
        let tasks: Vec<_> = self
            .clients
            .into_iter()
            .map(|Handle { commands, task }| {
                drop(commands);
                task
            })
            .collect();
        for task in tasks {
            if let Ok(done) = task.await {
                finals.push(done);
            }
        }
        finals
    }
}
