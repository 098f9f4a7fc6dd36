//! A cluster node: the QUIC endpoint, the table of connected peers, and the
//! public calls the binding wraps.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ironwood_core::codec::{CloseCode, FrameEncoder, FrameKind};
use ironwood_core::handshake::Role;
use quinn::{Connection, Endpoint, TransportConfig, VarInt};
use tokio::sync::mpsc;

use super::config::{Auth, NodeConfig};
use super::error::NetError;
use super::faults::{FaultFilter, FaultSocket};
use super::mesh;
use super::peer;
use super::tls;

/// What a node reports, in order, on its events channel
/// ([`Node::take_events`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A peer finished the handshake and is now in [`Node::nodes`]. Fires
    /// once per connection, never for a peer that failed authentication.
    NodeUp {
        /// The peer's full name, `name@host:port`.
        node: String,
    },
    /// A connected peer was lost. Fires exactly once per [`Event::NodeUp`].
    /// `reason` is one of `closed` (the peer stopped or disconnected),
    /// `disconnect` (this node called [`Node::disconnect`]), `stopped`
    /// (this node stopped), `heartbeat_timeout`, `connection_timeout`,
    /// `connection_lost`, `frame_too_large`, `frame_timeout`, `protocol_error`,
    /// `unsupported_version`, `unknown_kind`, `auth_failed`.
    NodeDown {
        /// The peer's full name.
        node: String,
        /// Why, as listed above.
        reason: String,
    },
    /// A frame from a connected peer (never a transport kind: those are
    /// handled here).
    Frame {
        /// The sender's full name.
        from: String,
        /// The frame's kind.
        kind: FrameKind,
        /// Its payload, untouched.
        payload: Vec<u8>,
    },
}

/// One frame for [`Node::send_batch`].
#[derive(Debug, Clone, Copy)]
pub struct OutFrame<'a> {
    /// The peer's full name.
    pub node: &'a str,
    /// The lane (order is kept per lane; see [`Node::send_on`]).
    pub lane: u32,
    /// An application kind (`Send` and up).
    pub kind: FrameKind,
    /// The payload.
    pub payload: &'a [u8],
}

/// What [`Node::send_batch`] did with a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Frames queued.
    pub queued: usize,
    /// Frames dropped because their node is not connected.
    pub not_connected: usize,
}

/// The receiving end of a node's events.
pub type Events = mpsc::UnboundedReceiver<Event>;

/// A callback that receives a node's events instead of the channel (see
/// [`Node::start_with_sink`]). It is called on the transport's threads, in
/// event order, and must not block.
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

/// One connected peer's transport figures ([`Node::peer_stats`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStats {
    /// The peer's full name, `name@host:port`.
    pub node: String,
    /// QUIC's smoothed round-trip time to the peer, in microseconds.
    pub rtt_micros: u64,
    /// UDP payload bytes sent on this connection (all streams, acks and
    /// retransmissions included).
    pub bytes_sent: u64,
    /// UDP payload bytes received on this connection.
    pub bytes_received: u64,
    /// Packets QUIC declared lost on this connection.
    pub lost_packets: u64,
    /// Application bytes queued for the peer and not yet written.
    pub queued_bytes: usize,
    /// Whether this node dialed the connection (else the peer did).
    pub dialer: bool,
}

/// Where a node's events go.
enum EventOut {
    Channel(mpsc::UnboundedSender<Event>),
    Sink(EventSink),
}

/// One registered connection to a peer.
pub(crate) struct PeerHandle {
    /// Distinguishes this connection from an earlier or later one to the
    /// same peer, so a superseded connection's end reports nothing.
    pub(crate) id: u64,
    pub(crate) conn: Connection,
    /// Encoded frames for the writers.
    pub(crate) queues: PeerQueues,
    /// The full name of the node that dialed this connection.
    pub(crate) dialer: String,
}

/// The number of lane streams per connection: `send_on`'s lane `l` goes
/// out on stream `l % LANES`.
pub const LANES: usize = 4;

/// Where frames to one peer are queued.
pub(crate) struct PeerQueues {
    /// Transport frames (heartbeats, Nodes) on the handshake stream.
    pub(crate) control: mpsc::UnboundedSender<Vec<u8>>,
    /// Application frames, one queue and one unidirectional stream per lane.
    pub(crate) lanes: Vec<mpsc::UnboundedSender<Vec<u8>>>,
    /// Bytes queued on the lanes and not yet written.
    pub(crate) queued: Arc<AtomicUsize>,
}

