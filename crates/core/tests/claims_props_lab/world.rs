//! The model's world: the operations a run draws, the ledger they are submitted to, and what the
//! model tracks of each input and campaign. `expect` is where a predicted outcome is checked.

use std::collections::BTreeMap;

use super::common::{CampaignModel, Ledger, NOW};
use proptest::prelude::*;
use ree_core::event::*;
use ree_core::registry::LAB_SCHEME;
use ree_core::testkit::Member;
use ree_core::{Country, FacilityId, Hash32, LotId, UtcMicros};

#[derive(Clone, Debug)]
pub(crate) enum Op {
    /// A supplier's ore lot, with its declared assay (0: none).
    Ore {
        country: usize,
        mass: u64,
        assay: usize,
    },
    /// A recycler's scrap lot, with its declared content.
    Scrap {
        country: usize,
        post: bool,
        mass: u64,
        assay: usize,
    },
    /// The certified laboratory assays an input (1..5: an assay carries content).
    LabAssay {
        input: usize,
        assay: usize,
    },
    /// The input's owner re-declares its assay.
    Declare {
        input: usize,
        assay: usize,
    },
    /// One of [`HOSTILE_ASSAYS`] tries to assay an input.
    HostileAssay {
        input: usize,
        how: usize,
    },
    /// The plant records a gain of `ppm` of the input's received mass, countersigned by
    /// [`COUNTERSIGNERS`]`[by]`.
    Gain {
        input: usize,
        ppm: u64,
        by: usize,
    },
    /// The plant records a loss.
    Loss {
        input: usize,
        mass: u64,
    },
    Open,
    /// A charge of `share_ppm` of the input's balance as the model knows it (at least 1 g);
    /// past 10^6, more than the input holds (hostile).
    Charge {
        campaign: usize,
        input: usize,
        share_ppm: u64,
    },
    /// An output of one oxide: mostly small, sometimes far beyond what was charged (hostile).
    Produce {
        campaign: usize,
        oxide: usize,
        mass: u64,
    },
}

/// Who countersigns a gain: only the first is an auditor.
pub(crate) const COUNTERSIGNERS: [&str; 4] = ["auditor", "nobody", "plant", "lab"];

/// Assays the rule book must refuse: (who signs, which facility it names, a fragment of the
/// refusal). `owner` stands for the input's owner.
pub(crate) const HOSTILE_ASSAYS: [(&str, Site, &str); 12] = [
    ("plant", Site::None, "may not submit assay_recorded"),
    ("plant", Site::Lab, "may not submit assay_recorded"),
    ("customer", Site::None, "may not submit assay_recorded"),
    ("auditor", Site::Lab, "may not submit assay_recorded"),
    ("supplier2", Site::None, "belongs to another participant"),
    (
        "owner",
        Site::Lab,
        "only a laboratory's assay names a laboratory",
    ),
    (
        "lab",
        Site::None,
        "a laboratory's assay names its laboratory facility",
    ),
    ("lab", Site::Separation, "is operated by participant"),
    (
        "lab",
        Site::Suspended,
        "holds no ISO/IEC 17025 certificate valid",
    ),
    (
        "lab",
        Site::Withdrawn,
        "holds no ISO/IEC 17025 certificate valid",
    ),
    (
        "lab",
        Site::Expired,
        "holds no ISO/IEC 17025 certificate valid",
    ),
    (
        "lab",
        Site::OtherScheme,
        "holds no ISO/IEC 17025 certificate valid",
    ),
];

/// The facility a hostile assay names.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Site {
    None,
    /// The certified laboratory.
    Lab,
    /// The plant's separation plant in FR.
    Separation,
    /// Laboratories of the laboratory participant whose ISO/IEC 17025 certificate was
    /// suspended, withdrawn, expired before now, or that holds only an ISO 14001 one.
    Suspended,
    Withdrawn,
    Expired,
    OtherScheme,
}

pub(crate) fn bad_lab(site: Site) -> FacilityId {
    let n = match site {
        Site::Suspended => 1,
        Site::Withdrawn => 2,
        Site::Expired => 3,
        _ => 4,
    };
    FacilityId(uuid::Uuid::from_u128(0x1ab0_0000 + n))
}

