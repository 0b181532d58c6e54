//! Event-sourced lot state and the rules. [`apply_record`] is the single place where a record
//! changes a lot: the engine calls it to accept new events, the verifier to replay a bundle, so
//! both enforce exactly the same rules.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::country::Country;
use crate::element::{Element, Oxide, N_ELEMENTS, PPM};
use crate::error::RuleError;
use crate::event::{Composition, Document, EventBody, EventKind, MagnetCategory, Role, ScrapClass};
use crate::ids::{Hash32, LotId, ParticipantId};
use crate::record::{record_hash, Link, Record, Signature};
use crate::registry::{role_may_submit, Registry, SignerError, REGISTRY_LOT};
use crate::time::UtcMicros;

/// How far a campaign's output of one element may exceed what was charged of it, in ppm of the
/// charged amount: assays of concentrates carry a few percent of uncertainty, so 2% is allowed.
pub const ELEMENT_BALANCE_TOLERANCE_PPM: u64 = 20_000;

/// The kinds of lot: four of material, and the participant registry's chain.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum LotKind {
    Ore,
    Recycled,
    Campaign,
    Oxide,
    Registry,
}

impl LotKind {
    /// Every kind.
    pub const ALL: [LotKind; 5] = [
        LotKind::Ore,
        LotKind::Recycled,
        LotKind::Campaign,
        LotKind::Oxide,
        LotKind::Registry,
    ];
    /// snake_case name used in the CLI and JSON.
    pub fn name(self) -> &'static str {
        match self {
            LotKind::Ore => "ore",
            LotKind::Recycled => "recycled",
            LotKind::Campaign => "campaign",
            LotKind::Oxide => "oxide",
            LotKind::Registry => "registry",
        }
    }
    /// Parses [`LotKind::name`].
    pub fn parse(s: &str) -> Option<LotKind> {
        LotKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// Whether feed was mined or recycled (and which kind of scrap).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Feed {
    Mined,
    RecycledPreConsumer,
    RecycledPostConsumer,
}

impl Feed {
    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Feed::Mined => "mined",
            Feed::RecycledPreConsumer => "recycled_pre_consumer",
            Feed::RecycledPostConsumer => "recycled_post_consumer",
        }
    }
}

/// What attribution counts: a country (of extraction for mined feed, of collection for recycled
/// feed) and the kind of feed.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Source {
    pub country: Country,
    pub feed: Feed,
}

/// Grams a campaign received from one [`Source`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct SourceTotals {
    /// Gross grams charged.
    pub gross_g: u64,
    /// Grams charged from inputs without any assay.
    pub unassayed_g: u64,
    /// Grams of each element charged (from the inputs' assays at charge time).
    pub element_g: [u64; N_ELEMENTS],
}

/// Running totals of a separation campaign.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CampaignState {
    pub facility: Arc<str>,
    pub country: Country,
    pub charged_g: u64,
    pub produced_g: u64,
    pub losses_g: u64,
    pub charged_el: [u64; N_ELEMENTS],
    pub produced_el: [u64; N_ELEMENTS],
    pub unassayed_g: u64,
    pub sources: BTreeMap<Source, SourceTotals>,
    pub charges: u64,
    pub outputs: u64,
    pub closed: bool,
}

/// Whether an output was attributed by its own elements or, lacking assays, by gross mass.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Basis {
    Element,
    Mass,
}

impl Basis {
    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Basis::Element => "element",
            Basis::Mass => "mass",
        }
    }
}

/// An oxide lot's attribution, fixed when it was produced: grams of each of its elements per source.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Attribution {
    pub basis: Basis,
    pub campaign: LotId,
    pub campaign_seq: u64,
    pub facility: Arc<str>,
    pub facility_country: Country,
    /// Grams of each element in the lot as produced.
    pub element_g: [u64; N_ELEMENTS],
    pub by_source: BTreeMap<Source, [u64; N_ELEMENTS]>,
}

