//! Issue 12's property test with laboratories and auditors: random sequences of legitimate and
//! hostile supplier, recycler, laboratory, auditor-countersigned and plant events run through the
//! one rule book. A model kept beside it, from the events alone (each input's balance, gains and
//! assay in effect; each campaign's assayed grams and denied-country charges), says what the rule
//! book must decide and what must hold of every output:
//! - a certified laboratory's assay is accepted and supersedes the owner's declaration for later
//!   charges only; the owner may re-declare only while no laboratory assay is in effect;
//! - assays by the plant, a customer, an auditor, another supplier, a laboratory whose ISO/IEC
//!   17025 certificate is suspended, withdrawn, expired or of another scheme, or a laboratory
//!   naming no laboratory or another's site, are refused and change nothing;
//! - a gain is accepted exactly when an auditor countersigns it and the lot's gains stay within
//!   2% of its received mass; accepted gains (and losses) move the balance later charges draw on;
//! - no output has more attributed grams of an element than the assayed grams charged (by the
//!   assay in effect at each charge, × 1.02), over the campaign's outputs so far;
//! - an output is segregated exactly when no denied-country lot was charged before it.

mod common;

use std::collections::BTreeMap;

use common::{assays, oxides, pick, CampaignModel, Ledger, COUNTRIES, NOW};
use proptest::prelude::*;
use ree_core::event::*;
use ree_core::registry::LAB_SCHEME;
use ree_core::state::LotView;
use ree_core::testkit::{self as tk, Member};
use ree_core::{Country, FacilityId, Hash32, LotId, UtcMicros};

#[derive(Clone, Debug)]
enum Op {
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
    Charge {
        campaign: usize,
        input: usize,
        mass: u64,
    },
    /// An output of one oxide; `mass` may far exceed what was charged (hostile).
    Produce {
        campaign: usize,
        oxide: usize,
        mass: u64,
    },
}

/// Who countersigns a gain: only the first is an auditor.
const COUNTERSIGNERS: [&str; 4] = ["auditor", "nobody", "plant", "lab"];

/// Assays the rule book must refuse: (who signs, which facility it names, a fragment of the
/// refusal). `owner` stands for the input's owner.
const HOSTILE_ASSAYS: [(&str, Site, &str); 12] = [
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
enum Site {
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

fn bad_lab(site: Site) -> FacilityId {
    let n = match site {
        Site::Suspended => 1,
        Site::Withdrawn => 2,
        Site::Expired => 3,
        _ => 4,
    };
    FacilityId(uuid::Uuid::from_u128(0x1ab0_0000 + n))
}

fn op() -> impl Strategy<Value = Op> {
    let input = 0..8usize;
    prop_oneof![
        (0..3usize, 1_000..1_000_000u64, 0..5usize).prop_map(|(country, mass, assay)| Op::Ore {
            country,
            mass,
            assay
        }),
        (0..3usize, any::<bool>(), 1_000..1_000_000u64, 0..5usize).prop_map(
            |(country, post, mass, assay)| Op::Scrap {
                country,
                post,
                mass,
                assay
            }
        ),
        (input.clone(), 1..5usize).prop_map(|(input, assay)| Op::LabAssay { input, assay }),
        (input.clone(), 1..5usize).prop_map(|(input, assay)| Op::Declare { input, assay }),
        (input.clone(), 0..HOSTILE_ASSAYS.len())
            .prop_map(|(input, how)| Op::HostileAssay { input, how }),
        (input.clone(), 1..30_000u64, 0..4usize).prop_map(|(input, ppm, by)| Op::Gain {
            input,
            ppm,
            by
        }),
        (input.clone(), 1..200_000u64).prop_map(|(input, mass)| Op::Loss { input, mass }),
        Just(Op::Open),
        (0..4usize, input, 1..1_000_000u64).prop_map(|(campaign, input, mass)| Op::Charge {
            campaign,
            input,
            mass
        }),
        (0..4usize, 0..4usize, 1..400_000u64).prop_map(|(campaign, oxide, mass)| Op::Produce {
            campaign,
            oxide,
            mass
        }),
    ]
}

/// What the model knows of an input lot from the events alone.
#[derive(Clone)]
struct Input {
    lot: LotId,
    country: Country,
    /// Ore (the supplier's) or scrap (the recycler's).
    ore: bool,
    received_g: u64,
    balance_g: u64,
    gains_g: u64,
    /// The assay in effect, and whether a laboratory set it.
    assay: Composition,
    by_lab: bool,
}

struct World {
    ledger: Ledger,
    inputs: Vec<Input>,
    campaigns: Vec<LotId>,
    model: BTreeMap<LotId, CampaignModel>,
    /// Accepted events by kind, and refused hostile ones: what a run exercised.
    tally: BTreeMap<&'static str, u32>,
}

impl World {
    /// The team's ledger, plus four laboratories of the laboratory participant that may not
    /// assay (see [`Site`]).
    fn new() -> World {
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
        }
    }

    /// A team member by name; `owner` is the input's owner, "nobody" is none.
    fn member(&self, name: &str, input: &Input) -> Option<Member> {
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
    fn expect(
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
                prop_assert!(accept == false, "{} by {} refused: {}", name, who.name, e);
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
        let key = if outcome.is_ok() { name } else { "refused" };
        *self.tally.entry(key).or_default() += 1;
        Ok(outcome.is_ok())
    }

    fn receive(&mut self, input: Input, kind: EventKind) -> Result<(), TestCaseError> {
        let who = self.member("owner", &input).expect("an owner");
        if self.expect(input.lot, &who, kind, None, (true, ""))? {
            self.inputs.push(input);
        }
        Ok(())
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
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
                mass,
            } => self.charge(campaign, input, mass),
            Op::Produce {
                campaign,
                oxide,
                mass,
            } => self.produce(campaign, oxide, mass),
        }
    }
}

