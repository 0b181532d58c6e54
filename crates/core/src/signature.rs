//! The ed25519 accepted set (docs/format.md, "Signatures"): which keys and signatures ree-ledger
//! accepts, chosen so that the ledger, `ree-verify` and an auditor's libsodium
//! (`crypto_sign_open`, PyNaCl) give the same verdict on every input.
//!
//! A signature is valid iff `A` is a canonical encoding of a point not of small order, `R` is
//! not the encoding of a small-order point, `S < L`, and the encoding of `[S]B - [k]A` is `R`
//! byte for byte (the cofactorless equation; a non-canonical `R` never matches). This is
//! libsodium's check. A [`Verifier`] computes it one signature at a time, with a
//! variable-time fixed-base table ([`comb`]) of `-A` for a key that signs often: two table
//! walks without doublings. For thousands of signatures at once, [`check_many`] batches them
//! (`batch`), with the same verdicts: a bare randomised batch equation is not exact when `R` has
//! a small-order component, so the batch also tests that every `R` is in the prime-order
//! subgroup (BENCHMARKS.md).

mod batch;
mod comb;

use std::sync::{Arc, OnceLock};

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;

use comb::Comb;

/// Table widths: `B`'s table is built once per process (~700 KB); a key's (~225 KB) once per
/// key that signs more than [`Verifier::TABLE_AFTER`] times, for at most [`MAX_KEY_TABLES`]
/// keys at a time.
const BASE_WIDTH: u32 = 8;
const KEY_WIDTH: u32 = 6;

/// Keys with a table, process-wide: bounds their memory (~56 MB) whatever a registry or a
/// hostile bundle holds. Other keys are checked without one, about half as fast.
pub const MAX_KEY_TABLES: usize = 256;
static KEY_TABLES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn base_table() -> &'static Comb {
    static T: OnceLock<Comb> = OnceLock::new();
    T.get_or_init(|| Comb::new(&ED25519_BASEPOINT_POINT, BASE_WIDTH))
}
use sha2::{Digest, Sha512};

/// Why a key or a signature is outside the accepted set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("public key: not a point of the curve")]
    KeyNotAPoint,
    #[error("public key: a non-canonical encoding (y >= p)")]
    KeyNonCanonical,
    #[error("public key: a weak (small-order) key")]
    KeySmallOrder,
    #[error("public key: has a small-order component (not in the prime-order subgroup)")]
    KeyMixedOrder,
    #[error("signature: R is not a point of the curve")]
    RNotAPoint,
    #[error("signature: R is a non-canonical encoding (y >= p)")]
    RNonCanonical,
    #[error("signature: R is of small order")]
    RSmallOrder,
    #[error("signature: S is not reduced (S >= L)")]
    SNotReduced,
    #[error("the signature does not match the body and key")]
    Mismatch,
}

/// Whether a 32-byte point encoding is canonical: its y (the low 255 bits) is below
/// p = 2^255 - 19. (The other non-canonical form, x = 0 with the sign bit set, only encodes
/// small-order points, which are refused anyway.)
fn canonical(b: &[u8; 32]) -> bool {
    let top = b[31] & 0x7f == 0x7f && b[1..31].iter().all(|&x| x == 0xff);
    !(top && b[0] >= 0xed)
}

/// `[L]P`: the identity iff `P` is in the prime-order subgroup; otherwise P's torsion part
/// (times L, a bijection on the torsion). Variable-time: inputs are public.
fn times_l(p: &EdwardsPoint) -> EdwardsPoint {
    let l_minus_one = Scalar::ZERO - Scalar::ONE;
    EdwardsPoint::vartime_double_scalar_mul_basepoint(&l_minus_one, p, &Scalar::ZERO) + p
}

/// A canonical, on-curve point of order greater than 8.
fn point(b: &[u8; 32], errs: [SignatureError; 3]) -> Result<EdwardsPoint, SignatureError> {
    if !canonical(b) {
        return Err(errs[0]);
    }
    let p = CompressedEdwardsY(*b).decompress().ok_or(errs[1])?;
    if p.is_small_order() {
        return Err(errs[2]);
    }
    Ok(p)
}

/// A public key the registry accepts ("participant registered", "key added"): canonical, not
/// of small order, and in the prime-order subgroup, as every honestly generated key is.
pub fn registrable_key(bytes: &[u8; 32]) -> Result<Verifier, SignatureError> {
    let v = Verifier::new(bytes)?;
    if !times_l(&v.0.neg).is_identity() {
        return Err(SignatureError::KeyMixedOrder);
    }
    Ok(v)
}

/// Checks signatures by one key. Cheap to clone (shared); after [`Verifier::TABLE_AFTER`]
/// checks it builds a fixed-base table of `-A` (~225 KB, ~0.5 ms) that makes each later check
/// about twice as fast, so a long-lived registered key pays once and a one-off key never does.
#[derive(Clone)]
pub struct Verifier(Arc<Inner>);

