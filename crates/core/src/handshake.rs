//! The cluster handshake as a sans-IO state machine (the quinn-proto habit):
//! frames go in through [`Handshake::on_frame`], frames to send come out, and
//! nothing here touches a socket, a clock or a random source. The transport
//! in `crates/net` supplies the nonce (from a CSPRNG) and the TLS session's
//! keying-material exporter, and writes what this returns.
//!
//! The sequence (see `docs/cluster-transport.md`), on the connection's first
//! bidirectional stream, opened by the initiator (the dialing node):
//!
//! ```text
//! initiator                                acceptor
//!   Hello(name_i), Challenge(nonce_i)  -->
//!                                      <--  Hello(name_a), Challenge(nonce_a)
//!   Proof(mac_i)                       -->  verify mac_i (else Close AuthFailed)
//!                                      <--  Proof(mac_a)
//!   verify mac_a (else Close AuthFailed)
//! ```
//!
//! `mac_x = HMAC-SHA256(cookie, LABEL ‖ exporter ‖ nonce_i ‖ nonce_a ‖ role_x
//! ‖ len(name_i) ‖ name_i ‖ len(name_a) ‖ name_a)`. The exporter binds the
//! proof to this TLS session, so a proof relayed from another session (a
//! man in the middle terminating TLS on both sides) or replayed from an old
//! one does not verify; the fresh nonces make every proof single-use; the
//! role byte stops a peer from reflecting our own proof back. As in Erlang
//! distribution, the initiator proves first and the acceptor only proves
//! after verifying it, so merely connecting to a node yields no proof to
//! attack offline.

use std::error::Error;
use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::codec::{CloseCode, Frame, FrameKind};

/// Length of a handshake nonce (a [`FrameKind::Challenge`] payload).
pub const NONCE_LEN: usize = 32;
/// Length of the TLS keying material the proof is bound to.
pub const EXPORTER_LEN: usize = 32;
/// Length of a proof (a [`FrameKind::Proof`] payload): an HMAC-SHA256.
pub const PROOF_LEN: usize = 32;
/// The longest node name a Hello may carry, in bytes.
pub const MAX_NAME_LEN: usize = 255;
/// The label the transport passes to the TLS keying-material exporter.
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-ironwood-cookie-v1";
/// Domain separation for the proof's HMAC input.
const PROOF_LABEL: &[u8] = b"ironwood/handshake/v1/proof";

/// Which end of the connection this node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The node that dialed and opened the handshake stream. Proves first.
    Initiator,
    /// The node that accepted the connection. Proves only after verifying.
    Acceptor,
}

impl Role {
    const fn byte(self) -> u8 {
        match self {
            Role::Initiator => 0x01,
            Role::Acceptor => 0x02,
        }
    }
}

/// Everything a proof is computed over.
#[derive(Debug, Clone, Copy)]
pub struct ProofInput<'a> {
    /// The shared secret.
    pub cookie: &'a [u8],
    /// The TLS session's exported keying material ([`EXPORTER_LABEL`]).
    pub exporter: &'a [u8; EXPORTER_LEN],
    /// The initiator's nonce.
    pub initiator_nonce: &'a [u8; NONCE_LEN],
    /// The acceptor's nonce.
    pub acceptor_nonce: &'a [u8; NONCE_LEN],
    /// The initiator's node name.
    pub initiator_name: &'a str,
    /// The acceptor's node name.
    pub acceptor_name: &'a str,
}

fn mac(input: &ProofInput<'_>, role: Role) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this never fails.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(input.cookie)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    m.update(PROOF_LABEL);
    m.update(input.exporter);
    m.update(input.initiator_nonce);
    m.update(input.acceptor_nonce);
    m.update(&[role.byte()]);
    for name in [input.initiator_name, input.acceptor_name] {
        // Names are at most MAX_NAME_LEN bytes; length-prefixed so that no
        // two (name_i, name_a) pairs share an encoding.
        m.update(&(name.len() as u16).to_be_bytes());
        m.update(name.as_bytes());
    }
    m
}

/// The proof the node playing `role` sends.
#[must_use]
pub fn compute_proof(input: &ProofInput<'_>, role: Role) -> [u8; PROOF_LEN] {
    mac(input, role).finalize().into_bytes().into()
}

