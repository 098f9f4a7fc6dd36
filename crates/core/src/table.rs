//! The sharded concurrent table behind `state` and `Table.open` (ETS for JS).
//!
//! Locking, honestly stated: the primary map is a [`DashMap`], i.e. a fixed
//! set of shards each behind its own `RwLock` — *not* lock-free. Reads take a
//! shard read lock; writes take a shard write lock for the duration of one
//! operation, so every single-key operation (including `incr`) is atomic.
//! Beside it sits an ordered key index (for `keys(prefix)`) and an expiry index
//! (for freeing expired entries), both sharded by key hash behind small
//! mutexes. An index shard is only ever changed while the key's map shard is
//! write-locked (lock order: map shard, then index shard), so for any key the
//! map and the indexes change together. Readers of the indexes never hold a
//! map lock at the same time, so there is no lock cycle.
//!
//! Time is passed in (a [`Clock`]: a fixed `Millis`, or a function the table
//! calls only when a TTL is involved); the table never reads a clock of its
//! own. That keeps TTL behaviour deterministic under test.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;
use std::num::NonZeroU64;
use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use compact_str::CompactString;
use dashmap::DashMap;
use dashmap::mapref::entry::Entry as MapEntry;
use thin_vec::ThinVec;

/// Milliseconds on the caller's clock.
pub type Millis = u64;

/// Where a table operation gets "now" from. The table reads it only when it
/// needs it (a key with a TTL, or a TTL being set), at most once per call, so
/// a caller with a real clock pays for reading it only then. A plain
/// [`Millis`] is a fixed time (what tests use).
pub trait Clock {
    /// The current time.
    fn now(&self) -> Millis;
}

impl Clock for Millis {
    fn now(&self) -> Millis {
        *self
    }
}

impl<F: Fn() -> Millis> Clock for F {
    fn now(&self) -> Millis {
        self()
    }
}

/// Reads a [`Clock`] at most once.
struct Now<C> {
    clock: C,
    read: std::cell::Cell<Option<Millis>>,
}

impl<C: Clock> Now<C> {
    fn new(clock: C) -> Self {
        Self {
            clock,
            read: std::cell::Cell::new(None),
        }
    }

    fn get(&self) -> Millis {
        if let Some(t) = self.read.get() {
            return t;
        }
        let t = self.clock.now();
        self.read.set(Some(t));
        t
    }

    fn expiry(&self, ttl: Option<Millis>) -> Option<Millis> {
        ttl.map(|t| self.get().saturating_add(t))
    }
}

/// The largest integer JavaScript represents exactly (2^53 − 1). Integer
/// values and `incr` results are kept within ±this so they survive the trip
/// into a JS `number`.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// How many shards the key and expiry indexes use. Index shards are touched
/// only when a key is created, deleted or its TTL changes.
const INDEX_SHARDS: usize = 16;

/// Map shards (each a cache-padded `RwLock`). More than dashmap's default
/// (4 × cores) so that threads writing different keys rarely meet on one lock.
const MAP_SHARDS: usize = 64;

/// Keys are stored inline when short (up to 24 bytes, no allocation), which
/// is most of them; the map and the ordered index each hold a copy.
type Key = CompactString;

/// An expiry time; `None` never expires. 8 bytes, where `Option<u64>` is 16.
type Expiry = Option<NonZeroU64>;

fn expiry(at: Option<Millis>) -> Expiry {
    // An expiry of 0 cannot be stored; 1 ms after the clock's origin is as early.
    at.map(|at| NonZeroU64::new(at.max(1)).unwrap_or(NonZeroU64::MIN))
}

/// A stored value: a native integer (so `incr` needs no decoding) or an
/// opaque encoded term (the JS layer's msgpack bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// An integer within ±[`MAX_SAFE_INTEGER`].
    Int(i64),
    /// Encoded bytes, stored and returned untouched (a thin pointer, so a
    /// `Value` is 16 bytes).
    Bytes(ThinVec<u8>),
}

/// A borrowed view of a stored value, handed to read callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueRef<'a> {
    /// An integer value.
    Int(i64),
    /// Encoded bytes.
    Bytes(&'a [u8]),
}

/// Why an `incr` was refused. The table is unchanged in both cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncrError {
    /// The key holds something other than an integer.
    NotAnInteger,
    /// The result would leave ±[`MAX_SAFE_INTEGER`].
    Overflow,
}

