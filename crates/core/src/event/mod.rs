//! Event bodies: what a participant submits and signs. Each body has one canonical byte encoding
//! (docs/format.md, "Event body"); the stored record carries those exact bytes.

use crate::codec::{Reader, Writer};
use crate::country::Country;
use crate::element::{Element, Oxide, PPM};
use crate::error::{DecodeError, FieldError};
use crate::ids::{EventId, Hash32, LotId, ParticipantId};
use crate::time::UtcMicros;

/// Version byte at the start of every body.
pub const BODY_VERSION: u8 = 1;
/// Longest name-like string (supplier, site, facility, customer, lab), in bytes.
pub const MAX_NAME_LEN: usize = 200;
/// Longest free-text reason, in bytes.
pub const MAX_REASON_LEN: usize = 1000;
/// Most document digests on one event.
pub const MAX_DOCUMENTS: usize = 16;
/// How far in the future an event's own timestamp may be (clock skew), in microseconds.
pub const MAX_FUTURE_SKEW_US: i64 = 5 * 60 * 1_000_000;
/// Largest mass one event may move: 10^12 g (a million tonnes), far above any real lot, so that
/// sums of many events stay far from u64 overflow.
pub const MAX_MASS_G: u64 = 1_000_000_000_000;

/// Element content in ppm of the lot's mass, one entry per element, sorted, summing to ≤ 10^6.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Composition(Vec<(Element, u32)>);

impl Composition {
    /// Builds a composition; rejects duplicates, out-of-range values, and sums past 10^6 ppm.
    pub fn new(mut entries: Vec<(Element, u32)>) -> Result<Self, FieldError> {
        entries.sort_by_key(|e| e.0);
        if entries.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(FieldError::new("", "an element appears twice"));
        }
        let mut sum: u64 = 0;
        for (e, ppm) in &entries {
            if *ppm as u64 > PPM {
                return Err(FieldError::new(
                    e.symbol(),
                    format!("{ppm} ppm is more than 1,000,000"),
                ));
            }
            sum += *ppm as u64;
        }
        if sum > PPM {
            return Err(FieldError::new(
                "",
                format!("element contents sum to {sum} ppm, more than 1,000,000"),
            ));
        }
        Ok(Composition(entries))
    }
    /// The entries, sorted by element.
    pub fn entries(&self) -> &[(Element, u32)] {
        &self.0
    }
    /// True when no element was assayed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// ppm of `e` (0 when not listed).
    pub fn ppm(&self, e: Element) -> u32 {
        self.0.iter().find(|x| x.0 == e).map_or(0, |x| x.1)
    }
    fn encode(&self, w: &mut Writer) {
        w.u8(self.0.len() as u8);
        for (e, ppm) in &self.0 {
            w.u8(*e as u8);
            w.u32(*ppm);
        }
    }
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let n = r.u8()? as usize;
        let mut v: Vec<(Element, u32)> = Vec::with_capacity(n.min(Element::ALL.len()));
        for _ in 0..n {
            let code = r.u8()?;
            let e = Element::from_code(code)
                .ok_or_else(|| r.err(format!("unknown element code {code}")))?;
            if v.last().is_some_and(|l| l.0 >= e) {
                return Err(
                    r.err("composition entries must be in strictly increasing element order")
                );
            }
            v.push((e, r.u32()?));
        }
        Composition::new(v).map_err(|e| r.err(format!("composition: {e}")))
    }
}

macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $c:literal, $txt:literal;)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        #[repr(u8)]
        pub enum $name { $($(#[$vm])* $v = $c),* }
        impl $name {
            /// Every value, in code order.
            pub const ALL: &'static [$name] = &[$($name::$v),*];
            /// Decodes a layout code.
            pub fn from_code(c: u8) -> Option<Self> { match c { $($c => Some($name::$v),)* _ => None } }
            /// The snake_case name used in JSON and reports.
            pub fn name(self) -> &'static str { match self { $($name::$v => $txt),* } }
            /// Parses the snake_case name.
            pub fn parse(s: &str) -> Option<Self> { Self::ALL.iter().copied().find(|v| v.name() == s) }
        }
    };
}

code_enum!(
    /// What a document digest attests.
    DocKind {
        /// Certificate of origin of mined material.
        CertificateOfOrigin = 1, "certificate_of_origin";
        /// Bill of lading.
        BillOfLading = 2, "bill_of_lading";
        /// OECD-style supply-chain due-diligence report.
        DueDiligenceReport = 3, "due_diligence_report";
        /// A laboratory's assay certificate.
        AssayCertificate = 4, "assay_certificate";
        /// Packing list, invoice or delivery note of a shipment.
        ShipmentDocument = 5, "shipment_document";
        /// Recycler's waste-origin / collection certificate.
        CollectionCertificate = 6, "collection_certificate";
    }
);

code_enum!(
    /// Where recycled magnet feed comes from.
    MagnetCategory {
        /// End-of-life electric-vehicle traction motors.
        EvMotor = 1, "ev_motor";
        /// Wind-turbine generators.
        WindTurbine = 2, "wind_turbine";
        /// Hard-disk drives.
        HardDisk = 3, "hard_disk";
        /// Manufacturing swarf, grinding sludge, off-cuts.
        IndustrialSwarf = 4, "industrial_swarf";
        /// Rejected magnets from production.
        ProductionReject = 5, "production_reject";
        /// Consumer electronics, speakers, small motors.
        ConsumerElectronics = 6, "consumer_electronics";
    }
);

code_enum!(
    /// Pre- or post-consumer scrap; the EU CRMA (Art. 29) asks for post-consumer shares separately.
    ScrapClass {
        /// Manufacturing waste that never reached a consumer.
        PreConsumer = 1, "pre_consumer";
        /// End-of-life products.
        PostConsumer = 2, "post_consumer";
    }
);

code_enum!(
    /// What a participant may do (docs/format.md, "Participants and roles").
    Role {
        /// Registers participants, adds and revokes keys, issues tokens.
        Administrator = 1, "administrator";
        /// Receives ore lots from its mines; reads its own lots.
        Supplier = 2, "supplier";
        /// Delivers recycled magnet lots; reads its own lots.
        Recycler = 3, "recycler";
        /// Runs the separation plant: campaigns, charges, outputs, shipments, assays, adjustments.
        PlantOperator = 4, "plant_operator";
        /// Reads provenance and exports proof bundles.
        Customer = 5, "customer";
        /// Reads everything.
        Auditor = 6, "auditor";
    }
);

/// A document attached by digest (the document itself stays with its owner).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct Document {
    /// What it is.
    pub kind: DocKind,
    /// blake3 of the document's bytes.
    pub digest: Hash32,
}

/// Ore concentrate received from a mine (creates the lot).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OreReceipt {
    pub lot: LotId,
    pub supplier: String,
    pub mine_site: String,
    /// Country of extraction.
    pub country: Country,
    pub mass_g: u64,
    /// Total rare-earth oxide grade, ppm of the lot's mass.
    pub reo_grade_ppm: u32,
    /// Per-element content, ppm of element (not oxide) in the lot's mass.
    pub assay: Composition,
    pub documents: Vec<Document>,
}

/// Recycled magnet feed received from a recycler or collector (creates the lot).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MagnetIntake {
    pub lot: LotId,
    pub recycler: String,
    pub category: MagnetCategory,
    pub scrap: ScrapClass,
    /// Country of collection.
    pub country: Country,
    pub mass_g: u64,
    pub content: Composition,
    pub documents: Vec<Document>,
}

/// A separation campaign of one facility starts (creates the campaign lot).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CampaignOpened {
    pub campaign: LotId,
    pub facility: String,
    pub country: Country,
}

/// Grams of an ore or recycled lot charged into a campaign: one record on each lot.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct InputCharged {
    pub campaign: LotId,
    pub input: LotId,
    pub mass_g: u64,
}

/// An oxide lot produced from a campaign: a debit record on the campaign and the new lot's genesis.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OutputProduced {
    pub campaign: LotId,
    pub output: LotId,
    pub oxide: Oxide,
    pub mass_g: u64,
    pub purity_ppm: u32,
}

/// A campaign ends with its declared process losses.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CampaignClosed {
    pub campaign: LotId,
    pub losses_g: u64,
}

/// Oxide shipped to a customer.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Shipment {
    pub lot: LotId,
    pub mass_g: u64,
    pub customer: String,
    pub destination: Country,
    pub document: Hash32,
}

/// A laboratory's corrected content of an ore or recycled lot; applies to later charges.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AssayRecorded {
    pub lot: LotId,
    pub lab: String,
    pub content: Composition,
    pub certificate: Hash32,
}

/// A loss (negative) or stock-count correction, with a reason. Never an edit of history.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Adjustment {
    pub lot: LotId,
    pub delta_g: i64,
    pub reason: String,
}

/// A participant joins the registry with its first key (and, optionally, a bearer token's
/// hash). The registry's first event registers an administrator, signed by that key itself.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ParticipantRegistered {
    pub participant: ParticipantId,
    pub name: String,
    pub role: Role,
    pub country: Country,
    /// ed25519 public key.
    pub public_key: [u8; 32],
    /// [`crate::registry::token_hash`] of the participant's bearer token; zero for none.
    pub token_hash: Hash32,
}

/// Another signing key for a participant (rotation: add the new key, then revoke the old).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct KeyAdded {
    pub participant: ParticipantId,
    pub public_key: [u8; 32],
}

/// A key stops being valid from this point in history on; what it signed before stays valid.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct KeyRevoked {
    pub participant: ParticipantId,
    pub public_key: [u8; 32],
    pub reason: String,
}

/// A participant may no longer submit or read (its past events stay valid).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ParticipantSuspended {
    pub participant: ParticipantId,
    pub reason: String,
}