/// Whether `proof` is the one the node playing `role` must send. Compared
/// in constant time.
#[must_use]
pub fn verify_proof(input: &ProofInput<'_>, role: Role, proof: &[u8]) -> bool {
    mac(input, role).verify_slice(proof).is_ok()
}

/// Why a handshake failed. Every variant closes the connection with
/// [`CloseCode::AUTH_FAILED`]; the peer never becomes a connected node.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// A frame that does not belong at this point of the handshake (any
    /// non-handshake kind, or a handshake kind out of order).
    UnexpectedFrame(FrameKind),
    /// A Hello whose name is empty, too long or not UTF-8.
    InvalidName,
    /// A Challenge that is not exactly [`NONCE_LEN`] bytes.
    MalformedChallenge,
    /// The peer's proof does not verify: wrong cookie, or a relayed or
    /// replayed handshake.
    BadProof,
    /// The peer closed the connection during the handshake.
    PeerClosed(CloseCode),
    /// A frame arrived after the handshake had already finished or failed.
    Finished,
}

impl HandshakeError {
    /// The code to close the connection with.
    #[must_use]
    pub const fn close_code(&self) -> CloseCode {
        CloseCode::AUTH_FAILED
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::UnexpectedFrame(k) => {
                write!(f, "unexpected {k} frame during the handshake")
            }
            HandshakeError::InvalidName => f.write_str("invalid node name in Hello"),
            HandshakeError::MalformedChallenge => {
                write!(f, "Challenge payload is not {NONCE_LEN} bytes")
            }
            HandshakeError::BadProof => {
                f.write_str("the peer's proof does not verify (wrong cookie?)")
            }
            HandshakeError::PeerClosed(code) => {
                write!(f, "the peer closed during the handshake: {code}")
            }
            HandshakeError::Finished => f.write_str("the handshake is already over"),
        }
    }
}

impl Error for HandshakeError {}

/// Where the state machine stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Waiting for the peer's Hello (then its Challenge).
    AwaitHello,
    /// Got the peer's Hello, waiting for its Challenge.
    AwaitChallenge,
    /// Waiting for the peer's Proof.
    AwaitProof,
    /// Authenticated.
    Done,
    /// Failed; every later frame is refused.
    Failed,
}

/// One side of a handshake. Create it with [`Handshake::new`], send the
/// frames it returns, then feed every frame read from the handshake stream
/// to [`Handshake::on_frame`] and send what it returns, until
/// [`Handshake::peer_name`] is `Some` (authenticated) or it returns an
/// error (close the connection with [`HandshakeError::close_code`]). After
/// an error the machine stays failed. Deterministic: the same inputs give
/// the same frames.
#[derive(Debug, Clone)]
pub struct Handshake {
    role: Role,
    cookie: Vec<u8>,
    exporter: [u8; EXPORTER_LEN],
    own_name: String,
    own_nonce: [u8; NONCE_LEN],
    peer_name: Option<String>,
    peer_nonce: Option<[u8; NONCE_LEN]>,
    state: State,
}

impl Handshake {
    /// Starts a handshake. The initiator gets its Hello and Challenge to
    /// send; the acceptor gets nothing and waits. `nonce` must be fresh
    /// random bytes for every connection; `exporter` is the TLS session's
    /// keying material for [`EXPORTER_LABEL`].
    #[must_use]
    pub fn new(
        role: Role,
        cookie: &[u8],
        exporter: [u8; EXPORTER_LEN],
        own_name: &str,
        nonce: [u8; NONCE_LEN],
    ) -> (Handshake, Vec<Frame>) {
        let hs = Handshake {
            role,
            cookie: cookie.to_vec(),
            exporter,
            own_name: own_name.to_owned(),
            own_nonce: nonce,
            peer_name: None,
            peer_nonce: None,
            state: State::AwaitHello,
        };
        let out = match role {
            Role::Initiator => hs.hello_and_challenge(),
            Role::Acceptor => Vec::new(),
        };
        (hs, out)
    }

    /// The authenticated peer's name, once the handshake succeeded.
    #[must_use]
    pub fn peer_name(&self) -> Option<&str> {
        match self.state {
            State::Done => self.peer_name.as_deref(),
            _ => None,
        }
    }

