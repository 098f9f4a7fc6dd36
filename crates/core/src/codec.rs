//! The wire codec of the cluster transport: how a QUIC stream between two
//! nodes is cut into *frames*. Sans-IO (the quinn-proto habit): bytes go in
//! through [`FrameDecoder::push`], frames come out of
//! [`FrameDecoder::next_frame`], and nothing here reads a socket, a clock or
//! a thread. Payloads are opaque bytes, usually a MessagePack term encoded by
//! the JS layer, which cross Rust untouched.
//!
//! The layout (see `docs/wire.md`) is a fixed 6-byte header followed by the
//! payload:
//!
//! | offset | size | field                                   |
//! |--------|------|-----------------------------------------|
//! | 0      | 1    | protocol version ([`PROTOCOL_VERSION`]) |
//! | 1      | 1    | frame kind ([`FrameKind`])              |
//! | 2      | 4    | payload length, `u32` big-endian        |
//! | 6      | len  | payload                                 |
//!
//! Why a fixed `u32` rather than a LEB128 varint: after exactly six bytes the
//! decoder knows the whole header and can refuse an oversized length before
//! it buffers a byte of body; there are no overlong or non-canonical
//! encodings to reject; and the header is trivial to read in a packet
//! capture or from JS. A varint would save two or three bytes per frame,
//! which is noise next to QUIC's own per-packet overhead and the msgpack
//! term inside. Four bytes cover any `max_frame_size` a `u32` can express.

use std::error::Error;
use std::fmt;

/// The protocol version this node writes and the only one it accepts. A
/// frame carrying another version is refused with
/// [`CodecError::UnsupportedVersion`]; version negotiation, if it is ever
/// needed, belongs to the Hello exchange, not to the framing.
pub const PROTOCOL_VERSION: u8 = 1;

/// The size of a frame header in bytes: version (1), kind (1), payload
/// length (4, big-endian).
pub const HEADER_LEN: usize = 6;

/// The default maximum payload length of one frame: 8 MiB. Larger frames
/// are refused by both the encoder and the decoder.
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 8 * 1024 * 1024;

/// The size of a Close frame's reason code, which its payload starts with.
const CLOSE_CODE_LEN: usize = 2;

/// Buffer capacity the decoder keeps between frames. After a large frame the
/// buffer is shrunk back to this, so one 8 MiB message does not pin 8 MiB
/// per peer for the life of the connection.
const RETAINED_CAPACITY: usize = 64 * 1024;

/// Capacity above which the buffer is shrunk back to [`RETAINED_CAPACITY`].
/// The gap is hysteresis: a steady flow of frames just above 64 KiB would
/// otherwise grow and shrink the buffer on every frame.
const SHRINK_ABOVE: usize = 4 * RETAINED_CAPACITY;

/// What a frame is for. The numbers are the byte on the wire and never
/// change meaning; they are grouped by area (0x0_ connection, 0x10
/// messaging, 0x2_ links and monitors, 0x3_ RPC, 0x4_ pub/sub, 0x5_ process hub) so a packet
/// capture reads at a glance. 0x00 is never a kind, so zeroed memory is
/// refused as garbage. Apart from [`FrameKind::Close`], whose payload starts
/// with a [`CloseCode`], the codec does not look inside payloads: their
/// content is defined by the transport and the JS layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
#[repr(u8)]
pub enum FrameKind {
    /// Handshake opener: who the sender is (node name, capabilities).
    Hello = 0x01,
    /// Handshake: a nonce the peer must prove knowledge of the cookie over.
    Challenge = 0x02,
    /// Handshake: the answer to a Challenge (an HMAC bound to the TLS
    /// session).
    Proof = 0x03,
    /// Liveness probe; the peer answers with [`FrameKind::HeartbeatAck`].
    Heartbeat = 0x04,
    /// Answer to a [`FrameKind::Heartbeat`].
    HeartbeatAck = 0x05,
    /// Mesh gossip, sent only after the handshake: the node names the sender
    /// is connected to, so the receiver can connect to those it does not
    /// know (full mesh). Payload: `u16` big-endian count, then per name a
    /// `u16` big-endian length and UTF-8 bytes (see `docs/wire.md`).
    Nodes = 0x06,
    /// Orderly or error shutdown of the connection. The payload is a
    /// [`CloseCode`] (`u16` big-endian) followed by an optional UTF-8
    /// reason text; see [`Frame::close`].
    Close = 0x0f,
    /// A message to a process, addressed by pid or registered name.
    Send = 0x10,
    /// Link two processes: an exit of either is propagated to the other.
    Link = 0x20,
    /// Remove a link.
    Unlink = 0x21,
    /// An exit signal travelling along a link.
    Exit = 0x22,
    /// Start monitoring a remote process.
    Monitor = 0x23,
    /// Stop monitoring a remote process.
    Demonitor = 0x24,
    /// A monitored process went down (the monitor's notification).
    Down = 0x25,
    /// A remote procedure call that expects a reply.
    RpcCall = 0x30,
    /// The reply to an [`FrameKind::RpcCall`].
    RpcReply = 0x31,
    /// A remote procedure call that expects no reply.
    RpcCast = 0x32,
    /// Reserved for pub/sub (one copy per remote node, fanned out there).
    /// Accepted and carried like any other kind; its payload is specified
    /// by the pub/sub issue.
    PubSub = 0x40,
    /// Hub: a hub announces itself to a node (or answers an announcement).
    HubHello = 0x50,
    /// Hub: a hub leaves gracefully.
    HubLeave = 0x51,
    /// Hub: start a batch of children on the receiving (owner) node.
    HubStart = 0x52,
    /// Hub: the results of a [`FrameKind::HubStart`].
    HubStartReply = 0x53,
    /// Hub: stop a batch of children on the receiving node.
    HubStop = 0x54,
    /// Hub: the results of a [`FrameKind::HubStop`].
    HubStopReply = 0x55,
    /// Hub: changes to the sender's own registry entries.
    HubUpdate = 0x56,
    /// Hub: the sender's full list of its children (periodic repair).
    HubSync = 0x57,
    /// Hub: children handed to their new owner (cold swap).
    HubMigrate = 0x58,
}

