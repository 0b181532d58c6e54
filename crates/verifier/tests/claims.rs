//! Issue 12, attacks 7 and 8, caught by the verifier: scrap collected in a denied country, and a
//! denied-country lot charged into the campaign but carrying none of the output's elements.

mod common;

use common::*;
use ree_core::element::{Element, Oxide};
use ree_core::event::*;
use ree_core::LotId;
use ree_verifier::{verify, Policy, Report};

/// An AU ore lot (Nd, Pr assayed) and `extra` charged into one campaign, then NdPr oxide out.
/// Returns the bundle's bytes, the oxide lot and the extra lot.
fn campaign_with(extra: EventKind, extra_lot: LotId, l: &mut Ledger) -> LotId {
    let (camp, ore) = (l.lot(), l.lot());
    l.append(EventKind::CampaignOpened(CampaignOpened {
        facility_id: ree_core::testkit::separation_site(cc("FR")),
        campaign: camp,
        facility: "Lacq".into(),
        country: cc("FR"),
    }));
    l.append(EventKind::OreReceipt(OreReceipt {
        facility: ree_core::testkit::mine(cc("AU")),
        lot: ore,
        supplier: "Lynas".into(),
        mine_site: "Mount Weld".into(),
        country: cc("AU"),
        mass_g: 10_000_000,
        reo_grade_ppm: 400_000,
        assay: Composition::new(vec![(Element::Pr, 20_000), (Element::Nd, 60_000)]).unwrap(),
        documents: vec![],
    }));
    l.append(extra);
    for (input, mass_g) in [(ore, 10_000_000), (extra_lot, 1_000_000)] {
        l.append(EventKind::InputCharged(InputCharged {
            campaign: camp,
            input,
            mass_g,
            input_head: Default::default(),
        }));
    }
    let ox = l.lot();
    l.append(EventKind::OutputProduced(OutputProduced {
        campaign: camp,
        output: ox,
        oxide: Oxide::NdPr { nd2o3_ppm: 750_000 },
        mass_g: 500_000,
        purity_ppm: 990_000,
    }));
    ox
}

fn names(r: &Report, rule: &str, lot: LotId) -> bool {
    r.violations
        .iter()
        .any(|v| v.rule == rule && v.lot == lot.to_string())
}

/// Attack 7: post-consumer scrap collected in CN used to pass the default policy.
#[test]
fn scrap_collected_in_a_denied_country_is_denied_by_default() {
    let mut l = Ledger::new();
    let scrap = l.lot();
    let intake = EventKind::MagnetIntake(MagnetIntake {
        facility: ree_core::testkit::recycling_site(cc("CN")),
        lot: scrap,
        recycler: "Shenzhen Scrap".into(),
        category: MagnetCategory::EvMotor,
        scrap: ScrapClass::PostConsumer,
        country: cc("CN"),
        mass_g: 1_000_000,
        content: Composition::new(vec![(Element::Pr, 70_000), (Element::Nd, 230_000)]).unwrap(),
        documents: vec![],
    });
    let ox = campaign_with(intake, scrap, &mut l);
    let bytes = l.bundle(ox).encode();
    let r = verify(&bytes, &Policy::default(), None);
    assert!(r.authentic);
    assert_eq!(r.exit_code(), 1);
    assert_eq!(r.claim, "mass_balance");
    assert!(
        names(&r, "denied_origin_countries", scrap),
        "{:?}",
        r.violations
    );
    // The explicit opt-in lets recycled feed from a denied country through, claim included.
    let allow = Policy::from_toml("allow_denied_countries_in_recycled_feed = true").unwrap();
    let r = verify(&bytes, &allow, None);
    assert_eq!(r.exit_code(), 0, "{:?}", r.violations);
    assert_eq!(r.claim, "segregated");
}

/// Attack 8: a CN ore lot whose assay gives it no Nd or Pr was charged into the campaign; the
/// NdPr output used to be "segregated" because no gram of it was attributed to CN.
#[test]
fn a_denied_lot_physically_charged_makes_the_claim_mass_balance_whatever_its_assay() {
    let mut l = Ledger::new();
    let cn = l.lot();
    let receipt = EventKind::OreReceipt(OreReceipt {
        facility: ree_core::testkit::mine(cc("CN")),
        lot: cn,
        supplier: "trader".into(),
        mine_site: "Bayan Obo".into(),
        country: cc("CN"),
        mass_g: 1_000_000,
        reo_grade_ppm: 400_000,
        assay: Composition::new(vec![(Element::La, 100_000), (Element::Ce, 200_000)]).unwrap(),
        documents: vec![],
    });
    let ox = campaign_with(receipt, cn, &mut l);
    let bytes = l.bundle(ox).encode();
    let r = verify(&bytes, &Policy::default(), None);
    assert!(r.authentic);
    assert!(
        !r.origin_shares.contains_key("CN"),
        "no gram is attributed to CN: {:?}",
        r.origin_shares
    );
    assert_eq!(r.claim, "mass_balance");
    assert_eq!(r.exit_code(), 1);
    assert!(
        names(&r, "denied_origin_countries", cn),
        "{:?}",
        r.violations
    );
    let seg = Policy::from_toml("required_claim = \"segregated\"").unwrap();
    let r = verify(&bytes, &seg, None);
    assert!(names(&r, "required_claim", ox), "{:?}", r.violations);
}
