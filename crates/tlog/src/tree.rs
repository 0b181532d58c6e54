//! Roots and proofs (RFC 6962 2.1, 2.1.1, 2.1.2) computed from stored complete-subtree hashes.
//!
//! Every hash a root or proof needs is either a complete subtree (one stored node) or the
//! right-hand, incomplete part of a range, which is the fold of at most 64 complete subtrees.
//! So a proof is first *planned* as lists of [`NodeId`]s, read in one batch from a
//! [`HashReader`] (one multi-get for a store, or a handful of tiles), then folded: O(log n) reads
//! whatever the tree size.

use crate::hash::{empty_root, node_hash, Hash};

/// A complete subtree: leaves `[index << level, (index + 1) << level)`. Level 0 is a leaf hash;
/// tiles store levels 0, 8, 16, … of exactly these nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

impl NodeId {
    pub fn new(level: u8, index: u64) -> NodeId {
        NodeId { level, index }
    }
}

/// Why a hash reader could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("node (level {level}, index {index}) is not stored")]
    Missing { level: u8, index: u64 },
    #[error("hash reader returned {got} hashes for {asked} nodes")]
    Count { asked: usize, got: usize },
    #[error("hash reader: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

/// Where proofs come from: the stored hash of each complete subtree asked for, in order.
/// Batched so that a store answers a whole proof with one read.
pub trait HashReader {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, ReadError>;
}

impl<R: HashReader + ?Sized> HashReader for &R {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, ReadError> {
        (**self).read_hashes(ids)
    }
}

/// Why a root or proof could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("old tree size {old} is larger than new tree size {new}")]
    SizeOrder { old: u64, new: u64 },
    #[error("leaf indices must be given in strictly increasing order")]
    Unordered,
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// The complete subtrees covering leaves `[lo, hi)`, left to right, each as large as alignment
/// allows. For the ranges RFC 6962's recursion produces, folding them right to left is the MTH.
pub fn range_nodes(mut lo: u64, hi: u64, out: &mut Vec<NodeId>) {
    while lo < hi {
        let fits = 63 - (hi - lo).leading_zeros();
        let level = lo.trailing_zeros().min(fits);
        out.push(NodeId::new(level as u8, lo >> level));
        lo += 1 << level;
    }
}

/// MTH of the hashes of `range_nodes`: fold right to left.
pub fn fold_range(hashes: &[Hash]) -> Hash {
    let mut it = hashes.iter().rev();
    let Some(last) = it.next() else {
        return empty_root();
    };
    it.fold(*last, |acc, h| node_hash(h, &acc))
}

/// Largest power of two strictly below `n` (n >= 2): RFC 6962's split point `k`.
pub(crate) fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// Proof elements, each the fold of a run of stored nodes, in proof order (leaf to root).
#[derive(Debug, Default)]
pub(crate) struct Plan {
    ids: Vec<NodeId>,
    /// End offset in `ids` of each element.
    ends: Vec<usize>,
}

impl Plan {
    pub(crate) fn push_range(&mut self, lo: u64, hi: u64) {
        range_nodes(lo, hi, &mut self.ids);
        self.ends.push(self.ids.len());
    }

    pub(crate) fn execute<R: HashReader + ?Sized>(&self, r: &R) -> Result<Vec<Hash>, ReadError> {
        if self.ids.is_empty() {
            return Ok(Vec::new());
        }
        let hashes = r.read_hashes(&self.ids)?;
        if hashes.len() != self.ids.len() {
            return Err(ReadError::Count {
                asked: self.ids.len(),
                got: hashes.len(),
            });
        }
        let mut start = 0;
        let mut out = Vec::with_capacity(self.ends.len());
        for &end in &self.ends {
            out.push(fold_range(&hashes[start..end]));
            start = end;
        }
        Ok(out)
    }
}

/// RFC 6962 PATH(m, D[lo : lo+size]).
fn plan_path(m: u64, lo: u64, size: u64, plan: &mut Plan) {
    if size <= 1 {
        return;
    }
    let k = split(size);
    if m < k {
        plan_path(m, lo, k, plan);
        plan.push_range(lo + k, lo + size);
    } else {
        plan_path(m - k, lo + k, size - k, plan);
        plan.push_range(lo, lo + k);
    }
}

/// RFC 6962 SUBPROOF(m, D[lo : lo+size], b).
fn plan_subproof(m: u64, lo: u64, size: u64, complete: bool, plan: &mut Plan) {
    if m == size {
        if !complete {
            plan.push_range(lo, lo + size);
        }
        return;
    }
    let k = split(size);
    if m <= k {
        plan_subproof(m, lo, k, complete, plan);
        plan.push_range(lo + k, lo + size);
    } else {
        plan_subproof(m - k, lo + k, size - k, false, plan);
        plan.push_range(lo, lo + k);
    }
}

