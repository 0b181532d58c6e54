//! Bundles disclose only the registry records their verifier needs; the rest are withheld (hash
//! only) and walked along the registry's chain. Tampering with a withheld entry, or withholding
//! a record that is needed, is an integrity failure (exit 3).

mod common;

use common::*;
use ree_core::bundle::{Bundle, Withheld};
use ree_core::event::{EventKind, OreReceipt, ParticipantSuspended, TokenIssued};
use ree_core::record::{record_hash, Record};
use ree_core::registry::REGISTRY_LOT;
use ree_verifier::{verify, Policy};

fn check(b: &Bundle) -> (i32, String) {
    let r = verify(&b.encode(), &Policy::default(), None);
    (r.exit_code(), r.integrity_error.unwrap_or_default())
}

/// The supplier's own ore lot, after the customer was suspended and the supplier got a new token.
fn suppliers_lot() -> (Ledger, ree_core::LotId) {
    let mut l = Ledger::new();
    let (customer, supplier) = (l.team.customer.id, l.team.supplier.id);
    l.append(EventKind::ParticipantSuspended(ParticipantSuspended {
        participant: customer,
        reason: "left".into(),
    }));
    l.append(EventKind::TokenIssued(TokenIssued {
        participant: supplier,
        token_hash: ree_core::Hash32([9; 32]),
    }));
    let lot = l.lot();
    l.append(EventKind::OreReceipt(OreReceipt {
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
    (l, lot)
}

#[test]
fn a_suppliers_bundle_discloses_only_its_signers_and_verifies() {
    let (l, lot) = suppliers_lot();
    let b = l.bundle(lot);
    let trusted = Policy {
        trusted_administrators: vec![l.team.admin.public_key],
        ..Policy::default()
    };
    let r = verify(&b.encode(), &trusted, None);
    assert_eq!(r.exit_code(), 0, "{:?}", r.integrity_error);
    // Withheld: supplier2, recycler, plant, customer, auditor, lab, their sites, the lab's
    // certificate and the customer's suspension.
    let sites = ree_core::testkit::SITE_COUNTRIES.len() as u64;
    assert_eq!(r.registry_withheld as u64, 6 + 3 * sites + 2 + 1);
    assert_eq!(
        r.events_verified,
        4 + sites,
        "admin, supplier, its mines, its new token, the receipt"
    );
    assert_eq!(
        r.registry_head_seq,
        l.team.registry_events(ree_core::UtcMicros(0)).len() as u64 + 1,
        "the head still counts every registry record"
    );
    let bytes = b.encode();
    let t = &l.team;
    for m in [&t.supplier2, &t.recycler, &t.plant, &t.customer, &t.auditor] {
        assert!(!bytes.windows(32).any(|w| w == m.public_key), "{}", m.name);
        let th = ree_core::registry::token_hash(&m.token);
        assert!(!bytes.windows(32).any(|w| w == th.0), "{}", m.name);
        let name = m.name.as_bytes();
        assert!(!bytes.windows(name.len()).any(|w| w == name), "{}", m.name);
    }
    assert!(bytes.len() < l.full_bundle(lot).encode().len());
    // The same records, nothing withheld (what version 1 carried), verify too.
    assert_eq!(check(&l.full_bundle(lot)).0, 0);
}

#[test]
fn tampering_with_a_withheld_entry_is_detected() {
    let (l, lot) = suppliers_lot();
    let b = l.bundle(lot);
    let n = b.withheld.len();
    for i in 0..n {
        let mut t = b.clone();
        t.withheld[i].hash.0[3] ^= 1;
        assert_eq!(check(&t).0, 3, "hash of withheld {i}");
        let mut t = b.clone();
        t.withheld[i].seq += 1;
        let (code, msg) = check(&t);
        assert_eq!(code, 3, "seq of withheld {i}");
        assert!(msg.contains("withheld registry record"), "{msg}");
        let mut t = b.clone();
        t.withheld[i].prev.0[0] ^= 1;
        assert_eq!(check(&t).0, 3, "prev of withheld {i}");
        let mut t = b.clone();
        t.withheld.remove(i);
        assert_eq!(check(&t).0, 3, "withheld {i} dropped");
    }
    // Every byte of the file, withheld entries included.
    let bytes = b.encode();
    for i in 0..bytes.len() {
        let mut t = bytes.clone();
        t[i] ^= 0x20;
        let r = verify(&t, &Policy::default(), None);
        assert_eq!(r.exit_code(), 3, "byte {i} changed");
    }
}

#[test]
fn withholding_a_needed_record_is_detected() {
    let (l, lot) = suppliers_lot();
    let b = l.bundle(lot);
    let recs: Vec<Record> = b
        .records
        .iter()
        .map(|x| Record::decode(x).unwrap())
        .collect();
    // The signer's registration (registry seq 1), withheld by hand in place.
    let i = recs
        .iter()
        .position(|r| r.lot == REGISTRY_LOT && r.seq == 1)
        .unwrap();
    let mut t = b.clone();
    let bytes = t.records.remove(i);
    for w in t.withheld.iter_mut().filter(|w| w.pos > i) {
        w.pos -= 1;
    }
    let at = t.withheld.iter().position(|w| w.pos >= i).unwrap_or(0);
    t.withheld.insert(
        at,
        Withheld {
            pos: i,
            seq: recs[i].seq,
            prev: recs[i].prev,
            hash: record_hash(&bytes),
        },
    );
    let (code, msg) = check(&t);
    assert_eq!(code, 3);
    assert!(msg.contains("not registered"), "{msg}");
    // The genesis cannot be withheld: there is no registry to walk.
    let mut t = b.clone();
    let g = t.records.remove(0);
    t.withheld.insert(
        0,
        Withheld {
            pos: 0,
            seq: 0,
            prev: ree_core::Hash32::ZERO,
            hash: record_hash(&g),
        },
    );
    let (code, msg) = check(&t);
    assert_eq!(code, 3);
    assert!(msg.contains("genesis"), "{msg}");
}

#[test]
fn a_bundle_may_not_end_with_a_withheld_entry() {
    let (l, lot) = suppliers_lot();
    let mut b = l.bundle(lot);
    // A withheld record after the last record: nothing commits to its hash.
    let last = b.records.last().unwrap().clone();
    let rec = Record::decode(&last).unwrap();
    let reg_head = ree_core::Hash32(rec.registry.0);
    b.withheld.push(Withheld {
        pos: b.records.len(),
        seq: 9,
        prev: reg_head,
        hash: ree_core::Hash32([5; 32]),
    });
    let (code, msg) = check(&b);
    assert_eq!(code, 3);
    assert!(msg.contains("ends with a withheld"), "{msg}");
}