impl FrameKind {
    /// Every kind this version knows, in wire-number order.
    pub const ALL: [FrameKind; 27] = [
        FrameKind::Hello,
        FrameKind::Challenge,
        FrameKind::Proof,
        FrameKind::Heartbeat,
        FrameKind::HeartbeatAck,
        FrameKind::Nodes,
        FrameKind::Close,
        FrameKind::Send,
        FrameKind::Link,
        FrameKind::Unlink,
        FrameKind::Exit,
        FrameKind::Monitor,
        FrameKind::Demonitor,
        FrameKind::Down,
        FrameKind::RpcCall,
        FrameKind::RpcReply,
        FrameKind::RpcCast,
        FrameKind::PubSub,
        FrameKind::HubHello,
        FrameKind::HubLeave,
        FrameKind::HubStart,
        FrameKind::HubStartReply,
        FrameKind::HubStop,
        FrameKind::HubStopReply,
        FrameKind::HubUpdate,
        FrameKind::HubSync,
        FrameKind::HubMigrate,
    ];

    /// The kind whose wire byte is `byte`, or `None` if this version does
    /// not know it.
    #[must_use]
    pub const fn from_u8(byte: u8) -> Option<FrameKind> {
        Some(match byte {
            0x01 => FrameKind::Hello,
            0x02 => FrameKind::Challenge,
            0x03 => FrameKind::Proof,
            0x04 => FrameKind::Heartbeat,
            0x05 => FrameKind::HeartbeatAck,
            0x06 => FrameKind::Nodes,
            0x0f => FrameKind::Close,
            0x10 => FrameKind::Send,
            0x20 => FrameKind::Link,
            0x21 => FrameKind::Unlink,
            0x22 => FrameKind::Exit,
            0x23 => FrameKind::Monitor,
            0x24 => FrameKind::Demonitor,
            0x25 => FrameKind::Down,
            0x30 => FrameKind::RpcCall,
            0x31 => FrameKind::RpcReply,
            0x32 => FrameKind::RpcCast,
            0x40 => FrameKind::PubSub,
            0x50 => FrameKind::HubHello,
            0x51 => FrameKind::HubLeave,
            0x52 => FrameKind::HubStart,
            0x53 => FrameKind::HubStartReply,
            0x54 => FrameKind::HubStop,
            0x55 => FrameKind::HubStopReply,
            0x56 => FrameKind::HubUpdate,
            0x57 => FrameKind::HubSync,
            0x58 => FrameKind::HubMigrate,
            _ => return None,
        })
    }

