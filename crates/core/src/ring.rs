//! The hub's placement: which node(s) own a child, by rendezvous hashing
//! (highest random weight, Thaler & Ravishankar 1996).
//!
//! Every node scores every (node, child id) pair with the same stable hash and
//! a child is owned by the `k` nodes with the highest scores. Why rendezvous
//! rather than a ring of virtual nodes:
//! - **Minimal movement by construction.** A child's owner changes on a leave
//!   only if the leaver was its owner, and on a join only if the newcomer now
//!   scores highest: exactly the ≈ 1/N that must move, with no dependence on
//!   how many virtual nodes were configured or where they fell.
//! - **Balance without tuning.** Each node wins a child with probability 1/N;
//!   a virtual-node ring needs hundreds of points per node (and their memory)
//!   to get as close, and its imbalance grows when a node leaves.
//! - **Replicas for free.** The `k` best scores are `k` distinct nodes, so the
//!   replication factor needs no "walk the ring skipping duplicates" step.
//!
//! The cost is O(N) per lookup instead of O(log N), which for cluster sizes
//! (tens of nodes) is a few nanoseconds per node: cheaper than the binary
//! search plus cache misses of a large virtual-node ring.
//!
//! The hash is written here (FNV-1a, then a murmur3 finalizer) rather than
//! taken from `std` or a hashing crate: owners must be identical on every node
//! of the cluster, including nodes built with other compiler or crate
//! versions, so its output is part of the wire contract.

/// 64-bit FNV-1a offset basis.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// 64-bit FNV-1a prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The murmur3 64-bit finalizer: full avalanche, a bijection on `u64`.
const fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// The stable 64-bit hash of a string used for placement. Part of the wire
/// contract: every node must compute the same value for the same bytes.
#[must_use]
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h = FNV_OFFSET;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    fmix64(h)
}

