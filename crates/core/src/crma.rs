//! What the EU Critical Raw Materials Act asks of a lot's provenance, per element: the
//! post-consumer recycled share (Art. 29) and the countries of extraction, processing, refining
//! and recycling (Art. 31), with the source facilities and the certificates they held when each
//! source lot was received. Computed here once, so GetProvenance and ree-verify agree; and the
//! re-assay flags provenance shows on a source lot whose assay moved by more than a tolerance.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::country::Country;
use crate::element::{Element, PPM};
use crate::ids::{FacilityId, LotId};
use crate::provenance::Provenance;
use crate::registry::Registry;
use crate::state::{Feed, LotState, Source};
use crate::time::UtcMicros;

/// The tolerance on a re-assay's move of one element, in ppm of the lot's mass (5 percentage
/// points): provenance flags a larger one, and it is `ree-verify`'s default `max_reassay_shift_ppm`.
pub const DEFAULT_MAX_REASSAY_SHIFT_PPM: u32 = 50_000;

/// A certificate a source facility held at the source lot's receipt.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CertAt {
    pub scheme: Arc<str>,
    pub certificate_id: Arc<str>,
    pub valid_until: UtcMicros,
}

/// One source lot's registered site, as of its receipt.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SourceFacility {
    pub lot: LotId,
    pub facility: FacilityId,
    /// Empty when the registry does not know the site (a bundle withholding it).
    pub name: Arc<str>,
    pub kind: &'static str,
    pub country: Country,
    pub received_at: UtcMicros,
    /// The certificates valid at `received_at`.
    pub certifications: Vec<CertAt>,
}

/// The CRMA fields of one element.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct ElementCrma {
    pub attributed_g: u64,
    pub post_consumer_g: u64,
    /// `post_consumer_g / attributed_g` (0 when nothing is attributed).
    pub post_consumer_share: f64,
    /// Countries of the mined sources.
    pub extraction: BTreeSet<Country>,
    /// Countries where recycled sources (pre- or post-consumer) were collected or recycled.
    pub recycling: BTreeSet<Country>,
    /// Countries of the separation plants (processing and refining happen there).
    pub processing: BTreeSet<Country>,
    pub refining: BTreeSet<Country>,
    /// Upstream source lots of a source that carries this element.
    pub facilities: Vec<SourceFacility>,
}

/// One element's CRMA figures as a text line, the same in `ree provenance` and `ree-verify`:
/// the Art. 29 post-consumer share, then the Art. 31 countries (extraction, recycling,
/// processing, refining; `-` for none) and the number of source facilities.
pub fn text_line(
    element: &str,
    share: f64,
    (post_consumer_g, attributed_g): (u64, u64),
    countries: [&[String]; 4],
    facilities: usize,
) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".into()
        } else {
            v.join(" ")
        }
    };
    let [extraction, recycling, processing, refining] = countries.map(list);
    format!(
        "CRMA {element:<3}  post-consumer recycled {:.2}% ({post_consumer_g} of {attributed_g} g); extraction {extraction}; recycling {recycling}; processing {processing}; refining {refining}; {facilities} facilit{}",
        share * 100.0,
        if facilities == 1 { "y" } else { "ies" }
    )
}

/// A re-assay that moved one element by more than the tolerance.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ReassayFlag {
    /// The lot record that recorded the re-assay.
    pub seq: u64,
    pub element: Element,
    pub from_ppm: u32,
    pub to_ppm: u32,
}

/// Grams of each element per source: the attribution where it is by element, otherwise (a
/// source lot, or a campaign on mass basis) its own assay applied to the received mass.
fn element_sources(p: &Provenance, subject: &LotState) -> BTreeMap<Element, BTreeMap<Source, u64>> {
    if !p.by_element.is_empty() {
        return p.by_element.clone();
    }
    let (Some(s), Some(c)) = (subject.source(), subject.composition()) else {
        return BTreeMap::new();
    };
    c.entries()
        .iter()
        .map(|(e, ppm)| {
            let g = (subject.received_g as u128 * *ppm as u128 / PPM as u128) as u64;
            (*e, BTreeMap::from([(s, g)]))
        })
        .filter(|(_, m)| m.values().any(|g| *g > 0))
        .collect()
}

