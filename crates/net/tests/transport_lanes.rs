//! Lanes keep order per lane without head-of-line blocking across lanes;
//! a peer's queue is bounded (`NetError::Backpressure`).

mod common;

use std::time::Duration;

use common::*;
use ironwood_core::codec::FrameKind;
use ironwood_net::transport::{Event, Events, NetError, Node, OutFrame};

async fn pair(cookie: &str) -> (Node, Events, Node, Events) {
    let (a, mut ea) = start("a", cookie).await;
    let (b, mut eb) = start("b", cookie).await;
    a.connect(b.name()).await.unwrap();
    assert_eq!(next_membership(&mut ea).await, up(b.name()));
    assert_eq!(next_membership(&mut eb).await, up(a.name()));
    (a, ea, b, eb)
}

async fn next_payload(events: &mut Events) -> Vec<u8> {
    loop {
        if let Event::Frame { payload, .. } = next(events).await {
            return payload;
        }
    }
}

#[tokio::test]
async fn frames_keep_their_order_on_each_lane() {
    let (a, _ea, b, mut eb) = pair("lanes").await;
    const LANES: u32 = 9; // more lanes than streams: several share one
    const PER_LANE: u32 = 300;
    for seq in 0..PER_LANE {
        for lane in 0..LANES {
            let mut p = lane.to_be_bytes().to_vec();
            p.extend_from_slice(&seq.to_be_bytes());
            a.send_on(b.name(), lane, FrameKind::Send, &p).unwrap();
        }
    }
    let mut expected = vec![0u32; LANES as usize];
    for _ in 0..LANES * PER_LANE {
        let p = next_payload(&mut eb).await;
        let lane = u32::from_be_bytes(p[..4].try_into().unwrap()) as usize;
        let seq = u32::from_be_bytes(p[4..].try_into().unwrap());
        assert_eq!(seq, expected[lane], "lane {lane} out of order");
        expected[lane] += 1;
    }
    assert!(expected.iter().all(|&n| n == PER_LANE));
    // `send` is lane 0.
    a.send(b.name(), FrameKind::Send, b"lane zero").unwrap();
    assert_eq!(next_payload(&mut eb).await, b"lane zero");
}

#[tokio::test]
async fn a_large_frame_on_one_lane_does_not_hold_up_another() {
    let (a, _ea, b, mut eb) = pair("hol").await;
    let big = vec![0xb1u8; 4 * 1024 * 1024];
    for _ in 0..3 {
        a.send_on(b.name(), 1, FrameKind::Send, &big).unwrap();
    }
    a.send_on(b.name(), 2, FrameKind::Send, b"small").unwrap();
    // The small frame, queued last on another lane, overtakes at least the
    // last of the 12 MiB queued before it on lane 1.
    let mut order = Vec::new();
    for _ in 0..4 {
        let p = next_payload(&mut eb).await;
        order.push(if p == b"small" { "small" } else { "big" });
    }
    let small_at = order.iter().position(|&s| s == "small").unwrap();
    assert!(small_at < 3, "{order:?}");

    // On one lane, the same frames keep their order.
    for _ in 0..2 {
        a.send_on(b.name(), 3, FrameKind::Send, &big).unwrap();
    }
    a.send_on(b.name(), 3, FrameKind::Send, b"small").unwrap();
    assert_eq!(next_payload(&mut eb).await.len(), big.len());
    assert_eq!(next_payload(&mut eb).await.len(), big.len());
    assert_eq!(next_payload(&mut eb).await, b"small");
}

