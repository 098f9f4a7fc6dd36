use std::sync::{Arc, LazyLock};

use ironwood_core::{IncrError, Table, Tables, Ttl, Value, ValueRef, msgpack};
use ironwood_net::{now_millis, sweeper};
use napi::bindgen_prelude::Either;
use napi_derive::napi;

/// Every table of the process. The addon loads once per process, so every
/// worker thread sees this same registry.
static TABLES: LazyLock<Tables> = LazyLock::new(Tables::new);

/// A scratch buffer JS lends for one synchronous call. Spelled as an alias
/// so napi-derive converts it with the safe `FromNapiValue for &mut [u8]`.
type Scratch<'a> = &'a mut [u8];

/// Returned by `get` when the key is absent.
const ABSENT: i64 = -1;

/// `get`/`getMany` results: `>= 0` bytes written to `out`, `-1` absent, and
/// `-(n + 1)` for "`out` is too small, `n` bytes are needed".
fn too_small(needed: usize) -> i64 {
    -(needed as i64) - 1
}

fn ttl_arg(ttl_ms: f64) -> Option<u64> {
    // The TS layer validates; 0 means "no TTL". Round up so 0.5 ms still expires later.
    (ttl_ms > 0.0).then(|| ttl_ms.ceil() as u64)
}

fn write_value(v: ValueRef<'_>, out: &mut [u8]) -> usize {
    match v {
        ValueRef::Int(n) => msgpack::write_int(n, out),
        ValueRef::Bytes(b) => {
            if let Some(dst) = out.get_mut(..b.len()) {
                dst.copy_from_slice(b);
            }
            b.len()
        }
    }
}

fn ensure_sweeper(ttl: Option<u64>) {
    if ttl.is_some() {
        sweeper::ensure_started(&TABLES);
    }
}

/// A handle on one process-wide table (the internal side of `Table`).
#[napi]
pub struct NativeTable {
    inner: Arc<Table>,
}

#[napi]
impl NativeTable {
    /// The table named `name`, shared by every worker thread of the process.
    #[napi(factory)]
    pub fn open(name: String) -> Self {
        Self {
            inner: TABLES.open(&name),
        }
    }

    /// Writes the encoded value of `key` into `out`. Returns the length
    /// written, `-1` if absent, or `-(n + 1)` when `out` needs `n` bytes.
    #[napi]
    pub fn get(&self, key: String, #[napi(ts_arg_type = "Uint8Array")] out: Scratch<'_>) -> i64 {
        match self
            .inner
            .get_with(&key, now_millis(), |v| write_value(v, out))
        {
            None => ABSENT,
            Some(len) if len <= out.len() => len as i64,
            Some(len) => too_small(len),
        }
    }

    /// Writes each key's value into `out` as `[i32 LE length or -1][bytes]`.
    /// Returns the total length, or `-(n + 1)` when `out` needs `n` bytes.
    #[napi]
    pub fn get_many(
        &self,
        keys: Vec<String>,
        #[napi(ts_arg_type = "Uint8Array")] out: Scratch<'_>,
    ) -> i64 {
        let now = now_millis();
        let mut pos = 0usize;
        let mut needed = 0usize;
        for key in &keys {
            let header = pos;
            pos += 4;
            needed += 4;
            let body = out.get_mut(pos..).unwrap_or_default();
            let len = self.inner.get_with(key, now, |v| write_value(v, body));
            let tag: i32 = match len {
                None => -1,
                Some(len) => {
                    needed += len;
                    pos += len;
                    len as i32
                }
            };
            if let Some(dst) = out.get_mut(header..header + 4) {
                dst.copy_from_slice(&tag.to_le_bytes());
            }
        }
        if needed <= out.len() {
            needed as i64
        } else {
            too_small(needed)
        }
    }

    /// Stores encoded bytes. `ttl_ms` of 0 means no TTL.
    #[napi]
    pub fn set(&self, key: String, bytes: &[u8], ttl_ms: f64) {
        let ttl = ttl_arg(ttl_ms);
        self.inner
            .set(&key, Value::Bytes(bytes.into()), ttl, now_millis());
        ensure_sweeper(ttl);
    }

    /// Stores a safe integer natively. `ttl_ms` of 0 means no TTL.
    #[napi]
    pub fn set_int(&self, key: String, value: i64, ttl_ms: f64) {
        let ttl = ttl_arg(ttl_ms);
        self.inner.set(&key, Value::Int(value), ttl, now_millis());
        ensure_sweeper(ttl);
    }

    /// Stores encoded bytes only if `key` is absent; returns whether it did.
    #[napi]
    pub fn set_new(&self, key: String, bytes: &[u8], ttl_ms: f64) -> bool {
        let ttl = ttl_arg(ttl_ms);
        ensure_sweeper(ttl);
        self.inner
            .set_new(&key, Value::Bytes(bytes.into()), ttl, now_millis())
    }

    /// Stores a safe integer only if `key` is absent; returns whether it did.
    #[napi]
    pub fn set_new_int(&self, key: String, value: i64, ttl_ms: f64) -> bool {
        let ttl = ttl_arg(ttl_ms);
        ensure_sweeper(ttl);
        self.inner
            .set_new(&key, Value::Int(value), ttl, now_millis())
    }

    /// Adds `by` atomically: the new value, or `"not_integer"` / `"overflow"`.
    #[napi]
    pub fn incr(&self, key: String, by: i64) -> Either<i64, &'static str> {
        match self.inner.incr(&key, by, now_millis()) {
            Ok(n) => Either::A(n),
            Err(IncrError::NotAnInteger) => Either::B("not_integer"),
            Err(IncrError::Overflow) => Either::B("overflow"),
        }
    }

    /// Removes `key`; whether it existed.
    #[napi]
    pub fn delete(&self, key: String) -> bool {
        self.inner.delete(&key, now_millis())
    }

    /// Sets a TTL (`ttl_ms` > 0) or removes it (0); whether the key existed.
    #[napi]
    pub fn expire(&self, key: String, ttl_ms: f64) -> bool {
        let ttl = ttl_arg(ttl_ms);
        ensure_sweeper(ttl);
        self.inner.expire(&key, ttl, now_millis())
    }

    /// Milliseconds left, `Infinity` without a TTL, `-1` when absent.
    #[napi]
    pub fn ttl(&self, key: String) -> f64 {
        match self.inner.ttl(&key, now_millis()) {
            None => -1.0,
            Some(Ttl::Forever) => f64::INFINITY,
            Some(Ttl::Remaining(ms)) => ms as f64,
        }
    }

    /// Live keys starting with `prefix`, sorted.
    #[napi]
    pub fn keys(&self, prefix: String) -> Vec<String> {
        self.inner.keys(&prefix, now_millis())
    }

    /// The number of live keys.
    #[napi]
    pub fn size(&self) -> u32 {
        self.inner.len(now_millis()).try_into().unwrap_or(u32::MAX)
    }

    /// Removes every key.
    #[napi]
    pub fn clear(&self) {
        self.inner.clear();
    }
}

/// The names of every table opened in this process.
#[napi]
pub fn table_names() -> Vec<String> {
    TABLES.names()
}

/// A native call that does nothing: the boundary-cost benchmark's probe.
#[napi]
pub fn noop() {}
