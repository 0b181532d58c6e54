//! RFC 6962 hashing (section 2.1) with SHA-256: the one place that knows the domain-separation
//! prefixes, so leaves and interior nodes can never be confused (second-preimage resistance).

use sha2::{Digest, Sha256};
use std::fmt;

/// Bytes in a hash: SHA-256 for the tree, also the size of a leaf (a ree record hash).
pub const HASH_LEN: usize = 32;

/// A 32-byte hash: a leaf (a record's blake3 hash), a tree node or a root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; HASH_LEN]);

impl Hash {
    /// The hash as lower-case hex (logs, docs, error messages).
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses 64 hex digits; `None` for anything else.
    pub fn from_hex(s: &str) -> Option<Hash> {
        if s.len() != 2 * HASH_LEN || !s.is_ascii() {
            return None;
        }
        let mut out = [0u8; HASH_LEN];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Hash(out))
    }

    /// Reads a hash from exactly 32 bytes.
    pub fn from_slice(b: &[u8]) -> Option<Hash> {
        <[u8; HASH_LEN]>::try_from(b).ok().map(Hash)
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// MTH of the empty tree: SHA-256 of the empty string (RFC 6962 2.1).
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// Leaf hash: SHA-256(0x00 || leaf). In ree-ledger the leaf is a record's 32-byte hash.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(leaf);
    Hash(h.finalize().into())
}

/// Interior node hash: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            empty_root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hex_round_trip_and_refusals() {
        let h = leaf_hash(b"x");
        assert_eq!(Hash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(Hash::from_hex("zz"), None);
        assert_eq!(Hash::from_hex(&"é".repeat(32)), None);
        assert_eq!(Hash::from_slice(&[0; 31]), None);
    }

    #[test]
    fn leaf_and_node_are_domain_separated() {
        let a = Hash([7; 32]);
        let mut both = [0u8; 64];
        both[..32].copy_from_slice(&a.0);
        both[32..].copy_from_slice(&a.0);
        assert_ne!(leaf_hash(&both), node_hash(&a, &a));
    }
}