pub(crate) fn op() -> impl Strategy<Value = Op> {
    let input = 0..8usize;
    // Weighted towards charges and outputs, so most runs produce from assayed charges.
    prop_oneof![
        2 => (0..3usize, 1_000..1_000_000u64, 0..5usize)
            .prop_map(|(country, mass, assay)| Op::Ore { country, mass, assay }),
        2 => (0..3usize, any::<bool>(), 1_000..1_000_000u64, 0..5usize)
            .prop_map(|(country, post, mass, assay)| Op::Scrap { country, post, mass, assay }),
        2 => (input.clone(), 1..5usize).prop_map(|(input, assay)| Op::LabAssay { input, assay }),
        1 => (input.clone(), 1..5usize).prop_map(|(input, assay)| Op::Declare { input, assay }),
        2 => (input.clone(), 0..HOSTILE_ASSAYS.len())
            .prop_map(|(input, how)| Op::HostileAssay { input, how }),
        2 => (input.clone(), 1..30_000u64, 0..4usize)
            .prop_map(|(input, ppm, by)| Op::Gain { input, ppm, by }),
        1 => (input.clone(), 1..200_000u64).prop_map(|(input, mass)| Op::Loss { input, mass }),
        1 => Just(Op::Open),
        4 => (0..4usize, input, 1..1_100_000u64)
            .prop_map(|(campaign, input, share_ppm)| Op::Charge { campaign, input, share_ppm }),
        4 => (0..4usize, 0..4usize, prop_oneof![3 => 1..5_000u64, 1 => 1..400_000u64])
            .prop_map(|(campaign, oxide, mass)| Op::Produce { campaign, oxide, mass }),
    ]
}

/// What the model knows of an input lot from the events alone.
#[derive(Clone)]
pub(crate) struct Input {
    pub(crate) lot: LotId,
    pub(crate) country: Country,
    /// Ore (the supplier's) or scrap (the recycler's).
    pub(crate) ore: bool,
    pub(crate) received_g: u64,
    pub(crate) balance_g: u64,
    pub(crate) gains_g: u64,
    /// The assay in effect, and whether a laboratory set it.
    pub(crate) assay: Composition,
    pub(crate) by_lab: bool,
}

pub(crate) struct World {
    pub(crate) ledger: Ledger,
    pub(crate) inputs: Vec<Input>,
    pub(crate) campaigns: Vec<LotId>,
    pub(crate) model: BTreeMap<LotId, CampaignModel>,
    /// Accepted events by kind, and refused hostile ones: what a run exercised.
    pub(crate) tally: BTreeMap<&'static str, u32>,
    /// Campaigns charged from an input whose assay in effect was a laboratory's.
    pub(crate) lab_charged: std::collections::BTreeSet<LotId>,
}

impl World {
    /// The team's ledger, plus four laboratories of the laboratory participant that may not
    /// assay (see [`Site`]).
    pub(crate) fn new() -> World {
        let mut ledger = Ledger::new();
        let admin = ledger.team.admin.clone();
        let fr = Country::parse("FR").expect("FR");
        let bad = [
            (Site::Suspended, LAB_SCHEME, NOW.0 + 1_000_000),
            (Site::Withdrawn, LAB_SCHEME, NOW.0 + 1_000_000),
            (Site::Expired, LAB_SCHEME, NOW.0 - 1),
            (Site::OtherScheme, "ISO 14001", NOW.0 + 1_000_000),
        ];
        let mut events = vec![];
        for (site, scheme, until) in bad {
            let facility = bad_lab(site);
            events.push(EventKind::FacilityRegistered(FacilityRegistered {
                facility,
                name: format!("{site:?} laboratory"),
                kind: FacilityKind::Laboratory,
                country: fr,
                location: None,
                operator: ledger.team.lab.id,
            }));
            events.push(EventKind::CertificationGranted(CertificationGranted {
                facility,
                scheme: scheme.into(),
                certificate_id: format!("{site:?}"),
                issuer: "COFRAC".into(),
                document_digest: Hash32([3; 32]),
                valid_from: UtcMicros::EARLIEST,
                valid_until: UtcMicros(until),
            }));
        }
        let ended = |site: Site| CertificationEnded {
            facility: bad_lab(site),
            certificate_id: format!("{site:?}"),
            reason: "audit".into(),
        };
        events.push(EventKind::CertificationSuspended(CertificationSuspended(
            ended(Site::Suspended),
        )));
        events.push(EventKind::CertificationWithdrawn(CertificationWithdrawn(
            ended(Site::Withdrawn),
        )));
        for e in events {
            ledger.submit_as(&admin, e, None).expect("a bad laboratory");
        }
        World {
            ledger,
            inputs: vec![],
            campaigns: vec![],
            model: BTreeMap::new(),
            tally: BTreeMap::new(),
            lab_charged: Default::default(),
        }
    }

