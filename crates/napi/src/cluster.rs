//! The cluster binding: a thin wrapper over `ironwood_net::transport`.
//!
//! One `ClusterNode` per started node. Start and connect run on the shared
//! `transport::runtime()` (started by the first `start`, never before) and
//! settle a promise; transport failures come back as values
//! (`ClusterOutcome.error`), which `ts/cluster.ts` turns into typed errors.
//! Events come back through one ThreadsafeFunction per node, batched: while
//! a JS call is queued, new events join its batch instead of queuing more
//! calls, so a busy JS thread gets one callback carrying everything that
//! accumulated. The batch after `stop()` ends with a `stopped` event, then
//! the ThreadsafeFunction is released so it no longer keeps the process alive.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Once, Weak};
use std::time::Duration;

use ironwood_core::codec::FrameKind;
use ironwood_net::transport::{self, Auth, Event, NetError, Node, NodeConfig, OutFrame};
use napi::bindgen_prelude::{Buffer, Function, Object, Uint8Array};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Error, Result, Status};
use napi_derive::napi;

/// What `start` needs. TypeScript validates and fills the defaults.
#[napi(object)]
pub struct ClusterConfig {
    /// The short name (before `@`).
    pub name: String,
    /// The address to listen on; also the host in the node's name.
    pub host: String,
    /// The UDP port; 0 picks a free one.
    pub port: u32,
    /// The shared cookie, unless `tls` is given.
    pub cookie: Option<String>,
    /// mTLS: this node's certificate chain, PEM.
    pub tls_cert: Option<String>,
    /// mTLS: this node's private key, PEM.
    pub tls_key: Option<String>,
    /// mTLS: the CA peers must chain to, PEM.
    pub tls_ca: Option<String>,
    /// Nodes to connect to once listening.
    pub seeds: Vec<String>,
    /// Milliseconds between heartbeats.
    pub heartbeat_interval_ms: Option<u32>,
    /// Milliseconds of silence before a peer is down.
    pub heartbeat_timeout_ms: Option<u32>,
    /// Milliseconds to keep reconnecting to a lost peer (0 disables).
    pub reconnect_for_ms: Option<u32>,
}

/// The result of `start` or `connect`: `error` is absent on success and
/// `name` is this node's (start) or the peer's (connect) full name.
#[napi(object)]
pub struct ClusterOutcome {
    /// `config`, `tls`, `bind`, `address`, `connect`, `auth`,
    /// `notconnected`, `toolarge`, `stopped`, or `started` (start called twice).
    pub error: Option<String>,
    /// A human-readable description of the error.
    pub message: Option<String>,
    /// The full node name on success.
    pub name: Option<String>,
    /// `start` only: why each seed that could not be connected failed.
    pub seed_errors: Vec<String>,
}

/// One connected peer's transport figures, from `peerStats()`.
#[napi(object)]
pub struct PeerStat {
    /// The peer's full name.
    pub node: String,
    /// QUIC's smoothed round-trip time, in microseconds.
    pub rtt_micros: f64,
    /// UDP bytes sent on the connection.
    pub bytes_sent: f64,
    /// UDP bytes received on the connection.
    pub bytes_received: f64,
    /// Packets QUIC declared lost.
    pub lost_packets: f64,
    /// Application bytes queued and not yet written.
    pub queued_bytes: f64,
    /// Whether this node dialed the connection.
    pub dialer: bool,
}

/// One event of a batch.
#[napi(object)]
pub struct ClusterEvent {
    /// `nodeup`, `nodedown`, `frames`, `log`, or `stopped` (the last event after `stop()`).
    #[napi(js_name = "type")]
    pub kind_name: String,
    /// The peer's full name (empty for `frames` and `stopped`).
    pub node: String,
    /// `nodeup`/`nodedown`: the peer's id, the one `frames` and `sendBatch` use.
    pub id: Option<u32>,
    /// Why a node went down.
    pub reason: Option<String>,
    /// `log`: `warn` or `error`.
    pub level: Option<String>,
    /// `log`: what the transport reported (e.g. why it closed a peer).
    pub message: Option<String>,
    /// `frames`: consecutive frames, each `[peer id: u32 LE][kind: u8][len:
    /// u32 LE][payload]`, in arrival order.
    pub payload: Option<Buffer>,
}

