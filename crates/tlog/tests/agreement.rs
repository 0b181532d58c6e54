//! Agreement with code we didn't write: Cloudflare's `tlog_tiles` and `signed_note` crates (ports
//! of Go's sumdb `tlog` and `note` packages). Roots, inclusion and consistency proofs, tile
//! paths and contents, checkpoints, note signatures, verifier and secret keys, and
//! cosignatures must be byte-identical or accepted both ways, on many random inputs.

use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ree_tlog::cosignature::Cosigner;
use ree_tlog::tiles::{parse_path, tile_bytes, Tile, TilePath};
use ree_tlog::{
    consistency_proof, inclusion_proof, root, verify_consistency, verify_inclusion, Checkpoint,
    Hash, MemHashStore, Note, NoteSigner, SigType,
};
use signed_note::{Verifier as _, VerifierList};
use tlog_tiles as tt;

/// Their storage: every stored hash at Go's stored-hash index, written by their own code.
struct Theirs(Vec<tt::Hash>);

impl tt::HashReader for Theirs {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tt::Hash>, tt::Error> {
        indexes
            .iter()
            .map(|&i| {
                self.0
                    .get(i as usize)
                    .copied()
                    .ok_or(tt::Error::IndexesNotInTree)
            })
            .collect()
    }
}

fn build(n: u64, rng: &mut StdRng) -> (MemHashStore, Theirs, Vec<[u8; 32]>) {
    let mut ours = MemHashStore::new();
    let mut theirs = Theirs(Vec::new());
    let mut leaves = Vec::new();
    for i in 0..n {
        let leaf: [u8; 32] = rng.random();
        ours.append(&leaf);
        let new = tt::stored_hashes(i, &leaf, &theirs).unwrap();
        theirs.0.extend(new);
        leaves.push(leaf);
    }
    (ours, theirs, leaves)
}

fn to_tt(h: &[Hash]) -> Vec<tt::Hash> {
    h.iter().map(|h| tt::Hash(h.0)).collect()
}

#[test]
fn roots_and_proofs_agree_with_tlog_tiles() {
    let mut rng = StdRng::seed_from_u64(6962);
    let (ours, theirs, leaves) = build(2_100, &mut rng);
    for n in 1..=2_100u64 {
        assert_eq!(
            root(n, &ours).unwrap().0,
            tt::tree_hash(n, &theirs).unwrap().0,
            "root {n}"
        );
    }
    for _ in 0..2_000 {
        let n = rng.random_range(1..=2_100u64);
        let m = rng.random_range(0..n);
        let th = tt::tree_hash(n, &theirs).unwrap();
        let p = inclusion_proof(m, n, &ours).unwrap();
        assert_eq!(
            to_tt(&p),
            tt::prove_record(n, m, &theirs).unwrap(),
            "inclusion {m} in {n}"
        );
        let leaf = tt::record_hash(&leaves[m as usize]);
        tt::check_record(&to_tt(&p), n, th, m, leaf).unwrap();
        verify_inclusion(m, n, &Hash(leaf.0), &p, &Hash(th.0)).unwrap();

        let old = rng.random_range(1..=n);
        let oh = tt::tree_hash(old, &theirs).unwrap();
        let c = consistency_proof(old, n, &ours).unwrap();
        assert_eq!(
            to_tt(&c),
            tt::prove_tree(n, old, &theirs).unwrap(),
            "consistency {old} to {n}"
        );
        tt::check_tree(&to_tt(&c), n, th, old, oh).unwrap();
        verify_consistency(old, n, &Hash(oh.0), &Hash(th.0), &c).unwrap();
    }
}

#[test]
fn tile_paths_and_contents_agree_with_tlog_tiles() {
    let mut rng = StdRng::seed_from_u64(8);
    // tlog_tiles writes Go's sumdb paths, `tile/<H>/<L>/<N>`; C2SP fixes H = 8 and drops it.
    for _ in 0..5_000 {
        let level = rng.random_range(0..8u8);
        let index = match rng.random_range(0..3) {
            0 => rng.random_range(0..1_000),
            1 => rng.random_range(0..10_000_000),
            _ => rng.random::<u64>() >> 8,
        };
        let width = rng.random_range(1..=256u16);
        let t = Tile {
            level,
            index,
            width,
        };
        let go = tt::Tile::new(8, level, index, u32::from(width), false).path();
        assert_eq!(t.path(), go.replacen("tile/8/", "tile/", 1));
        assert_eq!(parse_path(&t.path()), Ok(TilePath::Hashes(t)));
    }
    let (ours, theirs, _) = build(70_000, &mut rng);
    for (level, index, width) in [
        (0, 0, 256),
        (0, 273, 112),
        (1, 0, 256),
        (1, 1, 17),
        (2, 0, 1),
        (0, 5, 9),
    ] {
        let t = Tile {
            level,
            index,
            width,
        };
        let go = tt::Tile::new(8, level, index, u32::from(width), false)
            .read_data(&theirs)
            .unwrap();
        assert_eq!(tile_bytes(t, 70_000, &ours).unwrap(), go, "{}", t.path());
    }
}

