//! Builds ledgers with the core alone (no store, no server) for verifier tests and benches.
#![allow(dead_code)]

use ree_core::bundle::Bundle;
use ree_core::element::{Element, Oxide};
use ree_core::event::*;
use ree_core::state::{Appended, Staged};
use ree_core::testkit::Team;
use ree_core::{Country, EventBody, EventId, Hash32, LedgerState, LotId, UtcMicros};

pub const NOW: UtcMicros = UtcMicros(1_760_000_000_000_000);

pub struct Ledger {
    pub state: LedgerState,
    pub records: Vec<Appended>,
    pub team: Team,
    n: u64,
}

impl Ledger {
    /// A ledger whose registry holds the test team (seed 7).
    pub fn new() -> Self {
        Self::with_team(Team::new(7))
    }
    /// A ledger whose registry holds `team`.
    pub fn with_team(team: Team) -> Self {
        let mut l = Ledger {
            state: LedgerState::new(),
            records: vec![],
            team,
            n: 0,
        };
        for (bytes, sig) in l.team.registry_events(NOW) {
            let body = EventBody::decode(&bytes).expect("testkit body");
            l.push(&bytes, &body, sig);
        }
        l
    }
    fn push(
        &mut self,
        bytes: &[u8],
        body: &EventBody,
        sig: ree_core::record::Signature,
    ) -> Vec<Appended> {
        let next = self.state.next_global_seq();
        let mut s = Staged::new(&self.state, next);
        let out = s
            .append(bytes, body, Some(sig), NOW)
            .expect("scenario event is accepted");
        let c = s.into_changes();
        self.state.commit(c);
        self.records.extend(out.iter().cloned());
        out
    }
    fn id(&mut self) -> uuid::Uuid {
        self.n += 1;
        uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | self.n as u128)
    }
    pub fn lot(&mut self) -> LotId {
        LotId(self.id())
    }
    pub fn append(&mut self, kind: EventKind) -> Vec<Appended> {
        let mut body = EventBody {
            event_id: EventId(self.id()),
            occurred_at: NOW,
            expected_head: None,
            kind,
        };
        body.commit_to(|l| ree_core::state::LotView::lot(&self.state, l).map(|s| s.head));
        body.validate(NOW).expect("scenario body is valid");
        let (bytes, sig) = self.team.sign(&body);
        self.push(&bytes, &body, sig)
    }
    /// Every record, in global order, as a bundle for `lot` (the scenarios below put every record
    /// upstream of the oxide lot), with the registry records it does not need withheld, as the
    /// server exports it.
    pub fn bundle(&self, lot: LotId) -> Bundle {
        use ree_core::state::LotView;
        let st = self.state.lot(&lot).expect("lot exists");
        let recs: Vec<(&ree_core::Record, &[u8])> = self
            .records
            .iter()
            .map(|a| (&a.record, a.bytes.as_slice()))
            .collect();
        Bundle::disclosing(lot, st.head_seq(), st.head, &recs)
    }
    /// Every record, nothing withheld (a version 1 bundle's content).
    pub fn full_bundle(&self, lot: LotId) -> Bundle {
        Bundle {
            records: self.records.iter().map(|a| a.bytes.clone()).collect(),
            withheld: vec![],
            ..self.bundle(lot)
        }
    }
}

pub fn cc(s: &str) -> Country {
    Country::parse(s).unwrap()
}