/// One method per operation.
impl World {
    fn new_input(&mut self, country: usize, ore: bool, mass: u64, assay: usize) -> Input {
        Input {
            lot: LotId(self.ledger.id()),
            country: Country::parse(COUNTRIES[country]).expect("country"),
            ore,
            received_g: mass,
            balance_g: mass,
            gains_g: 0,
            assay: assays()[assay].clone(),
            by_lab: false,
        }
    }

    fn ore(&mut self, country: usize, mass: u64, assay: usize) -> Result<(), TestCaseError> {
        let i = self.new_input(country, true, mass, assay);
        let kind = EventKind::OreReceipt(OreReceipt {
            facility: tk::mine(i.country),
            lot: i.lot,
            supplier: "s".into(),
            mine_site: "m".into(),
            country: i.country,
            mass_g: mass,
            reo_grade_ppm: 400_000,
            assay: i.assay.clone(),
            documents: vec![],
        });
        self.receive(i, kind)
    }

    fn scrap(
        &mut self,
        country: usize,
        post: bool,
        mass: u64,
        assay: usize,
    ) -> Result<(), TestCaseError> {
        let i = self.new_input(country, false, mass, assay);
        let kind = EventKind::MagnetIntake(MagnetIntake {
            facility: tk::recycling_site(i.country),
            lot: i.lot,
            recycler: "r".into(),
            category: MagnetCategory::EvMotor,
            scrap: if post {
                ScrapClass::PostConsumer
            } else {
                ScrapClass::PreConsumer
            },
            country: i.country,
            mass_g: mass,
            content: i.assay.clone(),
            documents: vec![],
        });
        self.receive(i, kind)
    }

    /// The certified laboratory's assay (always accepted) or the owner's declaration (accepted
    /// only while no laboratory assay is in effect); either is in effect for later charges.
    fn assay(&mut self, input: usize, assay: usize, by: &str) -> Result<(), TestCaseError> {
        let Some(k) = (!self.inputs.is_empty()).then(|| input % self.inputs.len()) else {
            return Ok(());
        };
        let i = self.inputs[k].clone();
        let who = self.member(by, &i).expect("a member");
        let lab = by == "lab";
        let content = assays()[assay].clone();
        let kind = EventKind::AssayRecorded(AssayRecorded {
            facility: lab.then(tk::laboratory),
            lot: i.lot,
            lab: "lab".into(),
            content: content.clone(),
            certificate: Hash32([5; 32]),
        });
        let predicted = (lab || !i.by_lab, "a laboratory's assay is in effect");
        if self.expect(i.lot, &who, kind, None, predicted)? {
            self.inputs[k].assay = content;
            self.inputs[k].by_lab |= lab;
        }
        Ok(())
    }

    fn hostile_assay(&mut self, input: usize, how: usize) -> Result<(), TestCaseError> {
        let Some(k) = (!self.inputs.is_empty()).then(|| input % self.inputs.len()) else {
            return Ok(());
        };
        let i = self.inputs[k].clone();
        let (name, site, why) = HOSTILE_ASSAYS[how];
        let who = self.member(name, &i).expect("a member");
        let facility = match site {
            Site::None => None,
            Site::Lab => Some(tk::laboratory()),
            Site::Separation => Some(tk::separation_site(Country::parse("FR").expect("FR"))),
            s => Some(bad_lab(s)),
        };
        let kind = EventKind::AssayRecorded(AssayRecorded {
            facility,
            lot: i.lot,
            lab: "lab".into(),
            content: assays()[4].clone(),
            certificate: Hash32([6; 32]),
        });
        self.expect(i.lot, &who, kind, None, (false, why))?;
        Ok(())
    }

