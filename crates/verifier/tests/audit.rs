//! Issue 12, attack 3 (unbounded positive adjustments) caught by the verifier on forged bundles,
//! and the policy keys `max_adjustment_gain_share` and `require_attestation`.

mod common;

use common::*;
use ree_core::element::Element;
use ree_core::event::*;
use ree_core::{EventBody, EventId, Hash32, LotId, UtcMicros};
use ree_verifier::{verify, Policy, Report};

/// A 1 t AU ore lot of the supplier.
fn ore(l: &mut Ledger) -> LotId {
    let lot = l.lot();
    l.append(EventKind::OreReceipt(OreReceipt {
        lot,
        facility: ree_core::testkit::mine(cc("AU")),
        supplier: "Lynas".into(),
        mine_site: "Mount Weld".into(),
        country: cc("AU"),
        mass_g: 1_000_000,
        reo_grade_ppm: 400_000,
        assay: Composition::new(vec![(Element::Nd, 60_000)]).unwrap(),
        documents: vec![],
    }));
    lot
}

fn gain(lot: LotId, delta_g: i64) -> EventKind {
    EventKind::Adjustment(Adjustment {
        lot,
        delta_g,
        reason: "stock count".into(),
        countersignature: None,
    })
}

fn names(r: &Report, rule: &str, lot: LotId) -> bool {
    r.violations
        .iter()
        .any(|v| v.rule == rule && v.lot == lot.to_string())
}

/// Attack 3: the plant's own key adds 999 t to a supplier's 1 t ore lot. Signed and chained,
/// the bundle still fails replay: no auditor countersigned the gain; and with a real auditor's
/// countersignature, the gain is past the 2% cap.
#[test]
fn a_forged_unbounded_gain_makes_the_bundle_not_authentic() {
    for countersigned in [false, true] {
        let mut l = Ledger::new();
        let lot = ore(&mut l);
        let mut body = EventBody {
            event_id: EventId(uuid::Uuid::from_u128(77)),
            occurred_at: NOW,
            expected_head: None,
            kind: gain(lot, 999_000_000),
        };
        if countersigned {
            countersign(&mut body, &l.team.auditor.secret).unwrap();
        }
        let plant = l.team.plant.secret;
        let rec = l.forge(&body, &plant);
        let head = l.records.last().unwrap().hash;
        let bytes = l.bundle_at(lot, rec.seq, head).encode();
        let r = verify(&bytes, &Policy::default(), None);
        assert_eq!(r.exit_code(), 3, "countersigned {countersigned}: {r:?}");
        let e = r.integrity_error.unwrap_or_default();
        let want = if countersigned {
            "adjustment.delta_g: gains would total 999000000 g, over the cap of 2%"
        } else {
            "adjustment.countersignature: a positive adjustment"
        };
        assert!(e.contains(want), "{e}");
    }
}

/// A countersigned gain within the ledger's 2% is reported with its auditor; a policy's lower
/// `max_adjustment_gain_share` fails it naming the rule and the lot.
#[test]
fn gains_are_reported_and_a_policy_caps_them_lower() {
    let mut l = Ledger::new();
    let lot = ore(&mut l);
    let auditor = l.team.auditor.secret;
    l.append_with(gain(lot, 15_000), |b| countersign(b, &auditor).unwrap());
    l.append(gain(lot, -1_000));
    let bytes = l.bundle(lot).encode();
    let r = verify(&bytes, &Policy::default(), None);
    assert_eq!(r.exit_code(), 0, "{:?}", r.violations);
    let strict = Policy::from_toml("max_adjustment_gain_share = 0.01").unwrap();
    let r = verify(&bytes, &strict, None);
    assert_eq!(r.exit_code(), 1);
    assert!(
        names(&r, "max_adjustment_gain_share", lot),
        "{:?}",
        r.violations
    );
    let lax = Policy::from_toml("max_adjustment_gain_share = 0.015").unwrap();
    assert_eq!(verify(&bytes, &lax, None).exit_code(), 0);
    assert!(Policy::from_toml("max_adjustment_gain_share = 2.0").is_err());
}

fn attest(lot: LotId, from: i64, until: i64) -> EventKind {
    EventKind::Attestation(Attestation {
        lot,
        event: None,
        kind: AttestationKind::OriginVerified,
        method: Some(OriginMethod::SiteVisit),
        evidence: Hash32([7; 32]),
        valid_from: UtcMicros(from),
        valid_until: UtcMicros(until),
    })
}

/// `require_attestation`: an ore lot needs an origin attestation valid at its receipt; one that
/// expired before it, or none, fails naming the rule and the lot. The report lists them.
#[test]
fn a_policy_requires_attestations_valid_at_the_receipt() {
    let policy = Policy::from_toml(
        "require_attestation = { ore = [\"origin_verified\"], recycled = [\"scrap_class_verified\"] }",
    )
    .unwrap();
    let day = 86_400_000_000;
    for (from, until, ok) in [
        (NOW.0 - day, NOW.0 + day, true),
        (NOW.0 - 2 * day, NOW.0 - day, false),
        (0, 0, false),
    ] {
        let mut l = Ledger::new();
        let lot = ore(&mut l);
        if until != 0 {
            l.append(attest(lot, from, until));
        }
        let bytes = l.bundle(lot).encode();
        let r = verify(&bytes, &policy, None);
        assert_eq!(r.exit_code(), if ok { 0 } else { 1 }, "{:?}", r.violations);
        assert_eq!(!ok, names(&r, "require_attestation", lot));
        assert_eq!(verify(&bytes, &Policy::default(), None).exit_code(), 0);
    }
    assert!(Policy::from_toml("require_attestation = { ore = [\"seen_it\"] }").is_err());
    assert!(Policy::from_toml("require_attestation = { mine = [\"origin_verified\"] }").is_err());
}
