//! Kinds 15-19: facilities and their certifications, registry events on [`REGISTRY_LOT`] signed
//! by an administrator. A lot's origin is the country of the registered site its receipt names,
//! not what the submitter types (docs/format.md, "Facilities and certifications").

use super::fields::{check_name, check_reason, read_country, read_participant};
use crate::codec::{Reader, Writer};
use crate::country::Country;
use crate::error::{DecodeError, FieldError};
use crate::ids::{FacilityId, Hash32, LotId, ParticipantId, REGISTRY_LOT};
use crate::time::UtcMicros;

code_enum!(
    /// What a facility does; it decides which events may name it and which role operates it.
    FacilityKind {
        /// A mine site: named by its supplier's ore receipts.
        Mine = 1, "mine";
        /// A collection point for end-of-life magnets: named by its recycler's intakes.
        Collection = 2, "collection";
        /// A recycling plant: named by its recycler's intakes.
        Recycling = 3, "recycling";
        /// A separation plant: named by its plant operator's campaigns.
        Separation = 4, "separation";
        /// A laboratory: named by its laboratory's assays.
        Laboratory = 5, "laboratory";
    }
);

/// Latitude bound in micro-degrees.
pub const MAX_LAT_MICRODEG: i32 = 90_000_000;
/// Longitude bound in micro-degrees.
pub const MAX_LON_MICRODEG: i32 = 180_000_000;

pub(super) fn read_facility(r: &mut Reader) -> Result<FacilityId, DecodeError> {
    Ok(FacilityId(uuid::Uuid::from_bytes(r.array()?)))
}

/// A facility joins the registry, operated by a registered participant.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FacilityRegistered {
    pub facility: FacilityId,
    pub name: String,
    pub kind: FacilityKind,
    pub country: Country,
    /// (latitude, longitude) in micro-degrees: integers, so canonical bytes carry no floats.
    pub location: Option<(i32, i32)>,
    pub operator: ParticipantId,
}

impl FacilityRegistered {
    pub(super) fn lots(&self) -> Vec<LotId> {
        vec![REGISTRY_LOT]
    }
    pub(super) fn validate(&self) -> Result<(), FieldError> {
        check_name("name", &self.name)?;
        if let Some((lat, lon)) = self.location {
            if !(-MAX_LAT_MICRODEG..=MAX_LAT_MICRODEG).contains(&lat) {
                return Err(FieldError::new("lat", format!("{lat} µ° is outside ±90°")));
            }
            if !(-MAX_LON_MICRODEG..=MAX_LON_MICRODEG).contains(&lon) {
                return Err(FieldError::new("lon", format!("{lon} µ° is outside ±180°")));
            }
        }
        Ok(())
    }
    pub(super) fn encode(&self, w: &mut Writer) -> Result<(), FieldError> {
        w.raw(&self.facility.bytes());
        w.str("name", &self.name)?;
        w.u8(self.kind as u8);
        w.raw(&self.country.bytes());
        match self.location {
            None => w.u8(0),
            Some((lat, lon)) => {
                w.u8(1);
                w.u32(lat as u32);
                w.u32(lon as u32);
            }
        }
        w.raw(&self.operator.bytes());
        Ok(())
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(FacilityRegistered {
            facility: read_facility(r)?,
            name: r.str()?,
            kind: {
                let c = r.u8()?;
                FacilityKind::from_code(c)
                    .ok_or_else(|| r.err(format!("unknown facility kind {c}")))?
            },
            country: read_country(r)?,
            location: if r.flag()? {
                Some((r.u32()? as i32, r.u32()? as i32))
            } else {
                None
            },
            operator: read_participant(r)?,
        })
    }
}

/// A certification of a facility under a scheme (IRMA, RMAP, ISO 14001, ISO/IEC 17025, ...),
/// valid from `valid_from` (inclusive) until `valid_until` (exclusive).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CertificationGranted {
    pub facility: FacilityId,
    pub scheme: String,
    pub certificate_id: String,
    pub issuer: String,
    /// blake3 of the certificate document.
    pub document_digest: Hash32,
    pub valid_from: UtcMicros,
    pub valid_until: UtcMicros,
}

