//! Kind 20: an auditor's attestation about a lot, or about one event on its chain.

use super::fields::read_lot;
use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, FieldError};
use crate::ids::{Hash32, LotId};
use crate::time::UtcMicros;

code_enum!(
    /// What an auditor verified.
    AttestationKind {
        /// The lot's origin (country, site), by a method.
        OriginVerified = 1, "origin_verified";
        /// The lot's mass (a stock count or a weighing).
        MassVerified = 2, "mass_verified";
        /// A recycled lot's scrap class (pre or post consumer).
        ScrapClassVerified = 3, "scrap_class_verified";
    }
);

code_enum!(
    /// How an origin was verified.
    OriginMethod {
        /// The auditor visited the site.
        SiteVisit = 1, "site_visit";
        /// The auditor checked a certificate of origin.
        CertificateOfOrigin = 2, "certificate_of_origin";
    }
);

/// An auditor's attestation, recorded on the chain of the lot it is about, so that the lot's
/// bundles (and those downstream of it, up to where they link) carry it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Attestation {
    pub lot: LotId,
    /// The record hash of one record on the lot's chain this attestation is about, if any.
    pub event: Option<Hash32>,
    pub kind: AttestationKind,
    /// Required for `origin_verified`, absent otherwise.
    pub method: Option<OriginMethod>,
    /// BLAKE3 digest of the evidence (report, certificate); never all zero.
    pub evidence: Hash32,
    pub valid_from: UtcMicros,
    pub valid_until: UtcMicros,
}

impl Attestation {
    pub(super) fn lots(&self) -> Vec<LotId> {
        vec![self.lot]
    }
    pub(super) fn validate(&self) -> Result<(), FieldError> {
        match (self.kind, self.method) {
            (AttestationKind::OriginVerified, None) => {
                return Err(FieldError::new(
                    "method",
                    "origin_verified needs a method (site_visit or certificate_of_origin)",
                ))
            }
            (AttestationKind::OriginVerified, Some(_)) | (_, None) => {}
            (k, Some(_)) => {
                return Err(FieldError::new(
                    "method",
                    format!("only origin_verified has a method, not {}", k.name()),
                ))
            }
        }
        if self.evidence.0 == [0; 32] {
            return Err(FieldError::new(
                "evidence_digest",
                "is required (the BLAKE3 digest of the evidence)",
            ));
        }
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
        w.raw(&self.lot.bytes());
        match &self.event {
            None => w.u8(0),
            Some(h) => {
                w.u8(1);
                w.raw(&h.0);
            }
        }
        w.u8(self.kind as u8);
        w.u8(self.method.map_or(0, |m| m as u8));
        w.raw(&self.evidence.0);
        w.i64(self.valid_from.0);
        w.i64(self.valid_until.0);
        Ok(())
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let lot = read_lot(r)?;
        let event = if r.flag()? {
            Some(Hash32(r.array()?))
        } else {
            None
        };
        let c = r.u8()?;
        let kind = AttestationKind::from_code(c)
            .ok_or_else(|| r.err(format!("unknown attestation kind {c}")))?;
        let c = r.u8()?;
        let method = match c {
            0 => None,
            _ => Some(
                OriginMethod::from_code(c)
                    .ok_or_else(|| r.err(format!("unknown origin method {c}")))?,
            ),
        };
        Ok(Attestation {
            lot,
            event,
            kind,
            method,
            evidence: Hash32(r.array()?),
            valid_from: UtcMicros(r.i64()?),
            valid_until: UtcMicros(r.i64()?),
        })
    }
}