    /// Whether the handshake succeeded.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    fn hello_and_challenge(&self) -> Vec<Frame> {
        vec![
            Frame::new(FrameKind::Hello, self.own_name.as_bytes()),
            Frame::new(FrameKind::Challenge, self.own_nonce.to_vec()),
        ]
    }

    fn proof(&self, role: Role) -> Option<[u8; PROOF_LEN]> {
        let peer_name = self.peer_name.as_deref()?;
        let peer_nonce = self.peer_nonce.as_ref()?;
        let input = match self.role {
            Role::Initiator => ProofInput {
                cookie: &self.cookie,
                exporter: &self.exporter,
                initiator_nonce: &self.own_nonce,
                acceptor_nonce: peer_nonce,
                initiator_name: &self.own_name,
                acceptor_name: peer_name,
            },
            Role::Acceptor => ProofInput {
                cookie: &self.cookie,
                exporter: &self.exporter,
                initiator_nonce: peer_nonce,
                acceptor_nonce: &self.own_nonce,
                initiator_name: peer_name,
                acceptor_name: &self.own_name,
            },
        };
        Some(compute_proof(&input, role))
    }

    fn peer_role(&self) -> Role {
        match self.role {
            Role::Initiator => Role::Acceptor,
            Role::Acceptor => Role::Initiator,
        }
    }

    /// Feeds one frame received on the handshake stream; returns the frames
    /// to send in reply (possibly none).
    pub fn on_frame(&mut self, frame: &Frame) -> Result<Vec<Frame>, HandshakeError> {
        let result = self.step(frame);
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    fn step(&mut self, frame: &Frame) -> Result<Vec<Frame>, HandshakeError> {
        if let Some((code, _)) = frame.as_close() {
            return Err(HandshakeError::PeerClosed(code));
        }
        match (&self.state, frame.kind) {
            (State::Done | State::Failed, _) => Err(HandshakeError::Finished),
            (State::AwaitHello, FrameKind::Hello) => {
                let name =
                    std::str::from_utf8(&frame.payload).map_err(|_| HandshakeError::InvalidName)?;
                if name.is_empty() || name.len() > MAX_NAME_LEN {
                    return Err(HandshakeError::InvalidName);
                }
                self.peer_name = Some(name.to_owned());
                self.state = State::AwaitChallenge;
                Ok(Vec::new())
            }
            (State::AwaitChallenge, FrameKind::Challenge) => {
                let nonce: [u8; NONCE_LEN] = frame
                    .payload
                    .as_slice()
                    .try_into()
                    .map_err(|_| HandshakeError::MalformedChallenge)?;
                self.peer_nonce = Some(nonce);
                self.state = State::AwaitProof;
                match self.role {
                    Role::Acceptor => Ok(self.hello_and_challenge()),
                    Role::Initiator => {
                        let proof = self
                            .proof(Role::Initiator)
                            .ok_or(HandshakeError::Finished)?;
                        Ok(vec![Frame::new(FrameKind::Proof, proof.to_vec())])
                    }
                }
            }
            (State::AwaitProof, FrameKind::Proof) => {
                let ok = match self.proof(self.peer_role()) {
                    // Constant-time comparison: no timing oracle on the MAC.
                    Some(expected) => verify_proof_bytes(&expected, &frame.payload),
                    None => false,
                };
                if !ok {
                    return Err(HandshakeError::BadProof);
                }
                self.state = State::Done;
                match self.role {
                    Role::Acceptor => {
                        let proof = self.proof(Role::Acceptor).ok_or(HandshakeError::Finished)?;
                        Ok(vec![Frame::new(FrameKind::Proof, proof.to_vec())])
                    }
                    Role::Initiator => Ok(Vec::new()),
                }
            }
            (_, kind) => Err(HandshakeError::UnexpectedFrame(kind)),
        }
    }
}

