//! Nodes connect, authenticate, exchange ordered frames, and report
//! NodeDown once with a reason.

mod common;

use std::time::Duration;

use common::*;
use ironwood_core::codec::FrameKind;
use ironwood_net::transport::{Auth, Event, NetError, Node, NodeConfig};

#[tokio::test]
async fn two_nodes_connect_and_frames_arrive_in_order() {
    let (a, mut ea) = start("a", "secret").await;
    let (b, mut eb) = start("b", "secret").await;
    assert!(a.name().starts_with("a@127.0.0.1:"));
    assert_ne!(a.local_addr().unwrap().port(), 0);

    let peer = a.connect(b.name()).await.unwrap();
    assert_eq!(peer, b.name());
    assert_eq!(next_membership(&mut ea).await, up(b.name()));
    assert_eq!(next_membership(&mut eb).await, up(a.name()));
    assert_eq!(a.nodes(), [b.name()]);
    assert_eq!(b.nodes(), [a.name()]);
    // Connecting again is a no-op returning the same name.
    assert_eq!(a.connect(b.name()).await.unwrap(), b.name());

    for i in 0u32..500 {
        a.send(b.name(), FrameKind::Send, &i.to_be_bytes()).unwrap();
    }
    b.send(a.name(), FrameKind::RpcCall, b"hi").unwrap();
    for i in 0u32..500 {
        match next(&mut eb).await {
            Event::Frame {
                from,
                kind,
                payload,
            } => {
                assert_eq!(from, a.name());
                assert_eq!(kind, FrameKind::Send);
                assert_eq!(payload, i.to_be_bytes());
            }
            e => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(
        next(&mut ea).await,
        Event::Frame {
            from: b.name().to_owned(),
            kind: FrameKind::RpcCall,
            payload: b"hi".to_vec()
        }
    );

    // Transport kinds and unknown peers are refused.
    assert!(matches!(
        a.send(b.name(), FrameKind::Heartbeat, &[]),
        Err(NetError::Config(_))
    ));
    assert_eq!(
        a.send("x@127.0.0.1:1", FrameKind::Send, &[]),
        Err(NetError::NotConnected("x@127.0.0.1:1".into()))
    );

    // disconnect: NodeDown once on each side, with a reason.
    assert!(a.disconnect(b.name()));
    assert_eq!(next_membership(&mut ea).await, down(b.name(), "disconnect"));
    assert_eq!(next_membership(&mut eb).await, down(a.name(), "closed"));
    assert!(!a.disconnect(b.name()));
    assert!(a.nodes().is_empty());
    assert!(matches!(
        a.send(b.name(), FrameKind::Send, &[]),
        Err(NetError::NotConnected(_))
    ));
    assert_quiet(&mut ea, Duration::from_millis(200)).await;
    assert_quiet(&mut eb, Duration::from_millis(1)).await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn stopped_and_dropped_peers_are_reported_down_once() {
    let (a, mut ea) = start("a", "c").await;
    let (b, mut eb) = start("b", "c").await;
    let (c, _ec) = start("c", "c").await;
    a.connect(b.name()).await.unwrap();
    a.connect(c.name()).await.unwrap();
    assert_eq!(next_membership(&mut eb).await, up(a.name()));
    let b_name = b.name().to_owned();
    let c_name = c.name().to_owned();

    b.stop().await;
    assert_eq!(next_membership(&mut eb).await, down(a.name(), "stopped"));
    drop(c);
    let mut downs = vec![
        next_membership(&mut ea).await,
        next_membership(&mut ea).await,
    ];
    downs.retain(|e| !matches!(e, Event::NodeUp { .. }));
    // The two NodeUps may come first; collect until both downs are seen.
    while downs.len() < 2 {
        if let e @ Event::NodeDown { .. } = next_membership(&mut ea).await {
            downs.push(e);
        }
    }
    downs.sort_by_key(|e| format!("{e:?}"));
    let mut want = vec![down(&b_name, "closed"), down(&c_name, "closed")];
    want.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(downs, want);
    assert!(a.nodes().is_empty());
    assert_quiet(&mut ea, Duration::from_millis(800)).await;
    assert!(matches!(b.connect(a.name()).await, Err(NetError::Stopped)));
}

#[tokio::test]
async fn a_node_without_a_cookie_refuses_to_start() {
    let err = Node::start(NodeConfig::new(
        "a",
        "127.0.0.1",
        0,
        Auth::Cookie(String::new()),
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(err, NetError::Config(ref m) if m.contains("unauthenticated")),
        "{err}"
    );
    let mut bad = config("a", "c");
    bad.heartbeat_timeout = bad.heartbeat_interval;
    assert!(matches!(Node::start(bad).await, Err(NetError::Config(_))));
    assert!(matches!(
        Node::start(config("a@b", "c")).await,
        Err(NetError::Config(_))
    ));
}
