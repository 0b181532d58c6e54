//! The engine over the in-memory store: rules reject without a trace, retries are idempotent,
//! atomic batches are all-or-nothing, and a property test over random operation sequences.

use std::collections::HashMap;
use std::sync::Arc;

use proptest::prelude::*;
use ree_core::element::{Element, Oxide, PPM};
use ree_core::event::*;
use ree_core::state::{LotKind, ELEMENT_BALANCE_TOLERANCE_PPM};
use ree_core::testkit::Team;
use ree_core::{Country, EventBody, EventId, Hash32, LotId, UtcMicros};
use ree_engine::{replay_store, Engine, Submission, SubmitError};
use ree_store::{MemStore, Store};

const NOW: UtcMicros = UtcMicros(1_790_000_000_000_000);

fn body(kind: EventKind) -> EventBody {
    EventBody {
        event_id: EventId::new_v7(),
        occurred_at: NOW,
        expected_head: None,
        kind,
    }
}
fn team() -> Team {
    Team::new(3)
}
/// Signed by the participant who would really submit it.
fn sub(b: &EventBody) -> Submission {
    let (body, sig) = team().sign(b);
    Submission {
        body,
        signature: Some(sig),
        caller: None,
    }
}
/// `b` with the order commitments an honest signer makes: the heads as the engine has them now.
fn fill(e: &Engine, mut b: EventBody) -> EventBody {
    b.commit_to(|l| e.lot(*l).map(|s| s.head));
    b
}
fn cc(s: &str) -> Country {
    Country::parse(s).unwrap()
}
fn ore(lot: LotId, country: &str, mass_g: u64, nd_ppm: u32) -> EventKind {
    EventKind::OreReceipt(OreReceipt {
        facility: ree_core::testkit::mine(cc(country)),
        lot,
        supplier: "Lynas".into(),
        mine_site: "Mt Weld".into(),
        country: cc(country),
        mass_g,
        reo_grade_ppm: 380_000,
        assay: Composition::new(vec![(Element::Nd, nd_ppm), (Element::Dy, 1_000)]).unwrap(),
        documents: vec![],
    })
}
fn campaign(lot: LotId) -> EventKind {
    EventKind::CampaignOpened(CampaignOpened {
        facility_id: ree_core::testkit::separation_site(cc("FR")),
        campaign: lot,
        facility: "Lacq SX-1".into(),
        country: cc("FR"),
    })
}
fn charge(campaign: LotId, input: LotId, mass_g: u64) -> EventKind {
    EventKind::InputCharged(InputCharged {
        campaign,
        input,
        mass_g,
        input_head: Default::default(),
    })
}
fn produce(campaign: LotId, output: LotId, mass_g: u64) -> EventKind {
    EventKind::OutputProduced(OutputProduced {
        campaign,
        output,
        oxide: Oxide::Single(Element::Nd),
        mass_g,
        purity_ppm: 995_000,
    })
}

/// An engine whose registry holds the test team.
fn engine() -> (Arc<MemStore>, Engine) {
    let store = Arc::new(MemStore::new());
    let e = Engine::open(store.clone(), None).unwrap();
    register_team(&e);
    (store, e)
}
fn register_team(e: &Engine) {
    let subs = team()
        .registry_events(NOW)
        .into_iter()
        .map(|(body, sig)| Submission {
            body,
            signature: Some(sig),
            caller: None,
        })
        .collect();
    for r in e.submit_blocking(subs, true, NOW) {
        r.expect("team registered");
    }
}

fn ok(e: &Engine, k: EventKind) -> ree_engine::Outcome {
    let b = fill(e, body(k));
    e.submit_blocking(vec![sub(&b)], false, NOW)
        .remove(0)
        .unwrap()
}

fn err(e: &Engine, k: EventKind) -> SubmitError {
    let before = e.last_global_seq();
    let b = fill(e, body(k));
    let r = e
        .submit_blocking(vec![sub(&b)], false, NOW)
        .remove(0)
        .unwrap_err();
    assert_eq!(
        e.last_global_seq(),
        before,
        "a rejected event must leave the store unchanged"
    );
    r
}

