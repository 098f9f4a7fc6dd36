//! A peer that stalls mid-frame — on the control stream while trickling
//! bytes, or on a lane while its heartbeats keep arriving — is closed with
//! `frame_timeout` within a bounded time; other peers keep being served.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ironwood_core::codec::{Frame, FrameKind, HEADER_LEN};
use ironwood_core::handshake::{EXPORTER_LABEL, EXPORTER_LEN, Handshake, Role};
use ironwood_net::transport::{Event, Events, Node, NodeConfig};

const RAW_NAME: &str = "raw@127.0.0.1:1";
const FRAME_TIMEOUT: Duration = Duration::from_millis(500);

fn stall_config(name: &str) -> NodeConfig {
    let mut c = config(name, "stall");
    c.frame_timeout = FRAME_TIMEOUT;
    c
}

/// A raw quinn client that completes the cookie handshake with the node at
/// `addr`, then is free to misbehave. Returns the connection and the
/// control stream.
async fn raw_peer(
    addr: std::net::SocketAddr,
) -> (
    quinn::Endpoint,
    quinn::Connection,
    quinn::SendStream,
    quinn::RecvStream,
) {
    let mut client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    client.set_default_client_config(Node::raw_client_config().unwrap());
    let conn = client
        .connect(addr, Node::RAW_SERVER_NAME)
        .unwrap()
        .await
        .unwrap();
    let mut exporter = [0u8; EXPORTER_LEN];
    conn.export_keying_material(&mut exporter, EXPORTER_LABEL, b"")
        .unwrap();
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    let (mut hs, first) = Handshake::new(Role::Initiator, b"stall", exporter, RAW_NAME, [9; 32]);
    write(&mut send, &first).await;
    while hs.peer_name().is_none() {
        let mut header = [0u8; HEADER_LEN];
        recv.read_exact(&mut header).await.unwrap();
        let len = u32::from_be_bytes([header[2], header[3], header[4], header[5]]) as usize;
        let mut body = vec![0u8; len];
        recv.read_exact(&mut body).await.unwrap();
        let frame = Frame::new(FrameKind::from_u8(header[1]).unwrap(), body);
        let out = hs.on_frame(&frame).unwrap();
        write(&mut send, &out).await;
    }
    (client, conn, send, recv)
}

async fn write(send: &mut quinn::SendStream, frames: &[Frame]) {
    let mut out = Vec::new();
    for f in frames {
        f.encode_into(&mut out).unwrap();
    }
    if !out.is_empty() {
        send.write_all(&out).await.unwrap();
    }
}

/// The first 6 + 10 bytes of a Send frame announcing a 1,000-byte body.
fn partial_frame() -> Vec<u8> {
    let mut out = Vec::new();
    Frame::new(FrameKind::Send, vec![1u8; 1000])
        .encode_into(&mut out)
        .unwrap();
    out.truncate(HEADER_LEN + 10);
    out
}

async fn wait_down(events: &mut Events, node: &str) -> String {
    loop {
        match next_membership(events).await {
            Event::NodeDown { node: n, reason } if n == node => return reason,
            _ => continue,
        }
    }
}

/// Another real peer still gets through to `a`.
async fn still_served(a: &Node, ea: &mut Events, b: &Node) {
    b.send(a.name(), FrameKind::Send, b"still here").unwrap();
    loop {
        if let Event::Frame { from, payload, .. } = next(ea).await {
            assert_eq!(from, b.name());
            assert_eq!(payload, b"still here");
            return;
        }
    }
}

fn assert_stall_close(closed: quinn::ConnectionError) {
    match closed {
        quinn::ConnectionError::ApplicationClosed(c) => {
            assert_eq!(c.error_code.into_inner(), 0x101, "stalled close code");
        }
        e => panic!("unexpected close {e:?}"),
    }
}

