//! Full mesh: a node that joins through one seed learns the others and
//! ends up connected to all of them.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ironwood_core::codec::FrameKind;
use ironwood_net::transport::{Event, Node};

async fn wait_for_nodes(node: &Node, want: &[&str]) {
    let mut want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    let deadline = Instant::now() + WAIT;
    while node.nodes() != want {
        assert!(
            Instant::now() < deadline,
            "{}: nodes {:?}, want {want:?}",
            node.name(),
            node.nodes()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn three_nodes_form_a_mesh_through_one_seed() {
    let (a, mut ea) = start("a", "mesh").await;
    let (b, _eb) = start("b", "mesh").await;
    a.connect(b.name()).await.unwrap();
    wait_for_nodes(&b, &[a.name()]).await;

    // C only knows B, as a seed.
    let mut cfg = config("c", "mesh");
    cfg.seeds = vec![b.name().to_owned()];
    let (c, mut ec) = start_with(cfg).await;
    wait_for_nodes(&c, &[a.name(), b.name()]).await;
    wait_for_nodes(&a, &[b.name(), c.name()]).await;
    wait_for_nodes(&b, &[a.name(), c.name()]).await;

    // Exactly one NodeUp per peer on A and C.
    assert_eq!(next_membership(&mut ea).await, up(b.name()));
    assert_eq!(next_membership(&mut ea).await, up(c.name()));
    let mut ups = vec![
        next_membership(&mut ec).await,
        next_membership(&mut ec).await,
    ];
    ups.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(ups, [up(a.name()), up(b.name())]);

    // The mesh link carries frames both ways.
    c.send(a.name(), FrameKind::Send, b"from c").unwrap();
    a.send(c.name(), FrameKind::Send, b"from a").unwrap();
    assert_eq!(
        next(&mut ea).await,
        Event::Frame {
            from: c.name().to_owned(),
            kind: FrameKind::Send,
            payload: b"from c".to_vec(),
        }
    );
    assert_eq!(
        next(&mut ec).await,
        Event::Frame {
            from: a.name().to_owned(),
            kind: FrameKind::Send,
            payload: b"from a".to_vec(),
        }
    );
    assert_quiet(&mut ea, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn simultaneous_connects_settle_on_one_connection() {
    let (a, mut ea) = start("a", "dup").await;
    let (b, mut eb) = start("b", "dup").await;
    let (ra, rb) = tokio::join!(a.connect(b.name()), b.connect(a.name()));
    assert_eq!(ra.unwrap(), b.name());
    assert_eq!(rb.unwrap(), a.name());
    assert_eq!(next_membership(&mut ea).await, up(b.name()));
    assert_eq!(next_membership(&mut eb).await, up(a.name()));
    // Whichever connection lost, no NodeDown follows and frames flow.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(a.nodes(), [b.name()]);
    assert_eq!(b.nodes(), [a.name()]);
    a.send(b.name(), FrameKind::Send, b"1").unwrap();
    assert!(matches!(next(&mut eb).await, Event::Frame { .. }));
    assert_quiet(&mut ea, Duration::from_millis(100)).await;
}