#[test]
fn separation_links_chains_and_attributes_by_element() {
    let (_s, e) = engine();
    let (a, b, c, ox) = (
        LotId::new_v7(),
        LotId::new_v7(),
        LotId::new_v7(),
        LotId::new_v7(),
    );
    ok(&e, ore(a, "AU", 1_000_000, 100_000));
    ok(&e, ore(b, "US", 1_000_000, 300_000));
    ok(&e, campaign(c));
    let ch = ok(&e, charge(c, a, 1_000_000));
    assert_eq!(ch.records.len(), 2);
    assert_eq!(ch.records[0].lot, a);
    assert_eq!(ch.records[1].lot, c);
    ok(&e, charge(c, b, 1_000_000));
    let p = ok(&e, produce(c, ox, 100_000));
    let oxide = e.lot(ox).unwrap();
    assert_eq!(oxide.balance_g, 100_000);
    assert_eq!(oxide.head, p.records[1].hash);
    // Nd came 1:3 from AU:US (their Nd, not their gross mass, which is 1:1).
    let prov = ree_core::provenance::Provenance::of(&oxide);
    let shares = prov.origin_shares();
    assert!((shares[&cc("AU")] - 0.25).abs() < 1e-4, "{shares:?}");
    assert!((shares[&cc("US")] - 0.75).abs() < 1e-4, "{shares:?}");
    // The oxide's genesis links the campaign's debit record, whose chain links both inputs.
    let up = e.upstream(ox).unwrap().unwrap();
    let lots: Vec<LotId> = up.lots().into_iter().map(|x| x.0).collect();
    assert!(lots.contains(&a) && lots.contains(&b) && lots.contains(&c));
    assert_eq!(
        up.record_count(),
        2 + 2 + 4 + 1 + team().registry_events(NOW).len(),
        "ore a, ore b, campaign (open, 2 charges, debit), oxide genesis, and the registry (participants, sites) that authorised their signers"
    );
    // Its bundle withholds (hash only) the registrations of the participants who signed none
    // of it.
    let b = up.bundle();
    assert_eq!(
        b.withheld_count(),
        5 + 2 * ree_core::testkit::SITE_COUNTRIES.len() + 2,
        "supplier2, recycler, customer, auditor, lab; supplier2's and the recycler's sites; the lab's site and certificate"
    );
    assert_eq!(b.records.len() + b.withheld_count(), up.record_count());
    let t = team();
    let bytes = b.encode();
    for m in [&t.supplier2, &t.recycler, &t.customer, &t.auditor] {
        assert!(!bytes.windows(32).any(|w| w == m.public_key), "{}", m.name);
    }
    // The cheaper walk used for provenance names the same lots at the same heads.
    let (_, heads) = e.provenance_upstream(ox).unwrap().unwrap();
    let from_heads: Vec<(LotId, u64, Hash32)> =
        heads.into_iter().map(|(l, (s, h))| (l, s, h)).collect();
    assert_eq!(from_heads, up.lots());
}