    /// The byte this kind is written as.
    #[must_use]
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The kind's name, as used in logs and error messages.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            FrameKind::Hello => "Hello",
            FrameKind::Challenge => "Challenge",
            FrameKind::Proof => "Proof",
            FrameKind::Heartbeat => "Heartbeat",
            FrameKind::HeartbeatAck => "HeartbeatAck",
            FrameKind::Nodes => "Nodes",
            FrameKind::Close => "Close",
            FrameKind::Send => "Send",
            FrameKind::Link => "Link",
            FrameKind::Unlink => "Unlink",
            FrameKind::Exit => "Exit",
            FrameKind::Monitor => "Monitor",
            FrameKind::Demonitor => "Demonitor",
            FrameKind::Down => "Down",
            FrameKind::RpcCall => "RpcCall",
            FrameKind::RpcReply => "RpcReply",
            FrameKind::RpcCast => "RpcCast",
            FrameKind::PubSub => "PubSub",
            FrameKind::HubHello => "HubHello",
            FrameKind::HubLeave => "HubLeave",
            FrameKind::HubStart => "HubStart",
            FrameKind::HubStartReply => "HubStartReply",
            FrameKind::HubStop => "HubStop",
            FrameKind::HubStopReply => "HubStopReply",
            FrameKind::HubUpdate => "HubUpdate",
            FrameKind::HubSync => "HubSync",
            FrameKind::HubMigrate => "HubMigrate",
        }
    }

    /// The smallest payload this kind may carry: 2 bytes (the reason code)
    /// for Close, 0 for every other kind.
    #[must_use]
    pub const fn min_payload_len(self) -> usize {
        match self {
            FrameKind::Close => CLOSE_CODE_LEN,
            _ => 0,
        }
    }
}

impl fmt::Display for FrameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<FrameKind> for u8 {
    fn from(kind: FrameKind) -> u8 {
        kind.as_u8()
    }
}

impl TryFrom<u8> for FrameKind {
    type Error = CodecError;

    fn try_from(byte: u8) -> Result<FrameKind, CodecError> {
        FrameKind::from_u8(byte).ok_or(CodecError::UnknownKind(byte))
    }
}

/// Why a connection is being closed: the first two bytes (`u16`
/// big-endian) of a [`FrameKind::Close`] payload. Codes this version does
/// not name are still accepted and shown as numbers, so a newer peer's
/// reason is never itself an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// Orderly shutdown: the node is stopping or no longer needs the peer.
    pub const NORMAL: CloseCode = CloseCode(0);
    /// The peer sent something malformed that has no more specific code.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1);
    /// The peer sent a frame above the maximum frame size.
    pub const FRAME_TOO_LARGE: CloseCode = CloseCode(2);
    /// The peer speaks a protocol version this node does not.
    pub const UNSUPPORTED_VERSION: CloseCode = CloseCode(3);
    /// The peer sent a frame kind this node does not know.
    pub const UNKNOWN_KIND: CloseCode = CloseCode(4);
    /// The handshake failed: wrong cookie, bad proof, or unexpected frame.
    pub const AUTH_FAILED: CloseCode = CloseCode(5);
    /// No heartbeat arrived within the configured timeout.
    pub const HEARTBEAT_TIMEOUT: CloseCode = CloseCode(6);

    /// The code's name in this version, or `None` for a code it does not
    /// know.
    #[must_use]
    pub const fn name(self) -> Option<&'static str> {
        Some(match self {
            CloseCode::NORMAL => "normal",
            CloseCode::PROTOCOL_ERROR => "protocol error",
            CloseCode::FRAME_TOO_LARGE => "frame too large",
            CloseCode::UNSUPPORTED_VERSION => "unsupported version",
            CloseCode::UNKNOWN_KIND => "unknown frame kind",
            CloseCode::AUTH_FAILED => "authentication failed",
            CloseCode::HEARTBEAT_TIMEOUT => "heartbeat timeout",
            _ => return None,
        })
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "close code {}", self.0),
        }
    }
}

/// What was wrong with a frame being encoded or decoded. A decoder that
/// returned one of these is failed for good (see [`FrameDecoder`]); the
/// transport closes that one peer, ideally after sending a Close frame with
/// [`CodecError::close_code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodecError {
    /// The payload length is above the maximum frame size. Decoding refuses
    /// it from the header alone, before buffering any of the body.
    FrameTooLarge {
        /// The payload length that was announced (decoding) or given
        /// (encoding).
        len: u64,
        /// The maximum payload length in force.
        max: u32,
    },
    /// The frame's version byte is not [`PROTOCOL_VERSION`].
    UnsupportedVersion(u8),
    /// The frame's kind byte is not a [`FrameKind`] this version knows.
    UnknownKind(u8),
    /// A Close frame's payload is shorter than its 2-byte reason code.
    MalformedClose {
        /// The payload length that was announced or given.
        len: u32,
    },
}

