//! The table binding. Every call names its table by id and finds its key
//! (and value) at the start of this thread's scratch buffer; results go into
//! the buffer right after the key. Failures of the operation itself come
//! back as values; only misuse of the binding is an exception.

use std::sync::LazyLock;

use ironwood_core::{IncrError, Table, TableId, Tables, Ttl, Value, ValueRef, msgpack};
use ironwood_net::{now_millis, sweeper};
use napi::bindgen_prelude::Either;
use napi::{Env, Error, Result, Status};
use napi_derive::napi;

use crate::scratch::{key, split, with_scratch};

/// Every table of the process. The addon loads once per process, so every
/// worker thread sees this same registry.
static TABLES: LazyLock<Tables> = LazyLock::new(Tables::new);

/// Returned by reads when the key is absent.
const ABSENT: i64 = -1;

/// Reads return `>= 0` bytes written, `-1` absent, or `-(n + 1)`: the part of
/// the buffer after the key is too small and `n` bytes are needed there.
fn too_small(needed: usize) -> i64 {
    -(needed as i64) - 1
}

fn table(id: TableId) -> Result<&'static Table> {
    TABLES.get(id).map(|t| &**t).ok_or_else(|| {
        Error::new(
            Status::InvalidArg,
            format!("ironwood: no table with id {id}"),
        )
    })
}

fn ttl_arg(ttl_ms: f64) -> Option<u64> {
    // TS validates; 0 means "no TTL". Round up so a fraction of a ms still counts.
    (ttl_ms > 0.0).then(|| {
        ensure_sweeper();
        ttl_ms.ceil() as u64
    })
}

fn ensure_sweeper() {
    sweeper::ensure_started(&TABLES);
}

fn write_value(v: ValueRef<'_>, out: &mut [u8]) -> usize {
    match v {
        ValueRef::Int(n) => msgpack::write_int(n, out),
        ValueRef::Bytes(b) => put(out, 0, b),
    }
}

/// Copies `bytes` to `out[pos..]` if they fit; returns the position after them.
fn put(out: &mut [u8], pos: usize, bytes: &[u8]) -> usize {
    if let Some(dst) = out.get_mut(pos..pos + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
    pos + bytes.len()
}

/// Runs `f` with table `id`, the key JS wrote in `[0, keyLen)` and the rest
/// of the scratch buffer (value bytes in, results out).
fn with_key<R>(
    env: &Env,
    id: u32,
    key_len: u32,
    f: impl FnOnce(&Table, &str, &mut [u8]) -> Result<R>,
) -> Result<R> {
    let t = table(id)?;
    with_scratch(env, |buf| {
        let (k, rest) = split(buf, key_len)?;
        f(t, key(k)?, rest)
    })?
}

/// `end` bytes were written (or needed) in `out`: the read result.
fn written(end: usize, out: &[u8]) -> i64 {
    if end <= out.len() {
        end as i64
    } else {
        too_small(end)
    }
}

/// Opens (creating on first use) the table called `name`; returns its id.
#[napi]
pub fn table_open(name: String) -> Result<u32> {
    TABLES
        .open(&name)
        .map_err(|_| Error::new(Status::GenericFailure, "ironwood: too many tables"))
}

/// The names of every table opened in this process.
#[napi]
pub fn table_names() -> Vec<String> {
    TABLES.names()
}

/// Key in `[0, keyLen)`; writes the encoded value after it.
#[napi]
pub fn table_get(env: Env, id: u32, key_len: u32) -> Result<i64> {
    with_key(&env, id, key_len, |t, k, out| {
        Ok(match t.get_with(k, now_millis, |v| write_value(v, out)) {
            None => ABSENT,
            Some(len) => written(len, out),
        })
    })
}

/// `count` keys as `[u32 LE length][bytes]…` in `[0, keysLen)`; writes all
/// values after them as one MessagePack array, a missing key as
/// `msgpack::ABSENT`, so JS decodes the batch in one call. Returns the bytes
/// written, or `-(n + 1)` when `n` are needed.
#[napi]
pub fn table_get_many(env: Env, id: u32, count: u32, keys_len: u32) -> Result<i64> {
    let t = table(id)?;
    let now = now_millis();
    with_scratch(&env, |buf| {
        let (keys, out) = split(buf, keys_len)?;
        let truncated = || Error::new(Status::InvalidArg, "ironwood: truncated key list");
        let mut pos = put(out, 0, &msgpack::array32_header(count));
        let mut at = 0usize;
        for _ in 0..count {
            let len = keys.get(at..at + 4).ok_or_else(truncated)?;
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            let k = keys.get(at + 4..at + 4 + len).ok_or_else(truncated)?;
            at += 4 + len;
            let body = out.get_mut(pos..).unwrap_or_default();
            pos = match t.get_with(key(k)?, now, |v| write_value(v, body)) {
                Some(len) => pos + len,
                None => put(out, pos, &msgpack::ABSENT),
            };
        }
        Ok(written(pos, out))
    })?
}

/// Key in `[0, keyLen)`, encoded value in `[keyLen, keyLen + valueLen)`.
#[napi]
pub fn table_set(env: Env, id: u32, key_len: u32, value_len: u32, ttl_ms: f64) -> Result<()> {
    with_key(&env, id, key_len, |t, k, rest| {
        let (v, _) = split(rest, value_len)?;
        t.set(k, Value::Bytes(v.into()), ttl_arg(ttl_ms), now_millis);
        Ok(())
    })
}

/// Key in `[0, keyLen)`; stores a safe integer natively.
#[napi]
pub fn table_set_int(env: Env, id: u32, key_len: u32, value: i64, ttl_ms: f64) -> Result<()> {
    with_key(&env, id, key_len, |t, k, _| {
        t.set(k, Value::Int(value), ttl_arg(ttl_ms), now_millis);
        Ok(())
    })
}

/// Like `tableSet`, only if the key is absent; whether it stored.
#[napi]
pub fn table_set_new(env: Env, id: u32, key_len: u32, value_len: u32, ttl_ms: f64) -> Result<bool> {
    with_key(&env, id, key_len, |t, k, rest| {
        let (v, _) = split(rest, value_len)?;
        Ok(t.set_new(k, Value::Bytes(v.into()), ttl_arg(ttl_ms), now_millis))
    })
}

/// Like `tableSetInt`, only if the key is absent; whether it stored.
#[napi]
pub fn table_set_new_int(env: Env, id: u32, key_len: u32, value: i64, ttl_ms: f64) -> Result<bool> {
    with_key(&env, id, key_len, |t, k, _| {
        Ok(t.set_new(k, Value::Int(value), ttl_arg(ttl_ms), now_millis))
    })
}

/// Adds `by` atomically: the new value, or `"not_integer"` / `"overflow"`.
#[napi]
pub fn table_incr(env: Env, id: u32, key_len: u32, by: i64) -> Result<Either<i64, &'static str>> {
    with_key(&env, id, key_len, |t, k, _| {
        Ok(match t.incr(k, by, now_millis) {
            Ok(n) => Either::A(n),
            Err(IncrError::NotAnInteger) => Either::B("not_integer"),
            Err(IncrError::Overflow) => Either::B("overflow"),
        })
    })
}

