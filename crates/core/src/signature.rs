//! The ed25519 accepted set (docs/format.md, "Signatures"): which keys and signatures ree-ledger
//! accepts, chosen so that the ledger's batch check, its single check, `ree-verify` and an
//! auditor's libsodium (`crypto_sign_open`, PyNaCl) give the same verdict on every input.
//!
//! A signature is valid iff `A` and `R` are canonical encodings of points that are not of small
//! order, `S < L`, and the cofactorless equation `[S]B = R + [k]A` holds. [`precheck`] makes the
//! checks batch verification does not, so that a batch's verdict is exactly that.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;

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

/// A key that may appear in a signature: its point and `[L]A`, the torsion it carries (the
/// identity for a key in the prime-order subgroup, as every registered key is).
#[derive(Clone, Copy, Debug)]
pub struct SignerKey {
    pub key: ed25519_dalek::VerifyingKey,
    pub torsion: EdwardsPoint,
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

/// A public key as it may sign: canonical and not of small order. A key with a small-order
/// component is accepted here (libsodium accepts it), with its torsion computed.
pub fn signer_key(bytes: &[u8; 32]) -> Result<SignerKey, SignatureError> {
    use SignatureError::*;
    let p = point(bytes, [KeyNonCanonical, KeyNotAPoint, KeySmallOrder])?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| KeyNotAPoint)?;
    Ok(SignerKey {
        key,
        torsion: times_l(&p),
    })
}

/// A public key the registry accepts ("participant registered", "key added"): a [`signer_key`]
/// that is moreover in the prime-order subgroup, as every honestly generated key is.
pub fn registrable_key(bytes: &[u8; 32]) -> Result<ed25519_dalek::VerifyingKey, SignatureError> {
    let k = signer_key(bytes)?;
    if !k.torsion.is_identity() {
        return Err(SignatureError::KeyMixedOrder);
    }
    Ok(k.key)
}

/// A registered key (already checked by [`registrable_key`]) as a signer: no torsion.
pub fn registered(key: ed25519_dalek::VerifyingKey) -> SignerKey {
    SignerKey {
        key,
        torsion: EdwardsPoint::default(),
    }
}

/// What is left to check of a signature after [`precheck`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checked {
    /// Every point is in the prime-order subgroup: batch verification decides, exactly.
    Batch,
    /// Fully checked already (a key with a low-order component, checked alone).
    Done,
}

/// The checks of one signature that batch verification does not make: canonical `R` not of small
/// order, `S < L`, and `R` in the prime-order subgroup. ed25519-dalek's batch equation is
/// `sum z_i (R_i + [k_i]A_i - [S_i]B) = 0` with random 128-bit `z_i` and no cofactor: on points
/// with a low-order component its verdict depends on the weights, so any such `R` is refused here
/// (the cofactorless equation could not hold for it anyway, the key having none), and a key with
/// one (never registrable) is checked alone with the cofactorless equation.
pub fn precheck(key: &SignerKey, body: &[u8], sig: &[u8; 64]) -> Result<Checked, SignatureError> {
    use SignatureError::*;
    let r_bytes: [u8; 32] = sig[..32].try_into().map_err(|_| RNotAPoint)?;
    let s_bytes: [u8; 32] = sig[32..].try_into().map_err(|_| SNotReduced)?;
    let r = point(&r_bytes, [RNonCanonical, RNotAPoint, RSmallOrder])?;
    if Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)).is_none() {
        return Err(SNotReduced);
    }
    if !key.torsion.is_identity() {
        let sig = ed25519_dalek::Signature::from_bytes(sig);
        return match key.key.verify_strict(body, &sig) {
            Ok(()) => Ok(Checked::Done),
            Err(_) => Err(Mismatch),
        };
    }
    // [L]R: the identity iff R has no low-order component. Costs one variable-base
    // multiplication (about half a single verification), the price of agreeing with libsodium.
    if !times_l(&r).is_identity() {
        return Err(Mismatch);
    }
    Ok(Checked::Batch)
}

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
        assert!(!signer_key(&mixed).unwrap().torsion.is_identity());
        assert_eq!(
            registrable_key(&[0; 32]).unwrap_err(),
            SignatureError::KeySmallOrder
        );
        assert_eq!(
            registrable_key(&t).unwrap_err(),
            SignatureError::KeySmallOrder
        );
    }
}
