//! Proof verification, as an offline verifier runs it: the algorithms of RFC 9162 2.1.3.2 and
//! 2.1.4.2 (the same proofs as RFC 6962), which need no tree, only sizes, hashes and the proof.

use crate::hash::{empty_root, node_hash, Hash};

/// No proof in a tree of at most 2^64 leaves is longer than this.
pub const MAX_PROOF_LEN: usize = 64;

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("old tree size {old} is larger than new tree size {new}")]
    SizeOrder { old: u64, new: u64 },
    #[error("proof has {0} hashes, more than any tree needs")]
    TooLong(usize),
    #[error("proof has the wrong number of hashes for these tree sizes")]
    WrongLength,
    #[error("proof does not lead to the expected root hash")]
    RootMismatch,
    #[error("no leaves, or leaf indices not strictly increasing")]
    Unordered,
}

/// Checks that `leaf` (the RFC 6962 leaf hash, `leaf_hash(record hash)`) is leaf `index` of the
/// tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::TooLong(proof.len()));
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `old` leaves with root `old_root` is a prefix of the tree of `new`
/// leaves with root `new_root`. From size 0 the proof must be empty (tlog-witness) and
/// `old_root` the empty tree's hash; between equal sizes, empty with equal roots.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizeOrder { old, new });
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::TooLong(proof.len()));
    }
    if old == 0 || old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        let expected = if old == 0 { empty_root() } else { *new_root };
        return if *old_root == expected {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    consistency_path(old, new, old_root, new_root, proof)
}

/// RFC 9162 2.1.4.2 for 0 < old < new.
fn consistency_path(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    // When `old` is a power of two, the old root is itself the first node of the path.
    let seed;
    let path: &[Hash] = if old.is_power_of_two() {
        seed = *old_root;
        proof
    } else {
        let (first, rest) = proof.split_first().ok_or(ProofError::WrongLength)?;
        seed = *first;
        rest
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (seed, seed);
    for c in path {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *old_root || sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memstore::MemHashStore;
    use crate::tree::{consistency_proof, inclusion_proof, root};

    fn store(n: u32) -> MemHashStore {
        let mut s = MemHashStore::new();
        for i in 0..n {
            s.append(&i.to_le_bytes());
        }
        s
    }

    #[test]
    fn every_proof_of_small_trees_verifies_and_tampering_fails() {
        let s = store(40);
        for n in 1..=40u64 {
            let rn = root(n, &s).unwrap();
            for m in 0..n {
                let leaf = s.get(crate::NodeId::new(0, m)).unwrap();
                let p = inclusion_proof(m, n, &s).unwrap();
                assert_eq!(verify_inclusion(m, n, &leaf, &p, &rn), Ok(()), "{m} in {n}");
                for i in 0..p.len() {
                    let mut bad = p.clone();
                    bad[i].0[0] ^= 1;
                    assert!(verify_inclusion(m, n, &leaf, &bad, &rn).is_err());
                }
                let rm = root(m, &s).unwrap();
                let c = consistency_proof(m, n, &s).unwrap();
                assert_eq!(verify_consistency(m, n, &rm, &rn, &c), Ok(()), "{m} to {n}");
                if let Some(first) = c.first() {
                    let mut bad = c.clone();
                    bad[0] = node_hash(first, first);
                    assert!(verify_consistency(m, n, &rm, &rn, &bad).is_err());
                    assert!(verify_consistency(m, n, &rm, &rn, &c[1..]).is_err());
                }
            }
        }
    }

    #[test]
    fn trivial_cases() {
        let h = Hash([1; 32]);
        assert_eq!(verify_consistency(0, 5, &empty_root(), &h, &[]), Ok(()));
        assert_eq!(
            verify_consistency(0, 5, &h, &h, &[]),
            Err(ProofError::RootMismatch)
        );
        assert_eq!(
            verify_consistency(0, 5, &empty_root(), &h, &[h]),
            Err(ProofError::WrongLength)
        );
        assert_eq!(verify_consistency(5, 5, &h, &h, &[]), Ok(()));
        assert_eq!(
            verify_consistency(6, 5, &h, &h, &[]),
            Err(ProofError::SizeOrder { old: 6, new: 5 })
        );
        assert_eq!(
            verify_inclusion(0, 1, &h, &[], &h),
            Ok(()),
            "a one-leaf tree's root is its leaf"
        );
        assert_eq!(
            verify_inclusion(0, 1, &h, &[h; 65], &h),
            Err(ProofError::TooLong(65))
        );
        assert_eq!(
            verify_inclusion(0, 2, &h, &[], &h),
            Err(ProofError::WrongLength)
        );
    }
}
