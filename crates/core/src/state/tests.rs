//! Signers and sums, through staged submissions.

use super::*;
use crate::country::Country;
use crate::element::Element;
use crate::event::{AssayRecorded, InputCharged, KeyRevoked, OreReceipt};
use crate::event::{Composition, Role};
use crate::ids::EventId;
use crate::ids::{Hash32, LotId, REGISTRY_LOT};
use crate::testkit::{Member, Team};
use crate::time::UtcMicros;

const NOW: UtcMicros = UtcMicros(1_760_000_000_000_000);

fn with_team() -> (LedgerState, Team) {
    let team = Team::new(1);
    let mut state = LedgerState::new();
    for (bytes, sig) in team.registry_events(NOW) {
        let body = EventBody::decode(&bytes).unwrap();
        let mut s = Staged::new(&state, state.next_global_seq());
        s.append(&bytes, &body, Some(sig), NOW).unwrap();
        let c = s.into_changes();
        state.commit(c);
    }
    (state, team)
}

fn submit_as(state: &mut LedgerState, m: &Member, kind: EventKind) -> Result<(), RuleError> {
    let mut b = EventBody {
        event_id: EventId::new_v7(),
        occurred_at: NOW,
        expected_head: None,
        kind,
    };
    b.commit_to(|l| state.lot(l).map(|s| s.head));
    let bytes = b.encode().unwrap();
    let mut s = Staged::new(state, state.next_global_seq());
    s.append(&bytes, &b, Some(m.sign(&bytes)), NOW)?;
    let c = s.into_changes();
    state.commit(c);
    Ok(())
}

fn ore(lot: LotId) -> EventKind {
    EventKind::OreReceipt(OreReceipt {
        facility: crate::testkit::mine(Country::parse("AU").unwrap()),
        lot,
        supplier: "s".into(),
        mine_site: "m".into(),
        country: Country::parse("AU").unwrap(),
        mass_g: 10,
        reo_grade_ppm: 1,
        assay: Composition::new(vec![(Element::Nd, 1)]).unwrap(),
        documents: vec![],
    })
}

fn assay(lot: LotId) -> EventKind {
    EventKind::AssayRecorded(AssayRecorded {
        facility: Some(crate::testkit::laboratory()),
        lot,
        lab: "lab".into(),
        content: Composition::new(vec![(Element::Nd, 2)]).unwrap(),
        certificate: Hash32([1; 32]),
    })
}

#[test]
fn signers_need_a_registered_key_the_right_role_and_their_own_lots() {
    let (mut state, t) = with_team();
    let lot = LotId::new_v7();
    // Unsigned, and signed by an unknown key: unauthenticated.
    let b = EventBody {
        event_id: EventId::new_v7(),
        occurred_at: NOW,
        expected_head: None,
        kind: ore(lot),
    };
    let mut s = Staged::new(&state, state.next_global_seq());
    assert!(matches!(
        s.append(&b.encode().unwrap(), &b, None, NOW),
        Err(RuleError::Unauthenticated(_))
    ));
    let stranger = Member::derive(9, "stranger", Role::Supplier, "AU");
    assert!(matches!(
        submit_as(&mut state, &stranger, ore(lot)),
        Err(RuleError::Unauthenticated(_))
    ));
    // The wrong role: the plant may not receive ore, a customer may not assay.
    assert!(matches!(
        submit_as(&mut state, &t.plant, ore(lot)),
        Err(RuleError::Forbidden(_))
    ));
    submit_as(&mut state, &t.supplier, ore(lot)).unwrap();
    assert_eq!(state.lot(&lot).unwrap().owner, t.supplier.id);
    assert!(matches!(
        submit_as(&mut state, &t.customer, assay(lot)),
        Err(RuleError::Forbidden(_))
    ));
    // Another supplier may not touch the lot, its owner and the plant may assay it.
    let e = submit_as(&mut state, &t.supplier2, assay(lot)).unwrap_err();
    assert!(
        matches!(&e, RuleError::Forbidden(m) if m.contains("belongs to another participant")),
        "{e}"
    );
    assert!(matches!(
        submit_as(&mut state, &t.supplier2, ore(lot)),
        Err(RuleError::Forbidden(_))
    ));
    // The owner declares (no laboratory named); the plant may assay nothing; a laboratory's
    // assay supersedes the declaration, which can then no longer replace it.
    let declared = |lot| match assay(lot) {
        EventKind::AssayRecorded(a) => EventKind::AssayRecorded(AssayRecorded {
            facility: None,
            ..a
        }),
        k => k,
    };
    let e = submit_as(&mut state, &t.supplier, assay(lot)).unwrap_err();
    assert!(e.to_string().contains("assay_recorded.facility_id"), "{e}");
    submit_as(&mut state, &t.supplier, declared(lot)).unwrap();
    assert!(matches!(
        submit_as(&mut state, &t.plant, declared(lot)),
        Err(RuleError::Forbidden(_))
    ));
    submit_as(&mut state, &t.lab, assay(lot)).unwrap();
    let e = submit_as(&mut state, &t.supplier, declared(lot)).unwrap_err();
    assert!(
        e.to_string().contains("laboratory's assay is in effect"),
        "{e}"
    );
    // Only administrators change the registry.
    let revoke = EventKind::KeyRevoked(KeyRevoked {
        participant: t.supplier.id,
        public_key: t.supplier.public_key,
        reason: "key lost".into(),
    });
    assert!(matches!(
        submit_as(&mut state, &t.plant, revoke.clone()),
        Err(RuleError::Forbidden(_))
    ));
    submit_as(&mut state, &t.admin, revoke).unwrap();
    // After the revocation the key signs nothing more.
    assert!(matches!(
        submit_as(&mut state, &t.supplier, assay(lot)),
        Err(RuleError::Unauthenticated(m)) if m.contains("revoked")
    ));
}

