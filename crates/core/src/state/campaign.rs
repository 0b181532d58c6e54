//! The rules of campaigns: inputs charged in, oxide produced out (within the element balance),
//! closing with declared losses. Whether a lot is an open campaign is decided in one place,
//! [`open_campaign`].

use super::balance::{add, debit};

use super::lot::{wrong_kind, CampaignState, ChargeUse, LotDetail, LotKind, LotState, LotView};
use crate::element::PPM;
use crate::error::{a_or_an, RuleError};
use crate::event::{CampaignClosed, InputCharged, OutputProduced};
use crate::ids::LotId;

/// How far a campaign's output of one element may exceed what was charged of it, in ppm of the
/// charged amount: assays of concentrates carry a few percent of uncertainty, so 2% is allowed.
pub const ELEMENT_BALANCE_TOLERANCE_PPM: u64 = 20_000;

/// What a rule wants an open campaign for; it words the refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CampaignUse {
    Charge,
    Produce,
    Close,
    Adjust,
}

impl CampaignUse {
    fn not_a_campaign(self, lot: LotId, kind: LotKind) -> RuleError {
        let article = a_or_an(kind.name());
        let reason = match self {
            CampaignUse::Produce => {
                format!(
                    "only campaigns produce, this is {article} {} lot",
                    kind.name()
                )
            }
            _ => format!("is {article} {} lot, not a campaign", kind.name()),
        };
        RuleError::violation(lot, reason)
    }
    fn closed(self, lot: LotId) -> RuleError {
        let reason = match self {
            CampaignUse::Close => "campaign is already closed",
            _ => "campaign is closed",
        };
        RuleError::violation(lot, reason)
    }
}

/// The lot's campaign if the lot is a campaign and still open, else the precise refusal.
pub(super) fn open_campaign(lot: &LotState, why: CampaignUse) -> Result<&CampaignState, RuleError> {
    match &lot.detail {
        LotDetail::Campaign(c) if !c.closed => Ok(c),
        LotDetail::Campaign(_) => Err(why.closed(lot.id)),
        _ => Err(why.not_a_campaign(lot.id, lot.kind())),
    }
}

/// [`open_campaign`], to change it.
fn open_campaign_mut(
    lot: &mut LotState,
    why: CampaignUse,
) -> Result<&mut CampaignState, RuleError> {
    let (id, kind) = (lot.id, lot.kind());
    match &mut lot.detail {
        LotDetail::Campaign(c) if !c.closed => Ok(c),
        LotDetail::Campaign(_) => Err(why.closed(id)),
        _ => Err(why.not_a_campaign(id, kind)),
    }
}

/// The input's record of a charge: ore or recycled grams leave it, and the charge keeps the
/// assay in effect now (the campaign's record counts its elements by that same assay).
pub(super) fn charge_input(st: &mut LotState, c: &InputCharged) -> Result<(), RuleError> {
    if !matches!(st.kind(), LotKind::Ore | LotKind::Recycled) {
        return Err(wrong_kind(
            st.id,
            st.kind(),
            "only ore and recycled lots are charged",
        ));
    }
    st.balance_g = debit(st.id, st.balance_g, c.mass_g, "charge")?;
    if let LotDetail::Ore { source, .. } | LotDetail::Recycled { source, .. } = &mut st.detail {
        let assay = source.assays.len().saturating_sub(1);
        source.charges.push(ChargeUse {
            campaign: c.campaign,
            mass_g: c.mass_g,
            assay,
        });
    }
    Ok(())
}

/// The campaign's record of a charge: the grams, and the elements by the input's assay at charge
/// time, counted for the input's source.
pub(super) fn charge_campaign(
    view: &dyn LotView,
    st: &mut LotState,
    c: &InputCharged,
) -> Result<(), RuleError> {
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
    let id = st.id;
    st.balance_g = add(id, st.balance_g, c.mass_g)?;
    let camp = open_campaign_mut(st, CampaignUse::Charge)?;
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
    Ok(())
}

/// The campaign's record of an output: no element comes out beyond what assays say went in
/// (within [`ELEMENT_BALANCE_TOLERANCE_PPM`]). Grams charged without an assay for the element
/// count for nothing: an unassayed input could be anything, so it makes no element available.
/// The oxide lot's own record is its genesis.
pub(super) fn produce(st: &mut LotState, p: &OutputProduced) -> Result<(), RuleError> {
    let id = st.id;
    st.balance_g = debit(id, st.balance_g, p.mass_g, "production")?;
    let camp = open_campaign_mut(st, CampaignUse::Produce)?;
    for (e, g) in p.oxide.element_grams(p.mass_g, p.purity_ppm) {
        let i = e.index();
        let produced = add(id, camp.produced_el[i], g)?;
        let available = camp.charged_el[i] as u128;
        let allowed = available * (PPM + ELEMENT_BALANCE_TOLERANCE_PPM) as u128 / PPM as u128;
        if produced as u128 > allowed {
            return Err(RuleError::violation(
                id,
                format!(
                    "producing {g} g of {} would make {produced} g of it produced, but assays account for only {available} g charged (tolerance {}%; unassayed grams count for nothing)",
                    e.symbol(),
                    ELEMENT_BALANCE_TOLERANCE_PPM as f64 / 10_000.0
                ),
            ));
        }
        camp.produced_el[i] = produced;
    }
    camp.produced_g = add(id, camp.produced_g, p.mass_g)?;
    camp.outputs += 1;
    Ok(())
}

/// A campaign closes once, writing off its declared losses.
pub(super) fn close(st: &mut LotState, c: &CampaignClosed) -> Result<(), RuleError> {
    let id = st.id;
    open_campaign(st, CampaignUse::Close)?;
    st.balance_g = debit(id, st.balance_g, c.losses_g, "declared loss")?;
    let camp = open_campaign_mut(st, CampaignUse::Close)?;
    camp.losses_g = c.losses_g;
    camp.closed = true;
    Ok(())
}
