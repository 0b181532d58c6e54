//! The rule of registry events after the first: the registry lot's `Registry::apply`.

use std::sync::Arc;

use super::lot::{LotDetail, LotState};
use crate::error::RuleError;
use crate::event::EventKind;

pub(super) fn apply_to_registry(
    st: &mut LotState,
    kind: &EventKind,
    global_seq: u64,
) -> Result<(), RuleError> {
    let id = st.id;
    let LotDetail::Registry(r) = &mut st.detail else {
        return Err(RuleError::violation(
            id,
            "registry events go on the registry lot",
        ));
    };
    Arc::make_mut(r)
        .apply(kind, global_seq)
        .map_err(|m| RuleError::violation(id, m))
}
