//! Backups: every record in global order, which is all the ledger is (the lot index and the
//! idempotency index are derived from the records). A backup taken while serving is a consistent
//! prefix of the global order; restoring replays and checks every record, chain by chain.
//!
//! File layout: magic `REEBACKP`, `u16` version 1, `u64` record count, then per record a `u32`
//! length and the record bytes (little-endian, as in docs/format.md).

use std::io::{Read, Write};

use ree_core::record::{Link, SubmissionKey};
use ree_core::{EventId, Hash32, LedgerState, Record};
use ree_store::{Batch, IdempotencyEntry, NewRecord, Store, StoreError};

use crate::error::EngineError;
use crate::replay::{replay_store_with_progress, Progress, PROGRESS_EVERY};
use crate::types::OpenReport;

const MAGIC: &[u8; 8] = b"REEBACKP";
const VERSION: u16 = 1;

/// Writes the header for `count` records.
pub fn write_header(w: &mut dyn Write, count: u64) -> std::io::Result<()> {
    w.write_all(MAGIC)?;
    w.write_all(&VERSION.to_le_bytes())?;
    w.write_all(&count.to_le_bytes())
}

/// Writes one record frame.
pub fn write_record(w: &mut dyn Write, bytes: &[u8]) -> std::io::Result<()> {
    w.write_all(&(bytes.len() as u32).to_le_bytes())?;
    w.write_all(bytes)
}

fn bad(msg: impl Into<String>) -> EngineError {
    EngineError::inconsistent(msg)
}

/// Writes a store's committed records (up to `upto`, inclusive) to `w`.
pub fn backup_store(store: &dyn Store, upto: u64, w: &mut dyn Write) -> Result<u64, EngineError> {
    backup_store_with_progress(store, upto, w, &|_| {})
}

/// [`backup_store`], reporting progress.
pub fn backup_store_with_progress(
    store: &dyn Store,
    upto: u64,
    w: &mut dyn Write,
    progress: Progress<'_>,
) -> Result<u64, EngineError> {
    write_header(w, upto).map_err(StoreError::Io)?;
    let mut next = 1u64;
    while next <= upto {
        let page = store.records(next, 4096)?;
        if page.is_empty() {
            return Err(bad(format!("record {next} missing")));
        }
        for (g, bytes) in page {
            if g > upto {
                break;
            }
            if g != next {
                return Err(bad(format!("record {next} missing")));
            }
            write_record(w, &bytes).map_err(StoreError::Io)?;
            if next.is_multiple_of(PROGRESS_EVERY) {
                progress(next);
            }
            next += 1;
        }
    }
    Ok(upto)
}

/// Restores a backup into an empty store: replays every record through the rules (refusing a
/// damaged backup), rebuilds the indexes, and checks the result like an open would.
pub fn restore(r: &mut dyn Read, store: &dyn Store) -> Result<OpenReport, EngineError> {
    restore_with_progress(r, store, &|_| {}, &|_| {})
}