impl CodecError {
    /// The [`CloseCode`] to send the peer before closing because of this
    /// error.
    #[must_use]
    pub const fn close_code(&self) -> CloseCode {
        match self {
            CodecError::FrameTooLarge { .. } => CloseCode::FRAME_TOO_LARGE,
            CodecError::UnsupportedVersion(_) => CloseCode::UNSUPPORTED_VERSION,
            CodecError::UnknownKind(_) => CloseCode::UNKNOWN_KIND,
            CodecError::MalformedClose { .. } => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::FrameTooLarge { len, max } => write!(
                f,
                "frame payload of {len} bytes exceeds the maximum frame size of {max} bytes"
            ),
            CodecError::UnsupportedVersion(v) => write!(
                f,
                "unsupported protocol version {v} (this node speaks version {PROTOCOL_VERSION})"
            ),
            CodecError::UnknownKind(k) => write!(f, "unknown frame kind 0x{k:02x}"),
            CodecError::MalformedClose { len } => write!(
                f,
                "Close frame payload of {len} bytes is shorter than its 2-byte reason code"
            ),
        }
    }
}

impl Error for CodecError {}

/// One decoded (or to-be-encoded) frame: a kind and its opaque payload. The
/// version is not stored: a frame only exists in this crate if it carries
/// [`PROTOCOL_VERSION`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Frame {
    /// What the frame is for.
    pub kind: FrameKind,
    /// The payload bytes, untouched by the codec (a Close frame's payload
    /// starts with its [`CloseCode`]).
    pub payload: Vec<u8>,
}

impl Frame {
    /// A frame of `kind` carrying `payload`.
    #[must_use]
    pub fn new(kind: FrameKind, payload: impl Into<Vec<u8>>) -> Frame {
        Frame {
            kind,
            payload: payload.into(),
        }
    }

    /// A Close frame: `code` as `u16` big-endian, then `reason` as UTF-8
    /// (may be empty; keep it short, it is for logs).
    #[must_use]
    pub fn close(code: CloseCode, reason: &str) -> Frame {
        let mut payload = Vec::with_capacity(CLOSE_CODE_LEN + reason.len());
        payload.extend_from_slice(&code.0.to_be_bytes());
        payload.extend_from_slice(reason.as_bytes());
        Frame::new(FrameKind::Close, payload)
    }

    /// For a Close frame, its reason code and the reason text's bytes
    /// (UTF-8 by convention, not checked: it comes from the peer). `None`
    /// for any other kind, or for a Close payload too short to hold a code,
    /// which the decoder never returns.
    #[must_use]
    pub fn as_close(&self) -> Option<(CloseCode, &[u8])> {
        if self.kind != FrameKind::Close {
            return None;
        }
        match self.payload.as_slice() {
            [hi, lo, reason @ ..] => Some((CloseCode(u16::from_be_bytes([*hi, *lo])), reason)),
            _ => None,
        }
    }

    /// The number of bytes this frame takes on the wire (header included).
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN.saturating_add(self.payload.len())
    }

    /// Appends this frame to `out` with the default maximum frame size
    /// ([`DEFAULT_MAX_FRAME_SIZE`]); see [`FrameEncoder::encode`].
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        FrameEncoder::new().encode(self.kind, &self.payload, out)
    }
}

/// Writes frames. It holds no state but the maximum frame size, which
/// should match the peer decoder's so that what one side writes the other
/// accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameEncoder {
    max_frame_size: u32,
}

impl Default for FrameEncoder {
    fn default() -> FrameEncoder {
        FrameEncoder::new()
    }
}

impl FrameEncoder {
    /// An encoder with the default maximum frame size (8 MiB).
    #[must_use]
    pub const fn new() -> FrameEncoder {
        FrameEncoder::with_max_frame_size(DEFAULT_MAX_FRAME_SIZE)
    }

    /// An encoder that refuses payloads longer than `max` bytes.
    #[must_use]
    pub const fn with_max_frame_size(max: u32) -> FrameEncoder {
        FrameEncoder {
            max_frame_size: max,
        }
    }

    /// The maximum payload length this encoder writes.
    #[must_use]
    pub const fn max_frame_size(&self) -> u32 {
        self.max_frame_size
    }

    /// Appends one frame (header, then `payload`) to `out`. Refuses, leaving
    /// `out` untouched, a payload above the maximum frame size
    /// ([`CodecError::FrameTooLarge`]) or a Close payload shorter than its
    /// reason code ([`CodecError::MalformedClose`]), so that everything it
    /// writes a decoder with the same limit accepts.
    pub fn encode(
        &self,
        kind: FrameKind,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        let len = match u32::try_from(payload.len()) {
            Ok(len) if len <= self.max_frame_size => len,
            _ => {
                return Err(CodecError::FrameTooLarge {
                    len: payload.len() as u64,
                    max: self.max_frame_size,
                });
            }
        };
        if payload.len() < kind.min_payload_len() {
            return Err(CodecError::MalformedClose { len });
        }
        out.reserve(HEADER_LEN.saturating_add(payload.len()));
        out.push(PROTOCOL_VERSION);
        out.push(kind.as_u8());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(payload);
        Ok(())
    }
}

