//! Provenance of a lot: attribution of its rare-earth content to sources and facilities, and the
//! ISO 22095 chain-of-custody claim that attribution supports.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::country::Country;
use crate::element::{Element, N_ELEMENTS};
use crate::ids::{Hash32, LotId};
use crate::state::{elements_of, Basis, Feed, LotDetail, LotKind, LotState, Source};

/// The chain-of-custody model a claim can use (ISO 22095:2020 terms).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Claim {
    /// No lot from a denied country was physically present upstream, and no denied country
    /// processed the material.
    Segregated,
    /// Inputs with and without the characteristic were mixed; only shares can be claimed.
    MassBalance,
}

impl Claim {
    /// The name used in JSON and policies.
    pub fn name(self) -> &'static str {
        match self {
            Claim::Segregated => "segregated",
            Claim::MassBalance => "mass_balance",
        }
    }
}

/// Attribution of a lot, in grams (integer); shares are derived for display only.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Provenance {
    pub lot: LotId,
    pub kind: LotKind,
    pub head: Hash32,
    pub head_seq: u64,
    pub basis: Basis,
    /// Grams per source, summed over elements (or gross grams where the basis is mass).
    pub by_source: BTreeMap<Source, u64>,
    /// Grams of each element per source, where the basis is element.
    pub by_element: BTreeMap<Element, BTreeMap<Source, u64>>,
    /// Separation facilities that processed the material, with their countries.
    pub facilities: Vec<(Arc<str>, Country)>,
    /// Sources physically present upstream (charged before production, assayed or not, carrying
    /// grams of the lot's elements or not): what the claim is judged on.
    pub present: BTreeSet<Source>,
}

/// Which sources a claim holds against: denied countries of origin (extraction or collection),
/// of processing, and whether recycled feed from a denied origin is let through.
#[derive(Clone, Copy, Debug)]
pub struct ClaimRule<'a> {
    pub denied_origin: &'a [Country],
    pub denied_processing: &'a [Country],
    /// Opt-in: recycled feed (pre- or post-consumer) collected in a denied country is allowed.
    pub allow_denied_recycled: bool,
}

impl ClaimRule<'_> {
    /// Whether a source breaches the rule.
    pub fn denies(&self, s: &Source) -> bool {
        self.denied_origin.contains(&s.country)
            && !(self.allow_denied_recycled && s.feed != Feed::Mined)
    }
}

/// Recycled content shares (fractions of the attributed total).
#[derive(Clone, Copy, PartialEq, Debug, Default)]
pub struct RecycledShare {
    pub total: f64,
    pub pre_consumer: f64,
    pub post_consumer: f64,
}

fn per_element(
    by_source: &BTreeMap<Source, [u64; N_ELEMENTS]>,
) -> BTreeMap<Element, BTreeMap<Source, u64>> {
    let mut out: BTreeMap<Element, BTreeMap<Source, u64>> = BTreeMap::new();
    for (s, arr) in by_source {
        for (e, g) in elements_of(arr) {
            *out.entry(e).or_default().entry(*s).or_default() += g;
        }
    }
    out
}