/// What a lot is, beyond its balance.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum LotDetail {
    Ore {
        supplier: Arc<str>,
        mine_site: Arc<str>,
        country: Country,
        reo_grade_ppm: u32,
        documents: Arc<[Document]>,
        assay: Arc<Composition>,
    },
    Recycled {
        recycler: Arc<str>,
        category: MagnetCategory,
        scrap: ScrapClass,
        country: Country,
        documents: Arc<[Document]>,
        content: Arc<Composition>,
    },
    Campaign(Box<CampaignState>),
    Oxide {
        oxide: Oxide,
        purity_ppm: u32,
        attribution: Arc<Attribution>,
    },
    /// The participant registry as of the lot's head.
    Registry(Arc<Registry>),
}

/// The state of one lot after replaying its chain.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LotState {
    pub id: LotId,
    /// Sequence number the next record will take (= number of records).
    pub next_seq: u64,
    pub head: Hash32,
    pub balance_g: u64,
    /// Grams the lot's genesis brought in (receipt, intake, output), whatever was consumed since:
    /// a source lot's provenance is its own, however little of it is left.
    pub received_g: u64,
    pub created_at: UtcMicros,
    /// The participant whose signed event created the lot.
    pub owner: ParticipantId,
    pub detail: LotDetail,
}

impl LotState {
    /// The lot's kind.
    pub fn kind(&self) -> LotKind {
        match self.detail {
            LotDetail::Ore { .. } => LotKind::Ore,
            LotDetail::Recycled { .. } => LotKind::Recycled,
            LotDetail::Campaign(_) => LotKind::Campaign,
            LotDetail::Oxide { .. } => LotKind::Oxide,
            LotDetail::Registry(_) => LotKind::Registry,
        }
    }
    /// Sequence number of the head record.
    pub fn head_seq(&self) -> u64 {
        self.next_seq.saturating_sub(1)
    }
    /// The source an ore or recycled lot counts for.
    pub fn source(&self) -> Option<Source> {
        match &self.detail {
            LotDetail::Ore { country, .. } => Some(Source {
                country: *country,
                feed: Feed::Mined,
            }),
            LotDetail::Recycled { country, scrap, .. } => Some(Source {
                country: *country,
                feed: match scrap {
                    ScrapClass::PreConsumer => Feed::RecycledPreConsumer,
                    ScrapClass::PostConsumer => Feed::RecycledPostConsumer,
                },
            }),
            _ => None,
        }
    }
    /// The current assay of an ore or recycled lot.
    pub fn composition(&self) -> Option<&Composition> {
        match &self.detail {
            LotDetail::Ore { assay, .. } => Some(assay),
            LotDetail::Recycled { content, .. } => Some(content),
            _ => None,
        }
    }
    /// Campaign totals, for campaign lots.
    pub fn campaign(&self) -> Option<&CampaignState> {
        match &self.detail {
            LotDetail::Campaign(c) => Some(c),
            _ => None,
        }
    }
}

/// Read access to lot states: the committed ledger, or a staged overlay on it.
pub trait LotView {
    /// The lot's state, if it exists.
    fn lot(&self, id: &LotId) -> Option<&LotState>;
}

/// Every lot's state and the next global sequence number.
#[derive(Default, Clone, Debug)]
pub struct LedgerState {
    lots: HashMap<LotId, LotState>,
    /// The global sequence number the next record takes (starts at 1).
    next_global_seq: u64,
}

impl LotView for LedgerState {
    fn lot(&self, id: &LotId) -> Option<&LotState> {
        self.lots.get(id)
    }
}

impl LedgerState {
    /// An empty ledger.
    pub fn new() -> Self {
        LedgerState {
            lots: HashMap::new(),
            next_global_seq: 1,
        }
    }
    /// Global sequence number of the next record.
    pub fn next_global_seq(&self) -> u64 {
        self.next_global_seq.max(1)
    }
    /// All lots (unordered).
    pub fn lots(&self) -> impl Iterator<Item = &LotState> {
        self.lots.values()
    }
    /// Number of lots.
    pub fn lot_count(&self) -> usize {
        self.lots.len()
    }
    /// Applies what a [`Staged`] overlay produced. Call only after the records are durable.
    pub fn commit(&mut self, changes: Changes) {
        self.lots.extend(changes.lots);
        self.next_global_seq = changes.next_global_seq;
    }
    /// Replays one stored record (opening a store, verifying a bundle): checks its hash position
    /// in the global order and every rule, then applies it.
    pub fn replay(&mut self, rec: &Record, bytes: &[u8]) -> Result<Hash32, ReplayError> {
        if rec.global_seq != self.next_global_seq() {
            return Err(ReplayError::Order {
                expected: self.next_global_seq(),
                found: rec.global_seq,
            });
        }
        self.apply_stored(rec, bytes)
    }

