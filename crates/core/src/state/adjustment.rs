//! The rule of adjustments: a loss anywhere but on a closed campaign; a gain only on ore and
//! recycled lots, where it cannot create element mass downstream.

use super::balance::{add, debit};
use super::campaign::{open_campaign, CampaignUse};
use super::lot::{LotKind, LotState};
use crate::error::RuleError;
use crate::event::Adjustment;

pub(super) fn adjust(st: &mut LotState, a: &Adjustment) -> Result<(), RuleError> {
    let id = st.id;
    if a.delta_g < 0 {
        if st.kind() == LotKind::Campaign {
            open_campaign(st, CampaignUse::Adjust)?;
        }
        st.balance_g = debit(id, st.balance_g, a.delta_g.unsigned_abs(), "adjustment")?;
    } else {
        if !matches!(st.kind(), LotKind::Ore | LotKind::Recycled) {
            return Err(RuleError::violation(id, "a positive adjustment (stock-count gain) is allowed only on ore and recycled lots: elsewhere it would create element mass"));
        }
        st.balance_g = add(id, st.balance_g, a.delta_g as u64)?;
    }
    Ok(())
}