/// The rendezvous score of a child (by its hash) on a node (by its hash).
/// The node hash is multiplied by an odd constant before mixing so that
/// `score(a, b) != score(b, a)` and nodes with close hashes do not correlate.
#[must_use]
#[inline]
pub fn score(node_hash: u64, child_hash: u64) -> u64 {
    fmix64(child_hash ^ node_hash.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// The membership a hub places children on: a set of node names, kept
/// sorted and without duplicates, each with its precomputed hash.
///
/// Pure data: no locking, no I/O. Two rings built from the same names (in any
/// order) answer every query identically.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ring {
    /// `(name, stable_hash(name))`, sorted by name.
    nodes: Vec<(String, u64)>,
}

impl Ring {
    /// A ring over `names` (order and duplicates do not matter).
    #[must_use]
    pub fn new<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut ring = Self::default();
        for n in names {
            ring.add(n);
        }
        ring
    }

    /// Adds a node; false if it was already there.
    pub fn add(&mut self, name: impl Into<String>) -> bool {
        let name = name.into();
        match self.nodes.binary_search_by(|(n, _)| n.as_str().cmp(&name)) {
            Ok(_) => false,
            Err(at) => {
                let h = stable_hash(name.as_bytes());
                self.nodes.insert(at, (name, h));
                true
            }
        }
    }

    /// Removes a node; false if it was not there.
    pub fn remove(&mut self, name: &str) -> bool {
        match self.nodes.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(at) => {
                self.nodes.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    /// Whether `name` is a member.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.index_of(name).is_some()
    }

    /// The position of `name` in [`Ring::names`], if it is a member.
    #[must_use]
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
    }

    /// How many nodes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the ring has no nodes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The member names, sorted.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.nodes.iter().map(|(n, _)| n.as_str())
    }

    /// The index (into [`Ring::names`]) of the node that owns `id`, or `None`
    /// when the ring is empty. Ties (astronomically rare) go to the node
    /// whose name sorts first, so they too are identical everywhere.
    #[must_use]
    pub fn owner_index(&self, id: &[u8]) -> Option<usize> {
        let c = stable_hash(id);
        let mut best: Option<(usize, u64)> = None;
        for (i, (_, h)) in self.nodes.iter().enumerate() {
            let s = score(*h, c);
            if best.is_none_or(|(_, b)| s > b) {
                best = Some((i, s));
            }
        }
        best.map(|(i, _)| i)
    }

    /// The name of the node that owns `id`.
    #[must_use]
    pub fn owner(&self, id: &[u8]) -> Option<&str> {
        self.owner_index(id).map(|i| self.nodes[i].0.as_str())
    }

    /// The indices of the `k` owners of `id`, best first (fewer when the ring
    /// has fewer than `k` nodes). The first is always [`Ring::owner_index`].
    #[must_use]
    pub fn owner_indices(&self, id: &[u8], k: usize) -> Vec<usize> {
        let c = stable_hash(id);
        let mut scored: Vec<(u64, usize)> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, (_, h))| (score(*h, c), i))
            .collect();
        // Highest score first; equal scores by name order (lower index first).
        scored.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().take(k).map(|(_, i)| i).collect()
    }

    /// The names of the `k` owners of `id`, best first.
    #[must_use]
    pub fn owners(&self, id: &[u8], k: usize) -> Vec<&str> {
        self.owner_indices(id, k)
            .into_iter()
            .map(|i| self.nodes[i].0.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("device:{i}")).collect()
    }

    fn node_names(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("n{i}@127.0.0.1:{}", 4370 + i))
            .collect()
    }

    // Computed independently (Python) from the definition above.
    const PINNED_DEVICE_42: u64 = 0x4dbc_b385_f1cc_e9af;

    #[test]
    fn hash_is_pinned() {
        // Part of the wire contract: a change here changes placement between
        // versions, so it must be deliberate.
        assert_eq!(stable_hash(b""), fmix64(FNV_OFFSET));
        assert_eq!(stable_hash(b"device:42"), stable_hash(b"device:42"));
        assert_ne!(stable_hash(b"device:42"), stable_hash(b"device:43"));
        assert_eq!(stable_hash(b"device:42"), PINNED_DEVICE_42);
    }

    #[test]
    fn empty_ring_owns_nothing() {
        let r = Ring::default();
        assert_eq!(r.owner(b"x"), None);
        assert!(r.owners(b"x", 2).is_empty());
        assert!(r.is_empty());
    }

    #[test]
    fn add_remove_keep_names_sorted_and_unique() {
        let mut r = Ring::new(["c", "a", "b", "a"]);
        assert_eq!(r.names().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(!r.add("b"));
        assert!(r.remove("b"));
        assert!(!r.remove("b"));
        assert_eq!(r.names().collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(r.index_of("c"), Some(1));
        assert!(!r.contains("b"));
    }

    #[test]
    fn single_node_owns_everything() {
        let r = Ring::new(["only"]);
        for id in ids(100) {
            assert_eq!(r.owner(id.as_bytes()), Some("only"));
        }
    }

    #[test]
    fn balanced_across_three_nodes() {
        let r = Ring::new(node_names(3));
        let mut count: HashMap<&str, usize> = HashMap::new();
        let n = 30_000;
        for id in ids(n) {
            *count.entry(r.owner(id.as_bytes()).unwrap()).or_default() += 1;
        }
        // Each node gets 1/3 ± 5% of the children.
        for (node, c) in &count {
            let share = *c as f64 / n as f64;
            assert!((share - 1.0 / 3.0).abs() < 0.05, "{node}: {share}");
        }
        assert_eq!(count.len(), 3);
    }

    #[test]
    fn join_moves_about_one_over_n() {
        let before = Ring::new(node_names(3));
        let after = Ring::new(node_names(4));
        let n = 20_000;
        let moved = ids(n)
            .iter()
            .filter(|id| before.owner(id.as_bytes()) != after.owner(id.as_bytes()))
            .count();
        let share = moved as f64 / n as f64;
        // Expected exactly 1/4; allow sampling noise well inside 1.2 × 1/N.
        assert!(share > 0.2 && share < 0.3, "moved {share}");
        // Every moved child moved to the newcomer.
        let newcomer = node_names(4).pop().unwrap();
        for id in ids(n) {
            let (b, a) = (before.owner(id.as_bytes()), after.owner(id.as_bytes()));
            if b != a {
                assert_eq!(a, Some(newcomer.as_str()));
            }
        }
    }

    #[test]
    fn replicas_are_distinct_and_start_with_the_owner() {
        let r = Ring::new(node_names(5));
        for id in ids(500) {
            let o = r.owners(id.as_bytes(), 3);
            assert_eq!(o.len(), 3);
            assert_eq!(Some(o[0]), r.owner(id.as_bytes()));
            assert!(o[0] != o[1] && o[1] != o[2] && o[0] != o[2]);
        }
        assert_eq!(r.owners(b"x", 9).len(), 5);
    }

    fn membership() -> impl Strategy<Value = Vec<String>> {
        prop::collection::btree_set("[a-z]{1,6}@127\\.0\\.0\\.1:[0-9]{2,5}", 1..8)
            .prop_map(|s| s.into_iter().collect())
    }

    proptest! {
        #[test]
        fn order_of_membership_does_not_matter(names in membership(), id in ".{0,40}", seed in any::<u64>()) {
            let a = Ring::new(names.clone());
            let mut shuffled = names.clone();
            // Deterministic shuffle from the seed.
            let len = shuffled.len();
            for i in 0..len {
                let j = (fmix64(seed ^ i as u64) as usize) % len;
                shuffled.swap(i, j);
            }
            let b = Ring::new(shuffled);
            prop_assert_eq!(a.owner(id.as_bytes()), b.owner(id.as_bytes()));
            prop_assert_eq!(a.owners(id.as_bytes(), 3), b.owners(id.as_bytes(), 3));
        }

        #[test]
        fn leave_moves_only_the_leavers_children(names in membership(), leaver in any::<prop::sample::Index>(), children in prop::collection::vec(".{1,20}", 1..200)) {
            let before = Ring::new(names.clone());
            let gone = leaver.get(&names).clone();
            let mut after = before.clone();
            after.remove(&gone);
            for id in &children {
                let b = before.owner(id.as_bytes()).unwrap();
                let a = after.owner(id.as_bytes());
                if b != gone {
                    prop_assert_eq!(Some(b), a);
                } else {
                    prop_assert_ne!(a, Some(gone.as_str()));
                }
            }
        }

        #[test]
        fn join_moves_children_only_to_the_newcomer(names in membership(), newcomer in "[a-z]{1,6}@127\\.0\\.0\\.1:[0-9]{2,5}", children in prop::collection::vec(".{1,20}", 1..200)) {
            let before = Ring::new(names);
            let mut after = before.clone();
            after.add(newcomer.clone());
            for id in &children {
                let b = before.owner(id.as_bytes());
                let a = after.owner(id.as_bytes());
                if a != b {
                    prop_assert_eq!(a, Some(newcomer.as_str()));
                }
            }
        }

        #[test]
        fn replica_sets_change_minimally_on_leave(names in membership(), leaver in any::<prop::sample::Index>(), id in ".{1,20}") {
            // The k owners after a leave are the k+1 owners before, minus the leaver (first k).
            let before = Ring::new(names.clone());
            let gone = leaver.get(&names).clone();
            let mut after = before.clone();
            after.remove(&gone);
            let expected: Vec<&str> = before
                .owners(id.as_bytes(), 3)
                .into_iter()
                .filter(|n| *n != gone)
                .take(2)
                .collect();
            let got = after.owners(id.as_bytes(), 2);
            prop_assert_eq!(got, expected);
        }
    }
}
