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

/// How long from `now` until a peer last heard from at `last_heard` times
/// out (0 if it already has): the silence check runs at that moment rather
/// than on the next heartbeat tick, so a lost peer is reported within the
/// timeout of its last sign of life, not up to one interval later.
#[must_use]
pub(crate) fn until_timeout(now: Millis, last_heard: Millis, timeout: Millis) -> Millis {
    last_heard
        .saturating_add(timeout)
        .saturating_add(1)
        .saturating_sub(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_is_due_just_past_the_timeout() {
        assert_eq!(until_timeout(1_000, 1_000, 300), 301);
        assert_eq!(until_timeout(1_200, 1_000, 300), 101);
        assert!(timed_out(1_000 + 301, 1_000, 300));
        assert_eq!(until_timeout(1_301, 1_000, 300), 0);
        assert_eq!(until_timeout(5_000, 1_000, 300), 0);
        // A frame stamped after `now` was read: the full timeout remains.
        assert_eq!(until_timeout(900, 1_000, 300), 401);
    }

    #[test]
    fn silence_longer_than_the_timeout_is_down() {
        assert!(!timed_out(1_000, 1_000, 300));
        assert!(!timed_out(1_300, 1_000, 300));
        assert!(timed_out(1_301, 1_000, 300));
        // A clock read before the last frame was stamped is not a timeout.
        assert!(!timed_out(900, 1_000, 300));
    }
}
