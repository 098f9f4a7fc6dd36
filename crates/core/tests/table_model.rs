//! Property test: the table behaves like a simple ordered-map model under any
//! sequence of operations and clock advances, including TTLs and purges.
#![allow(missing_docs)]

use std::collections::BTreeMap;

use ironwood_core::{ENTRY_OVERHEAD, IncrError, MAX_SAFE_INTEGER, Table, Ttl, Value};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Set(u8, Value, Option<u64>),
    SetNew(u8, Value, Option<u64>),
    Incr(u8, i64),
    Delete(u8),
    Expire(u8, Option<u64>),
    Advance(u64),
    Purge,
    Clear,
}

fn key(k: u8) -> String {
    // A few shared prefixes so keys(prefix) has something to find.
    format!("{}:{}", ["a", "ab", "b"][(k % 3) as usize], k)
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-1000i64..1000).prop_map(Value::Int),
        Just(Value::Int(MAX_SAFE_INTEGER)),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(|b| Value::Bytes(b.into())),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u8..12;
    let ttl = prop::option::of(1u64..20);
    prop_oneof![
        (k.clone(), value(), ttl.clone()).prop_map(|(k, v, t)| Op::Set(k, v, t)),
        (k.clone(), value(), ttl.clone()).prop_map(|(k, v, t)| Op::SetNew(k, v, t)),
        (k.clone(), -5i64..5).prop_map(|(k, by)| Op::Incr(k, by)),
        k.clone().prop_map(Op::Delete),
        (k, ttl).prop_map(|(k, t)| Op::Expire(k, t)),
        (0u64..10).prop_map(Op::Advance),
        Just(Op::Purge),
        Just(Op::Clear),
    ]
}

#[derive(Default)]
struct Model {
    map: BTreeMap<String, (Value, Option<u64>)>,
}

impl Model {
    fn live(&self, k: &str, now: u64) -> Option<&(Value, Option<u64>)> {
        self.map
            .get(k)
            .filter(|(_, exp)| exp.is_none_or(|at| now < at))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn table_matches_model(ops in prop::collection::vec(op(), 1..120)) {
        let t = Table::new();
        let mut m = Model::default();
        let mut now = 1000u64;
        for op in ops {
            match op {
                Op::Set(k, v, ttl) => {
                    t.set(&key(k), v.clone(), ttl, now);
                    m.map.insert(key(k), (v, ttl.map(|x| now + x)));
                }
                Op::SetNew(k, v, ttl) => {
                    let want = m.live(&key(k), now).is_none();
                    prop_assert_eq!(t.set_new(&key(k), v.clone(), ttl, now), want);
                    if want { m.map.insert(key(k), (v, ttl.map(|x| now + x))); }
                }
                Op::Incr(k, by) => {
                    let got = t.incr(&key(k), by, now);
                    let want = match m.live(&key(k), now).cloned() {
                        None => { m.map.insert(key(k), (Value::Int(by), None)); Ok(by) }
                        Some((Value::Int(n), exp)) if (n + by).abs() <= MAX_SAFE_INTEGER => {
                            m.map.insert(key(k), (Value::Int(n + by), exp)); Ok(n + by)
                        }
                        Some((Value::Int(_), _)) => Err(IncrError::Overflow),
                        Some((Value::Bytes(_), _)) => Err(IncrError::NotAnInteger),
                    };
                    prop_assert_eq!(got, want);
                }
                Op::Delete(k) => {
                    let want = m.live(&key(k), now).is_some();
                    m.map.remove(&key(k));
                    prop_assert_eq!(t.delete(&key(k), now), want);
                }
                Op::Expire(k, ttl) => {
                    let want = m.live(&key(k), now).is_some();
                    prop_assert_eq!(t.expire(&key(k), ttl, now), want);
                    if want { m.map.get_mut(&key(k)).unwrap().1 = ttl.map(|x| now + x); }
                }
                Op::Advance(ms) => now += ms,
                Op::Purge => { t.purge_expired(now); }
                Op::Clear => { t.clear(); m.map.clear(); }
            }
            // Every read agrees with the model after every step.
            for k in 0..12u8 {
                let want = m.live(&key(k), now);
                prop_assert_eq!(t.get(&key(k), now), want.map(|(v, _)| v.clone()));
                let want_ttl = want.map(|(_, exp)| match exp { None => Ttl::Forever, Some(at) => Ttl::Remaining(at - now) });
                prop_assert_eq!(t.ttl(&key(k), now), want_ttl);
            }
            for prefix in ["", "a", "ab:", "b:1"] {
                let want: Vec<String> = m.map.keys()
                    .filter(|k| k.starts_with(prefix) && m.live(k, now).is_some()).cloned().collect();
                prop_assert_eq!(t.keys(prefix, now), want);
            }
        }
        let live = m.map.keys().filter(|k| m.live(k, now).is_some()).count();
        prop_assert_eq!(t.len(now), live);
        prop_assert_eq!(t.stored_len(), live);
        // The memory estimate is kept in step by every write and removal:
        // the fixed slot per entry, plus each non-empty value's allocation
        // (header 16 + bytes + allocator 16); these keys are all inline.
        let heap: usize = m.map.iter()
            .filter(|(k, _)| m.live(k, now).is_some())
            .map(|(_, (v, _))| match v { Value::Bytes(b) if !b.is_empty() => 32 + b.len(), _ => 0 })
            .sum();
        prop_assert_eq!(t.memory_estimate(), live * ENTRY_OVERHEAD + heap);
    }
}