impl Provenance {
    /// Attribution as the lot's state records it.
    pub fn of(st: &LotState) -> Provenance {
        let mut p = Provenance {
            lot: st.id,
            kind: st.kind(),
            head: st.head,
            head_seq: st.head_seq(),
            basis: Basis::Mass,
            by_source: BTreeMap::new(),
            by_element: BTreeMap::new(),
            facilities: Vec::new(),
            present: BTreeSet::new(),
        };
        match &st.detail {
            // A source lot is its own origin, for all it received: consuming it into campaigns
            // moves its mass downstream but does not change where it came from.
            LotDetail::Ore { .. } | LotDetail::Recycled { .. } => {
                if let Some(s) = st.source() {
                    p.by_source.insert(s, st.received_g);
                    p.present.insert(s);
                }
            }
            LotDetail::Campaign(c) => {
                p.facilities.push((c.facility.clone(), c.country));
                p.present = c
                    .sources
                    .iter()
                    .filter(|(_, t)| t.gross_g > 0)
                    .map(|(s, _)| *s)
                    .collect();
                if c.unassayed_g == 0 && c.charges > 0 {
                    p.basis = Basis::Element;
                    let arrays: BTreeMap<Source, [u64; N_ELEMENTS]> =
                        c.sources.iter().map(|(s, t)| (*s, t.element_g)).collect();
                    p.by_element = per_element(&arrays);
                    p.by_source = arrays.iter().map(|(s, a)| (*s, a.iter().sum())).collect();
                } else {
                    p.by_source = c.sources.iter().map(|(s, t)| (*s, t.gross_g)).collect();
                }
            }
            LotDetail::Oxide { attribution: a, .. } => {
                p.basis = a.basis;
                p.facilities.push((a.facility.clone(), a.facility_country));
                p.present = a.present.clone();
                p.by_element = per_element(&a.by_source);
                p.by_source = a
                    .by_source
                    .iter()
                    .map(|(s, arr)| (*s, arr.iter().sum()))
                    .collect();
            }
            LotDetail::Registry(_) => {}
        }
        p.by_source.retain(|_, g| *g > 0);
        p
    }

    /// Grams attributed in all.
    pub fn total_g(&self) -> u64 {
        self.by_source.values().sum()
    }

    /// Grams per country (extraction for mined feed, collection for recycled feed).
    pub fn origin_grams(&self) -> BTreeMap<Country, u64> {
        let mut m = BTreeMap::new();
        for (s, g) in &self.by_source {
            *m.entry(s.country).or_insert(0) += g;
        }
        m
    }

    /// Fractions per country; they sum to 1 (up to float rounding) when anything is attributed.
    pub fn origin_shares(&self) -> BTreeMap<Country, f64> {
        shares(&self.origin_grams())
    }

    /// Per element, fractions per country.
    pub fn element_origin_shares(&self) -> BTreeMap<Element, BTreeMap<Country, f64>> {
        self.by_element
            .iter()
            .map(|(e, m)| {
                let mut g = BTreeMap::new();
                for (s, v) in m {
                    *g.entry(s.country).or_insert(0) += v;
                }
                (*e, shares(&g))
            })
            .collect()
    }

    /// Recycled shares, split pre/post-consumer.
    pub fn recycled_share(&self) -> RecycledShare {
        let total = self.total_g();
        if total == 0 {
            return RecycledShare::default();
        }
        let of = |f: Feed| {
            self.by_source
                .iter()
                .filter(|(s, _)| s.feed == f)
                .map(|(_, g)| *g)
                .sum::<u64>() as f64
                / total as f64
        };
        let pre = of(Feed::RecycledPreConsumer);
        let post = of(Feed::RecycledPostConsumer);
        RecycledShare {
            total: pre + post,
            pre_consumer: pre,
            post_consumer: post,
        }
    }

    /// The claim for "no denied origin or processing country", every feed denied alike.
    pub fn claim(&self, denied_origin: &[Country], denied_processing: &[Country]) -> Claim {
        self.claim_by(&ClaimRule {
            denied_origin,
            denied_processing,
            allow_denied_recycled: false,
        })
    }

    /// The claim under `rule`. It rests on physical presence, not on attributed grams: a lot
    /// from a denied country charged before the output makes it mass balance, even if its assay
    /// gives it no gram of the output's elements.
    pub fn claim_by(&self, rule: &ClaimRule) -> Claim {
        let origin_ok = self
            .present
            .iter()
            .chain(self.by_source.keys())
            .all(|s| !rule.denies(s));
        let processing_ok = self
            .facilities
            .iter()
            .all(|(_, c)| !rule.denied_processing.contains(c));
        if origin_ok && processing_ok {
            Claim::Segregated
        } else {
            Claim::MassBalance
        }
    }
}