/// State shared by the node handle and its tasks.
pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) config: NodeConfig,
    /// The cookie's bytes; empty in mTLS mode, where certificates
    /// authenticate and the handshake only exchanges names.
    pub(crate) cookie: Vec<u8>,
    pub(crate) verify_names: bool,
    pub(crate) endpoint: Endpoint,
    pub(crate) encoder: FrameEncoder,
    peers: Mutex<HashMap<String, PeerHandle>>,
    /// Addresses being dialed by the mesh, so gossip does not dial twice.
    dialing: Mutex<HashSet<String>>,
    /// Peers being reconnected after a loss; `disconnect` cancels.
    reconnecting: Mutex<HashSet<String>>,
    events: EventOut,
    /// Fault injection: stop sending and answering heartbeats.
    pub(crate) heartbeats_frozen: AtomicBool,
    /// Fault injection: the addresses whose datagrams the socket drops.
    faults: Arc<FaultFilter>,
    /// The blocked peers by name, with the addresses blocked for each.
    blocked: Mutex<HashMap<String, Vec<SocketAddr>>>,
    next_id: AtomicU64,
    stopped: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave these maps inconsistent
    // (every critical section is a single insert/remove), so recover.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    pub(crate) fn emit(&self, event: Event) {
        // A delivered frame is likely answered soon: stay awake for it.
        super::busy_wait::touch();
        match &self.events {
            // A dropped receiver means nobody listens; not an error.
            EventOut::Channel(tx) => {
                let _ = tx.send(event);
            }
            EventOut::Sink(sink) => sink(event),
        }
    }

    pub(crate) fn frame_bytes(&self, kind: FrameKind, payload: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.encoder.encode(kind, payload, &mut out).ok()?;
        Some(out)
    }

    pub(crate) fn is_connected(&self, name: &str) -> bool {
        lock(&self.peers).contains_key(name)
    }

    /// Registers an authenticated connection. Returns its id, or `None` if
    /// it lost to another connection to the same peer and was closed.
    /// Two connections to one peer (both nodes dialed at once) are resolved
    /// the same way on both sides: the one dialed by the smaller name wins,
    /// silently (no NodeDown/NodeUp for the swap).
    pub(crate) fn register(
        self: &Arc<Self>,
        peer: &str,
        conn: Connection,
        queues: PeerQueues,
        dialer: String,
    ) -> Option<u64> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut peers = lock(&self.peers);
        if self.is_stopped() {
            conn.close(close_code(CloseCode::NORMAL), b"stopping");
            return None;
        }
        let handle = PeerHandle {
            id,
            conn,
            queues,
            dialer,
        };
        if let Some(old) = peers.get(peer) {
            if old.dialer <= handle.dialer {
                handle
                    .conn
                    .close(close_code(DUPLICATE), b"duplicate connection");
                return None;
            }
            log::debug!("{}: replacing a duplicate connection to {peer}", self.name);
            old.conn
                .close(close_code(DUPLICATE), b"duplicate connection");
            peers.insert(peer.to_owned(), handle);
            return Some(id);
        }
        // Mesh gossip: tell the newcomer whom we know, and everyone else
        // about the newcomer. Sent under the lock so it precedes any frame
        // the caller sends after NodeUp.
        let others: Vec<&str> = peers.keys().map(String::as_str).collect();
        if let Some(bytes) = self.frame_bytes(FrameKind::Nodes, &mesh::encode_nodes(others)) {
            let _ = handle.queues.control.send(bytes);
        }
        if let Some(bytes) = self.frame_bytes(FrameKind::Nodes, &mesh::encode_nodes([peer])) {
            for p in peers.values() {
                let _ = p.queues.control.send(bytes.clone());
            }
        }
        peers.insert(peer.to_owned(), handle);
        self.emit(Event::NodeUp {
            node: peer.to_owned(),
        });
        Some(id)
    }

    /// Reports connection `id` to `peer` lost, once: the first caller
    /// removes it and emits NodeDown; later calls (or calls for a
    /// superseded connection) do nothing. Closes the connection with
    /// `code`.
    /// Then, for a loss that may be transient (see [`retries`]), starts
    /// reconnecting to it.
    pub(crate) fn peer_lost(self: &Arc<Self>, peer: &str, id: u64, reason: &str, code: CloseCode) {
        if self.remove_peer(peer, id, reason, code) && retries(reason) {
            self.reconnect(peer.to_owned());
        }
    }

    /// [`Shared::peer_lost`] without reconnecting (the peer disconnected us
    /// on purpose).
    pub(crate) fn peer_lost_no_retry(&self, peer: &str, id: u64, reason: &str, code: CloseCode) {
        self.remove_peer(peer, id, reason, code);
    }

    fn remove_peer(&self, peer: &str, id: u64, reason: &str, code: CloseCode) -> bool {
        let mut peers = lock(&self.peers);
        if peers.get(peer).is_some_and(|p| p.id == id) {
            if let Some(p) = peers.remove(peer) {
                p.conn.close(close_code(code), reason.as_bytes());
            }
            log::info!("{}: node {peer} down: {reason}", self.name);
            self.emit(Event::NodeDown {
                node: peer.to_owned(),
                reason: reason.to_owned(),
            });
            return true;
        }
        false
    }

    /// Tries to connect to `peer` again, with a backoff from
    /// `heartbeat_interval` doubling up to [`RECONNECT_MAX_BACKOFF`], until
    /// it is connected (by either side), `reconnect_for` has passed, the
    /// node stops, or [`Node::disconnect`] names it.
    fn reconnect(self: &Arc<Self>, peer: String) {
        let window = self.config.reconnect_for;
        if window.is_zero() || self.is_stopped() || !lock(&self.reconnecting).insert(peer.clone()) {
            return;
        }
        let shared = self.clone();
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + window;
            let mut backoff = shared.config.heartbeat_interval;
            loop {
                tokio::time::sleep(backoff).await;
                if shared.is_stopped()
                    || shared.is_connected(&peer)
                    || !lock(&shared.reconnecting).contains(&peer)
                {
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    log::info!("{}: gave up reconnecting to {peer}", shared.name);
                    break;
                }
                match shared.dial_expecting(&peer, Some(&peer)).await {
                    Ok(_) => break,
                    Err(e) => log::debug!("{}: reconnecting to {peer}: {e}", shared.name),
                }
                backoff = (backoff * 2).min(RECONNECT_MAX_BACKOFF);
            }
            lock(&shared.reconnecting).remove(&peer);
        });
    }

    /// Connects to the node at `target` (`name@host:port` or `host:port`)
    /// and authenticates it; returns its full name.
    pub(crate) async fn dial(self: &Arc<Self>, target: &str) -> Result<String, NetError> {
        self.dial_expecting(target, None).await
    }

    /// [`Shared::dial`], refusing (closing, registering nothing) a node
    /// whose name is not `expect`: a reconnection must not pick up another
    /// node that has since taken the address.
    pub(crate) async fn dial_expecting(
        self: &Arc<Self>,
        target: &str,
        expect: Option<&str>,
    ) -> Result<String, NetError> {
        if self.is_stopped() {
            return Err(NetError::Stopped);
        }
        let (host, port) = mesh::dial_address(target)
            .ok_or_else(|| NetError::InvalidAddress(target.to_owned()))?;
        if let Some(name) = lock(&self.peers)
            .keys()
            .find(|n| mesh::dial_address(n) == Some((host, port)))
        {
            return Ok(name.clone());
        }
        let addr: SocketAddr = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| NetError::InvalidAddress(format!("{target}: {e}")))?
            .next()
            .ok_or_else(|| NetError::InvalidAddress(target.to_owned()))?;
        let server_name = if self.verify_names {
            host
        } else {
            tls::COOKIE_SERVER_NAME
        };
        let connecting = self
            .endpoint
            .connect(addr, server_name)
            .map_err(|e| NetError::Connect(format!("{target}: {e}")))?;
        let shared = self.clone();
        let expect = expect.map(str::to_owned);
        let fut = async move {
            let conn = connecting
                .await
                .map_err(|e| NetError::Connect(format!("{addr}: {e}")))?;
            peer::establish(shared, conn, Role::Initiator, expect.as_deref()).await
        };
        tokio::time::timeout(self.config.handshake_timeout, fut)
            .await
            .map_err(|_| NetError::Connect(format!("{target}: handshake timed out")))?
    }

    /// Dials a seed, retrying an unreachable one with the reconnection
    /// backoff for up to `reconnect_for` (not after a refusal such as a
    /// wrong cookie, which would only repeat).
    async fn dial_seed(self: Arc<Self>, seed: String) {
        let deadline = tokio::time::Instant::now() + self.config.reconnect_for;
        let mut backoff = self.config.heartbeat_interval;
        loop {
            match self.dial(&seed).await {
                Ok(_) | Err(NetError::Stopped) => return,
                Err(e @ (NetError::AuthFailed(_) | NetError::InvalidAddress(_))) => {
                    log::warn!("{}: seed {seed}: {e}", self.name);
                    return;
                }
                Err(e) => {
                    if tokio::time::Instant::now() + backoff >= deadline {
                        log::warn!("{}: seed {seed}: {e}; giving up", self.name);
                        return;
                    }
                    log::debug!("{}: seed {seed}: {e}; retrying", self.name);
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(RECONNECT_MAX_BACKOFF);
        }
    }

    /// Dials a node learnt from gossip, unless known, being dialed, or
    /// ours to wait for (the node with the smaller name dials, so two nodes
    /// learning of each other at once do not both connect).
    pub(crate) fn dial_learnt(self: &Arc<Self>, name: String) {
        if name == self.name || self.name > name || self.is_connected(&name) || self.is_stopped() {
            return;
        }
        if !lock(&self.dialing).insert(name.clone()) {
            return;
        }
        let shared = self.clone();
        tokio::spawn(async move {
            if let Err(e) = shared.dial(&name).await {
                log::warn!("{}: mesh connect to {name} failed: {e}", shared.name);
            }
            lock(&shared.dialing).remove(&name);
        });
    }
}

/// A transport-level close code (not a codec one): this connection lost to
/// another between the same two nodes. The side that receives it does not
/// report the peer down at once: the winning connection is about to
/// register (see `peer::reader`).
pub(crate) const DUPLICATE: CloseCode = CloseCode(0x100);

/// A transport-level close code: a frame stayed incomplete for longer than
/// `frame_timeout` (reason `frame_timeout`).
pub(crate) const STALLED: CloseCode = CloseCode(0x101);

/// The longest wait between two reconnection attempts.
const RECONNECT_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Whether a NodeDown reason is worth reconnecting after: the peer went
/// away (stopped, crashed, restarted, unreachable), not a refusal or a
/// protocol fault that would repeat, nor a local decision.
fn retries(reason: &str) -> bool {
    matches!(
        reason,
        "closed" | "heartbeat_timeout" | "connection_timeout" | "connection_lost"
    )
}

/// The QUIC application error code carrying a [`CloseCode`].
pub(crate) fn close_code(code: CloseCode) -> VarInt {
    VarInt::from_u32(u32::from(code.0))
}

/// A running cluster node. Dropping it closes every connection at once
/// (peers see `closed`); [`Node::stop`] does the same and waits for the
/// close to be sent.
pub struct Node {
    shared: Arc<Shared>,
    events: Mutex<Option<Events>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.shared.name)
            .finish()
    }
}