    /// Applies one stored record whose global position the caller has checked (a bundle holds
    /// only part of the global order, so its sequence numbers have gaps).
    pub fn apply_stored(&mut self, rec: &Record, bytes: &[u8]) -> Result<Hash32, ReplayError> {
        let hash = record_hash(bytes);
        let body = EventBody::decode(&rec.body).map_err(ReplayError::Body)?;
        // The stateless rules too: what was valid when it was recorded is valid now.
        body.validate(rec.recorded_at)
            .map_err(ReplayError::Invalid)?;
        let st = apply_record(self, rec, hash, &body).map_err(ReplayError::Rule)?;
        self.lots.insert(st.id, st);
        self.next_global_seq = rec.global_seq.saturating_add(1);
        Ok(hash)
    }
}

impl LedgerState {
    /// Moves a lot's head on by one record known only by its hash (a proof bundle's withheld
    /// registry record): no rule applies to it; the caller checked its `seq` and `prev`.
    /// False if the lot does not exist.
    pub fn advance_unseen(&mut self, lot: &LotId, hash: Hash32) -> bool {
        let Some(l) = self.lots.get_mut(lot) else {
            return false;
        };
        l.next_seq += 1;
        l.head = hash;
        true
    }
}

/// Why a stored record could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("global sequence: expected {expected}, found {found}")]
    Order { expected: u64, found: u64 },
    #[error("{0}")]
    Body(crate::error::DecodeError),
    #[error("{0}")]
    Invalid(crate::error::FieldError),
    #[error("{0}")]
    Rule(RuleError),
}

/// Lot states changed by a staged submission, ready to [`LedgerState::commit`].
#[derive(Default, Debug)]
pub struct Changes {
    lots: HashMap<LotId, LotState>,
    next_global_seq: u64,
}

/// A record built by [`Staged::append`]: the decoded record, its stored bytes and their hash.
#[derive(Clone, Debug)]
pub struct Appended {
    pub record: Record,
    pub bytes: Vec<u8>,
    pub hash: Hash32,
}

/// Uncommitted changes layered over a [`LotView`]. Dropping it discards them, which is how a
/// rejected submission leaves no trace.
pub struct Staged<'a> {
    base: &'a dyn LotView,
    changes: Changes,
}

impl LotView for Staged<'_> {
    fn lot(&self, id: &LotId) -> Option<&LotState> {
        self.changes.lots.get(id).or_else(|| self.base.lot(id))
    }
}

impl<'a> Staged<'a> {
    /// A fresh overlay whose next record takes `next_global_seq`.
    pub fn new(base: &'a dyn LotView, next_global_seq: u64) -> Self {
        Staged {
            base,
            changes: Changes {
                lots: HashMap::new(),
                next_global_seq,
            },
        }
    }
    /// Global sequence number the next record takes.
    pub fn next_global_seq(&self) -> u64 {
        self.changes.next_global_seq
    }
    /// Ends the overlay, returning its changes.
    pub fn into_changes(self) -> Changes {
        self.changes
    }
    /// Takes in the changes of an overlay stacked on this one.
    pub fn absorb(&mut self, c: Changes) {
        self.changes.lots.extend(c.lots);
        self.changes.next_global_seq = c.next_global_seq;
    }

