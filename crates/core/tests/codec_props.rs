//! Property tests of the wire codec: frames survive any chunking, garbage
//! never panics and decodes the same however it is chunked, oversized
//! lengths are refused before their body is buffered, and a failed decoder
//! stays failed.
#![allow(missing_docs)]

use ironwood_core::codec::{
    CodecError, DEFAULT_MAX_FRAME_SIZE, Frame, FrameDecoder, FrameEncoder, FrameKind, HEADER_LEN,
    PROTOCOL_VERSION,
};
use proptest::prelude::*;

fn kind() -> impl Strategy<Value = FrameKind> {
    prop::sample::select(FrameKind::ALL.to_vec())
}

/// A frame the encoder accepts: Close payloads hold at least their code.
fn frame() -> impl Strategy<Value = Frame> {
    (kind(), prop::collection::vec(any::<u8>(), 0..200)).prop_map(|(kind, mut payload)| {
        payload.resize(payload.len().max(kind.min_payload_len()), 0);
        Frame::new(kind, payload)
    })
}

fn encode_all(frames: &[Frame], enc: FrameEncoder) -> Vec<u8> {
    let mut wire = Vec::new();
    for f in frames {
        enc.encode(f.kind, &f.payload, &mut wire).unwrap();
    }
    wire
}

/// Cuts `wire` into chunks whose sizes cycle through `sizes`; a 0 becomes
/// an empty push followed by a 1-byte chunk, so cutting always progresses.
fn chunks<'a>(wire: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = wire;
    let mut i = 0;
    while !rest.is_empty() {
        let mut size = sizes[i % sizes.len()];
        i += 1;
        if size == 0 {
            out.push(&rest[..0]);
            size = 1;
        }
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        out.push(chunk);
        rest = tail;
    }
    out
}

fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..80, 1..12)
}

/// What decoding produced: the frames, then the error if there was one.
#[derive(Debug, PartialEq)]
struct Outcome {
    frames: Vec<Frame>,
    error: Option<CodecError>,
}

/// Pushes each chunk and drains after it, checking on the way that the
/// decoder holds less than one frame between pushes and that an error is
/// sticky.
fn decode(d: &mut FrameDecoder, chunks: &[&[u8]]) -> Outcome {
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    let mut frames = Vec::new();
    let mut error = None;
    for chunk in chunks {
        d.push(chunk);
        // Each call returns a frame of at least HEADER_LEN bytes, or stops:
        // so this loop is bounded by the input, never infinite.
        loop {
            match d.next_frame() {
                Ok(Some(f)) => {
                    frames.push(f);
                    assert!(frames.len() * HEADER_LEN <= total, "more frames than bytes");
                }
                Ok(None) => break,
                Err(e) => {
                    if let Some(first) = error {
                        assert_eq!(e, first, "the error changed");
                    }
                    error = Some(e);
                    break;
                }
            }
        }
        if error.is_some() {
            assert_eq!(d.buffered_len(), 0, "a failed decoder holds nothing");
        } else {
            assert!(
                d.buffered_len() < HEADER_LEN + d.max_frame_size() as usize,
                "holds less than one frame after draining"
            );
        }
    }
    Outcome { frames, error }
}

/// Garbage that often looks like a header, so the decoder gets past the
/// first byte and into lengths and bodies.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        3 => any::<u8>(),
        2 => Just(PROTOCOL_VERSION),
        2 => kind().prop_map(FrameKind::as_u8),
        2 => Just(0u8),
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..600),
        prop::collection::vec(byte, 0..600),
    ]
}

