//! A per-thread argument/result buffer shared by JS and Rust.
//!
//! Converting a JS string or typed array argument costs far more through
//! N-API than the table operation itself (measured: a string argument about
//! 150 ns, a typed array about 150 ns, against ~30 ns for the whole dashmap
//! lookup). So each JS thread attaches one `Uint8Array` once; JS writes keys
//! and encoded values into it and passes only lengths (numbers), and Rust
//! writes results back into it.
// The one place this crate needs unsafe: reading a JS-owned buffer.
#![allow(unsafe_code)]

use napi::bindgen_prelude::Uint8Array;
use napi::{Env, Error, Result, Status};
use napi_derive::napi;

struct Scratch {
    buf: Uint8Array,
}

/// Makes `buf` this thread's scratch buffer, replacing (and releasing) any
/// earlier one. JS must stop using the old buffer once it attaches a new one.
#[napi]
pub fn attach_scratch(env: Env, buf: Uint8Array) -> Result<()> {
    if let Some(s) = env.get_instance_data::<Scratch>()? {
        s.buf = buf;
        return Ok(());
    }
    env.set_instance_data(Scratch { buf }, (), |_| {})
}

/// Runs `f` on this thread's scratch buffer.
pub(crate) fn with_scratch<R>(env: &Env, f: impl FnOnce(&mut [u8]) -> R) -> Result<R> {
    let Some(s) = env.get_instance_data::<Scratch>()? else {
        return Err(Error::new(
            Status::GenericFailure,
            "ironwood: no scratch buffer attached on this thread",
        ));
    };
    // SAFETY: the napi reference held by `s.buf` keeps the ArrayBuffer alive,
    // and V8 never moves a backing store. JS runs on this same thread and is
    // suspended for the whole synchronous call, so nothing else reads or
    // writes these bytes while `f` holds the slice; ironwood's TS never
    // detaches or transfers the buffer.
    let bytes = unsafe { s.buf.as_mut() };
    Ok(f(bytes))
}

/// Splits the scratch buffer at `at`, a length JS passed in: too large is a
/// binding bug, reported as an error rather than a panic.
pub(crate) fn split(bytes: &mut [u8], at: u32) -> Result<(&mut [u8], &mut [u8])> {
    let at = at as usize;
    if at > bytes.len() {
        return Err(Error::new(
            Status::InvalidArg,
            "ironwood: length beyond the scratch buffer",
        ));
    }
    Ok(bytes.split_at_mut(at))
}

/// The key JS wrote at the start of the buffer.
pub(crate) fn key(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes)
        .map_err(|_| Error::new(Status::InvalidArg, "ironwood: key is not UTF-8"))
}