/// A streaming frame decoder for one peer's stream: feed it byte chunks as
/// they arrive with [`push`](FrameDecoder::push), then call
/// [`next_frame`](FrameDecoder::next_frame) until it returns `Ok(None)`.
/// Frames may be split at any byte boundary and a chunk may hold several.
///
/// **Buffering.** The decoder holds the bytes pushed and not yet returned
/// as frames, and nothing else: it never reserves memory from a length
/// prefix, so a hostile header costs six bytes, not the announced length.
/// The header of the frame being waited for is checked by `push` as soon
/// as its bytes are in (the version after one byte, the kind after two, the
/// length after six) and before the rest of the chunk is appended, so an
/// oversized length is refused before any of its body is buffered and
/// garbage stops the decoder at its first byte. Headers of further frames
/// in the same chunk are checked when `next_frame` reaches them.
/// If you drain after every push, it holds less than one frame
/// (`HEADER_LEN + max_frame_size` bytes) between calls, plus the chunk
/// being pushed. Returned frames are copied out of the buffer into their
/// own `Vec`; consumed bytes are dropped when the buffer empties, or
/// compacted away (the incomplete tail moved to the front) at the next
/// `push`. At those points a buffer grown above 256 KiB by a large frame is
/// shrunk back to 64 KiB, so one big message does not pin its size for the
/// life of the connection.
///
/// **Errors.** An unsupported version, an unknown kind, an oversized
/// length or a malformed Close is a [`CodecError`]. The decoder then stays
/// failed: it frees its buffer, ignores further pushes, and every later
/// `next_frame` returns the same error, because after a bad header the
/// stream has no trustworthy frame boundary left. The transport closes that
/// peer.
///
/// It never panics and every call does a bounded amount of work: one
/// `next_frame` returns at most one frame.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    /// Received bytes; `buf[pos..]` are not yet returned as frames.
    buf: Vec<u8>,
    /// Start of the first frame not yet returned.
    pos: usize,
    max_frame_size: u32,
    /// Set once, by the first error; sticky.
    error: Option<CodecError>,
}

impl Default for FrameDecoder {
    fn default() -> FrameDecoder {
        FrameDecoder::new()
    }
}

/// What the header at the start of the unread bytes says so far.
enum Header {
    /// Fewer than [`HEADER_LEN`] bytes, and those present are valid.
    Incomplete,
    /// A complete, valid header.
    Complete { kind: FrameKind, len: usize },
}

impl FrameDecoder {
    /// A decoder with the default maximum frame size (8 MiB).
    #[must_use]
    pub const fn new() -> FrameDecoder {
        FrameDecoder::with_max_frame_size(DEFAULT_MAX_FRAME_SIZE)
    }

    /// A decoder that refuses frames whose payload is longer than `max`
    /// bytes.
    #[must_use]
    pub const fn with_max_frame_size(max: u32) -> FrameDecoder {
        FrameDecoder {
            buf: Vec::new(),
            pos: 0,
            max_frame_size: max,
            error: None,
        }
    }

    /// The maximum payload length this decoder accepts.
    #[must_use]
    pub const fn max_frame_size(&self) -> u32 {
        self.max_frame_size
    }

    /// The number of bytes received and not yet returned as frames.
    #[must_use]
    pub fn buffered_len(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The error this decoder failed with, if it has.
    #[must_use]
    pub const fn error(&self) -> Option<CodecError> {
        self.error
    }

    /// Appends `chunk` to the bytes to decode. Ignored once the decoder has
    /// failed. If the first pending header turns out invalid, the decoder
    /// fails here and the error comes out of the next
    /// [`next_frame`](FrameDecoder::next_frame).
    pub fn push(&mut self, chunk: &[u8]) {
        if self.error.is_some() || chunk.is_empty() {
            return;
        }
        self.compact(chunk.len());
        // Complete and check the pending header before appending the rest,
        // so a bad header costs its own bytes and not the chunk after it.
        let missing = HEADER_LEN.saturating_sub(self.buf.len());
        let (head, rest) = chunk.split_at(missing.min(chunk.len()));
        if !head.is_empty() {
            self.buf.extend_from_slice(head);
            if let Err(e) = self.header() {
                self.fail(e);
                return;
            }
        }
        self.buf.extend_from_slice(rest);
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed, or the
    /// error that failed this decoder (now or earlier).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, CodecError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let (kind, len) = match self.header() {
            Ok(Header::Complete { kind, len }) => (kind, len),
            Ok(Header::Incomplete) => return Ok(None),
            Err(e) => {
                self.fail(e);
                return Err(e);
            }
        };
        let unread = self.buf.get(self.pos..).unwrap_or_default();
        let Some(payload) = unread.get(HEADER_LEN..).and_then(|body| body.get(..len)) else {
            return Ok(None);
        };
        let frame = Frame::new(kind, payload);
        self.pos += HEADER_LEN + len;
        if self.pos >= self.buf.len() {
            // Everything consumed: reset without moving bytes.
            self.buf.clear();
            self.pos = 0;
            self.release_spare(0);
        }
        Ok(Some(frame))
    }

