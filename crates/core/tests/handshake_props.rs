//! Property tests for the cluster handshake: two state machines driven
//! against each other over a simulated, in-order link.

use ironwood_core::codec::{Frame, FrameKind};
use ironwood_core::handshake::{EXPORTER_LEN, Handshake, HandshakeError, NONCE_LEN, Role};
use proptest::prelude::*;

struct Outcome {
    initiator: Option<String>,
    acceptor: Option<String>,
    acceptor_error: Option<HandshakeError>,
    frames_to_initiator: Vec<Frame>,
}

fn run(
    cookies: (&[u8], &[u8]),
    exporters: ([u8; EXPORTER_LEN], [u8; EXPORTER_LEN]),
    nonces: ([u8; NONCE_LEN], [u8; NONCE_LEN]),
) -> Outcome {
    let (mut i, mut to_a) =
        Handshake::new(Role::Initiator, cookies.0, exporters.0, "i@h:1", nonces.0);
    let (mut a, _) = Handshake::new(Role::Acceptor, cookies.1, exporters.1, "a@h:2", nonces.1);
    let mut acceptor_error = None;
    let mut frames_to_initiator = Vec::new();
    // The handshake is at most three flights; a few extra rounds are no-ops.
    for _ in 0..5 {
        let mut to_i = Vec::new();
        for f in to_a.drain(..) {
            match a.on_frame(&f) {
                Ok(out) => to_i.extend(out),
                Err(e) => acceptor_error = Some(e),
            }
        }
        frames_to_initiator.extend(to_i.iter().cloned());
        for f in to_i {
            if let Ok(out) = i.on_frame(&f) {
                to_a.extend(out);
            }
        }
    }
    Outcome {
        initiator: i.peer_name().map(str::to_owned),
        acceptor: a.peer_name().map(str::to_owned),
        acceptor_error,
        frames_to_initiator,
    }
}

proptest! {
    #[test]
    fn matching_cookies_always_authenticate(
        cookie in prop::collection::vec(any::<u8>(), 0..64),
        exp in any::<[u8; 32]>(),
        ni in any::<[u8; 32]>(),
        na in any::<[u8; 32]>(),
    ) {
        let o = run((&cookie, &cookie), (exp, exp), (ni, na));
        prop_assert_eq!(o.initiator.as_deref(), Some("a@h:2"));
        prop_assert_eq!(o.acceptor.as_deref(), Some("i@h:1"));
    }

    #[test]
    fn different_cookies_never_authenticate_and_acceptor_never_proves(
        c1 in prop::collection::vec(any::<u8>(), 1..32),
        c2 in prop::collection::vec(any::<u8>(), 1..32),
        exp in any::<[u8; 32]>(),
        ni in any::<[u8; 32]>(),
        na in any::<[u8; 32]>(),
    ) {
        prop_assume!(c1 != c2);
        let o = run((&c1, &c2), (exp, exp), (ni, na));
        prop_assert_eq!(o.initiator, None);
        prop_assert_eq!(o.acceptor, None);
        prop_assert_eq!(o.acceptor_error, Some(HandshakeError::BadProof));
        prop_assert!(o.frames_to_initiator.iter().all(|f| f.kind != FrameKind::Proof));
    }

    #[test]
    fn different_tls_sessions_never_authenticate(
        e1 in any::<[u8; 32]>(),
        e2 in any::<[u8; 32]>(),
        ni in any::<[u8; 32]>(),
        na in any::<[u8; 32]>(),
    ) {
        prop_assume!(e1 != e2);
        let o = run((b"cookie", b"cookie"), (e1, e2), (ni, na));
        prop_assert_eq!(o.acceptor, None);
        prop_assert_eq!(o.initiator, None);
    }

    #[test]
    fn arbitrary_frames_never_panic_or_authenticate(
        frames in prop::collection::vec(
            (prop::sample::select(FrameKind::ALL.to_vec()), prop::collection::vec(any::<u8>(), 0..40)),
            0..8,
        ),
    ) {
        // A peer without the cookie, sending anything in any order.
        let (mut a, _) = Handshake::new(Role::Acceptor, b"cookie", [3; 32], "a@h:2", [4; 32]);
        for (kind, payload) in frames {
            if kind == FrameKind::Close && payload.len() < 2 {
                continue;
            }
            let _ = a.on_frame(&Frame::new(kind, payload));
        }
        prop_assert!(!a.is_done());
    }
}