    /// A team member by name; `owner` is the input's owner, "nobody" is none.
    pub(crate) fn member(&self, name: &str, input: &Input) -> Option<Member> {
        let t = &self.ledger.team;
        Some(match name {
            "owner" if input.ore => t.supplier.clone(),
            "owner" => t.recycler.clone(),
            "plant" => t.plant.clone(),
            "customer" => t.customer.clone(),
            "auditor" => t.auditor.clone(),
            "supplier2" => t.supplier2.clone(),
            "lab" => t.lab.clone(),
            _ => return None,
        })
    }

    /// Submits an event on `lot` whose outcome the model predicts: accepted, or refused with
    /// `why` in the refusal and the lot and the global order unchanged. Returns the outcome.
    pub(crate) fn expect(
        &mut self,
        lot: LotId,
        who: &Member,
        kind: EventKind,
        countersigner: Option<&Member>,
        (accept, why): (bool, &str),
    ) -> Result<bool, TestCaseError> {
        let name = kind.name();
        let before = self.ledger.snapshot(&lot);
        let outcome = self.ledger.submit_as(who, kind, countersigner);
        match &outcome {
            Ok(()) => prop_assert!(
                accept,
                "{} by {} accepted, expected: {}",
                name,
                who.name,
                why
            ),
            Err(e) => {
                prop_assert!(!accept, "{} by {} refused: {}", name, who.name, e);
                prop_assert!(
                    e.contains(why),
                    "{} refused for {}, not for {}",
                    name,
                    e,
                    why
                );
                prop_assert!(
                    self.ledger.snapshot(&lot) == before,
                    "a refused {} changed the state",
                    name
                );
            }
        }
        self.count(if outcome.is_ok() { name } else { "refused" });
        Ok(outcome.is_ok())
    }

    pub(crate) fn count(&mut self, what: &'static str) {
        *self.tally.entry(what).or_default() += 1;
    }

    pub(crate) fn receive(&mut self, input: Input, kind: EventKind) -> Result<(), TestCaseError> {
        let who = self.member("owner", &input).expect("an owner");
        if self.expect(input.lot, &who, kind, None, (true, ""))? {
            self.inputs.push(input);
        }
        Ok(())
    }

    pub(crate) fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op.clone() {
            Op::Ore {
                country,
                mass,
                assay,
            } => self.ore(country, mass, assay),
            Op::Scrap {
                country,
                post,
                mass,
                assay,
            } => self.scrap(country, post, mass, assay),
            Op::LabAssay { input, assay } => self.assay(input, assay, "lab"),
            Op::Declare { input, assay } => self.assay(input, assay, "owner"),
            Op::HostileAssay { input, how } => self.hostile_assay(input, how),
            Op::Gain { input, ppm, by } => self.gain(input, ppm, by),
            Op::Loss { input, mass } => self.loss(input, mass),
            Op::Open => self.open(),
            Op::Charge {
                campaign,
                input,
                share_ppm,
            } => self.charge(campaign, input, share_ppm),
            Op::Produce {
                campaign,
                oxide,
                mass,
            } => self.produce(campaign, oxide, mass),
        }
    }
}