struct Inner {
    key: [u8; 32],
    /// `-A`.
    neg: EdwardsPoint,
    uses: std::sync::atomic::AtomicU32,
    table: OnceLock<Comb>,
    /// Whether `A` is in the prime-order subgroup (registrable keys are), asked by batches.
    prime_order: OnceLock<bool>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Verifier({})", crate::ids::Hash32(self.0.key).to_hex())
    }
}

impl PartialEq for Verifier {
    fn eq(&self, other: &Self) -> bool {
        self.0.key == other.0.key
    }
}
impl Eq for Verifier {}

impl Verifier {
    /// Checks by one key after which its table is built.
    pub const TABLE_AFTER: u32 = 16;

    /// A key as it may sign: canonical and not of small order. A key with a small-order
    /// component is accepted here (libsodium accepts it) but never registrable.
    pub fn new(bytes: &[u8; 32]) -> Result<Verifier, SignatureError> {
        use SignatureError::*;
        let p = point(bytes, [KeyNonCanonical, KeyNotAPoint, KeySmallOrder])?;
        Ok(Verifier(Arc::new(Inner {
            key: *bytes,
            neg: -p,
            uses: Default::default(),
            table: OnceLock::new(),
            prime_order: OnceLock::new(),
        })))
    }

    /// The key's encoding.
    pub fn key(&self) -> &[u8; 32] {
        &self.0.key
    }

