use super::*;
use crate::element::Oxide;
use crate::event::{
    AssayRecorded, CampaignOpened, CertificationGranted, Composition, EventBody, EventKind,
    InputCharged, MagnetCategory, MagnetIntake, OreReceipt, OutputProduced, ScrapClass,
};
use crate::ids::{EventId, Hash32};
use crate::state::{registry, LedgerState, LotView, Staged};
use crate::testkit::{self, Member, Team};

const NOW: UtcMicros = UtcMicros(1_760_000_000_000_000);
const UNTIL: UtcMicros = UtcMicros(1_800_000_000_000_000);

fn cc(c: &str) -> Country {
    Country::parse(c).expect("country")
}

fn submit(state: &mut LedgerState, m: &Member, kind: EventKind) {
    let mut b = EventBody {
        event_id: EventId::new_v7(),
        occurred_at: NOW,
        expected_head: None,
        kind,
    };
    b.commit_to(|l| state.lot(l).map(|s| s.head));
    let bytes = b.encode().expect("encodes");
    let mut s = Staged::new(state, state.next_global_seq());
    s.append(&bytes, &b, Some(m.sign(&bytes)), NOW)
        .expect("scenario event is accepted");
    let c = s.into_changes();
    state.commit(c);
}

fn team_ledger(t: &Team) -> LedgerState {
    let mut st = LedgerState::new();
    for (bytes, sig) in t.registry_events(NOW) {
        let body = EventBody::decode(&bytes).expect("testkit body");
        let mut s = Staged::new(&st, st.next_global_seq());
        s.append(&bytes, &body, Some(sig), NOW).expect("registry");
        let c = s.into_changes();
        st.commit(c);
    }
    st
}

fn comp(v: Vec<(Element, u32)>) -> Composition {
    Composition::new(v).expect("assay")
}

struct Scenario {
    st: LedgerState,
    ore: LotId,
    scrap: LotId,
    ox: LotId,
}

/// 10 t of AU ore from an IRMA-certified mine (Nd 100,000 ppm, Pr 30,000 ppm) and 1 t of
/// post-consumer DE scrap (Nd 250,000 ppm), wholly charged into one FR campaign that makes
/// 1 t of Nd2O3.
fn scenario() -> Scenario {
    let t = Team::new(3);
    let mut st = team_ledger(&t);
    let (au, de, fr) = (cc("AU"), cc("DE"), cc("FR"));
    submit(
        &mut st,
        &t.admin,
        EventKind::CertificationGranted(CertificationGranted {
            facility: testkit::mine(au),
            scheme: "IRMA".into(),
            certificate_id: "IRMA-75".into(),
            issuer: "IRMA".into(),
            document_digest: Hash32([7; 32]),
            valid_from: UtcMicros(NOW.0 - 1),
            valid_until: UNTIL,
        }),
    );
    let (ore, scrap, camp, ox) = (
        LotId::new_v7(),
        LotId::new_v7(),
        LotId::new_v7(),
        LotId::new_v7(),
    );
    submit(
        &mut st,
        &t.supplier,
        EventKind::OreReceipt(OreReceipt {
            facility: testkit::mine(au),
            lot: ore,
            supplier: "supplier".into(),
            mine_site: "mine".into(),
            country: au,
            mass_g: 10_000_000,
            reo_grade_ppm: 500_000,
            assay: comp(vec![(Element::Pr, 30_000), (Element::Nd, 100_000)]),
            documents: vec![],
        }),
    );
    submit(
        &mut st,
        &t.recycler,
        EventKind::MagnetIntake(MagnetIntake {
            lot: scrap,
            facility: testkit::recycling_site(de),
            recycler: "recycler".into(),
            category: MagnetCategory::EvMotor,
            scrap: ScrapClass::PostConsumer,
            country: de,
            mass_g: 1_000_000,
            content: comp(vec![(Element::Nd, 250_000)]),
            documents: vec![],
        }),
    );
    let mut kinds = vec![EventKind::CampaignOpened(CampaignOpened {
        facility_id: testkit::separation_site(fr),
        campaign: camp,
        facility: "Lacq".into(),
        country: fr,
    })];
    for (input, mass_g) in [(ore, 10_000_000), (scrap, 1_000_000)] {
        kinds.push(EventKind::InputCharged(InputCharged {
            campaign: camp,
            input,
            mass_g,
            input_head: Default::default(),
        }));
    }
    kinds.push(EventKind::OutputProduced(OutputProduced {
        campaign: camp,
        output: ox,
        oxide: Oxide::Single(Element::Nd),
        mass_g: 1_000_000,
        purity_ppm: 1_000_000,
    }));
    for k in kinds {
        submit(&mut st, &t.plant, k);
    }
    Scenario { st, ore, scrap, ox }
}

