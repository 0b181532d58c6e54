//! The rule of assays: a new content replaces an ore or recycled lot's, for later charges.

use std::sync::Arc;

use super::lot::{LotDetail, LotState};
use crate::error::{a_or_an, RuleError};
use crate::event::AssayRecorded;

pub(super) fn record_assay(st: &mut LotState, a: &AssayRecorded) -> Result<(), RuleError> {
    match &mut st.detail {
        LotDetail::Ore { assay, .. } => *assay = Arc::new(a.content.clone()),
        LotDetail::Recycled { content, .. } => *content = Arc::new(a.content.clone()),
        _ => {
            return Err(RuleError::violation(
                st.id,
                format!(
                    "assays are recorded on ore and recycled lots, this is {} {} lot",
                    a_or_an(st.kind().name()),
                    st.kind().name()
                ),
            ))
        }
    }
    Ok(())
}
