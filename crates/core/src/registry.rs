//! Named tables: `Table.open(name)` returns the same table to every caller
//! (every worker thread) that opens that name.

use std::sync::Arc;

use dashmap::DashMap;

use crate::table::{Millis, Table};

/// A set of tables by name. The binding keeps one in a `static`.
#[derive(Debug, Default)]
pub struct Tables {
    by_name: DashMap<String, Arc<Table>>,
}

impl Tables {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The table called `name`, created empty on first use.
    pub fn open(&self, name: &str) -> Arc<Table> {
        if let Some(t) = self.by_name.get(name) {
            return Arc::clone(&t);
        }
        Arc::clone(&self.by_name.entry(name.to_owned()).or_default())
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
        // Collect first so no registry lock is held while tables are purged.
        let tables: Vec<Arc<Table>> = self.by_name.iter().map(|e| Arc::clone(e.value())).collect();
        tables.iter().map(|t| t.purge_expired(now)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Value;

    #[test]
    fn same_name_same_table() {
        let r = Tables::new();
        r.open("a").set("k", Value::Int(1), None, 0);
        assert_eq!(r.open("a").get("k", 0), Some(Value::Int(1)));
        assert_eq!(r.open("b").get("k", 0), None);
        assert_eq!(r.names(), vec!["a", "b"]);
    }

    #[test]
    fn purges_every_table() {
        let r = Tables::new();
        r.open("a").set("k", Value::Int(1), Some(1), 0);
        r.open("b").set("k", Value::Int(1), Some(1), 0);
        assert_eq!(r.purge_expired(1), 2);
    }
}
