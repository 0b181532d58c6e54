//! The rule book as a table: one row per rule of `EventBody::validate` (stateless) and
//! `apply_record` (against state), each with the world it starts from, the event, and what must
//! come of it. Pure: no store, no engine, no clock; the whole table runs in milliseconds.
//!
//! A row's world is the base world below (or an empty ledger), plus the row's own prior events.
//! An event is checked as the engine checks a submission: `validate`, then `Staged::append`.

use ree_core::element::{Element, Oxide};
use ree_core::error::{FieldError, RuleError};
use ree_core::event::{
    Adjustment, AssayRecorded, Attestation, AttestationKind, CampaignClosed, CampaignOpened,
    CertificationEnded, CertificationGranted, CertificationSuspended, CertificationWithdrawn,
    Composition, Countersignature, DocKind, Document, EventBody, EventKind, FacilityClosed,
    FacilityKind, FacilityRegistered, InputCharged, KeyAdded, KeyRevoked, MagnetCategory,
    MagnetIntake, OreReceipt, OriginMethod, OutputProduced, ParticipantSuspended, Role, ScrapClass,
    Shipment, TokenIssued, MAX_FUTURE_SKEW_US, MAX_MASS_G,
};
use ree_core::registry::token_hash;
use ree_core::state::{LedgerState, Staged};
use ree_core::testkit::{self as tk, Member, Team};
use ree_core::{Country, EventId, FacilityId, Hash32, LotId, ParticipantId, UtcMicros};

const NOW: UtcMicros = UtcMicros(1_760_000_000_000_000);

const fn lot(n: u128) -> LotId {
    LotId(uuid::Uuid::from_u128(
        0x0193_0000_0000_7000_8000_0000_0000_0000 + n,
    ))
}
/// An ore lot of the supplier: 1,000 g received, 500 g charged into `CAMPAIGN`; 10% Nd.
const ORE: LotId = lot(1);
/// A recycled lot of the recycler: 1,000 g received, 100 g charged into `CLOSED`; 20% Nd.
const RECYCLED: LotId = lot(2);
/// An open campaign: 500 g charged, 20 g of Nd2O3 produced (`OXIDE`), 480 g left.
const CAMPAIGN: LotId = lot(3);
/// 20 g of Nd2O3 from `CAMPAIGN`.
const OXIDE: LotId = lot(4);
/// A closed campaign: 100 g charged, 10 g declared lost, 90 g left.
const CLOSED: LotId = lot(5);
/// Stands, in an attestation, for the record hash of `ORE`'s receipt in the row's world (its
/// event ids, hence hashes, differ from world to world).
const ORE_GENESIS: Hash32 = Hash32([0xee; 32]);
/// A lot id nobody used yet.
const NEW: LotId = lot(9);

#[derive(Clone, Copy, Debug)]
enum Who {
    Admin,
    Supplier,
    Supplier2,
    Recycler,
    Plant,
    Customer,
    Auditor,
    Lab,
    /// A supplier whose key is not registered.
    Stranger,
}

struct Step {
    who: Who,
    kind: EventKind,
    signed: bool,
    occurred_at: UtcMicros,
    expected_head: Option<Hash32>,
    /// Who countersigns the (adjustment) body, once its event id is fixed.
    countersigned_by: Option<Who>,
}

fn by(who: Who, kind: EventKind) -> Step {
    Step {
        who,
        kind,
        signed: true,
        occurred_at: NOW,
        expected_head: None,
        countersigned_by: None,
    }
}

impl Step {
    fn unsigned(mut self) -> Step {
        self.signed = false;
        self
    }
    fn at(mut self, t: i64) -> Step {
        self.occurred_at = UtcMicros(t);
        self
    }
    fn countersigned(mut self, who: Who) -> Step {
        self.countersigned_by = Some(who);
        self
    }
    fn expecting_head(mut self, h: Hash32) -> Step {
        self.expected_head = Some(h);
        self
    }
}

