//! Attribution of an oxide lot to the (country, feed) sources its campaign was charged from,
//! exact to the gram.

use std::collections::BTreeMap;

use super::lot::{Attribution, Basis, CampaignState, LotState, Source, SourceTotals};
use crate::element::{Element, Oxide, N_ELEMENTS};
use crate::error::RuleError;

/// Splits `total` over `weights` in proportion, exactly (largest remainder): the parts sum to
/// `total`, so attribution never creates or loses a gram.
pub fn split_proportionally(total: u64, weights: &[u64]) -> Vec<u64> {
    let sum: u128 = weights.iter().map(|w| *w as u128).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut parts: Vec<u64> = Vec::with_capacity(weights.len());
    let mut rems: Vec<(u128, usize)> = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let num = total as u128 * *w as u128;
        parts.push((num / sum) as u64);
        rems.push((num % sum, i));
    }
    let mut left = total - parts.iter().sum::<u64>();
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in rems {
        if left == 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    parts
}

/// Attribution of an output: each of its elements in proportion to what the assays say the
/// campaign had received of that element before production. Unassayed grams weigh nothing (they
/// are never "available"), but their source is still recorded as physically present.
pub(super) fn attribute(
    camp: &CampaignState,
    camp_lot: &LotState,
    oxide: &Oxide,
    mass_g: u64,
    purity_ppm: u32,
) -> Result<Attribution, RuleError> {
    let sources: Vec<(&Source, &SourceTotals)> = camp.sources.iter().collect();
    let mut by_source: BTreeMap<Source, [u64; N_ELEMENTS]> = BTreeMap::new();
    let mut element_g = [0u64; N_ELEMENTS];
    for (e, g) in oxide.element_grams(mass_g, purity_ppm) {
        element_g[e.index()] = g;
        if g == 0 {
            continue;
        }
        let weights: Vec<u64> = sources
            .iter()
            .map(|(_, t)| t.element_g[e.index()])
            .collect();
        if weights.iter().all(|w| *w == 0) {
            return Err(RuleError::violation(
                camp_lot.id,
                format!("no {} was charged before this output", e.symbol()),
            ));
        }
        for ((s, _), part) in sources.iter().zip(split_proportionally(g, &weights)) {
            if part > 0 {
                by_source.entry(**s).or_insert([0; N_ELEMENTS])[e.index()] += part;
            }
        }
    }
    let present = sources
        .iter()
        .filter(|(_, t)| t.gross_g > 0)
        .map(|(s, _)| **s)
        .collect();
    Ok(Attribution {
        basis: Basis::Element,
        campaign: camp_lot.id,
        campaign_seq: camp_lot.head_seq(),
        facility: camp.facility.clone(),
        facility_country: camp.country,
        element_g,
        by_source,
        present,
    })
}

/// Elements present in an attribution array, for reports.
pub fn elements_of(a: &[u64; N_ELEMENTS]) -> impl Iterator<Item = (Element, u64)> + '_ {
    Element::ALL
        .iter()
        .map(|e| (*e, a[e.index()]))
        .filter(|(_, g)| *g > 0)
}