#[test]
fn the_first_event_must_be_a_self_signed_administrator() {
    let t = Team::new(2);
    let mut state = LedgerState::new();
    assert!(matches!(
        submit_as(&mut state, &t.supplier, ore(LotId::new_v7())),
        Err(RuleError::Unauthenticated(_))
    ));
    // A supplier registering itself is not an administrator bootstrapping the registry.
    assert!(matches!(
        submit_as(&mut state, &t.supplier, t.supplier.registration()),
        Err(RuleError::Unauthenticated(_))
    ));
    // Nor is an administrator registration signed by some other key.
    assert!(matches!(
        submit_as(&mut state, &t.supplier, t.admin.registration()),
        Err(RuleError::Unauthenticated(_))
    ));
    submit_as(&mut state, &t.admin, t.admin.registration()).unwrap();
    assert_eq!(state.lot(&REGISTRY_LOT).unwrap().kind(), LotKind::Registry);
}

#[test]
fn sums_never_wrap() {
    // A campaign whose balance is already near the top of u64: a further charge is refused
    // as an overflow, not wrapped around.
    let (mut state, t) = with_team();
    let (camp, input) = (LotId::new_v7(), LotId::new_v7());
    submit_as(
        &mut state,
        &t.plant,
        EventKind::CampaignOpened(crate::event::CampaignOpened {
            facility_id: crate::testkit::separation_site(Country::parse("FR").unwrap()),
            campaign: camp,
            facility: "f".into(),
            country: Country::parse("FR").unwrap(),
        }),
    )
    .unwrap();
    submit_as(&mut state, &t.supplier, ore(input)).unwrap();
    if let Some(l) = state.lots.get_mut(&camp) {
        l.balance_g = u64::MAX - 5;
    }
    let e = submit_as(
        &mut state,
        &t.plant,
        EventKind::InputCharged(InputCharged {
            campaign: camp,
            input,
            mass_g: 10,
            input_head: Default::default(),
        }),
    )
    .unwrap_err();
    assert!(e.to_string().contains("overflows"), "{e}");
}

/// Attack 2: a laboratory's later re-assay (Nd 1 ppm → 990,000 ppm) changes no earlier charge:
/// the campaign keeps the grams the assay in effect at charge time gave, each charge records
/// which assay that was, and the re-assay's shift is kept for the verifier to judge.
#[test]
fn a_later_reassay_changes_no_earlier_charge() {
    let (mut state, t) = with_team();
    let (camp, input) = (LotId::new_v7(), LotId::new_v7());
    let fr = Country::parse("FR").unwrap();
    let open = EventKind::CampaignOpened(crate::event::CampaignOpened {
        facility_id: crate::testkit::separation_site(fr),
        campaign: camp,
        facility: "f".into(),
        country: fr,
    });
    submit_as(&mut state, &t.plant, open).unwrap();
    let receipt = match ore(input) {
        EventKind::OreReceipt(o) => EventKind::OreReceipt(OreReceipt {
            mass_g: 1_000_000,
            assay: Composition::new(vec![(Element::Nd, 100_000)]).unwrap(),
            ..o
        }),
        k => k,
    };
    submit_as(&mut state, &t.supplier, receipt).unwrap();
    let charge = |mass_g| {
        EventKind::InputCharged(InputCharged {
            campaign: camp,
            input,
            mass_g,
            input_head: Default::default(),
        })
    };
    submit_as(&mut state, &t.plant, charge(400_000)).unwrap();
    let nd =
        |s: &LedgerState| s.lot(&camp).unwrap().campaign().unwrap().charged_el[Element::Nd.index()];
    let before = nd(&state);
    assert_eq!(before, 40_000);
    let reassay = EventKind::AssayRecorded(AssayRecorded {
        lot: input,
        facility: Some(crate::testkit::laboratory()),
        lab: "lab".into(),
        content: Composition::new(vec![(Element::Nd, 990_000)]).unwrap(),
        certificate: Hash32([2; 32]),
    });
    submit_as(&mut state, &t.lab, reassay).unwrap();
    assert_eq!(nd(&state), before, "the earlier charge keeps its assay");
    submit_as(&mut state, &t.plant, charge(100_000)).unwrap();
    assert_eq!(
        nd(&state),
        40_000 + 99_000,
        "a later charge uses the new assay"
    );
    let src = state.lot(&input).unwrap().source_lot().unwrap().clone();
    assert_eq!(src.assays.len(), 2);
    assert_eq!(
        src.assays.get(1).unwrap().by,
        AssayBy::Laboratory(crate::testkit::laboratory())
    );
    assert_eq!(src.assays.get(1).unwrap().shift_ppm, 890_000);
    let used: Vec<usize> = src.charges.iter().map(|c| c.assay).collect();
    assert_eq!(
        used,
        vec![0, 1],
        "each charge names the assay in effect when it was made"
    );
}