impl CertificationGranted {
    pub(super) fn lots(&self) -> Vec<LotId> {
        vec![REGISTRY_LOT]
    }
    pub(super) fn validate(&self) -> Result<(), FieldError> {
        check_name("scheme", &self.scheme)?;
        check_name("certificate_id", &self.certificate_id)?;
        check_name("issuer", &self.issuer)?;
        if self.valid_until.0 <= self.valid_from.0 {
            return Err(FieldError::new(
                "valid_until",
                format!(
                    "{} is not after valid_from {}",
                    self.valid_until, self.valid_from
                ),
            ));
        }
        Ok(())
    }
    pub(super) fn encode(&self, w: &mut Writer) -> Result<(), FieldError> {
        w.raw(&self.facility.bytes());
        w.str("scheme", &self.scheme)?;
        w.str("certificate_id", &self.certificate_id)?;
        w.str("issuer", &self.issuer)?;
        w.raw(&self.document_digest.0);
        w.i64(self.valid_from.0);
        w.i64(self.valid_until.0);
        Ok(())
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(CertificationGranted {
            facility: read_facility(r)?,
            scheme: r.str()?,
            certificate_id: r.str()?,
            issuer: r.str()?,
            document_digest: Hash32(r.array()?),
            valid_from: UtcMicros(r.i64()?),
            valid_until: UtcMicros(r.i64()?),
        })
    }
}

/// Ends one certificate of a facility from the event's `occurred_at` on: suspended (kinds 17)
/// or withdrawn (18). History before stays; a new grant is how a certificate comes back.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CertificationEnded {
    pub facility: FacilityId,
    pub certificate_id: String,
    pub reason: String,
}

impl CertificationEnded {
    fn validate(&self) -> Result<(), FieldError> {
        check_name("certificate_id", &self.certificate_id)?;
        check_reason("reason", &self.reason)
    }
    fn encode(&self, w: &mut Writer) -> Result<(), FieldError> {
        w.raw(&self.facility.bytes());
        w.str("certificate_id", &self.certificate_id)?;
        w.str("reason", &self.reason)
    }
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(CertificationEnded {
            facility: read_facility(r)?,
            certificate_id: r.str()?,
            reason: r.str()?,
        })
    }
}

macro_rules! ended_kind {
    ($(#[$m:meta])* $t:ident) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Debug)]
        pub struct $t(pub CertificationEnded);
        impl $t {
            pub(super) fn lots(&self) -> Vec<LotId> {
                vec![REGISTRY_LOT]
            }
            pub(super) fn validate(&self) -> Result<(), FieldError> {
                self.0.validate()
            }
            pub(super) fn encode(&self, w: &mut Writer) -> Result<(), FieldError> {
                self.0.encode(w)
            }
            pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
                CertificationEnded::decode(r).map($t)
            }
        }
    };
}

ended_kind!(
    /// Kind 17: a certificate is suspended by its scheme.
    CertificationSuspended
);
ended_kind!(
    /// Kind 18: a certificate is withdrawn.
    CertificationWithdrawn
);

/// Kind 19: a facility closes; no event may name it from then on.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FacilityClosed {
    pub facility: FacilityId,
    pub reason: String,
}

impl FacilityClosed {
    pub(super) fn lots(&self) -> Vec<LotId> {
        vec![REGISTRY_LOT]
    }
    pub(super) fn validate(&self) -> Result<(), FieldError> {
        check_reason("reason", &self.reason)
    }
    pub(super) fn encode(&self, w: &mut Writer) -> Result<(), FieldError> {
        w.raw(&self.facility.bytes());
        w.str("reason", &self.reason)
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(FacilityClosed {
            facility: read_facility(r)?,
            reason: r.str()?,
        })
    }
}
