//! Many inclusion proofs in one tree, as a bundle carries them (one per record): each node on
//! the shared upper paths is hashed once instead of once per proof.

use crate::hash::{node_hash, Hash};
use crate::verify::{ProofError, MAX_PROOF_LEN};

/// A node of a walk: (levels climbed, index at that height) and (its hash, the siblings above).
type Step<'a> = ((u32, u64), (Hash, &'a [Hash]));

/// Checks inclusion proofs against one tree (`size` leaves, `root`), each with exactly the
/// verdict of [`crate::verify_inclusion`]. A path that reaches a node the last verified proof
/// passed through, with the same hash and the same remaining siblings, is verified there: the
/// rest of its walk would repeat that proof's. Proofs of leaves in increasing order (as a
/// bundle's records are) share everything above their common ancestor, so each node of the
/// union of their paths is hashed about once. Every byte of every proof is still compared or
/// hashed.
pub struct InclusionBatch<'a> {
    size: u64,
    root: Hash,
    /// Per height, the node the last verified proof's walk passed through there, if any:
    /// (its index, its hash, the siblings above it).
    last: Vec<Option<(u64, Hash, &'a [Hash])>>,
    /// Interior nodes hashed so far (what the sharing saves, for tests).
    hashed: u64,
}

impl<'a> InclusionBatch<'a> {
    /// A batch for the tree of `size` leaves whose root is `root`.
    pub fn new(size: u64, root: Hash) -> Self {
        InclusionBatch {
            size,
            root,
            last: Vec::new(),
            hashed: 0,
        }
    }

    /// Checks that `leaf` (an RFC 6962 leaf hash) is leaf `index`, by `proof`.
    pub fn verify(&mut self, index: u64, leaf: &Hash, proof: &'a [Hash]) -> Result<(), ProofError> {
        if index >= self.size {
            return Err(ProofError::IndexOutOfRange {
                index,
                size: self.size,
            });
        }
        if proof.len() > MAX_PROOF_LEN {
            return Err(ProofError::TooLong(proof.len()));
        }
        // The walk of `verify_inclusion`: after `k` levels, `r` is the node `f` at that height
        // and `s` the last node's index there; both depend only on (index, size, k).
        let (mut f, mut s, mut k) = (index, self.size - 1, 0u32);
        let mut r = *leaf;
        let mut path: Vec<Step<'a>> = Vec::new();
        for (i, p) in proof.iter().enumerate() {
            let rest = &proof[i..];
            if let Some(Some((at, h, above))) = self.last.get(k as usize) {
                if *at == f && *h == r && *above == rest {
                    self.remember(path);
                    return Ok(());
                }
            }
            path.push(((k, f), (r, rest)));
            if s == 0 {
                return Err(ProofError::WrongLength);
            }
            self.hashed += 1;
            if f & 1 == 1 || f == s {
                r = node_hash(p, &r);
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                    k += 1;
                }
            } else {
                r = node_hash(&r, p);
            }
            f >>= 1;
            s >>= 1;
            k += 1;
        }
        if s != 0 {
            return Err(ProofError::WrongLength);
        }
        if r != self.root {
            return Err(ProofError::RootMismatch);
        }
        self.remember(path);
        Ok(())
    }

    /// Records a verified walk; the levels above where it stopped keep the earlier walk's
    /// nodes, which it joined there.
    fn remember(&mut self, path: Vec<Step<'a>>) {
        for ((k, f), (h, above)) in path {
            let k = k as usize;
            if self.last.len() <= k {
                self.last.resize(k + 1, None);
            }
            self.last[k] = Some((f, h, above));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memstore::MemHashStore;
    use crate::tree::{inclusion_proof, root};
    use crate::verify_inclusion;
    use proptest::prelude::*;

    proptest! {
        /// Over random trees, leaves (repeated ones too) and damage to proofs, in one batch: each
        /// verdict is the single check's.
        #[test]
        fn a_batch_gives_the_single_verdicts(
            size in 1u64..300,
            picks in prop::collection::vec((0u64..300, 0u8..6, 0usize..64, any::<u8>()), 1..80),
        ) {
            let mut s = MemHashStore::new();
            for i in 0..size {
                s.append(&i.to_le_bytes());
            }
            let rt = root(size, &s).unwrap();
            let items: Vec<(u64, Hash, Vec<Hash>)> = picks
                .iter()
                .map(|&(i, how, at, x)| {
                    let i = i % size;
                    let leaf = s.get(crate::NodeId::new(0, i)).unwrap();
                    let mut p = inclusion_proof(i, size, &s).unwrap();
                    let n = p.len();
                    match how {
                        1 if n > 0 => p[at % n].0[(x % 32) as usize] ^= 1 | x,
                        2 if n > 0 => { p.truncate(at % n); }
                        3 => p.push(Hash([x; 32])),
                        4 => return ((i + 1) % size, leaf, p),
                        _ => {}
                    }
                    (i, leaf, p)
                })
                .collect();
            let mut b = InclusionBatch::new(size, rt);
            for (i, leaf, p) in &items {
                prop_assert_eq!(b.verify(*i, leaf, p), verify_inclusion(*i, size, leaf, p, &rt));
            }
        }
    }

    #[test]
    fn a_batch_of_every_leaf_hashes_each_node_about_once() {
        let mut s = MemHashStore::new();
        for i in 0..1000u32 {
            s.append(&i.to_le_bytes());
        }
        let rt = root(1000, &s).unwrap();
        let proofs: Vec<Vec<Hash>> = (0..1000)
            .map(|i| inclusion_proof(i, 1000, &s).unwrap())
            .collect();
        let mut b = InclusionBatch::new(1000, rt);
        for (i, p) in proofs.iter().enumerate() {
            let leaf = s.get(crate::NodeId::new(0, i as u64)).unwrap();
            assert_eq!(b.verify(i as u64, &leaf, p), Ok(()));
        }
        // Every node of the tree but the root, once: about 2n.
        assert!(b.hashed < 2 * 1000, "{}", b.hashed);
    }
}
