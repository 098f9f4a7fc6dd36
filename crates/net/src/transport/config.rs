//! What a node is started with.

use std::time::Duration;

use ironwood_core::codec::DEFAULT_MAX_FRAME_SIZE;

/// How nodes prove to each other that they belong to the same cluster.
/// There is no unauthenticated mode: a node always has one of these.
#[derive(Clone)]
pub enum Auth {
    /// A shared secret, proven by a mutual HMAC challenge bound to the TLS
    /// session (see `docs/cluster-transport.md`). The TLS certificate is a
    /// self-signed one generated at start and is not verified: the cookie
    /// is what authenticates. Must not be empty.
    Cookie(String),
    /// Mutual TLS with user certificates: each side verifies the other's
    /// certificate chain against `ca`, and the dialing side also checks the
    /// certificate's name against the host in the node name (an IP address
    /// host needs an IP SAN). All three are PEM.
    Tls {
        /// This node's certificate chain, PEM.
        cert: String,
        /// This node's private key, PEM (PKCS#8, PKCS#1 or SEC1).
        key: String,
        /// The CA certificate(s) peers' certificates must chain to, PEM.
        ca: String,
    },
}

impl std::fmt::Debug for Auth {
    // Never print the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Cookie(_) => f.write_str("Auth::Cookie(<redacted>)"),
            Auth::Tls { .. } => f.write_str("Auth::Tls { .. }"),
        }
    }
}

/// The settings of a node. Build one with [`NodeConfig::new`] and adjust
/// the public fields.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The node's short name, the part before `@` (letters, digits, `_`,
    /// `-`, `.`).
    pub name: String,
    /// The address to listen on, e.g. `127.0.0.1`. It is also the host in
    /// the node's full name, which peers dial, so it must be reachable.
    pub host: String,
    /// The UDP port to listen on; 0 picks a free one (see [`crate::transport::Node::name`]).
    pub port: u16,
    /// How this node authenticates peers.
    pub auth: Auth,
    /// How often a heartbeat is sent to each peer.
    pub heartbeat_interval: Duration,
    /// How long a peer may stay silent before it is declared down with the
    /// reason `heartbeat_timeout`.
    pub heartbeat_timeout: Duration,
    /// How long a connection may take to finish the QUIC and cookie
    /// handshakes.
    pub handshake_timeout: Duration,
    /// The largest frame payload accepted from or sent to a peer.
    pub max_frame_size: u32,
    /// How long one frame may take to arrive once its first byte has: a
    /// peer that sends a frame header (or part of a body) and then stalls
    /// or trickles — even while its heartbeats keep arriving on another
    /// stream — is closed with the reason `frame_timeout` after this.
    pub frame_timeout: Duration,
    /// The most bytes of application frames queued for one peer and not
    /// yet written to its streams; above it, [`crate::transport::Node::send`]
    /// returns [`crate::transport::NetError::Backpressure`].
    pub max_queued_bytes: usize,
    /// After a peer is lost (anything but a local or remote `disconnect`,
    /// a local stop, or a protocol error), keep trying to reconnect to it
    /// for this long, with a backoff from `heartbeat_interval` doubling up
    /// to 5 s. Zero disables reconnection.
    pub reconnect_for: Duration,
    /// Nodes (`name@host:port`) to connect to once started. A seed that
    /// cannot be reached is logged, not an error.
    pub seeds: Vec<String>,
}

impl NodeConfig {
    /// Defaults: heartbeat every second, a peer down after 3 s of silence,
    /// 5 s to handshake, 8 MiB frames, 30 s per frame, 64 MiB queued per
    /// peer, reconnection tried for 60 s, no seeds.
    #[must_use]
    pub fn new(name: impl Into<String>, host: impl Into<String>, port: u16, auth: Auth) -> Self {
        NodeConfig {
            name: name.into(),
            host: host.into(),
            port,
            auth,
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(3),
            handshake_timeout: Duration::from_secs(5),
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            frame_timeout: Duration::from_secs(30),
            max_queued_bytes: 64 * 1024 * 1024,
            reconnect_for: Duration::from_secs(60),
            seeds: Vec::new(),
        }
    }
}