#[test]
fn rules_reject_and_leave_the_store_unchanged() {
    let (_s, e) = engine();
    let (a, c, ox) = (LotId::new_v7(), LotId::new_v7(), LotId::new_v7());
    ok(&e, ore(a, "AU", 1_000, 100_000));
    ok(&e, campaign(c));
    assert!(
        matches!(err(&e, charge(c, a, 1_001)), SubmitError::Rule(_)),
        "overdraw"
    );
    assert!(
        matches!(err(&e, charge(c, a, 0)), SubmitError::Invalid(_)),
        "zero mass"
    );
    assert!(
        matches!(err(&e, charge(c, c, 10)), SubmitError::Invalid(_)),
        "into itself"
    );
    assert!(matches!(
        err(&e, charge(c, LotId::new_v7(), 10)),
        SubmitError::Rule(ree_core::RuleError::UnknownLot(_))
    ));
    assert!(matches!(err(&e, charge(a, a, 10)), SubmitError::Invalid(_)));
    assert!(
        matches!(
            err(&e, ore(a, "AU", 10, 1)),
            SubmitError::Rule(ree_core::RuleError::LotExists(_))
        ),
        "duplicate lot id"
    );
    ok(&e, charge(c, a, 1_000));
    // 1000 g at 10% Nd = 100 g Nd; 200 g of Nd2O3 is ~170 g Nd: more than was charged.
    assert!(
        matches!(err(&e, produce(c, ox, 200)), SubmitError::Rule(_)),
        "element created"
    );
    assert!(
        matches!(err(&e, produce(a, ox, 10)), SubmitError::Rule(_)),
        "only campaigns produce"
    );
    ok(&e, produce(c, ox, 100));
    assert!(
        matches!(
            err(
                &e,
                EventKind::Shipment(Shipment {
                    lot: a,
                    mass_g: 1,
                    customer: "x".into(),
                    destination: cc("DE"),
                    document: Hash32::ZERO
                })
            ),
            SubmitError::Rule(_)
        ),
        "only oxide ships"
    );
    ok(
        &e,
        EventKind::CampaignClosed(CampaignClosed {
            campaign: c,
            losses_g: 900,
        }),
    );
    assert!(
        matches!(
            err(&e, produce(c, LotId::new_v7(), 1)),
            SubmitError::Rule(_)
        ),
        "closed campaign"
    );
    let b2 = LotId::new_v7();
    ok(&e, ore(b2, "AU", 1_000, 100_000));
    assert!(
        matches!(err(&e, charge(c, b2, 1)), SubmitError::Rule(_)),
        "charge into closed campaign"
    );
    assert_eq!(e.lot(b2).unwrap().balance_g, 1_000);
}

#[test]
fn retries_answer_the_original_result_and_conflicts_are_refused() {
    let (_s, e) = engine();
    let a = LotId::new_v7();
    let b = body(ore(a, "AU", 1_000, 1));
    let first = e
        .submit_blocking(vec![sub(&b)], false, NOW)
        .remove(0)
        .unwrap();
    let again = e
        .submit_blocking(vec![sub(&b)], false, NOW)
        .remove(0)
        .unwrap();
    assert!(again.replayed && !first.replayed);
    assert_eq!(again.records, first.records);
    assert_eq!(
        e.last_global_seq(),
        first.records[0].global_seq,
        "no second record"
    );
    let mut other = b.clone();
    other.kind = ore(a, "AU", 2_000, 1);
    assert!(matches!(
        e.submit_blocking(vec![sub(&other)], false, NOW).remove(0),
        Err(SubmitError::Conflict(_))
    ));
}

#[test]
fn expected_head_mismatch_is_refused() {
    let (_s, e) = engine();
    let a = LotId::new_v7();
    let g = ok(&e, ore(a, "AU", 1_000, 1));
    let mut b = body(EventKind::Adjustment(Adjustment {
        lot: a,
        delta_g: -1,
        reason: "spill".into(),
        countersignature: None,
    }));
    b.expected_head = Some(Hash32([9; 32]));
    assert!(matches!(
        e.submit_blocking(vec![sub(&b)], false, NOW).remove(0),
        Err(SubmitError::Rule(ree_core::RuleError::HeadMismatch { .. }))
    ));
    b.expected_head = Some(g.records[0].hash);
    b.event_id = EventId::new_v7();
    assert!(e
        .submit_blocking(vec![sub(&b)], false, NOW)
        .remove(0)
        .is_ok());
}

#[test]
fn atomic_batches_are_all_or_nothing() {
    let (_s, e) = engine();
    let (a, b, c) = (LotId::new_v7(), LotId::new_v7(), LotId::new_v7());
    let c2 = LotId::new_v7();
    ok(&e, ore(a, "AU", 1_000, 100_000));
    ok(&e, ore(b, "US", 1_000, 100_000));
    ok(&e, campaign(c));
    ok(&e, campaign(c2));
    let before = e.last_global_seq();
    // Events of one atomic batch commit to heads as they stand before it: one per chain.
    let subs: Vec<Submission> = [
        charge(c, a, 500),
        charge(c2, b, 5_000),
        ore(LotId::new_v7(), "AU", 1_000, 100_000),
    ]
    .into_iter()
    .map(|k| sub(&fill(&e, body(k))))
    .collect();
    let r = e.submit_blocking(subs, true, NOW);
    assert!(matches!(r[0], Err(SubmitError::Aborted { failed: 1 })));
    assert!(matches!(r[1], Err(SubmitError::Rule(_))));
    assert!(matches!(r[2], Err(SubmitError::Aborted { failed: 1 })));
    assert_eq!(e.last_global_seq(), before);
    assert_eq!(e.lot(a).unwrap().balance_g, 1_000);
    let subs: Vec<Submission> = [
        charge(c, a, 500),
        charge(c2, b, 500),
        ore(LotId::new_v7(), "AU", 1_000, 100_000),
    ]
    .into_iter()
    .map(|k| sub(&fill(&e, body(k))))
    .collect();
    assert!(e.submit_blocking(subs, true, NOW).iter().all(|r| r.is_ok()));
    assert_eq!(e.last_global_seq(), before + 5);
}

