//! The rule of adjustments: a loss anywhere but on a closed campaign; a gain only on ore and
//! recycled lots, where it cannot create element mass downstream, countersigned by an auditor
//! and capped cumulatively at [`super::audit::MAX_GAIN_SHARE_PPM`] of the lot's received mass.

use super::audit::{check_gain, note_adjustment};
use super::balance::{add, debit};
use super::campaign::{open_campaign, CampaignUse};
use super::lot::{LotKind, LotState, LotView};
use crate::error::RuleError;
use crate::event::{Adjustment, EventBody};
use crate::ids::Hash32;

pub(super) fn adjust(
    view: &dyn LotView,
    st: &mut LotState,
    (seq, hash): (u64, Hash32),
    body: &EventBody,
    a: &Adjustment,
) -> Result<(), RuleError> {
    let id = st.id;
    let mut by = None;
    if a.delta_g < 0 {
        if st.kind() == LotKind::Campaign {
            open_campaign(st, CampaignUse::Adjust)?;
        }
        st.balance_g = debit(id, st.balance_g, a.delta_g.unsigned_abs(), "adjustment")?;
    } else {
        if !matches!(st.kind(), LotKind::Ore | LotKind::Recycled) {
            return Err(RuleError::violation(id, "a positive adjustment (stock-count gain) is allowed only on ore and recycled lots: elsewhere it would create element mass"));
        }
        by = Some(check_gain(view, st, body, a)?);
        st.balance_g = add(id, st.balance_g, a.delta_g as u64)?;
    }
    note_adjustment(st, seq, hash, body, a, by);
    Ok(())
}
