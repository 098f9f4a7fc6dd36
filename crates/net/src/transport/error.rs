//! The transport's errors, as values the binding turns into typed JS errors.

use std::error::Error;
use std::fmt;

/// Why a transport call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetError {
    /// The configuration is unusable (e.g. no cookie and no TLS material,
    /// an invalid name, a heartbeat timeout not above the interval).
    Config(String),
    /// The certificate, key or CA could not be loaded or used.
    Tls(String),
    /// The UDP socket could not be bound.
    Bind(String),
    /// A node name or address could not be parsed or resolved.
    InvalidAddress(String),
    /// Connecting to a peer failed (unreachable, TLS refused, timed out).
    Connect(String),
    /// The peer was reached but the cookie handshake failed.
    AuthFailed(String),
    /// No connection to that node.
    NotConnected(String),
    /// The payload is larger than the maximum frame size.
    FrameTooLarge {
        /// The payload's length.
        len: u64,
        /// The maximum frame size in force.
        max: u32,
    },
    /// The peer's outgoing queue holds more than
    /// [`crate::transport::NodeConfig::max_queued_bytes`]: the frame was
    /// not queued. Retry once the queue drains (the peer is slow or stalled).
    Backpressure {
        /// The peer's full name.
        node: String,
        /// Bytes queued for that peer when the frame was refused.
        queued: usize,
        /// The limit in force.
        max: usize,
    },
    /// The node is stopped.
    Stopped,
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Config(m) => write!(f, "invalid node configuration: {m}"),
            NetError::Tls(m) => write!(f, "TLS setup failed: {m}"),
            NetError::Bind(m) => write!(f, "could not listen: {m}"),
            NetError::InvalidAddress(m) => write!(f, "invalid node address: {m}"),
            NetError::Connect(m) => write!(f, "could not connect: {m}"),
            NetError::AuthFailed(m) => write!(f, "authentication failed: {m}"),
            NetError::NotConnected(n) => write!(f, "not connected to {n}"),
            NetError::FrameTooLarge { len, max } => write!(
                f,
                "payload of {len} bytes exceeds the maximum frame size of {max} bytes"
            ),
            NetError::Backpressure { node, queued, max } => write!(
                f,
                "the queue to {node} is full ({queued} bytes queued, limit {max})"
            ),
            NetError::Stopped => f.write_str("the node is stopped"),
        }
    }
}

impl Error for NetError {}