/// An event waiting for the JS thread: a node event, or a run of frames
/// sharing one buffer (see [`ClusterEvent::payload`]).
enum Pending {
    Node(ClusterEvent),
    Frames(Vec<u8>),
}

/// Events waiting for the JS thread, and whether a JS call is queued to
/// take them.
#[derive(Default)]
struct Batch {
    events: Vec<Pending>,
    scheduled: bool,
    closed: bool,
}

type Tsfn = ThreadsafeFunction<(), (), Vec<ClusterEvent>, Status, false>;

/// Resolves a promise with an outcome (one type for every branch).
type Settle = Box<dyn FnOnce(Env) -> Result<ClusterOutcome> + Send>;

fn settle(out: ClusterOutcome) -> Settle {
    Box::new(move |_| Ok(out))
}

struct Running {
    node: Arc<Node>,
    delivery: Arc<Delivery>,
}

/// A node's handle. Create one per `start`.
#[napi]
pub struct ClusterNode {
    running: Arc<Mutex<Option<Running>>>,
    names: Arc<Mutex<Names>>,
    started: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn code(e: &NetError) -> &'static str {
    match e {
        NetError::Config(_) => "config",
        NetError::Tls(_) => "tls",
        NetError::Bind(_) => "bind",
        NetError::InvalidAddress(_) => "address",
        NetError::Connect(_) => "connect",
        NetError::AuthFailed(_) => "auth",
        NetError::NotConnected(_) => "notconnected",
        NetError::FrameTooLarge { .. } => "toolarge",
        NetError::Stopped => "stopped",
        _ => "other",
    }
}

fn outcome(r: std::result::Result<String, NetError>) -> ClusterOutcome {
    match r {
        Ok(name) => ClusterOutcome {
            error: None,
            message: None,
            name: Some(name),
            seed_errors: Vec::new(),
        },
        Err(e) => ClusterOutcome {
            error: Some(code(&e).to_owned()),
            message: Some(e.to_string()),
            name: None,
            seed_errors: Vec::new(),
        },
    }
}

fn node_config(c: ClusterConfig) -> Result<(NodeConfig, Vec<String>)> {
    let seeds = c.seeds.clone();
    let auth = match (c.tls_cert, c.tls_key, c.tls_ca) {
        (Some(cert), Some(key), Some(ca)) => Auth::Tls { cert, key, ca },
        (None, None, None) => Auth::Cookie(c.cookie.unwrap_or_default()),
        _ => {
            return Err(Error::new(
                Status::InvalidArg,
                "ironwood: tls needs cert, key and ca",
            ));
        }
    };
    let port = u16::try_from(c.port)
        .map_err(|_| Error::new(Status::InvalidArg, "ironwood: port out of range"))?;
    let mut cfg = NodeConfig::new(c.name, c.host, port, auth);
    // Seeds are dialed by `start` itself (not in the background) so that
    // its promise settles once they have been attempted.
    cfg.seeds = Vec::new();
    if let Some(ms) = c.heartbeat_interval_ms {
        cfg.heartbeat_interval = Duration::from_millis(ms.into());
    }
    if let Some(ms) = c.heartbeat_timeout_ms {
        cfg.heartbeat_timeout = Duration::from_millis(ms.into());
    }
    if let Some(ms) = c.reconnect_for_ms {
        cfg.reconnect_for = Duration::from_millis(ms.into());
    }
    Ok((cfg, seeds))
}

/// Dials every seed at once; the failures, as text.
async fn dial_seeds(node: &Arc<Node>, seeds: Vec<String>) -> Vec<String> {
    let mut set = tokio::task::JoinSet::new();
    for seed in seeds {
        let node = Arc::clone(node);
        set.spawn(async move {
            node.connect(&seed)
                .await
                .err()
                .map(|e| format!("{seed}: {e}"))
        });
    }
    let mut errors = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok(Some(e)) = r {
            errors.push(e);
        }
    }
    errors
}