    /// Reads and checks the header at `pos`, as far as its bytes are in.
    fn header(&self) -> Result<Header, CodecError> {
        let unread = self.buf.get(self.pos..).unwrap_or_default();
        let Some(&version) = unread.first() else {
            return Ok(Header::Incomplete);
        };
        if version != PROTOCOL_VERSION {
            return Err(CodecError::UnsupportedVersion(version));
        }
        let Some(&kind_byte) = unread.get(1) else {
            return Ok(Header::Incomplete);
        };
        let kind = FrameKind::try_from(kind_byte)?;
        let Some(&[a, b, c, d]) = unread.get(2..HEADER_LEN) else {
            return Ok(Header::Incomplete);
        };
        let len = u32::from_be_bytes([a, b, c, d]);
        if len > self.max_frame_size {
            return Err(CodecError::FrameTooLarge {
                len: u64::from(len),
                max: self.max_frame_size,
            });
        }
        let len_usize = usize::try_from(len).map_err(|_| CodecError::FrameTooLarge {
            len: u64::from(len),
            max: self.max_frame_size,
        })?;
        if len_usize < kind.min_payload_len() {
            return Err(CodecError::MalformedClose { len });
        }
        Ok(Header::Complete {
            kind,
            len: len_usize,
        })
    }

    /// Drops consumed bytes before `incoming` more are appended.
    fn compact(&mut self, incoming: usize) {
        if self.pos > 0 {
            // Moves at most one incomplete frame: complete ones were returned.
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.release_spare(incoming);
    }

    /// Shrinks a buffer grown above [`SHRINK_ABOVE`] by a large frame back
    /// to [`RETAINED_CAPACITY`], unless its contents plus `incoming` need
    /// more.
    fn release_spare(&mut self, incoming: usize) {
        let needed = self.buf.len().saturating_add(incoming);
        if self.buf.capacity() > SHRINK_ABOVE && needed <= RETAINED_CAPACITY {
            self.buf.shrink_to(RETAINED_CAPACITY);
        }
    }

    /// Records the first error and frees the buffer: nothing in it can be
    /// trusted any more.
    fn fail(&mut self, e: CodecError) {
        self.error = Some(e);
        self.buf = Vec::new();
        self.pos = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(kind: FrameKind, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        FrameEncoder::new().encode(kind, payload, &mut out).unwrap();
        out
    }

    fn drain(d: &mut FrameDecoder) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(f) = d.next_frame().unwrap() {
            frames.push(f);
        }
        frames
    }

    #[test]
    fn header_layout() {
        let bytes = encode(FrameKind::Send, b"abc");
        assert_eq!(bytes, [1, 0x10, 0, 0, 0, 3, b'a', b'b', b'c']);
        let big = vec![7u8; 0x0001_0203];
        let bytes = encode(FrameKind::RpcCall, &big);
        assert_eq!(&bytes[..HEADER_LEN], &[1, 0x30, 0x00, 0x01, 0x02, 0x03]);
        assert_eq!(bytes.len(), HEADER_LEN + big.len());
    }

    #[test]
    fn kind_bytes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for kind in FrameKind::ALL {
            assert!(seen.insert(kind.as_u8()), "{kind} reuses a byte");
            assert_eq!(FrameKind::from_u8(kind.as_u8()), Some(kind));
            assert_eq!(FrameKind::try_from(u8::from(kind)), Ok(kind));
        }
        let known = (0..=u8::MAX)
            .filter(|b| FrameKind::from_u8(*b).is_some())
            .count();
        assert_eq!(known, FrameKind::ALL.len());
        assert_eq!(FrameKind::from_u8(0), None);
    }

