//! Faults: a peer that stops answering heartbeats is declared down; an
//! oversized frame or garbage from a raw client closes only that peer.

mod common;

use std::time::Duration;

use common::*;
use ironwood_core::codec::FrameKind;
use ironwood_net::transport::{Event, Node};

#[tokio::test]
async fn a_peer_that_stops_answering_heartbeats_is_declared_down_once() {
    // No automatic reconnection here: the frozen node would come back.
    let mut ca = config("a", "hb");
    ca.reconnect_for = Duration::ZERO;
    let mut cb = config("b", "hb");
    cb.reconnect_for = Duration::ZERO;
    let (a, mut ea) = start_with(ca).await;
    let (b, mut eb) = start_with(cb).await;
    a.connect(b.name()).await.unwrap();
    assert_eq!(next_membership(&mut ea).await, up(b.name()));
    assert_eq!(next_membership(&mut eb).await, up(a.name()));

    // Healthy for several timeouts: no false node-down.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(a.nodes(), [b.name()]);

    b.set_heartbeats_frozen(true);
    assert_eq!(
        next_membership(&mut ea).await,
        down(b.name(), "heartbeat_timeout")
    );
    // B learns why from A's close.
    assert_eq!(
        next_membership(&mut eb).await,
        down(a.name(), "heartbeat_timeout")
    );
    assert_quiet(&mut ea, Duration::from_millis(500)).await;
    assert!(a.nodes().is_empty());

    // Unfrozen, it can come back.
    b.set_heartbeats_frozen(false);
    a.connect(b.name()).await.unwrap();
    assert_eq!(next_membership(&mut ea).await, up(b.name()));
}

#[tokio::test]
async fn an_oversized_frame_closes_only_that_peer() {
    let mut small = config("small", "big");
    small.max_frame_size = 1024;
    let (s, mut es) = start_with(small).await;
    let (big, mut eb) = start("big", "big").await;
    let (other, mut eo) = start("other", "big").await;
    big.connect(s.name()).await.unwrap();
    other.connect(s.name()).await.unwrap();
    assert_eq!(next_membership(&mut eb).await, up(s.name()));
    assert_eq!(next_membership(&mut eo).await, up(s.name()));

    // `big` allows 8 MiB, `small` refuses above 1 KiB.
    big.send(s.name(), FrameKind::Send, &[7; 4096]).unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        seen.push(next_membership(&mut es).await);
    }
    assert!(
        seen.contains(&down(big.name(), "frame_too_large")),
        "{seen:?}"
    );
    assert_eq!(
        next_membership(&mut eb).await,
        down(s.name(), "frame_too_large")
    );

    // The other peer is untouched.
    other
        .send(s.name(), FrameKind::Send, b"still here")
        .unwrap();
    assert_eq!(
        next(&mut es).await,
        Event::Frame {
            from: other.name().to_owned(),
            kind: FrameKind::Send,
            payload: b"still here".to_vec(),
        }
    );
    assert_eq!(s.nodes(), [other.name()]);
}

