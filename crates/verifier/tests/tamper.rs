//! Tampering with a bundle in any way is an integrity failure (exit 3), never a panic; policies
//! decide compliance on authentic bundles.

mod common;

use common::*;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use ree_core::event::{EventBody, EventKind};
use ree_core::record::{record_hash, Record};
use ree_verifier::{verify, Policy};

fn exit(bytes: &[u8]) -> (i32, Option<String>) {
    let r = verify(bytes, &Policy::default(), None);
    (r.exit_code(), r.integrity_error)
}

fn demo() -> (Vec<u8>, usize) {
    let (l, ox) = separation(6, 4, &["AU", "US", "BR"]);
    let b = l.bundle(ox);
    (b.encode(), b.records.len())
}

#[test]
fn the_untouched_bundle_is_authentic_and_compliant() {
    let (bytes, n) = demo();
    let r = verify(&bytes, &Policy::default(), None);
    assert!(r.authentic && r.compliant, "{:?}", r.integrity_error);
    assert_eq!(r.events_verified as usize, n);
    assert_eq!(r.exit_code(), 0);
    assert_eq!(r.upstream_lots.len(), 11);
}

#[test]
fn single_byte_changes_anywhere_are_detected() {
    let (bytes, _) = demo();
    let mut rng = rand::rngs::StdRng::seed_from_u64(22095);
    for _ in 0..800 {
        let mut t = bytes.clone();
        let i = rng.random_range(0..t.len());
        t[i] ^= rng.random_range(1..=255u8);
        let (code, msg) = exit(&t);
        assert_eq!(code, 3, "byte {i} changed and still authentic");
        assert!(msg.is_some_and(|m| !m.is_empty()));
    }
}

