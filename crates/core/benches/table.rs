//! Criterion benchmarks of the core table with no N-API in the way.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use ironwood_core::{Table, Value};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let t = Table::new();
    for i in 0..100_000 {
        t.set(&format!("key:{i:06}"), Value::Int(i), None, 0);
    }
    c.bench_function("incr existing", |b| {
        b.iter(|| t.incr(black_box("key:000042"), 1, 0))
    });
    c.bench_function("get int", |b| {
        b.iter(|| {
            t.get_with(black_box("key:000042"), 0, |v| {
                black_box(v);
            })
        })
    });
    c.bench_function("set bytes", |b| {
        b.iter(|| {
            t.set(
                black_box("blob"),
                Value::Bytes([1, 2, 3, 4][..].into()),
                None,
                0,
            )
        })
    });
    c.bench_function("keys prefix (10 of 100k)", |b| {
        b.iter(|| t.keys(black_box("key:00001"), 0))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