#[test]
fn checkpoints_agree_with_tlog_tiles() {
    let mut rng = StdRng::seed_from_u64(1);
    for i in 0..500u64 {
        let size = if i % 2 == 0 { i } else { rng.random() };
        let h: [u8; 32] = rng.random();
        let ours = Checkpoint::new(&format!("ree.example/log{i}"), size, Hash(h)).unwrap();
        let go = tt::Checkpoint::new(&ours.origin, size, tt::Hash(h), "").unwrap();
        assert_eq!(ours.to_text().as_bytes(), go.to_bytes());
        let back = tt::Checkpoint::from_bytes(ours.to_text().as_bytes()).unwrap();
        assert_eq!(
            (back.origin(), back.size(), back.hash().0),
            (ours.origin.as_str(), size, h)
        );
    }
}

#[test]
fn notes_and_keys_agree_with_signed_note() {
    let mut rng = StdRng::seed_from_u64(2);
    for i in 0..200 {
        let seed: [u8; 32] = rng.random();
        let name = format!("ree.example/log-{i}");
        let ours = NoteSigner::new(&name, SigType::Ed25519, SigningKey::from_bytes(&seed)).unwrap();
        let vk = ours.verifier_key();
        assert_eq!(
            vk.to_string(),
            signed_note::new_ed25519_verifier_key(&name, vk.public_key())
        );
        let mut typed = vec![1u8];
        typed.extend_from_slice(vk.public_key().as_bytes());
        assert_eq!(vk.id(), signed_note::key_id(&name, &typed));
        let their_signer = signed_note::StandardSigner::new(&ours.to_secret_string()).unwrap();
        let their_verifier = signed_note::StandardVerifier::new(&vk.to_string()).unwrap();
        assert_eq!(their_verifier.key_id(), vk.id());

        let text = format!(
            "ree.example/log-{i}\n{}\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            rng.random::<u32>()
        );
        let mut note = Note::new(&text).unwrap();
        note.add_signature(ours.sign(text.as_bytes()).unwrap());
        let mut go = signed_note::Note::new(text.as_bytes(), &[]).unwrap();
        go.add_sigs(&[&their_signer]).unwrap();
        assert_eq!(
            note.to_bytes(),
            go.to_bytes(),
            "ed25519 is deterministic: same bytes"
        );
        let parsed = signed_note::Note::from_bytes(&note.to_bytes()).unwrap();
        parsed
            .verify(&VerifierList::new(vec![Box::new(their_verifier)]))
            .unwrap();
        Note::parse(&go.to_bytes()).unwrap().verify(&[vk]).unwrap();
    }
}

/// A v1 cosignature verifier written from c2sp.org/tlog-cosignature alone, plugged into
/// signed_note's note verification (which knows nothing about type 0x04).
struct SpecCosigVerifier {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl signed_note::Verifier for SpecCosigVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        if sig.len() != 72 {
            return false;
        }
        let t = u64::from_be_bytes(sig[..8].try_into().unwrap());
        let mut m = format!("cosignature/v1\ntime {t}\n").into_bytes();
        m.extend_from_slice(msg);
        let s = ed25519_dalek::Signature::from_slice(&sig[8..]).unwrap();
        self.key.verify_strict(&m, &s).is_ok()
    }
}

#[test]
fn cosignatures_verify_under_an_independent_reading_of_the_spec() {
    let mut rng = StdRng::seed_from_u64(3);
    for i in 0..200 {
        let seed: [u8; 32] = rng.random();
        let name = format!("witness.example/w{i}");
        let signer =
            NoteSigner::new(&name, SigType::CosignatureV1, SigningKey::from_bytes(&seed)).unwrap();
        let w = Cosigner::new(signer).unwrap();
        let vk = w.verifier_key();
        let mut typed = vec![4u8];
        typed.extend_from_slice(vk.public_key().as_bytes());
        let id = signed_note::key_id(&name, &typed);
        assert_eq!(vk.id(), id);
        let b64 = base64_std(&typed);
        assert_eq!(vk.to_string(), format!("{name}+{id:08x}+{b64}"));

        let cp = Checkpoint::new(
            "ree.example/log",
            rng.random_range(0..1 << 40),
            Hash(rng.random()),
        )
        .unwrap();
        let mut note = Note::new(&cp.to_text()).unwrap();
        note.add_signature(
            w.cosign(&cp.to_text(), rng.random_range(0..1 << 62))
                .unwrap(),
        );
        let go = signed_note::Note::from_bytes(&note.to_bytes()).unwrap();
        let key = *vk.public_key();
        let list = VerifierList::new(vec![Box::new(SpecCosigVerifier { name, id, key })]);
        go.verify(&list).unwrap();
    }
}

/// Standard base64 with padding, by hand, so the key encoding is not checked with our own codec.
fn base64_std(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= c.len() {
                out.push(A[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
