//! Event-sourced lot state and the rules. [`apply_record`] is the single place where a record
//! changes a lot: the engine calls it to accept new events, the verifier to replay a bundle, so
//! both enforce exactly the same rules.
//!
//! One file per family of rules, mirroring `event/`: `campaign.rs` (charges, outputs, closing),
//! `shipment.rs`, `assay.rs`, `adjustment.rs`, `registry.rs`; `genesis.rs` is how every lot
//! starts, `chain.rs` where a record sits, `authorize.rs` who may sign it.

mod adjustment;
mod assay;
mod attribution;
mod audit;
mod authorize;
mod balance;
mod campaign;
mod chain;
mod genesis;
mod history;
mod ledger;
mod lot;
mod registry;
mod shipment;
#[cfg(test)]
mod tests;

pub use attribution::{elements_of, split_proportionally};
pub use audit::{AdjustmentEntry, AttestationEntry, Audit, MAX_GAIN_SHARE_PPM};
pub use campaign::ELEMENT_BALANCE_TOLERANCE_PPM;
pub use history::History;
pub use ledger::{Appended, Changes, LedgerState, ReplayError, Staged};
pub use lot::{
    registry, AssayBy, AssayEntry, Attribution, Basis, CampaignState, ChargeUse, Feed, LotDetail,
    LotKind, LotState, LotView, Source, SourceLot, SourceTotals,
};

use std::sync::Arc;

use crate::error::RuleError;
use crate::event::{EventBody, EventKind};
use crate::ids::Hash32;
use crate::record::Record;

/// Applies one record to its lot and returns the lot's new state. Checks the chain position
/// (sequence, previous hash), the cross-lot link, the order commitment, the signer, and every
/// domain rule.
pub fn apply_record(
    view: &dyn LotView,
    rec: &Record,
    hash: Hash32,
    body: &EventBody,
) -> Result<LotState, RuleError> {
    let role = chain::check_place(view, rec, body)?;
    chain::check_commitment(rec, body)?;
    let signer = authorize::authorize(view, rec, body)?;
    let prior = view.lot(&rec.lot);
    if genesis::is_genesis(view, body, role) {
        chain::check_genesis(prior, rec)?;
        return genesis::genesis_state(view, rec, hash, body, signer);
    }
    let mut st = chain::follow(prior, rec)?;
    match (&body.kind, role) {
        (EventKind::InputCharged(c), 0) => campaign::charge_input(&mut st, c)?,
        (EventKind::InputCharged(c), _) => campaign::charge_campaign(view, &mut st, c)?,
        (EventKind::OutputProduced(p), 0) => campaign::produce(&mut st, p)?,
        (EventKind::CampaignClosed(c), _) => campaign::close(&mut st, c)?,
        (EventKind::Shipment(s), _) => shipment::ship(&mut st, s)?,
        (EventKind::AssayRecorded(a), _) => {
            assay::record_assay(view, &mut st, a, signer, body.occurred_at, rec.seq)?
        }
        (kind, _) if kind.is_registry() => {
            registry::apply_to_registry(&mut st, kind, rec.global_seq, body.occurred_at)?
        }
        (EventKind::Adjustment(a), _) => {
            adjustment::adjust(view, &mut st, (rec.seq, hash), body, a)?
        }
        (EventKind::Attestation(a), _) => audit::attest(&mut st, rec.seq, hash, a, signer)?,
        _ => {
            return Err(RuleError::violation(
                st.id,
                "record role does not match its event",
            ))
        }
    }
    if let EventKind::AssayRecorded(_) = body.kind {
        Arc::make_mut(&mut st.audit).attestable.push(hash);
    }
    st.next_seq = rec.seq + 1;
    st.head = hash;
    Ok(st)
}
