//! Hot paths of the core: `cargo bench -p ree-core`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ree_core::element::Element;
use ree_core::event::*;
use ree_core::record::{record_hash, Record};
use ree_core::state::Staged;
use ree_core::{Country, EventBody, EventId, Hash32, LedgerState, LotId, UtcMicros};

const NOW: UtcMicros = UtcMicros(1_760_000_000_000_000);

fn ore(lot: LotId) -> EventBody {
    EventBody {
        event_id: EventId::new_v7(),
        occurred_at: NOW,
        expected_head: None,
        kind: EventKind::OreReceipt(OreReceipt {
            facility: ree_core::testkit::mine(Country::parse("AU").unwrap()),
            lot,
            supplier: "Lynas Rare Earths".into(),
            mine_site: "Mt Weld, Western Australia".into(),
            country: Country::parse("AU").unwrap(),
            mass_g: 120_000_000,
            reo_grade_ppm: 380_000,
            assay: Composition::new(vec![
                (Element::La, 80_000),
                (Element::Ce, 140_000),
                (Element::Pr, 17_000),
                (Element::Nd, 58_000),
                (Element::Dy, 2_000),
            ])
            .unwrap(),
            documents: vec![
                Document {
                    kind: DocKind::CertificateOfOrigin,
                    digest: Hash32([1; 32]),
                },
                Document {
                    kind: DocKind::BillOfLading,
                    digest: Hash32([2; 32]),
                },
            ],
        }),
    }
}

fn bench(c: &mut Criterion) {
    let body = ore(LotId::new_v7());
    let bytes = body.encode().expect("the bench body fits the layout");
    let rec = Record {
        lot: LotId::new_v7(),
        seq: 7,
        global_seq: 1234,
        prev: Hash32([3; 32]),
        recorded_at: NOW,
        registry: Hash32([4; 32]),
        link: None,
        body: bytes.clone(),
        signature: Some(ree_core::record::Signature::sign(&[5; 32], &bytes)),
    };
    let rec_bytes = rec.encode();
    let mut g = c.benchmark_group("event");
    g.throughput(Throughput::Elements(1));
    g.bench_function("body_encode", |b| b.iter(|| body.encode()));
    g.bench_function("body_decode", |b| b.iter(|| EventBody::decode(&bytes)));
    g.bench_function("validate", |b| b.iter(|| body.validate(NOW)));
    g.bench_function("record_encode_and_hash", |b| {
        b.iter(|| record_hash(&rec.encode()))
    });
    g.bench_function("record_hash_only", |b| b.iter(|| record_hash(&rec_bytes)));
    g.bench_function("record_decode", |b| b.iter(|| Record::decode(&rec_bytes)));
    let sig = rec.signature.expect("signed above");
    g.bench_function("signature_verify", |b| b.iter(|| sig.verify(&bytes)));
    // A charge: two records, stateful rules, attribution totals.
    let team = ree_core::testkit::Team::new(1);
    let mut state = LedgerState::new();
    for (bytes, sig) in team.registry_events(NOW) {
        let b = EventBody::decode(&bytes).unwrap();
        let mut s = Staged::new(&state, state.next_global_seq());
        s.append(&bytes, &b, Some(sig), NOW).unwrap();
        let ch = s.into_changes();
        state.commit(ch);
    }
    let camp = LotId::new_v7();
    let open = EventBody {
        event_id: EventId::new_v7(),
        occurred_at: NOW,
        expected_head: None,
        kind: EventKind::CampaignOpened(CampaignOpened {
            facility_id: ree_core::testkit::separation_site(Country::parse("FR").unwrap()),
            campaign: camp,
            facility: "Lacq".into(),
            country: Country::parse("FR").unwrap(),
        }),
    };
    let input = LotId::new_v7();
    for b in [open, ore(input)] {
        let (bytes, sig) = team.sign(&b);
        let mut s = Staged::new(&state, state.next_global_seq());
        s.append(&bytes, &b, Some(sig), NOW).unwrap();
        let ch = s.into_changes();
        state.commit(ch);
    }
    let charge = EventBody {
        event_id: EventId::new_v7(),
        occurred_at: NOW,
        expected_head: None,
        kind: EventKind::InputCharged(InputCharged {
            campaign: camp,
            input,
            mass_g: 1,
            input_head: Default::default(),
        }),
    };
    let (cb, csig) = team.sign(&charge);
    g.bench_function("stage_charge_two_records", |b| {
        b.iter_batched(
            || (),
            |_| {
                let mut s = Staged::new(&state, state.next_global_seq());
                s.append(&cb, &charge, Some(csig), NOW).map(|a| a.len())
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// Signed ore bodies, as many as asked.
fn signed_bodies(n: u32) -> (Vec<Vec<u8>>, Vec<ree_core::record::Signature>) {
    let bodies: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            ore(LotId::new_v7()).encode().map(|mut b| {
                b.extend(i.to_le_bytes());
                b
            })
        })
        .collect::<Result<_, _>>()
        .expect("the bench body fits the layout");
    let sigs = bodies
        .iter()
        .map(|b| ree_core::record::Signature::sign(&[5; 32], b))
        .collect();
    (bodies, sigs)
}

/// The exact signature check (docs/format.md "Signatures") per signature, as the submit path
/// runs it on a request of 100: a registered key's verifier with its fixed-base table, a key
/// seen once (no table), and ed25519-dalek's `verify_strict` (the same equation) for reference.
/// Then 4,096 at once, as the verifier runs them: batched, and one at a time.
fn signatures(c: &mut Criterion) {
    let (bodies, sigs) = signed_bodies(100);
    let items: Vec<(&[u8], &ree_core::record::Signature)> = bodies
        .iter()
        .map(|b| b.as_slice())
        .zip(sigs.iter())
        .collect();
    let warm = ree_core::signature::registrable_key(&sigs[0].public_key).expect("a key");
    assert!(ree_core::record::bad_signatures(&items, &|_| Some(warm.clone())).is_empty());
    let mut g = c.benchmark_group("signatures_100");
    g.throughput(Throughput::Elements(100));
    g.bench_function("registered_key", |b| {
        b.iter(|| ree_core::record::bad_signatures(&items, &|_| Some(warm.clone())))
    });
    g.bench_function("one_off_key", |b| {
        b.iter(|| items.iter().filter(|(m, s)| s.verify(m).is_ok()).count())
    });
    let key = ed25519_dalek::VerifyingKey::from_bytes(&sigs[0].public_key).expect("a key");
    g.bench_function("dalek_verify_strict", |b| {
        b.iter(|| {
            items
                .iter()
                .filter(|(m, s)| {
                    key.verify_strict(m, &ed25519_dalek::Signature::from_bytes(&s.signature))
                        .is_ok()
                })
                .count()
        })
    });
    g.finish();
    let (bodies, sigs) = signed_bodies(4096);
    let items: Vec<(&[u8], &ree_core::record::Signature)> = bodies
        .iter()
        .map(|b| b.as_slice())
        .zip(sigs.iter())
        .collect();
    assert!(ree_core::record::bad_signatures(&items, &|_| Some(warm.clone())).is_empty());
    let mut g = c.benchmark_group("signatures_4096");
    g.throughput(Throughput::Elements(4096));
    g.sample_size(10);
    g.bench_function("batched", |b| {
        b.iter(|| ree_core::record::bad_signatures(&items, &|_| Some(warm.clone())))
    });
    g.bench_function("one_at_a_time", |b| {
        b.iter(|| {
            items
                .iter()
                .filter(|(m, s)| warm.verify(m, &s.signature).is_err())
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, bench, signatures);
criterion_main!(benches);
