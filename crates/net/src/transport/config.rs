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
    /// Nodes (`name@host:port`) to connect to once started. A seed that
    /// cannot be reached is logged, not an error.
    pub seeds: Vec<String>,
}

impl NodeConfig {
    /// Defaults: heartbeat every second, a peer down after 3 s of silence,
    /// 5 s to handshake, 8 MiB frames, no seeds.
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
            seeds: Vec::new(),
        }
    }
}