#[test]
fn a_failed_write_answers_unavailable_and_changes_nothing() {
    let (s, e) = engine();
    let a = LotId::new_v7();
    ok(&e, ore(a, "AU", 1_000, 1));
    s.fail_next_appends(1);
    let b = body(EventKind::Adjustment(Adjustment {
        lot: a,
        delta_g: -10,
        reason: "spill".into(),
        countersignature: None,
    }));
    assert!(matches!(
        e.submit_blocking(vec![sub(&b)], false, NOW).remove(0),
        Err(SubmitError::Unavailable(_))
    ));
    assert_eq!(e.lot(a).unwrap().balance_g, 1_000);
    assert!(e.poisoned().is_some());
    // A restart replays what is on disk.
    drop(e);
    let e = Engine::open(s.clone(), None).unwrap();
    assert_eq!(e.lot(a).unwrap().balance_g, 1_000);
}

// ---- property test ----

#[derive(Clone, Debug)]
enum Op {
    Ore {
        country: usize,
        mass: u64,
        nd: u32,
        unassayed: bool,
    },
    Magnet {
        mass: u64,
        post: bool,
    },
    Open,
    Charge {
        camp: usize,
        input: usize,
        mass: u64,
    },
    Produce {
        camp: usize,
        mass: u64,
        dy: bool,
    },
    Close {
        camp: usize,
        losses: u64,
    },
    Ship {
        oxide: usize,
        mass: u64,
    },
    Adjust {
        lot: usize,
        delta: i64,
    },
    Assay {
        lot: usize,
        nd: u32,
    },
    Bogus {
        camp: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..4, 1u64..2_000_000, 0u32..400_000, any::<bool>()).prop_map(
            |(country, mass, nd, unassayed)| Op::Ore {
                country,
                mass,
                nd,
                unassayed
            }
        ),
        (1u64..2_000_000, any::<bool>()).prop_map(|(mass, post)| Op::Magnet { mass, post }),
        Just(Op::Open),
        (any::<usize>(), any::<usize>(), 0u64..3_000_000)
            .prop_map(|(camp, input, mass)| Op::Charge { camp, input, mass }),
        (any::<usize>(), 0u64..300_000, any::<bool>()).prop_map(|(camp, mass, dy)| Op::Produce {
            camp,
            mass,
            dy
        }),
        (any::<usize>(), 0u64..3_000_000).prop_map(|(camp, losses)| Op::Close { camp, losses }),
        (any::<usize>(), 0u64..300_000).prop_map(|(oxide, mass)| Op::Ship { oxide, mass }),
        (any::<usize>(), -2_000_000i64..2_000_000)
            .prop_map(|(lot, delta)| Op::Adjust { lot, delta }),
        (any::<usize>(), 0u32..400_000).prop_map(|(lot, nd)| Op::Assay { lot, nd }),
        any::<usize>().prop_map(|camp| Op::Bogus { camp }),
    ]
}

