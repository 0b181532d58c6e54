//! The frontier (compact range from leaf 0): the roots of the complete subtrees that make up
//! the tree, one per set bit of its size. Enough to compute the root after every append in
//! O(log n) memory, so checkpoints keep up with the committer without reading anything.

use crate::hash::{leaf_hash, node_hash, Hash};
use crate::tree::{fold_range, range_nodes, HashReader, NodeId, TreeError};

/// Appending costs amortised one node hash per leaf; `root` costs popcount(size) - 1 hashes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Left to right: largest subtree first.
    peaks: Vec<Hash>,
}

impl Frontier {
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// The frontier of an existing tree of `size` leaves (e.g. on restart), from its store.
    pub fn from_reader<R: HashReader + ?Sized>(size: u64, r: &R) -> Result<Frontier, TreeError> {
        let mut ids = Vec::new();
        range_nodes(0, size, &mut ids);
        let peaks = if ids.is_empty() {
            Vec::new()
        } else {
            r.read_hashes(&ids)?
        };
        if peaks.len() != ids.len() {
            return Err(crate::tree::ReadError::Count {
                asked: ids.len(),
                got: peaks.len(),
            }
            .into());
        }
        Ok(Frontier { size, peaks })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf (a record's 32-byte hash).
    pub fn append(&mut self, leaf: &[u8]) {
        self.append_leaf_hash(leaf_hash(leaf), |_, _| {});
    }

    /// Appends a hashed leaf; `completed` sees every complete subtree this append closes,
    /// from the leaf up (what a store persists so that proofs need O(log n) reads).
    pub fn append_leaf_hash(&mut self, h: Hash, mut completed: impl FnMut(NodeId, Hash)) {
        let mut h = h;
        let mut index = self.size;
        let mut level = 0u8;
        completed(NodeId::new(0, index), h);
        while index & 1 == 1 {
            let Some(left) = self.peaks.pop() else {
                break; // unreachable: a set bit always has its peak
            };
            h = node_hash(&left, &h);
            index >>= 1;
            level += 1;
            completed(NodeId::new(level, index), h);
        }
        self.peaks.push(h);
        self.size += 1;
    }

    /// The current root (MTH of every leaf so far; the empty hash for none).
    pub fn root(&self) -> Hash {
        fold_range(&self.peaks)
    }

    /// The peaks, largest subtree first (the nodes `range_nodes(0, size)` names).
    pub fn peaks(&self) -> &[Hash] {
        &self.peaks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memstore::MemHashStore;
    use crate::tree::root;

    #[test]
    fn root_agrees_with_store_at_every_size() {
        let mut f = Frontier::new();
        let mut s = MemHashStore::new();
        assert_eq!(f.root(), root(0, &s).unwrap());
        for i in 0..300u32 {
            let mut seen = Vec::new();
            f.append_leaf_hash(leaf_hash(&i.to_le_bytes()), |id, h| seen.push((id, h)));
            s.append(&i.to_le_bytes());
            for (id, h) in seen {
                assert_eq!(s.get(id), Some(h));
            }
            assert_eq!(f.root(), root(f.size(), &s).unwrap());
            assert_eq!(Frontier::from_reader(f.size(), &s).unwrap(), f);
        }
    }
}
