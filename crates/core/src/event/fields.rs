//! What every kind's fields share: the limits of the layout, the stateless checks of
//! [`super::EventBody::validate`], and the readers of ids and countries.

use crate::codec::Reader;
use crate::country::Country;
use crate::element::PPM;
use crate::error::{DecodeError, FieldError};
use crate::ids::{LotId, ParticipantId};

/// Longest name-like string (supplier, site, facility, customer, lab), in bytes.
pub const MAX_NAME_LEN: usize = 200;
/// Longest free-text reason, in bytes.
pub const MAX_REASON_LEN: usize = 1000;
/// Largest mass one event may move: 10^12 g (a million tonnes), far above any real lot, so that
/// sums of many events stay far from u64 overflow.
pub const MAX_MASS_G: u64 = 1_000_000_000_000;

pub(super) fn check_mass(field: &str, g: u64) -> Result<(), FieldError> {
    if g == 0 {
        return Err(FieldError::new(field, "must be > 0 grams"));
    }
    if g > MAX_MASS_G {
        return Err(FieldError::new(
            field,
            format!("{g} g exceeds the per-event maximum of {MAX_MASS_G} g"),
        ));
    }
    Ok(())
}

pub(super) fn check_name(field: &str, s: &str) -> Result<(), FieldError> {
    check_text(field, s, MAX_NAME_LEN)
}

pub(super) fn check_reason(field: &str, s: &str) -> Result<(), FieldError> {
    check_text(field, s, MAX_REASON_LEN)
}

fn check_text(field: &str, s: &str, max: usize) -> Result<(), FieldError> {
    if s.trim().is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if s.len() > max {
        return Err(FieldError::new(
            field,
            format!("is {} bytes, at most {max} allowed", s.len()),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// At most 10^6 ppm; zero only where `allow_zero`.
pub(super) fn check_ppm(field: &str, v: u32, allow_zero: bool) -> Result<(), FieldError> {
    if v as u64 > PPM {
        return Err(FieldError::new(
            field,
            format!("{v} ppm is more than 1,000,000"),
        ));
    }
    if v == 0 && !allow_zero {
        return Err(FieldError::new(field, "must be > 0 ppm"));
    }
    Ok(())
}

/// Only keys of the accepted set (docs/format.md, "Signatures"): canonical, in the prime-order
/// subgroup.
pub(super) fn check_public_key(field: &str, k: &[u8; 32]) -> Result<(), FieldError> {
    crate::signature::registrable_key(k)
        .map(|_| ())
        .map_err(|e| FieldError::new(field, e.to_string().replace("public key: ", "")))
}

pub(super) fn read_lot(r: &mut Reader) -> Result<LotId, DecodeError> {
    Ok(LotId(uuid::Uuid::from_bytes(r.array()?)))
}

pub(super) fn read_participant(r: &mut Reader) -> Result<ParticipantId, DecodeError> {
    Ok(ParticipantId(uuid::Uuid::from_bytes(r.array()?)))
}

/// A country code; an unknown one fails at its own offset.
pub(super) fn read_country(r: &mut Reader) -> Result<Country, DecodeError> {
    let at = r.pos();
    Country::from_bytes(r.array()?).map_err(|e| DecodeError {
        what: "event body",
        offset: at,
        reason: e.reason,
    })
}