    /// Checks `sig` over `body`: the accepted set of the module doc, exactly.
    pub fn verify(&self, body: &[u8], sig: &[u8; 64]) -> Result<(), SignatureError> {
        use SignatureError::*;
        let mut r = [0u8; 32];
        r.copy_from_slice(&sig[..32]);
        let mut s = [0u8; 32];
        s.copy_from_slice(&sig[32..]);
        if small_order_encodings().contains(&r) {
            return Err(RSmallOrder);
        }
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s)).ok_or(SNotReduced)?;
        let k = challenge(&r, &self.0.key, body);
        let check = match self.table() {
            Some(t) => t.mul_add(&k, base_table().mul_add(&s, EdwardsPoint::default())),
            None => EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &self.0.neg, &s),
        };
        if check.compress().0 == r {
            return Ok(());
        }
        // Say why, on the (rare) failure path only.
        Err(match point(&r, [RNonCanonical, RNotAPoint, RSmallOrder]) {
            Err(e) => e,
            Ok(_) => Mismatch,
        })
    }

    fn prime_order(&self) -> bool {
        *self
            .0
            .prime_order
            .get_or_init(|| times_l(&self.0.neg).is_identity())
    }

    fn table(&self) -> Option<&Comb> {
        use std::sync::atomic::Ordering::Relaxed;
        if let Some(t) = self.0.table.get() {
            return Some(t);
        }
        // Only the use that reaches the threshold builds, and only while under the cap.
        if self.0.uses.fetch_add(1, Relaxed) != Self::TABLE_AFTER {
            return None;
        }
        if KEY_TABLES.fetch_add(1, Relaxed) >= MAX_KEY_TABLES {
            KEY_TABLES.fetch_sub(1, Relaxed);
            return None;
        }
        Some(
            self.0
                .table
                .get_or_init(|| Comb::new(&self.0.neg, KEY_WIDTH)),
        )
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.table.get().is_some() {
            KEY_TABLES.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Fewest signatures worth a batch: below, the batch's fixed cost (64 multiplications by `L`)
/// outweighs what it saves.
pub const BATCH_MIN: usize = 512;
/// Signatures per batch: large enough to amortise the fixed cost and the multiscalar
/// multiplication's; a chunk that fails is re-checked one at a time (~0.5 s at this size).
const BATCH_CHUNK: usize = 16384;

/// Checks every `(key, body, signature)`; returns each bad item's index and why, in order.
/// The verdicts are those of [`Verifier::verify`] on each; large inputs go through
/// `batch` (see there for why that is exact), and any chunk it does not pass is checked one
/// signature at a time.
pub fn check_many(items: &[(&Verifier, &[u8], &[u8; 64])]) -> Vec<(usize, SignatureError)> {
    let one_by_one = |offset: usize, part: &[(&Verifier, &[u8], &[u8; 64])]| {
        part.iter()
            .enumerate()
            .filter_map(|(i, (k, b, s))| k.verify(b, s).err().map(|e| (offset + i, e)))
            .collect::<Vec<_>>()
    };
    if items.len() < BATCH_MIN {
        return one_by_one(0, items);
    }
    let mut bad = Vec::new();
    for (n, part) in items.chunks(BATCH_CHUNK).enumerate() {
        let batchable = part.iter().all(|(k, _, _)| k.prime_order());
        if !(batchable && batch::all_valid(part)) {
            bad.extend(one_by_one(n * BATCH_CHUNK, part));
        }
    }
    bad
}

/// ed25519's challenge `k = SHA-512(R || A || M) mod L`.
fn challenge(r: &[u8; 32], key: &[u8; 32], body: &[u8]) -> Scalar {
    let h = Sha512::new()
        .chain_update(r)
        .chain_update(key)
        .chain_update(body)
        .finalize();
    Scalar::from_bytes_mod_order_wide(&h.into())
}

/// The canonical encodings of the eight points of small order. A non-canonical `R` is refused
/// by the byte comparison itself (the computed point is always encoded canonically).
fn small_order_encodings() -> &'static [[u8; 32]; 8] {
    static E: OnceLock<[[u8; 32]; 8]> = OnceLock::new();
    E.get_or_init(|| {
        // The order-8 point T8 generates the torsion subgroup; its multiples are all of it.
        let mut t8 = [0u8; 32];
        t8.copy_from_slice(&ORDER_8_POINT);
        let t = CompressedEdwardsY(t8).decompress().unwrap_or_default();
        let mut out = [[0u8; 32]; 8];
        let mut p = EdwardsPoint::default();
        for e in out.iter_mut() {
            *e = p.compress().0;
            p += t;
        }
        out
    })
}

/// A point of order 8 on edwards25519 (y = 0x7a03...05, x even); its multiples are the whole
/// torsion subgroup. Checked by a unit test.
const ORDER_8_POINT: [u8; 32] = [
    0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
    0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_encodings_are_those_below_p() {
        let mut p = [0xff; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        assert!(!canonical(&p));
        p[0] = 0xec; // p - 1
        assert!(canonical(&p));
        p[31] = 0xff; // the sign bit does not count
        assert!(canonical(&p));
        p[0] = 0xee;
        assert!(!canonical(&p));
    }

    #[test]
    fn honest_keys_are_registrable_and_torsion_is_seen() {
        let k = crate::record::Signature::sign(&[9; 32], b"x").public_key;
        assert!(registrable_key(&k).is_ok());
        // The key plus the order-2 point (0, -1): the same prime part, a low-order component.
        let p = CompressedEdwardsY(k).decompress().unwrap();
        let mut t = [0xff; 32];
        t[0] = 0xec;
        t[31] = 0x7f;
        let mixed = (p + CompressedEdwardsY(t).decompress().unwrap())
            .compress()
            .0;
        assert_eq!(
            registrable_key(&mixed).unwrap_err(),
            SignatureError::KeyMixedOrder
        );
        assert!(Verifier::new(&mixed).is_ok());
        assert_eq!(
            registrable_key(&[0; 32]).unwrap_err(),
            SignatureError::KeySmallOrder
        );
        assert_eq!(
            registrable_key(&t).unwrap_err(),
            SignatureError::KeySmallOrder
        );
    }

    #[test]
    fn the_order_8_constant_generates_the_torsion_subgroup() {
        let t = CompressedEdwardsY(ORDER_8_POINT).decompress().unwrap();
        assert!(!(t + t + t + t).is_identity());
        assert!(t.mul_by_cofactor().is_identity());
        let e = small_order_encodings();
        let mut sorted = e.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 8);
        let mut one = [0u8; 32];
        one[0] = 1;
        assert!(e.contains(&one) && e.contains(&[0; 32]));
    }

    /// A bundle of many keys, each signing just past the threshold, must not build a table for
    /// every one of them (the reviewer's memory attack: ~63x the bundle's size).
    #[test]
    fn tables_are_capped_process_wide_and_freed_with_their_keys() {
        let n = MAX_KEY_TABLES + 40;
        let sigs: Vec<_> = (0..n as u64)
            .map(|i| {
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(&(i + 1000).to_le_bytes());
                crate::record::Signature::sign(&seed, b"m")
            })
            .collect();
        let keys: Vec<Verifier> = sigs
            .iter()
            .map(|s| Verifier::new(&s.public_key).unwrap())
            .collect();
        for (k, s) in keys.iter().zip(&sigs) {
            for _ in 0..=Verifier::TABLE_AFTER + 1 {
                assert_eq!(k.verify(b"m", &s.signature), Ok(()));
            }
        }
        let built = keys.iter().filter(|k| k.0.table.get().is_some()).count();
        // Other tests may hold a few tables at the same time.
        assert!(
            built <= MAX_KEY_TABLES && built + 32 >= MAX_KEY_TABLES,
            "{built}"
        );
        drop(keys);
        let k = Verifier::new(&sigs[0].public_key).unwrap();
        for _ in 0..=Verifier::TABLE_AFTER + 1 {
            assert_eq!(k.verify(b"m", &sigs[0].signature), Ok(()));
        }
        assert!(k.0.table.get().is_some(), "freed tables make room again");
    }

    #[test]
    fn the_table_and_the_plain_equation_agree() {
        let seed = [7u8; 32];
        let good = crate::record::Signature::sign(&seed, b"body");
        let v = Verifier::new(&good.public_key).unwrap();
        let mut bad = good.signature;
        bad[40] ^= 1;
        for i in 0..(Verifier::TABLE_AFTER + 4) {
            assert_eq!(v.verify(b"body", &good.signature), Ok(()), "use {i}");
            assert!(v.verify(b"body", &bad).is_err(), "use {i}");
            assert_eq!(
                v.verify(b"other", &good.signature),
                Err(SignatureError::Mismatch)
            );
        }
        assert!(v.0.table.get().is_some());
    }
}
