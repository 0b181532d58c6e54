//! Open-time replay: rebuilds the ledger state from every stored record and checks the store's
//! indexes against it. `Engine::open`, `ree check` and `ree restore` share it.

use std::ops::ControlFlow;

use ree_core::{LedgerState, Record};
use ree_store::{Store, StoreError};

use crate::error::EngineError;
use crate::tree::LogTree;
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
    replay_store_with_tree(store, progress, &LogTree::new())
}

/// [`replay_store_with_progress`] that also rebuilds the Merkle tree: every record's hash
/// becomes the next leaf of `tree` (which starts empty).
pub fn replay_store_with_tree(
    store: &dyn Store,
    progress: Progress<'_>,
    tree: &LogTree,
) -> Result<(LedgerState, OpenReport), EngineError> {
    let mut state = LedgerState::new();
    let mut report = OpenReport::default();
    scan_until(store, 1, &mut |global_seq, bytes| {
        let record = match replay_one(&mut state, global_seq, bytes) {
            Ok(record) => record,
            Err(error) => return ControlFlow::Break(error),
        };
        if let Err(e) = tree.extend([ree_core::record::record_hash(bytes)]) {
            return ControlFlow::Break(EngineError::Store(ree_store::StoreError::Io(e)));
        }
        report.records += 1;
        if report.records.is_multiple_of(PROGRESS_EVERY) {
            progress(report.records);
        }
        if record.link.is_none() {
            report.submissions += 1;
        }
        ControlFlow::Continue(())
    })?;
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

/// Decodes and replays the record the store keeps at `global_seq`.
fn replay_one(
    state: &mut LedgerState,
    global_seq: u64,
    bytes: &[u8],
) -> Result<Record, EngineError> {
    let record = Record::decode(bytes).map_err(|e| EngineError::at(global_seq, e.to_string()))?;
    if record.global_seq != global_seq {
        return Err(EngineError::at(
            global_seq,
            format!("record says global sequence {}", record.global_seq),
        ));
    }
    state.replay(&record, bytes).map_err(|e| {
        EngineError::at(
            global_seq,
            format!("lot {} seq {}: {e}", record.lot, record.seq),
        )
    })?;
    Ok(record)
}

/// [`Store::scan`] with a visitor that stops by breaking with the engine's own error. The
/// store's visitor can stop only with a `StoreError`, so a break is kept here and the store is
/// handed a dedicated `Interrupted` error that never reaches the caller: the caller gets the
/// break's error, or the store's own error if the store failed.
fn scan_until(
    store: &dyn Store,
    from_global_seq: u64,
    visit: &mut dyn FnMut(u64, &[u8]) -> ControlFlow<EngineError>,
) -> Result<(), EngineError> {
    let mut stopped: Option<EngineError> = None;
    let scanned = store.scan(from_global_seq, &mut |global_seq, bytes| match visit(
        global_seq, bytes,
    ) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(error) => {
            stopped = Some(error);
            Err(StoreError::Io(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "scan stopped by the engine",
            )))
        }
    });
    match stopped {
        Some(error) => Err(error),
        None => scanned.map_err(EngineError::Store),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ree_core::LotId;
    use ree_store::{Batch, MemStore, NewRecord};

    fn store_of(records: u64) -> MemStore {
        let store = MemStore::new();
        let lot = LotId::new_v7();
        let records = (1..=records)
            .map(|g| NewRecord {
                global_seq: g,
                lot,
                seq: g - 1,
                bytes: vec![g as u8],
            })
            .collect();
        store
            .append(&Batch {
                records,
                idempotency: vec![],
            })
            .unwrap();
        store
    }

    #[test]
    fn a_break_stops_the_scan_and_is_the_answer() {
        let store = store_of(3);
        let mut seen = Vec::new();
        let result = scan_until(&store, 1, &mut |global_seq, _| {
            seen.push(global_seq);
            if global_seq == 2 {
                return ControlFlow::Break(EngineError::at(2, "broken"));
            }
            ControlFlow::Continue(())
        });
        assert_eq!(seen, vec![1, 2]);
        match result {
            Err(EngineError::Inconsistent { global_seq, reason }) => {
                assert_eq!((global_seq, reason.as_str()), (Some(2), "broken"));
            }
            other => panic!("expected the break's error, got {other:?}"),
        }
    }

    #[test]
    fn an_undecodable_record_is_named_not_reported_as_a_store_error() {
        let store = store_of(1);
        match replay_store(&store) {
            Err(EngineError::Inconsistent { global_seq, .. }) => assert_eq!(global_seq, Some(1)),
            other => panic!("expected the damaged record, got {other:?}"),
        }
    }

    #[test]
    fn an_uninterrupted_scan_visits_everything() {
        let store = store_of(3);
        let mut seen = 0;
        scan_until(&store, 2, &mut |_, _| {
            seen += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(seen, 2);
    }
}
