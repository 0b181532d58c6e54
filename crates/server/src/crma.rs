//! GetProvenance's CRMA fields and re-assay flags (`ree_core::crma`), from the engine's states.

use ree_core::crma::{self, DEFAULT_MAX_REASSAY_SHIFT_PPM};
use ree_core::ids::REGISTRY_LOT;
use ree_core::provenance::Provenance;
use ree_core::state::LotDetail;
use ree_core::LotState;
use ree_engine::Engine;
use ree_proto::{convert, v1 as pb};

/// An upstream lot's re-assays, up to `seq`, beyond the default tolerance.
pub(crate) fn reassay_flags(l: Option<&LotState>, seq: u64) -> Vec<pb::ReassayFlag> {
    l.map_or_else(Vec::new, |l| {
        convert::reassay_pb(&crma::reassay_flags(l, seq, DEFAULT_MAX_REASSAY_SHIFT_PPM))
    })
}

/// The subject's CRMA fields, given its upstream source lots.
pub(crate) fn crma_pb(
    engine: &Engine,
    prov: &Provenance,
    subject: &LotState,
    sources: &[LotState],
) -> Vec<pb::ElementCrma> {
    let registry = engine.lot(REGISTRY_LOT);
    let registry = registry.as_ref().and_then(|r| match &r.detail {
        LotDetail::Registry(g) => Some(&**g),
        _ => None,
    });
    let refs: Vec<&LotState> = sources.iter().collect();
    convert::crma_pb(&crma::crma(prov, subject, &refs, registry))
}
