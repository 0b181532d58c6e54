//! How a lot starts: the genesis records of ore receipts, magnet intakes, campaign openings,
//! produced oxide lots and the registry's first administrator.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::attribution::attribute;
use super::lot::{
    registry, AssayBy, AssayEntry, CampaignState, LotDetail, LotState, LotView, SourceLot,
};
use crate::country::Country;
use crate::element::N_ELEMENTS;
use crate::error::RuleError;
use crate::event::{CampaignOpened, EventBody, EventKind};
use crate::event::{Composition, FacilityKind};
use crate::ids::FacilityId;
use crate::ids::{Hash32, ParticipantId, REGISTRY_LOT};
use crate::record::Record;
use crate::registry::Registry;
use crate::registry::SiteUse;

/// Whether the record starts its lot: the subject of a receipt, intake or opening, the produced
/// oxide lot, or the first registry event.
pub(super) fn is_genesis(view: &dyn LotView, body: &EventBody, role: usize) -> bool {
    matches!(
        (&body.kind, role),
        (EventKind::OreReceipt(_), 0)
            | (EventKind::MagnetIntake(_), 0)
            | (EventKind::CampaignOpened(_), 0)
            | (EventKind::OutputProduced(_), 1)
    ) || (body.kind.is_registry() && registry(view).is_none())
}

/// The new lot's state; its owner is the signer.
pub(super) fn genesis_state(
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
                source: source_lot(
                    view,
                    rec,
                    owner,
                    o.facility,
                    &[FacilityKind::Mine],
                    o.country,
                    "ore_receipt",
                    &o.assay,
                )?,
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
                source: source_lot(
                    view,
                    rec,
                    owner,
                    m.facility,
                    &[FacilityKind::Collection, FacilityKind::Recycling],
                    m.country,
                    "magnet_intake",
                    &m.content,
                )?,
                recycler: m.recycler.as_str().into(),
                category: m.category,
                scrap: m.scrap,
                country: m.country,
                documents: m.documents.clone().into(),
                content: Arc::new(m.content.clone()),
            },
        ),
        EventKind::CampaignOpened(c) => {
            site(
                view,
                rec,
                owner,
                c.facility_id,
                &[FacilityKind::Separation],
                c.country,
                "campaign_opened",
            )?;
            (0, LotDetail::Campaign(Box::new(opened(c))))
        }
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
        audit: Arc::new(super::audit::Audit {
            attestable: super::History::from_iter([hash]),
            ..Default::default()
        }),
    })
}

/// The registered site an event names: open, operated by the signer, of the right kind, in the
/// country the event states (the origin is the site's, never the submitter's word).
fn site(
    view: &dyn LotView,
    rec: &Record,
    signer: ParticipantId,
    id: FacilityId,
    kinds: &[FacilityKind],
    country: Country,
    event: &str,
) -> Result<(), RuleError> {
    let reg = registry(view)
        .ok_or_else(|| RuleError::violation(rec.lot, "the ledger has no registry yet"))?;
    let field = format!("{event}.facility_id");
    let u = SiteUse {
        field: &field,
        signer,
        kinds,
        country: Some(country),
    };
    reg.site(&id, &u)
        .map(|_| ())
        .map_err(|m| RuleError::violation(rec.lot, m))
}

/// A new ore or recycled lot's site (checked) and its first assay, the owner's declaration.
#[allow(clippy::too_many_arguments)]
fn source_lot(
    view: &dyn LotView,
    rec: &Record,
    signer: ParticipantId,
    id: FacilityId,
    kinds: &[FacilityKind],
    country: Country,
    event: &str,
    declared: &Composition,
) -> Result<SourceLot, RuleError> {
    site(view, rec, signer, id, kinds, country, event)?;
    Ok(SourceLot {
        facility: id,
        assays: super::History::from_iter([AssayEntry {
            seq: 0,
            by: AssayBy::Declared,
            content: Arc::new(declared.clone()),
            shift_ppm: 0,
        }]),
        charges: super::History::new(),
    })
}

/// A campaign as it opens: nothing charged, produced or lost.
fn opened(c: &CampaignOpened) -> CampaignState {
    CampaignState {
        facility_id: c.facility_id,
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
    }
}
