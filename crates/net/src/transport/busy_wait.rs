//! Busy waiting after traffic, as the BEAM's schedulers do (`+sbwt`).
//!
//! A message's round trip crosses four threads (JS → net → network → net →
//! JS and back), and on an idle VM waking a parked thread costs tens of
//! microseconds each time: more than all of our own work per call. So for a
//! short window after a frame is sent or delivered, when an answer is likely,
//! the net thread stays awake: it yields in a loop, and each turn of tokio's
//! scheduler polls the sockets without sleeping, so the answer is read the
//! moment it lands and a frame queued from JS needs no futex wake. The price
//! is CPU while the window is open; `IRONWOOD_NET_SPIN_US=0` turns it off.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::runtime::runtime;

/// The window when `IRONWOOD_NET_SPIN_US` is not set: about one loopback
/// round trip between two busy nodes on the 2-core machines we measure on.
const DEFAULT_WINDOW_US: u64 = 250;

static BASE: OnceLock<Instant> = OnceLock::new();
/// Microseconds since [`BASE`] of the last activity.
static LAST: AtomicU64 = AtomicU64::new(0);
static SPINNING: AtomicBool = AtomicBool::new(false);

/// The busy-wait window: `IRONWOOD_NET_SPIN_US` (0 to 100,000 µs) when set
/// to a number in range, else 250 µs.
#[must_use]
pub(crate) fn window() -> Duration {
    static WINDOW: OnceLock<Duration> = OnceLock::new();
    *WINDOW.get_or_init(|| {
        let us = std::env::var("IRONWOOD_NET_SPIN_US")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|n| *n <= 100_000)
            .unwrap_or(DEFAULT_WINDOW_US);
        Duration::from_micros(us)
    })
}

fn now_us() -> u64 {
    let base = *BASE.get_or_init(Instant::now);
    u64::try_from(base.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Notes traffic: opens (or extends) the busy-wait window. Cheap enough
/// for every frame: one clock read and a few atomics.
///
/// It spins under heavy traffic too. An earlier version stopped spinning
/// above ~20,000 frames a second, on the theory that a flood keeps the
/// thread awake anyway and a spinner only takes CPU from the JS threads.
/// Measured, it was the other way round: with 64 calls in flight on 2
/// cores the thread still parked between batches, and each wake-up cost
/// more than the spin (median of 12 passes: ~104k calls/s with the
/// cut-off, ~129k without; one-way sends unchanged within the noise).
pub(crate) fn touch() {
    let window = window();
    if window.is_zero() {
        return;
    }
    LAST.store(now_us(), Ordering::Release);
    if !SPINNING.swap(true, Ordering::AcqRel) {
        runtime().spawn(spin(u64::try_from(window.as_micros()).unwrap_or(u64::MAX)));
    }
}

async fn spin(window_us: u64) {
    loop {
        tokio::task::yield_now().await;
        // Let another runnable thread on this core (a JS thread with work)
        // go first: on 2 cores a spinner must not starve the work it waits for.
        std::thread::yield_now();
        let now = now_us();
        if now.saturating_sub(LAST.load(Ordering::Acquire)) <= window_us {
            continue;
        }
        SPINNING.store(false, Ordering::Release);
        // A touch between the check and the store saw SPINNING still true
        // and spawned nothing: take the window over again instead.
        if now_us().saturating_sub(LAST.load(Ordering::Acquire)) > window_us
            || SPINNING.swap(true, Ordering::AcqRel)
        {
            return;
        }
    }
}
