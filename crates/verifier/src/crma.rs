//! The report's `crma` object: the EU CRMA fields per element, computed by `ree_core::crma`
//! exactly as GetProvenance computes them, from the bundle's lots and registry.

use std::collections::{BTreeMap, BTreeSet};

use ree_core::crma::{crma, reassay_flags, ElementCrma, DEFAULT_MAX_REASSAY_SHIFT_PPM};
use ree_core::provenance::Provenance;
use ree_core::state::{registry, LotView};
use ree_core::{Country, LedgerState, LotId, LotState};
use serde::Serialize;

/// A certificate valid at a source lot's receipt.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CertLine {
    pub scheme: String,
    pub certificate_id: String,
    pub valid_until: String,
}

/// A source lot's registered site.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FacilityLine {
    pub lot: String,
    pub facility: String,
    pub name: String,
    pub kind: String,
    pub country: String,
    pub received_at: String,
    pub certifications: Vec<CertLine>,
}

/// Countries per CRMA Art. 31 stage.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Countries {
    pub extraction: Vec<String>,
    pub recycling: Vec<String>,
    pub processing: Vec<String>,
    pub refining: Vec<String>,
}

/// The CRMA fields of one element.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CrmaLine {
    pub attributed_g: u64,
    pub post_consumer_g: u64,
    pub post_consumer_recycled_share: f64,
    pub countries: Countries,
    pub facilities: Vec<FacilityLine>,
}

fn names(s: &BTreeSet<Country>) -> Vec<String> {
    s.iter().map(|c| c.to_string()).collect()
}

fn line(c: &ElementCrma) -> CrmaLine {
    CrmaLine {
        attributed_g: c.attributed_g,
        post_consumer_g: c.post_consumer_g,
        post_consumer_recycled_share: c.post_consumer_share,
        countries: Countries {
            extraction: names(&c.extraction),
            recycling: names(&c.recycling),
            processing: names(&c.processing),
            refining: names(&c.refining),
        },
        facilities: c
            .facilities
            .iter()
            .map(|f| FacilityLine {
                lot: f.lot.to_string(),
                facility: f.facility.to_string(),
                name: f.name.to_string(),
                kind: f.kind.into(),
                country: f.country.to_string(),
                received_at: f.received_at.to_string(),
                certifications: f
                    .certifications
                    .iter()
                    .map(|c| CertLine {
                        scheme: c.scheme.to_string(),
                        certificate_id: c.certificate_id.to_string(),
                        valid_until: c.valid_until.to_string(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The report's `crma`, keyed by element symbol.
pub(crate) fn report_crma(
    state: &LedgerState,
    prov: &Provenance,
    subject: &LotState,
    lots: &BTreeSet<LotId>,
) -> BTreeMap<String, CrmaLine> {
    let upstream: Vec<&LotState> = lots
        .iter()
        .filter(|id| **id != subject.id)
        .filter_map(|id| state.lot(id))
        .filter(|l| l.source().is_some())
        .collect();
    crma(prov, subject, &upstream, registry(state))
        .iter()
        .map(|(e, c)| (e.symbol().to_string(), line(c)))
        .collect()
}

/// A re-assay past the default tolerance.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ReassayLine {
    pub seq: u64,
    pub element: String,
    pub from_ppm: u32,
    pub to_ppm: u32,
}

/// A bundled lot's re-assays past the default tolerance (the bundle holds the lot up to the
/// head the subject commits to, so all of them count).
pub(crate) fn reassay_lines(l: &LotState) -> Vec<ReassayLine> {
    reassay_flags(l, u64::MAX, DEFAULT_MAX_REASSAY_SHIFT_PPM)
        .into_iter()
        .map(|f| ReassayLine {
            seq: f.seq,
            element: f.element.symbol().into(),
            from_ppm: f.from_ppm,
            to_ppm: f.to_ppm,
        })
        .collect()
}
