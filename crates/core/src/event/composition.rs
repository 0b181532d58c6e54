//! Element content in ppm, shared by ore receipts, magnet intakes and assays.

use crate::codec::{Reader, Writer};
use crate::element::{Element, PPM};
use crate::error::{DecodeError, FieldError};

/// Element content in ppm of the lot's mass, one entry per element, sorted, summing to ≤ 10^6.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Composition(Vec<(Element, u32)>);

impl Composition {
    /// Builds a composition; rejects duplicates, out-of-range values, and sums past 10^6 ppm.
    pub fn new(mut entries: Vec<(Element, u32)>) -> Result<Self, FieldError> {
        entries.sort_by_key(|e| e.0);
        if entries.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(FieldError::new("", "an element appears twice"));
        }
        let mut sum: u64 = 0;
        for (e, ppm) in &entries {
            if *ppm as u64 > PPM {
                return Err(FieldError::new(
                    e.symbol(),
                    format!("{ppm} ppm is more than 1,000,000"),
                ));
            }
            sum += *ppm as u64;
        }
        if sum > PPM {
            return Err(FieldError::new(
                "",
                format!("element contents sum to {sum} ppm, more than 1,000,000"),
            ));
        }
        Ok(Composition(entries))
    }
    /// The entries, sorted by element.
    pub fn entries(&self) -> &[(Element, u32)] {
        &self.0
    }
    /// True when no element was assayed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// ppm of `e` (0 when not listed).
    pub fn ppm(&self, e: Element) -> u32 {
        self.0.iter().find(|x| x.0 == e).map_or(0, |x| x.1)
    }
    /// Fits its u8 count: [`Composition::new`] allows each element once.
    pub(super) fn encode(&self, w: &mut Writer) {
        w.u8(self.0.len() as u8);
        for (e, ppm) in &self.0 {
            w.u8(*e as u8);
            w.u32(*ppm);
        }
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let n = r.u8()? as usize;
        let mut v: Vec<(Element, u32)> = Vec::with_capacity(n.min(Element::ALL.len()));
        for _ in 0..n {
            let code = r.u8()?;
            let e = Element::from_code(code)
                .ok_or_else(|| r.err(format!("unknown element code {code}")))?;
            if v.last().is_some_and(|l| l.0 >= e) {
                return Err(
                    r.err("composition entries must be in strictly increasing element order")
                );
            }
            v.push((e, r.u32()?));
        }
        Composition::new(v).map_err(|e| r.err(format!("composition: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composition_rejects_overflowing_sums() {
        assert!(Composition::new(vec![(Element::Nd, 600_000), (Element::Pr, 400_001)]).is_err());
        assert!(Composition::new(vec![(Element::Nd, 1_000_001)]).is_err());
        assert!(Composition::new(vec![(Element::Nd, 1), (Element::Nd, 2)]).is_err());
        assert!(Composition::new(vec![(Element::Nd, 600_000), (Element::Pr, 400_000)]).is_ok());
    }
}