#[tokio::test]
async fn garbage_from_a_raw_client_closes_only_that_connection() {
    let (a, mut ea) = start("a", "raw").await;
    let addr = a.local_addr().unwrap();

    let mut client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    client.set_default_client_config(Node::raw_client_config().unwrap());
    let conn = client
        .connect(addr, Node::RAW_SERVER_NAME)
        .unwrap()
        .await
        .unwrap();
    let (mut send, _recv) = conn.open_bi().await.unwrap();
    send.write_all(&[0xff; 64]).await.unwrap();
    let closed = tokio::time::timeout(WAIT, conn.closed()).await.unwrap();
    match closed {
        quinn::ConnectionError::ApplicationClosed(c) => {
            assert_ne!(c.error_code.into_inner(), 0, "closed with an error code");
        }
        e => panic!("unexpected close {e:?}"),
    }

    // A raw client that skips the handshake and sends a Send frame is
    // refused too, and nothing reaches the node's events.
    let conn = client
        .connect(addr, Node::RAW_SERVER_NAME)
        .unwrap()
        .await
        .unwrap();
    let (mut send, _recv) = conn.open_bi().await.unwrap();
    let mut frame = Vec::new();
    ironwood_core::codec::Frame::new(FrameKind::Send, b"sneaky".to_vec())
        .encode_into(&mut frame)
        .unwrap();
    send.write_all(&frame).await.unwrap();
    match tokio::time::timeout(WAIT, conn.closed()).await.unwrap() {
        quinn::ConnectionError::ApplicationClosed(c) => {
            assert_eq!(c.error_code.into_inner(), 5, "AuthFailed");
        }
        e => panic!("unexpected close {e:?}"),
    }
    assert_quiet(&mut ea, Duration::from_millis(200)).await;

    // Garbage UDP datagrams on the port are dropped by QUIC.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for len in [1usize, 40, 1200] {
        udp.send_to(&vec![0x5a; len], addr).unwrap();
    }

    // The node still serves a real peer.
    let (b, _eb) = start("b", "raw").await;
    b.connect(a.name()).await.unwrap();
    assert_eq!(next_membership(&mut ea).await, up(b.name()));
    b.send(a.name(), FrameKind::Send, b"ok").unwrap();
    assert!(matches!(next(&mut ea).await, Event::Frame { .. }));
}

/// A roomier heartbeat than the shared config: this test keeps three
/// nodes up while a busy machine runs other test binaries.
fn roomy(name: &str) -> ironwood_net::transport::NodeConfig {
    let mut c = config(name, "cut");
    c.heartbeat_interval = Duration::from_millis(100);
    c.heartbeat_timeout = Duration::from_millis(1500);
    c
}

/// The next NodeUp/NodeDown about `peer`, skipping frames and other peers.
async fn next_about(events: &mut ironwood_net::transport::Events, peer: &str) -> Event {
    loop {
        match next_membership(events).await {
            Event::NodeUp { node } | Event::NodeDown { node, .. } if node != peer => continue,
            e => return e,
        }
    }
}

#[tokio::test]
async fn a_blocked_peer_is_cut_off_below_quic_and_comes_back_when_unblocked() {
    let (a, mut ea) = start_with(roomy("a")).await;
    let (b, mut eb) = start_with(roomy("b")).await;
    let (c, mut ec) = start_with(roomy("c")).await;
    a.connect(b.name()).await.unwrap();
    a.connect(c.name()).await.unwrap();
    assert_eq!(next_about(&mut ea, b.name()).await, up(b.name()));
    assert_eq!(next_about(&mut eb, a.name()).await, up(a.name()));
    while b.nodes().len() < 2 || c.nodes().len() < 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Blocking on a only cuts both directions: b hears nothing either.
    a.block(b.name()).unwrap();
    assert_eq!(a.blocked(), [b.name()]);
    assert_eq!(
        next_about(&mut ea, b.name()).await,
        down(b.name(), "heartbeat_timeout")
    );
    assert_eq!(
        next_about(&mut eb, a.name()).await,
        down(a.name(), "heartbeat_timeout")
    );
    // c still talks to both.
    assert_eq!(a.nodes(), [c.name()]);
    a.send(c.name(), FrameKind::Send, b"via c").unwrap();
    loop {
        if let Event::Frame { from, .. } = next(&mut ec).await {
            assert_eq!(from, a.name());
            break;
        }
    }
    // A dial across the cut fails (it cannot complete a handshake).
    assert!(b.connect(a.name()).await.is_err());
    assert!(!b.nodes().contains(&a.name().to_owned()));

    // Restored: a redials at once and both see the other up again.
    assert!(a.unblock(b.name(), true));
    assert!(!a.unblock(b.name(), true));
    assert!(a.blocked().is_empty());
    assert_eq!(next_about(&mut ea, b.name()).await, up(b.name()));
    assert_eq!(next_about(&mut eb, a.name()).await, up(a.name()));
    b.send(a.name(), FrameKind::Send, b"back").unwrap();
    loop {
        if let Event::Frame { from, .. } = next(&mut ea).await {
            assert_eq!(from, b.name());
            break;
        }
    }
    assert!(a.block("not-an-address").is_err());
}