/// The test's own model of balances and per-campaign element totals (an oracle independent of
/// the engine's rules code).
#[derive(Default)]
struct Model {
    balance: HashMap<LotId, i128>,
    nd_ppm: HashMap<LotId, Option<u32>>,
    charged_nd: HashMap<LotId, i128>,
    produced_nd: HashMap<LotId, i128>,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn random_sequences_keep_the_invariants(ops in prop::collection::vec(op(), 1..60)) {
        let (store, e) = engine();
        let countries = ["AU", "US", "CN", "BR"];
        let mut inputs: Vec<LotId> = vec![];
        let mut camps: Vec<LotId> = vec![];
        let mut oxides: Vec<LotId> = vec![];
        let mut m = Model::default();
        let pick = |v: &Vec<LotId>, i: usize| if v.is_empty() { LotId::new_v7() } else { v[i % v.len()] };
        for op in ops {
            let before = e.last_global_seq();
            let (kind, new_lot) = match &op {
                Op::Ore { country, mass, nd, unassayed } => {
                    let lot = LotId::new_v7();
                    let assay = if *unassayed { Composition::default() } else { Composition::new(vec![(Element::Nd, *nd)]).unwrap() };
                    (EventKind::OreReceipt(OreReceipt { facility: ree_core::testkit::mine(cc(countries[*country])), lot, supplier: "s".into(), mine_site: "m".into(), country: cc(countries[*country]), mass_g: *mass, reo_grade_ppm: 500_000, assay, documents: vec![] }), Some(lot))
                }
                Op::Magnet { mass, post } => {
                    let lot = LotId::new_v7();
                    (EventKind::MagnetIntake(MagnetIntake { facility: ree_core::testkit::recycling_site(cc("FR")), lot, recycler: "r".into(), category: MagnetCategory::EvMotor, scrap: if *post { ScrapClass::PostConsumer } else { ScrapClass::PreConsumer }, country: cc("FR"), mass_g: *mass, content: Composition::new(vec![(Element::Nd, 240_000), (Element::Dy, 10_000)]).unwrap(), documents: vec![] }), Some(lot))
                }
                Op::Open => { let lot = LotId::new_v7(); (campaign(lot), Some(lot)) }
                Op::Charge { camp, input, mass } => (charge(pick(&camps, *camp), pick(&inputs, *input), *mass), None),
                Op::Produce { camp, mass, dy } => {
                    let lot = LotId::new_v7();
                    let oxide = if *dy { Oxide::Single(Element::Dy) } else { Oxide::Single(Element::Nd) };
                    (EventKind::OutputProduced(OutputProduced { campaign: pick(&camps, *camp), output: lot, oxide, mass_g: *mass, purity_ppm: 999_000 }), Some(lot))
                }
                Op::Close { camp, losses } => (EventKind::CampaignClosed(CampaignClosed { campaign: pick(&camps, *camp), losses_g: *losses }), None),
                Op::Ship { oxide, mass } => (EventKind::Shipment(Shipment { lot: pick(&oxides, *oxide), mass_g: *mass, customer: "c".into(), destination: cc("DE"), document: Hash32::ZERO }), None),
                Op::Adjust { lot, delta } => {
                    let all: Vec<LotId> = inputs.iter().chain(&camps).chain(&oxides).copied().collect();
                    (EventKind::Adjustment(Adjustment { lot: pick(&all, *lot), delta_g: *delta, reason: "count".into(), countersignature: None }), None)
                }
                Op::Assay { lot, nd } => (EventKind::AssayRecorded(AssayRecorded { facility: Some(ree_core::testkit::laboratory()), lot: pick(&inputs, *lot), lab: "lab".into(), content: Composition::new(vec![(Element::Nd, (*nd).max(1))]).unwrap(), certificate: Hash32::ZERO }), None),
                Op::Bogus { camp } => (charge(pick(&camps, *camp), pick(&camps, *camp), 1), None),
            };
            let res = e.submit_blocking(vec![sub(&fill(&e, body(kind.clone())))], false, NOW).remove(0);
            match res {
                Err(_) => prop_assert_eq!(e.last_global_seq(), before, "rejected {:?} changed the store", op),
                Ok(o) => {
                    prop_assert_eq!(o.records.len(), kind.lots().len());
                    match &kind {
                        EventKind::OreReceipt(r) => { m.balance.insert(r.lot, r.mass_g as i128); m.nd_ppm.insert(r.lot, if r.assay.is_empty() { None } else { Some(r.assay.ppm(Element::Nd)) }); }
                        EventKind::MagnetIntake(r) => { m.balance.insert(r.lot, r.mass_g as i128); m.nd_ppm.insert(r.lot, Some(r.content.ppm(Element::Nd))); }
                        EventKind::CampaignOpened(r) => { m.balance.insert(r.campaign, 0); }
                        EventKind::InputCharged(r) => {
                            *m.balance.get_mut(&r.input).unwrap() -= r.mass_g as i128;
                            *m.balance.get_mut(&r.campaign).unwrap() += r.mass_g as i128;
                            // Unassayed grams make no element available.
                            if let Some(p) = m.nd_ppm[&r.input] {
                                *m.charged_nd.entry(r.campaign).or_default() += r.mass_g as i128 * p as i128 / PPM as i128;
                            }
                        }
                        EventKind::OutputProduced(r) => {
                            *m.balance.get_mut(&r.campaign).unwrap() -= r.mass_g as i128;
                            m.balance.insert(r.output, r.mass_g as i128);
                            if r.oxide == Oxide::Single(Element::Nd) {
                                *m.produced_nd.entry(r.campaign).or_default() += r.oxide.element_grams(r.mass_g, r.purity_ppm)[0].1 as i128;
                            }
                        }
                        EventKind::CampaignClosed(r) => *m.balance.get_mut(&r.campaign).unwrap() -= r.losses_g as i128,
                        EventKind::Shipment(r) => *m.balance.get_mut(&r.lot).unwrap() -= r.mass_g as i128,
                        EventKind::Adjustment(r) => *m.balance.get_mut(&r.lot).unwrap() += r.delta_g as i128,
                        EventKind::AssayRecorded(r) => { m.nd_ppm.insert(r.lot, Some(r.content.ppm(Element::Nd))); }
                        other => prop_assert!(false, "the generator made no {}", other.name()),
                    }
                    if let Some(l) = new_lot {
                        match e.lot(l).map(|s| s.kind()) {
                            Some(LotKind::Campaign) => camps.push(l),
                            Some(LotKind::Oxide) => oxides.push(l),
                            Some(_) => inputs.push(l),
                            None => {}
                        }
                    }
                }
            }
            for (lot, b) in &m.balance {
                prop_assert!(*b >= 0, "model balance of {} went negative: the engine allowed an overdraw", lot);
                prop_assert_eq!(e.lot(*lot).unwrap().balance_g as i128, *b);
            }
            for (c, p) in &m.produced_nd {
                let allowed = m.charged_nd.get(c).copied().unwrap_or(0) * (PPM + ELEMENT_BALANCE_TOLERANCE_PPM) as i128 / PPM as i128;
                prop_assert!(*p <= allowed, "campaign {} produced {} g Nd of {} allowed", c, p, allowed);
            }
        }
        // Every chain links: a fresh replay of the store checks every hash and rule and agrees.
        let (replayed, _) = replay_store(&*store).unwrap();
        for l in e.lots(None) {
            let r = replayed.lots().find(|x| x.id == l.id).unwrap();
            prop_assert_eq!(r, &l);
        }
        prop_assert_eq!(store.idempotency_count().unwrap(), count_submissions(&*store), "one idempotency entry per accepted submission");
    }
}