    #[test]
    fn nodes_kind_is_0x06() {
        assert_eq!(FrameKind::Nodes.as_u8(), 0x06);
        assert_eq!(FrameKind::from_u8(0x06), Some(FrameKind::Nodes));
        assert_eq!(FrameKind::Nodes.name(), "Nodes");
        let bytes = encode(FrameKind::Nodes, &[0, 0]);
        assert_eq!(bytes, [PROTOCOL_VERSION, 0x06, 0, 0, 0, 2, 0, 0]);
    }

    #[test]
    fn every_kind_round_trips() {
        let mut wire = Vec::new();
        let frames: Vec<Frame> = FrameKind::ALL
            .iter()
            .map(|&k| Frame::new(k, vec![k.as_u8(); 2 + k.as_u8() as usize]))
            .collect();
        for f in &frames {
            f.encode_into(&mut wire).unwrap();
        }
        let mut d = FrameDecoder::new();
        d.push(&wire);
        assert_eq!(drain(&mut d), frames);
        assert_eq!(d.buffered_len(), 0);
    }

    #[test]
    fn empty_payload() {
        let mut d = FrameDecoder::new();
        d.push(&encode(FrameKind::Heartbeat, b""));
        assert_eq!(
            d.next_frame(),
            Ok(Some(Frame::new(FrameKind::Heartbeat, vec![])))
        );
        assert_eq!(d.next_frame(), Ok(None));
    }

    #[test]
    fn byte_at_a_time() {
        let wire = [
            encode(FrameKind::Hello, b"node@a:1"),
            encode(FrameKind::Heartbeat, b""),
        ]
        .concat();
        let mut d = FrameDecoder::new();
        let mut frames = Vec::new();
        for b in &wire {
            d.push(std::slice::from_ref(b));
            frames.extend(drain(&mut d));
        }
        assert_eq!(
            frames,
            [
                Frame::new(FrameKind::Hello, b"node@a:1".to_vec()),
                Frame::new(FrameKind::Heartbeat, vec![])
            ]
        );
    }

    #[test]
    fn unsupported_version_is_refused_at_first_byte() {
        let mut d = FrameDecoder::new();
        d.push(&[2]);
        assert_eq!(d.next_frame(), Err(CodecError::UnsupportedVersion(2)));
        assert_eq!(d.error(), Some(CodecError::UnsupportedVersion(2)));
    }

    #[test]
    fn unknown_kind_is_refused() {
        let mut d = FrameDecoder::new();
        d.push(&[PROTOCOL_VERSION, 0x00, 0, 0, 0, 0]);
        assert_eq!(d.next_frame(), Err(CodecError::UnknownKind(0)));
        let mut d = FrameDecoder::new();
        d.push(&[PROTOCOL_VERSION, 0xee]);
        assert_eq!(d.next_frame(), Err(CodecError::UnknownKind(0xee)));
    }

    #[test]
    fn oversized_length_is_refused_from_the_header() {
        let mut d = FrameDecoder::with_max_frame_size(16);
        d.push(&[PROTOCOL_VERSION, 0x10, 0, 0, 0, 17]);
        assert_eq!(d.buffered_len(), 0, "failed in push, buffer freed");
        assert_eq!(
            d.next_frame(),
            Err(CodecError::FrameTooLarge { len: 17, max: 16 })
        );
        d.push(&[0; 17]);
        assert_eq!(d.buffered_len(), 0);
        // Header and body in one chunk: the body is never appended.
        let mut d = FrameDecoder::with_max_frame_size(16);
        let mut wire = vec![PROTOCOL_VERSION, 0x10, 0, 0, 0, 100];
        wire.extend_from_slice(&[0; 100]);
        d.push(&wire);
        assert_eq!(
            d.error(),
            Some(CodecError::FrameTooLarge { len: 100, max: 16 })
        );
        assert_eq!(d.buffered_len(), 0);
        // Exactly the maximum is fine.
        let mut d = FrameDecoder::with_max_frame_size(16);
        d.push(&encode(FrameKind::Send, &[9; 16]));
        assert_eq!(drain(&mut d).len(), 1);
    }

