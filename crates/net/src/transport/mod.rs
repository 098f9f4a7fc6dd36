//! The cluster's node transport: QUIC (quinn, rustls on ring) between
//! nodes, authenticated by a cookie proven with a mutual HMAC challenge
//! bound to the TLS session, or by mutual TLS. The pure parts (framing,
//! handshake) live in `ironwood_core`; this module only does I/O. The
//! design is in `docs/cluster-transport.md`.
//!
//! One file per concept: [`config`] (what a node starts with), [`error`],
//! `tls` (rustls/quinn setup), [`node`] (the endpoint and peer table),
//! `peer` (one connection's tasks), `faults` (the partition-test socket filter), `heartbeat` and `mesh` (pure helpers),
//! [`runtime`] (the lazily started process-wide tokio runtime).

mod busy_wait;
pub mod config;
pub mod error;
mod faults;
mod heartbeat;
mod mesh;
pub mod node;
mod peer;
pub mod runtime;
mod tls;

pub use config::{Auth, NodeConfig};
pub use error::NetError;
pub use node::{BatchOutcome, Event, EventSink, Events, LANES, Node, OutFrame, PeerStats};
pub use runtime::runtime;
