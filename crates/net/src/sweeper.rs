//! Frees the memory of expired table entries soon after they expire. Reads
//! already hide an expired key at once; this only gives the memory back.

use std::sync::Once;
use std::time::Duration;

use ironwood_core::Tables;

use crate::now_millis;

/// How often expired entries are freed.
pub const SWEEP_INTERVAL: Duration = Duration::from_millis(250);

static STARTED: Once = Once::new();

/// Starts the sweeper thread for `tables` the first time it is called (the
/// first TTL ever set); later calls do nothing. The thread never keeps the
/// process alive: it is detached and dies with the process.
pub fn ensure_started(tables: &'static Tables) {
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("ironwood-ttl-sweeper".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(SWEEP_INTERVAL);
                    tables.purge_expired(now_millis());
                }
            });
        // Without the thread, expired keys stay hidden and are freed by
        // size() and by overwrites; nothing is lost, so a failure is not fatal.
        if let Err(err) = spawned {
            eprintln!("ironwood: could not start the TTL sweeper thread: {err}");
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use ironwood_core::Value;

    use super::*;

    static TABLES: LazyLock<Tables> = LazyLock::new(Tables::new);

    #[test]
    fn frees_expired_entries_in_the_background() {
        let t = TABLES.get(TABLES.open("sweep").unwrap()).unwrap();
        t.set("a", Value::Int(1), Some(1), now_millis());
        ensure_started(&TABLES);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while t.stored_len() != 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "entry was never freed"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
