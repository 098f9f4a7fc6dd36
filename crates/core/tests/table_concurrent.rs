//! Many threads mutating overlapping keys at once: afterwards the map and the
//! ordered/expiry indexes must agree exactly (they are only ever changed
//! together under the key's shard lock).
#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ironwood_core::{Table, Value};

#[test]
fn indexes_agree_with_the_map_after_concurrent_writes() {
    let t = Arc::new(Table::new());
    let clock = Arc::new(AtomicU64::new(1));
    let threads: Vec<_> = (0..4u64)
        .map(|seed| {
            let t = Arc::clone(&t);
            let clock = Arc::clone(&clock);
            std::thread::spawn(move || {
                // A small xorshift so each thread has its own repeatable sequence.
                let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) + 1;
                for _ in 0..20_000 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = format!("k:{}", x % 64);
                    let now = || clock.load(Ordering::Relaxed);
                    match (x >> 8) % 7 {
                        0 => t.set(&key, Value::Int(1), None, now),
                        1 => t.set(
                            &key,
                            Value::Bytes(vec![1, 2][..].into()),
                            Some(x % 5 + 1),
                            now,
                        ),
                        2 => {
                            let _ = t.incr(&key, 1, now);
                        }
                        3 => {
                            t.delete(&key, now);
                        }
                        4 => {
                            let _ = t.expire(
                                &key,
                                if x % 2 == 0 { None } else { Some(x % 5 + 1) },
                                now,
                            );
                        }
                        5 => {
                            let _ = t.set_new(&key, Value::Int(2), Some(3), now);
                        }
                        _ => {
                            clock.fetch_add(1, Ordering::Relaxed);
                            t.purge_expired(now());
                        }
                    }
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    let now = clock.load(Ordering::Relaxed);
    let listed = t.keys("", now);
    let live: Vec<String> = (0..64)
        .map(|i| format!("k:{i}"))
        .filter(|k| t.get(k, now).is_some())
        .collect();
    let mut live_sorted = live.clone();
    live_sorted.sort();
    assert_eq!(
        listed, live_sorted,
        "keys() must list exactly the live keys"
    );
    // Purging everything that expired leaves exactly the live entries stored.
    t.purge_expired(u64::MAX / 2);
    let survivors = (0..64)
        .map(|i| format!("k:{i}"))
        .filter(|k| t.get(k, u64::MAX / 2).is_some())
        .count();
    assert_eq!(t.stored_len(), survivors);
    assert_eq!(
        t.len(u64::MAX / 2),
        survivors,
        "the O(1) count must match the map"
    );
    assert_eq!(t.keys("", u64::MAX / 2).len(), survivors);
}
