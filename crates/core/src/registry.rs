//! Named tables: `Table.open(name)` returns the same table to every caller
//! (every worker thread) that opens that name. Each table also gets a small
//! integer id so the binding can pass a number instead of a name or an
//! object on every call; looking an id up is lock-free.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use dashmap::DashMap;

use crate::table::{Millis, Table};

/// A table's id within its registry.
pub type TableId = u32;

const CHUNK: usize = 256;
const CHUNKS: usize = 4096;

/// The most tables one registry holds (tables are never dropped).
pub const MAX_TABLES: usize = CHUNK * CHUNKS;

type Chunk = Box<[OnceLock<Arc<Table>>]>;

/// A set of tables by name and by id. The binding keeps one in a `static`.
pub struct Tables {
    by_name: DashMap<String, TableId>,
    // Append-only two-level array: ids are read with two atomic loads, no lock.
    chunks: Box<[OnceLock<Chunk>]>,
    next: AtomicU32,
}

impl std::fmt::Debug for Tables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tables")
            .field("count", &self.next.load(Ordering::Relaxed))
            .finish()
    }
}

impl Default for Tables {
    fn default() -> Self {
        Self::new()
    }
}

/// `open` could not create another table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyTables;

impl Tables {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self {
            by_name: DashMap::new(),
            chunks: (0..CHUNKS).map(|_| OnceLock::new()).collect(),
            next: AtomicU32::new(0),
        }
    }

    fn slot(&self, id: TableId) -> Option<&OnceLock<Arc<Table>>> {
        let id = id as usize;
        let chunk = self.chunks.get(id / CHUNK)?;
        let chunk = chunk.get_or_init(|| (0..CHUNK).map(|_| OnceLock::new()).collect());
        chunk.get(id % CHUNK)
    }

    /// The id of the table called `name`, created empty on first use.
    pub fn open(&self, name: &str) -> Result<TableId, TooManyTables> {
        if let Some(id) = self.by_name.get(name) {
            return Ok(*id);
        }
        // The entry lock makes creation happen once per name.
        let mut failed = false;
        let id = *self.by_name.entry(name.to_owned()).or_insert_with(|| {
            let id = self.next.fetch_add(1, Ordering::AcqRel);
            match self.slot(id) {
                Some(slot) => {
                    let _ = slot.set(Arc::new(Table::new()));
                }
                None => failed = true,
            }
            id
        });
        if failed {
            self.by_name.remove(name);
            return Err(TooManyTables);
        }
        Ok(id)
    }

    /// The table with id `id`, if it was opened. Lock-free.
    #[must_use]
    pub fn get(&self, id: TableId) -> Option<&Arc<Table>> {
        let id = id as usize;
        self.chunks.get(id / CHUNK)?.get()?.get(id % CHUNK)?.get()
    }

    /// The names of all tables opened so far, sorted.
    #[must_use]
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.by_name.iter().map(|e| e.key().clone()).collect();
        names.sort_unstable();
        names
    }

    /// Frees expired entries in every table; returns how many.
    pub fn purge_expired(&self, now: Millis) -> usize {
        let count = self.next.load(Ordering::Acquire);
        (0..count)
            .filter_map(|id| self.get(id))
            .map(|t| t.purge_expired(now))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Value;

    #[test]
    fn same_name_same_table() {
        let r = Tables::new();
        let a = r.open("a").unwrap();
        r.get(a).unwrap().set("k", Value::Int(1), None, 0);
        assert_eq!(r.open("a"), Ok(a));
        assert_eq!(
            r.get(r.open("a").unwrap()).unwrap().get("k", 0),
            Some(Value::Int(1))
        );
        let b = r.open("b").unwrap();
        assert_ne!(a, b);
        assert_eq!(r.get(b).unwrap().get("k", 0), None);
        assert_eq!(r.names(), vec!["a", "b"]);
        assert!(r.get(999).is_none());
        assert!(r.get(u32::MAX).is_none());
    }

    #[test]
    fn ids_cross_chunk_boundaries() {
        let r = Tables::new();
        let ids: Vec<_> = (0..CHUNK + 3)
            .map(|i| r.open(&format!("t{i}")).unwrap())
            .collect();
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(r.open(&format!("t{i}")), Ok(*id));
            assert!(r.get(*id).is_some());
        }
    }

    #[test]
    fn concurrent_open_agrees_on_one_id() {
        let r = Arc::new(Tables::new());
        let ids: Vec<_> = (0..8)
            .map(|_| {
                let r = Arc::clone(&r);
                std::thread::spawn(move || r.open("shared").unwrap())
            })
            .map(|h| h.join().unwrap())
            .collect();
        assert!(ids.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn purges_every_table() {
        let r = Tables::new();
        for name in ["a", "b"] {
            r.get(r.open(name).unwrap())
                .unwrap()
                .set("k", Value::Int(1), Some(1), 0);
        }
        assert_eq!(r.purge_expired(1), 2);
    }
}