proptest! {
    #[test]
    fn frames_round_trip_through_any_chunking(
        frames in prop::collection::vec(frame(), 0..30),
        sizes in chunk_sizes(),
    ) {
        // The tightest limit the input allows, so frames of exactly the
        // maximum size are exercised too.
        let max = frames.iter().map(|f| f.payload.len() as u32).max().unwrap_or(0);
        let wire = encode_all(&frames, FrameEncoder::with_max_frame_size(max));
        prop_assert_eq!(
            wire.len(),
            frames.iter().map(Frame::encoded_len).sum::<usize>()
        );
        let mut d = FrameDecoder::with_max_frame_size(max);
        let out = decode(&mut d, &chunks(&wire, &sizes));
        prop_assert_eq!(out.error, None);
        prop_assert_eq!(out.frames, frames);
        prop_assert_eq!(d.buffered_len(), 0);
    }

    #[test]
    fn garbage_never_panics_and_ignores_chunking(
        bytes in garbage(),
        sizes in chunk_sizes(),
        max in prop_oneof![0u32..64, Just(DEFAULT_MAX_FRAME_SIZE)],
    ) {
        let chunked = decode(&mut FrameDecoder::with_max_frame_size(max), &chunks(&bytes, &sizes));
        let whole = decode(&mut FrameDecoder::with_max_frame_size(max), &[&bytes]);
        prop_assert_eq!(&chunked, &whole);
        // Whatever came out re-encodes to a prefix of the input.
        let again = encode_all(&whole.frames, FrameEncoder::with_max_frame_size(max));
        prop_assert!(bytes.starts_with(&again));
    }

    #[test]
    fn length_just_over_the_max_is_refused_before_the_body(
        before in prop::collection::vec(frame(), 0..5),
        kind in kind(),
        // At least 200, so the frames before (payloads < 200) fit.
        max in prop_oneof![200u32..2048, Just(DEFAULT_MAX_FRAME_SIZE), Just(u32::MAX - 1)],
        sizes in chunk_sizes(),
    ) {
        let len = max + 1;
        let mut wire = encode_all(&before, FrameEncoder::with_max_frame_size(max));
        wire.extend_from_slice(&[PROTOCOL_VERSION, kind.as_u8()]);
        wire.extend_from_slice(&len.to_be_bytes());
        let mut d = FrameDecoder::with_max_frame_size(max);
        let out = decode(&mut d, &chunks(&wire, &sizes));
        let refused = CodecError::FrameTooLarge { len: u64::from(len), max };
        prop_assert_eq!(out.frames, before);
        prop_assert_eq!(out.error, Some(refused));
        // The body that follows is dropped, not buffered.
        d.push(&[0xab; 4096]);
        prop_assert_eq!(d.buffered_len(), 0);
        prop_assert_eq!(d.next_frame(), Err(refused));
    }

    #[test]
    fn a_failed_decoder_stays_failed(
        before in prop::collection::vec(frame(), 0..5),
        bad in prop_oneof![
            (2u8..=255).prop_map(|v| vec![v]),
            any::<u8>()
                .prop_filter("unknown kind", |k| FrameKind::from_u8(*k).is_none())
                .prop_map(|k| vec![PROTOCOL_VERSION, k]),
            Just(vec![PROTOCOL_VERSION, FrameKind::Close.as_u8(), 0, 0, 0, 1]),
        ],
        after in prop::collection::vec(frame(), 1..5),
        sizes in chunk_sizes(),
    ) {
        let enc = FrameEncoder::new();
        let mut wire = encode_all(&before, enc);
        wire.extend_from_slice(&bad);
        wire.extend_from_slice(&encode_all(&after, enc));
        let mut d = FrameDecoder::new();
        let out = decode(&mut d, &chunks(&wire, &sizes));
        prop_assert_eq!(out.frames, before);
        let e = out.error.expect("the bad header fails the decoder");
        prop_assert_eq!(d.error(), Some(e));
        // Valid frames pushed later change nothing.
        d.push(&encode_all(&after, enc));
        for _ in 0..3 {
            prop_assert_eq!(d.next_frame(), Err(e));
        }
        prop_assert_eq!(d.buffered_len(), 0);
    }

    #[test]
    fn encoder_and_decoder_agree_on_the_limit(
        kind in kind(),
        len in 0usize..80,
        max in 0u32..80,
    ) {
        let payload = vec![7u8; len];
        let mut wire = Vec::new();
        let encoded = FrameEncoder::with_max_frame_size(max).encode(kind, &payload, &mut wire);
        // Write the header by hand so the decoder sees it either way.
        let mut raw = vec![PROTOCOL_VERSION, kind.as_u8()];
        raw.extend_from_slice(&(len as u32).to_be_bytes());
        raw.extend_from_slice(&payload);
        let mut d = FrameDecoder::with_max_frame_size(max);
        d.push(&raw);
        match (encoded, d.next_frame()) {
            (Ok(()), Ok(Some(f))) => {
                prop_assert_eq!(wire, raw);
                prop_assert_eq!(f, Frame::new(kind, payload));
            }
            (Err(a), Err(b)) => {
                prop_assert_eq!(a, b);
                prop_assert!(wire.is_empty());
            }
            (a, b) => prop_assert!(false, "encoder said {:?}, decoder said {:?}", a, b),
        }
    }
}
