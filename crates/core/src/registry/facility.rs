//! Facilities and their certifications, part of the registry: which sites exist, who operates
//! them, in which country, and which certificates were valid when. History is kept (a suspended
//! or withdrawn certificate stays listed with the time it ended) so that "valid at time T" can be
//! asked of any past receipt, by the engine and by the verifier alike.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Registry;
use crate::country::Country;
use crate::event::{
    CertificationEnded, CertificationGranted, EventKind, FacilityKind, FacilityRegistered, Role,
};
use crate::ids::{FacilityId, Hash32, ParticipantId};
use crate::time::UtcMicros;

/// The scheme a laboratory must hold to assay lots.
pub const LAB_SCHEME: &str = "ISO/IEC 17025";

/// One certificate of a facility and how it ended, if it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certification {
    pub scheme: Arc<str>,
    pub certificate_id: Arc<str>,
    pub issuer: Arc<str>,
    pub document_digest: Hash32,
    pub valid_from: UtcMicros,
    pub valid_until: UtcMicros,
    /// Global sequence number of the grant.
    pub granted_at: u64,
    /// From when it is suspended (the suspension event's `occurred_at`).
    pub suspended_from: Option<UtcMicros>,
    /// From when it is withdrawn.
    pub withdrawn_from: Option<UtcMicros>,
}

impl Certification {
    /// Valid at `t`: inside [valid_from, valid_until) and not suspended or withdrawn by then.
    pub fn valid_at(&self, t: UtcMicros) -> bool {
        let ended = |e: Option<UtcMicros>| e.is_some_and(|e| e.0 <= t.0);
        self.valid_from.0 <= t.0
            && t.0 < self.valid_until.0
            && !ended(self.suspended_from)
            && !ended(self.withdrawn_from)
    }
    /// "valid", "suspended", "withdrawn", "expired" or "not yet valid" at `t`, for reports.
    pub fn status_at(&self, t: UtcMicros) -> &'static str {
        if self.withdrawn_from.is_some_and(|e| e.0 <= t.0) {
            "withdrawn"
        } else if self.suspended_from.is_some_and(|e| e.0 <= t.0) {
            "suspended"
        } else if t.0 < self.valid_from.0 {
            "not yet valid"
        } else if t.0 >= self.valid_until.0 {
            "expired"
        } else {
            "valid"
        }
    }
}

/// A registered facility.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facility {
    pub id: FacilityId,
    pub name: Arc<str>,
    pub kind: FacilityKind,
    pub country: Country,
    pub location: Option<(i32, i32)>,
    pub operator: ParticipantId,
    /// Global sequence number of the registration.
    pub registered_at: u64,
    /// Global sequence number of the closing, if closed.
    pub closed_at: Option<u64>,
    /// Every certificate ever granted, in order.
    pub certifications: Vec<Certification>,
}

impl Facility {
    /// The certificates valid at `t`.
    pub fn valid_certifications(&self, t: UtcMicros) -> impl Iterator<Item = &Certification> {
        self.certifications.iter().filter(move |c| c.valid_at(t))
    }
    /// Whether a certificate of `scheme` is valid at `t`.
    pub fn certified(&self, scheme: &str, t: UtcMicros) -> bool {
        self.valid_certifications(t).any(|c| &*c.scheme == scheme)
    }
}

/// The role that operates a kind of facility.
pub fn operator_role(kind: FacilityKind) -> Role {
    match kind {
        FacilityKind::Mine => Role::Supplier,
        FacilityKind::Collection | FacilityKind::Recycling => Role::Recycler,
        FacilityKind::Separation => Role::PlantOperator,
        FacilityKind::Laboratory => Role::Laboratory,
    }
}

/// Whether an event kind is one of the facility events (15-19).
pub fn is_facility_event(kind: &EventKind) -> bool {
    matches!(kind.code(), 15..=19)
}

/// What a site named by an event must be; the error is the refusal's reason.
pub struct SiteUse<'a> {
    /// The field naming the site, e.g. `ore_receipt.facility_id`.
    pub field: &'a str,
    pub signer: ParticipantId,
    pub kinds: &'a [FacilityKind],
    /// The country the event states, which must be the site's.
    pub country: Option<Country>,
}

impl Registry {
    /// A facility by id.
    pub fn facility(&self, id: &FacilityId) -> Option<&Facility> {
        self.facilities.get(id)
    }
    /// Every facility, sorted by id.
    pub fn facilities(&self) -> impl Iterator<Item = &Facility> {
        self.facilities.values()
    }

