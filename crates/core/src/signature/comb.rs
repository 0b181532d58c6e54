//! Variable-time fixed-base multiplication: `[s]P` as one table lookup and one addition per
//! radix-2^w digit of `s`, with no doublings. The inputs of a signature check are public, so
//! unlike dalek's constant-time `EdwardsBasepointTable` it may index by digit and skip zero
//! digits; with w = 8 that makes a check about twice as fast (BENCHMARKS.md, `signatures_100`).
//! Built only from curve25519-dalek's public point arithmetic; tested against its scalar
//! multiplication.

use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;

/// Rows of a table of width `w`: one per digit of a 256-bit scalar, plus one for the last carry.
const fn rows(w: u32) -> usize {
    256usize.div_ceil(w as usize) + 1
}

/// The signed radix-2^w digits of `s`, least significant first, each in `[-2^(w-1), 2^(w-1))`,
/// so that `s = sum(d_i * 2^(w*i))`. Any 256-bit value fits in `rows(w)` digits.
fn digits(s: &Scalar, w: u32, out: &mut [i32]) {
    let b = s.as_bytes();
    let limb = |i: usize| -> u64 {
        let mut x = [0u8; 8];
        if i < 4 {
            x.copy_from_slice(&b[i * 8..i * 8 + 8]);
        }
        u64::from_le_bytes(x)
    };
    let mask = (1u64 << w) - 1;
    let half = 1i32 << (w - 1);
    let mut carry = 0i32;
    for (i, d) in out.iter_mut().enumerate() {
        let bit = i * w as usize;
        let (l, off) = (bit / 64, bit % 64);
        let mut v = limb(l) >> off;
        if off + w as usize > 64 {
            v |= limb(l + 1) << (64 - off);
        }
        let x = (v & mask) as i32 + carry;
        (*d, carry) = if x >= half { (x - (1 << w), 1) } else { (x, 0) };
    }
}

/// `j * 2^(w*i) * P` for every row `i` and `j` in `1..=2^(w-1)`.
pub(crate) struct Comb {
    w: u32,
    table: Vec<EdwardsPoint>,
}

impl Comb {
    /// Costs `rows(w) * 2^(w-1)` additions: about 4,400 (2 ms) for w = 8, 1,400 for w = 6.
    pub(crate) fn new(p: &EdwardsPoint, w: u32) -> Comb {
        assert!((2..=10).contains(&w), "comb width {w}");
        let per_row = 1usize << (w - 1);
        let mut table = Vec::with_capacity(rows(w) * per_row);
        let mut base = *p;
        for _ in 0..rows(w) {
            let mut acc = base;
            for _ in 0..per_row {
                table.push(acc);
                acc += base;
            }
            for _ in 0..w {
                base = base + base;
            }
        }
        Comb { w, table }
    }

    /// `acc + [s]P`.
    pub(crate) fn mul_add(&self, s: &Scalar, acc: EdwardsPoint) -> EdwardsPoint {
        let mut d = [0i32; rows(2)];
        let d = &mut d[..rows(self.w)];
        digits(s, self.w, d);
        let per_row = 1usize << (self.w - 1);
        let mut acc = acc;
        for (i, &x) in d.iter().enumerate() {
            let at = |j: i32| &self.table[i * per_row + (j as usize - 1)];
            if x > 0 {
                acc += at(x);
            } else if x < 0 {
                acc -= at(-x);
            }
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
    use proptest::prelude::*;

    fn check(w: u32, s: Scalar) {
        let p = B * Scalar::from(7u64);
        let c = Comb::new(&p, w);
        assert_eq!(c.mul_add(&s, EdwardsPoint::default()), p * s, "w {w}");
        assert_eq!(c.mul_add(&s, B), B + p * s, "w {w}");
    }

    #[test]
    fn edge_scalars_at_every_width() {
        let two_252 = Scalar::from_bytes_mod_order({
            let mut b = [0u8; 32];
            b[31] = 0x10;
            b
        });
        for w in 2..=8 {
            for s in [
                Scalar::ZERO,
                Scalar::ONE,
                -Scalar::ONE,
                two_252,
                two_252 - Scalar::ONE,
                Scalar::from((1u64 << w) - 1),
                Scalar::from(1u64 << (w - 1)),
            ] {
                check(w, s);
            }
        }
    }

    #[test]
    fn digits_sum_back_to_the_scalar() {
        let s = -Scalar::from(12345u64);
        for w in 2..=10 {
            let mut d = vec![0; rows(w)];
            digits(&s, w, &mut d);
            let radix = Scalar::from(1u64 << w);
            let (mut sum, mut pow) = (Scalar::ZERO, Scalar::ONE);
            for x in d {
                let m = Scalar::from(x.unsigned_abs() as u64);
                sum += if x < 0 { -m * pow } else { m * pow };
                pow *= radix;
            }
            assert_eq!(sum, s, "w {w}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn agrees_with_dalek(bytes in any::<[u8; 32]>(), w in 5u32..=8) {
            check(w, Scalar::from_bytes_mod_order(bytes));
        }
    }
}