impl Node {
    /// Binds the UDP socket, starts accepting peers and connects to the
    /// seeds in the background. Must be called inside a tokio runtime (see
    /// [`crate::transport::runtime`]). Fails on an invalid configuration —
    /// an empty cookie included: there is no unauthenticated mode.
    pub async fn start(config: NodeConfig) -> Result<Node, NetError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut node = Node::start_inner(config, EventOut::Channel(tx)).await?;
        node.events = Mutex::new(Some(rx));
        Ok(node)
    }

    /// Like [`Node::start`], but events are handed to `sink` as they happen
    /// (on the transport's threads, in order) rather than queued on a
    /// channel: one task hop less per event for a binding that forwards
    /// them elsewhere anyway. [`Node::take_events`] returns `None`.
    pub async fn start_with_sink(config: NodeConfig, sink: EventSink) -> Result<Node, NetError> {
        Node::start_inner(config, EventOut::Sink(sink)).await
    }

    async fn start_inner(config: NodeConfig, events: EventOut) -> Result<Node, NetError> {
        if !mesh::valid_short_name(&config.name) {
            return Err(NetError::Config(format!(
                "name {:?} must be 1-64 letters, digits, '_', '-' or '.'",
                config.name
            )));
        }
        let cookie = match &config.auth {
            Auth::Cookie(c) if c.is_empty() => {
                return Err(NetError::Config(
                    "a cookie or TLS material is required: refusing to start an unauthenticated node"
                        .into(),
                ));
            }
            Auth::Cookie(c) => c.as_bytes().to_vec(),
            Auth::Tls { .. } => Vec::new(),
        };
        if config.heartbeat_interval.is_zero()
            || config.heartbeat_timeout <= config.heartbeat_interval
        {
            return Err(NetError::Config(
                "heartbeat_timeout must be greater than a non-zero heartbeat_interval".into(),
            ));
        }
        let crypto = tls::build(&config.auth)?;
        let transport = Arc::new(transport_config(&config));
        let mut server = quinn::ServerConfig::with_crypto(crypto.server.clone());
        server.transport_config(transport.clone());
        let mut client = quinn::ClientConfig::new(crypto.client.clone());
        client.transport_config(transport);
        let ip: std::net::IpAddr = config.host.parse().map_err(|_| {
            NetError::Config(format!("host {:?} must be an IP address", config.host))
        })?;
        let bind_error =
            |e: std::io::Error| NetError::Bind(format!("{}:{}: {e}", config.host, config.port));
        // quinn's own socket, wrapped so tests can cut chosen peers off
        // below QUIC (see `faults`).
        let socket =
            std::net::UdpSocket::bind(SocketAddr::new(ip, config.port)).map_err(bind_error)?;
        let runtime: Arc<dyn quinn::Runtime> = Arc::new(quinn::TokioRuntime);
        let faults = Arc::new(FaultFilter::default());
        let filtered = FaultSocket::new(
            runtime.wrap_udp_socket(socket).map_err(bind_error)?,
            faults.clone(),
        );
        let mut endpoint = Endpoint::new_with_abstract_socket(
            quinn::EndpointConfig::default(),
            Some(server),
            Arc::new(filtered),
            runtime,
        )
        .map_err(bind_error)?;
        endpoint.set_default_client_config(client);
        let port = endpoint
            .local_addr()
            .map_err(|e| NetError::Bind(e.to_string()))?
            .port();
        let host = if ip.is_ipv6() {
            format!("[{ip}]")
        } else {
            ip.to_string()
        };
        let name = format!("{}@{host}:{port}", config.name);
        let shared = Arc::new(Shared {
            name,
            encoder: FrameEncoder::with_max_frame_size(config.max_frame_size),
            cookie,
            verify_names: crypto.verify_names,
            endpoint,
            peers: Mutex::new(HashMap::new()),
            dialing: Mutex::new(HashSet::new()),
            reconnecting: Mutex::new(HashSet::new()),
            events,
            heartbeats_frozen: AtomicBool::new(false),
            faults,
            blocked: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            stopped: AtomicBool::new(false),
            config,
        });
        tokio::spawn(peer::accept_loop(shared.clone()));
        for seed in shared.config.seeds.clone() {
            tokio::spawn(shared.clone().dial_seed(seed));
        }
        Ok(Node {
            shared,
            events: Mutex::new(None),
        })
    }

    /// This node's full name, `name@host:port`, with the port actually
    /// bound (so port 0 in the config shows the chosen one).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The local UDP address the node listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, NetError> {
        self.shared
            .endpoint
            .local_addr()
            .map_err(|e| NetError::Bind(e.to_string()))
    }

    /// The events channel. Returns it once; later calls return `None`.
    /// Events are buffered until it is taken.
    pub fn take_events(&self) -> Option<Events> {
        lock(&self.events).take()
    }

    /// Connects to `target` (`name@host:port`, or `host:port`), runs the
    /// handshake and returns the peer's full name. Returns at once if that
    /// address is already connected. A wrong cookie is
    /// [`NetError::AuthFailed`].
    pub async fn connect(&self, target: &str) -> Result<String, NetError> {
        self.shared.dial(target).await
    }

    /// Closes the connection to `node` (its NodeDown reason here is
    /// `disconnect`, on the peer `closed`). Returns whether it was
    /// connected.
    pub fn disconnect(&self, node: &str) -> bool {
        lock(&self.shared.reconnecting).remove(node);
        let id = lock(&self.shared.peers).get(node).map(|p| p.id);
        match id {
            Some(id) => {
                self.shared
                    .peer_lost(node, id, "disconnect", CloseCode::NORMAL);
                true
            }
            None => false,
        }
    }

    /// Queues one frame to `node` on lane 0: `send_on(node, 0, kind, payload)`.
    pub fn send(&self, node: &str, kind: FrameKind, payload: &[u8]) -> Result<(), NetError> {
        self.send_on(node, 0, kind, payload)
    }

    /// Queues one frame to `node` on `lane`. Frames on one lane arrive in
    /// the order they were queued; lanes go out on [`LANES`] independent
    /// streams (`lane % LANES`), so a large frame on one lane does not hold
    /// up the others. Callers pick the lane from a hash of (sender,
    /// receiver) to keep each conversation ordered. Never blocks; fails
    /// with [`NetError::Backpressure`] when more than
    /// [`NodeConfig::max_queued_bytes`] are already queued for that peer
    /// (nothing is queued then). Transport kinds (handshake, heartbeats,
    /// Nodes, Close) are refused.
    pub fn send_on(
        &self,
        node: &str,
        lane: u32,
        kind: FrameKind,
        payload: &[u8],
    ) -> Result<(), NetError> {
        if kind.as_u8() < FrameKind::Send.as_u8() {
            return Err(NetError::Config(format!(
                "{kind} frames are reserved for the transport"
            )));
        }
        if self.shared.is_stopped() {
            return Err(NetError::Stopped);
        }
        let mut bytes = Vec::new();
        self.shared
            .encoder
            .encode(kind, payload, &mut bytes)
            .map_err(|_| NetError::FrameTooLarge {
                len: payload.len() as u64,
                max: self.shared.encoder.max_frame_size(),
            })?;
        let peers = lock(&self.shared.peers);
        let peer = peers
            .get(node)
            .ok_or_else(|| NetError::NotConnected(node.to_owned()))?;
        let max = self.shared.config.max_queued_bytes;
        let queued = peer.queues.queued.load(Ordering::Acquire);
        if queued.saturating_add(bytes.len()) > max {
            return Err(NetError::Backpressure {
                node: node.to_owned(),
                queued,
                max,
            });
        }
        let len = bytes.len();
        peer.queues.queued.fetch_add(len, Ordering::AcqRel);
        peer.queues.lanes[lane as usize % LANES]
            .send(bytes)
            .map_err(|_| NetError::NotConnected(node.to_owned()))
    }

    /// Queues many frames at once: the batched form of [`Node::send_on`],
    /// for callers that gather a burst of frames (one JS turn's) into one
    /// call. Frames keep their order per (node, lane); each (node, lane)
    /// gets one queue entry for the whole batch, so a burst wakes each lane
    /// writer once instead of once per frame.
    ///
    /// All frames are checked first (kind, size): one bad frame refuses
    /// the batch and queues nothing. Frames to a node that is not connected
    /// are dropped and counted in [`BatchOutcome::not_connected`] (the node
    /// went down; its `NodeDown` is on the way). The queue limit is *not*
    /// enforced here: the caller checks [`Node::queued_bytes`] before it
    /// accepts a frame into its batch, so a frame it accepted is never lost
    /// to backpressure, and the overshoot is bounded by its batch size.
    /// `on_queued` is told each touched node's queued bytes afterwards.
    pub fn send_batch(
        &self,
        frames: &[OutFrame<'_>],
        mut on_queued: impl FnMut(&str, usize),
    ) -> Result<BatchOutcome, NetError> {
        let max = self.shared.encoder.max_frame_size();
        for f in frames {
            if f.kind.as_u8() < FrameKind::Send.as_u8() {
                return Err(NetError::Config(format!(
                    "{} frames are reserved for the transport",
                    f.kind
                )));
            }
            if !u32::try_from(f.payload.len()).is_ok_and(|len| len <= max) {
                return Err(NetError::FrameTooLarge {
                    len: f.payload.len() as u64,
                    max,
                });
            }
        }
        if self.shared.is_stopped() {
            return Err(NetError::Stopped);
        }
        // The answers to these frames are likely on their way soon.
        super::busy_wait::touch();
        let mut outcome = BatchOutcome::default();
        // (node, its lanes' bytes, frames); a batch touches few nodes, so a list.
        let mut groups: Vec<(&str, Vec<Vec<u8>>, usize)> = Vec::new();
        for f in frames {
            let at = match groups.iter().position(|(n, _, _)| *n == f.node) {
                Some(i) => i,
                None => {
                    groups.push((f.node, vec![Vec::new(); LANES], 0));
                    groups.len() - 1
                }
            };
            groups[at].2 += 1;
            let lane = &mut groups[at].1[f.lane as usize % LANES];
            // Checked above, so this cannot fail.
            let _ = self.shared.encoder.encode(f.kind, f.payload, lane);
        }
        let peers = lock(&self.shared.peers);
        for (node, lanes, count) in groups {
            let Some(peer) = peers.get(node) else {
                outcome.not_connected += count;
                continue;
            };
            for (i, bytes) in lanes.into_iter().enumerate() {
                if bytes.is_empty() {
                    continue;
                }
                let len = bytes.len();
                peer.queues.queued.fetch_add(len, Ordering::AcqRel);
                if peer.queues.lanes[i].send(bytes).is_err() {
                    // The writer is gone: the connection is ending.
                    peer.queues.queued.fetch_sub(len, Ordering::AcqRel);
                }
            }
            outcome.queued += count;
            on_queued(node, peer.queues.queued.load(Ordering::Acquire));
        }
        Ok(outcome)
    }

    /// Bytes queued for `node` and not yet written to its streams (0 if
    /// not connected).
    #[must_use]
    pub fn queued_bytes(&self, node: &str) -> usize {
        lock(&self.shared.peers)
            .get(node)
            .map_or(0, |p| p.queues.queued.load(Ordering::Acquire))
    }

    /// Transport figures for every connected peer, sorted by name: read
    /// from the counters quinn already keeps per connection (smoothed RTT,
    /// UDP bytes), so collecting them costs nothing on the data path. Takes
    /// the peer table's lock for the copy only.
    #[must_use]
    pub fn peer_stats(&self) -> Vec<PeerStats> {
        let mut v: Vec<PeerStats> = lock(&self.shared.peers)
            .iter()
            .map(|(name, p)| {
                let stats = p.conn.stats();
                PeerStats {
                    node: name.clone(),
                    rtt_micros: u64::try_from(p.conn.rtt().as_micros()).unwrap_or(u64::MAX),
                    bytes_sent: stats.udp_tx.bytes,
                    bytes_received: stats.udp_rx.bytes,
                    lost_packets: stats.path.lost_packets,
                    queued_bytes: p.queues.queued.load(Ordering::Acquire),
                    dialer: p.dialer == self.shared.name,
                }
            })
            .collect();
        v.sort_by(|a, b| a.node.cmp(&b.node));
        v
    }

    /// The connected nodes (authenticated, not yet down), self excluded,
    /// sorted.
    #[must_use]
    pub fn nodes(&self) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.shared.peers).keys().cloned().collect();
        v.sort();
        v
    }

    /// Stops the node: every peer gets NodeDown `stopped` here and
    /// `closed` on its side, the socket is closed, and this waits (at most
    /// a second) for the closes to be sent. Idempotent.
    pub async fn stop(&self) {
        if self.shared.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        let peers: Vec<(String, u64)> = lock(&self.shared.peers)
            .iter()
            .map(|(n, p)| (n.clone(), p.id))
            .collect();
        for (name, id) in peers {
            self.shared
                .peer_lost(&name, id, "stopped", CloseCode::NORMAL);
        }
        self.shared
            .endpoint
            .close(close_code(CloseCode::NORMAL), b"stopping");
        let _ =
            tokio::time::timeout(Duration::from_secs(1), self.shared.endpoint.wait_idle()).await;
    }

    /// Fault injection for tests (ARCHITECTURE.md, Testing): while frozen,
    /// this node neither sends nor answers heartbeats, as if its runtime
    /// had hung, so its peers declare it down with `heartbeat_timeout`.
    #[doc(hidden)]
    pub fn set_heartbeats_frozen(&self, frozen: bool) {
        self.shared
            .heartbeats_frozen
            .store(frozen, Ordering::Release);
    }

    /// Fault injection for partition tests: from now on every UDP datagram
    /// to or from `node` (`name@host:port`, the host an IP address) is
    /// dropped below QUIC, in both directions, as if the cable were cut.
    /// Nothing is closed: heartbeats stop, both sides report the peer down
    /// with `heartbeat_timeout`, and reconnection attempts time out until
    /// [`Node::unblock`]. Other peers are unaffected. Blocking only on one
    /// side is enough. Fails with [`NetError::InvalidAddress`] for a name
    /// whose host is not an IP address.
    pub fn block(&self, node: &str) -> Result<(), NetError> {
        let (host, port) =
            mesh::dial_address(node).ok_or_else(|| NetError::InvalidAddress(node.to_owned()))?;
        let ip: std::net::IpAddr = host.parse().map_err(|_| {
            NetError::InvalidAddress(format!("{node}: the host must be an IP address"))
        })?;
        let mut addrs = vec![SocketAddr::new(ip, port)];
        // The address the connection really uses, should it differ.
        if let Some(p) = lock(&self.shared.peers).get(node) {
            let remote = p.conn.remote_address();
            if !addrs.contains(&remote) {
                addrs.push(remote);
            }
        }
        for a in &addrs {
            self.shared.faults.block(*a);
        }
        lock(&self.shared.blocked)
            .entry(node.to_owned())
            .or_default()
            .extend(addrs);
        log::info!(
            "{}: fault injection: blocking all traffic with {node}",
            self.shared.name
        );
        Ok(())
    }

    /// Undoes [`Node::block`] for `node`; returns whether it was blocked.
    /// With `redial`, if the peer is not connected, dials it at once (the
    /// normal reconnection may have given up during a long split), so a
    /// healed link is back as soon as a handshake completes; without, only
    /// whatever reconnection is still running (or the application) brings
    /// it back. Must be called inside the runtime.
    pub fn unblock(&self, node: &str, redial: bool) -> bool {
        let Some(addrs) = lock(&self.shared.blocked).remove(node) else {
            return false;
        };
        let still: HashSet<SocketAddr> = lock(&self.shared.blocked)
            .values()
            .flatten()
            .copied()
            .collect();
        for a in addrs.iter().filter(|a| !still.contains(a)) {
            self.shared.faults.unblock(a);
        }
        log::info!(
            "{}: fault injection: traffic with {node} restored",
            self.shared.name
        );
        if redial && !self.shared.is_stopped() && !self.shared.is_connected(node) {
            let shared = self.shared.clone();
            let peer = node.to_owned();
            tokio::spawn(async move {
                if let Err(e) = shared.dial_expecting(&peer, Some(&peer)).await {
                    log::debug!("{}: redial after unblock of {peer}: {e}", shared.name);
                }
            });
        }
        true
    }

    /// The nodes currently blocked by [`Node::block`], sorted.
    #[must_use]
    pub fn blocked(&self) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.shared.blocked).keys().cloned().collect();
        v.sort();
        v
    }

    /// For tests that play a raw (misbehaving) peer: a quinn client config
    /// that accepts any certificate and speaks this transport's ALPN.
    #[doc(hidden)]
    pub fn raw_client_config() -> Result<quinn::ClientConfig, NetError> {
        let crypto = tls::build(&Auth::Cookie("raw".into()))?;
        Ok(quinn::ClientConfig::new(crypto.client))
    }

    /// The TLS server name a raw client must use in cookie mode.
    #[doc(hidden)]
    pub const RAW_SERVER_NAME: &'static str = tls::COOKIE_SERVER_NAME;
}

impl Drop for Node {
    fn drop(&mut self) {
        if !self.shared.stopped.swap(true, Ordering::AcqRel) {
            self.shared
                .endpoint
                .close(close_code(CloseCode::NORMAL), b"stopping");
        }
    }
}

/// QUIC settings: our heartbeats are the liveness check, so QUIC's idle
/// timeout is only a backstop, well above the heartbeat timeout.
fn transport_config(config: &NodeConfig) -> TransportConfig {
    let mut t = TransportConfig::default();
    let idle = (config.heartbeat_timeout * 3).max(Duration::from_secs(10));
    t.max_idle_timeout(quinn::IdleTimeout::try_from(idle).ok());
    // A peer may open its lane streams and no more.
    t.max_concurrent_uni_streams(VarInt::from_u32(LANES as u32));
    t
}
