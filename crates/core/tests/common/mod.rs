//! What the claims property tests share: a ledger of the testkit team driven through the one
//! rule book (`Staged::append`, as the engine does), the test assays and oxides, and the model of
//! a campaign that the two properties are checked against. The model learns only from the
//! events the test submitted, never from the engine's state of the quantity it checks.
#![allow(dead_code)] // each test binary uses its part

use proptest::prelude::*;
use ree_core::element::{Element, Oxide, N_ELEMENTS, PPM};
use ree_core::event::{countersign, Composition, EventKind};
use ree_core::provenance::{Claim, Provenance};
use ree_core::state::{LotDetail, LotState, LotView, Staged, ELEMENT_BALANCE_TOLERANCE_PPM};
use ree_core::testkit::{Member, Team};
use ree_core::{Country, EventBody, EventId, LedgerState, LotId, UtcMicros};

pub const NOW: UtcMicros = UtcMicros(1_760_000_000_000_000);
pub const COUNTRIES: [&str; 3] = ["AU", "CN", "US"];
pub const ELEMENTS: [Element; 4] = [Element::Nd, Element::Pr, Element::La, Element::Dy];

/// The assays a test picks from; index 0 is no assay at all (valid at receipt only).
pub fn assays() -> Vec<Composition> {
    let c = |v: Vec<(Element, u32)>| Composition::new(v).expect("a valid test assay");
    vec![
        Composition::default(),
        c(vec![(Element::Nd, 100_000), (Element::Pr, 30_000)]),
        c(vec![(Element::La, 200_000), (Element::Ce, 100_000)]),
        c(vec![(Element::Dy, 20_000)]),
        c(vec![
            (Element::Nd, 230_000),
            (Element::Pr, 70_000),
            (Element::Dy, 10_000),
        ]),
    ]
}

pub fn oxides() -> [Oxide; 4] {
    [
        Oxide::NdPr { nd2o3_ppm: 750_000 },
        Oxide::Single(Element::Nd),
        Oxide::Single(Element::La),
        Oxide::Single(Element::Dy),
    ]
}

/// The `i`th item, modulo the count: most generated operations find something to act on.
pub fn pick<T: Copy>(v: &[T], i: usize) -> Option<T> {
    (!v.is_empty()).then(|| v[i % v.len()])
}

/// The testkit team's ledger, checked and committed event by event.
pub struct Ledger {
    pub team: Team,
    pub state: LedgerState,
    n: u128,
}

impl Ledger {
    /// The team registered, with its sites and the laboratory's certificate.
    pub fn new() -> Ledger {
        let team = Team::new(12);
        let mut state = LedgerState::new();
        for (bytes, sig) in team.registry_events(NOW) {
            let body = EventBody::decode(&bytes).expect("testkit body");
            let mut s = Staged::new(&state, state.next_global_seq());
            s.append(&bytes, &body, Some(sig), NOW).expect("registry");
            let c = s.into_changes();
            state.commit(c);
        }
        Ledger { team, state, n: 0 }
    }
    /// A fresh id (lots and events).
    pub fn id(&mut self) -> uuid::Uuid {
        self.n += 1;
        uuid::Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0000 + self.n)
    }
    /// Submits an event signed by its usual signer (`Team::signer_for`); true if accepted.
    pub fn submit(&mut self, kind: EventKind) -> bool {
        let who = self.team.signer_for(&kind).clone();
        self.submit_as(&who, kind, None).is_ok()
    }
    /// Submits an event as the engine checks it: stateless rules, then the rule book in a staged
    /// overlay, committed only if accepted. The body commits to the heads it sees (an honest
    /// signer); `countersigner` countersigns it (adjustments). Err is the refusal's text.
    pub fn submit_as(
        &mut self,
        who: &Member,
        kind: EventKind,
        countersigner: Option<&Member>,
    ) -> Result<(), String> {
        let mut body = EventBody {
            event_id: EventId(self.id()),
            occurred_at: NOW,
            expected_head: None,
            kind,
        };
        body.commit_to(|l| self.state.lot(l).map(|s| s.head));
        if let Some(c) = countersigner {
            countersign(&mut body, &c.secret).map_err(|e| e.to_string())?;
        }
        body.validate(NOW).map_err(|e| e.to_string())?;
        let bytes = body.encode().map_err(|e| e.to_string())?;
        let sig = who.sign(&bytes);
        let mut s = Staged::new(&self.state, self.state.next_global_seq());
        s.append(&bytes, &body, Some(sig), NOW)
            .map_err(|e| format!("{e:?}"))?;
        let c = s.into_changes();
        self.state.commit(c);
        Ok(())
    }
    /// What a refused event must leave as it was: the lot's whole state and the global order.
    pub fn snapshot(&self, lot: &LotId) -> (u64, Option<LotState>) {
        (self.state.next_global_seq(), self.state.lot(lot).cloned())
    }
}

/// What the model knows of a campaign from the events alone.
#[derive(Default)]
pub struct CampaignModel {
    /// Grams of each element the inputs' assays in effect at charge time account for.
    pub assayed: [u64; N_ELEMENTS],
    /// Grams of each element attributed to its outputs so far.
    pub attributed: [u64; N_ELEMENTS],
    pub denied_charged: bool,
}

impl CampaignModel {
    /// An accepted charge of `mass_g` of an input from `country` whose assay in effect (as the
    /// model knows it) is `assay`.
    pub fn charge(&mut self, assay: &Composition, mass_g: u64, country: Country) {
        for (e, ppm) in assay.entries() {
            self.assayed[e.index()] += (mass_g as u128 * *ppm as u128 / PPM as u128) as u64;
        }
        self.denied_charged |= country.as_str() == "CN";
    }
    /// The two properties, on an accepted output lot: attributed grams of each element over the
    /// campaign's outputs stay within the assayed grams charged (× the tolerance), and the claim
    /// is segregated exactly when no denied-country lot was charged before it.
    pub fn check_output(&mut self, lot: &LotState) -> Result<(), TestCaseError> {
        let LotDetail::Oxide { attribution, .. } = &lot.detail else {
            return Err(TestCaseError::fail("an output is an oxide lot"));
        };
        for e in ELEMENTS {
            let i = e.index();
            self.attributed[i] += attribution.by_source.values().map(|a| a[i]).sum::<u64>();
            let allowed = self.assayed[i] as u128 * (PPM + ELEMENT_BALANCE_TOLERANCE_PPM) as u128
                / PPM as u128;
            prop_assert!(
                self.attributed[i] as u128 <= allowed,
                "{}: {} g attributed, {} g assayed charged",
                e.symbol(),
                self.attributed[i],
                self.assayed[i]
            );
        }
        let cn = Country::parse("CN").expect("CN");
        let claim = Provenance::of(lot).claim(&[cn], &[cn]);
        let expected = if self.denied_charged {
            Claim::MassBalance
        } else {
            Claim::Segregated
        };
        prop_assert_eq!(
            claim,
            expected,
            "CN charged before the output: {}",
            self.denied_charged
        );
        Ok(())
    }
}
