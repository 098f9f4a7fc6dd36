//! The one tokio runtime of the process, started by the first cluster call.

use std::sync::OnceLock;

use tokio::runtime::Runtime;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The process-wide runtime the transport runs on, created on first use
/// with [`worker_threads`] threads named `ironwood-net`. The binding enters it
/// (`runtime().block_on(..)` / `spawn`) for every cluster call. Heartbeats
/// are answered on these threads, so a JS thread busy for seconds never
/// makes its peers declare it down.
///
/// # Panics
/// If the OS refuses to start the threads.
pub fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads())
            .thread_name("ironwood-net")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot start the ironwood-net runtime: {e}"))
    })
}

/// The transport's worker threads: `IRONWOOD_NET_THREADS` (1 to 64) when
/// set to a number in range, else 1. One thread measured better than two
/// (bench/rpc, 2-core VM): every task of a message's path (the lane writer,
/// quinn's connection and endpoint drivers, the reader) runs on it, so no
/// hop between them wakes another thread; p50 315–360 µs against 405–450,
/// 60–72k calls/s at 64 in flight against 54–56k.
#[must_use]
pub fn worker_threads() -> usize {
    std::env::var("IRONWOOD_NET_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| (1..=64).contains(n))
        .unwrap_or(1)
}
