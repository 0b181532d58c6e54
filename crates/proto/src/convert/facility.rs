//! Facilities and certifications, both directions: the registry events (kinds 15-19) and the
//! facility list `ree facility list` prints.

use ree_core::event::{self as ev, EventKind, FacilityKind};
use ree_core::registry::{Certification, Facility};
use ree_core::{FacilityId, FieldError, UtcMicros};

use super::from_wire::{country_field, digest_field, name_field, participant_id, reason_field};
use super::to_wire::ts;
use crate::pbjson_types::Timestamp;
use crate::v1 as pb;

/// Parses a facility id field.
pub fn facility_id(s: &str, path: &str) -> Result<FacilityId, FieldError> {
    if s.is_empty() {
        return Err(FieldError::new(
            path,
            "is required (the UUID of a registered facility)",
        ));
    }
    uuid::Uuid::parse_str(s)
        .map(FacilityId)
        .map_err(|e| FieldError::new(path, format!("{s:?} is not a UUID: {e}")))
}

fn time(t: &Option<Timestamp>, path: &str) -> Result<UtcMicros, FieldError> {
    let t = t
        .as_ref()
        .ok_or_else(|| FieldError::new(path, "is required"))?;
    UtcMicros::from_seconds_nanos(t.seconds, t.nanos)
        .ok_or_else(|| FieldError::new(path, "is out of range"))
}

fn kind(v: i32, path: &str) -> Result<FacilityKind, FieldError> {
    u8::try_from(v)
        .ok()
        .and_then(FacilityKind::from_code)
        .ok_or_else(|| FieldError::new(path, format!("{v} is not a facility kind")))
}

/// Kind 15 from the wire.
pub fn registered(f: &pb::FacilityRegistered) -> Result<EventKind, FieldError> {
    let p = "facility_registered";
    let location = match (f.lat_microdeg, f.lon_microdeg) {
        (None, None) => None,
        (Some(lat), Some(lon)) => Some((lat, lon)),
        _ => {
            return Err(FieldError::new(
                format!("{p}.lat_microdeg"),
                "latitude and longitude go together",
            ))
        }
    };
    Ok(EventKind::FacilityRegistered(ev::FacilityRegistered {
        facility: facility_id(&f.facility_id, &format!("{p}.facility_id"))?,
        name: name_field(&f.name, &format!("{p}.name"))?,
        kind: kind(f.kind, &format!("{p}.kind"))?,
        country: country_field(&f.country, &format!("{p}.country"))?,
        location,
        operator: participant_id(&f.operator_id, &format!("{p}.operator_id"))?,
    }))
}

/// Kind 16 from the wire.
pub fn granted(c: &pb::CertificationGranted) -> Result<EventKind, FieldError> {
    let p = "certification_granted";
    Ok(EventKind::CertificationGranted(ev::CertificationGranted {
        facility: facility_id(&c.facility_id, &format!("{p}.facility_id"))?,
        scheme: name_field(&c.scheme, &format!("{p}.scheme"))?,
        certificate_id: name_field(&c.certificate_id, &format!("{p}.certificate_id"))?,
        issuer: name_field(&c.issuer, &format!("{p}.issuer"))?,
        document_digest: digest_field(&c.document_digest, &format!("{p}.document_digest"))?,
        valid_from: time(&c.valid_from, &format!("{p}.valid_from"))?,
        valid_until: time(&c.valid_until, &format!("{p}.valid_until"))?,
    }))
}

/// The common fields of kinds 17 and 18.
pub fn ended(
    p: &str,
    facility: &str,
    certificate_id: &str,
    reason: &str,
) -> Result<ev::CertificationEnded, FieldError> {
    Ok(ev::CertificationEnded {
        facility: facility_id(facility, &format!("{p}.facility_id"))?,
        certificate_id: name_field(certificate_id, &format!("{p}.certificate_id"))?,
        reason: reason_field(reason, &format!("{p}.reason"))?,
    })
}

/// Kind 19 from the wire.
pub fn closed(c: &pb::FacilityClosed) -> Result<EventKind, FieldError> {
    Ok(EventKind::FacilityClosed(ev::FacilityClosed {
        facility: facility_id(&c.facility_id, "facility_closed.facility_id")?,
        reason: reason_field(&c.reason, "facility_closed.reason")?,
    }))
}

/// Kinds 15-19 to the wire (None for other kinds).
pub fn to_pb(k: &EventKind) -> Option<pb::event_body::Kind> {
    use pb::event_body::Kind as K;
    Some(match k {
        EventKind::FacilityRegistered(f) => K::FacilityRegistered(pb::FacilityRegistered {
            facility_id: f.facility.to_string(),
            name: f.name.clone(),
            kind: f.kind as i32,
            country: f.country.to_string(),
            operator_id: f.operator.to_string(),
            lat_microdeg: f.location.map(|l| l.0),
            lon_microdeg: f.location.map(|l| l.1),
        }),
        EventKind::CertificationGranted(c) => K::CertificationGranted(pb::CertificationGranted {
            facility_id: c.facility.to_string(),
            scheme: c.scheme.clone(),
            certificate_id: c.certificate_id.clone(),
            issuer: c.issuer.clone(),
            document_digest: c.document_digest.to_hex(),
            valid_from: Some(ts(c.valid_from)),
            valid_until: Some(ts(c.valid_until)),
        }),
        EventKind::CertificationSuspended(e) => {
            K::CertificationSuspended(pb::CertificationSuspended {
                facility_id: e.0.facility.to_string(),
                certificate_id: e.0.certificate_id.clone(),
                reason: e.0.reason.clone(),
            })
        }
        EventKind::CertificationWithdrawn(e) => {
            K::CertificationWithdrawn(pb::CertificationWithdrawn {
                facility_id: e.0.facility.to_string(),
                certificate_id: e.0.certificate_id.clone(),
                reason: e.0.reason.clone(),
            })
        }
        EventKind::FacilityClosed(c) => K::FacilityClosed(pb::FacilityClosed {
            facility_id: c.facility.to_string(),
            reason: c.reason.clone(),
        }),
        _ => return None,
    })
}

fn certification_pb(c: &Certification, now: UtcMicros) -> pb::Certification {
    pb::Certification {
        scheme: c.scheme.to_string(),
        certificate_id: c.certificate_id.to_string(),
        issuer: c.issuer.to_string(),
        document_digest: c.document_digest.to_hex(),
        valid_from: Some(ts(c.valid_from)),
        valid_until: Some(ts(c.valid_until)),
        suspended_from: c.suspended_from.map(ts),
        withdrawn_from: c.withdrawn_from.map(ts),
        status: c.status_at(now).into(),
    }
}

/// A facility as `ListParticipants` returns it; statuses as of `now`.
pub fn facility_pb(f: &Facility, now: UtcMicros) -> pb::RegisteredFacility {
    pb::RegisteredFacility {
        facility_id: f.id.to_string(),
        name: f.name.to_string(),
        kind: f.kind as i32,
        country: f.country.to_string(),
        operator_id: f.operator.to_string(),
        lat_microdeg: f.location.map(|l| l.0),
        lon_microdeg: f.location.map(|l| l.1),
        registered_at: f.registered_at,
        closed_at: f.closed_at.unwrap_or(0),
        certifications: f
            .certifications
            .iter()
            .map(|c| certification_pb(c, now))
            .collect(),
    }
}