#[test]
fn crma_of_an_oxide_gives_post_consumer_share_countries_and_certified_sites() {
    let s = scenario();
    let subject = s.st.lot(&s.ox).expect("oxide");
    let p = Provenance::of(subject);
    let up: Vec<&LotState> = [s.ore, s.scrap]
        .iter()
        .map(|l| s.st.lot(l).expect("source"))
        .collect();
    let c = crma(&p, subject, &up, registry(&s.st));
    assert_eq!(c.keys().copied().collect::<Vec<_>>(), vec![Element::Nd]);
    let nd = &c[&Element::Nd];
    // 1 t of Nd2O3 at 100% purity holds 857,356 g of Nd, split by the grams charged,
    // 1,000,000 (ore) : 250,000 (scrap) = 4 : 1; the scrap's fifth rounds down.
    assert_eq!(nd.attributed_g, 857_356);
    assert_eq!(nd.post_consumer_g, 171_471);
    assert_eq!(nd.post_consumer_share, 171_471.0 / 857_356.0);
    assert_eq!(nd.extraction, BTreeSet::from([cc("AU")]));
    assert_eq!(nd.recycling, BTreeSet::from([cc("DE")]));
    assert_eq!(nd.processing, BTreeSet::from([cc("FR")]));
    assert_eq!(nd.refining, BTreeSet::from([cc("FR")]));
    assert_eq!(nd.facilities.len(), 2);
    let mine = nd.facilities.iter().find(|f| f.lot == s.ore).expect("mine");
    assert_eq!(mine.facility, testkit::mine(cc("AU")));
    assert_eq!(&*mine.name, "mine AU");
    assert_eq!(mine.kind, "mine");
    assert_eq!(
        mine.certifications,
        vec![CertAt {
            scheme: "IRMA".into(),
            certificate_id: "IRMA-75".into(),
            valid_until: UNTIL,
        }]
    );
    let rec = nd
        .facilities
        .iter()
        .find(|f| f.lot == s.scrap)
        .expect("rec");
    assert_eq!(rec.country, cc("DE"));
    assert!(
        rec.certifications.is_empty(),
        "the recycling site holds none"
    );
}

#[test]
fn crma_of_a_source_lot_uses_its_own_assay() {
    let s = scenario();
    let ore = s.st.lot(&s.ore).expect("ore");
    let c = crma(&Provenance::of(ore), ore, &[], registry(&s.st));
    assert_eq!(c[&Element::Nd].attributed_g, 1_000_000);
    assert_eq!(c[&Element::Pr].attributed_g, 300_000);
    assert_eq!(c[&Element::Nd].post_consumer_share, 0.0);
    assert_eq!(c[&Element::Nd].extraction, BTreeSet::from([cc("AU")]));
    assert!(c[&Element::Nd].processing.is_empty());
    assert_eq!(c[&Element::Nd].facilities[0].certifications.len(), 1);
}

#[test]
fn a_reassay_beyond_the_tolerance_is_flagged_with_both_values() {
    let t = Team::new(4);
    let mut st = team_ledger(&t);
    let au = cc("AU");
    let ore = LotId::new_v7();
    submit(
        &mut st,
        &t.supplier,
        EventKind::OreReceipt(OreReceipt {
            facility: testkit::mine(au),
            lot: ore,
            supplier: "supplier".into(),
            mine_site: "mine".into(),
            country: au,
            mass_g: 1_000_000,
            reo_grade_ppm: 500_000,
            assay: comp(vec![(Element::Pr, 30_000), (Element::Nd, 100_000)]),
            documents: vec![],
        }),
    );
    let reassay = |nd: u32, pr: u32| {
        EventKind::AssayRecorded(AssayRecorded {
            lot: ore,
            facility: None,
            lab: "self".into(),
            content: comp(vec![(Element::Pr, pr), (Element::Nd, nd)]),
            certificate: Hash32([1; 32]),
        })
    };
    // Within tolerance (exactly 50,000 ppm), then far beyond it on Nd only.
    submit(&mut st, &t.supplier, reassay(150_000, 30_000));
    submit(&mut st, &t.supplier, reassay(400_000, 31_000));
    let l = st.lot(&ore).expect("ore");
    let flags = reassay_flags(l, u64::MAX, DEFAULT_MAX_REASSAY_SHIFT_PPM);
    assert_eq!(
        flags,
        vec![ReassayFlag {
            seq: 2,
            element: Element::Nd,
            from_ppm: 150_000,
            to_ppm: 400_000
        }]
    );
    assert!(
        reassay_flags(l, 1, DEFAULT_MAX_REASSAY_SHIFT_PPM).is_empty(),
        "up to seq 1"
    );
    assert_eq!(
        reassay_flags(l, u64::MAX, 10_000).len(),
        2,
        "a tighter tolerance"
    );
}
