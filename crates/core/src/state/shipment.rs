//! The rule of shipments: only oxide ships, and no more than the lot holds.

use super::balance::debit;
use super::lot::{LotKind, LotState};
use crate::error::{a_or_an, RuleError};
use crate::event::Shipment;

pub(super) fn ship(st: &mut LotState, s: &Shipment) -> Result<(), RuleError> {
    if st.kind() != LotKind::Oxide {
        return Err(RuleError::violation(
            st.id,
            format!(
                "only oxide lots ship, this is {} {} lot",
                a_or_an(st.kind().name()),
                st.kind().name()
            ),
        ));
    }
    st.balance_g = debit(st.id, st.balance_g, s.mass_g, "shipment")?;
    Ok(())
}
