//! One proof that many leaves are in a tree (docs/format.md, "Bundle version 4"): the RFC 6962
//! recursion MTH(D[lo:hi]) = SHA-256(0x01 ‖ MTH(D[lo:lo+k]) ‖ MTH(D[lo+k:hi])), walked left to
//! right, where every subtree holding none of the leaves is given by its hash and every other is
//! computed. For a bundle's thousands of records in one tree this is a few hundred hashes
//! instead of one audit path each, and each node is hashed once.

use crate::hash::{node_hash, Hash};
use crate::tree::{split, HashReader, Plan, TreeError};
use crate::verify::ProofError;

/// The hashes a verifier needs besides the leaves `indices` (strictly increasing, each below
/// `size`), in the order [`verify_multi`] consumes them.
pub fn multi_proof<R: HashReader + ?Sized>(
    indices: &[u64],
    size: u64,
    r: &R,
) -> Result<Vec<Hash>, TreeError> {
    if indices.windows(2).any(|w| w[0] >= w[1]) || indices.is_empty() {
        return Err(TreeError::Unordered);
    }
    if let Some(&index) = indices.last().filter(|&&i| i >= size) {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    let mut plan = Plan::default();
    plan_multi(indices, 0, size, &mut plan);
    Ok(plan.execute(r)?)
}

fn plan_multi(indices: &[u64], lo: u64, hi: u64, plan: &mut Plan) {
    if indices.is_empty() {
        plan.push_range(lo, hi);
        return;
    }
    if hi - lo == 1 {
        return;
    }
    let mid = lo + split(hi - lo);
    let cut = indices.partition_point(|&i| i < mid);
    plan_multi(&indices[..cut], lo, mid, plan);
    plan_multi(&indices[cut..], mid, hi, plan);
}

/// Checks that each `(index, leaf hash)` of `leaves` (indices strictly increasing) is that leaf
/// of the tree of `size` leaves whose root is `root`, by `proof`, which must be used whole.
pub fn verify_multi(
    size: u64,
    root: &Hash,
    leaves: &[(u64, Hash)],
    proof: &[Hash],
) -> Result<(), ProofError> {
    if leaves.is_empty() || leaves.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(ProofError::Unordered);
    }
    if let Some(&(index, _)) = leaves.last().filter(|l| l.0 >= size) {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut rest = proof.iter();
    let r = subtree(leaves, 0, size, &mut rest)?;
    if rest.next().is_some() {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// MTH(D[lo:hi]); `leaves` are exactly those in `[lo, hi)`. Depth at most 64.
fn subtree(
    leaves: &[(u64, Hash)],
    lo: u64,
    hi: u64,
    proof: &mut std::slice::Iter<'_, Hash>,
) -> Result<Hash, ProofError> {
    match leaves {
        [] => proof.next().copied().ok_or(ProofError::WrongLength),
        [(_, leaf)] if hi - lo == 1 => Ok(*leaf),
        _ => {
            let mid = lo + split(hi - lo);
            let cut = leaves.partition_point(|l| l.0 < mid);
            let left = subtree(&leaves[..cut], lo, mid, proof)?;
            let right = subtree(&leaves[cut..], mid, hi, proof)?;
            Ok(node_hash(&left, &right))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memstore::MemHashStore;
    use crate::tree::{inclusion_proof, root};
    use crate::{verify_inclusion, NodeId};
    use proptest::prelude::*;

    fn tree(size: u64) -> (MemHashStore, Hash) {
        let mut s = MemHashStore::new();
        for i in 0..size {
            s.append(&i.to_le_bytes());
        }
        let r = root(size, &s).unwrap();
        (s, r)
    }

    fn leaves(s: &MemHashStore, idx: &[u64]) -> Vec<(u64, Hash)> {
        idx.iter()
            .map(|&i| (i, s.get(NodeId::new(0, i)).unwrap()))
            .collect()
    }

    proptest! {
        /// Any set of leaves of any tree verifies; damage to a hash, a leaf, an index or the
        /// proof's length never does; a single leaf's multi-proof holds its audit path's hashes.
        #[test]
        fn proves_exactly_its_leaves(
            size in 1u64..400,
            picks in prop::collection::btree_set(0u64..400, 1..40),
            damage in 0u8..6,
            at in any::<prop::sample::Index>(),
        ) {
            let (s, rt) = tree(size);
            let idx: Vec<u64> = picks.into_iter().filter(|&i| i < size).collect();
            prop_assume!(!idx.is_empty());
            let mut l = leaves(&s, &idx);
            let mut p = multi_proof(&idx, size, &s).unwrap();
            prop_assert_eq!(verify_multi(size, &rt, &l, &p), Ok(()));
            if idx.len() == 1 {
                // The same hashes as the audit path, in the recursion's order (left to right).
                let (mut a, mut b) = (p.clone(), inclusion_proof(idx[0], size, &s).unwrap());
                a.sort_by_key(|h| h.0);
                b.sort_by_key(|h| h.0);
                prop_assert_eq!(a, b);
            }
            let ok = match damage {
                1 if !p.is_empty() => { let j = at.index(p.len()); p[j].0[0] ^= 1; false }
                2 => { let j = at.index(l.len()); l[j].1.0[31] ^= 1; false }
                3 if !p.is_empty() => { p.pop(); false }
                4 => { p.push(rt); false }
                5 if l.len() > 1 => { l.remove(at.index(l.len())); false }
                _ => true,
            };
            prop_assert_eq!(verify_multi(size, &rt, &l, &p).is_ok(), ok);
        }
    }

    #[test]
    fn every_leaf_needs_no_hash_and_bad_inputs_are_refused() {
        let (s, rt) = tree(1000);
        let all: Vec<u64> = (0..1000).collect();
        let p = multi_proof(&all, 1000, &s).unwrap();
        assert!(p.is_empty());
        assert_eq!(verify_multi(1000, &rt, &leaves(&s, &all), &p), Ok(()));
        let one = leaves(&s, &[7]);
        let path = multi_proof(&[7], 1000, &s).unwrap();
        assert_eq!(verify_multi(1000, &rt, &one, &path), Ok(()));
        // The audit path holds the same hashes leaf to root, not in the recursion's order.
        let audit = inclusion_proof(7, 1000, &s).unwrap();
        assert_eq!(verify_inclusion(7, 1000, &one[0].1, &audit, &rt), Ok(()));
        assert_eq!(
            verify_multi(1000, &rt, &one, &audit),
            Err(ProofError::RootMismatch)
        );
        // Moved to another index, the same leaf and path fail.
        let moved = vec![(6, one[0].1)];
        assert!(verify_multi(1000, &rt, &moved, &path).is_err());
        let twice = leaves(&s, &[7, 7]);
        assert_eq!(
            verify_multi(1000, &rt, &twice, &path),
            Err(ProofError::Unordered)
        );
        assert_eq!(
            verify_multi(1000, &rt, &[], &path),
            Err(ProofError::Unordered)
        );
        assert!(matches!(
            verify_multi(
                1000,
                &rt,
                &leaves(&s, &[999])
                    .iter()
                    .map(|l| (1000, l.1))
                    .collect::<Vec<_>>(),
                &path
            ),
            Err(ProofError::IndexOutOfRange { .. })
        ));
        assert!(matches!(
            multi_proof(&[3, 2], 1000, &s),
            Err(TreeError::Unordered)
        ));
        assert!(matches!(
            multi_proof(&[1000], 1000, &s),
            Err(TreeError::IndexOutOfRange { .. })
        ));
    }
}
