//! Property tests: every proof generated for random sizes verifies, any single-bit change to a
//! proof, leaf or root makes it fail, and the parsers never panic on arbitrary input.

use proptest::prelude::*;
use ree_tlog::tiles::{parse_entries_bundle, parse_path};
use ree_tlog::witness::AddCheckpoint;
use ree_tlog::{
    consistency_proof, inclusion_proof, root, verify_consistency, verify_inclusion, Checkpoint,
    Hash, MemHashStore, NodeId, Note, NoteSigner, VerifierKey,
};
use std::sync::OnceLock;

const N: u64 = 5_000;

fn store() -> &'static MemHashStore {
    static S: OnceLock<MemHashStore> = OnceLock::new();
    S.get_or_init(|| {
        let mut s = MemHashStore::new();
        for i in 0..N {
            s.append(&i.to_le_bytes());
        }
        s
    })
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut h = *h;
    h.0[bit / 8 % 32] ^= 1 << (bit % 8);
    h
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn inclusion_proofs_verify_and_bit_flips_fail(size in 1..=N, seed in any::<u64>(), bit in 0usize..256) {
        let s = store();
        let index = seed % size;
        let r = root(size, s).unwrap();
        let leaf = s.get(NodeId::new(0, index)).unwrap();
        let p = inclusion_proof(index, size, s).unwrap();
        prop_assert!(verify_inclusion(index, size, &leaf, &p, &r).is_ok());
        prop_assert!(verify_inclusion(index, size, &flip(&leaf, bit), &p, &r).is_err());
        prop_assert!(verify_inclusion(index, size, &leaf, &p, &flip(&r, bit)).is_err());
        if !p.is_empty() {
            let mut bad = p.clone();
            let i = (seed as usize / 7) % p.len();
            bad[i] = flip(&bad[i], bit);
            prop_assert!(verify_inclusion(index, size, &leaf, &bad, &r).is_err());
            prop_assert!(verify_inclusion(index, size, &leaf, &p[1..], &r).is_err());
        }
    }

    #[test]
    fn consistency_proofs_verify_and_bit_flips_fail(new in 1..=N, seed in any::<u64>(), bit in 0usize..256) {
        let s = store();
        let old = seed % (new + 1);
        let (ro, rn) = (root(old, s).unwrap(), root(new, s).unwrap());
        let p = consistency_proof(old, new, s).unwrap();
        prop_assert!(verify_consistency(old, new, &ro, &rn, &p).is_ok());
        // From size 0 nothing is claimed about the new root (every tree extends the empty one).
        if old > 0 {
            prop_assert!(verify_consistency(old, new, &ro, &flip(&rn, bit), &p).is_err());
            prop_assert!(verify_consistency(old, new, &flip(&ro, bit), &rn, &p).is_err());
        }
        if !p.is_empty() {
            let mut bad = p.clone();
            let i = (seed as usize / 7) % p.len();
            bad[i] = flip(&bad[i], bit);
            prop_assert!(verify_consistency(old, new, &ro, &rn, &bad).is_err());
        }
    }

    #[test]
    fn parsers_never_panic_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Note::parse(&bytes);
        let _ = AddCheckpoint::parse(&bytes);
        let _ = parse_entries_bundle(&bytes);
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = Checkpoint::parse(s);
            let _ = parse_path(s);
            let _ = VerifierKey::parse(s);
            let _ = NoteSigner::parse(s);
        }
    }

    #[test]
    fn parsers_never_panic_on_near_valid_text(
        s in "(old [0-9]{1,3}\n)?([A-Za-z0-9+/=]{0,46}\n){0,3}\n?[a-z./]{0,12}\n[0-9]{0,4}\n[A-Za-z0-9+/=]{0,46}\n\n?(\u{2014} [a-z.+]{0,8} [A-Za-z0-9+/=]{0,100}\n){0,3}"
    ) {
        let _ = Note::parse(s.as_bytes());
        let _ = AddCheckpoint::parse(s.as_bytes());
        let _ = Checkpoint::parse(&s);
        let _ = VerifierKey::parse(&s);
        let _ = NoteSigner::parse(&format!("PRIVATE+KEY+{s}"));
    }

    #[test]
    fn tile_paths_never_panic(s in "tile/(entries|[0-9x]{1,3})(/x?[0-9]{1,4}){1,8}(\\.p/[0-9]{1,4})?") {
        if let Ok(p) = parse_path(&s) {
            // Canonical: what parses prints back identically.
            let printed = match p {
                ree_tlog::tiles::TilePath::Hashes(t) => t.path(),
                ree_tlog::tiles::TilePath::Entries { index, width } => ree_tlog::tiles::entries_path(index, width),
            };
            prop_assert_eq!(printed, s);
        }
    }
}