#[tokio::test]
async fn a_peer_trickling_a_frame_on_the_control_stream_is_closed() {
    let (a, mut ea) = start_with(stall_config("a")).await;
    let (b, _eb) = start_with(stall_config("b")).await;
    b.connect(a.name()).await.unwrap();
    assert_eq!(next_membership(&mut ea).await, up(b.name()));

    let (_client, conn, mut send, _recv) = raw_peer(a.local_addr().unwrap()).await;
    assert_eq!(next_membership(&mut ea).await, up(RAW_NAME));
    send.write_all(&partial_frame()).await.unwrap();
    let began = Instant::now();
    // One more body byte every 50 ms: never silent long enough for the
    // heartbeat timeout (400 ms), but the frame never completes.
    let trickle = tokio::spawn(async move {
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if send.write_all(&[1]).await.is_err() {
                return;
            }
        }
    });
    assert_eq!(wait_down(&mut ea, RAW_NAME).await, "frame_timeout");
    let took = began.elapsed();
    assert!(
        took >= FRAME_TIMEOUT - Duration::from_millis(100),
        "{took:?}"
    );
    assert!(took < FRAME_TIMEOUT + Duration::from_secs(2), "{took:?}");
    assert_stall_close(tokio::time::timeout(WAIT, conn.closed()).await.unwrap());
    trickle.abort();

    still_served(&a, &mut ea, &b).await;
    assert_eq!(a.nodes(), [b.name()]);
}

#[tokio::test]
async fn a_peer_that_heartbeats_but_stalls_a_lane_frame_is_closed() {
    let (a, mut ea) = start_with(stall_config("a")).await;
    let (b, _eb) = start_with(stall_config("b")).await;
    b.connect(a.name()).await.unwrap();
    assert_eq!(next_membership(&mut ea).await, up(b.name()));

    let (_client, conn, mut send, _recv) = raw_peer(a.local_addr().unwrap()).await;
    assert_eq!(next_membership(&mut ea).await, up(RAW_NAME));
    let mut lane = conn.open_uni().await.unwrap();
    lane.write_all(&partial_frame()).await.unwrap();
    let began = Instant::now();
    // Healthy heartbeats on the control stream all along.
    let beats = tokio::spawn(async move {
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut hb = Vec::new();
            Frame::new(FrameKind::Heartbeat, Vec::new())
                .encode_into(&mut hb)
                .unwrap();
            if send.write_all(&hb).await.is_err() {
                return;
            }
        }
    });
    assert_eq!(wait_down(&mut ea, RAW_NAME).await, "frame_timeout");
    let took = began.elapsed();
    assert!(
        took >= FRAME_TIMEOUT - Duration::from_millis(100),
        "{took:?}"
    );
    assert!(took < FRAME_TIMEOUT + Duration::from_secs(2), "{took:?}");
    assert_stall_close(tokio::time::timeout(WAIT, conn.closed()).await.unwrap());
    beats.abort();

    still_served(&a, &mut ea, &b).await;
    assert_eq!(a.nodes(), [b.name()]);
}

#[tokio::test]
async fn a_peer_that_never_reads_its_lanes_hits_backpressure_not_memory() {
    let mut ca = stall_config("a");
    ca.max_queued_bytes = 1024 * 1024;
    let (a, mut ea) = start_with(ca).await;
    let (b, _eb) = start_with(stall_config("b")).await;
    b.connect(a.name()).await.unwrap();
    assert_eq!(next_membership(&mut ea).await, up(b.name()));

    // The raw peer stays alive (heartbeats) but never accepts A's lanes.
    let (_client, conn, mut send, _recv) = raw_peer(a.local_addr().unwrap()).await;
    assert_eq!(next_membership(&mut ea).await, up(RAW_NAME));
    let beats = tokio::spawn(async move {
        for _ in 0..400 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut hb = Vec::new();
            Frame::new(FrameKind::Heartbeat, Vec::new())
                .encode_into(&mut hb)
                .unwrap();
            if send.write_all(&hb).await.is_err() {
                return;
            }
        }
    });

    let chunk = vec![3u8; 64 * 1024];
    let mut sent = 0usize;
    let refused = loop {
        match a.send_on(RAW_NAME, 0, FrameKind::Send, &chunk) {
            Ok(()) => sent += chunk.len(),
            Err(ironwood_net::transport::NetError::Backpressure { queued, max, .. }) => {
                assert!(queued <= max);
                break true;
            }
            Err(e) => panic!("{e}"),
        }
        // Let the writers run: only flow control holds them back.
        tokio::time::sleep(Duration::from_millis(2)).await;
        if sent > 64 * 1024 * 1024 {
            break false;
        }
    };
    assert!(
        refused,
        "{sent} bytes accepted for a peer that reads nothing"
    );
    // It stays refused: the stalled peer does not drain.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(a.send_on(RAW_NAME, 0, FrameKind::Send, &chunk).is_err());
    assert!(a.queued_bytes(RAW_NAME) <= 1024 * 1024);
    // Still connected, and other peers are served.
    assert!(a.nodes().contains(&RAW_NAME.to_owned()));
    still_served(&a, &mut ea, &b).await;
    beats.abort();
    drop(conn);
}