    /// Turns a validated body into its records (one per lot it names), checking every rule.
    /// On error nothing in the overlay has changed... for this body only if the caller drops a
    /// nested overlay; use a fresh [`Staged`] per submission.
    pub fn append(
        &mut self,
        body_bytes: &[u8],
        body: &EventBody,
        signature: Option<Signature>,
        recorded_at: UtcMicros,
    ) -> Result<Vec<Appended>, RuleError> {
        let lots = body.kind.lots();
        if let Some(expected) = body.expected_head {
            let actual = self.lot(&lots[0]).map_or(Hash32::ZERO, |l| l.head);
            if actual != expected {
                return Err(RuleError::HeadMismatch {
                    lot: lots[0],
                    expected: expected.to_hex(),
                    actual: actual.to_hex(),
                });
            }
        }
        // Checks on the counterpart that the first record alone cannot see.
        match &body.kind {
            EventKind::InputCharged(c) => {
                let camp = self
                    .lot(&c.campaign)
                    .ok_or(RuleError::UnknownLot(c.campaign))?;
                check_open_campaign(camp)?;
            }
            EventKind::OutputProduced(p) if self.lot(&p.output).is_some() => {
                return Err(RuleError::LotExists(p.output));
            }
            _ => {}
        }
        let mut out = Vec::with_capacity(lots.len());
        let mut link = None;
        for lot in lots {
            let (seq, prev) = self
                .lot(&lot)
                .map_or((0, Hash32::ZERO), |l| (l.next_seq, l.head));
            let record = Record {
                lot,
                seq,
                global_seq: self.changes.next_global_seq,
                prev,
                recorded_at,
                registry: self.lot(&REGISTRY_LOT).map_or(Hash32::ZERO, |l| l.head),
                link,
                body: body_bytes.to_vec(),
                signature,
            };
            let bytes = record.encode();
            let hash = record_hash(&bytes);
            let st = apply_record(self, &record, hash, body)?;
            self.changes.lots.insert(lot, st);
            self.changes.next_global_seq += 1;
            link = Some(Link { lot, seq, hash });
            out.push(Appended {
                record,
                bytes,
                hash,
            });
        }
        Ok(out)
    }
}

fn check_open_campaign(l: &LotState) -> Result<&CampaignState, RuleError> {
    match &l.detail {
        LotDetail::Campaign(c) if c.closed => Err(RuleError::violation(l.id, "campaign is closed")),
        LotDetail::Campaign(c) => Ok(c),
        _ => Err(RuleError::violation(
            l.id,
            format!(
                "is {} {} lot, not a campaign",
                crate::error::a_or_an(l.kind().name()),
                l.kind().name()
            ),
        )),
    }
}

fn add(lot: LotId, a: u64, b: u64) -> Result<u64, RuleError> {
    a.checked_add(b)
        .ok_or_else(|| RuleError::violation(lot, "mass total overflows"))
}

fn debit(lot: LotId, balance: u64, g: u64, what: &str) -> Result<u64, RuleError> {
    balance.checked_sub(g).ok_or_else(|| {
        RuleError::violation(
            lot,
            format!("{what} of {g} g exceeds the balance of {balance} g"),
        )
    })
}

