//! The hub's placement ring: a thin wrapper over `ironwood_core::ring::Ring`.
//!
//! One `HashRing` per hub instance (instance state, not a static: each hub
//! has its own membership). Single lookups take the id as a string; batch
//! lookups take every id packed in one buffer (`[u32 LE length][UTF-8]…`) and
//! return one index per id, so placing 100,000 children is one N-API call
//! rather than 100,000 string conversions.

use ironwood_core::ring::Ring;
use napi::bindgen_prelude::{Uint8Array, Uint32Array};
use napi::{Error, Result, Status};
use napi_derive::napi;

/// Returned in place of an index when the ring has no nodes.
const NO_OWNER: u32 = u32::MAX;

/// A rendezvous-hashing ring: which node(s) own a child id. The same node
/// names give the same owners on every node, in any insertion order.
#[napi]
pub struct HashRing {
    ring: Ring,
}

#[napi]
impl HashRing {
    /// A ring over `nodes` (order and duplicates do not matter).
    #[napi(constructor)]
    pub fn new(nodes: Vec<String>) -> Self {
        HashRing {
            ring: Ring::new(nodes),
        }
    }

    /// Adds a node; false if it was already a member.
    #[napi]
    pub fn add(&mut self, node: String) -> bool {
        self.ring.add(node)
    }

    /// Removes a node; false if it was not a member.
    #[napi]
    pub fn remove(&mut self, node: String) -> bool {
        self.ring.remove(&node)
    }

    /// The member names, sorted; owner indices point into this list.
    #[napi]
    pub fn nodes(&self) -> Vec<String> {
        self.ring.names().map(str::to_owned).collect()
    }

    /// The index (into `nodes()`) of the owner of `id`, or -1 if the ring is empty.
    #[napi]
    pub fn owner(&self, id: String) -> i32 {
        self.ring
            .owner_index(id.as_bytes())
            .map_or(-1, |i| i as i32)
    }

    /// The indices of the `k` owners of `id`, best first.
    #[napi]
    pub fn owners(&self, id: String, k: u32) -> Vec<u32> {
        self.ring
            .owner_indices(id.as_bytes(), k as usize)
            .into_iter()
            .map(|i| i as u32)
            .collect()
    }

    /// `count` ids packed as `[u32 LE length][UTF-8 bytes]…`; the owner index
    /// of each, in order (`0xFFFFFFFF` when the ring is empty).
    #[napi]
    pub fn owner_batch(&self, packed: Uint8Array, count: u32) -> Result<Uint32Array> {
        let bytes: &[u8] = &packed;
        let truncated = || Error::new(Status::InvalidArg, "ironwood: truncated id list");
        let mut out = Vec::with_capacity(count as usize);
        let mut at = 0usize;
        for _ in 0..count {
            let len = bytes.get(at..at + 4).ok_or_else(truncated)?;
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            let id = bytes.get(at + 4..at + 4 + len).ok_or_else(truncated)?;
            at += 4 + len;
            out.push(self.ring.owner_index(id).map_or(NO_OWNER, |i| i as u32));
        }
        Ok(Uint32Array::new(out))
    }
}