#[test]
fn every_truncation_is_detected() {
    let (bytes, _) = demo();
    for n in 0..bytes.len() {
        assert_eq!(exit(&bytes[..n]).0, 3, "truncated to {n} bytes");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(exit(&longer).0, 3, "a trailing byte");
}

fn rebuild(b: &ree_core::bundle::Bundle, records: Vec<Vec<u8>>) -> Vec<u8> {
    ree_core::bundle::Bundle {
        records,
        ..b.clone()
    }
    .encode()
}

#[test]
fn removed_duplicated_and_swapped_events_are_detected() {
    let (bytes, n) = demo();
    let b = ree_core::bundle::Bundle::decode(&bytes).unwrap();
    for i in 0..n {
        let mut r = b.records.clone();
        r.remove(i);
        let (code, msg) = exit(&rebuild(&b, r));
        assert_eq!(code, 3, "record {i} removed");
        assert!(msg.is_some());
        let mut r = b.records.clone();
        r.insert(i, b.records[i].clone());
        assert_eq!(exit(&rebuild(&b, r)).0, 3, "record {i} duplicated");
        if i + 1 < n {
            let mut r = b.records.clone();
            r.swap(i, i + 1);
            assert_eq!(
                exit(&rebuild(&b, r)).0,
                3,
                "records {i} and {} swapped",
                i + 1
            );
        }
    }
}

#[test]
fn a_consistently_rehashed_change_is_caught_by_the_stale_downstream_link() {
    let (bytes, _) = demo();
    let b = ree_core::bundle::Bundle::decode(&bytes).unwrap();
    let mut recs: Vec<Record> = b
        .records
        .iter()
        .map(|x| Record::decode(x).unwrap())
        .collect();
    // The supplier itself (who holds its key) makes its first ore receipt heavier, re-signs it
    // and re-hashes its own chain consistently: the plant's signed charge, which commits to the
    // input's head (its `input_head`), no longer follows it (and the campaign's link is stale).
    let team = ree_core::testkit::Team::new(7);
    let i = recs
        .iter()
        .position(|r| {
            matches!(
                EventBody::decode(&r.body).unwrap().kind,
                EventKind::OreReceipt(_)
            )
        })
        .unwrap();
    let lot = recs[i].lot;
    let mut body = EventBody::decode(&recs[i].body).unwrap();
    if let EventKind::OreReceipt(o) = &mut body.kind {
        o.mass_g += 1_000_000;
    }
    recs[i].body = body.encode().unwrap();
    recs[i].signature = Some(team.supplier.sign(&recs[i].body));
    let mut prev = record_hash(&recs[i].encode());
    for r in recs.iter_mut().skip(i + 1).filter(|r| r.lot == lot) {
        r.prev = prev;
        prev = record_hash(&r.encode());
    }
    let out = rebuild(&b, recs.iter().map(Record::encode).collect());
    let (code, msg) = exit(&out);
    assert_eq!(code, 3);
    let msg = msg.unwrap();
    assert!(
        msg.contains("expected head") && msg.contains(&lot.to_string()),
        "{msg}"
    );
}

#[test]
fn policies_flip_the_verdict_where_the_numbers_say() {
    // 6 ore lots (6 t Nd each) and 4 magnet lots (4.6 t Nd each): recycled ≈ 18.4/54.4 = 34%.
    let (bytes, _) = demo();
    let r = verify(
        &bytes,
        &Policy::from_toml("min_recycled_share = 0.30").unwrap(),
        None,
    );
    assert!(r.compliant, "{:?}", r.violations);
    assert!(
        r.recycled_share > 0.30 && r.recycled_share < 0.40,
        "{}",
        r.recycled_share
    );
    let r = verify(
        &bytes,
        &Policy::from_toml("min_recycled_share = 0.40").unwrap(),
        None,
    );
    assert!(r.authentic && !r.compliant);
    assert_eq!(r.exit_code(), 1);
    assert_eq!(r.violations[0].rule, "min_recycled_share");
    let r = verify(
        &bytes,
        &Policy::from_toml("denied_origin_countries = [\"BR\"]").unwrap(),
        None,
    );
    assert_eq!(r.exit_code(), 1);
    assert!(r
        .violations
        .iter()
        .all(|v| v.rule == "denied_origin_countries"));
    assert_eq!(
        r.violations.len(),
        2,
        "two BR lots upstream: {:?}",
        r.violations
    );
    let r = verify(
        &bytes,
        &Policy::from_toml("max_single_third_country_share = 0.20").unwrap(),
        None,
    );
    assert_eq!(r.exit_code(), 1, "each of AU, US, BR supplies ~22%");
    let r = verify(
        &bytes,
        &Policy::from_toml("[required_documents]\nrecycled = [\"collection_certificate\"]")
            .unwrap(),
        None,
    );
    assert_eq!(
        r.violations.len(),
        4,
        "the 4 magnet lots carry no collection certificate"
    );
}

#[test]
fn chinese_content_is_named() {
    let (l, ox) = separation(3, 1, &["AU", "CN", "US"]);
    let bytes = l.bundle(ox).encode();
    let r = verify(&bytes, &Policy::default(), None);
    assert_eq!(r.exit_code(), 1);
    assert_eq!(r.claim, "mass_balance");
    let v = &r.violations[0];
    assert_eq!(v.rule, "denied_origin_countries");
    let cn_lot = l
        .state
        .lots()
        .find(|s| s.source().is_some_and(|s| s.country.as_str() == "CN"))
        .unwrap()
        .id;
    assert_eq!(v.lot, cn_lot.to_string());
    let r = verify(
        &bytes,
        &Policy::from_toml("required_claim = \"segregated\"").unwrap(),
        None,
    );
    assert!(r.violations.iter().any(|v| v.rule == "required_claim"));
}

#[test]
fn expect_head_must_match() {
    let (l, ox) = separation(2, 1, &["AU"]);
    let b = l.bundle(ox);
    let bytes = b.encode();
    assert_eq!(
        verify(&bytes, &Policy::default(), Some(b.head)).exit_code(),
        0
    );
    let r = verify(&bytes, &Policy::default(), Some(ree_core::Hash32([7; 32])));
    assert_eq!(r.exit_code(), 3);
    assert!(r.integrity_error.unwrap().contains("expected head"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn generated_bundles_verify_and_any_change_to_an_event_is_detected(
        inputs in 1usize..8, magnets in 0usize..5, which in any::<prop::sample::Index>(), pos in any::<prop::sample::Index>(), x in 1u8..=255,
    ) {
        let (l, ox) = separation(inputs, magnets, &["AU", "US", "BR", "ZA"]);
        let b = l.bundle(ox);
        let r = verify(&b.encode(), &Policy::default(), None);
        prop_assert!(r.authentic && r.compliant, "{:?}", r.integrity_error);
        let mut records = b.records.clone();
        let i = which.index(records.len());
        let p = pos.index(records[i].len());
        records[i][p] ^= x;
        let t = ree_core::bundle::Bundle { records, ..b.clone() };
        prop_assert_eq!(verify(&t.encode(), &Policy::default(), None).exit_code(), 3);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let r = verify(&bytes, &Policy::default(), None);
        prop_assert_eq!(r.exit_code(), 3);
    }
}

#[test]
fn a_consistent_rewrite_of_a_signed_event_fails_on_its_signature() {
    // A forger who rewrites a signed record's body and recomputes every hash downstream (so that
    // the chain and the head are consistent again) cannot re-sign it.
    let mut l = Ledger::new();
    let lot = l.lot();
    l.append(EventKind::OreReceipt(ree_core::event::OreReceipt {
        facility: ree_core::testkit::mine(cc("AU")),
        lot,
        supplier: "s".into(),
        mine_site: "m".into(),
        country: cc("AU"),
        mass_g: 1000,
        reo_grade_ppm: 1,
        assay: Default::default(),
        documents: vec![],
    }));
    let b = l.bundle(lot);
    let r = verify(&b.encode(), &Policy::default(), None);
    assert!(r.authentic, "{:?}", r.integrity_error);
    assert_eq!(r.signatures_verified as usize, b.records.len());
    assert_eq!(r.signers.len(), 2, "the administrator and the supplier");
    let mut recs: Vec<Record> = b
        .records
        .iter()
        .map(|x| Record::decode(x).unwrap())
        .collect();
    let last = recs.len() - 1;
    let mut body = EventBody::decode(&recs[last].body).unwrap();
    if let EventKind::OreReceipt(o) = &mut body.kind {
        o.mass_g = 2000;
    }
    recs[last].body = body.encode().unwrap();
    let forged = ree_core::bundle::Bundle {
        head: record_hash(&recs[last].encode()),
        ..rebuild_bundle(&b, &recs)
    };
    let r = verify(&forged.encode(), &Policy::default(), None);
    assert_eq!(r.exit_code(), 3);
    assert!(r.integrity_error.unwrap().contains("signature"));
}

fn rebuild_bundle(b: &ree_core::bundle::Bundle, recs: &[Record]) -> ree_core::bundle::Bundle {
    ree_core::bundle::Bundle {
        records: recs.iter().map(Record::encode).collect(),
        ..b.clone()
    }
}

#[test]
fn a_registry_rewritten_with_an_untrusted_administrator_key_fails_trust() {
    let (l, ox) = separation(2, 1, &["AU"]);
    let genuine = l.bundle(ox).encode();
    let trusted = Policy {
        trusted_administrators: vec![l.team.admin.public_key],
        ..Policy::default()
    };
    let r = verify(&genuine, &trusted, None);
    assert_eq!(r.exit_code(), 0, "{:?}", r.integrity_error);
    assert!(r.registry_trusted);
    // The operator rebuilds the whole ledger under its own administrator key: every hash,
    // chain and signature is consistent, only the founder differs.
    let mut forged = Ledger::with_team(ree_core::testkit::Team::new(8));
    let camp = forged.lot();
    forged.append(EventKind::CampaignOpened(ree_core::event::CampaignOpened {
        facility_id: ree_core::testkit::separation_site(cc("FR")),
        campaign: camp,
        facility: "Lacq".into(),
        country: cc("FR"),
    }));
    let b = forged.bundle(camp).encode();
    assert_eq!(
        verify(&b, &Policy::default(), None).exit_code(),
        0,
        "self-consistent"
    );
    let r = verify(&b, &trusted, None);
    assert_eq!(r.exit_code(), 3);
    assert!(r
        .integrity_error
        .unwrap()
        .contains("not among the trusted keys"));
}

#[test]
fn dropping_a_registry_event_before_a_record_is_detected() {
    let (l, ox) = separation(2, 1, &["AU"]);
    let b = l.bundle(ox);
    // Every team registration precedes the material records; drop the auditor's (signs nothing).
    let recs: Vec<Record> = b
        .records
        .iter()
        .map(|x| Record::decode(x).unwrap())
        .collect();
    let i = recs
        .iter()
        .rposition(|r| r.lot == ree_core::registry::REGISTRY_LOT)
        .unwrap();
    let mut kept = b.records.clone();
    kept.remove(i);
    let (code, msg) = exit(&rebuild(&b, kept));
    assert_eq!(code, 3);
    assert!(msg.unwrap().contains("registry head"));
}