    #[test]
    fn max_length_prefix_with_default_limit() {
        let mut d = FrameDecoder::new();
        d.push(&[PROTOCOL_VERSION, 0x10, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            d.next_frame(),
            Err(CodecError::FrameTooLarge {
                len: u64::from(u32::MAX),
                max: DEFAULT_MAX_FRAME_SIZE
            })
        );
    }

    #[test]
    fn errors_are_sticky() {
        let mut d = FrameDecoder::new();
        d.push(&[9, 9, 9]);
        let e = d.next_frame().unwrap_err();
        d.push(&encode(FrameKind::Heartbeat, b""));
        for _ in 0..3 {
            assert_eq!(d.next_frame(), Err(e));
        }
        assert_eq!(d.buffered_len(), 0);
    }

    #[test]
    fn error_after_good_frames_in_one_chunk() {
        let mut wire = encode(FrameKind::Send, b"ok");
        wire.extend_from_slice(&[PROTOCOL_VERSION, 0x99, 0, 0, 0, 0]);
        let mut d = FrameDecoder::new();
        d.push(&wire);
        assert_eq!(
            d.next_frame(),
            Ok(Some(Frame::new(FrameKind::Send, b"ok".to_vec())))
        );
        assert_eq!(d.next_frame(), Err(CodecError::UnknownKind(0x99)));
    }

    #[test]
    fn close_frames_carry_a_code() {
        let f = Frame::close(CloseCode::HEARTBEAT_TIMEOUT, "no heartbeat for 5s");
        assert_eq!(&f.payload[..2], &[0, 6]);
        let mut d = FrameDecoder::new();
        let mut wire = Vec::new();
        f.encode_into(&mut wire).unwrap();
        d.push(&wire);
        let got = d.next_frame().unwrap().unwrap();
        assert_eq!(
            got.as_close(),
            Some((CloseCode::HEARTBEAT_TIMEOUT, &b"no heartbeat for 5s"[..]))
        );
        assert_eq!(
            Frame::close(CloseCode(999), "").as_close(),
            Some((CloseCode(999), &b""[..]))
        );
        assert_eq!(Frame::new(FrameKind::Send, vec![0, 0]).as_close(), None);
    }

    #[test]
    fn short_close_is_malformed() {
        let mut out = Vec::new();
        assert_eq!(
            FrameEncoder::new().encode(FrameKind::Close, &[1], &mut out),
            Err(CodecError::MalformedClose { len: 1 })
        );
        assert!(out.is_empty());
        let mut d = FrameDecoder::new();
        d.push(&[PROTOCOL_VERSION, FrameKind::Close.as_u8(), 0, 0, 0, 1, 0]);
        assert_eq!(d.next_frame(), Err(CodecError::MalformedClose { len: 1 }));
    }

    #[test]
    fn encoder_refuses_above_its_max() {
        let enc = FrameEncoder::with_max_frame_size(4);
        let mut out = vec![0xaa];
        assert_eq!(
            enc.encode(FrameKind::Send, &[0; 5], &mut out),
            Err(CodecError::FrameTooLarge { len: 5, max: 4 })
        );
        assert_eq!(out, [0xaa], "untouched on error");
        enc.encode(FrameKind::Send, &[0; 4], &mut out).unwrap();
        assert_eq!(out.len(), 1 + HEADER_LEN + 4);
    }

    #[test]
    fn large_frame_capacity_is_released() {
        let big = vec![1u8; 1024 * 1024];
        let mut wire = encode(FrameKind::Send, &big);
        let mut d = FrameDecoder::new();
        for chunk in wire.chunks(64 * 1024) {
            d.push(chunk);
        }
        assert_eq!(drain(&mut d), [Frame::new(FrameKind::Send, big)]);
        assert!(d.buf.capacity() <= RETAINED_CAPACITY);
        // Same when a partial frame follows the big one.
        wire.extend_from_slice(&[PROTOCOL_VERSION, 0x10, 0]);
        let mut d = FrameDecoder::new();
        d.push(&wire);
        assert_eq!(drain(&mut d).len(), 1);
        assert_eq!(d.buffered_len(), 3);
        d.push(&[0, 0, 1, 42]);
        assert!(d.buf.capacity() <= RETAINED_CAPACITY);
        assert_eq!(
            drain(&mut d),
            [Frame::new(FrameKind::Send, vec![42])],
            "compaction kept the tail"
        );
    }

    #[test]
    fn messages_say_what_was_wrong() {
        assert_eq!(
            CodecError::FrameTooLarge { len: 10, max: 8 }.to_string(),
            "frame payload of 10 bytes exceeds the maximum frame size of 8 bytes"
        );
        assert_eq!(
            CodecError::UnsupportedVersion(3).to_string(),
            "unsupported protocol version 3 (this node speaks version 1)"
        );
        assert_eq!(
            CodecError::UnknownKind(0xab).to_string(),
            "unknown frame kind 0xab"
        );
        assert_eq!(
            CodecError::UnknownKind(1).close_code(),
            CloseCode::UNKNOWN_KIND
        );
        assert_eq!(CloseCode::NORMAL.to_string(), "normal (0)");
        assert_eq!(CloseCode(4242).to_string(), "close code 4242");
        assert_eq!(FrameKind::RpcReply.to_string(), "RpcReply");
    }
}