/// The stored nodes `inclusion_proof(index, size)` reads (a tile client fetches their tiles).
pub fn inclusion_nodes(index: u64, size: u64) -> Vec<NodeId> {
    let mut plan = Plan::default();
    if index < size {
        plan_path(index, 0, size, &mut plan);
    }
    plan.ids
}

/// The stored nodes `consistency_proof(old, new)` reads.
pub fn consistency_nodes(old: u64, new: u64) -> Vec<NodeId> {
    let mut plan = Plan::default();
    if old > 0 && old < new {
        plan_subproof(old, 0, new, true, &mut plan);
    }
    plan.ids
}

/// The root (MTH) of the first `size` leaves.
pub fn root<R: HashReader + ?Sized>(size: u64, r: &R) -> Result<Hash, TreeError> {
    if size == 0 {
        return Ok(empty_root());
    }
    let mut plan = Plan::default();
    plan.push_range(0, size);
    Ok(plan.execute(r)?[0])
}

/// Inclusion proof (audit path) of leaf `index` in the tree of `size` leaves, leaf to root.
pub fn inclusion_proof<R: HashReader + ?Sized>(
    index: u64,
    size: u64,
    r: &R,
) -> Result<Vec<Hash>, TreeError> {
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    let mut plan = Plan::default();
    plan_path(index, 0, size, &mut plan);
    Ok(plan.execute(r)?)
}

/// Consistency proof from the tree of `old` leaves to the tree of `new` leaves. Empty when
/// `old` is 0 or equals `new` (tlog-witness asks for an empty proof from size 0).
pub fn consistency_proof<R: HashReader + ?Sized>(
    old: u64,
    new: u64,
    r: &R,
) -> Result<Vec<Hash>, TreeError> {
    if old > new {
        return Err(TreeError::SizeOrder { old, new });
    }
    let mut plan = Plan::default();
    if old > 0 && old < new {
        plan_subproof(old, 0, new, true, &mut plan);
    }
    Ok(plan.execute(r)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::memstore::MemHashStore;

    /// RFC 6962's recursive MTH, straight from the text, over leaf hashes.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn store(n: u64) -> (MemHashStore, Vec<Hash>) {
        let mut s = MemHashStore::new();
        let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for l in &leaves {
            s.append_leaf_hash(*l);
        }
        (s, leaves)
    }

    #[test]
    fn range_nodes_decompose_binary() {
        let mut v = Vec::new();
        range_nodes(0, 13, &mut v);
        assert_eq!(
            v,
            [NodeId::new(3, 0), NodeId::new(2, 2), NodeId::new(0, 12)]
        );
        v.clear();
        range_nodes(8, 16, &mut v);
        assert_eq!(v, [NodeId::new(3, 1)]);
    }

    #[test]
    fn root_matches_recursive_definition() {
        let (s, leaves) = store(70);
        for n in 0..=70u64 {
            assert_eq!(root(n, &s).unwrap(), mth(&leaves[..n as usize]), "size {n}");
        }
    }

    #[test]
    fn proof_lengths_and_errors() {
        let (s, _) = store(8);
        assert_eq!(inclusion_proof(0, 8, &s).unwrap().len(), 3);
        assert_eq!(inclusion_proof(0, 1, &s).unwrap().len(), 0);
        assert!(matches!(
            inclusion_proof(8, 8, &s),
            Err(TreeError::IndexOutOfRange { .. })
        ));
        assert!(matches!(
            consistency_proof(5, 4, &s),
            Err(TreeError::SizeOrder { .. })
        ));
        assert!(consistency_proof(0, 8, &s).unwrap().is_empty());
        assert!(consistency_proof(8, 8, &s).unwrap().is_empty());
        assert!(matches!(
            inclusion_proof(3, 9, &s),
            Err(TreeError::Read(ReadError::Missing { .. }))
        ));
    }

    #[test]
    fn rfc6962_example_proofs() {
        // RFC 6962 2.1.3: the tree of 7 leaves d0..d6.
        let (s, l) = store(7);
        let (a, b) = (node_hash(&l[0], &l[1]), node_hash(&l[2], &l[3]));
        let (i, j) = (node_hash(&l[4], &l[5]), l[6]);
        let (g, h) = (node_hash(&a, &b), node_hash(&i, &j));
        assert_eq!(inclusion_proof(0, 7, &s).unwrap(), [l[1], b, h]);
        assert_eq!(inclusion_proof(3, 7, &s).unwrap(), [l[2], a, h]);
        assert_eq!(inclusion_proof(4, 7, &s).unwrap(), [l[5], j, g]);
        assert_eq!(inclusion_proof(6, 7, &s).unwrap(), [i, g]);
        assert_eq!(consistency_proof(3, 7, &s).unwrap(), [l[2], l[3], a, h]);
        assert_eq!(consistency_proof(4, 7, &s).unwrap(), [h]);
        assert_eq!(consistency_proof(6, 7, &s).unwrap(), [i, j, g]);
    }
}