/// Node names and their ids, shared by the event sink and `sendBatch`:
/// frames cross the boundary tagged with a 4-byte id instead of a string.
/// Ids are never reused, and a node that comes back under the same name
/// keeps its id.
#[derive(Default)]
struct Names {
    ids: HashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
}

impl Names {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        let name: Arc<str> = name.into();
        self.names.push(Arc::clone(&name));
        self.ids.insert(name, id);
        id
    }

    fn name(&self, id: u32) -> Option<&Arc<str>> {
        self.names.get(id as usize)
    }
}

fn event(kind: &str, node: String, id: Option<u32>) -> ClusterEvent {
    ClusterEvent {
        kind_name: kind.into(),
        node,
        id,
        reason: None,
        level: None,
        message: None,
        payload: None,
    }
}

/// Takes the transport's events (as its event sink, on its threads) and
/// hands them to JS in batches: while a JS call is queued, new events join
/// its batch instead of queuing more calls, and consecutive frames are
/// appended to one buffer, so a burst costs the JS thread one callback,
/// one object and one buffer.
struct Delivery {
    batch: Arc<Mutex<Batch>>,
    tsfn: Mutex<Option<Tsfn>>,
    names: Arc<Mutex<Names>>,
}

impl Delivery {
    fn push(&self, e: Event) {
        let call = {
            let pending = match e {
                Event::Frame {
                    from,
                    kind,
                    payload,
                } => {
                    let id = lock(&self.names).id(&from);
                    let mut b = lock(&self.batch);
                    if b.closed {
                        return;
                    }
                    if !matches!(b.events.last(), Some(Pending::Frames(_))) {
                        b.events.push(Pending::Frames(Vec::new()));
                    }
                    if let Some(Pending::Frames(buf)) = b.events.last_mut() {
                        // Frames are at most 8 MiB, so the length fits a u32.
                        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
                        buf.extend_from_slice(&id.to_le_bytes());
                        buf.push(kind.as_u8());
                        buf.extend_from_slice(&len.to_le_bytes());
                        buf.extend_from_slice(&payload);
                    }
                    return self.schedule(b);
                }
                Event::NodeUp { node } => {
                    let id = lock(&self.names).id(&node);
                    event("nodeup", node, Some(id))
                }
                Event::NodeDown { node, reason } => {
                    let id = lock(&self.names).id(&node);
                    let mut e = event("nodedown", node, Some(id));
                    e.reason = Some(reason);
                    e
                }
            };
            let mut b = lock(&self.batch);
            if b.closed {
                return;
            }
            b.events.push(Pending::Node(pending));
            b
        };
        self.schedule(call);
    }

    /// Queues a JS call unless one is queued; takes the batch's lock guard
    /// so the check and the events it covers are one step.
    fn schedule(&self, mut b: MutexGuard<'_, Batch>) {
        let call = !std::mem::replace(&mut b.scheduled, true);
        drop(b);
        if call && let Some(tsfn) = lock(&self.tsfn).as_ref() {
            tsfn.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }

    /// A warning or error the transport logged, for the JS logger.
    fn push_log(&self, level: &str, message: String) {
        let mut e = event("log", String::new(), None);
        e.level = Some(level.into());
        e.message = Some(message);
        let mut b = lock(&self.batch);
        if b.closed {
            return;
        }
        b.events.push(Pending::Node(e));
        self.schedule(b);
    }

    /// Ends delivery after `stop`: the events still waiting, then `stopped`;
    /// then releases the ThreadsafeFunction (the queued call still runs) so
    /// it no longer keeps the process alive.
    fn finish(&self) {
        let mut b = lock(&self.batch);
        if b.closed {
            return;
        }
        b.events
            .push(Pending::Node(event("stopped", String::new(), None)));
        b.closed = true;
        self.schedule(b);
        lock(&self.tsfn).take();
    }
}

/// On the JS thread: the waiting events, as objects.
fn take_batch(batch: &Mutex<Batch>) -> Vec<ClusterEvent> {
    {
        let events = {
            let mut b = lock(batch);
            b.scheduled = false;
            std::mem::take(&mut b.events)
        };
        events
            .into_iter()
            .map(|p| match p {
                Pending::Node(e) => e,
                Pending::Frames(buf) => {
                    let mut e = event("frames", String::new(), None);
                    e.payload = Some(buf.into());
                    e
                }
            })
            .collect()
    }
}

/// The running nodes' deliveries, which receive the transport's log
/// records (the `log` facade has one logger per process).
static LOG_SINKS: Mutex<Vec<Weak<Delivery>>> = Mutex::new(Vec::new());

/// Forwards the transport's warnings and errors (`log` records of the
/// `ironwood*` crates; quinn's own are left out) to every running node's
/// event stream, where `ts/cluster.ts` hands them to the JS logger: a peer
/// closed for a malformed or stalled frame is explained, not silent.
struct LogBridge;

impl log::Log for LogBridge {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Warn && m.target().starts_with("ironwood")
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = if record.level() == log::Level::Error {
            "error"
        } else {
            "warn"
        };
        let message = record.args().to_string();
        let sinks: Vec<Arc<Delivery>> = lock(&LOG_SINKS).iter().filter_map(Weak::upgrade).collect();
        for d in sinks {
            d.push_log(level, message.clone());
        }
    }

