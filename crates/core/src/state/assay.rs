//! The rule of assays. An ore or recycled lot's owner declares its content (at receipt, or by a
//! later declaration); a laboratory operating a laboratory facility with a valid ISO/IEC 17025
//! certificate records assays that supersede declarations: once one is in effect, the owner can
//! no longer replace it. The plant records none (`role_may_submit`). A new assay applies to later
//! charges only: each charge keeps the assay in effect when it was made (`ChargeUse`).

use std::sync::Arc;

use super::lot::{registry, wrong_kind, AssayBy, AssayEntry, LotDetail, LotState, LotView};
use crate::element::Element;
use crate::error::RuleError;
use crate::event::{AssayRecorded, Composition, FacilityKind, Role};
use crate::ids::ParticipantId;
use crate::registry::{SiteUse, LAB_SCHEME};
use crate::time::UtcMicros;

const FIELD: &str = "assay_recorded.facility_id";

pub(super) fn record_assay(
    view: &dyn LotView,
    st: &mut LotState,
    a: &AssayRecorded,
    signer: ParticipantId,
    at: UtcMicros,
    seq: u64,
) -> Result<(), RuleError> {
    let id = st.id;
    let reg = registry(view).ok_or_else(|| RuleError::violation(id, "no registry"))?;
    let role = reg.participant(&signer).map(|p| p.role);
    let by = match (role, a.facility) {
        (Some(Role::Laboratory), Some(f)) => {
            let u = SiteUse {
                field: FIELD,
                signer,
                kinds: &[FacilityKind::Laboratory],
                country: None,
            };
            let lab = reg.site(&f, &u).map_err(|m| RuleError::violation(id, m))?;
            if !lab.certified(LAB_SCHEME, at) {
                return Err(RuleError::violation(
                    id,
                    format!("{FIELD}: laboratory {f} ({}) holds no {LAB_SCHEME} certificate valid at {at}", lab.name),
                ));
            }
            AssayBy::Laboratory(f)
        }
        (Some(Role::Laboratory), None) => {
            return Err(RuleError::violation(
                id,
                format!("{FIELD}: a laboratory's assay names its laboratory facility"),
            ))
        }
        (_, Some(_)) => {
            return Err(RuleError::violation(
                id,
                format!("{FIELD}: only a laboratory's assay names a laboratory; the owner's is a declaration"),
            ))
        }
        (_, None) => AssayBy::Declared,
    };
    let kind = st.kind();
    let (current, source) = match &mut st.detail {
        LotDetail::Ore { assay, source, .. } => (assay, source),
        LotDetail::Recycled {
            content, source, ..
        } => (content, source),
        _ => {
            return Err(wrong_kind(
                id,
                kind,
                "assays are recorded on ore and recycled lots",
            ))
        }
    };
    let lab_in_effect = source
        .assays
        .last()
        .is_some_and(|e| matches!(e.by, AssayBy::Laboratory(_)));
    if by == AssayBy::Declared && lab_in_effect {
        return Err(RuleError::violation(
            id,
            "a laboratory's assay is in effect: the owner's declaration no longer replaces it",
        ));
    }
    let shift_ppm = source
        .assays
        .iter()
        .rev()
        .find(|e| !e.content.is_empty())
        .map_or(0, |prev| max_shift_ppm(&prev.content, &a.content));
    let content = Arc::new(a.content.clone());
    *current = content.clone();
    source.assays.push(AssayEntry {
        seq,
        by,
        content,
        shift_ppm,
    });
    Ok(())
}

/// The largest move of one element between two assays, in ppm of the lot's mass (an element
/// absent from one counts as 0 there).
pub fn max_shift_ppm(a: &Composition, b: &Composition) -> u32 {
    Element::ALL
        .iter()
        .map(|e| a.ppm(*e).abs_diff(b.ppm(*e)))
        .max()
        .unwrap_or(0)
}