/// Removes the key; whether it existed.
#[napi]
pub fn table_delete(env: Env, id: u32, key_len: u32) -> Result<bool> {
    with_key(&env, id, key_len, |t, k, _| Ok(t.delete(k, now_millis)))
}

/// Sets a TTL (`ttlMs` > 0) or removes it (0); whether the key existed.
#[napi]
pub fn table_expire(env: Env, id: u32, key_len: u32, ttl_ms: f64) -> Result<bool> {
    with_key(&env, id, key_len, |t, k, _| {
        Ok(t.expire(k, ttl_arg(ttl_ms), now_millis))
    })
}

/// Milliseconds left, `Infinity` without a TTL, `-1` when absent.
#[napi]
pub fn table_ttl(env: Env, id: u32, key_len: u32) -> Result<f64> {
    with_key(&env, id, key_len, |t, k, _| {
        Ok(match t.ttl(k, now_millis) {
            None => -1.0,
            Some(Ttl::Forever) => f64::INFINITY,
            Some(Ttl::Remaining(ms)) => ms as f64,
        })
    })
}

/// Live keys starting with the prefix in `[0, prefixLen)`, sorted, written
/// after the prefix as one MessagePack array of strings (one decode in JS:
/// building a JS array through N-API costs ~100 ns a string). Returns the
/// bytes written, or `-(n + 1)` when `n` are needed.
#[napi]
pub fn table_keys(env: Env, id: u32, prefix_len: u32) -> Result<i64> {
    with_key(&env, id, prefix_len, |t, prefix, out| {
        let mut items = Vec::new();
        let mut count = 0u32;
        t.for_each_key(prefix, now_millis, |k| {
            msgpack::push_str(k, &mut items);
            count += 1;
        });
        let at = put(out, 0, &msgpack::array32_header(count));
        Ok(written(put(out, at, &items), out))
    })
}

/// The number of live keys.
#[napi]
pub fn table_size(id: u32) -> Result<u32> {
    Ok(table(id)?.len(now_millis).try_into().unwrap_or(u32::MAX))
}

/// An estimate of the bytes the table's entries hold (see
/// `Table::memory_estimate`); a double, as it may pass 4 GiB.
#[napi]
pub fn table_memory(id: u32) -> Result<f64> {
    Ok(table(id)?.memory_estimate() as f64)
}

/// Removes every key.
#[napi]
pub fn table_clear(id: u32) -> Result<()> {
    table(id)?.clear();
    Ok(())
}

/// A native call that does nothing: the boundary-cost benchmark's probe.
#[napi]
pub fn noop() {}
