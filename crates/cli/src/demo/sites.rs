//! The demo's registered sites: a mine per supplier, a recycling plant per recycler, the Lacq
//! separation plant and an ISO/IEC 17025 laboratory, with their certifications. One mine's IRMA
//! certificate expires mid-year and another's RMAP certificate is suspended mid-year, so a policy
//! requiring certified sites fails for some lots and not others.

use std::collections::BTreeMap;

use ree_core::event::{
    CertificationEnded, CertificationGranted, CertificationSuspended, EventKind, FacilityKind,
    FacilityRegistered,
};
use ree_core::{Country, FacilityId, Hash32, ParticipantId, UtcMicros};

use super::data::{cc, DAY_US, PLANT, YEAR_START};

/// The demo laboratory's name (a participant with role laboratory).
pub const LAB: &str = "Lacq assay laboratory";

/// A demo site's id: the same for the same operator and country in every run.
pub fn site_id(operator: &str, country: Country) -> FacilityId {
    let d = blake3::derive_key(
        "ree-ledger demo facility v1",
        format!("{operator}/{country}").as_bytes(),
    );
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    FacilityId(uuid::Builder::from_random_bytes(b).into_uuid())
}

/// The laboratory facility.
pub fn lab_site() -> FacilityId {
    site_id(LAB, cc("FR"))
}

/// Mid-year: when one IRMA certificate expires and one RMAP certificate is suspended.
pub const MID_YEAR: UtcMicros = UtcMicros(YEAR_START.0 + 182 * DAY_US);

fn cert(f: FacilityId, scheme: &str, id: String, until: UtcMicros) -> EventKind {
    EventKind::CertificationGranted(CertificationGranted {
        facility: f,
        scheme: scheme.into(),
        certificate_id: id.clone(),
        issuer: format!("{scheme} certification body"),
        document_digest: Hash32(blake3::derive_key(
            "ree-ledger demo certificate v1",
            id.as_bytes(),
        )),
        valid_from: UtcMicros(YEAR_START.0 - 365 * DAY_US),
        valid_until: until,
    })
}

/// The registry events (in order) that register every site the year names and certify it;
/// `operator` finds a participant by name. Suspensions are separate ([`suspensions`]): they
/// happen mid-year.
pub fn registrations(
    sites: &BTreeMap<FacilityId, (String, FacilityKind, Country, String)>,
    operator: impl Fn(&str) -> Option<ParticipantId>,
) -> Vec<EventKind> {
    let two_years = UtcMicros(YEAR_START.0 + 2 * 365 * DAY_US);
    let mut out = vec![];
    let mut mines = 0;
    for (id, (name, kind, country, op)) in sites {
        let Some(operator) = operator(op) else {
            continue;
        };
        out.push(EventKind::FacilityRegistered(FacilityRegistered {
            facility: *id,
            name: name.clone(),
            kind: *kind,
            country: *country,
            location: None,
            operator,
        }));
        let n = out.len();
        match kind {
            FacilityKind::Mine => {
                mines += 1;
                // The first mine's IRMA certificate runs out mid-year.
                let until = if mines == 1 { MID_YEAR } else { two_years };
                out.push(cert(*id, "IRMA", format!("IRMA-{n}"), until));
                out.push(cert(*id, "RMAP", format!("RMAP-{n}"), two_years));
            }
            FacilityKind::Collection | FacilityKind::Recycling => {
                out.push(cert(*id, "RMAP", format!("RMAP-{n}"), two_years));
            }
            FacilityKind::Separation => {
                out.push(cert(*id, "ISO 14001", format!("ISO14001-{n}"), two_years));
            }
            FacilityKind::Laboratory => {
                out.push(cert(*id, "ISO/IEC 17025", format!("17025-{n}"), two_years));
            }
        }
    }
    out
}

/// The second mine's RMAP certificate is suspended at mid-year (event at [`MID_YEAR`]).
pub fn suspensions(events: &[EventKind]) -> Vec<EventKind> {
    events
        .iter()
        .filter_map(|k| match k {
            EventKind::CertificationGranted(c) if c.scheme == "RMAP" => Some(c),
            _ => None,
        })
        .nth(1)
        .map(|c| {
            EventKind::CertificationSuspended(CertificationSuspended(CertificationEnded {
                facility: c.facility,
                certificate_id: c.certificate_id.clone(),
                reason: "audit findings pending corrective action".into(),
            }))
        })
        .into_iter()
        .collect()
}

/// Every site the year's events name, with (name, kind, country, operator name); plus the
/// plant's and the laboratory's.
pub fn sites_of<'a>(
    kinds: impl Iterator<Item = &'a EventKind>,
) -> BTreeMap<FacilityId, (String, FacilityKind, Country, String)> {
    let mut m = BTreeMap::new();
    for k in kinds {
        match k {
            EventKind::OreReceipt(o) => {
                m.entry(o.facility).or_insert_with(|| {
                    (
                        o.mine_site.clone(),
                        FacilityKind::Mine,
                        o.country,
                        o.supplier.clone(),
                    )
                });
            }
            EventKind::MagnetIntake(i) => {
                m.entry(i.facility).or_insert_with(|| {
                    let name = format!("{} recycling plant", i.recycler);
                    (name, FacilityKind::Recycling, i.country, i.recycler.clone())
                });
            }
            _ => {}
        }
    }
    m.insert(
        site_id(PLANT, cc("FR")),
        (
            PLANT.into(),
            FacilityKind::Separation,
            cc("FR"),
            PLANT.into(),
        ),
    );
    m.insert(
        lab_site(),
        (LAB.into(), FacilityKind::Laboratory, cc("FR"), LAB.into()),
    );
    m
}
