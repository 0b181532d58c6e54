//! What a lot is: its kind, balance, detail (ore, recycled, campaign, oxide, registry), and the
//! sources attribution counts. Plain data; the rules that change it live beside it in `state/`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::country::Country;
use crate::element::{Oxide, N_ELEMENTS};
use crate::error::{a_or_an, RuleError};
use crate::event::{Composition, Document, MagnetCategory, ScrapClass};
use crate::ids::{FacilityId, Hash32, LotId, ParticipantId, REGISTRY_LOT};
use crate::registry::Registry;
use crate::time::UtcMicros;

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

/// Who vouches for an assay: the lot's owner (a declaration) or a laboratory facility.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AssayBy {
    Declared,
    Laboratory(FacilityId),
}

/// One assay of an ore or recycled lot, in the order recorded; the last is in effect.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AssayEntry {
    /// The lot record that set it (0: the receipt or intake).
    pub seq: u64,
    pub by: AssayBy,
    pub content: Arc<Composition>,
    /// Largest move of one element against the previous non-empty assay, in ppm of the lot's
    /// mass (0 for the first).
    pub shift_ppm: u32,
}

/// One charge of an ore or recycled lot, with the assay in effect when it was made: the grams of
/// each element the campaign received were counted by that assay, and a later one changes nothing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ChargeUse {
    pub campaign: LotId,
    pub mass_g: u64,
    /// Index into the lot's assays.
    pub assay: usize,
}

/// What an ore or recycled lot carries besides its kind-specific fields: its registered site,
/// its assay history and its charges.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SourceLot {
    pub facility: FacilityId,
    pub assays: super::History<AssayEntry>,
    pub charges: super::History<ChargeUse>,
}

/// Running totals of a separation campaign.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CampaignState {
    /// The registered separation plant.
    pub facility_id: FacilityId,
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

/// Whether grams are attributed by element (oxide lots, and campaigns whose every charge was
/// assayed) or by gross mass (a campaign with some unassayed charge, for display only).
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
    /// Every source physically charged into the campaign before this output, whatever its
    /// assay: the segregated claim rests on presence, not on attributed grams.
    pub present: BTreeSet<Source>,
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
        source: SourceLot,
    },
    Recycled {
        recycler: Arc<str>,
        category: MagnetCategory,
        scrap: ScrapClass,
        country: Country,
        documents: Arc<[Document]>,
        content: Arc<Composition>,
        source: SourceLot,
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
    /// Adjustments and attestations (`state/audit.rs`); shared until one is added.
    pub audit: Arc<super::audit::Audit>,
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
    /// Site, assays and charges of an ore or recycled lot.
    pub fn source_lot(&self) -> Option<&SourceLot> {
        match &self.detail {
            LotDetail::Ore { source, .. } | LotDetail::Recycled { source, .. } => Some(source),
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

/// The participant registry as of this point in history (None before its first event).
pub fn registry(view: &dyn LotView) -> Option<&Registry> {
    match &view.lot(&REGISTRY_LOT)?.detail {
        LotDetail::Registry(r) => Some(r),
        _ => None,
    }
}

/// `"{rule}, this is an oxide lot"`: a rule refusing a lot of another kind.
pub(super) fn wrong_kind(lot: LotId, kind: LotKind, rule: &str) -> RuleError {
    let kind = kind.name();
    RuleError::violation(lot, format!("{rule}, this is {} {kind} lot", a_or_an(kind)))
}