#[tokio::test]
async fn a_full_queue_refuses_with_backpressure_then_drains() {
    let mut ca = config("a", "bp");
    ca.max_queued_bytes = 1024 * 1024;
    let (a, mut ea) = start_with(ca).await;
    let (b, mut eb) = start("b", "bp").await;
    a.connect(b.name()).await.unwrap();
    assert_eq!(next_membership(&mut ea).await, up(b.name()));

    // No await between the sends: the writers cannot drain meanwhile
    // (single-threaded test runtime).
    let chunk = vec![7u8; 400 * 1024];
    a.send(b.name(), FrameKind::Send, &chunk).unwrap();
    a.send_on(b.name(), 1, FrameKind::Send, &chunk).unwrap();
    match a.send_on(b.name(), 2, FrameKind::Send, &chunk) {
        Err(NetError::Backpressure { node, queued, max }) => {
            assert_eq!(node, b.name());
            assert!(queued > 800 * 1024, "{queued}");
            assert_eq!(max, 1024 * 1024);
        }
        r => panic!("expected backpressure, got {r:?}"),
    }
    // Small frames still fit.
    a.send(b.name(), FrameKind::Send, b"fits").unwrap();

    // Once written, the queue is empty again and sends succeed.
    tokio::time::timeout(WAIT, async {
        while a.queued_bytes(b.name()) > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the queue drains");
    a.send_on(b.name(), 2, FrameKind::Send, &chunk).unwrap();
    let mut sizes = Vec::new();
    for _ in 0..4 {
        sizes.push(next_payload(&mut eb).await.len());
    }
    sizes.sort_unstable();
    assert_eq!(sizes, [4, chunk.len(), chunk.len(), chunk.len()]);
    assert_quiet(&mut eb, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn flooding_without_yielding_stops_at_the_limit() {
    let mut ca = config("a", "bp2");
    ca.max_queued_bytes = 1024 * 1024;
    let (a, mut ea) = start_with(ca).await;
    let (b, _eb) = start("b", "bp2").await;
    a.connect(b.name()).await.unwrap();
    assert_eq!(next_membership(&mut ea).await, up(b.name()));
    // Queue faster than the writers can drain (they cannot run at all
    // until this test yields): the limit is hit, and never exceeded.
    let chunk = vec![1u8; 64 * 1024];
    let mut refused = false;
    for _ in 0..10_000 {
        match a.send_on(b.name(), 0, FrameKind::Send, &chunk) {
            Ok(()) => {}
            Err(NetError::Backpressure { queued, max, .. }) => {
                assert!(queued <= max);
                refused = true;
                break;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(refused, "10,000 × 64 KiB without yielding must hit 1 MiB");
    assert!(a.queued_bytes(b.name()) <= 1024 * 1024);
}

#[tokio::test]
async fn a_batch_keeps_order_per_lane_and_counts_frames_to_absent_nodes() {
    let (a, _ea, b, mut eb) = pair("batch").await;
    let payloads: Vec<Vec<u8>> = (0u32..2000)
        .map(|i| {
            let mut p = (i % 5).to_be_bytes().to_vec();
            p.extend_from_slice(&(i / 5).to_be_bytes());
            p
        })
        .collect();
    let mut frames: Vec<OutFrame<'_>> = payloads
        .iter()
        .map(|p| OutFrame {
            node: b.name(),
            lane: u32::from_be_bytes(p[..4].try_into().unwrap()),
            kind: FrameKind::Send,
            payload: p,
        })
        .collect();
    frames.push(OutFrame {
        node: "nobody@127.0.0.1:1",
        lane: 0,
        kind: FrameKind::Send,
        payload: b"lost",
    });
    let mut reported = Vec::new();
    let outcome = a
        .send_batch(&frames, |node, queued| {
            reported.push((node.to_owned(), queued))
        })
        .unwrap();
    assert_eq!(outcome.queued, 2000);
    assert_eq!(outcome.not_connected, 1);
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0].0, b.name());
    let mut expected = [0u32; 5];
    for _ in 0..2000 {
        let p = next_payload(&mut eb).await;
        let lane = u32::from_be_bytes(p[..4].try_into().unwrap()) as usize;
        let seq = u32::from_be_bytes(p[4..].try_into().unwrap());
        assert_eq!(seq, expected[lane], "lane {lane} out of order");
        expected[lane] += 1;
    }
}

#[tokio::test]
async fn a_batch_with_one_bad_frame_queues_nothing() {
    let (a, _ea, b, mut eb) = pair("badbatch").await;
    let ok = OutFrame {
        node: b.name(),
        lane: 0,
        kind: FrameKind::Send,
        payload: b"ok",
    };
    let transport = OutFrame {
        kind: FrameKind::Heartbeat,
        ..ok
    };
    assert!(matches!(
        a.send_batch(&[ok, transport], |_, _| {}),
        Err(NetError::Config(_))
    ));
    let huge = vec![0u8; 9 * 1024 * 1024];
    let too_large = OutFrame {
        payload: &huge,
        ..ok
    };
    assert!(matches!(
        a.send_batch(&[ok, too_large], |_, _| {}),
        Err(NetError::FrameTooLarge { .. })
    ));
    // Nothing from the refused batches arrives: the next frame is this one.
    a.send_batch(
        &[OutFrame {
            payload: b"after",
            ..ok
        }],
        |_, _| {},
    )
    .unwrap();
    assert_eq!(next_payload(&mut eb).await, b"after");
}
