//! One connection's life: the cookie handshake on the first bidirectional
//! stream, then a reader, a writer and a heartbeat task until it closes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use ironwood_core::codec::{CloseCode, CodecError, Frame, FrameDecoder, FrameKind, HEADER_LEN};
use ironwood_core::handshake::{EXPORTER_LABEL, EXPORTER_LEN, Handshake, NONCE_LEN, Role};
use quinn::{Connection, ConnectionError, RecvStream, SendStream};
use tokio::sync::mpsc;

use super::error::NetError;
use super::heartbeat;
use super::mesh;
use super::node::{DUPLICATE, Event, LANES, PeerQueues, STALLED, Shared, close_code};
use crate::now_millis;

/// The largest handshake frame payload read (a Hello's name is at most 255
/// bytes): an unauthenticated peer can make us buffer no more than this.
const HANDSHAKE_MAX_FRAME: u32 = 1024;
/// Read buffer for established connections.
const READ_CHUNK: usize = 64 * 1024;
/// The writer coalesces queued frames up to this many bytes per write.
const WRITE_BATCH: usize = 256 * 1024;

/// Accepts connections until the endpoint closes; each is handshaken on
/// its own task, bounded by the handshake timeout.
pub(crate) async fn accept_loop(shared: Arc<Shared>) {
    while let Some(incoming) = shared.endpoint.accept().await {
        let s = shared.clone();
        tokio::spawn(async move {
            let timeout = s.config.handshake_timeout;
            let s2 = s.clone();
            let fut = async move {
                let conn = incoming
                    .await
                    .map_err(|e| NetError::Connect(e.to_string()))?;
                establish(s2, conn, Role::Acceptor, None).await
            };
            match tokio::time::timeout(timeout, fut).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => log::warn!("{}: refused an incoming connection: {e}", s.name),
                Err(_) => log::warn!("{}: incoming handshake timed out", s.name),
            }
        });
    }
}

