//! An in-memory hash store: every complete-subtree hash, per level, appended as leaves arrive.
//! For tests, benches and the server's first version; a persistent store implements the same
//! [`HashReader`] over its own tables or tiles.

use crate::hash::{leaf_hash, node_hash, Hash};
use crate::tree::{HashReader, NodeId, ReadError};

/// `levels[l][i]` is the hash of the complete subtree `NodeId { level: l, index: i }`.
/// Appending is amortised O(1) (each leaf completes on average one node) and the memory is
/// about two hashes per leaf (64 bytes).
#[derive(Clone, Debug, Default)]
pub struct MemHashStore {
    levels: Vec<Vec<Hash>>,
}

impl MemHashStore {
    pub fn new() -> MemHashStore {
        MemHashStore::default()
    }

    /// An empty store with room for `leaves` leaves (and their interior nodes).
    pub fn with_capacity(leaves: usize) -> MemHashStore {
        let mut levels = Vec::new();
        let mut n = leaves;
        while n > 0 {
            levels.push(Vec::with_capacity(n));
            n /= 2;
        }
        MemHashStore { levels }
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends a leaf (in ree-ledger, a record's 32-byte hash), hashing it per RFC 6962.
    pub fn append(&mut self, leaf: &[u8]) -> u64 {
        self.append_leaf_hash(leaf_hash(leaf))
    }

    /// Appends an already hashed leaf and completes the nodes it closes; returns its index.
    pub fn append_leaf_hash(&mut self, h: Hash) -> u64 {
        let index = self.size();
        let mut h = h;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(h);
            let n = row.len();
            if n % 2 == 1 {
                return index;
            }
            h = node_hash(&row[n - 2], &row[n - 1]);
            level += 1;
        }
    }

    /// The stored hash of one complete subtree, if it is complete yet.
    pub fn get(&self, id: NodeId) -> Option<Hash> {
        let row = self.levels.get(usize::from(id.level))?;
        row.get(usize::try_from(id.index).ok()?).copied()
    }
}

impl HashReader for MemHashStore {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, ReadError> {
        ids.iter()
            .map(|&id| {
                self.get(id).ok_or(ReadError::Missing {
                    level: id.level,
                    index: id.index,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_every_complete_node() {
        let mut s = MemHashStore::with_capacity(5);
        for i in 0..5u8 {
            assert_eq!(s.append(&[i]), u64::from(i));
        }
        assert_eq!(s.size(), 5);
        let l = |i: u8| leaf_hash(&[i]);
        let n01 = node_hash(&l(0), &l(1));
        let n23 = node_hash(&l(2), &l(3));
        assert_eq!(s.get(NodeId::new(1, 1)), Some(n23));
        assert_eq!(s.get(NodeId::new(2, 0)), Some(node_hash(&n01, &n23)));
        assert_eq!(s.get(NodeId::new(1, 2)), None);
        assert_eq!(s.get(NodeId::new(9, 0)), None);
    }
}
