//! Wire form of the CRMA fields and re-assay flags (`ree_core::crma`).

use std::collections::BTreeMap;

use ree_core::crma::{ElementCrma, ReassayFlag};
use ree_core::Element;

use super::ts;
use crate::v1 as pb;

/// The CRMA fields per element, in element order.
pub fn crma_pb(m: &BTreeMap<Element, ElementCrma>) -> Vec<pb::ElementCrma> {
    let names = |s: &std::collections::BTreeSet<ree_core::Country>| {
        s.iter().map(|c| c.to_string()).collect::<Vec<_>>()
    };
    m.iter()
        .map(|(e, c)| pb::ElementCrma {
            element: e.symbol().into(),
            attributed_g: c.attributed_g,
            post_consumer_g: c.post_consumer_g,
            post_consumer_share: c.post_consumer_share,
            extraction_countries: names(&c.extraction),
            recycling_countries: names(&c.recycling),
            processing_countries: names(&c.processing),
            refining_countries: names(&c.refining),
            facilities: c
                .facilities
                .iter()
                .map(|f| pb::SourceFacility {
                    lot_id: f.lot.to_string(),
                    facility_id: f.facility.to_string(),
                    name: f.name.to_string(),
                    kind: f.kind.into(),
                    country: f.country.to_string(),
                    received_at: Some(ts(f.received_at)),
                    certifications: f
                        .certifications
                        .iter()
                        .map(|c| pb::CertificationAt {
                            scheme: c.scheme.to_string(),
                            certificate_id: c.certificate_id.to_string(),
                            valid_until: Some(ts(c.valid_until)),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect()
}

/// Re-assay flags on the wire.
pub fn reassay_pb(flags: &[ReassayFlag]) -> Vec<pb::ReassayFlag> {
    flags
        .iter()
        .map(|f| pb::ReassayFlag {
            seq: f.seq,
            element: f.element.symbol().into(),
            from_ppm: f.from_ppm,
            to_ppm: f.to_ppm,
        })
        .collect()
}