fn count_submissions(store: &dyn Store) -> u64 {
    let mut n = 0;
    store
        .scan(1, &mut |_, b| {
            if ree_core::Record::decode(b)
                .map(|r| r.link.is_none())
                .unwrap_or(false)
            {
                n += 1;
            }
            Ok(())
        })
        .unwrap();
    n
}

#[test]
fn a_damaged_store_is_refused_on_open() {
    let (store, e) = engine();
    let a = LotId::new_v7();
    ok(&e, ore(a, "AU", 1_000, 1));
    ok(
        &e,
        EventKind::Adjustment(Adjustment {
            lot: a,
            delta_g: -1,
            reason: "r".into(),
            countersignature: None,
        }),
    );
    let g = e.last_global_seq();
    drop(e);
    // Rewrite the lot's second record with a broken previous-hash link, as a damaged disk might.
    let mut bytes = store.record(g).unwrap().unwrap();
    let mut rec = ree_core::Record::decode(&bytes).unwrap();
    rec.prev = Hash32([0xab; 32]);
    bytes = rec.encode();
    store
        .append(&ree_store::Batch {
            records: vec![ree_store::NewRecord {
                global_seq: g,
                lot: a,
                seq: 1,
                bytes,
            }],
            idempotency: vec![],
        })
        .unwrap();
    match Engine::open(store.clone(), None) {
        Err(ree_engine::EngineError::Inconsistent { global_seq, reason }) => {
            assert_eq!(global_seq, Some(g));
            assert!(reason.contains("chain"), "{reason}");
        }
        Err(other) => panic!("wrong error {other}"),
        Ok(_) => panic!("a damaged store was opened"),
    }
}