/// [`restore`], reporting progress: `total` once with the backup's record count, then
/// `progress` as records are written, then again as the result is replayed.
pub fn restore_with_progress(
    r: &mut dyn Read,
    store: &dyn Store,
    total: Progress<'_>,
    progress: Progress<'_>,
) -> Result<OpenReport, EngineError> {
    if !store.records(1, 1)?.is_empty() {
        return Err(bad("the target store is not empty"));
    }
    let count = read_header(r)?;
    total(count);
    let mut state = LedgerState::new();
    let mut batch = Batch::default();
    let mut submission: Option<OpenSubmission> = None;
    for index in 0..count {
        if index.is_multiple_of(PROGRESS_EVERY) {
            progress(index);
        }
        let number = index + 1;
        let bytes = read_record(r, number)?;
        let rec = Record::decode(&bytes).map_err(|e| bad(format!("record {number}: {e}")))?;
        let hash = state.replay(&rec, &bytes).map_err(|e| {
            bad(format!(
                "record {number} (lot {} seq {}): {e}",
                rec.lot, rec.seq
            ))
        })?;
        match rec.submission_key() {
            Some(key) => {
                // A new submission: the one before it is complete, and a batch may end here.
                batch
                    .idempotency
                    .extend(submission.take().map(OpenSubmission::entry));
                if batch.records.len() >= 1000 {
                    store.append(&std::mem::take(&mut batch))?;
                }
                submission = Some(OpenSubmission::start(key, &rec, hash));
            }
            None => match submission.as_mut() {
                Some(open) => open.add_linked(&rec, hash, number)?,
                None => return Err(bad(format!("record {number}: linked to no submission"))),
            },
        }
        batch.records.push(NewRecord {
            global_seq: rec.global_seq,
            lot: rec.lot,
            seq: rec.seq,
            bytes,
        });
    }
    let mut extra = [0u8; 1];
    if r.read(&mut extra).map_err(|e| bad(e.to_string()))? != 0 {
        return Err(bad("trailing bytes after the last record"));
    }
    batch
        .idempotency
        .extend(submission.map(OpenSubmission::entry));
    if !batch.records.is_empty() {
        store.append(&batch)?;
    }
    let (_, report) = replay_store_with_progress(store, progress)?;
    Ok(report)
}

/// Reads the header; returns the record count.
fn read_header(r: &mut dyn Read) -> Result<u64, EngineError> {
    let mut head = [0u8; 18];
    r.read_exact(&mut head)
        .map_err(|e| bad(format!("backup header: {e}")))?;
    if &head[..8] != MAGIC {
        return Err(bad("not a ree-ledger backup (bad magic)"));
    }
    let v = u16::from_le_bytes([head[8], head[9]]);
    if v != VERSION {
        return Err(bad(format!("backup version {v} is not supported")));
    }
    Ok(u64::from_le_bytes(
        head[10..18].try_into().map_err(|_| bad("header"))?,
    ))
}

/// Reads the frame of record `number` (from 1).
fn read_record(r: &mut dyn Read, number: u64) -> Result<Vec<u8>, EngineError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)
        .map_err(|e| bad(format!("record {number}: {e}")))?;
    let n = u32::from_le_bytes(len) as usize;
    if n > ree_core::record::MAX_BODY_LEN + 512 {
        return Err(bad(format!("record {number}: length {n} is too large")));
    }
    let mut bytes = vec![0u8; n];
    r.read_exact(&mut bytes)
        .map_err(|e| bad(format!("record {number}: {e}")))?;
    Ok(bytes)
}

/// The submission whose records are being restored: its idempotency entry is keyed by its first
/// record ([`Record::submission_key`]) and counts the linked records that follow it.
struct OpenSubmission {
    key: SubmissionKey,
    first_global_seq: u64,
    /// The link the next record of the submission carries: the one before it.
    last: Link,
    count: u8,
}

impl OpenSubmission {
    fn start(key: SubmissionKey, first: &Record, hash: Hash32) -> OpenSubmission {
        OpenSubmission {
            key,
            first_global_seq: first.global_seq,
            last: Link {
                lot: first.lot,
                seq: first.seq,
                hash,
            },
            count: 1,
        }
    }

    /// A linked record belongs to the submission before it: the committer appends an event's
    /// records contiguously, each linking to the one before.
    fn add_linked(&mut self, rec: &Record, hash: Hash32, number: u64) -> Result<(), EngineError> {
        let follows = rec.link == Some(self.last);
        let count = self.count.checked_add(1).filter(|_| follows);
        let Some(count) = count else {
            return Err(bad(format!(
                "record {number} (lot {} seq {}): a linked record does not follow the records of its event",
                rec.lot, rec.seq
            )));
        };
        self.count = count;
        self.last = Link {
            lot: rec.lot,
            seq: rec.seq,
            hash,
        };
        Ok(())
    }

    fn entry(self) -> (EventId, IdempotencyEntry) {
        let entry = IdempotencyEntry {
            body_hash: self.key.body_hash,
            first_global_seq: self.first_global_seq,
            count: self.count,
        };
        (self.key.event_id, entry)
    }
}
