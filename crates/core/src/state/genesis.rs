//! How a lot starts: the genesis records of ore receipts, magnet intakes, campaign openings,
//! produced oxide lots and the registry's first administrator.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::attribution::attribute;
use super::lot::{registry, CampaignState, LotDetail, LotState, LotView};
use crate::element::N_ELEMENTS;
use crate::error::RuleError;
use crate::event::{CampaignOpened, EventBody, EventKind};
use crate::ids::{Hash32, ParticipantId, REGISTRY_LOT};
use crate::record::Record;
use crate::registry::Registry;

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
        EventKind::CampaignOpened(c) => (0, LotDetail::Campaign(Box::new(opened(c)))),
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
            attestable: vec![hash],
            ..Default::default()
        }),
    })
}

/// A campaign as it opens: nothing charged, produced or lost.
fn opened(c: &CampaignOpened) -> CampaignState {
    CampaignState {
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
