//! Rare-earth elements, their atomic masses, and the oxides the plant separates.
//!
//! Element fractions of oxides are computed from atomic masses (IUPAC standard atomic weights,
//! as in `shared/reference/rare-earth-domain.md`), never stored rounded. All arithmetic is integer:
//! atomic masses in milli-g/mol, fractions in parts per million.

use crate::error::FieldError;

/// Parts per million: the unit of grades, purities and element contents.
pub const PPM: u64 = 1_000_000;

/// Atomic mass of oxygen in milli-g/mol.
const O_MILLI: u64 = 15_999;

macro_rules! elements {
    ($($name:ident = $code:literal, $sym:literal, $mass:literal;)*) => {
        /// A rare-earth element. The discriminant is its code in the byte layout (docs/format.md).
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        #[repr(u8)]
        pub enum Element { $($name = $code),* }

        impl Element {
            /// Every element, in code order.
            pub const ALL: &'static [Element] = &[$(Element::$name),*];
            /// Decodes a layout code.
            pub fn from_code(c: u8) -> Option<Element> {
                match c { $($code => Some(Element::$name),)* _ => None }
            }
            /// The chemical symbol.
            pub fn symbol(self) -> &'static str {
                match self { $(Element::$name => $sym),* }
            }
            /// Standard atomic weight in milli-g/mol.
            pub fn atomic_mass_milli(self) -> u64 {
                match self { $(Element::$name => $mass),* }
            }
        }
    };
}

elements! {
    Y = 1, "Y", 88_906;
    La = 2, "La", 138_905;
    Ce = 3, "Ce", 140_116;
    Pr = 4, "Pr", 140_908;
    Nd = 5, "Nd", 144_242;
    Sm = 6, "Sm", 150_360;
    Eu = 7, "Eu", 151_964;
    Gd = 8, "Gd", 157_250;
    Tb = 9, "Tb", 158_925;
    Dy = 10, "Dy", 162_500;
    Ho = 11, "Ho", 164_930;
    Er = 12, "Er", 167_259;
    Lu = 13, "Lu", 174_967;
}

/// Number of elements; per-element arrays are indexed by `code - 1`.
pub const N_ELEMENTS: usize = 13;

impl Element {
    /// Index into per-element arrays.
    pub fn index(self) -> usize {
        self as usize - 1
    }

    /// Parses a chemical symbol, case-sensitively as chemists write it.
    pub fn parse(s: &str) -> Result<Element, FieldError> {
        Element::ALL
            .iter()
            .copied()
            .find(|e| e.symbol() == s)
            .ok_or_else(|| FieldError::new("", format!("{s:?} is not a rare-earth element symbol")))
    }
}

/// Where the heavy rare earths start. Definitions differ (USGS counts Tb-Lu plus Y), so reports
/// take this as a setting.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum HeavyDefinition {
    /// USGS: Tb and heavier, plus Y.
    #[default]
    Usgs,
    /// Gd and heavier, plus Y.
    FromGd,
    /// Eu and heavier, plus Y.
    FromEu,
}

impl HeavyDefinition {
    /// Whether `e` counts as heavy under this definition.
    pub fn is_heavy(self, e: Element) -> bool {
        let start = match self {
            HeavyDefinition::Usgs => Element::Tb,
            HeavyDefinition::FromGd => Element::Gd,
            HeavyDefinition::FromEu => Element::Eu,
        };
        e == Element::Y || e >= start
    }
}

/// A separated oxide product. The byte-layout code is in docs/format.md.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Oxide {
    /// A single-element oxide (La2O3, CeO2, Pr6O11, Nd2O3, ...).
    Single(Element),
    /// NdPr oxide (didymium): a mix of Nd2O3 and Pr6O11; `nd2o3_ppm` is the Nd2O3 share of the
    /// oxide mass, recorded per lot because it varies (typically ~750,000).
    NdPr { nd2o3_ppm: u32 },
}

impl Oxide {
    /// The (metal atoms, oxygen atoms) of an element's usual oxide.
    pub fn stoichiometry(e: Element) -> (u64, u64) {
        match e {
            Element::Ce => (1, 2),
            Element::Pr => (6, 11),
            Element::Tb => (4, 7),
            _ => (2, 3),
        }
    }

    /// The formula as written (e.g. `Nd2O3`, `NdPr oxide`).
    pub fn formula(&self) -> String {
        match self {
            Oxide::Single(e) => {
                let (m, o) = Self::stoichiometry(*e);
                let m = if m == 1 { String::new() } else { m.to_string() };
                format!("{}{m}O{o}", e.symbol())
            }
            Oxide::NdPr { .. } => "NdPr oxide".to_string(),
        }
    }

