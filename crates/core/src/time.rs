//! UTC timestamps as integer microseconds since the Unix epoch, with RFC 3339 text.

/// Microseconds since 1970-01-01T00:00:00Z. Integer so that it hashes and compares exactly.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct UtcMicros(pub i64);

impl UtcMicros {
    /// 2000-01-01T00:00:00Z: nothing in this ledger happened earlier.
    pub const EARLIEST: UtcMicros = UtcMicros(946_684_800_000_000);

    /// Splits into (seconds, nanoseconds) as google.protobuf.Timestamp wants.
    pub fn to_seconds_nanos(self) -> (i64, i32) {
        (
            self.0.div_euclid(1_000_000),
            (self.0.rem_euclid(1_000_000) * 1000) as i32,
        )
    }

    /// From (seconds, nanoseconds), truncating below a microsecond; None on overflow.
    pub fn from_seconds_nanos(s: i64, n: i32) -> Option<Self> {
        if !(0..1_000_000_000).contains(&n) {
            return None;
        }
        s.checked_mul(1_000_000)?
            .checked_add(n as i64 / 1000)
            .map(UtcMicros)
    }
}

/// Civil date from days since the epoch (H. Hinnant's algorithm), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl std::fmt::Display for UtcMicros {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000);
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            sod / 60 % 60,
            sod % 60
        )?;
        if micros != 0 {
            write!(f, ".{micros:06}")?;
        }
        f.write_str("Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn formats_rfc3339() {
        assert_eq!(UtcMicros(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(
            UtcMicros(1_709_251_200_000_000).to_string(),
            "2024-03-01T00:00:00Z"
        );
        assert_eq!(
            UtcMicros(951_782_400_000_001).to_string(),
            "2000-02-29T00:00:00.000001Z"
        );
        assert_eq!(UtcMicros(-1).to_string(), "1969-12-31T23:59:59.999999Z");
    }
    #[test]
    fn seconds_nanos_round_trip() {
        for v in [0i64, 1, -1, 1_709_251_200_123_456, -5_000_001] {
            let (s, n) = UtcMicros(v).to_seconds_nanos();
            assert_eq!(UtcMicros::from_seconds_nanos(s, n), Some(UtcMicros(v)));
        }
        assert_eq!(UtcMicros::from_seconds_nanos(i64::MAX, 0), None);
        assert_eq!(UtcMicros::from_seconds_nanos(0, -1), None);
    }
}