/// Applies one record to its lot and returns the lot's new state. Checks the chain position
/// (sequence, previous hash), the cross-lot link, and every domain rule.
pub fn apply_record(
    view: &dyn LotView,
    rec: &Record,
    hash: Hash32,
    body: &EventBody,
) -> Result<LotState, RuleError> {
    let lots = body.kind.lots();
    let role = lots.iter().position(|l| *l == rec.lot).ok_or_else(|| {
        RuleError::violation(rec.lot, "record is on a lot its body does not name")
    })?;
    // The link: the second record names the first's new head, the first names nothing.
    match (role, &rec.link) {
        (0, None) => {}
        (0, Some(_)) => {
            return Err(RuleError::violation(
                rec.lot,
                "first record of an event must not carry a link",
            ))
        }
        (_, None) => {
            return Err(RuleError::violation(
                rec.lot,
                "record must link to its counterpart lot",
            ))
        }
        (_, Some(link)) => {
            if link.lot != lots[0] {
                return Err(RuleError::violation(
                    rec.lot,
                    format!(
                        "link names lot {} but the event's counterpart is {}",
                        link.lot, lots[0]
                    ),
                ));
            }
            let other = view.lot(&link.lot).ok_or(RuleError::UnknownLot(link.lot))?;
            if other.head != link.hash || other.head_seq() != link.seq || other.next_seq == 0 {
                return Err(RuleError::violation(
                    rec.lot,
                    format!(
                        "link to lot {} (seq {}, hash {}) is not that lot's head (seq {}, hash {})",
                        link.lot,
                        link.seq,
                        link.hash,
                        other.head_seq(),
                        other.head
                    ),
                ));
            }
        }
    }
    let registry_head = view.lot(&REGISTRY_LOT).map_or(Hash32::ZERO, |l| l.head);
    if rec.registry != registry_head {
        return Err(RuleError::violation(
            rec.lot,
            format!(
                "record names registry head {} but the registry's head is {registry_head}",
                rec.registry
            ),
        ));
    }
    let signer = authorize(view, rec, body)?;
    let genesis = matches!(
        (&body.kind, role),
        (EventKind::OreReceipt(_), 0)
            | (EventKind::MagnetIntake(_), 0)
            | (EventKind::CampaignOpened(_), 0)
            | (EventKind::OutputProduced(_), 1)
    ) || (body.kind.is_registry() && registry(view).is_none());
    let prior = view.lot(&rec.lot);
    let mut st = match (genesis, prior) {
        (true, Some(_)) => return Err(RuleError::LotExists(rec.lot)),
        (false, None) => return Err(RuleError::UnknownLot(rec.lot)),
        (true, None) => {
            if rec.seq != 0 || rec.prev != Hash32::ZERO {
                return Err(RuleError::violation(
                    rec.lot,
                    "a genesis record has sequence 0 and a zero previous hash",
                ));
            }
            return genesis_state(view, rec, hash, body, signer);
        }
        (false, Some(p)) => {
            if rec.seq != p.next_seq || rec.prev != p.head {
                return Err(RuleError::violation(
                    rec.lot,
                    format!(
                        "chain: record seq {} prev {} does not follow head seq {} hash {}",
                        rec.seq,
                        rec.prev,
                        p.head_seq(),
                        p.head
                    ),
                ));
            }
            p.clone()
        }
    };
    let id = st.id;
    match (&body.kind, role) {
        (EventKind::InputCharged(c), 0) => {
            if !matches!(st.kind(), LotKind::Ore | LotKind::Recycled) {
                return Err(RuleError::violation(
                    id,
                    format!(
                        "only ore and recycled lots are charged, this is {} {} lot",
                        crate::error::a_or_an(st.kind().name()),
                        st.kind().name()
                    ),
                ));
            }
            st.balance_g = debit(id, st.balance_g, c.mass_g, "charge")?;
        }
        (EventKind::InputCharged(c), _) => {
            let input = view.lot(&c.input).ok_or(RuleError::UnknownLot(c.input))?;
            let (source, comp) = match (input.source(), input.composition()) {
                (Some(s), Some(comp)) => (s, comp),
                _ => {
                    return Err(RuleError::violation(
                        c.input,
                        "only ore and recycled lots are charged",
                    ))
                }
            };
            st.balance_g = add(id, st.balance_g, c.mass_g)?;
            let LotDetail::Campaign(camp) = &mut st.detail else {
                return Err(RuleError::violation(
                    id,
                    format!(
                        "is {} {} lot, not a campaign",
                        crate::error::a_or_an(st.kind().name()),
                        st.kind().name()
                    ),
                ));
            };
            if camp.closed {
                return Err(RuleError::violation(id, "campaign is closed"));
            }
            camp.charged_g = add(id, camp.charged_g, c.mass_g)?;
            camp.charges += 1;
            let totals = camp.sources.entry(source).or_default();
            totals.gross_g = add(id, totals.gross_g, c.mass_g)?;
            if comp.is_empty() {
                camp.unassayed_g = add(id, camp.unassayed_g, c.mass_g)?;
                totals.unassayed_g = add(id, totals.unassayed_g, c.mass_g)?;
            } else {
                for (e, ppm) in comp.entries() {
                    let g = (c.mass_g as u128 * *ppm as u128 / PPM as u128) as u64;
                    camp.charged_el[e.index()] = add(id, camp.charged_el[e.index()], g)?;
                    totals.element_g[e.index()] = add(id, totals.element_g[e.index()], g)?;
                }
            }
        }
        (EventKind::OutputProduced(p), 0) => {
            st.balance_g = debit(id, st.balance_g, p.mass_g, "production")?;
            let LotDetail::Campaign(camp) = &mut st.detail else {
                return Err(RuleError::violation(
                    id,
                    format!(
                        "only campaigns produce, this is {} {} lot",
                        crate::error::a_or_an(st.kind().name()),
                        st.kind().name()
                    ),
                ));
            };
            if camp.closed {
                return Err(RuleError::violation(id, "campaign is closed"));
            }
            for (e, g) in p.oxide.element_grams(p.mass_g, p.purity_ppm) {
                let i = e.index();
                let produced = add(id, camp.produced_el[i], g)?;
                let available = camp.charged_el[i] as u128 + camp.unassayed_g as u128;
                let allowed =
                    available * (PPM + ELEMENT_BALANCE_TOLERANCE_PPM) as u128 / PPM as u128;
                if produced as u128 > allowed {
                    return Err(RuleError::violation(
                        id,
                        format!(
                            "producing {g} g of {} would make {produced} g of it produced, but only {available} g were charged (tolerance {}%)",
                            e.symbol(),
                            ELEMENT_BALANCE_TOLERANCE_PPM as f64 / 10_000.0
                        ),
                    ));
                }
                camp.produced_el[i] = produced;
            }
            camp.produced_g = add(id, camp.produced_g, p.mass_g)?;
            camp.outputs += 1;
        }
        (EventKind::CampaignClosed(c), _) => {
            let LotDetail::Campaign(camp) = &mut st.detail else {
                return Err(RuleError::violation(
                    id,
                    format!(
                        "is {} {} lot, not a campaign",
                        crate::error::a_or_an(st.kind().name()),
                        st.kind().name()
                    ),
                ));
            };
            if camp.closed {
                return Err(RuleError::violation(id, "campaign is already closed"));
            }
            st.balance_g = debit(id, st.balance_g, c.losses_g, "declared loss")?;
            camp.losses_g = c.losses_g;
            camp.closed = true;
        }
        (EventKind::Shipment(s), _) => {
            if st.kind() != LotKind::Oxide {
                return Err(RuleError::violation(
                    id,
                    format!(
                        "only oxide lots ship, this is {} {} lot",
                        crate::error::a_or_an(st.kind().name()),
                        st.kind().name()
                    ),
                ));
            }
            st.balance_g = debit(id, st.balance_g, s.mass_g, "shipment")?;
        }
        (EventKind::AssayRecorded(a), _) => match &mut st.detail {
            LotDetail::Ore { assay, .. } => *assay = Arc::new(a.content.clone()),
            LotDetail::Recycled { content, .. } => *content = Arc::new(a.content.clone()),
            _ => {
                return Err(RuleError::violation(
                    id,
                    format!(
                        "assays are recorded on ore and recycled lots, this is {} {} lot",
                        crate::error::a_or_an(st.kind().name()),
                        st.kind().name()
                    ),
                ))
            }
        },
        (
            EventKind::ParticipantRegistered(_)
            | EventKind::KeyAdded(_)
            | EventKind::KeyRevoked(_)
            | EventKind::ParticipantSuspended(_)
            | EventKind::TokenIssued(_),
            _,
        ) => {
            let LotDetail::Registry(r) = &mut st.detail else {
                return Err(RuleError::violation(
                    id,
                    "registry events go on the registry lot",
                ));
            };
            Arc::make_mut(r)
                .apply(&body.kind, rec.global_seq)
                .map_err(|m| RuleError::violation(id, m))?;
        }
        (EventKind::Adjustment(a), _) => {
            if a.delta_g < 0 {
                if let LotDetail::Campaign(c) = &st.detail {
                    if c.closed {
                        return Err(RuleError::violation(id, "campaign is closed"));
                    }
                }
                st.balance_g = debit(id, st.balance_g, a.delta_g.unsigned_abs(), "adjustment")?;
            } else {
                if !matches!(st.kind(), LotKind::Ore | LotKind::Recycled) {
                    return Err(RuleError::violation(id, "a positive adjustment (stock-count gain) is allowed only on ore and recycled lots: elsewhere it would create element mass"));
                }
                st.balance_g = add(id, st.balance_g, a.delta_g as u64)?;
            }
        }
        _ => {
            return Err(RuleError::violation(
                id,
                "record role does not match its event",
            ))
        }
    }
    st.next_seq = rec.seq + 1;
    st.head = hash;
    Ok(st)
}