    fn flush(&self) {}
}

fn install_log_bridge(delivery: &Arc<Delivery>) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only if the host installed a logger first; then it keeps its own.
        static BRIDGE: LogBridge = LogBridge;
        if log::set_logger(&BRIDGE).is_ok() {
            log::set_max_level(log::LevelFilter::Warn);
        }
    });
    let mut sinks = lock(&LOG_SINKS);
    sinks.retain(|w| w.strong_count() > 0);
    sinks.push(Arc::downgrade(delivery));
}

#[napi]
impl ClusterNode {
    /// An idle handle; call `start` once.
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        ClusterNode {
            running: Arc::new(Mutex::new(None)),
            names: Arc::new(Mutex::new(Names::default())),
            started: false,
        }
    }

    /// Starts the node: binds, then dials every seed at once and settles
    /// when all have connected or failed (failures in `seedErrors`). `onEvents` receives batches of events for as long as
    /// the node runs. Resolves with this node's full name or an error code.
    #[napi(ts_return_type = "Promise<ClusterOutcome>")]
    pub fn start<'e>(
        &mut self,
        env: &'e Env,
        config: ClusterConfig,
        on_events: Function<'e, Vec<ClusterEvent>, ()>,
    ) -> Result<Object<'e>> {
        if self.started {
            return Err(Error::new(
                Status::GenericFailure,
                "ironwood: this handle was already started",
            ));
        }
        let (cfg, seeds) = node_config(config)?;
        self.started = true;
        let batch = Arc::new(Mutex::new(Batch::default()));
        let js_batch = Arc::clone(&batch);
        let tsfn: Tsfn = on_events
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .build_callback(move |_ctx| Ok(take_batch(&js_batch)))?;
        let delivery = Arc::new(Delivery {
            batch,
            tsfn: Mutex::new(Some(tsfn)),
            names: Arc::clone(&self.names),
        });
        install_log_bridge(&delivery);
        let (deferred, promise) = env.create_deferred()?;
        let slot = Arc::clone(&self.running);
        transport::runtime().spawn(async move {
            let mut seed_errors = Vec::new();
            let sink = Arc::clone(&delivery);
            let started = Node::start_with_sink(cfg, Arc::new(move |e| sink.push(e))).await;
            let result = match started {
                Ok(node) => {
                    let name = node.name().to_owned();
                    let node = Arc::new(node);
                    *lock(&slot) = Some(Running {
                        node: Arc::clone(&node),
                        delivery,
                    });
                    seed_errors = dial_seeds(&node, seeds).await;
                    Ok(name)
                }
                Err(e) => {
                    // Nothing will be delivered: release the JS callback.
                    lock(&delivery.tsfn).take();
                    Err(e)
                }
            };
            let mut out = outcome(result);
            out.seed_errors = seed_errors;
            deferred.resolve(move |_| Ok(out));
        });
        Ok(promise)
    }

    /// Connects to `target` (`name@host:port`) and authenticates it.
    /// Resolves with the peer's full name or an error code.
    #[napi(ts_return_type = "Promise<ClusterOutcome>")]
    pub fn connect<'e>(&self, env: &'e Env, target: String) -> Result<Object<'e>> {
        let node = lock(&self.running).as_ref().map(|r| Arc::clone(&r.node));
        let (deferred, promise) = env.create_deferred::<ClusterOutcome, Settle>()?;
        match node {
            Some(node) => {
                transport::runtime().spawn(async move {
                    let out = outcome(node.connect(&target).await);
                    deferred.resolve(settle(out));
                });
            }
            None => deferred.resolve(settle(outcome(Err(NetError::Stopped)))),
        }
        Ok(promise)
    }

    /// Closes the connection to `node`; whether it was connected.
    #[napi]
    pub fn disconnect(&self, node: String) -> bool {
        let running = lock(&self.running).as_ref().map(|r| Arc::clone(&r.node));
        running.is_some_and(|n| {
            let _rt = transport::runtime().enter();
            n.disconnect(&node)
        })
    }

    /// The id `sendBatch` and `frames` events use for `node`, or -1 if it
    /// is not connected (or this node is not running).
    #[napi]
    pub fn node_id(&self, node: String) -> i64 {
        let connected = lock(&self.running)
            .as_ref()
            .is_some_and(|r| r.node.nodes().binary_search(&node).is_ok());
        if connected {
            i64::from(lock(&self.names).id(&node))
        } else {
            -1
        }
    }

    /// The name of node `id` (ids come with `nodeup` and tag `frames`).
    #[napi]
    pub fn node_name(&self, id: u32) -> Option<String> {
        lock(&self.names).name(id).map(|n| n.to_string())
    }

    /// Bytes queued for node `id` and not yet written (0 if unknown or not
    /// connected).
    #[napi]
    pub fn queued_bytes(&self, id: u32) -> u32 {
        let Some(node) = lock(&self.running).as_ref().map(|r| Arc::clone(&r.node)) else {
            return 0;
        };
        let name = lock(&self.names).name(id).cloned();
        name.map_or(0, |n| {
            u32::try_from(node.queued_bytes(&n)).unwrap_or(u32::MAX)
        })
    }

    /// The largest payload a frame may carry, and the per-peer queue limit
    /// (bytes) above which senders should report backpressure.
    #[napi]
    pub fn limits(&self) -> Vec<u32> {
        let cfg = NodeConfig::new(String::new(), String::new(), 0, Auth::Cookie(String::new()));
        vec![
            cfg.max_frame_size,
            u32::try_from(cfg.max_queued_bytes).unwrap_or(u32::MAX),
        ]
    }

    /// Queues a batch of frames, each `[node id: u32 LE][lane: u32 LE][kind:
    /// u8][len: u32 LE][payload]`, in one call (see `Node::send_batch`: one
    /// queue entry per node and lane; frames to a node that went down are
    /// dropped; no backpressure check, the caller does it with
    /// `queuedBytes`). Returns `[id, queued bytes]` pairs for every node the
    /// batch touched, so the caller's view of each queue stays current.
    /// Throws for a malformed batch, an unknown or transport kind, or an
    /// oversized frame, queuing nothing.
    #[napi]
    pub fn send_batch(&self, batch: Uint8Array) -> Result<Vec<u32>> {
        let Some(node) = lock(&self.running).as_ref().map(|r| Arc::clone(&r.node)) else {
            return Ok(Vec::new());
        };
        let bad =
            |what: &str| Error::new(Status::InvalidArg, format!("ironwood: sendBatch: {what}"));
        let u32_at = |b: &[u8], at: usize| -> Option<u32> {
            b.get(at..at + 4)
                .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        };
        // The ids' names, resolved under the lock and used after it: the
        // transport emits events (which take the lock) while it holds its
        // peer table, which `send_batch` takes too.
        let mut touched: Vec<(u32, Arc<str>)> = Vec::new();
        let bytes: &[u8] = &batch;
        let mut parsed = Vec::new();
        {
            let names = lock(&self.names);
            let mut at = 0;
            while at < bytes.len() {
                let (Some(id), Some(lane), Some(&kind), Some(len)) = (
                    u32_at(bytes, at),
                    u32_at(bytes, at + 4),
                    bytes.get(at + 8),
                    u32_at(bytes, at + 9),
                ) else {
                    return Err(bad("truncated frame header"));
                };
                let start = at + 13;
                let end = start + len as usize;
                let payload = bytes
                    .get(start..end)
                    .ok_or_else(|| bad("truncated payload"))?;
                let kind = FrameKind::from_u8(kind).ok_or_else(|| bad("unknown frame kind"))?;
                let slot = match touched.iter().position(|(i, _)| *i == id) {
                    Some(slot) => slot,
                    None => {
                        let name = names.name(id).ok_or_else(|| bad("unknown node id"))?;
                        touched.push((id, Arc::clone(name)));
                        touched.len() - 1
                    }
                };
                parsed.push((slot, lane, kind, payload));
                at = end;
            }
        }
        let frames: Vec<OutFrame<'_>> = parsed
            .into_iter()
            .map(|(slot, lane, kind, payload)| OutFrame {
                node: &touched[slot].1,
                lane,
                kind,
                payload,
            })
            .collect();
        let mut queued = Vec::new();
        let r = node.send_batch(&frames, |name, bytes| {
            if let Some((id, _)) = touched.iter().find(|(_, n)| &**n == name) {
                queued.push(*id);
                queued.push(u32::try_from(bytes).unwrap_or(u32::MAX));
            }
        });
        match r {
            Ok(_) | Err(NetError::Stopped) => Ok(queued),
            Err(e) => Err(bad(&e.to_string())),
        }
    }

    /// Transport figures of every connected peer, sorted by name (empty
    /// when not running); for `metrics.snapshot()`.
    #[napi]
    pub fn peer_stats(&self) -> Vec<PeerStat> {
        let Some(node) = lock(&self.running).as_ref().map(|r| Arc::clone(&r.node)) else {
            return Vec::new();
        };
        node.peer_stats()
            .into_iter()
            .map(|p| PeerStat {
                node: p.node,
                rtt_micros: p.rtt_micros as f64,
                bytes_sent: p.bytes_sent as f64,
                bytes_received: p.bytes_received as f64,
                lost_packets: p.lost_packets as f64,
                queued_bytes: p.queued_bytes as f64,
                dialer: p.dialer,
            })
            .collect()
    }

    /// Fault injection for partition tests: drops every datagram to and
    /// from `node` below QUIC until `unblock`. Returns `null`, or why it
    /// could not (not running, or a name whose host is not an IP address).
    #[napi]
    pub fn block(&self, node: String) -> Option<String> {
        let Some(running) = lock(&self.running).as_ref().map(|r| Arc::clone(&r.node)) else {
            return Some("the cluster is not started".into());
        };
        running.block(&node).err().map(|e| e.to_string())
    }

    /// Restores traffic with `node` (and, unless `redial` is false, dials
    /// it if not connected); whether it was blocked.
    #[napi]
    pub fn unblock(&self, node: String, redial: Option<bool>) -> bool {
        let running = lock(&self.running).as_ref().map(|r| Arc::clone(&r.node));
        running.is_some_and(|n| {
            let _rt = transport::runtime().enter();
            n.unblock(&node, redial.unwrap_or(true))
        })
    }

    /// The nodes currently blocked, sorted.
    #[napi]
    pub fn blocked(&self) -> Vec<String> {
        lock(&self.running)
            .as_ref()
            .map(|r| r.node.blocked())
            .unwrap_or_default()
    }

    /// The connected nodes, self excluded, sorted.
    #[napi]
    pub fn nodes(&self) -> Vec<String> {
        lock(&self.running)
            .as_ref()
            .map(|r| r.node.nodes())
            .unwrap_or_default()
    }

    /// Stops the node. Never blocks: the last event batch (nodedown
    /// `stopped` for each peer) ends with a `stopped` event, after which no
    /// more events come. Returns false if it was not running.
    #[napi]
    pub fn stop(&self) -> bool {
        let Some(running) = lock(&self.running).take() else {
            return false;
        };
        transport::runtime().spawn(async move {
            running.node.stop().await;
            running.delivery.finish();
        });
        true
    }
}
