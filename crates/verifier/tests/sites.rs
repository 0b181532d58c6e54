//! Issue 12, attacks 1 and 2 as the verifier sees them: sites certified at the receipt's date
//! (`require_certified_sites`), laboratory assays (`require_lab_assays`) and re-assays that move
//! an element too far (`max_reassay_shift_ppm`), each failing with exit 1 naming the rule and
//! the lot.

mod common;

use common::*;
use ree_core::element::{Element, Oxide};
use ree_core::event::*;
use ree_core::testkit;
use ree_core::{Hash32, LotId, UtcMicros};
use ree_verifier::{verify, Policy, Report};

const DAY: i64 = 86_400_000_000;

fn names(r: &Report, rule: &str, lot: LotId) -> bool {
    r.violations
        .iter()
        .any(|v| v.rule == rule && v.lot == lot.to_string())
}

fn grant(l: &mut Ledger, country: &str, scheme: &str, id: &str, from: i64, until: i64) {
    l.append(EventKind::CertificationGranted(CertificationGranted {
        facility: testkit::mine(cc(country)),
        scheme: scheme.into(),
        certificate_id: id.into(),
        issuer: "certification body".into(),
        document_digest: Hash32([9; 32]),
        valid_from: UtcMicros(NOW.0 + from * DAY),
        valid_until: UtcMicros(NOW.0 + until * DAY),
    }));
}

fn receipt(l: &mut Ledger, country: &str, nd_ppm: u32) -> LotId {
    let lot = l.lot();
    l.append(EventKind::OreReceipt(OreReceipt {
        facility: testkit::mine(cc(country)),
        lot,
        supplier: "s".into(),
        mine_site: "m".into(),
        country: cc(country),
        mass_g: 1_000_000,
        reo_grade_ppm: 400_000,
        assay: Composition::new(vec![(Element::Pr, 20_000), (Element::Nd, nd_ppm)]).unwrap(),
        documents: vec![],
    }));
    lot
}

/// Opens a campaign, charges `inputs` (all of each), and produces NdPr oxide from them.
fn separate(l: &mut Ledger, inputs: &[LotId], between: impl FnOnce(&mut Ledger)) -> LotId {
    let camp = l.lot();
    l.append(EventKind::CampaignOpened(CampaignOpened {
        facility_id: testkit::separation_site(cc("FR")),
        campaign: camp,
        facility: "Lacq".into(),
        country: cc("FR"),
    }));
    for input in inputs {
        l.append(EventKind::InputCharged(InputCharged {
            campaign: camp,
            input: *input,
            mass_g: 1_000_000,
            input_head: Default::default(),
        }));
    }
    between(l);
    let ox = l.lot();
    l.append(EventKind::OutputProduced(OutputProduced {
        campaign: camp,
        output: ox,
        oxide: Oxide::NdPr { nd2o3_ppm: 750_000 },
        mass_g: 10_000,
        purity_ppm: 990_000,
    }));
    ox
}

#[test]
fn sites_must_hold_a_certificate_valid_at_the_receipts_date() {
    let mut l = Ledger::new();
    grant(&mut l, "AU", "IRMA", "IRMA-AU", -1, 1);
    grant(&mut l, "BR", "IRMA", "IRMA-BR", -2, -1); // expired before the receipt
    grant(&mut l, "US", "RMAP", "RMAP-US", -1, 1);
    l.append(EventKind::CertificationSuspended(CertificationSuspended(
        CertificationEnded {
            facility: testkit::mine(cc("US")),
            certificate_id: "RMAP-US".into(),
            reason: "audit findings".into(),
        },
    )));
    let (au, br, us) = (
        receipt(&mut l, "AU", 60_000),
        receipt(&mut l, "BR", 60_000),
        receipt(&mut l, "US", 60_000),
    );
    let ox = separate(&mut l, &[au, br, us], |_| {});
    let bytes = l.bundle(ox).encode();
    assert_eq!(verify(&bytes, &Policy::default(), None).exit_code(), 0);
    let p = Policy::from_toml(r#"require_certified_sites = ["IRMA", "RMAP"]"#).unwrap();
    let r = verify(&bytes, &p, None);
    assert_eq!(r.exit_code(), 1, "{:?}", r.violations);
    assert!(
        names(&r, "require_certified_sites", br),
        "{:?}",
        r.violations
    );
    assert!(
        names(&r, "require_certified_sites", us),
        "{:?}",
        r.violations
    );
    assert!(
        !names(&r, "require_certified_sites", au),
        "{:?}",
        r.violations
    );
    let p = Policy::from_toml(r#"require_certified_sites = ["RMAP"]"#).unwrap();
    assert!(names(
        &verify(&bytes, &p, None),
        "require_certified_sites",
        au
    ));
}

/// Attack 2: a laboratory's late re-assay moving Nd from 6% to 60% of the lot is flagged by
/// default, and a policy may require every charge to rest on a laboratory's assay.
#[test]
fn a_big_reassay_is_flagged_and_laboratory_assays_can_be_required() {
    let mut l = Ledger::new();
    let (au, br) = (receipt(&mut l, "AU", 60_000), receipt(&mut l, "BR", 60_000));
    let confirm = |lot, nd| {
        EventKind::AssayRecorded(AssayRecorded {
            lot,
            facility: Some(testkit::laboratory()),
            lab: "lab".into(),
            content: Composition::new(vec![(Element::Pr, 20_000), (Element::Nd, nd)]).unwrap(),
            certificate: Hash32([3; 32]),
        })
    };
    l.append(confirm(br, 61_000)); // a laboratory confirms BR before it is charged
    let ox = separate(&mut l, &[au, br], |l| {
        l.append(confirm(au, 600_000)); // after AU's charge: changes nothing, flagged
    });
    let bytes = l.bundle(ox).encode();
    let r = verify(&bytes, &Policy::default(), None);
    assert_eq!(r.exit_code(), 1, "{:?}", r.violations);
    assert!(names(&r, "max_reassay_shift_ppm", au), "{:?}", r.violations);
    assert!(
        !names(&r, "max_reassay_shift_ppm", br),
        "{:?}",
        r.violations
    );
    // The text report says the same: the flag, and the CRMA line of each element.
    let text = ree_verifier::render(&r);
    let flag = format!("{au} seq ");
    assert!(
        text.lines().any(|l| l.contains("reassayed:")
            && l.contains(&flag)
            && l.ends_with("Nd 60000 -> 600000 ppm (beyond the default tolerance)")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("CRMA Nd")
            && l.contains("post-consumer recycled 0.00%")
            && l.contains("extraction AU BR;")),
        "{text}"
    );
    let loose = Policy::from_toml("max_reassay_shift_ppm = 600000").unwrap();
    assert_eq!(verify(&bytes, &loose, None).exit_code(), 0);
    // AU was charged on its supplier's declaration; BR on the laboratory's assay.
    let labs =
        Policy::from_toml("max_reassay_shift_ppm = 600000\nrequire_lab_assays = true").unwrap();
    let r = verify(&bytes, &labs, None);
    assert!(names(&r, "require_lab_assays", au), "{:?}", r.violations);
    assert!(!names(&r, "require_lab_assays", br), "{:?}", r.violations);
    assert!(Policy::from_toml("max_reassay_shift_ppm = 1000001").is_err());
}
