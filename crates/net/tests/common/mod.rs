//! Helpers shared by the transport tests: nodes on 127.0.0.1 port 0 with
//! short heartbeats, and bounded waits for events.
#![allow(dead_code, unreachable_pub, missing_docs)] // shared by several test crates, each using a subset

use std::time::Duration;

use ironwood_net::transport::{Auth, Event, Events, Node, NodeConfig};

pub const WAIT: Duration = Duration::from_secs(5);

pub fn config(name: &str, cookie: &str) -> NodeConfig {
    let mut c = NodeConfig::new(name, "127.0.0.1", 0, Auth::Cookie(cookie.into()));
    c.heartbeat_interval = Duration::from_millis(50);
    c.heartbeat_timeout = Duration::from_millis(400);
    c.handshake_timeout = Duration::from_secs(3);
    c
}

pub async fn start(name: &str, cookie: &str) -> (Node, Events) {
    start_with(config(name, cookie)).await
}

pub async fn start_with(config: NodeConfig) -> (Node, Events) {
    let node = Node::start(config).await.expect("node starts");
    let events = node.take_events().expect("events");
    (node, events)
}

/// The next event, or a panic after [`WAIT`].
pub async fn next(events: &mut Events) -> Event {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("an event within the wait")
        .expect("events channel open")
}

/// Waits for the next NodeUp or NodeDown, skipping frames.
pub async fn next_membership(events: &mut Events) -> Event {
    loop {
        match next(events).await {
            Event::Frame { .. } => continue,
            e => return e,
        }
    }
}

/// Asserts no event arrives for `d`.
pub async fn assert_quiet(events: &mut Events, d: Duration) {
    if let Ok(Some(e)) = tokio::time::timeout(d, events.recv()).await {
        panic!("unexpected event {e:?}");
    }
}

pub fn up(node: &str) -> Event {
    Event::NodeUp {
        node: node.to_owned(),
    }
}

pub fn down(node: &str, reason: &str) -> Event {
    Event::NodeDown {
        node: node.to_owned(),
        reason: reason.to_owned(),
    }
}
