//! The rule of shipments: only oxide ships, and no more than the lot holds.

use super::balance::debit;
use super::lot::{wrong_kind, LotKind, LotState};
use crate::error::RuleError;
use crate::event::Shipment;

pub(super) fn ship(st: &mut LotState, s: &Shipment) -> Result<(), RuleError> {
    if st.kind() != LotKind::Oxide {
        return Err(wrong_kind(st.id, st.kind(), "only oxide lots ship"));
    }
    st.balance_g = debit(st.id, st.balance_g, s.mass_g, "shipment")?;
    Ok(())
}