/// Replaces a participant's bearer token (the hash; the token itself never reaches the ledger).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TokenIssued {
    pub participant: ParticipantId,
    pub token_hash: Hash32,
}

/// What happened.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum EventKind {
    OreReceipt(OreReceipt),
    MagnetIntake(MagnetIntake),
    CampaignOpened(CampaignOpened),
    InputCharged(InputCharged),
    OutputProduced(OutputProduced),
    CampaignClosed(CampaignClosed),
    Shipment(Shipment),
    AssayRecorded(AssayRecorded),
    Adjustment(Adjustment),
    ParticipantRegistered(ParticipantRegistered),
    KeyAdded(KeyAdded),
    KeyRevoked(KeyRevoked),
    ParticipantSuspended(ParticipantSuspended),
    TokenIssued(TokenIssued),
}

/// A submitted event: the unit that is signed, deduplicated and appended.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EventBody {
    /// The client's idempotency key.
    pub event_id: EventId,
    /// When it happened, as the submitter says (UTC).
    pub occurred_at: UtcMicros,
    /// If set, the submission is rejected unless the subject lot's head is this hash.
    pub expected_head: Option<Hash32>,
    pub kind: EventKind,
}

impl EventKind {
    /// Layout code of the kind.
    pub fn code(&self) -> u8 {
        match self {
            EventKind::OreReceipt(_) => 1,
            EventKind::MagnetIntake(_) => 2,
            EventKind::CampaignOpened(_) => 3,
            EventKind::InputCharged(_) => 4,
            EventKind::OutputProduced(_) => 5,
            EventKind::CampaignClosed(_) => 6,
            EventKind::Shipment(_) => 7,
            EventKind::AssayRecorded(_) => 8,
            EventKind::Adjustment(_) => 9,
            EventKind::ParticipantRegistered(_) => 10,
            EventKind::KeyAdded(_) => 11,
            EventKind::KeyRevoked(_) => 12,
            EventKind::ParticipantSuspended(_) => 13,
            EventKind::TokenIssued(_) => 14,
        }
    }

    /// snake_case name, also the field prefix in error messages.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::OreReceipt(_) => "ore_receipt",
            EventKind::MagnetIntake(_) => "magnet_intake",
            EventKind::CampaignOpened(_) => "campaign_opened",
            EventKind::InputCharged(_) => "input_charged",
            EventKind::OutputProduced(_) => "output_produced",
            EventKind::CampaignClosed(_) => "campaign_closed",
            EventKind::Shipment(_) => "shipment",
            EventKind::AssayRecorded(_) => "assay_recorded",
            EventKind::Adjustment(_) => "adjustment",
            EventKind::ParticipantRegistered(_) => "participant_registered",
            EventKind::KeyAdded(_) => "key_added",
            EventKind::KeyRevoked(_) => "key_revoked",
            EventKind::ParticipantSuspended(_) => "participant_suspended",
            EventKind::TokenIssued(_) => "token_issued",
        }
    }

    /// The lots this event appends to, in append order. The first is the subject (the lot an
    /// `expected_head` refers to); a second record links to the first's new head.
    pub fn lots(&self) -> Vec<LotId> {
        match self {
            EventKind::OreReceipt(e) => vec![e.lot],
            EventKind::MagnetIntake(e) => vec![e.lot],
            EventKind::CampaignOpened(e) => vec![e.campaign],
            EventKind::InputCharged(e) => vec![e.input, e.campaign],
            EventKind::OutputProduced(e) => vec![e.campaign, e.output],
            EventKind::CampaignClosed(e) => vec![e.campaign],
            EventKind::Shipment(e) => vec![e.lot],
            EventKind::AssayRecorded(e) => vec![e.lot],
            EventKind::Adjustment(e) => vec![e.lot],
            EventKind::ParticipantRegistered(_)
            | EventKind::KeyAdded(_)
            | EventKind::KeyRevoked(_)
            | EventKind::ParticipantSuspended(_)
            | EventKind::TokenIssued(_) => vec![crate::registry::REGISTRY_LOT],
        }
    }

    /// True for the events that change the participant registry.
    pub fn is_registry(&self) -> bool {
        self.code() >= 10
    }
}

fn check_mass(field: &str, g: u64) -> Result<(), FieldError> {
    if g == 0 {
        return Err(FieldError::new(field, "must be > 0 grams"));
    }
    if g > MAX_MASS_G {
        return Err(FieldError::new(
            field,
            format!("{g} g exceeds the per-event maximum of {MAX_MASS_G} g"),
        ));
    }
    Ok(())
}

fn check_name(field: &str, s: &str) -> Result<(), FieldError> {
    check_text(field, s, MAX_NAME_LEN)
}