    /// Parses a formula (`Nd2O3`, `CeO2`, ...) or `NdPr` with the Nd2O3 share given separately.
    pub fn parse(s: &str, ndpr_nd2o3_ppm: u32) -> Result<Oxide, FieldError> {
        if s.eq_ignore_ascii_case("NdPr") || s.eq_ignore_ascii_case("NdPr oxide") {
            return Ok(Oxide::NdPr {
                nd2o3_ppm: ndpr_nd2o3_ppm,
            });
        }
        Element::ALL
            .iter()
            .map(|e| Oxide::Single(*e))
            .find(|o| o.formula() == s)
            .ok_or_else(|| {
                FieldError::new(
                    "",
                    format!("{s:?} is not a known oxide formula (e.g. Nd2O3, Pr6O11, NdPr)"),
                )
            })
    }

    /// Mass fraction (ppm) of element `e` in its single-element oxide, from atomic masses.
    pub fn element_fraction_ppm(e: Element) -> u64 {
        let (m, o) = Self::stoichiometry(e);
        let metal = m * e.atomic_mass_milli();
        let total = metal + o * O_MILLI;
        (metal * PPM + total / 2) / total
    }

    /// Grams of each element in `mass_g` of this oxide at `purity_ppm`. Integer, rounded down.
    pub fn element_grams(&self, mass_g: u64, purity_ppm: u32) -> Vec<(Element, u64)> {
        let pure = mass_g as u128 * purity_ppm as u128; // grams × 1e6
        let part = |e: Element, share_ppm: u128| -> u64 {
            let v = pure * share_ppm * Self::element_fraction_ppm(e) as u128 / (PPM as u128).pow(3);
            v as u64 // ≤ mass_g, so it fits
        };
        match *self {
            Oxide::Single(e) => vec![(e, part(e, PPM as u128))],
            Oxide::NdPr { nd2o3_ppm } => vec![
                (
                    Element::Pr,
                    part(Element::Pr, (PPM as u128).saturating_sub(nd2o3_ppm as u128)),
                ),
                (
                    Element::Nd,
                    part(Element::Nd, (nd2o3_ppm as u128).min(PPM as u128)),
                ),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_match_the_reference_table() {
        // shared/reference/rare-earth-domain.md, to two decimals of a percent.
        let table = [
            (Element::La, 8527),
            (Element::Ce, 8141),
            (Element::Pr, 8277),
            (Element::Nd, 8574),
            (Element::Sm, 8624),
            (Element::Gd, 8676),
            (Element::Tb, 8502),
            (Element::Dy, 8713),
            (Element::Y, 7874),
        ];
        for (e, basis_points_x100) in table {
            let ppm = Oxide::element_fraction_ppm(e);
            assert_eq!((ppm + 50) / 100, basis_points_x100, "{:?}: {ppm} ppm", e);
        }
    }

    #[test]
    fn formulas_round_trip() {
        for e in Element::ALL {
            let o = Oxide::Single(*e);
            assert_eq!(Oxide::parse(&o.formula(), 0).unwrap(), o);
        }
        assert_eq!(Oxide::Single(Element::Ce).formula(), "CeO2");
        assert_eq!(Oxide::Single(Element::Tb).formula(), "Tb4O7");
        assert!(Oxide::parse("Nd2O4", 0).is_err());
    }

    #[test]
    fn ndpr_splits_by_recorded_ratio() {
        let g = Oxide::NdPr { nd2o3_ppm: 750_000 }.element_grams(1_000_000, 1_000_000);
        let nd = g.iter().find(|x| x.0 == Element::Nd).unwrap().1;
        let pr = g.iter().find(|x| x.0 == Element::Pr).unwrap().1;
        assert_eq!(nd, 750_000 * 857_356 / 1_000_000);
        assert_eq!(Oxide::element_fraction_ppm(Element::Pr), 827_704);
        assert_eq!(pr, 250_000 * 827_704 / 1_000_000);
    }

    #[test]
    fn heavy_definition_is_a_setting() {
        assert!(HeavyDefinition::Usgs.is_heavy(Element::Dy));
        assert!(HeavyDefinition::Usgs.is_heavy(Element::Y));
        assert!(!HeavyDefinition::Usgs.is_heavy(Element::Gd));
        assert!(HeavyDefinition::FromGd.is_heavy(Element::Gd));
        assert!(!HeavyDefinition::FromGd.is_heavy(Element::Eu));
        assert!(HeavyDefinition::FromEu.is_heavy(Element::Eu));
    }
}
