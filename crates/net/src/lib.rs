//! ironwood's I/O layer: the clock that drives the core (which never reads
//! time itself), the thread that frees expired entries, and the cluster's
//! QUIC node transport ([`transport`]).

pub mod sweeper;
pub mod transport;

use std::sync::LazyLock;
use std::time::Instant;

use ironwood_core::Millis;

static ORIGIN: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Milliseconds on a monotonic clock shared by every thread of the process
/// (its origin is the first call). Wall-clock jumps never move a TTL.
#[must_use]
pub fn now_millis() -> Millis {
    ORIGIN.elapsed().as_millis() as Millis
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_is_monotonic() {
        let a = now_millis();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(now_millis() >= a + 5);
    }
}
