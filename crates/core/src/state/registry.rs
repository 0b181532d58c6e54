//! The rule of registry events after the first: the registry lot's `Registry::apply` (participants)
//! or `Registry::apply_facility` (facilities, certifications: these need the event's time).

use std::sync::Arc;

use super::lot::{LotDetail, LotState};
use crate::error::RuleError;
use crate::event::EventKind;
use crate::registry::is_facility_event;
use crate::time::UtcMicros;

pub(super) fn apply_to_registry(
    st: &mut LotState,
    kind: &EventKind,
    global_seq: u64,
    at: UtcMicros,
) -> Result<(), RuleError> {
    let id = st.id;
    let LotDetail::Registry(r) = &mut st.detail else {
        return Err(RuleError::violation(
            id,
            "registry events go on the registry lot",
        ));
    };
    let r = Arc::make_mut(r);
    if is_facility_event(kind) {
        r.apply_facility(kind, global_seq, at)
    } else {
        r.apply(kind, global_seq)
    }
    .map_err(|m| RuleError::violation(id, m))
}