/// `inputs` ore lots from `countries` (round robin) and `magnets` recycled lots, all charged into
/// one campaign, then one NdPr oxide lot produced and part of it shipped. Returns the ledger and
/// the oxide lot.
pub fn separation(inputs: usize, magnets: usize, countries: &[&str]) -> (Ledger, LotId) {
    let mut l = Ledger::new();
    let camp = l.lot();
    l.append(EventKind::CampaignOpened(CampaignOpened {
        facility_id: ree_core::testkit::separation_site(cc("FR")),
        campaign: camp,
        facility: "Lacq".into(),
        country: cc("FR"),
    }));
    let mut ids = vec![];
    for i in 0..inputs {
        let lot = l.lot();
        l.append(EventKind::OreReceipt(OreReceipt {
            facility: ree_core::testkit::mine(cc(countries[i % countries.len()])),
            lot,
            supplier: format!("supplier {i}"),
            mine_site: "site".into(),
            country: cc(countries[i % countries.len()]),
            mass_g: 100_000_000,
            reo_grade_ppm: 400_000,
            assay: Composition::new(vec![
                (Element::Pr, 20_000),
                (Element::Nd, 60_000),
                (Element::Dy, 2_000),
            ])
            .unwrap(),
            documents: vec![Document {
                kind: DocKind::CertificateOfOrigin,
                digest: Hash32([i as u8; 32]),
            }],
        }));
        ids.push(lot);
    }
    for i in 0..magnets {
        let lot = l.lot();
        l.append(EventKind::MagnetIntake(MagnetIntake {
            facility: ree_core::testkit::recycling_site(cc("DE")),
            lot,
            recycler: format!("recycler {i}"),
            category: MagnetCategory::EvMotor,
            scrap: if i % 2 == 0 {
                ScrapClass::PostConsumer
            } else {
                ScrapClass::PreConsumer
            },
            country: cc("DE"),
            mass_g: 20_000_000,
            content: Composition::new(vec![
                (Element::Pr, 70_000),
                (Element::Nd, 230_000),
                (Element::Dy, 10_000),
            ])
            .unwrap(),
            documents: vec![],
        }));
        ids.push(lot);
    }
    for lot in ids {
        let mass = if l
            .state
            .lots()
            .any(|s| s.id == lot && s.kind() == ree_core::state::LotKind::Ore)
        {
            100_000_000
        } else {
            20_000_000
        };
        l.append(EventKind::InputCharged(InputCharged {
            campaign: camp,
            input: lot,
            mass_g: mass,
            input_head: Default::default(),
        }));
    }
    let ox = l.lot();
    let nd_g: u64 = (inputs as u64 * 6_000_000 + magnets as u64 * 4_600_000) / 2;
    l.append(EventKind::OutputProduced(OutputProduced {
        campaign: camp,
        output: ox,
        oxide: Oxide::NdPr { nd2o3_ppm: 750_000 },
        mass_g: nd_g,
        purity_ppm: 990_000,
    }));
    l.append(EventKind::Shipment(Shipment {
        lot: ox,
        mass_g: nd_g / 2,
        customer: "VAC".into(),
        destination: cc("DE"),
        document: Hash32([1; 32]),
    }));
    (l, ox)
}

impl Ledger {
    /// Like [`Ledger::append`], with `f` applied to the body before it is signed (to
    /// countersign it once its event id is fixed).
    pub fn append_with(
        &mut self,
        kind: EventKind,
        f: impl FnOnce(&mut EventBody),
    ) -> Vec<Appended> {
        let mut body = EventBody {
            event_id: EventId(self.id()),
            occurred_at: NOW,
            expected_head: None,
            kind,
        };
        f(&mut body);
        body.validate(NOW).expect("scenario body is valid");
        let (bytes, sig) = self.team.sign(&body);
        self.push(&bytes, &body, sig)
    }

    /// Appends `body` to its lot signed by `secret` WITHOUT the rules: what a forger holding that
    /// key can put in a bundle. The record is well formed (chain, registry head, signature).
    pub fn forge(&mut self, body: &EventBody, secret: &[u8; 32]) -> ree_core::Record {
        use ree_core::state::LotView;
        let lot = body.kind.lots()[0];
        let st = self.state.lot(&lot).expect("forged event's lot exists");
        let bytes = body.encode().expect("forged body encodes");
        let record = ree_core::Record {
            lot,
            seq: st.next_seq,
            global_seq: self.state.next_global_seq(),
            prev: st.head,
            recorded_at: NOW,
            registry: self
                .state
                .lot(&ree_core::registry::REGISTRY_LOT)
                .map_or(Hash32::ZERO, |l| l.head),
            link: None,
            body: bytes.clone(),
            signature: Some(ree_core::record::Signature::sign(secret, &bytes)),
        };
        let enc = record.encode();
        let hash = ree_core::record::record_hash(&enc);
        self.records.push(Appended {
            record: record.clone(),
            bytes: enc,
            hash,
        });
        record
    }

    /// Every record in global order as a bundle for `lot` ending at `head` (seq `head_seq`).
    pub fn bundle_at(&self, lot: LotId, head_seq: u64, head: Hash32) -> Bundle {
        let recs: Vec<(&ree_core::Record, &[u8])> = self
            .records
            .iter()
            .map(|a| (&a.record, a.bytes.as_slice()))
            .collect();
        Bundle::disclosing(lot, head_seq, head, &recs)
    }
}
