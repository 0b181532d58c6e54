//! One method of [`World`] per operation: build the event, predict its outcome from the
//! model, submit it through [`World::expect`], and update the model from what was accepted.

use super::common::{assays, oxides, pick, CampaignModel, COUNTRIES};
use super::world::{bad_lab, Input, Site, World, COUNTERSIGNERS, HOSTILE_ASSAYS};
use proptest::prelude::*;
use ree_core::event::*;
use ree_core::state::LotView;
use ree_core::testkit as tk;
use ree_core::{Country, Hash32, LotId};

impl World {
    pub(crate) fn new_input(
        &mut self,
        country: usize,
        ore: bool,
        mass: u64,
        assay: usize,
    ) -> Input {
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

    pub(crate) fn ore(
        &mut self,
        country: usize,
        mass: u64,
        assay: usize,
    ) -> Result<(), TestCaseError> {
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

    pub(crate) fn scrap(
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
    pub(crate) fn assay(
        &mut self,
        input: usize,
        assay: usize,
        by: &str,
    ) -> Result<(), TestCaseError> {
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
            if lab {
                self.count("laboratory assay");
            }
        }
        Ok(())
    }

    pub(crate) fn hostile_assay(&mut self, input: usize, how: usize) -> Result<(), TestCaseError> {
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
    pub(crate) fn gain(&mut self, input: usize, ppm: u64, by: usize) -> Result<(), TestCaseError> {
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
            self.count("countersigned gain");
        }
        Ok(())
    }

    pub(crate) fn loss(&mut self, input: usize, mass: u64) -> Result<(), TestCaseError> {
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

    pub(crate) fn open(&mut self) -> Result<(), TestCaseError> {
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

    /// A charge of a share of the input's balance is accepted exactly when the model's balance of the input covers it (campaigns
    /// stay open); the campaign counts the input's elements by the assay in effect now.
    pub(crate) fn charge(
        &mut self,
        campaign: usize,
        input: usize,
        share_ppm: u64,
    ) -> Result<(), TestCaseError> {
        let (Some(camp), Some(k)) = (
            pick(&self.campaigns, campaign),
            (!self.inputs.is_empty()).then(|| input % self.inputs.len()),
        ) else {
            return Ok(());
        };
        let i = self.inputs[k].clone();
        let mass = (i.balance_g as u128 * share_ppm as u128 / 1_000_000) as u64;
        let mass = mass.max(1);
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
            if mass > i.balance_g.saturating_sub(i.gains_g) {
                self.count("charge drawing on gains");
            }
            if i.by_lab {
                self.lab_charged.insert(camp);
            }
            let m = self.model.get_mut(&camp).expect("modelled");
            m.charge(&i.assay, mass, i.country);
        }
        Ok(())
    }

    /// Any output may be refused (balances); an accepted one must satisfy both properties.
    pub(crate) fn produce(
        &mut self,
        campaign: usize,
        oxide: usize,
        mass: u64,
    ) -> Result<(), TestCaseError> {
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
        self.count("output_produced");
        if self.lab_charged.contains(&camp) {
            self.count("output after a laboratory assay");
        }
        let lot = self.ledger.state.lot(&output).expect("the output exists");
        let m = self.model.get_mut(&camp).expect("modelled");
        m.check_output(lot)
    }
}
