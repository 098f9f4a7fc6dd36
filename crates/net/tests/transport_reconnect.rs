//! A node that comes back under the same name@host:port after a restart is
//! reconnected automatically; a deliberate disconnect is not undone.

mod common;

use std::time::Duration;

use common::*;
use ironwood_net::transport::{Events, Node, NodeConfig};

/// Binds `config`, retrying briefly while the old socket is released.
async fn start_again(config: NodeConfig) -> (Node, Events) {
    for _ in 0..50 {
        if let Ok(node) = Node::start(config.clone()).await {
            let events = node.take_events().unwrap();
            return (node, events);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("could not bind the port again");
}

#[tokio::test]
async fn a_restarted_node_is_reconnected_under_the_same_name() {
    let (a, mut ea) = start("a", "re").await;
    let (b, mut eb) = start("b", "re").await;
    a.connect(b.name()).await.unwrap();
    assert_eq!(next_membership(&mut ea).await, up(b.name()));
    assert_eq!(next_membership(&mut eb).await, up(a.name()));
    let b_name = b.name().to_owned();
    let port = b.local_addr().unwrap().port();

    b.stop().await;
    drop(b);
    drop(eb);
    assert_eq!(next_membership(&mut ea).await, down(&b_name, "closed"));

    let mut cb = config("b", "re");
    cb.port = port;
    let (b2, mut eb2) = start_again(cb).await;
    assert_eq!(b2.name(), b_name);
    // A retries with backoff and finds it again: NodeUp once, on both sides.
    assert_eq!(next_membership(&mut ea).await, up(&b_name));
    assert_eq!(next_membership(&mut eb2).await, up(a.name()));
    assert_eq!(a.nodes(), [b_name.as_str()]);
    assert_quiet(&mut ea, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_disconnect_is_not_undone_by_either_side() {
    let (a, mut ea) = start("a", "dc").await;
    let (b, mut eb) = start("b", "dc").await;
    a.connect(b.name()).await.unwrap();
    assert_eq!(next_membership(&mut ea).await, up(b.name()));
    assert_eq!(next_membership(&mut eb).await, up(a.name()));

    assert!(b.disconnect(a.name()));
    assert_eq!(next_membership(&mut eb).await, down(a.name(), "disconnect"));
    assert_eq!(next_membership(&mut ea).await, down(b.name(), "closed"));
    // Several backoff periods: nobody reconnects.
    assert_quiet(&mut ea, Duration::from_millis(600)).await;
    assert_quiet(&mut eb, Duration::from_millis(100)).await;
    assert!(a.nodes().is_empty() && b.nodes().is_empty());
}

#[tokio::test]
async fn another_node_on_the_old_address_is_not_picked_up() {
    let (a, mut ea) = start("a", "other").await;
    let (b, mut eb) = start("b", "other").await;
    a.connect(b.name()).await.unwrap();
    assert_eq!(next_membership(&mut ea).await, up(b.name()));
    assert_eq!(next_membership(&mut eb).await, up(a.name()));
    let b_name = b.name().to_owned();
    let port = b.local_addr().unwrap().port();
    b.stop().await;
    drop(b);
    assert_eq!(next_membership(&mut ea).await, down(&b_name, "closed"));

    // A different node (same cookie) takes the port: A's retries reach it
    // but refuse it, so A never reports it up.
    let mut cc = config("c", "other");
    cc.port = port;
    let (c, _ec) = start_again(cc).await;
    assert_ne!(c.name(), b_name);
    assert_quiet(&mut ea, Duration::from_millis(1500)).await;
    assert!(a.nodes().is_empty());
}

#[tokio::test]
async fn a_seed_that_starts_later_is_retried() {
    // Reserve a port for the seed, then free it.
    let (s0, _e0) = start("seed", "late").await;
    let port = s0.local_addr().unwrap().port();
    let seed_name = s0.name().to_owned();
    s0.stop().await;
    drop(s0);

    let mut ca = config("a", "late");
    ca.seeds = vec![seed_name.clone()];
    let (a, mut ea) = start_with(ca).await;
    // The first attempts find nobody; the seed comes up a little later.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut cs = config("seed", "late");
    cs.port = port;
    let (_seed, mut es) = start_again(cs).await;
    assert_eq!(next_membership(&mut ea).await, up(&seed_name));
    assert_eq!(next_membership(&mut es).await, up(a.name()));
}
