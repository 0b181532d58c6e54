//! Many signatures at once, with the verdict of checking each alone (the accepted set of the
//! module doc), for the verifier's thousands of records.
//!
//! A randomised batch equation alone is not exact: `Σ z_i (R_i - [S_i]B + [k_i]A_i) = 0` can
//! hold while some `R_i` carries a small-order component, which libsodium's byte comparison
//! refuses. Every key here is in the prime-order subgroup (checked once per key), so a
//! signature is valid iff its `R` is too and the equation holds. The batch therefore tests:
//! 1. **Torsion**: 64 random subsets of the `R_i`, each summed and multiplied by `L`. A sum
//!    whose points are all in the prime-order subgroup gives the identity; if some `R_i` has a
//!    small-order component, each random subset misses the identity with probability at least
//!    1/2, so all 64 pass with probability at most 2^-64.
//! 2. **Equation**: with 128-bit random weights, one multiscalar multiplication.
//!
//! Weights and subsets come from the OS's random source after the inputs are fixed, so a
//! bundle's author cannot aim at them. Any failure, or any item that does not parse, sends the
//! whole chunk to the one-at-a-time check, which names the bad items exactly. The fixed cost
//! (64 multiplications by `L`) pays off from a few hundred signatures on.

use std::collections::HashMap;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest, Sha512};

use super::{canonical, challenge, small_order_encodings, times_l, Verifier};

/// Subset tests: the chance that a bad `R` survives all of them is at most 2^-ROUNDS.
const ROUNDS: usize = 64;

/// One signature to check: the key, the signed bytes and the signature.
pub(crate) type Item<'a> = (&'a Verifier, &'a [u8], &'a [u8; 64]);

/// Whether every item is valid. `false` says only that some item may not be: the caller then
/// checks each alone. Keys must be in the prime-order subgroup ([`Verifier::prime_order`]).
pub(crate) fn all_valid(items: &[Item<'_>]) -> bool {
    let mut seed = [0u8; 32];
    if items.is_empty() || getrandom::fill(&mut seed).is_err() {
        return items.is_empty();
    }
    let Some(parsed) = items.iter().map(parse).collect::<Option<Vec<_>>>() else {
        return false;
    };
    let weights = weights(&seed, items.len());
    torsion_free(&parsed, &weights) && equation_holds(items, &parsed, &weights)
}

/// `R` as a point and `S`, `k`; `None` if the item is not one the batch can judge.
fn parse(item: &Item<'_>) -> Option<(EdwardsPoint, Scalar, Scalar)> {
    let (key, body, sig) = item;
    let mut r = [0u8; 32];
    r.copy_from_slice(&sig[..32]);
    let mut s = [0u8; 32];
    s.copy_from_slice(&sig[32..]);
    // The eight small-order points, with either sign bit (x = 0 has two encodings).
    let mut unsigned = r;
    unsigned[31] &= 0x7f;
    if !canonical(&r) || small_order_encodings().contains(&unsigned) {
        return None;
    }
    let point = CompressedEdwardsY(r).decompress()?;
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s))?;
    Some((point, s, challenge(&r, key.key(), body)))
}

/// Each item's 128-bit equation weight and its 64 subset bits: 24 bytes of SHA-512 output,
/// so one hash serves two items.
fn weights(seed: &[u8; 32], n: usize) -> Vec<(Scalar, u64)> {
    let mut out = Vec::with_capacity(n + 1);
    for pair in 0..n.div_ceil(2) {
        let h = Sha512::new()
            .chain_update(b"ree-ledger signature batch")
            .chain_update(seed)
            .chain_update((pair as u64).to_le_bytes())
            .finalize();
        for part in h[..48].chunks_exact(24) {
            let mut z = [0u8; 32];
            z[..16].copy_from_slice(&part[..16]);
            let mut m = [0u8; 8];
            m.copy_from_slice(&part[16..]);
            out.push((Scalar::from_bytes_mod_order(z), u64::from_le_bytes(m)));
        }
    }
    out.truncate(n);
    out
}

/// Test 1 of the module doc. The 64 subset sums share their additions: each point joins one
/// bucket per byte of its subset bits (8 additions), and subset `8c + b` is the sum of byte
/// `c`'s buckets whose bit `b` is set.
fn torsion_free(parsed: &[(EdwardsPoint, Scalar, Scalar)], weights: &[(Scalar, u64)]) -> bool {
    let mut buckets = vec![EdwardsPoint::default(); 8 * 256];
    for ((r, _, _), (_, bits)) in parsed.iter().zip(weights) {
        for c in 0..8 {
            let v = (bits >> (8 * c)) as u8 as usize;
            buckets[c * 256 + v] += r;
        }
    }
    (0..ROUNDS).all(|round| {
        let (c, b) = (round / 8, round % 8);
        let sum: EdwardsPoint = (0..256)
            .filter(|v| v >> b & 1 == 1)
            .map(|v| buckets[c * 256 + v])
            .sum();
        times_l(&sum).is_identity()
    })
}