/// Constant-time equality of two proofs.
fn verify_proof_bytes(expected: &[u8; PROOF_LEN], got: &[u8]) -> bool {
    let mut diff = 0u8;
    for (a, b) in expected.iter().zip(got) {
        diff |= a ^ b;
    }
    diff == 0 && got.len() == PROOF_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXP: [u8; EXPORTER_LEN] = [7; EXPORTER_LEN];

    fn pair(
        cookie_i: &[u8],
        cookie_a: &[u8],
        exp_i: [u8; 32],
        exp_a: [u8; 32],
    ) -> (
        Result<String, HandshakeError>,
        Result<String, HandshakeError>,
    ) {
        let (mut i, mut to_a) = Handshake::new(Role::Initiator, cookie_i, exp_i, "i@h:1", [1; 32]);
        let (mut a, _) = Handshake::new(Role::Acceptor, cookie_a, exp_a, "a@h:2", [2; 32]);
        let mut res_i = None;
        let mut res_a = None;
        for _ in 0..4 {
            let mut to_i = Vec::new();
            for f in to_a.drain(..) {
                match a.on_frame(&f) {
                    Ok(out) => to_i.extend(out),
                    Err(e) => res_a = Some(Err(e)),
                }
            }
            for f in to_i {
                match i.on_frame(&f) {
                    Ok(out) => to_a.extend(out),
                    Err(e) => res_i = Some(Err(e)),
                }
            }
        }
        let fin = |h: &Handshake, r: Option<Result<String, HandshakeError>>| {
            r.unwrap_or_else(|| {
                h.peer_name()
                    .map(str::to_owned)
                    .ok_or(HandshakeError::Finished)
            })
        };
        (fin(&i, res_i), fin(&a, res_a))
    }

    #[test]
    fn same_cookie_authenticates_both_sides() {
        let (i, a) = pair(b"secret", b"secret", EXP, EXP);
        assert_eq!(i.unwrap(), "a@h:2");
        assert_eq!(a.unwrap(), "i@h:1");
    }

    #[test]
    fn wrong_cookie_fails_at_the_acceptor_before_it_proves() {
        let (i, a) = pair(b"secret", b"other", EXP, EXP);
        assert_eq!(a, Err(HandshakeError::BadProof));
        // The acceptor never sent a proof, so the initiator is still waiting.
        assert_eq!(i, Err(HandshakeError::Finished));
    }

    #[test]
    fn different_tls_sessions_fail() {
        let (_, a) = pair(b"secret", b"secret", EXP, [8; 32]);
        assert_eq!(a, Err(HandshakeError::BadProof));
    }

    #[test]
    fn non_handshake_frame_is_refused_and_sticky() {
        let (mut a, _) = Handshake::new(Role::Acceptor, b"c", EXP, "a@h:2", [2; 32]);
        assert_eq!(
            a.on_frame(&Frame::new(FrameKind::Send, vec![1])),
            Err(HandshakeError::UnexpectedFrame(FrameKind::Send))
        );
        assert_eq!(
            a.on_frame(&Frame::new(FrameKind::Hello, b"x@y:1".to_vec())),
            Err(HandshakeError::Finished)
        );
        assert!(a.peer_name().is_none());
    }

    #[test]
    fn proof_before_challenge_is_refused() {
        let (mut a, _) = Handshake::new(Role::Acceptor, b"c", EXP, "a@h:2", [2; 32]);
        a.on_frame(&Frame::new(FrameKind::Hello, b"i@h:1".to_vec()))
            .unwrap();
        assert_eq!(
            a.on_frame(&Frame::new(FrameKind::Proof, vec![0; 32])),
            Err(HandshakeError::UnexpectedFrame(FrameKind::Proof))
        );
    }

    #[test]
    fn reflected_proof_does_not_verify() {
        let input = ProofInput {
            cookie: b"c",
            exporter: &EXP,
            initiator_nonce: &[1; 32],
            acceptor_nonce: &[2; 32],
            initiator_name: "i",
            acceptor_name: "a",
        };
        let p = compute_proof(&input, Role::Initiator);
        assert!(verify_proof(&input, Role::Initiator, &p));
        assert!(!verify_proof(&input, Role::Acceptor, &p));
        assert!(!verify_proof(&input, Role::Initiator, &p[..31]));
    }

    #[test]
    fn bad_hello_and_challenge_are_refused() {
        let (mut a, _) = Handshake::new(Role::Acceptor, b"c", EXP, "a", [2; 32]);
        assert_eq!(
            a.on_frame(&Frame::new(FrameKind::Hello, Vec::new())),
            Err(HandshakeError::InvalidName)
        );
        let (mut a, _) = Handshake::new(Role::Acceptor, b"c", EXP, "a", [2; 32]);
        a.on_frame(&Frame::new(FrameKind::Hello, b"i".to_vec()))
            .unwrap();
        assert_eq!(
            a.on_frame(&Frame::new(FrameKind::Challenge, vec![0; 31])),
            Err(HandshakeError::MalformedChallenge)
        );
        assert_eq!(
            HandshakeError::BadProof.close_code(),
            CloseCode::AUTH_FAILED
        );
    }
}