fn check_text(field: &str, s: &str, max: usize) -> Result<(), FieldError> {
    if s.trim().is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if s.len() > max {
        return Err(FieldError::new(
            field,
            format!("is {} bytes, at most {max} allowed", s.len()),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

fn check_ppm(field: &str, v: u32, allow_zero: bool) -> Result<(), FieldError> {
    if v as u64 > PPM {
        return Err(FieldError::new(
            field,
            format!("{v} ppm is more than 1,000,000"),
        ));
    }
    if v == 0 && !allow_zero {
        return Err(FieldError::new(field, "must be > 0 ppm"));
    }
    Ok(())
}

fn check_docs(field: &str, docs: &[Document]) -> Result<(), FieldError> {
    if docs.len() > MAX_DOCUMENTS {
        return Err(FieldError::new(
            field,
            format!("{} documents, at most {MAX_DOCUMENTS}", docs.len()),
        ));
    }
    Ok(())
}

/// Only keys of the accepted set (docs/format.md, "Signatures"): canonical, in the prime-order
/// subgroup.
fn check_public_key(field: &str, k: &[u8; 32]) -> Result<(), FieldError> {
    crate::signature::registrable_key(k)
        .map(|_| ())
        .map_err(|e| FieldError::new(field, e.to_string().replace("public key: ", "")))
}

impl EventBody {
    /// Checks everything that does not depend on ledger state. `now` bounds `occurred_at`.
    /// Field paths follow the gRPC message (`ore_receipt.mass_g`).
    pub fn validate(&self, now: UtcMicros) -> Result<(), FieldError> {
        if self.occurred_at.0 > now.0.saturating_add(MAX_FUTURE_SKEW_US) {
            return Err(FieldError::new(
                "occurred_at",
                format!(
                    "{} is in the future (server time {})",
                    self.occurred_at, now
                ),
            ));
        }
        if self.occurred_at.0 < UtcMicros::EARLIEST.0 {
            return Err(FieldError::new(
                "occurred_at",
                format!("{} is before 2000-01-01", self.occurred_at),
            ));
        }
        let p = self.kind.name();
        let r = match &self.kind {
            EventKind::OreReceipt(e) => (|| {
                check_name("supplier", &e.supplier)?;
                check_name("mine_site", &e.mine_site)?;
                check_mass("mass_g", e.mass_g)?;
                check_ppm("reo_grade_ppm", e.reo_grade_ppm, false)?;
                check_docs("documents", &e.documents)
            })(),
            EventKind::MagnetIntake(e) => (|| {
                check_name("recycler", &e.recycler)?;
                check_mass("mass_g", e.mass_g)?;
                check_docs("documents", &e.documents)
            })(),
            EventKind::CampaignOpened(e) => check_name("facility", &e.facility),
            EventKind::InputCharged(e) => (|| {
                if e.campaign == e.input {
                    return Err(FieldError::new(
                        "input",
                        "a lot cannot be charged into itself",
                    ));
                }
                check_mass("mass_g", e.mass_g)
            })(),
            EventKind::OutputProduced(e) => (|| {
                if e.campaign == e.output {
                    return Err(FieldError::new("output", "must differ from the campaign"));
                }
                if let Oxide::NdPr { nd2o3_ppm } = e.oxide {
                    if nd2o3_ppm as u64 > PPM {
                        return Err(FieldError::new(
                            "ndpr_nd2o3_ppm",
                            format!("{nd2o3_ppm} ppm is more than 1,000,000"),
                        ));
                    }
                }
                check_mass("mass_g", e.mass_g)?;
                check_ppm("purity_ppm", e.purity_ppm, false)
            })(),
            EventKind::CampaignClosed(e) => {
                if e.losses_g > MAX_MASS_G {
                    Err(FieldError::new(
                        "losses_g",
                        format!("exceeds {MAX_MASS_G} g"),
                    ))
                } else {
                    Ok(())
                }
            }
            EventKind::Shipment(e) => (|| {
                check_mass("mass_g", e.mass_g)?;
                check_name("customer", &e.customer)
            })(),
            EventKind::AssayRecorded(e) => (|| {
                check_name("lab", &e.lab)?;
                if e.content.is_empty() {
                    return Err(FieldError::new(
                        "content",
                        "an assay lists at least one element",
                    ));
                }
                Ok(())
            })(),
            EventKind::Adjustment(e) => (|| {
                if e.delta_g == 0 {
                    return Err(FieldError::new("delta_g", "must not be 0"));
                }
                if e.delta_g.unsigned_abs() > MAX_MASS_G {
                    return Err(FieldError::new(
                        "delta_g",
                        format!("|delta| exceeds {MAX_MASS_G} g"),
                    ));
                }
                check_text("reason", &e.reason, MAX_REASON_LEN)
            })(),
            EventKind::ParticipantRegistered(e) => (|| {
                check_name("name", &e.name)?;
                check_public_key("public_key", &e.public_key)
            })(),
            EventKind::KeyAdded(e) => check_public_key("public_key", &e.public_key),
            EventKind::KeyRevoked(e) => check_text("reason", &e.reason, MAX_REASON_LEN),
            EventKind::ParticipantSuspended(e) => check_text("reason", &e.reason, MAX_REASON_LEN),
            EventKind::TokenIssued(e) => {
                if e.token_hash == Hash32::ZERO {
                    Err(FieldError::new("token_hash", "must not be zero"))
                } else {
                    Ok(())
                }
            }
        };
        r.map_err(|e| e.at(p))
    }

    /// The canonical bytes (docs/format.md, "Event body"). Call [`EventBody::validate`] first:
    /// strings longer than the layout allows are not representable.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(128);
        w.u8(BODY_VERSION);
        w.u8(self.kind.code());
        w.raw(&self.event_id.bytes());
        w.i64(self.occurred_at.0);
        match &self.expected_head {
            None => w.u8(0),
            Some(h) => {
                w.u8(1);
                w.raw(&h.0);
            }
        }
        let docs = |w: &mut Writer, d: &[Document]| {
            let mut d = d.to_vec();
            d.sort();
            w.u8(d.len() as u8);
            for x in d {
                w.u8(x.kind as u8);
                w.raw(&x.digest.0);
            }
        };
        match &self.kind {
            EventKind::OreReceipt(e) => {
                w.raw(&e.lot.bytes());
                w.str(&e.supplier);
                w.str(&e.mine_site);
                w.raw(&e.country.bytes());
                w.u64(e.mass_g);
                w.u32(e.reo_grade_ppm);
                e.assay.encode(&mut w);
                docs(&mut w, &e.documents);
            }
            EventKind::MagnetIntake(e) => {
                w.raw(&e.lot.bytes());
                w.str(&e.recycler);
                w.u8(e.category as u8);
                w.u8(e.scrap as u8);
                w.raw(&e.country.bytes());
                w.u64(e.mass_g);
                e.content.encode(&mut w);
                docs(&mut w, &e.documents);
            }
            EventKind::CampaignOpened(e) => {
                w.raw(&e.campaign.bytes());
                w.str(&e.facility);
                w.raw(&e.country.bytes());
            }
            EventKind::InputCharged(e) => {
                w.raw(&e.campaign.bytes());
                w.raw(&e.input.bytes());
                w.u64(e.mass_g);
            }
            EventKind::OutputProduced(e) => {
                w.raw(&e.campaign.bytes());
                w.raw(&e.output.bytes());
                match e.oxide {
                    Oxide::Single(el) => w.u8(el as u8),
                    Oxide::NdPr { nd2o3_ppm } => {
                        w.u8(OXIDE_NDPR);
                        w.u32(nd2o3_ppm);
                    }
                }
                w.u64(e.mass_g);
                w.u32(e.purity_ppm);
            }
            EventKind::CampaignClosed(e) => {
                w.raw(&e.campaign.bytes());
                w.u64(e.losses_g);
            }
            EventKind::Shipment(e) => {
                w.raw(&e.lot.bytes());
                w.u64(e.mass_g);
                w.str(&e.customer);
                w.raw(&e.destination.bytes());
                w.raw(&e.document.0);
            }
            EventKind::AssayRecorded(e) => {
                w.raw(&e.lot.bytes());
                w.str(&e.lab);
                e.content.encode(&mut w);
                w.raw(&e.certificate.0);
            }
            EventKind::Adjustment(e) => {
                w.raw(&e.lot.bytes());
                w.i64(e.delta_g);
                w.str(&e.reason);
            }
            EventKind::ParticipantRegistered(e) => {
                w.raw(&e.participant.bytes());
                w.str(&e.name);
                w.u8(e.role as u8);
                w.raw(&e.country.bytes());
                w.raw(&e.public_key);
                w.raw(&e.token_hash.0);
            }
            EventKind::KeyAdded(e) => {
                w.raw(&e.participant.bytes());
                w.raw(&e.public_key);
            }
            EventKind::KeyRevoked(e) => {
                w.raw(&e.participant.bytes());
                w.raw(&e.public_key);
                w.str(&e.reason);
            }
            EventKind::ParticipantSuspended(e) => {
                w.raw(&e.participant.bytes());
                w.str(&e.reason);
            }
            EventKind::TokenIssued(e) => {
                w.raw(&e.participant.bytes());
                w.raw(&e.token_hash.0);
            }
        }
        w.buf
    }

    /// Parses canonical bytes. Rejects anything [`EventBody::encode`] would not produce.
    pub fn decode(bytes: &[u8]) -> Result<EventBody, DecodeError> {
        let mut r = Reader::new(bytes, "event body");
        let v = r.u8()?;
        if v != BODY_VERSION {
            return Err(r.err(format!(
                "body version {v} is not supported (this build reads {BODY_VERSION})"
            )));
        }
        let code = r.u8()?;
        let event_id = EventId(uuid::Uuid::from_bytes(r.array()?));
        let occurred_at = UtcMicros(r.i64()?);
        let expected_head = if r.flag()? {
            Some(Hash32(r.array()?))
        } else {
            None
        };
        let lot = |r: &mut Reader| -> Result<LotId, DecodeError> {
            Ok(LotId(uuid::Uuid::from_bytes(r.array()?)))
        };
        let pid = |r: &mut Reader| -> Result<ParticipantId, DecodeError> {
            Ok(ParticipantId(uuid::Uuid::from_bytes(r.array()?)))
        };
        let country = |r: &mut Reader| -> Result<Country, DecodeError> {
            let at = r.pos();
            Country::from_bytes(r.array()?).map_err(|e| DecodeError {
                what: "event body",
                offset: at,
                reason: e.reason,
            })
        };
        let docs = |r: &mut Reader| -> Result<Vec<Document>, DecodeError> {
            let n = r.u8()? as usize;
            if n > MAX_DOCUMENTS {
                return Err(r.err(format!("{n} documents, at most {MAX_DOCUMENTS}")));
            }
            let mut v: Vec<Document> = Vec::with_capacity(n);
            for _ in 0..n {
                let c = r.u8()?;
                let kind = DocKind::from_code(c)
                    .ok_or_else(|| r.err(format!("unknown document kind {c}")))?;
                let d = Document {
                    kind,
                    digest: Hash32(r.array()?),
                };
                if v.last().is_some_and(|l| *l >= d) {
                    return Err(
                        r.err("documents must be sorted by kind then digest, without duplicates")
                    );
                }
                v.push(d);
            }
            Ok(v)
        };
        let kind = match code {
            1 => EventKind::OreReceipt(OreReceipt {
                lot: lot(&mut r)?,
                supplier: r.str()?,
                mine_site: r.str()?,
                country: country(&mut r)?,
                mass_g: r.u64()?,
                reo_grade_ppm: r.u32()?,
                assay: Composition::decode(&mut r)?,
                documents: docs(&mut r)?,
            }),
            2 => EventKind::MagnetIntake(MagnetIntake {
                lot: lot(&mut r)?,
                recycler: r.str()?,
                category: {
                    let c = r.u8()?;
                    MagnetCategory::from_code(c)
                        .ok_or_else(|| r.err(format!("unknown magnet category {c}")))?
                },
                scrap: {
                    let c = r.u8()?;
                    ScrapClass::from_code(c)
                        .ok_or_else(|| r.err(format!("unknown scrap class {c}")))?
                },
                country: country(&mut r)?,
                mass_g: r.u64()?,
                content: Composition::decode(&mut r)?,
                documents: docs(&mut r)?,
            }),
            3 => EventKind::CampaignOpened(CampaignOpened {
                campaign: lot(&mut r)?,
                facility: r.str()?,
                country: country(&mut r)?,
            }),
            4 => EventKind::InputCharged(InputCharged {
                campaign: lot(&mut r)?,
                input: lot(&mut r)?,
                mass_g: r.u64()?,
            }),
            5 => {
                let campaign = lot(&mut r)?;
                let output = lot(&mut r)?;
                let c = r.u8()?;
                let oxide = if c == OXIDE_NDPR {
                    Oxide::NdPr {
                        nd2o3_ppm: r.u32()?,
                    }
                } else {
                    Oxide::Single(
                        Element::from_code(c)
                            .ok_or_else(|| r.err(format!("unknown oxide code {c}")))?,
                    )
                };
                EventKind::OutputProduced(OutputProduced {
                    campaign,
                    output,
                    oxide,
                    mass_g: r.u64()?,
                    purity_ppm: r.u32()?,
                })
            }
            6 => EventKind::CampaignClosed(CampaignClosed {
                campaign: lot(&mut r)?,
                losses_g: r.u64()?,
            }),
            7 => EventKind::Shipment(Shipment {
                lot: lot(&mut r)?,
                mass_g: r.u64()?,
                customer: r.str()?,
                destination: country(&mut r)?,
                document: Hash32(r.array()?),
            }),
            8 => EventKind::AssayRecorded(AssayRecorded {
                lot: lot(&mut r)?,
                lab: r.str()?,
                content: Composition::decode(&mut r)?,
                certificate: Hash32(r.array()?),
            }),
            9 => EventKind::Adjustment(Adjustment {
                lot: lot(&mut r)?,
                delta_g: r.i64()?,
                reason: r.str()?,
            }),
            10 => EventKind::ParticipantRegistered(ParticipantRegistered {
                participant: pid(&mut r)?,
                name: r.str()?,
                role: {
                    let c = r.u8()?;
                    Role::from_code(c).ok_or_else(|| r.err(format!("unknown role {c}")))?
                },
                country: country(&mut r)?,
                public_key: r.array()?,
                token_hash: Hash32(r.array()?),
            }),
            11 => EventKind::KeyAdded(KeyAdded {
                participant: pid(&mut r)?,
                public_key: r.array()?,
            }),
            12 => EventKind::KeyRevoked(KeyRevoked {
                participant: pid(&mut r)?,
                public_key: r.array()?,
                reason: r.str()?,
            }),
            13 => EventKind::ParticipantSuspended(ParticipantSuspended {
                participant: pid(&mut r)?,
                reason: r.str()?,
            }),
            14 => EventKind::TokenIssued(TokenIssued {
                participant: pid(&mut r)?,
                token_hash: Hash32(r.array()?),
            }),
            other => {
                return Err(DecodeError {
                    what: "event body",
                    offset: 1,
                    reason: format!("unknown event kind {other}"),
                })
            }
        };
        r.finish()?;
        Ok(EventBody {
            event_id,
            occurred_at,
            expected_head,
            kind,
        })
    }
}

/// Oxide code for NdPr oxide in the layout; single oxides use their element's code.
pub const OXIDE_NDPR: u8 = 100;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub fn lot_id() -> impl Strategy<Value = LotId> {
        any::<[u8; 16]>().prop_map(|b| LotId(uuid::Uuid::from_bytes(b)))
    }
    fn pid() -> impl Strategy<Value = ParticipantId> {
        any::<[u8; 16]>().prop_map(|b| ParticipantId(uuid::Uuid::from_bytes(b)))
    }
    fn hash() -> impl Strategy<Value = Hash32> {
        any::<[u8; 32]>().prop_map(Hash32)
    }
    fn name() -> impl Strategy<Value = String> {
        "[A-Za-z][A-Za-z0-9 éü.-]{0,40}"
    }
    fn country() -> impl Strategy<Value = Country> {
        prop::sample::select(vec!["AU", "US", "BR", "CA", "ZA", "CN", "FR", "DE", "ES"])
            .prop_map(|c| Country::parse(c).unwrap())
    }
    fn composition() -> impl Strategy<Value = Composition> {
        prop::collection::btree_map(
            prop::sample::select(Element::ALL.to_vec()),
            0u32..70_000,
            0..6,
        )
        .prop_map(|m| Composition::new(m.into_iter().collect()).unwrap())
    }
    fn docs() -> impl Strategy<Value = Vec<Document>> {
        prop::collection::btree_set(
            (prop::sample::select(DocKind::ALL.to_vec()), hash())
                .prop_map(|(kind, digest)| Document { kind, digest }),
            0..4,
        )
        .prop_map(|s| s.into_iter().collect())
    }
    fn oxide() -> impl Strategy<Value = Oxide> {
        prop_oneof![
            prop::sample::select(Element::ALL.to_vec()).prop_map(Oxide::Single),
            (0u32..=1_000_000).prop_map(|p| Oxide::NdPr { nd2o3_ppm: p })
        ]
    }
    pub fn kind() -> impl Strategy<Value = EventKind> {
        let mass = 1u64..1_000_000_000;
        prop_oneof![
            (
                lot_id(),
                name(),
                name(),
                country(),
                mass.clone(),
                1u32..1_000_000,
                composition(),
                docs()
            )
                .prop_map(
                    |(
                        lot,
                        supplier,
                        mine_site,
                        country,
                        mass_g,
                        reo_grade_ppm,
                        assay,
                        documents,
                    )| EventKind::OreReceipt(OreReceipt {
                        lot,
                        supplier,
                        mine_site,
                        country,
                        mass_g,
                        reo_grade_ppm,
                        assay,
                        documents
                    })
                ),
            (
                lot_id(),
                name(),
                prop::sample::select(MagnetCategory::ALL.to_vec()),
                prop::sample::select(ScrapClass::ALL.to_vec()),
                country(),
                mass.clone(),
                composition(),
                docs()
            )
                .prop_map(
                    |(lot, recycler, category, scrap, country, mass_g, content, documents)| {
                        EventKind::MagnetIntake(MagnetIntake {
                            lot,
                            recycler,
                            category,
                            scrap,
                            country,
                            mass_g,
                            content,
                            documents,
                        })
                    }
                ),
            (lot_id(), name(), country()).prop_map(|(campaign, facility, country)| {
                EventKind::CampaignOpened(CampaignOpened {
                    campaign,
                    facility,
                    country,
                })
            }),
            (lot_id(), lot_id(), mass.clone()).prop_map(|(campaign, input, mass_g)| {
                EventKind::InputCharged(InputCharged {
                    campaign,
                    input,
                    mass_g,
                })
            }),
            (lot_id(), lot_id(), oxide(), mass.clone(), 1u32..=1_000_000).prop_map(
                |(campaign, output, oxide, mass_g, purity_ppm)| {
                    EventKind::OutputProduced(OutputProduced {
                        campaign,
                        output,
                        oxide,
                        mass_g,
                        purity_ppm,
                    })
                }
            ),
            (lot_id(), 0u64..1_000_000).prop_map(|(campaign, losses_g)| EventKind::CampaignClosed(
                CampaignClosed { campaign, losses_g }
            )),
            (lot_id(), mass.clone(), name(), country(), hash()).prop_map(
                |(lot, mass_g, customer, destination, document)| {
                    EventKind::Shipment(Shipment {
                        lot,
                        mass_g,
                        customer,
                        destination,
                        document,
                    })
                }
            ),
            (lot_id(), name(), composition(), hash()).prop_map(
                |(lot, lab, content, certificate)| EventKind::AssayRecorded(AssayRecorded {
                    lot,
                    lab,
                    content,
                    certificate
                })
            ),
            (lot_id(), -1_000_000i64..1_000_000, name()).prop_map(|(lot, delta_g, reason)| {
                EventKind::Adjustment(Adjustment {
                    lot,
                    delta_g,
                    reason,
                })
            }),
            (
                pid(),
                name(),
                prop::sample::select(Role::ALL.to_vec()),
                country(),
                any::<[u8; 32]>(),
                hash()
            )
                .prop_map(
                    |(participant, name, role, country, public_key, token_hash)| {
                        EventKind::ParticipantRegistered(ParticipantRegistered {
                            participant,
                            name,
                            role,
                            country,
                            public_key,
                            token_hash,
                        })
                    }
                ),
            (pid(), any::<[u8; 32]>()).prop_map(|(participant, public_key)| {
                EventKind::KeyAdded(KeyAdded {
                    participant,
                    public_key,
                })
            }),
            (pid(), any::<[u8; 32]>(), name()).prop_map(|(participant, public_key, reason)| {
                EventKind::KeyRevoked(KeyRevoked {
                    participant,
                    public_key,
                    reason,
                })
            }),
            (pid(), name()).prop_map(|(participant, reason)| {
                EventKind::ParticipantSuspended(ParticipantSuspended {
                    participant,
                    reason,
                })
            }),
            (pid(), hash()).prop_map(|(participant, token_hash)| {
                EventKind::TokenIssued(TokenIssued {
                    participant,
                    token_hash,
                })
            }),
        ]
    }
    pub fn body() -> impl Strategy<Value = EventBody> {
        (
            any::<[u8; 16]>(),
            946_684_800_000_000i64..1_900_000_000_000_000,
            prop::option::of(hash()),
            kind(),
        )
            .prop_map(|(id, t, expected_head, kind)| EventBody {
                event_id: EventId(uuid::Uuid::from_bytes(id)),
                occurred_at: UtcMicros(t),
                expected_head,
                kind,
            })
    }

    proptest! {
        #[test]
        fn encode_decode_round_trips(b in body()) {
            let bytes = b.encode();
            let back = EventBody::decode(&bytes).unwrap();
            prop_assert_eq!(&back, &b);
            prop_assert_eq!(back.encode(), bytes);
        }

        #[test]
        fn decoder_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            // Anything that decodes must be canonical: re-encoding gives the same bytes.
            if let Ok(b) = EventBody::decode(&bytes) {
                prop_assert_eq!(b.encode(), bytes);
            }
        }

        #[test]
        fn decoder_survives_mutations_of_valid_bodies(b in body(), pos in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
            let mut bytes = b.encode();
            let i = pos.index(bytes.len());
            bytes[i] = byte;
            if let Ok(d) = EventBody::decode(&bytes) {
                prop_assert_eq!(d.encode(), bytes.clone());
            }
            let n = cut.index(bytes.len());
            prop_assert!(EventBody::decode(&b.encode()[..n]).is_err(), "a truncated body must not decode");
        }
    }

    #[test]
    fn validation_names_the_field() {
        let now = UtcMicros(1_800_000_000_000_000);
        let mut b = EventBody {
            event_id: EventId::new_v7(),
            occurred_at: now,
            expected_head: None,
            kind: EventKind::InputCharged(InputCharged {
                campaign: LotId::new_v7(),
                input: LotId::new_v7(),
                mass_g: 0,
            }),
        };
        let e = b.validate(now).unwrap_err();
        assert_eq!(e.field, "input_charged.mass_g");
        if let EventKind::InputCharged(c) = &mut b.kind {
            c.mass_g = 5;
            c.input = c.campaign;
        }
        assert_eq!(b.validate(now).unwrap_err().field, "input_charged.input");
        if let EventKind::InputCharged(c) = &mut b.kind {
            c.input = LotId::new_v7();
        }
        assert!(b.validate(now).is_ok());
        b.occurred_at = UtcMicros(now.0 + MAX_FUTURE_SKEW_US + 1);
        assert_eq!(b.validate(now).unwrap_err().field, "occurred_at");
    }

    #[test]
    fn composition_rejects_overflowing_sums() {
        assert!(Composition::new(vec![(Element::Nd, 600_000), (Element::Pr, 400_001)]).is_err());
        assert!(Composition::new(vec![(Element::Nd, 1_000_001)]).is_err());
        assert!(Composition::new(vec![(Element::Nd, 1), (Element::Nd, 2)]).is_err());
        assert!(Composition::new(vec![(Element::Nd, 600_000), (Element::Pr, 400_000)]).is_ok());
    }
}