/// What must come of a row's event.
#[derive(Debug)]
enum Expect {
    Accepted,
    /// Refused by `validate`, naming this field path.
    Field(&'static str),
    UnknownLot,
    LotExists,
    HeadMismatch,
    /// Refused with this kind of rule error and a message containing the fragment.
    Unauthenticated(&'static str),
    Forbidden(&'static str),
    Violation(&'static str),
}

#[derive(Clone, Copy, PartialEq)]
enum World {
    Empty,
    Base,
}

struct Row {
    name: &'static str,
    world: World,
    before: Vec<Step>,
    step: Step,
    expect: Expect,
}

fn row(name: &'static str, step: Step, expect: Expect) -> Row {
    Row {
        name,
        world: World::Base,
        before: vec![],
        step,
        expect,
    }
}

fn row_after(name: &'static str, before: Vec<Step>, step: Step, expect: Expect) -> Row {
    Row {
        before,
        ..row(name, step, expect)
    }
}

// ---- event builders: valid unless a row changes a field ----

fn au() -> Country {
    Country::parse("AU").unwrap()
}

fn ore_receipt(lot: LotId) -> OreReceipt {
    OreReceipt {
        facility: ree_core::testkit::mine(au()),
        lot,
        supplier: "Lynas".into(),
        mine_site: "Mount Weld".into(),
        country: au(),
        mass_g: 1_000,
        reo_grade_ppm: 80_000,
        assay: Composition::new(vec![(Element::Nd, 100_000)]).unwrap(),
        documents: vec![],
    }
}

fn magnet_intake(lot: LotId) -> MagnetIntake {
    MagnetIntake {
        facility: ree_core::testkit::recycling_site(Country::parse("DE").unwrap()),
        lot,
        recycler: "Magnet Loop".into(),
        category: MagnetCategory::HardDisk,
        scrap: ScrapClass::PostConsumer,
        country: Country::parse("DE").unwrap(),
        mass_g: 1_000,
        content: Composition::new(vec![(Element::Nd, 200_000)]).unwrap(),
        documents: vec![],
    }
}

fn open(campaign: LotId) -> EventKind {
    EventKind::CampaignOpened(CampaignOpened {
        facility_id: ree_core::testkit::separation_site(Country::parse("FR").unwrap()),
        campaign,
        facility: "Lacq".into(),
        country: Country::parse("FR").unwrap(),
    })
}

fn charge(campaign: LotId, input: LotId, mass_g: u64) -> InputCharged {
    InputCharged {
        campaign,
        input,
        mass_g,
        input_head: Default::default(),
    }
}

fn output(campaign: LotId, out: LotId, mass_g: u64) -> OutputProduced {
    OutputProduced {
        campaign,
        output: out,
        oxide: Oxide::Single(Element::Nd),
        mass_g,
        purity_ppm: 990_000,
    }
}

fn close(campaign: LotId, losses_g: u64) -> EventKind {
    EventKind::CampaignClosed(CampaignClosed { campaign, losses_g })
}

fn shipment(lot: LotId, mass_g: u64) -> Shipment {
    Shipment {
        lot,
        mass_g,
        customer: "Magnets GmbH".into(),
        destination: Country::parse("DE").unwrap(),
        document: Hash32([3; 32]),
    }
}

fn assay(lot: LotId) -> AssayRecorded {
    AssayRecorded {
        facility: Some(ree_core::testkit::laboratory()),
        lot,
        lab: "ALS".into(),
        content: Composition::new(vec![(Element::Nd, 90_000)]).unwrap(),
        certificate: Hash32([4; 32]),
    }
}

fn adjust(lot: LotId, delta_g: i64) -> Adjustment {
    Adjustment {
        lot,
        delta_g,
        reason: "stock count".into(),
        countersignature: None,
    }
}

fn attestation(lot: LotId, event: Option<Hash32>) -> Attestation {
    Attestation {
        lot,
        event,
        kind: AttestationKind::OriginVerified,
        method: Some(OriginMethod::SiteVisit),
        evidence: Hash32([7; 32]),
        valid_from: UtcMicros(NOW.0 - 1_000_000),
        valid_until: UtcMicros(NOW.0 + 1_000_000),
    }
}

fn revoke(m: &Member, public_key: [u8; 32]) -> EventKind {
    EventKind::KeyRevoked(KeyRevoked {
        participant: m.id,
        public_key,
        reason: "key lost".into(),
    })
}

fn suspend(participant: ParticipantId) -> EventKind {
    EventKind::ParticipantSuspended(ParticipantSuspended {
        participant,
        reason: "audit".into(),
    })
}

fn stranger() -> Member {
    Member::derive(9, "stranger", Role::Supplier, "AU")
}

fn documents(n: u32) -> Vec<Document> {
    (0..n)
        .map(|i| Document {
            kind: DocKind::BillOfLading,
            digest: Hash32(*blake3::hash(&i.to_le_bytes()).as_bytes()),
        })
        .collect()
}

/// The base world, after the team's registration (see the lot constants).
fn base_world() -> Vec<Step> {
    use Who::*;
    vec![
        by(Supplier, EventKind::OreReceipt(ore_receipt(ORE))),
        by(Recycler, EventKind::MagnetIntake(magnet_intake(RECYCLED))),
        by(Plant, open(CAMPAIGN)),
        by(Plant, EventKind::InputCharged(charge(CAMPAIGN, ORE, 500))),
        by(
            Plant,
            EventKind::OutputProduced(output(CAMPAIGN, OXIDE, 20)),
        ),
        by(Plant, open(CLOSED)),
        by(
            Plant,
            EventKind::InputCharged(charge(CLOSED, RECYCLED, 100)),
        ),
        by(Plant, close(CLOSED, 10)),
    ]
}

// ---- the table ----

#[rustfmt::skip]
fn stateless_rows() -> Vec<Row> {
    use EventKind as K;
    use Expect::Field;
    use Who::*;
    let t = Team::new(1);
    let future = NOW.0 + MAX_FUTURE_SKEW_US + 1;
    let ore = |o: OreReceipt| by(Supplier, K::OreReceipt(o));
    let magnet = |m: MagnetIntake| by(Recycler, K::MagnetIntake(m));
    let plant = |k: EventKind| by(Plant, k);
    let admin = |k: EventKind| by(Admin, k);
    let small_order_key = {
        let mut k = [0u8; 32];
        k[0] = 1; // the identity point
        k
    };
    vec![
        row("occurred_at past the clock skew", ore(ore_receipt(NEW)).at(future), Field("occurred_at")),
        row("occurred_at before 2000", ore(ore_receipt(NEW)).at(0), Field("occurred_at")),
        row("ore: supplier empty", ore(OreReceipt { supplier: " ".into(), ..ore_receipt(NEW) }), Field("ore_receipt.supplier")),
        row("ore: supplier past 200 bytes", ore(OreReceipt { supplier: "s".repeat(201), ..ore_receipt(NEW) }), Field("ore_receipt.supplier")),
        row("ore: supplier with a control character", ore(OreReceipt { supplier: "a\nb".into(), ..ore_receipt(NEW) }), Field("ore_receipt.supplier")),
        row("ore: mine site empty", ore(OreReceipt { mine_site: "".into(), ..ore_receipt(NEW) }), Field("ore_receipt.mine_site")),
        row("ore: zero mass", ore(OreReceipt { mass_g: 0, ..ore_receipt(NEW) }), Field("ore_receipt.mass_g")),
        row("ore: mass past the per-event maximum", ore(OreReceipt { mass_g: MAX_MASS_G + 1, ..ore_receipt(NEW) }), Field("ore_receipt.mass_g")),
        row("ore: zero grade", ore(OreReceipt { reo_grade_ppm: 0, ..ore_receipt(NEW) }), Field("ore_receipt.reo_grade_ppm")),
        row("ore: grade past 10^6 ppm", ore(OreReceipt { reo_grade_ppm: 1_000_001, ..ore_receipt(NEW) }), Field("ore_receipt.reo_grade_ppm")),
        row("ore: more than 16 documents", ore(OreReceipt { documents: documents(17), ..ore_receipt(NEW) }), Field("ore_receipt.documents")),
        row("magnet: recycler empty", magnet(MagnetIntake { recycler: "".into(), ..magnet_intake(NEW) }), Field("magnet_intake.recycler")),
        row("magnet: zero mass", magnet(MagnetIntake { mass_g: 0, ..magnet_intake(NEW) }), Field("magnet_intake.mass_g")),
        row("magnet: more than 16 documents", magnet(MagnetIntake { documents: documents(17), ..magnet_intake(NEW) }), Field("magnet_intake.documents")),
        row("campaign: facility empty", plant(K::CampaignOpened(CampaignOpened { facility_id: ree_core::testkit::separation_site(au()), facility: "".into(), country: au(), campaign: NEW })), Field("campaign_opened.facility")),
        row("charge: a lot into itself", plant(K::InputCharged(charge(ORE, ORE, 1))), Field("input_charged.input")),
        row("charge: zero mass", plant(K::InputCharged(charge(CAMPAIGN, ORE, 0))), Field("input_charged.mass_g")),
        row("output: the campaign itself", plant(K::OutputProduced(output(CAMPAIGN, CAMPAIGN, 1))), Field("output_produced.output")),
        row("output: NdPr share past 10^6 ppm", plant(K::OutputProduced(OutputProduced { oxide: Oxide::NdPr { nd2o3_ppm: 1_000_001 }, ..output(CAMPAIGN, NEW, 1) })), Field("output_produced.ndpr_nd2o3_ppm")),
        row("output: zero mass", plant(K::OutputProduced(output(CAMPAIGN, NEW, 0))), Field("output_produced.mass_g")),
        row("output: zero purity", plant(K::OutputProduced(OutputProduced { purity_ppm: 0, ..output(CAMPAIGN, NEW, 1) })), Field("output_produced.purity_ppm")),
        row("output: purity past 10^6 ppm", plant(K::OutputProduced(OutputProduced { purity_ppm: 1_000_001, ..output(CAMPAIGN, NEW, 1) })), Field("output_produced.purity_ppm")),
        row("close: losses past the maximum", plant(close(CAMPAIGN, MAX_MASS_G + 1)), Field("campaign_closed.losses_g")),
        row("shipment: zero mass", plant(K::Shipment(shipment(OXIDE, 0))), Field("shipment.mass_g")),
        row("shipment: customer empty", plant(K::Shipment(Shipment { customer: "".into(), ..shipment(OXIDE, 1) })), Field("shipment.customer")),
        row("assay: lab empty", plant(K::AssayRecorded(AssayRecorded { lab: "".into(), ..assay(ORE) })), Field("assay_recorded.lab")),
        row("assay: no element", plant(K::AssayRecorded(AssayRecorded { content: Composition::default(), ..assay(ORE) })), Field("assay_recorded.content")),
        row("attestation: origin without a method", by(Auditor, K::Attestation(Attestation { method: None, ..attestation(ORE, None) })), Field("attestation.method")),
        row("attestation: a method on mass_verified", by(Auditor, K::Attestation(Attestation { kind: AttestationKind::MassVerified, ..attestation(ORE, None) })), Field("attestation.method")),
        row("attestation: no evidence", by(Auditor, K::Attestation(Attestation { evidence: Hash32([0; 32]), ..attestation(ORE, None) })), Field("attestation.evidence_digest")),
        row("attestation: an empty validity period", by(Auditor, K::Attestation(Attestation { valid_until: NOW, valid_from: NOW, ..attestation(ORE, None) })), Field("attestation.valid_until")),
        row("adjustment: zero delta", plant(K::Adjustment(adjust(ORE, 0))), Field("adjustment.delta_g")),
        row("adjustment: delta past the maximum", plant(K::Adjustment(adjust(ORE, -(MAX_MASS_G as i64) - 1))), Field("adjustment.delta_g")),
        row("adjustment: reason empty", plant(K::Adjustment(Adjustment { reason: "".into(), ..adjust(ORE, 1) })), Field("adjustment.reason")),
        row("adjustment: reason past 1,000 bytes", plant(K::Adjustment(Adjustment { reason: "r".repeat(1001), ..adjust(ORE, 1) })), Field("adjustment.reason")),
        row("registration: name empty", admin(registration(&stranger(), |r| r.name = "".into())), Field("participant_registered.name")),
        row("registration: a small-order key", admin(registration(&stranger(), |r| r.public_key = small_order_key)), Field("participant_registered.public_key")),
        row("key added: a small-order key", admin(K::KeyAdded(KeyAdded { participant: t.supplier.id, public_key: small_order_key })), Field("key_added.public_key")),
        row("key revoked: reason empty", admin(K::KeyRevoked(KeyRevoked { participant: t.supplier.id, public_key: t.supplier.public_key, reason: "".into() })), Field("key_revoked.reason")),
        row("suspension: reason empty", admin(K::ParticipantSuspended(ParticipantSuspended { participant: t.supplier.id, reason: "".into() })), Field("participant_suspended.reason")),
        row("token: zero hash", admin(K::TokenIssued(TokenIssued { participant: t.supplier.id, token_hash: Hash32::ZERO })), Field("token_issued.token_hash")),
    ]
}

fn registration(
    m: &Member,
    change: impl FnOnce(&mut ree_core::event::ParticipantRegistered),
) -> EventKind {
    let EventKind::ParticipantRegistered(mut r) = m.registration() else {
        unreachable!("a registration")
    };
    change(&mut r);
    EventKind::ParticipantRegistered(r)
}

#[rustfmt::skip]
fn rule_rows() -> Vec<Row> {
    use EventKind as K;
    use Expect::*;
    use Who::*;
    let t = Team::new(1);
    let plant = |k: EventKind| by(Plant, k);
    let admin = |k: EventKind| by(Admin, k);
    let forged = {
        let sig = t.auditor.sign(b"some other adjustment");
        Countersignature { public_key: sig.public_key, signature: sig.signature }
    };
    let ore_genesis = ORE_GENESIS;
    // The owner's declaration (no laboratory named) and a laboratory's assay.
    let ore_assay = || K::AssayRecorded(AssayRecorded { facility: None, ..assay(ORE) });
    let lab_assay = |lot| by(Lab, K::AssayRecorded(assay(lot)));
    let receipt = |f: FacilityId, c: Country| {
        by(Supplier, K::OreReceipt(OreReceipt { facility: f, country: c, ..ore_receipt(NEW) }))
    };
    let cn = Country::parse("CN").unwrap();
    let lab_cert_suspended = K::CertificationSuspended(CertificationSuspended(CertificationEnded {
        facility: tk::laboratory(),
        certificate_id: "LAB-17025".into(),
        reason: "audit failed".into(),
    }));
    vec![
        // The chain and the signer.
        row("a valid receipt starts a lot", by(Supplier, K::OreReceipt(ore_receipt(NEW))), Accepted),
        row("the expected head must be the head", plant(K::Shipment(shipment(OXIDE, 1))).expecting_head(Hash32([7; 32])), HeadMismatch),
        row("a genesis on an existing lot", by(Supplier, K::OreReceipt(ore_receipt(ORE))), LotExists),
        row("an output onto an existing lot", plant(K::OutputProduced(output(CAMPAIGN, ORE, 1))), LotExists),
        row("an event on an unknown lot", plant(K::Shipment(shipment(NEW, 1))), UnknownLot),
        row("a charge into an unknown campaign", plant(K::InputCharged(charge(NEW, RECYCLED, 1))), UnknownLot),
        row("an unsigned event", by(Supplier, ore_assay()).unsigned(), Unauthenticated("not signed")),
        row("a key nobody registered", by(Stranger, K::OreReceipt(ore_receipt(NEW))), Unauthenticated("is not registered")),
        row_after("a revoked key", vec![admin(revoke(&t.supplier, t.supplier.public_key))], by(Supplier, ore_assay()), Unauthenticated("was revoked")),
        row_after("a suspended participant", vec![admin(suspend(t.supplier.id))], by(Supplier, ore_assay()), Forbidden("was suspended")),
        row("a role that may not submit the kind", plant(K::OreReceipt(ore_receipt(NEW))), Forbidden("may not submit ore_receipt")),
        row("a customer may not assay", by(Customer, ore_assay()), Forbidden("may not submit assay_recorded")),
        row("a supplier touches only its own lots", by(Supplier2, ore_assay()), Forbidden("belongs to another participant")),
        row("the owner declares its lot's assay", by(Supplier, ore_assay()), Accepted),
        row("the plant may not assay (attack 2)", plant(ore_assay()), Forbidden("may not submit assay_recorded")),
        row("a laboratory assays any input lot", lab_assay(ORE), Accepted),
        row("a laboratory's assay names its laboratory", by(Lab, ore_assay()), Violation("assay_recorded.facility_id: a laboratory's assay names its laboratory facility")),
        row("an owner's declaration names no laboratory", by(Supplier, K::AssayRecorded(assay(ORE))), Violation("assay_recorded.facility_id: only a laboratory's assay")),
        row_after("a laboratory without a valid ISO/IEC 17025 certificate", vec![admin(lab_cert_suspended.clone())], lab_assay(ORE), Violation("holds no ISO/IEC 17025 certificate valid")),
        row_after("a declaration cannot replace a laboratory's assay", vec![lab_assay(ORE)], by(Supplier, ore_assay()), Violation("a laboratory's assay is in effect")),
        // Origin from the site (attack 1).
        row("a receipt names its supplier's own mine", receipt(tk::mine(au()), au()), Accepted),
        row("a CN supplier's receipt claims an AU mine it does not operate", receipt(tk::mine2(au()), au()), Violation("ore_receipt.facility_id: facility")),
        row("a receipt names an unregistered site", receipt(FacilityId(uuid::Uuid::from_u128(9)), au()), Violation("ore_receipt.facility_id: facility 00000000-0000-0000-0000-000000000009 is not registered")),
        row("a receipt's country differs from its site's", receipt(tk::mine(cn), au()), Violation("ore_receipt.facility_id: the event says country AU but facility")),
        row("a receipt names a site of another kind", receipt(tk::separation_site(au()), au()), Violation("is operated by participant")),
        row_after("a receipt names a closed site", vec![admin(K::FacilityClosed(FacilityClosed { facility: tk::mine(au()), reason: "exhausted".into() }))], receipt(tk::mine(au()), au()), Violation("was closed")),
        row("a campaign names another's plant", by(Supplier, K::CampaignOpened(CampaignOpened { facility_id: tk::separation_site(au()), campaign: NEW, facility: "x".into(), country: au() })), Forbidden("may not submit campaign_opened")),
        row_after("a certificate is suspended once", vec![admin(lab_cert_suspended.clone())], admin(lab_cert_suspended.clone()), Violation("has already ended so")),
        row("only a granted certificate is withdrawn", admin(K::CertificationWithdrawn(CertificationWithdrawn(CertificationEnded { facility: tk::laboratory(), certificate_id: "nope".into(), reason: "r".into() }))), Violation("has no certificate nope")),
        row("a certificate for an unregistered facility", admin(K::CertificationGranted(CertificationGranted { facility: FacilityId(uuid::Uuid::from_u128(11)), scheme: "IRMA".into(), certificate_id: "c".into(), issuer: "i".into(), document_digest: Hash32([1; 32]), valid_from: NOW, valid_until: UtcMicros(NOW.0 + 1) })), Violation("is not registered")),
        row_after("a facility closes once", vec![admin(K::FacilityClosed(FacilityClosed { facility: tk::mine(au()), reason: "r".into() }))], admin(K::FacilityClosed(FacilityClosed { facility: tk::mine(au()), reason: "r".into() })), Violation("was closed")),
        row("a mine is operated by a supplier", admin(K::FacilityRegistered(FacilityRegistered { facility: FacilityId(uuid::Uuid::from_u128(10)), name: "m".into(), kind: FacilityKind::Mine, country: au(), location: None, operator: t.plant.id })), Violation("a mine site is operated by a supplier")),
        // Campaigns.
        row("only ore and recycled lots are charged", plant(K::InputCharged(charge(CAMPAIGN, OXIDE, 1))), Violation("only ore and recycled lots are charged, this is an oxide lot")),
        row("a charge into a lot that is not a campaign", plant(K::InputCharged(charge(RECYCLED, ORE, 1))), Violation("is a recycled lot, not a campaign")),
        row("a charge into a closed campaign", plant(K::InputCharged(charge(CLOSED, ORE, 1))), Violation("campaign is closed")),
        row("a charge past the input's balance", plant(K::InputCharged(charge(CAMPAIGN, ORE, 501))), Violation("charge of 501 g exceeds the balance of 500 g")),
        row("a charge within the balance", plant(K::InputCharged(charge(CAMPAIGN, RECYCLED, 100))), Accepted),
        row("an output from a lot that is not a campaign", plant(K::OutputProduced(output(ORE, NEW, 1))), Violation("only campaigns produce, this is an ore lot")),
        row("an output from a closed campaign", plant(K::OutputProduced(output(CLOSED, NEW, 1))), Violation("campaign is closed")),
        row("an output past the campaign's balance", plant(K::OutputProduced(output(CAMPAIGN, NEW, 481))), Violation("production of 481 g exceeds the balance of 480 g")),
        row("an output past the element balance", plant(K::OutputProduced(output(CAMPAIGN, NEW, 100))), Violation("assays account for only 50 g charged (tolerance 2%")),
        row("an output of an element never charged", plant(K::OutputProduced(OutputProduced { oxide: Oxide::Single(Element::La), ..output(CAMPAIGN, NEW, 10) })), Violation("only 0 g charged")),
        // Issue 12, attack 4: unassayed grams are never available, for any element.
        row_after("an output from an unassayed input alone", vec![by(Supplier, K::OreReceipt(OreReceipt { lot: lot(10), assay: Composition::default(), ..ore_receipt(lot(10)) })), plant(open(lot(11))), plant(K::InputCharged(charge(lot(11), lot(10), 1_000)))], plant(K::OutputProduced(output(lot(11), NEW, 100))), Violation("assays account for only 0 g charged")),
        row_after("unassayed grams add nothing to an assayed charge", vec![by(Supplier, K::OreReceipt(OreReceipt { lot: lot(10), assay: Composition::default(), ..ore_receipt(lot(10)) })), plant(K::InputCharged(charge(CAMPAIGN, lot(10), 1_000)))], plant(K::OutputProduced(output(CAMPAIGN, NEW, 60))), Violation("assays account for only 50 g charged")),
        row("an output within both balances", plant(K::OutputProduced(output(CAMPAIGN, NEW, 10))), Accepted),
        row("closing a lot that is not a campaign", plant(close(OXIDE, 0)), Violation("is an oxide lot, not a campaign")),
        row("closing a campaign twice", plant(close(CLOSED, 0)), Violation("campaign is already closed")),
        row("losses past the campaign's balance", plant(close(CAMPAIGN, 481)), Violation("declared loss of 481 g exceeds the balance of 480 g")),
        row("closing a campaign", plant(close(CAMPAIGN, 0)), Accepted),
        // Shipments, assays, adjustments.
        row("only oxide ships", plant(K::Shipment(shipment(ORE, 1))), Violation("only oxide lots ship, this is an ore lot")),
        row("a shipment past the balance", plant(K::Shipment(shipment(OXIDE, 21))), Violation("shipment of 21 g exceeds the balance of 20 g")),
        row("a shipment of the whole lot", plant(K::Shipment(shipment(OXIDE, 20))), Accepted),
        row("an assay on a campaign", lab_assay(CAMPAIGN), Violation("assays are recorded on ore and recycled lots, this is a campaign lot")),
        row("a loss on a closed campaign", plant(K::Adjustment(adjust(CLOSED, -1))), Violation("campaign is closed")),
        row("a loss past the balance", plant(K::Adjustment(adjust(OXIDE, -21))), Violation("adjustment of 21 g exceeds the balance of 20 g")),
        row("a gain on an oxide lot", plant(K::Adjustment(adjust(OXIDE, 1))), Violation("a positive adjustment (stock-count gain) is allowed only on ore and recycled lots")),
        row("a gain on a campaign", plant(K::Adjustment(adjust(CAMPAIGN, 1))), Violation("a positive adjustment")),
        row("a gain without a countersignature", plant(K::Adjustment(adjust(ORE, 1))), Violation("adjustment.countersignature: a positive adjustment (stock-count gain) needs an auditor's countersignature")),
        row("a gain countersigned by the plant", plant(K::Adjustment(adjust(ORE, 1))).countersigned(Plant), Violation("not an auditor")),
        row("a gain countersigned by an unregistered key", plant(K::Adjustment(adjust(ORE, 1))).countersigned(Stranger), Violation("adjustment.countersignature: signing key")),
        row("a gain countersigned over other bytes", plant(K::Adjustment(Adjustment { countersignature: Some(forged), ..adjust(ORE, 1) })), Violation("adjustment.countersignature: the signature does not match")),
        row("a countersigned gain of 2% of the received mass", plant(K::Adjustment(adjust(ORE, 20))).countersigned(Auditor), Accepted),
        row("a countersigned gain past 2% of the received mass", plant(K::Adjustment(adjust(ORE, 21))).countersigned(Auditor), Violation("adjustment.delta_g: gains would total 21 g, over the cap of 2% of the 1000 g received")),
        row_after("countersigned gains past 2% cumulatively", vec![plant(K::Adjustment(adjust(RECYCLED, 15))).countersigned(Auditor)], plant(K::Adjustment(adjust(RECYCLED, 6))).countersigned(Auditor), Violation("gains would total 21 g")),
        row("a countersigned loss", plant(K::Adjustment(adjust(ORE, -1))).countersigned(Auditor), Accepted),
        // Attestations.
        row("an auditor attests a lot's origin", by(Auditor, K::Attestation(attestation(ORE, None))), Accepted),
        row("an auditor attests a lot's receipt by its record hash", by(Auditor, K::Attestation(attestation(ORE, Some(ore_genesis)))), Accepted),
        row("an attestation naming a record of another lot", by(Auditor, K::Attestation(attestation(RECYCLED, Some(ore_genesis)))), Violation("attestation.event_hash")),
        row("an attestation naming no record", by(Auditor, K::Attestation(attestation(ORE, Some(Hash32([9; 32]))))), Violation("attestation.event_hash")),
        row("only auditors attest", plant(K::Attestation(attestation(ORE, None))), Forbidden("may not submit attestation")),
        row("an attestation about an unknown lot", by(Auditor, K::Attestation(attestation(NEW, None))), UnknownLot),
        row("a loss on an open campaign", plant(K::Adjustment(adjust(CAMPAIGN, -1))), Accepted),
        // The registry.
        Row { world: World::Empty, ..row("the first event is not an administrator's", by(Supplier, K::OreReceipt(ore_receipt(NEW))), Unauthenticated("no participant registry yet")) },
        Row { world: World::Empty, ..row("the first administrator's registration signed by another key", by(Supplier, t.admin.registration()), Unauthenticated("no participant registry yet")) },
        Row { world: World::Empty, ..row("the first event registers a self-signed administrator", admin(t.admin.registration()), Accepted) },
        row("only administrators change the registry", plant(revoke(&t.supplier, t.supplier.public_key)), Forbidden("may not submit key_revoked")),
        row("a participant registers once", admin(t.supplier.registration()), Violation("is already registered")),
        row("a key belongs to one participant", admin(registration(&stranger(), |r| r.public_key = t.supplier.public_key)), Violation("is already registered (to participant")),
        row("a token hash belongs to one participant", admin(K::TokenIssued(TokenIssued { participant: t.supplier2.id, token_hash: token_hash(&t.supplier.token) })), Violation("token hash is already in use")),
        row("a key for an unknown participant", admin(K::KeyAdded(KeyAdded { participant: stranger().id, public_key: stranger().public_key })), Violation("is not registered")),
        row("revoking a key nobody registered", admin(revoke(&t.supplier, stranger().public_key)), Violation("is not registered")),
        row("revoking another participant's key", admin(revoke(&t.supplier2, t.supplier.public_key)), Violation("belongs to participant")),
        row_after("revoking a key twice", vec![admin(revoke(&t.supplier, t.supplier.public_key))], admin(revoke(&t.supplier, t.supplier.public_key)), Violation("is already revoked")),
        row("revoking the last administrator key", admin(revoke(&t.admin, t.admin.public_key)), Violation("last active administrator key")),
        row("suspending the last administrator", admin(suspend(t.admin.id)), Violation("this is the last active administrator")),
        row_after("suspending a suspended participant", vec![admin(suspend(t.supplier.id))], admin(suspend(t.supplier.id)), Violation("is suspended")),
        row("registering a participant", admin(stranger().registration()), Accepted),
    ]
    }

// ---- running the table ----

enum Refusal {
    Field(FieldError),
    Rule(RuleError),
}

fn member(t: &Team, who: Who) -> Member {
    match who {
        Who::Admin => t.admin.clone(),
        Who::Supplier => t.supplier.clone(),
        Who::Supplier2 => t.supplier2.clone(),
        Who::Recycler => t.recycler.clone(),
        Who::Plant => t.plant.clone(),
        Who::Customer => t.customer.clone(),
        Who::Auditor => t.auditor.clone(),
        Who::Lab => t.lab.clone(),
        Who::Stranger => stranger(),
    }
}

/// As the engine does: the stateless rules, then the rules against state in a staged overlay,
/// committed only if accepted.
fn submit(state: &mut LedgerState, t: &Team, step: &Step) -> Result<(), Refusal> {
    let mut body = EventBody {
        event_id: EventId::new_v7(),
        occurred_at: step.occurred_at,
        expected_head: step.expected_head,
        kind: step.kind.clone(),
    };
    if let EventKind::Attestation(a) = &mut body.kind {
        if a.event == Some(ORE_GENESIS) {
            use ree_core::state::LotView;
            a.event = state
                .lot(&ORE)
                .map(|l| *l.audit.attestable.get(0).expect("the genesis"));
        }
    }
    // As an honest signer does: commit to the heads it sees (a row may name a wrong one).
    body.commit_to(|l| ree_core::state::LotView::lot(&*state, l).map(|s| s.head));
    if let Some(who) = step.countersigned_by {
        ree_core::event::countersign(&mut body, &member(t, who).secret).map_err(Refusal::Field)?;
    }
    body.validate(NOW).map_err(Refusal::Field)?;
    let bytes = body.encode().map_err(Refusal::Field)?;
    let signature = step.signed.then(|| member(t, step.who).sign(&bytes));
    let mut staged = Staged::new(state, state.next_global_seq());
    staged
        .append(&bytes, &body, signature, NOW)
        .map_err(Refusal::Rule)?;
    let changes = staged.into_changes();
    state.commit(changes);
    Ok(())
}

fn world(t: &Team, which: World) -> LedgerState {
    let mut state = LedgerState::new();
    if which == World::Empty {
        return state;
    }
    for (bytes, signature) in t.registry_events(NOW) {
        let body = EventBody::decode(&bytes).unwrap();
        let mut staged = Staged::new(&state, state.next_global_seq());
        staged.append(&bytes, &body, Some(signature), NOW).unwrap();
        let changes = staged.into_changes();
        state.commit(changes);
    }
    for step in base_world() {
        if submit(&mut state, t, &step).is_err() {
            panic!("the base world's {} is refused", step.kind.name());
        }
    }
    state
}

/// Why `outcome` is not `expect`, if it is not.
fn mismatch(expect: &Expect, outcome: &Result<(), Refusal>) -> Option<String> {
    let matches = match (expect, outcome) {
        (Expect::Accepted, Ok(())) => true,
        (Expect::Field(f), Err(Refusal::Field(e))) => e.field == *f,
        (Expect::UnknownLot, Err(Refusal::Rule(RuleError::UnknownLot(_)))) => true,
        (Expect::LotExists, Err(Refusal::Rule(RuleError::LotExists(_)))) => true,
        (Expect::HeadMismatch, Err(Refusal::Rule(RuleError::HeadMismatch { .. }))) => true,
        (Expect::Unauthenticated(m), Err(Refusal::Rule(RuleError::Unauthenticated(e)))) => {
            e.contains(m)
        }
        (Expect::Forbidden(m), Err(Refusal::Rule(RuleError::Forbidden(e)))) => e.contains(m),
        (Expect::Violation(m), Err(Refusal::Rule(RuleError::Violation { reason, .. }))) => {
            reason.contains(m)
        }
        _ => false,
    };
    let got = match outcome {
        Ok(()) => "accepted".to_string(),
        Err(Refusal::Field(e)) => format!("field error {e}"),
        Err(Refusal::Rule(e)) => format!("{e:?}"),
    };
    (!matches).then(|| format!("expected {expect:?}, got {got}"))
}

fn run(rows: Vec<Row>) {
    let t = Team::new(1);
    let base = world(&t, World::Base);
    let empty = world(&t, World::Empty);
    let mut failures = vec![];
    for r in &rows {
        let mut state = match r.world {
            World::Base => base.clone(),
            World::Empty => empty.clone(),
        };
        for step in &r.before {
            if submit(&mut state, &t, step).is_err() {
                panic!("{}: its prior {} is refused", r.name, step.kind.name());
            }
        }
        let outcome = submit(&mut state, &t, &r.step);
        if let Some(why) = mismatch(&r.expect, &outcome) {
            failures.push(format!("{}: {why}", r.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn every_stateless_rule() {
    run(stateless_rows());
}

#[test]
fn every_rule_against_state() {
    run(rule_rows());
}

/// Every kind has a row that accepts it or refuses it on a rule of its own.
#[test]
fn the_table_covers_every_kind() {
    let mut kinds: Vec<&str> = stateless_rows()
        .iter()
        .chain(rule_rows().iter())
        .map(|r| r.step.kind.name())
        .collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds.len(), 20, "{kinds:?}");
}
