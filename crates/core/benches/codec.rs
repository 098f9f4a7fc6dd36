//! Criterion benchmarks of the wire codec: encoding frames, and decoding a
//! stream of them as it would arrive from QUIC (in 1200-byte reads, about
//! one packet each), with no I/O in the way.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ironwood_core::codec::{FrameDecoder, FrameEncoder, FrameKind};
use std::hint::black_box;

const FRAMES: usize = 1000;

fn bench(c: &mut Criterion) {
    let enc = FrameEncoder::new();
    for payload_len in [64usize, 1024, 64 * 1024] {
        let payload = vec![0x5a; payload_len];
        let mut wire = Vec::new();
        for _ in 0..FRAMES {
            enc.encode(FrameKind::Send, &payload, &mut wire).unwrap();
        }
        let mut group = c.benchmark_group(format!("codec {payload_len} B payloads"));
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_function("encode x1000", |b| {
            let mut out = Vec::with_capacity(wire.len());
            b.iter(|| {
                out.clear();
                for _ in 0..FRAMES {
                    enc.encode(FrameKind::Send, black_box(&payload), &mut out)
                        .unwrap();
                }
                black_box(out.len())
            })
        });
        group.bench_function("decode x1000 (1200 B chunks)", |b| {
            b.iter(|| {
                let mut d = FrameDecoder::new();
                let mut n = 0;
                for chunk in wire.chunks(1200) {
                    d.push(black_box(chunk));
                    while let Some(f) = d.next_frame().unwrap() {
                        n += f.payload.len();
                    }
                }
                black_box(n)
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
