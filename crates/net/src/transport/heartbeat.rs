//! Liveness, as pure functions of `now` (the sans-IO habit): the driver
//! in `peer.rs` only sleeps and reads the clock.

use ironwood_core::Millis;

/// Whether a peer last heard from at `last_heard` is down at `now`: any
/// frame counts as a sign of life, not only a HeartbeatAck, so a peer busy
/// sending data is never declared down.
#[must_use]
pub(crate) fn timed_out(now: Millis, last_heard: Millis, timeout: Millis) -> bool {
    now.saturating_sub(last_heard) > timeout
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_longer_than_the_timeout_is_down() {
        assert!(!timed_out(1_000, 1_000, 300));
        assert!(!timed_out(1_300, 1_000, 300));
        assert!(timed_out(1_301, 1_000, 300));
        // A clock read before the last frame was stamped is not a timeout.
        assert!(!timed_out(900, 1_000, 300));
    }
}