/// What `ttl` reports for a live key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// The key never expires.
    Forever,
    /// Milliseconds left before the key expires (at least 1).
    Remaining(Millis),
}

#[derive(Debug)]
struct Entry {
    value: Value,
    expires_at: Expiry,
}

#[inline]
fn live<C: Clock>(expires_at: Expiry, now: &Now<C>) -> bool {
    match expires_at {
        None => true,
        Some(at) => now.get() < at.get(),
    }
}

impl Entry {
    #[inline]
    fn live<C: Clock>(&self, now: &Now<C>) -> bool {
        live(self.expires_at, now)
    }
}

/// What a write decided to do with the slot it was shown.
enum Action {
    /// Leave the slot as it is (in-place changes to the value are kept).
    Keep,
    /// Replace the slot's value and expiry (insert it if absent).
    Put(Value, Option<Millis>),
    /// Keep the value, change the expiry.
    SetExpiry(Option<Millis>),
}

/// One shard of the indexes. `keys` also records each key's expiry, so
/// `keys(prefix)` can skip expired keys without touching the map.
#[derive(Default)]
struct IndexShard {
    keys: BTreeMap<Key, Expiry>,
    expiries: BTreeSet<(NonZeroU64, Key)>,
}

/// Entry counts, changed only together with the indexes, so `len` is O(1).
#[derive(Default)]
struct Counts {
    /// Entries physically held (live or expired but not yet freed).
    stored: AtomicUsize,
    /// Of those, entries with a TTL.
    with_ttl: AtomicUsize,
    /// Heap bytes their keys and values hold beyond the fixed per-entry
    /// slots (see [`heap_bytes`]), for [`Table::memory_estimate`].
    heap: AtomicUsize,
}

/// What one heap allocation costs beyond its bytes (the allocator's header
/// and rounding, on glibc's malloc).
const ALLOC_OVERHEAD: usize = 16;

/// The fixed bytes of one entry, whatever its key and value: the hash map
/// slot (key 24 + value 16 + expiry 8, plus a control byte, at the map's
/// load factor) and the ordered index's share (key 24 + expiry 8 in B-tree
/// nodes that are about two-thirds full). An estimate, documented as one.
pub const ENTRY_OVERHEAD: usize = 104;

/// Heap bytes an entry holds beyond [`ENTRY_OVERHEAD`]: a key longer than
/// the 24 inline bytes is allocated twice (map and index), and an encoded
/// value once (with a 16-byte length/capacity header).
fn heap_bytes(key: &Key, value: &Value) -> usize {
    let key = if key.is_heap_allocated() {
        2 * (key.capacity() + ALLOC_OVERHEAD)
    } else {
        0
    };
    let value = match value {
        Value::Int(_) => 0,
        Value::Bytes(b) if b.capacity() == 0 => 0,
        Value::Bytes(b) => 16 + b.capacity() + ALLOC_OVERHEAD,
    };
    key + value
}

impl IndexShard {
    fn insert(&mut self, key: Key, expires_at: Expiry, heap: usize, counts: &Counts) {
        if let Some(at) = expires_at {
            self.expiries.insert((at, key.clone()));
            counts.with_ttl.fetch_add(1, Ordering::Relaxed);
        }
        self.keys.insert(key, expires_at);
        counts.stored.fetch_add(1, Ordering::Relaxed);
        counts.heap.fetch_add(heap, Ordering::Relaxed);
    }

    fn remove(&mut self, key: &Key, expires_at: Expiry, heap: usize, counts: &Counts) {
        counts.heap.fetch_sub(heap, Ordering::Relaxed);
        self.keys.remove(key);
        if let Some(at) = expires_at {
            self.expiries.remove(&(at, key.clone()));
            counts.with_ttl.fetch_sub(1, Ordering::Relaxed);
        }
        counts.stored.fetch_sub(1, Ordering::Relaxed);
    }

    fn change_expiry(&mut self, key: &Key, old: Expiry, new: Expiry, counts: &Counts) {
        if let Some(at) = old {
            self.expiries.remove(&(at, key.clone()));
            counts.with_ttl.fetch_sub(1, Ordering::Relaxed);
        }
        if let Some(at) = new {
            self.expiries.insert((at, key.clone()));
            counts.with_ttl.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(slot) = self.keys.get_mut(key) {
            *slot = new;
        }
    }
}

/// One named table. Cheap to share: wrap it in an [`std::sync::Arc`].
pub struct Table {
    map: DashMap<Key, Entry, foldhash::fast::RandomState>,
    index: Box<[Mutex<IndexShard>]>,
    counts: Counts,
}

impl Default for Table {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("entries", &self.map.len())
            .finish()
    }
}