/// Runs the handshake on `conn`, registers the peer and starts its tasks.
/// Returns the peer's full name. On failure the connection is closed with
/// the reason's code and nothing is registered; so is a peer whose name is
/// not `expect` (when given).
pub(crate) async fn establish(
    shared: Arc<Shared>,
    conn: Connection,
    role: Role,
    expect: Option<&str>,
) -> Result<String, NetError> {
    let (peer, send, recv) = match handshake(&shared, &conn, role).await {
        Ok(ok) => ok,
        Err((code, err)) => {
            conn.close(close_code(code), err.to_string().as_bytes());
            return Err(err);
        }
    };
    if peer == shared.name {
        conn.close(close_code(CloseCode::NORMAL), b"connected to itself");
        return Err(NetError::Connect("connected to this node itself".into()));
    }
    if let Some(expect) = expect
        && expect != peer
    {
        // "disconnect": the other side must not reconnect either.
        conn.close(close_code(CloseCode::NORMAL), b"disconnect");
        return Err(NetError::Connect(format!(
            "expected {expect}, the address now answers as {peer}"
        )));
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let dialer = match role {
        Role::Initiator => shared.name.clone(),
        Role::Acceptor => peer.clone(),
    };
    // The writers start first so the gossip queued by `register` flows.
    // Lane streams are opened on their first frame.
    tokio::spawn(writer(send, rx));
    let queued = Arc::new(AtomicUsize::new(0));
    let lanes = (0..LANES)
        .map(|_| {
            let (ltx, lrx) = mpsc::unbounded_channel();
            tokio::spawn(lane_writer(conn.clone(), lrx, queued.clone()));
            ltx
        })
        .collect();
    let queues = PeerQueues {
        control: tx.clone(),
        lanes,
        queued,
    };
    let Some(id) = shared.register(&peer, conn.clone(), queues, dialer) else {
        return Ok(peer);
    };
    let last_heard = Arc::new(AtomicU64::new(now_millis()));
    tokio::spawn(heartbeats(
        shared.clone(),
        conn.clone(),
        peer.clone(),
        id,
        tx.clone(),
        last_heard.clone(),
    ));
    tokio::spawn(accept_lanes(
        shared.clone(),
        conn.clone(),
        peer.clone(),
        id,
        tx.clone(),
        last_heard.clone(),
    ));
    tokio::spawn(reader(shared, conn, peer.clone(), id, recv, tx, last_heard));
    Ok(peer)
}

type Refusal = (CloseCode, NetError);

fn auth_failed(e: impl std::fmt::Display) -> Refusal {
    (CloseCode::AUTH_FAILED, NetError::AuthFailed(e.to_string()))
}

/// What the peer's closing of the connection means for us.
fn read_refusal(e: impl std::fmt::Display, conn: &Connection) -> Refusal {
    match conn.close_reason() {
        Some(ConnectionError::ApplicationClosed(c))
            if c.error_code == close_code(CloseCode::AUTH_FAILED) =>
        {
            auth_failed(format!(
                "refused by the peer: {}",
                String::from_utf8_lossy(&c.reason)
            ))
        }
        _ => (
            CloseCode::PROTOCOL_ERROR,
            NetError::Connect(format!("during the handshake: {e}")),
        ),
    }
}

async fn write_frames(
    send: &mut SendStream,
    frames: &[Frame],
    conn: &Connection,
) -> Result<(), Refusal> {
    let mut out = Vec::new();
    for f in frames {
        f.encode_into(&mut out).map_err(auth_failed)?;
    }
    send.write_all(&out)
        .await
        .map_err(|e| read_refusal(e, conn))
}

/// Reads exactly one frame, refusing more than [`HANDSHAKE_MAX_FRAME`]
/// bytes, and nothing beyond it, so no post-handshake byte is consumed.
async fn read_one_frame(recv: &mut RecvStream, conn: &Connection) -> Result<Frame, Refusal> {
    let mut header = [0u8; HEADER_LEN];
    recv.read_exact(&mut header)
        .await
        .map_err(|e| read_refusal(e, conn))?;
    let mut dec = FrameDecoder::with_max_frame_size(HANDSHAKE_MAX_FRAME);
    dec.push(&header);
    if let Err(e) = dec.next_frame() {
        return Err((e.close_code(), NetError::AuthFailed(e.to_string())));
    }
    let len = u32::from_be_bytes([header[2], header[3], header[4], header[5]]) as usize;
    let mut body = vec![0u8; len];
    recv.read_exact(&mut body)
        .await
        .map_err(|e| read_refusal(e, conn))?;
    dec.push(&body);
    match dec.next_frame() {
        Ok(Some(f)) => Ok(f),
        Ok(None) => Err(auth_failed("truncated handshake frame")),
        Err(e) => Err((e.close_code(), NetError::AuthFailed(e.to_string()))),
    }
}

async fn handshake(
    shared: &Shared,
    conn: &Connection,
    role: Role,
) -> Result<(String, SendStream, RecvStream), Refusal> {
    let mut exporter = [0u8; EXPORTER_LEN];
    conn.export_keying_material(&mut exporter, EXPORTER_LABEL, b"")
        .map_err(|_| auth_failed("TLS keying-material export failed"))?;
    let nonce: [u8; NONCE_LEN] = rand::random();
    let (mut send, mut recv) = match role {
        Role::Initiator => conn.open_bi().await,
        Role::Acceptor => conn.accept_bi().await,
    }
    .map_err(|e| read_refusal(e, conn))?;
    let (mut hs, first) = Handshake::new(role, &shared.cookie, exporter, &shared.name, nonce);
    if !first.is_empty() {
        write_frames(&mut send, &first, conn).await?;
    }
    loop {
        let frame = read_one_frame(&mut recv, conn).await?;
        let out = hs
            .on_frame(&frame)
            .map_err(|e| (e.close_code(), NetError::AuthFailed(e.to_string())))?;
        if !out.is_empty() {
            write_frames(&mut send, &out, conn).await?;
        }
        if let Some(peer) = hs.peer_name() {
            return Ok((peer.to_owned(), send, recv));
        }
    }
}

/// Writes queued frames in order, coalescing what is queued into one
/// write. Ends when every sender is gone (the peer was removed) or the
/// stream fails.
async fn writer(mut send: SendStream, mut rx: mpsc::UnboundedReceiver<Vec<u8>>) {
    while let Some(mut buf) = rx.recv().await {
        while buf.len() < WRITE_BATCH {
            match rx.try_recv() {
                Ok(more) => buf.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        if send.write_all(&buf).await.is_err() {
            return;
        }
    }
    let _ = send.finish();
}

/// Writes one lane's frames in order on its own unidirectional stream,
/// opened on the first frame, coalescing like [`writer`]; releases the
/// bytes from the peer's queue count once written.
async fn lane_writer(
    conn: Connection,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    queued: Arc<AtomicUsize>,
) {
    let mut send: Option<SendStream> = None;
    while let Some(mut buf) = rx.recv().await {
        while buf.len() < WRITE_BATCH {
            match rx.try_recv() {
                Ok(more) => buf.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        let stream = match &mut send {
            Some(s) => s,
            None => match conn.open_uni().await {
                Ok(s) => send.insert(s),
                Err(_) => return,
            },
        };
        if stream.write_all(&buf).await.is_err() {
            return;
        }
        queued.fetch_sub(buf.len(), Ordering::AcqRel);
    }
    if let Some(mut s) = send {
        let _ = s.finish();
    }
}

/// Sends a heartbeat every interval and declares the peer down as soon as it
/// has been silent for longer than the timeout (checked at that deadline,
/// not at the next tick).
async fn heartbeats(
    shared: Arc<Shared>,
    conn: Connection,
    peer: String,
    id: u64,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    last_heard: Arc<AtomicU64>,
) {
    let timeout = shared.config.heartbeat_timeout.as_millis() as u64;
    let mut tick = tokio::time::interval(shared.config.heartbeat_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let Some(beat) = shared.frame_bytes(FrameKind::Heartbeat, &[]) else {
        return;
    };
    loop {
        let due =
            heartbeat::until_timeout(now_millis(), last_heard.load(Ordering::Acquire), timeout);
        let beat_now = tokio::select! {
            _ = tick.tick() => true,
            () = tokio::time::sleep(std::time::Duration::from_millis(due)) => false,
            _ = conn.closed() => return,
        };
        if heartbeat::timed_out(now_millis(), last_heard.load(Ordering::Acquire), timeout) {
            log::warn!("{}: no heartbeat from {peer} for {timeout} ms", shared.name);
            shared.peer_lost(&peer, id, "heartbeat_timeout", CloseCode::HEARTBEAT_TIMEOUT);
            return;
        }
        if beat_now
            && !shared.heartbeats_frozen.load(Ordering::Acquire)
            && tx.send(beat.clone()).is_err()
        {
            return;
        }
    }
}

/// The NodeDown reason for a close code (ours or the peer's).
fn reason_for(code: CloseCode) -> &'static str {
    match code {
        CloseCode::AUTH_FAILED => "auth_failed",
        CloseCode::HEARTBEAT_TIMEOUT => "heartbeat_timeout",
        CloseCode::FRAME_TOO_LARGE => "frame_too_large",
        CloseCode::PROTOCOL_ERROR => "protocol_error",
        CloseCode::UNSUPPORTED_VERSION => "unsupported_version",
        CloseCode::UNKNOWN_KIND => "unknown_kind",
        STALLED => "frame_timeout",
        _ => "closed",
    }
}

fn reason_for_connection_error(e: &ConnectionError) -> &'static str {
    match e {
        ConnectionError::ApplicationClosed(c) => reason_for(CloseCode(
            u16::try_from(c.error_code.into_inner()).unwrap_or(u16::MAX),
        )),
        ConnectionError::TimedOut => "connection_timeout",
        ConnectionError::LocallyClosed => "closed",
        _ => "connection_lost",
    }
}

/// How reading one stream ended.
enum End {
    /// The peer finished the stream.
    Finished,
    /// The stream or connection failed (see the connection's close reason).
    Failed,
    /// Close the connection with this reason and code.
    Stop(&'static str, CloseCode),
}

/// Reads frames from one stream (the control stream or a lane) and hands
/// them to [`on_frame`]. Any byte counts as life for the heartbeat check,
/// but a frame whose first byte has arrived must be complete within
/// `frame_timeout`: a peer that stalls (or trickles) mid-frame is stopped
/// with `frame_timeout` even if its heartbeats keep coming.
async fn read_frames(
    shared: &Arc<Shared>,
    peer: &str,
    recv: &mut RecvStream,
    tx: &mpsc::UnboundedSender<Vec<u8>>,
    last_heard: &AtomicU64,
) -> End {
    let mut dec = FrameDecoder::with_max_frame_size(shared.config.max_frame_size);
    let mut buf = vec![0u8; READ_CHUNK];
    let frame_timeout = shared.config.frame_timeout;
    // When the oldest incomplete frame's first bytes arrived.
    let mut partial_since: Option<tokio::time::Instant> = None;
    loop {
        let read = match partial_since {
            Some(since) => {
                match tokio::time::timeout_at(since + frame_timeout, recv.read(&mut buf)).await {
                    Ok(r) => r,
                    Err(_) => {
                        log::warn!(
                            "{}: closing {peer}: a frame incomplete for {} ms",
                            shared.name,
                            frame_timeout.as_millis()
                        );
                        return End::Stop("frame_timeout", STALLED);
                    }
                }
            }
            None => recv.read(&mut buf).await,
        };
        match read {
            Ok(Some(n)) => {
                last_heard.store(now_millis(), Ordering::Release);
                dec.push(&buf[..n]);
                let mut completed = false;
                loop {
                    match dec.next_frame() {
                        Ok(Some(frame)) => {
                            completed = true;
                            if let Err((reason, code)) = on_frame(shared, peer, tx, frame) {
                                return End::Stop(reason, code);
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            log::warn!("{}: closing {peer}: {e}", shared.name);
                            return End::Stop(codec_reason(&e), e.close_code());
                        }
                    }
                }
                partial_since = if dec.buffered_len() == 0 {
                    None
                } else if completed || partial_since.is_none() {
                    Some(tokio::time::Instant::now())
                } else {
                    partial_since
                };
            }
            Ok(None) => return End::Finished,
            Err(_) => return End::Failed,
        }
    }
}

/// Accepts the peer's lane streams (at most [`LANES`] open at once, a QUIC
/// limit) and reads each on its own task until the connection ends.
async fn accept_lanes(
    shared: Arc<Shared>,
    conn: Connection,
    peer: String,
    id: u64,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    last_heard: Arc<AtomicU64>,
) {
    while let Ok(mut recv) = conn.accept_uni().await {
        let (shared, peer, tx, last_heard) =
            (shared.clone(), peer.clone(), tx.clone(), last_heard.clone());
        tokio::spawn(async move {
            // A finished or failed lane ends quietly: the control stream's
            // reader reports the connection's end.
            if let End::Stop(reason, code) =
                read_frames(&shared, &peer, &mut recv, &tx, &last_heard).await
            {
                shared.peer_lost(&peer, id, reason, code);
            }
        });
    }
}

/// Reads the control stream until the connection ends, then reports the
/// peer lost with the reason (a no-op if someone already did).
async fn reader(
    shared: Arc<Shared>,
    conn: Connection,
    peer: String,
    id: u64,
    mut recv: RecvStream,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    last_heard: Arc<AtomicU64>,
) {
    let (reason, code) = match read_frames(&shared, &peer, &mut recv, &tx, &last_heard).await {
        End::Stop(reason, code) => (reason, code),
        // The peer finished its stream: an orderly goodbye.
        End::Finished => ("closed", CloseCode::NORMAL),
        End::Failed => {
            if let Some(ConnectionError::ApplicationClosed(c)) = conn.close_reason() {
                if c.error_code == close_code(DUPLICATE) {
                    // The peer kept another connection to us, which is
                    // finishing its handshake here and will replace this
                    // one silently; only if it never does is the peer down.
                    let grace = shared.config.handshake_timeout;
                    tokio::spawn(async move {
                        tokio::time::sleep(grace).await;
                        shared.peer_lost(&peer, id, "closed", CloseCode::NORMAL);
                    });
                    return;
                }
                if c.error_code == close_code(CloseCode::NORMAL) && &c.reason[..] == b"disconnect" {
                    // The peer disconnected on purpose: do not reconnect.
                    shared.peer_lost_no_retry(&peer, id, "closed", CloseCode::NORMAL);
                    return;
                }
            }
            let reason = conn
                .close_reason()
                .as_ref()
                .map_or("connection_lost", reason_for_connection_error);
            (reason, CloseCode::NORMAL)
        }
    };
    shared.peer_lost(&peer, id, reason, code);
}

fn codec_reason(e: &CodecError) -> &'static str {
    reason_for(e.close_code())
}

/// Handles one frame from an authenticated peer; `Err` closes it.
fn on_frame(
    shared: &Arc<Shared>,
    peer: &str,
    tx: &mpsc::UnboundedSender<Vec<u8>>,
    frame: Frame,
) -> Result<(), (&'static str, CloseCode)> {
    match frame.kind {
        FrameKind::Heartbeat => {
            if !shared.heartbeats_frozen.load(Ordering::Acquire)
                && let Some(ack) = shared.frame_bytes(FrameKind::HeartbeatAck, &[])
            {
                let _ = tx.send(ack);
            }
            Ok(())
        }
        FrameKind::HeartbeatAck => Ok(()),
        FrameKind::Close => {
            let code = frame.as_close().map_or(CloseCode::NORMAL, |(c, _)| c);
            Err((reason_for(code), CloseCode::NORMAL))
        }
        FrameKind::Nodes => {
            let Some(names) = mesh::decode_nodes(&frame.payload) else {
                log::warn!("{}: malformed Nodes frame from {peer}", shared.name);
                return Err(("protocol_error", CloseCode::PROTOCOL_ERROR));
            };
            for name in names {
                shared.dial_learnt(name);
            }
            Ok(())
        }
        FrameKind::Hello | FrameKind::Challenge | FrameKind::Proof => {
            log::warn!(
                "{}: {} frame from {peer} after the handshake",
                shared.name,
                frame.kind
            );
            Err(("protocol_error", CloseCode::PROTOCOL_ERROR))
        }
        kind => {
            shared.emit(Event::Frame {
                from: peer.to_owned(),
                kind,
                payload: frame.payload,
            });
            Ok(())
        }
    }
}