/// The participant registry as of this point in history (None before its first event).
pub fn registry(view: &dyn LotView) -> Option<&Registry> {
    match &view.lot(&REGISTRY_LOT)?.detail {
        LotDetail::Registry(r) => Some(r),
        _ => None,
    }
}

/// Who signed the record, and whether they may: the key must be registered and not revoked, its
/// participant active, its role allowed this kind of event, and a supplier or recycler may only
/// touch its own lots. Checks the registry, not the signature's cryptography: the engine checks
/// that on submission and the verifier on every record it replays.
fn authorize(
    view: &dyn LotView,
    rec: &Record,
    body: &EventBody,
) -> Result<ParticipantId, RuleError> {
    let sig = rec
        .signature
        .as_ref()
        .ok_or_else(|| RuleError::Unauthenticated("the event is not signed".into()))?;
    let Some(reg) = registry(view) else {
        if let EventKind::ParticipantRegistered(e) = &body.kind {
            if e.role == Role::Administrator && e.public_key == sig.public_key {
                return Ok(e.participant);
            }
        }
        return Err(RuleError::Unauthenticated(
            "the ledger has no participant registry yet: its first event registers an administrator, signed by that administrator's own key".into(),
        ));
    };
    let p = reg.signer(&sig.public_key).map_err(|e| match e {
        SignerError::Unauthenticated(m) => RuleError::Unauthenticated(m),
        SignerError::Suspended(m) => RuleError::Forbidden(m),
    })?;
    if !role_may_submit(p.role, &body.kind) {
        return Err(RuleError::Forbidden(format!(
            "{} is {} {}, which may not submit {} events",
            p.name,
            crate::error::a_or_an(p.role.name()),
            p.role.name(),
            body.kind.name()
        )));
    }
    if matches!(p.role, Role::Supplier | Role::Recycler) {
        if let Some(l) = view.lot(&rec.lot) {
            if l.owner != p.id {
                return Err(RuleError::Forbidden(format!(
                    "lot {} belongs to another participant; {} may append only to its own lots",
                    l.id, p.name
                )));
            }
        }
    }
    Ok(p.id)
}