impl Table {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Self {
            map: DashMap::with_hasher_and_shard_amount(
                foldhash::fast::RandomState::default(),
                MAP_SHARDS,
            ),
            index: (0..INDEX_SHARDS).map(|_| Mutex::default()).collect(),
            counts: Counts::default(),
        }
    }

    fn index_shard(&self, key: &str) -> MutexGuard<'_, IndexShard> {
        let slot = (self.map.hasher().hash_one(key) as usize) % INDEX_SHARDS;
        // A poisoned index mutex means a panic mid-update in this very code;
        // the sets themselves are still structurally sound, so keep going.
        self.index[slot]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Calls `f` with the live value of `key` while the key's shard is
    /// read-locked, and returns its result; `None` if the key is absent or
    /// expired. Keep `f` short: writers to the same shard wait for it.
    pub fn get_with<R>(
        &self,
        key: &str,
        now: impl Clock,
        f: impl FnOnce(ValueRef<'_>) -> R,
    ) -> Option<R> {
        let entry = self.map.get(key)?;
        if !entry.live(&Now::new(now)) {
            return None;
        }
        Some(match &entry.value {
            Value::Int(n) => f(ValueRef::Int(*n)),
            Value::Bytes(b) => f(ValueRef::Bytes(b)),
        })
    }

    /// A copy of the live value of `key`.
    #[must_use]
    pub fn get(&self, key: &str, now: impl Clock) -> Option<Value> {
        self.get_with(key, now, |v| match v {
            ValueRef::Int(n) => Value::Int(n),
            ValueRef::Bytes(b) => Value::Bytes(b.into()),
        })
    }

    /// Stores `value` under `key`, replacing any previous value and TTL.
    /// `ttl` of `None` means the key never expires. Takes the shard write lock.
    pub fn set(&self, key: &str, value: Value, ttl: Option<Millis>, now: impl Clock) {
        let now = Now::new(now);
        let expires_at = now.expiry(ttl);
        self.write(key, &now, |_| (Action::Put(value, expires_at), ()));
    }

    /// Stores `value` only if `key` is absent (or expired); returns whether it
    /// did (ETS `insert_new`). Takes the shard write lock.
    #[must_use = "set_new reports whether the value was stored"]
    pub fn set_new(&self, key: &str, value: Value, ttl: Option<Millis>, now: impl Clock) -> bool {
        let now = Now::new(now);
        let expires_at = now.expiry(ttl);
        self.write(key, &now, |live| match live {
            Some(_) => (Action::Keep, false),
            None => (Action::Put(value, expires_at), true),
        })
    }

    /// Adds `by` to the integer under `key` atomically and returns the result.
    /// A missing (or expired) key counts from 0 and is created without a TTL;
    /// an existing key keeps its TTL. On error the table is unchanged.
    pub fn incr(&self, key: &str, by: i64, now: impl Clock) -> Result<i64, IncrError> {
        self.write(key, &Now::new(now), |live| match live {
            None => {
                if !(-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&by) {
                    return (Action::Keep, Err(IncrError::Overflow));
                }
                (Action::Put(Value::Int(by), None), Ok(by))
            }
            Some((Value::Int(n), _)) => match n.checked_add(by) {
                Some(sum) if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&sum) => {
                    *n = sum;
                    (Action::Keep, Ok(sum))
                }
                _ => (Action::Keep, Err(IncrError::Overflow)),
            },
            Some((Value::Bytes(_), _)) => (Action::Keep, Err(IncrError::NotAnInteger)),
        })
    }

    /// Sets the TTL of a live key to `ttl` ms from `now`; `None` removes the
    /// TTL. Returns whether the key was live.
    #[must_use = "expire reports whether the key existed"]
    pub fn expire(&self, key: &str, ttl: Option<Millis>, now: impl Clock) -> bool {
        // A miss must not allocate or insert: look before taking the write path.
        if !self.map.contains_key(key) {
            return false;
        }
        let now = Now::new(now);
        let expires_at = now.expiry(ttl);
        self.write(key, &now, |live| match live {
            Some(_) => (Action::SetExpiry(expires_at), true),
            None => (Action::Keep, false),
        })
    }

    /// The TTL of a live key, `None` if it is absent or expired.
    #[must_use]
    pub fn ttl(&self, key: &str, now: impl Clock) -> Option<Ttl> {
        let entry = self.map.get(key)?;
        let at = match entry.expires_at {
            None => return Some(Ttl::Forever),
            Some(at) => at.get(),
        };
        let now = now.now();
        (now < at).then(|| Ttl::Remaining(at - now))
    }

    /// Removes `key`; returns whether it was live. An expired key is removed
    /// too (freeing it early) but reports `false`.
    pub fn delete(&self, key: &str, now: impl Clock) -> bool {
        let now = Now::new(now);
        let mut was_live = false;
        // remove_if runs the predicate under the shard write lock and removes
        // exactly when it returns true, so the index is updated in step.
        self.map.remove_if(key, |k, e| {
            was_live = e.live(&now);
            self.index_shard(k)
                .remove(k, e.expires_at, heap_bytes(k, &e.value), &self.counts);
            true
        });
        was_live
    }

    /// The live keys starting with `prefix`, sorted. Walks only the matching
    /// range of each index shard (never the whole table); the index records
    /// expiries, so expired keys are skipped without a map lookup.
    #[must_use]
    pub fn keys(&self, prefix: &str, now: impl Clock) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each_key(prefix, now, |k| out.push(k.to_owned()));
        out
    }

    /// Calls `f` with each live key starting with `prefix`, in sorted order,
    /// after every index lock is released (see [`Table::keys`]).
    pub fn for_each_key(&self, prefix: &str, now: impl Clock, mut f: impl FnMut(&str)) {
        let now = Now::new(now);
        // Short keys are inline, so collecting them allocates nothing per key.
        let mut found: Vec<Key> = Vec::new();
        for shard in &*self.index {
            let shard = shard
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let range = shard
                .keys
                .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
                .take_while(|(k, _)| k.starts_with(prefix))
                .filter(|(_, exp)| live(**exp, &now));
            found.extend(range.map(|(k, _)| k.clone()));
        }
        found.sort_unstable();
        for k in &found {
            f(k);
        }
    }

    /// The number of live keys: O(1) when no key has a TTL; otherwise frees
    /// expired entries first so the count is exact at `now`.
    pub fn len(&self, now: impl Clock) -> usize {
        if self.counts.with_ttl.load(Ordering::Relaxed) > 0 {
            self.purge_expired(now.now());
        }
        self.counts.stored.load(Ordering::Relaxed)
    }

    /// Whether the table holds no live key.
    pub fn is_empty(&self, now: impl Clock) -> bool {
        self.len(now) == 0
    }

    /// Removes every key.
    pub fn clear(&self) {
        self.map.retain(|k, e| {
            self.index_shard(k)
                .remove(k, e.expires_at, heap_bytes(k, &e.value), &self.counts);
            false
        });
    }

    /// Frees every entry whose TTL has passed at `now`; returns how many.
    /// Cost is proportional to the number of expired entries, not the table.
    pub fn purge_expired(&self, now: Millis) -> usize {
        let mut freed = 0;
        for shard in &*self.index {
            let due: Vec<(NonZeroU64, Key)> = {
                let shard = shard
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                shard
                    .expiries
                    .iter()
                    .take_while(|(at, _)| at.get() <= now)
                    .cloned()
                    .collect()
            };
            for (at, key) in due {
                let removed = self.map.remove_if(key.as_str(), |k, e| {
                    // Re-check under the write lock: the TTL may have moved.
                    if e.expires_at != Some(at) {
                        return false;
                    }
                    self.index_shard(k).remove(
                        k,
                        e.expires_at,
                        heap_bytes(k, &e.value),
                        &self.counts,
                    );
                    true
                });
                freed += usize::from(removed.is_some());
            }
        }
        freed
    }

    /// An estimate of the memory the entries hold, in bytes: a fixed
    /// [`ENTRY_OVERHEAD`] per stored entry plus the heap bytes of long keys
    /// and encoded values (with allocator overhead), kept up to date on every
    /// write, so reading it is O(1). The map's and indexes' spare capacity
    /// is not counted.
    #[must_use]
    pub fn memory_estimate(&self) -> usize {
        self.counts.stored.load(Ordering::Relaxed) * ENTRY_OVERHEAD
            + self.counts.heap.load(Ordering::Relaxed)
    }

    /// Entries physically held, including expired ones not yet freed.
    #[must_use]
    pub fn stored_len(&self) -> usize {
        self.map.len()
    }

    /// The one write path: shows `op` the live slot (value and expiry) or
    /// `None`, applies its [`Action`], and keeps the indexes in step. An
    /// existing key is updated in place without allocating; only a new key
    /// with more than 24 bytes allocates (for its two copies).
    fn write<C: Clock, R>(
        &self,
        key: &str,
        now: &Now<C>,
        op: impl FnOnce(Option<(&mut Value, Option<Millis>)>) -> (Action, R),
    ) -> R {
        if let Some(mut guard) = self.map.get_mut(key) {
            let (k, e) = guard.pair_mut();
            return self.apply(k, e, now, op);
        }
        match self.map.entry(Key::from(key)) {
            MapEntry::Occupied(mut o) => {
                // Another thread inserted between our two lookups.
                let k = o.key().clone();
                self.apply(&k, o.get_mut(), now, op)
            }
            MapEntry::Vacant(v) => {
                let (action, r) = op(None);
                if let Action::Put(value, at) = action {
                    let expires_at = expiry(at);
                    let k = v.key().clone();
                    let heap = heap_bytes(&k, &value);
                    self.index_shard(&k)
                        .insert(k, expires_at, heap, &self.counts);
                    v.insert(Entry { value, expires_at });
                }
                r
            }
        }
    }

    fn apply<C: Clock, R>(
        &self,
        key: &Key,
        e: &mut Entry,
        now: &Now<C>,
        op: impl FnOnce(Option<(&mut Value, Option<Millis>)>) -> (Action, R),
    ) -> R {
        let live = e.live(now);
        let current = e.expires_at.map(NonZeroU64::get);
        let (action, r) = op(if live {
            Some((&mut e.value, current))
        } else {
            None
        });
        let new_expiry = match action {
            Action::Keep => return r,
            Action::Put(value, at) => {
                let (old, new) = (heap_bytes(key, &e.value), heap_bytes(key, &value));
                self.counts.heap.fetch_add(new, Ordering::Relaxed);
                self.counts.heap.fetch_sub(old, Ordering::Relaxed);
                e.value = value;
                expiry(at)
            }
            Action::SetExpiry(at) => expiry(at),
        };
        if new_expiry != e.expires_at {
            self.index_shard(key)
                .change_expiry(key, e.expires_at, new_expiry, &self.counts);
            e.expires_at = new_expiry;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &str) -> Value {
        Value::Bytes(s.as_bytes().into())
    }

    #[test]
    fn set_get_overwrite_delete() {
        let t = Table::new();
        assert_eq!(t.get("a", 0), None);
        t.set("a", bytes("x"), None, 0);
        assert_eq!(t.get("a", 0), Some(bytes("x")));
        t.set("a", Value::Int(7), None, 0);
        assert_eq!(t.get("a", 0), Some(Value::Int(7)));
        assert!(t.delete("a", 0));
        assert!(!t.delete("a", 0));
        assert_eq!(t.get("a", 0), None);
        assert_eq!(t.len(0), 0);
    }

    #[test]
    fn set_new_only_inserts_absent_or_expired() {
        let t = Table::new();
        assert!(t.set_new("k", Value::Int(1), Some(10), 0));
        assert!(!t.set_new("k", Value::Int(2), None, 5));
        assert_eq!(t.get("k", 5), Some(Value::Int(1)));
        assert!(t.set_new("k", Value::Int(3), None, 10));
        assert_eq!(t.get("k", 1_000_000), Some(Value::Int(3)));
        assert_eq!(t.ttl("k", 11), Some(Ttl::Forever));
    }

    #[test]
    fn incr_counts_from_zero_and_refuses_bad_values() {
        let t = Table::new();
        assert_eq!(t.incr("c", 1, 0), Ok(1));
        assert_eq!(t.incr("c", -5, 0), Ok(-4));
        t.set("s", bytes("str"), None, 0);
        assert_eq!(t.incr("s", 1, 0), Err(IncrError::NotAnInteger));
        assert_eq!(t.get("s", 0), Some(bytes("str")));
        t.set("big", Value::Int(MAX_SAFE_INTEGER), None, 0);
        assert_eq!(t.incr("big", 1, 0), Err(IncrError::Overflow));
        assert_eq!(t.get("big", 0), Some(Value::Int(MAX_SAFE_INTEGER)));
        assert_eq!(t.incr("neg", -MAX_SAFE_INTEGER, 0), Ok(-MAX_SAFE_INTEGER));
        assert_eq!(t.incr("neg", -1, 0), Err(IncrError::Overflow));
        assert_eq!(t.incr("fresh", i64::MAX, 0), Err(IncrError::Overflow));
        assert_eq!(t.get("fresh", 0), None);
    }

    #[test]
    fn incr_keeps_ttl_of_live_key_and_restarts_expired_one() {
        let t = Table::new();
        t.set("c", Value::Int(5), Some(100), 0);
        assert_eq!(t.incr("c", 1, 50), Ok(6));
        assert_eq!(t.ttl("c", 50), Some(Ttl::Remaining(50)));
        assert_eq!(t.incr("c", 1, 100), Ok(1));
        assert_eq!(t.ttl("c", 100), Some(Ttl::Forever));
    }

    #[test]
    fn ttl_hides_at_once_and_purge_frees() {
        let t = Table::new();
        t.set("a", bytes("1"), Some(10), 100);
        t.set("b", bytes("2"), None, 100);
        assert_eq!(t.ttl("a", 105), Some(Ttl::Remaining(5)));
        assert_eq!(t.get("a", 109), Some(bytes("1")));
        assert_eq!(t.get("a", 110), None);
        assert_eq!(t.ttl("a", 110), None);
        assert_eq!(t.keys("", 110), vec!["b".to_string()]);
        assert_eq!(t.stored_len(), 2);
        assert_eq!(t.purge_expired(110), 1);
        assert_eq!(t.stored_len(), 1);
        assert_eq!(t.len(110), 1);
    }

    #[test]
    fn expire_changes_and_removes_ttl() {
        let t = Table::new();
        assert!(!t.expire("missing", Some(5), 0));
        assert_eq!(t.stored_len(), 0);
        t.set("a", Value::Int(1), None, 0);
        assert!(t.expire("a", Some(5), 0));
        assert_eq!(t.ttl("a", 1), Some(Ttl::Remaining(4)));
        assert!(t.expire("a", None, 1));
        assert_eq!(t.ttl("a", 100), Some(Ttl::Forever));
        assert!(t.expire("a", Some(1), 100));
        // The moved TTL must not be purged by its stale index entry.
        assert_eq!(t.purge_expired(100), 0);
        assert_eq!(t.purge_expired(101), 1);
        assert!(!t.expire("a", Some(5), 101));
    }

    #[test]
    fn set_without_ttl_clears_previous_ttl() {
        let t = Table::new();
        t.set("a", Value::Int(1), Some(5), 0);
        t.set("a", Value::Int(2), None, 1);
        assert_eq!(t.get("a", 10), Some(Value::Int(2)));
        assert_eq!(t.purge_expired(10), 0);
    }

    #[test]
    fn keys_by_prefix_sorted_and_bounded() {
        let t = Table::new();
        for k in ["user:2", "user:1", "session:9", "user:10", "use", "v"] {
            t.set(k, Value::Int(0), None, 0);
        }
        assert_eq!(t.keys("user:", 0), vec!["user:1", "user:10", "user:2"]);
        assert_eq!(t.keys("", 0).len(), 6);
        assert!(t.keys("zzz", 0).is_empty());
        t.delete("user:10", 0);
        assert_eq!(t.keys("user:", 0), vec!["user:1", "user:2"]);
    }

    #[test]
    fn clear_empties_map_and_indexes() {
        let t = Table::new();
        t.set("a", Value::Int(1), Some(10), 0);
        t.set("b", Value::Int(1), None, 0);
        t.clear();
        assert_eq!(t.len(0), 0);
        assert!(t.keys("", 0).is_empty());
        assert_eq!(t.purge_expired(100), 0);
        t.set("a", Value::Int(3), None, 0);
        assert_eq!(t.keys("", 0), vec!["a"]);
    }

    #[test]
    fn concurrent_incr_is_exact() {
        let t = std::sync::Arc::new(Table::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let t = std::sync::Arc::clone(&t);
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        t.incr("hits", 1, 0).unwrap();
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        assert_eq!(t.get("hits", 0), Some(Value::Int(40_000)));
    }
}