/// Test 2: `Σ z_i R_i - [Σ z_i S_i]B - Σ_A [Σ z_i k_i](-A)` is the identity, one term per key.
fn equation_holds(
    items: &[Item<'_>],
    parsed: &[(EdwardsPoint, Scalar, Scalar)],
    weights: &[(Scalar, u64)],
) -> bool {
    let mut scalars = Vec::with_capacity(parsed.len() + 8);
    let mut points = Vec::with_capacity(parsed.len() + 8);
    let mut b = Scalar::ZERO;
    let mut per_key: HashMap<&[u8; 32], (EdwardsPoint, Scalar)> = HashMap::new();
    for ((item, (r, s, k)), (z, _)) in items.iter().zip(parsed).zip(weights) {
        scalars.push(*z);
        points.push(*r);
        b -= z * s;
        per_key
            .entry(item.0.key())
            .or_insert((item.0 .0.neg, Scalar::ZERO))
            .1 -= z * k;
    }
    scalars.push(b);
    points.push(ED25519_BASEPOINT_POINT);
    for (p, s) in per_key.into_values() {
        scalars.push(s);
        points.push(p);
    }
    EdwardsPoint::vartime_multiscalar_mul(scalars, points).is_identity()
}

#[cfg(test)]
mod tests {
    use super::super::{check_many, SignatureError, BATCH_MIN, ORDER_8_POINT};
    use super::*;
    use curve25519_dalek::constants::ED25519_BASEPOINT_TABLE;

    /// A signer that knows its secret scalar, so that it can also sign with a tampered `R`.
    struct Signer {
        a: Scalar,
        key: Verifier,
    }

    impl Signer {
        fn new(seed: u64) -> Signer {
            let a = Scalar::from(seed) * Scalar::from(0x9e37_79b9_7f4a_7c15u64);
            let key = Verifier::new(&(ED25519_BASEPOINT_TABLE * &a).compress().0).unwrap();
            Signer { a, key }
        }

        /// A signature whose `R` is `[r]B + t`: valid iff `t` is the identity.
        fn sign(&self, body: &[u8], r: u64, t: EdwardsPoint) -> [u8; 64] {
            let r = Scalar::from(r) * Scalar::from(0x2545_f491_4f6c_dd1du64);
            let big_r = (ED25519_BASEPOINT_TABLE * &r + t).compress().0;
            let s = r + challenge(&big_r, self.key.key(), body) * self.a;
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(&big_r);
            sig[32..].copy_from_slice(s.as_bytes());
            sig
        }
    }

    fn torsion(multiple: u64) -> EdwardsPoint {
        CompressedEdwardsY(ORDER_8_POINT).decompress().unwrap() * Scalar::from(multiple)
    }

    /// `n` bodies signed by two keys, all valid.
    fn honest(n: usize) -> (Vec<Signer>, Vec<Vec<u8>>, Vec<[u8; 64]>) {
        let signers = vec![Signer::new(3), Signer::new(4)];
        let bodies: Vec<Vec<u8>> = (0..n).map(|i| format!("body {i}").into_bytes()).collect();
        let sigs = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| signers[i % 2].sign(b, i as u64 + 1, EdwardsPoint::default()))
            .collect();
        (signers, bodies, sigs)
    }

    fn items<'a>(s: &'a [Signer], bodies: &'a [Vec<u8>], sigs: &'a [[u8; 64]]) -> Vec<Item<'a>> {
        (0..bodies.len())
            .map(|i| (&s[i % 2].key, bodies[i].as_slice(), &sigs[i]))
            .collect()
    }

    #[test]
    fn honest_signatures_pass_and_match_the_single_check() {
        let (s, b, g) = honest(BATCH_MIN + 3);
        let it = items(&s, &b, &g);
        assert!(it.iter().all(|(k, b, g)| k.verify(b, g).is_ok()));
        assert!(all_valid(&it));
        assert!(check_many(&it).is_empty());
    }

    /// The attack the torsion test exists for: `R` with a small-order component, which the
    /// randomised equation alone passes whenever the weight kills it (half the time for an
    /// order-2 component, and two such items can cancel each other).
    #[test]
    fn an_r_with_a_small_order_component_never_passes() {
        for (bad, t) in [
            (vec![7], 4),
            (vec![7, 300], 4),
            (vec![9], 1),
            (vec![1, 2], 2),
        ] {
            let (s, b, mut g) = honest(BATCH_MIN);
            for &i in &bad {
                g[i] = s[i % 2].sign(&b[i], 999 + i as u64, torsion(t));
            }
            let it = items(&s, &b, &g);
            for _ in 0..24 {
                assert!(!all_valid(&it), "bad {bad:?}, torsion {t}");
            }
            let found: Vec<(usize, SignatureError)> = check_many(&it);
            let want: Vec<(usize, SignatureError)> =
                bad.iter().map(|&i| (i, SignatureError::Mismatch)).collect();
            assert_eq!(found, want);
        }
    }

    #[test]
    fn every_kind_of_bad_item_is_named_exactly() {
        let (s, mut b, mut g) = honest(BATCH_MIN + 100);
        g[5][40] ^= 1; // S changed
        g[6][..32].copy_from_slice(&[0; 32]); // R not a point? (y = 0 is on the curve)
        g[7][63] |= 0xf0; // S >= L
        b[8].push(b'!'); // body changed
        let mut id = [0u8; 32];
        id[0] = 1;
        g[9][..32].copy_from_slice(&id); // R the identity (small order)
        let it = items(&s, &b, &g);
        let one: Vec<(usize, SignatureError)> = it
            .iter()
            .enumerate()
            .filter_map(|(i, (k, b, g))| k.verify(b, g).err().map(|e| (i, e)))
            .collect();
        assert_eq!(one.iter().map(|x| x.0).collect::<Vec<_>>(), [5, 6, 7, 8, 9]);
        assert_eq!(check_many(&it), one);
    }
}