fn genesis_state(
    view: &dyn LotView,
    rec: &Record,
    hash: Hash32,
    body: &EventBody,
    owner: ParticipantId,
) -> Result<LotState, RuleError> {
    let (balance_g, detail) = match &body.kind {
        EventKind::OreReceipt(o) => (
            o.mass_g,
            LotDetail::Ore {
                supplier: o.supplier.as_str().into(),
                mine_site: o.mine_site.as_str().into(),
                country: o.country,
                reo_grade_ppm: o.reo_grade_ppm,
                documents: o.documents.clone().into(),
                assay: Arc::new(o.assay.clone()),
            },
        ),
        EventKind::MagnetIntake(m) => (
            m.mass_g,
            LotDetail::Recycled {
                recycler: m.recycler.as_str().into(),
                category: m.category,
                scrap: m.scrap,
                country: m.country,
                documents: m.documents.clone().into(),
                content: Arc::new(m.content.clone()),
            },
        ),
        EventKind::CampaignOpened(c) => (
            0,
            LotDetail::Campaign(Box::new(CampaignState {
                facility: c.facility.as_str().into(),
                country: c.country,
                charged_g: 0,
                produced_g: 0,
                losses_g: 0,
                charged_el: [0; N_ELEMENTS],
                produced_el: [0; N_ELEMENTS],
                unassayed_g: 0,
                sources: BTreeMap::new(),
                charges: 0,
                outputs: 0,
                closed: false,
            })),
        ),
        EventKind::OutputProduced(p) => {
            // apply_record checked that the link is the campaign's head, i.e. its debit record.
            let camp_lot = view
                .lot(&p.campaign)
                .ok_or(RuleError::UnknownLot(p.campaign))?;
            let camp = camp_lot
                .campaign()
                .ok_or_else(|| RuleError::violation(p.campaign, "only campaigns produce"))?;
            let attribution = attribute(camp, camp_lot, &p.oxide, p.mass_g, p.purity_ppm)?;
            (
                p.mass_g,
                LotDetail::Oxide {
                    oxide: p.oxide,
                    purity_ppm: p.purity_ppm,
                    attribution: Arc::new(attribution),
                },
            )
        }
        EventKind::ParticipantRegistered(_) if rec.lot == REGISTRY_LOT => {
            let mut r = Registry::default();
            r.apply(&body.kind, rec.global_seq)
                .map_err(|m| RuleError::violation(rec.lot, m))?;
            (0, LotDetail::Registry(Arc::new(r)))
        }
        _ => return Err(RuleError::violation(rec.lot, "not a genesis event")),
    };
    Ok(LotState {
        id: rec.lot,
        next_seq: 1,
        head: hash,
        balance_g,
        received_g: balance_g,
        created_at: body.occurred_at,
        owner,
        detail,
    })
}