    /// A gain is accepted exactly when an auditor countersigns it and the lot's gains stay
    /// within 2% (1/50) of its received mass.
    fn gain(&mut self, input: usize, ppm: u64, by: usize) -> Result<(), TestCaseError> {
        let Some(k) = (!self.inputs.is_empty()).then(|| input % self.inputs.len()) else {
            return Ok(());
        };
        let i = self.inputs[k].clone();
        let delta = (i.received_g * ppm / 1_000_000).max(1);
        let countersigner = self.member(COUNTERSIGNERS[by], &i);
        let within_cap = (i.gains_g + delta) * 50 <= i.received_g;
        let predicted = match COUNTERSIGNERS[by] {
            "auditor" => (within_cap, "over the cap of 2%"),
            "nobody" => (false, "needs an auditor's countersignature"),
            _ => (false, "not an auditor"),
        };
        let kind = EventKind::Adjustment(Adjustment {
            lot: i.lot,
            delta_g: delta as i64,
            reason: "stock count".into(),
            countersignature: None,
        });
        let plant = self.ledger.team.plant.clone();
        if self.expect(i.lot, &plant, kind, countersigner.as_ref(), predicted)? {
            self.inputs[k].gains_g += delta;
            self.inputs[k].balance_g += delta;
        }
        Ok(())
    }

    fn loss(&mut self, input: usize, mass: u64) -> Result<(), TestCaseError> {
        let Some(k) = (!self.inputs.is_empty()).then(|| input % self.inputs.len()) else {
            return Ok(());
        };
        let i = self.inputs[k].clone();
        let kind = EventKind::Adjustment(Adjustment {
            lot: i.lot,
            delta_g: -(mass as i64),
            reason: "spill".into(),
            countersignature: None,
        });
        let plant = self.ledger.team.plant.clone();
        let predicted = (mass <= i.balance_g, "exceeds the balance");
        if self.expect(i.lot, &plant, kind, None, predicted)? {
            self.inputs[k].balance_g -= mass;
        }
        Ok(())
    }

    fn open(&mut self) -> Result<(), TestCaseError> {
        let campaign = LotId(self.ledger.id());
        let fr = Country::parse("FR").expect("FR");
        let kind = EventKind::CampaignOpened(CampaignOpened {
            facility_id: tk::separation_site(fr),
            campaign,
            facility: "Lacq".into(),
            country: fr,
        });
        let plant = self.ledger.team.plant.clone();
        if self.expect(campaign, &plant, kind, None, (true, ""))? {
            self.campaigns.push(campaign);
            self.model.insert(campaign, CampaignModel::default());
        }
        Ok(())
    }

    /// A charge is accepted exactly when the model's balance of the input covers it (campaigns
    /// stay open); the campaign counts the input's elements by the assay in effect now.
    fn charge(&mut self, campaign: usize, input: usize, mass: u64) -> Result<(), TestCaseError> {
        let (Some(camp), Some(k)) = (
            pick(&self.campaigns, campaign),
            (!self.inputs.is_empty()).then(|| input % self.inputs.len()),
        ) else {
            return Ok(());
        };
        let i = self.inputs[k].clone();
        let kind = EventKind::InputCharged(InputCharged {
            campaign: camp,
            input: i.lot,
            mass_g: mass,
            input_head: Default::default(),
        });
        let plant = self.ledger.team.plant.clone();
        let predicted = (mass <= i.balance_g, "exceeds the balance");
        if self.expect(i.lot, &plant, kind, None, predicted)? {
            self.inputs[k].balance_g -= mass;
            let m = self.model.get_mut(&camp).expect("modelled");
            m.charge(&i.assay, mass, i.country);
        }
        Ok(())
    }

    /// Any output may be refused (balances); an accepted one must satisfy both properties.
    fn produce(&mut self, campaign: usize, oxide: usize, mass: u64) -> Result<(), TestCaseError> {
        let Some(camp) = pick(&self.campaigns, campaign) else {
            return Ok(());
        };
        let output = LotId(self.ledger.id());
        let kind = EventKind::OutputProduced(OutputProduced {
            campaign: camp,
            output,
            oxide: oxides()[oxide],
            mass_g: mass,
            purity_ppm: 990_000,
        });
        if !self.ledger.submit(kind) {
            return Ok(());
        }
        *self.tally.entry("output_produced").or_default() += 1;
        let lot = self.ledger.state.lot(&output).expect("the output exists");
        let m = self.model.get_mut(&camp).expect("modelled");
        m.check_output(lot)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
    #[test]
    fn laboratories_and_countersigned_gains_bend_no_bound_and_no_claim(
        ops in proptest::collection::vec(op(), 1..60)
    ) {
        let mut w = World::new();
        for o in &ops {
            w.step(o)?;
        }
    }
}
