//! ISO 3166-1 alpha-2 country codes, validated against the officially assigned list.

use crate::error::FieldError;

/// The 249 officially assigned ISO 3166-1 alpha-2 codes (ISO 3166 Maintenance Agency, 2024).
/// Kept as one sorted string so lookup is a binary search without allocation.
const ASSIGNED: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ \
BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES \
ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO \
IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK \
ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR \
PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK \
TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// An ISO 3166-1 alpha-2 country code, stored as its two upper-case ASCII bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Country([u8; 2]);

impl Country {
    /// Parses an upper-case alpha-2 code; rejects anything not officially assigned.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let b = s.as_bytes();
        if b.len() != 2 {
            return Err(FieldError::new(
                "",
                format!("country code {s:?} must be 2 letters (ISO 3166-1 alpha-2)"),
            ));
        }
        Self::from_bytes([b[0], b[1]])
    }

    /// Validates two raw bytes (as found in the binary layout).
    pub fn from_bytes(b: [u8; 2]) -> Result<Self, FieldError> {
        if Self::is_assigned(b) {
            Ok(Country(b))
        } else {
            let shown = String::from_utf8_lossy(&b).into_owned();
            Err(FieldError::new(
                "",
                format!("{shown:?} is not an assigned ISO 3166-1 alpha-2 country code"),
            ))
        }
    }

    fn is_assigned(b: [u8; 2]) -> bool {
        if !b.iter().all(u8::is_ascii_uppercase) {
            return false;
        }
        // Codes are 2 letters + 1 space, sorted: binary search over the fixed-width slots.
        let table = ASSIGNED.as_bytes();
        let n = table.len().div_ceil(3);
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let slot = [table[mid * 3], table[mid * 3 + 1]];
            match slot.cmp(&b) {
                std::cmp::Ordering::Equal => return true,
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        false
    }

    /// The two bytes as stored.
    pub fn bytes(self) -> [u8; 2] {
        self.0
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII upper-case letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl std::fmt::Display for Country {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Country {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Country({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_complete() {
        let codes: Vec<&str> = ASSIGNED.split(' ').collect();
        assert_eq!(codes.len(), 249);
        assert!(
            codes.windows(2).all(|w| w[0] < w[1]),
            "table must be sorted for the binary search"
        );
        for c in &codes {
            assert!(Country::parse(c).is_ok(), "{c}");
        }
    }

    #[test]
    fn rejects_unassigned_and_malformed() {
        for bad in ["XX", "UK", "cn", "C", "CHN", "", "Z1", "AA", "ZZ"] {
            assert!(Country::parse(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(Country::parse("FR").unwrap().as_str(), "FR");
    }
}