/// Splits `total` over `weights` in proportion, exactly (largest remainder): the parts sum to
/// `total`, so attribution never creates or loses a gram.
pub fn split_proportionally(total: u64, weights: &[u64]) -> Vec<u64> {
    let sum: u128 = weights.iter().map(|w| *w as u128).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut parts: Vec<u64> = Vec::with_capacity(weights.len());
    let mut rems: Vec<(u128, usize)> = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let num = total as u128 * *w as u128;
        parts.push((num / sum) as u64);
        rems.push((num % sum, i));
    }
    let mut left = total - parts.iter().sum::<u64>();
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in rems {
        if left == 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    parts
}

/// Attribution of an output: each of its elements in proportion to what the campaign had
/// received of that element before production (by gross mass where some input had no assay).
fn attribute(
    camp: &CampaignState,
    camp_lot: &LotState,
    oxide: &Oxide,
    mass_g: u64,
    purity_ppm: u32,
) -> Result<Attribution, RuleError> {
    let basis = if camp.unassayed_g > 0 {
        Basis::Mass
    } else {
        Basis::Element
    };
    let sources: Vec<(&Source, &SourceTotals)> = camp.sources.iter().collect();
    let mut by_source: BTreeMap<Source, [u64; N_ELEMENTS]> = BTreeMap::new();
    let mut element_g = [0u64; N_ELEMENTS];
    for (e, g) in oxide.element_grams(mass_g, purity_ppm) {
        element_g[e.index()] = g;
        if g == 0 {
            continue;
        }
        let weights: Vec<u64> = sources
            .iter()
            .map(|(_, t)| match basis {
                Basis::Element => t.element_g[e.index()],
                Basis::Mass => t.gross_g,
            })
            .collect();
        if weights.iter().all(|w| *w == 0) {
            return Err(RuleError::violation(
                camp_lot.id,
                format!("no {} was charged before this output", e.symbol()),
            ));
        }
        for ((s, _), part) in sources.iter().zip(split_proportionally(g, &weights)) {
            if part > 0 {
                by_source.entry(**s).or_insert([0; N_ELEMENTS])[e.index()] += part;
            }
        }
    }
    Ok(Attribution {
        basis,
        campaign: camp_lot.id,
        campaign_seq: camp_lot.head_seq(),
        facility: camp.facility.clone(),
        facility_country: camp.country,
        element_g,
        by_source,
    })
}

/// Elements present in an attribution array, for reports.
pub fn elements_of(a: &[u64; N_ELEMENTS]) -> impl Iterator<Item = (Element, u64)> + '_ {
    Element::ALL
        .iter()
        .map(|e| (*e, a[e.index()]))
        .filter(|(_, g)| *g > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::element::Element;
    use crate::event::{AssayRecorded, InputCharged, KeyRevoked, OreReceipt};
    use crate::ids::EventId;
    use crate::testkit::{Member, Team};

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
        let b = EventBody {
            event_id: EventId::new_v7(),
            occurred_at: NOW,
            expected_head: None,
            kind,
        };
        let bytes = b.encode();
        let mut s = Staged::new(state, state.next_global_seq());
        s.append(&bytes, &b, Some(m.sign(&bytes)), NOW)?;
        let c = s.into_changes();
        state.commit(c);
        Ok(())
    }

    fn ore(lot: LotId) -> EventKind {
        EventKind::OreReceipt(OreReceipt {
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
            s.append(&b.encode(), &b, None, NOW),
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
        submit_as(&mut state, &t.supplier, assay(lot)).unwrap();
        submit_as(&mut state, &t.plant, assay(lot)).unwrap();
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
            }),
        )
        .unwrap_err();
        assert!(e.to_string().contains("overflows"), "{e}");
    }
}