    /// The site an event names, if it exists, is open, is operated by the signer, is of an
    /// allowed kind and lies in the country the event states.
    pub fn site(&self, id: &FacilityId, u: &SiteUse) -> Result<&Facility, String> {
        let f = u.field;
        let site = self
            .facilities
            .get(id)
            .ok_or_else(|| format!("{f}: facility {id} is not registered"))?;
        if let Some(at) = site.closed_at {
            return Err(format!(
                "{f}: facility {id} was closed at global sequence {at}"
            ));
        }
        if site.operator != u.signer {
            return Err(format!(
                "{f}: facility {id} ({}) is operated by participant {}, not by the signer {}",
                site.name, site.operator, u.signer
            ));
        }
        if !u.kinds.contains(&site.kind) {
            let want: Vec<&str> = u.kinds.iter().map(|k| k.name()).collect();
            return Err(format!(
                "{f}: facility {id} is a {} site; this event names a {} site",
                site.kind.name(),
                want.join(" or ")
            ));
        }
        if let Some(c) = u.country {
            if c != site.country {
                return Err(format!(
                    "{f}: the event says country {c} but facility {id} is in {}: the origin is the site's",
                    site.country
                ));
            }
        }
        Ok(site)
    }

    /// Applies a facility event recorded at `global_seq` and occurring at `at`.
    pub fn apply_facility(
        &mut self,
        kind: &EventKind,
        global_seq: u64,
        at: UtcMicros,
    ) -> Result<(), String> {
        match kind {
            EventKind::FacilityRegistered(e) => self.register_facility(e, global_seq),
            EventKind::CertificationGranted(e) => self.grant(e, global_seq),
            EventKind::CertificationSuspended(e) => {
                self.end_certification(&e.0, at, |c| &mut c.suspended_from)
            }
            EventKind::CertificationWithdrawn(e) => {
                self.end_certification(&e.0, at, |c| &mut c.withdrawn_from)
            }
            EventKind::FacilityClosed(e) => {
                let f = self.open_facility(&e.facility)?;
                f.closed_at = Some(global_seq);
                Ok(())
            }
            _ => Err(format!("{} is not a facility event", kind.name())),
        }
    }

    fn register_facility(&mut self, e: &FacilityRegistered, global_seq: u64) -> Result<(), String> {
        if self.facilities.contains_key(&e.facility) {
            return Err(format!("facility {} is already registered", e.facility));
        }
        let op = self.live(&e.operator)?;
        let want = operator_role(e.kind);
        if op.role != want {
            return Err(format!(
                "operator: participant {} is {} {}; a {} site is operated by {} {}",
                e.operator,
                crate::error::a_or_an(op.role.name()),
                op.role.name(),
                e.kind.name(),
                crate::error::a_or_an(want.name()),
                want.name()
            ));
        }
        self.facilities.insert(
            e.facility,
            Facility {
                id: e.facility,
                name: e.name.as_str().into(),
                kind: e.kind,
                country: e.country,
                location: e.location,
                operator: e.operator,
                registered_at: global_seq,
                closed_at: None,
                certifications: Vec::new(),
            },
        );
        Ok(())
    }

    fn open_facility(&mut self, id: &FacilityId) -> Result<&mut Facility, String> {
        let f = self
            .facilities
            .get_mut(id)
            .ok_or_else(|| format!("facility: {id} is not registered"))?;
        if let Some(at) = f.closed_at {
            return Err(format!("facility: {id} was closed at global sequence {at}"));
        }
        Ok(f)
    }

    fn grant(&mut self, e: &CertificationGranted, global_seq: u64) -> Result<(), String> {
        let f = self.open_facility(&e.facility)?;
        if f.certifications
            .iter()
            .any(|c| *c.certificate_id == *e.certificate_id)
        {
            return Err(format!(
                "certificate_id: {} is already granted to facility {}",
                e.certificate_id, e.facility
            ));
        }
        f.certifications.push(Certification {
            scheme: e.scheme.as_str().into(),
            certificate_id: e.certificate_id.as_str().into(),
            issuer: e.issuer.as_str().into(),
            document_digest: e.document_digest,
            valid_from: e.valid_from,
            valid_until: e.valid_until,
            granted_at: global_seq,
            suspended_from: None,
            withdrawn_from: None,
        });
        Ok(())
    }

    fn end_certification(
        &mut self,
        e: &CertificationEnded,
        at: UtcMicros,
        slot: impl Fn(&mut Certification) -> &mut Option<UtcMicros>,
    ) -> Result<(), String> {
        let f = self.open_facility(&e.facility)?;
        let c = f
            .certifications
            .iter_mut()
            .find(|c| *c.certificate_id == *e.certificate_id)
            .ok_or_else(|| {
                format!(
                    "certificate_id: facility {} has no certificate {}",
                    e.facility, e.certificate_id
                )
            })?;
        if c.withdrawn_from.is_some() {
            return Err(format!(
                "certificate_id: {} is already withdrawn",
                e.certificate_id
            ));
        }
        let s = slot(c);
        if s.is_some() {
            return Err(format!(
                "certificate_id: {} has already ended so",
                e.certificate_id
            ));
        }
        *s = Some(at);
        Ok(())
    }
}

/// Facilities by id (a field of [`Registry`]).
pub(super) type FacilityMap = BTreeMap<FacilityId, Facility>;
