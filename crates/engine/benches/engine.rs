//! Provenance and export of an oxide lot with ~10,000 upstream events, over sled:
//! `cargo bench -p ree-engine`.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use ree_core::element::{Element, Oxide};
use ree_core::event::*;
use ree_core::provenance::Provenance;
use ree_core::{Country, EventBody, EventId, LotId, UtcMicros};
use ree_engine::{Engine, Submission};
use ree_store::SledStore;

fn body(kind: EventKind) -> Submission {
    signed(EventBody {
        event_id: EventId::new_v7(),
        occurred_at: UtcMicros(1_760_000_000_000_000),
        expected_head: None,
        kind,
    })
}

/// As the plant signs: committing to the heads the engine has now.
fn body_in(engine: &Engine, kind: EventKind) -> Submission {
    let mut b = EventBody {
        event_id: EventId::new_v7(),
        occurred_at: UtcMicros(1_760_000_000_000_000),
        expected_head: None,
        kind,
    };
    b.commit_to(|l| engine.lot(*l).map(|s| s.head));
    signed(b)
}

fn signed(b: EventBody) -> Submission {
    let (body, sig) = ree_core::testkit::Team::new(1).sign(&b);
    Submission {
        body,
        signature: Some(sig),
        caller: None,
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(Arc::new(SledStore::open(dir.path()).unwrap()), None).unwrap();
    let now = ree_engine::now_utc();
    let team = ree_core::testkit::Team::new(1)
        .registry_events(now)
        .into_iter()
        .map(|(body, sig)| Submission {
            body,
            signature: Some(sig),
            caller: None,
        })
        .collect();
    assert!(engine
        .submit_blocking(team, true, now)
        .iter()
        .all(|r| r.is_ok()));
    let camp = LotId::new_v7();
    let fr = Country::parse("FR").unwrap();
    engine.submit_blocking(
        vec![body(EventKind::CampaignOpened(CampaignOpened {
            facility_id: ree_core::testkit::separation_site(fr),
            campaign: camp,
            facility: "Lacq".into(),
            country: fr,
        }))],
        false,
        now,
    );
    // 3,334 inputs × (receipt + charge on the input + charge on the campaign) ≈ 10,000 events.
    let countries = ["AU", "US", "BR", "ZA", "CA"].map(|c| Country::parse(c).unwrap());
    let inputs: Vec<LotId> = (0..3334).map(|_| LotId::new_v7()).collect();
    for chunk in inputs.chunks(500) {
        let subs = chunk
            .iter()
            .enumerate()
            .map(|(i, lot)| {
                body(EventKind::OreReceipt(OreReceipt {
                    facility: ree_core::testkit::mine(countries[i % 5]),
                    lot: *lot,
                    supplier: "s".into(),
                    mine_site: "m".into(),
                    country: countries[i % 5],
                    mass_g: 1_000_000,
                    reo_grade_ppm: 400_000,
                    assay: Composition::new(vec![(Element::Pr, 20_000), (Element::Nd, 60_000)])
                        .unwrap(),
                    documents: vec![],
                }))
            })
            .collect();
        assert!(engine
            .submit_blocking(subs, true, now)
            .iter()
            .all(|r| r.is_ok()));
        // Each charge commits to the campaign's head the previous one left: one per request.
        for lot in chunk {
            let sub = body_in(
                &engine,
                EventKind::InputCharged(InputCharged {
                    campaign: camp,
                    input: *lot,
                    mass_g: 1_000_000,
                    input_head: Default::default(),
                }),
            );
            assert!(engine.submit_blocking(vec![sub], false, now)[0].is_ok());
        }
    }
    let ox = LotId::new_v7();
    let r = engine.submit_blocking(
        vec![body_in(
            &engine,
            EventKind::OutputProduced(OutputProduced {
                campaign: camp,
                output: ox,
                oxide: Oxide::NdPr { nd2o3_ppm: 750_000 },
                mass_g: 50_000_000,
                purity_ppm: 990_000,
            }),
        )],
        false,
        now,
    );
    assert!(r[0].is_ok(), "{r:?}");
    let up = engine.upstream(ox).unwrap().unwrap();
    eprintln!(
        "oxide lot upstream: {} events in {} lots",
        up.record_count(),
        up.chains.len()
    );
    let mut g = c.benchmark_group("oxide_10k_upstream");
    g.sample_size(20);
    g.bench_function("provenance_heads_only", |b| {
        b.iter(|| {
            let (st, heads) = engine.provenance_upstream(ox).unwrap().unwrap();
            (Provenance::of(&st).origin_shares(), heads.len())
        })
    });
    g.bench_function("provenance_full_closure", |b| {
        b.iter(|| {
            let up = engine.upstream(ox).unwrap().unwrap();
            (Provenance::of(&up.state).origin_shares(), up.lots().len())
        })
    });
    g.bench_function("export_bundle", |b| {
        b.iter(|| {
            engine
                .upstream(ox)
                .unwrap()
                .unwrap()
                .bundle()
                .encode()
                .len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