/// Damage that is no one record's (here: an idempotency entry without its submission) names no
/// global sequence number rather than a made-up 0.
#[test]
fn damage_of_no_one_record_names_no_global_sequence() {
    let (store, e) = engine();
    drop(e);
    let stray = ree_store::IdempotencyEntry {
        body_hash: Hash32([7; 32]),
        first_global_seq: 1,
        count: 1,
    };
    store
        .append(&ree_store::Batch {
            records: vec![],
            idempotency: vec![(EventId::new_v7(), stray)],
        })
        .unwrap();
    match Engine::open(store.clone(), None) {
        Err(err @ ree_engine::EngineError::Inconsistent { global_seq, .. }) => {
            assert_eq!(global_seq, None);
            let n = count_submissions(&*store);
            assert_eq!(
                err.to_string(),
                format!(
                    "store is inconsistent: {} idempotency entries for {n} submissions",
                    n + 1
                )
            );
        }
        Err(other) => panic!("wrong error {other}"),
        Ok(_) => panic!("a damaged store was opened"),
    }
}

#[test]
fn a_full_queue_sheds_load_instead_of_growing() {
    let store = Arc::new(MemStore::new());
    let e = Engine::open_with_queue(store.clone(), None, 2).unwrap();
    register_team(&e);
    let a = LotId::new_v7();
    ok(&e, ore(a, "AU", 1_000_000, 1));
    store.set_append_delay_ms(200);
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..20 {
        let b = body(EventKind::Adjustment(Adjustment {
            lot: a,
            delta_g: -1,
            reason: "r".into(),
            countersignature: None,
        }));
        let tx = tx.clone();
        e.submit(
            vec![sub(&b)],
            false,
            NOW,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
    }
    drop(tx);
    let results: Vec<_> = rx.iter().flatten().collect();
    assert_eq!(results.len(), 20, "every request is answered");
    let shed = results
        .iter()
        .filter(|r| matches!(r, Err(SubmitError::Overloaded(_))))
        .count();
    let done = results.iter().filter(|r| r.is_ok()).count();
    assert!(shed > 0 && done > 0, "shed {shed}, done {done}");
    assert_eq!(
        shed + done,
        20,
        "nothing but shedding may fail: {results:?}"
    );
    assert_eq!(
        e.lot(a).unwrap().balance_g,
        1_000_000 - done as u64,
        "shed requests left no trace"
    );
}

/// A restore keys each submission by its first record (`Record::submission_key`) and counts its
/// records: the entries are exactly the live engine's, across the restore's write batches.
#[test]
fn a_restore_rebuilds_the_live_idempotency_entries() {
    let (store, e) = engine();
    let (input, camp) = (LotId::new_v7(), LotId::new_v7());
    let mut ids = vec![ok(&e, ore(input, "AU", 1_000_000, 100_000)).event_id];
    ids.push(ok(&e, campaign(camp)).event_id);
    // Two-lot events, enough records that the restore writes in several batches.
    // (Each charge commits to the heads the previous one left: one request each.)
    for _ in 0..700 {
        ids.push(ok(&e, charge(camp, input, 1)).event_id);
    }
    let mut backup = Vec::new();
    e.backup(&mut backup).unwrap();
    drop(e);
    let restored = MemStore::new();
    ree_engine::backup::restore(&mut backup.as_slice(), &restored).unwrap();
    assert_eq!(
        restored.idempotency_count().unwrap(),
        store.idempotency_count().unwrap()
    );
    for id in ids {
        let live = store.idempotency(id).unwrap().expect("live entry");
        let again = restored.idempotency(id).unwrap().expect("restored entry");
        assert_eq!(again, live);
    }
}
