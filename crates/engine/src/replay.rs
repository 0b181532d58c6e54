//! Open-time replay: rebuilds the ledger state from every stored record and checks the store's
//! indexes against it. `Engine::open`, `ree check` and `ree restore` share it.

use ree_core::{LedgerState, Record};
use ree_store::{Store, StoreError};

use crate::error::EngineError;
use crate::types::OpenReport;

/// Rebuilds the ledger state by replaying every stored record, and checks the indexes against
/// it: every hash, link and rule; the lot index's last entry is each lot's head; one idempotency
/// entry per submission.
pub fn replay_store(store: &dyn Store) -> Result<(LedgerState, OpenReport), EngineError> {
    replay_store_with_progress(store, &|_| {})
}

/// Told how many records are done, every [`PROGRESS_EVERY`] records: for a progress bar.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// How often long operations call their [`Progress`].
pub const PROGRESS_EVERY: u64 = 4096;

/// [`replay_store`], reporting progress.
pub fn replay_store_with_progress(
    store: &dyn Store,
    progress: Progress<'_>,
) -> Result<(LedgerState, OpenReport), EngineError> {
    let mut state = LedgerState::new();
    let mut report = OpenReport::default();
    let mut failure: Option<EngineError> = None;
    store
        .scan(1, &mut |gseq, bytes| {
            let fail = |reason: String| EngineError::at(gseq, reason);
            let rec = match Record::decode(bytes) {
                Ok(r) => r,
                Err(e) => {
                    failure = Some(fail(e.to_string()));
                    return Err(StoreError::Corrupt("stop".into()));
                }
            };
            if rec.global_seq != gseq {
                failure = Some(fail(format!(
                    "record says global sequence {}",
                    rec.global_seq
                )));
                return Err(StoreError::Corrupt("stop".into()));
            }
            if let Err(e) = state.replay(&rec, bytes) {
                failure = Some(fail(format!("lot {} seq {}: {e}", rec.lot, rec.seq)));
                return Err(StoreError::Corrupt("stop".into()));
            }
            report.records += 1;
            if report.records.is_multiple_of(PROGRESS_EVERY) {
                progress(report.records);
            }
            if rec.link.is_none() {
                report.submissions += 1;
            }
            Ok(())
        })
        .map_err(|e| failure.take().unwrap_or(EngineError::Store(e)))?;
    if let Some(f) = failure {
        return Err(f);
    }
    for lot in state.lots() {
        let tail = store.lot_records(lot.id, lot.head_seq(), 2)?;
        let ok = tail.len() == 1
            && tail[0].0 == lot.head_seq()
            && ree_core::record::record_hash(&tail[0].1) == lot.head;
        if !ok {
            return Err(EngineError::inconsistent(format!(
                "lot index of {} does not end at its head (seq {} {})",
                lot.id,
                lot.head_seq(),
                lot.head
            )));
        }
    }
    let idem = store.idempotency_count()?;
    if idem != report.submissions {
        return Err(EngineError::inconsistent(format!(
            "{idem} idempotency entries for {} submissions",
            report.submissions
        )));
    }
    report.lots = state.lot_count();
    Ok((state, report))
}
