//! The rule of assays: a new content replaces an ore or recycled lot's, for later charges.

use std::sync::Arc;

use super::lot::{wrong_kind, LotDetail, LotState};
use crate::error::RuleError;
use crate::event::AssayRecorded;

pub(super) fn record_assay(st: &mut LotState, a: &AssayRecorded) -> Result<(), RuleError> {
    match &mut st.detail {
        LotDetail::Ore { assay, .. } => *assay = Arc::new(a.content.clone()),
        LotDetail::Recycled { content, .. } => *content = Arc::new(a.content.clone()),
        _ => {
            return Err(wrong_kind(
                st.id,
                st.kind(),
                "assays are recorded on ore and recycled lots",
            ))
        }
    }
    Ok(())
}