/// A source lot's site with the certificates valid at its receipt.
pub fn source_facility(l: &LotState, registry: Option<&Registry>) -> Option<SourceFacility> {
    let src = l.source_lot()?;
    let country = l.source()?.country;
    let site = registry.and_then(|r| r.facility(&src.facility));
    let at = l.created_at;
    Some(SourceFacility {
        lot: l.id,
        facility: src.facility,
        name: site.map_or_else(|| Arc::from(""), |f| f.name.clone()),
        kind: site.map_or("", |f| f.kind.name()),
        country: site.map_or(country, |f| f.country),
        received_at: at,
        certifications: site
            .map(|f| {
                f.valid_certifications(at)
                    .map(|c| CertAt {
                        scheme: c.scheme.clone(),
                        certificate_id: c.certificate_id.clone(),
                        valid_until: c.valid_until,
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// The CRMA fields per element of `subject` (whose provenance is `p`), given the upstream lots
/// (any kind; only ore and recycled ones count) and the registry.
pub fn crma(
    p: &Provenance,
    subject: &LotState,
    upstream: &[&LotState],
    registry: Option<&Registry>,
) -> BTreeMap<Element, ElementCrma> {
    let processing: BTreeSet<Country> = p.facilities.iter().map(|(_, c)| *c).collect();
    let mut sources: Vec<&LotState> = upstream.to_vec();
    if subject.source().is_some() {
        sources.push(subject);
    }
    let facilities: Vec<(Source, SourceFacility)> = sources
        .iter()
        .filter_map(|l| Some((l.source()?, source_facility(l, registry)?)))
        .collect();
    element_sources(p, subject)
        .into_iter()
        .map(|(e, by)| {
            let attributed_g: u64 = by.values().sum();
            let post_consumer_g: u64 = by
                .iter()
                .filter(|(s, _)| s.feed == Feed::RecycledPostConsumer)
                .map(|(_, g)| *g)
                .sum();
            let present = |f: fn(Feed) -> bool| {
                by.iter()
                    .filter(|(s, g)| **g > 0 && f(s.feed))
                    .map(|(s, _)| s.country)
                    .collect()
            };
            let c = ElementCrma {
                attributed_g,
                post_consumer_g,
                post_consumer_share: if attributed_g == 0 {
                    0.0
                } else {
                    post_consumer_g as f64 / attributed_g as f64
                },
                extraction: present(|f| f == Feed::Mined),
                recycling: present(|f| f != Feed::Mined),
                processing: processing.clone(),
                refining: processing.clone(),
                facilities: facilities
                    .iter()
                    .filter(|(s, _)| by.get(s).is_some_and(|g| *g > 0))
                    .map(|(_, f)| f.clone())
                    .collect(),
            };
            (e, c)
        })
        .collect()
}

/// The re-assays of a source lot recorded up to `upto` that moved an element by more than
/// `tolerance_ppm`, one flag per element so moved (against the previous non-empty assay).
pub fn reassay_flags(l: &LotState, upto: u64, tolerance_ppm: u32) -> Vec<ReassayFlag> {
    let Some(src) = l.source_lot() else {
        return vec![];
    };
    let mut out = vec![];
    let mut prev: Option<&crate::event::Composition> = None;
    for a in src.assays.iter().filter(|a| a.seq <= upto) {
        if a.content.is_empty() {
            continue;
        }
        if let Some(p) = prev {
            for e in Element::ALL {
                let (from_ppm, to_ppm) = (p.ppm(*e), a.content.ppm(*e));
                if from_ppm.abs_diff(to_ppm) > tolerance_ppm {
                    out.push(ReassayFlag {
                        seq: a.seq,
                        element: *e,
                        from_ppm,
                        to_ppm,
                    });
                }
            }
        }
        prev = Some(&a.content);
    }
    out
}

#[cfg(test)]
#[path = "crma_tests.rs"]
mod tests;