fn shares<K: Ord + Copy>(m: &BTreeMap<K, u64>) -> BTreeMap<K, f64> {
    let total: u64 = m.values().sum();
    if total == 0 {
        return BTreeMap::new();
    }
    m.iter()
        .map(|(k, g)| (*k, *g as f64 / total as f64))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::element::Oxide;
    use crate::event::{
        CampaignOpened, Composition, EventBody, EventKind, InputCharged, OreReceipt, OutputProduced,
    };
    use crate::ids::EventId;
    use crate::state::{LedgerState, LotView, Staged};
    use crate::testkit::{Member, Team};
    use crate::time::UtcMicros;

    const NOW: UtcMicros = UtcMicros(1_760_000_000_000_000);

    fn submit(state: &mut LedgerState, m: &Member, kind: EventKind) {
        let mut b = EventBody {
            event_id: EventId::new_v7(),
            occurred_at: NOW,
            expected_head: None,
            kind,
        };
        b.commit_to(|l| state.lot(l).map(|s| s.head));
        let bytes = b.encode().unwrap();
        let mut s = Staged::new(state, state.next_global_seq());
        s.append(&bytes, &b, Some(m.sign(&bytes)), NOW)
            .expect("scenario event is accepted");
        let c = s.into_changes();
        state.commit(c);
    }

    /// A CN ore lot of 10 t, wholly charged into a campaign that produces one NdPr oxide lot.
    fn consumed_cn_lot() -> (LedgerState, LotId, LotId) {
        let t = Team::new(1);
        let mut st = LedgerState::new();
        for (bytes, sig) in t.registry_events(NOW) {
            let body = EventBody::decode(&bytes).expect("testkit body");
            let mut s = Staged::new(&st, st.next_global_seq());
            s.append(&bytes, &body, Some(sig), NOW).expect("registry");
            let c = s.into_changes();
            st.commit(c);
        }
        let (ore, camp, ox) = (LotId::new_v7(), LotId::new_v7(), LotId::new_v7());
        let cn = Country::parse("CN").expect("CN");
        submit(
            &mut st,
            &t.supplier,
            EventKind::OreReceipt(OreReceipt {
                facility: crate::testkit::mine(cn),
                lot: ore,
                supplier: "trader".into(),
                mine_site: "Bayan Obo".into(),
                country: cn,
                mass_g: 10_000_000,
                reo_grade_ppm: 500_000,
                assay: Composition::new(vec![(Element::Pr, 30_000), (Element::Nd, 100_000)])
                    .expect("assay"),
                documents: vec![],
            }),
        );
        let kinds = [
            EventKind::CampaignOpened(CampaignOpened {
                facility_id: crate::testkit::separation_site(Country::parse("FR").expect("FR")),
                campaign: camp,
                facility: "Lacq".into(),
                country: Country::parse("FR").expect("FR"),
            }),
            EventKind::InputCharged(InputCharged {
                campaign: camp,
                input: ore,
                mass_g: 10_000_000,
                input_head: Default::default(),
            }),
            EventKind::OutputProduced(OutputProduced {
                campaign: camp,
                output: ox,
                oxide: Oxide::NdPr { nd2o3_ppm: 750_000 },
                mass_g: 500_000,
                purity_ppm: 990_000,
            }),
        ];
        for k in kinds {
            submit(&mut st, &t.plant, k);
        }
        (st, ore, ox)
    }

    #[test]
    fn a_consumed_source_lot_keeps_its_own_origin_and_received_mass() {
        let (st, ore, ox) = consumed_cn_lot();
        let lot = st.lot(&ore).expect("ore lot");
        assert_eq!(lot.balance_g, 0, "wholly charged");
        let p = Provenance::of(lot);
        let cn = Country::parse("CN").expect("CN");
        assert_eq!(
            p.total_g(),
            10_000_000,
            "the received mass, not the balance"
        );
        assert_eq!(p.origin_shares(), BTreeMap::from([(cn, 1.0)]));
        assert_eq!(
            p.by_source.keys().copied().collect::<Vec<_>>(),
            vec![Source {
                country: cn,
                feed: Feed::Mined
            }]
        );
        // Judged as an output made of it is: Chinese origin denied, so only mass balance.
        assert_eq!(p.claim(&[cn], &[cn]), Claim::MassBalance);
        let out = Provenance::of(st.lot(&ox).expect("oxide"));
        assert_eq!(out.claim(&[cn], &[cn]), Claim::MassBalance);
        assert_eq!(p.claim(&[], &[]), Claim::Segregated, "nothing denied");
    }
}
