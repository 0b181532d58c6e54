//! The log store: record bytes in one append-only, checksummed log file, fdatasync'd once per
//! group commit; every index derived from the log and rebuilt from it on open, kept in files read
//! with `pread` (the page cache, not the process, holds them), so memory does not grow with the
//! number of events and disk holds each record once plus ~50 bytes of index.
//!
//! Layout under `DATA/log/` (docs/format.md, "The stores"):
//! - `records.log`: checksummed frames, records then a commit frame per group ([`frame`]). A
//!   group is acknowledged only after its commit frame is fdatasync'd; on open, frames after the
//!   last commit frame (a torn tail) are cut off, but a damaged frame followed by any valid
//!   commit frame is refused as corruption ([`recovery`]).
//! - `committed`: the commit superblock, how far the log went when the last group was
//!   acknowledged ([`superblock`]).
//! - `gseq.idx`: u64 LE file offset of record `g`'s frame at `(g-1)*8`.
//! - `lotprev.idx`: per-lot back-links ([`lot_index`]).
//! - `idem/00.tbl` .. `idem/ff.tbl`: the sharded idempotency index ([`idempotency`]).

mod frame;
mod idempotency;
mod lot_index;
mod recovery;
mod superblock;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use ree_core::record::record_hash;
use ree_core::{EventId, LotId, Record};

use crate::{Batch, IdempotencyEntry, NewRecord, ScanFn, Store, StoreError};
use frame::{push_commit, push_frame, read_frame, read_record_at, Frame, KIND_RECORD, LOG_FILE};
use idempotency::Shards;
use lot_index::{batch_back_links, LotIdx};
pub use recovery::{LogRecovery, OpenMode};
use superblock::Superblock;

/// What only the appending thread touches.
struct Writer {
    log: File,
    log_len: u64,
    gseq_idx: File,
    lotprev_idx: File,
    records: u64,
    /// The commit superblock, advanced after each group's fdatasync (None: read-only).
    sb: Option<Superblock>,
    /// Hash of the last record.
    last_hash: [u8; 32],
}

/// The segment-log store under a data directory (`DATA/log`).
pub struct LogStore {
    dir: PathBuf,
    /// Held (flock) for the store's life: one process at a time.
    _lock: Option<File>,
    /// Read handle of the log (pread).
    log: File,
    gseq_idx: File,
    lotprev_idx: File,
    writer: Mutex<Writer>,
    /// Each lot's last (seq, gseq): O(lots), not O(events).
    heads: RwLock<HashMap<LotId, LotIdx>>,
    idem: Mutex<Shards>,
    /// Records durable and indexed.
    records: RwLock<u64>,
    /// Read-only: where the indexes were rebuilt (outside the data directory), removed on drop.
    _scratch: Option<tempfile::TempDir>,
}

/// The u64 LE at `(g-1)*8` of a per-record index file.
fn index_entry(file: &File, g: u64) -> Result<u64, StoreError> {
    let mut b = [0u8; 8];
    file.read_exact_at(&mut b, (g - 1) * 8)?;
    Ok(u64::from_le_bytes(b))
}

/// Refuses a batch whose records do not continue the global order after `last`.
fn check_sequence(last: u64, records: &[NewRecord]) -> Result<(), StoreError> {
    for (g, r) in (last + 1..).zip(records) {
        if r.global_seq != g {
            return Err(StoreError::Corrupt(format!(
                "append of global sequence {} after {}",
                r.global_seq,
                g - 1
            )));
        }
    }
    Ok(())
}

/// A u64 LE per value, as the index files hold them.
fn le_bytes(values: impl Iterator<Item = u64>) -> Vec<u8> {
    values.flat_map(u64::to_le_bytes).collect()
}

impl Writer {
    /// Writes a group's frames in one write and one fdatasync, then advances the superblock
    /// (docs/format.md, "The stores"): a second, one-block fdatasync, so that cutting
    /// acknowledged data off the log is detected on open. On error the log is cut back, so no
    /// partial group is left for readers or the next append.
    fn write_group(
        &mut self,
        frames: &[u8],
        records: u64,
        last_hash: [u8; 32],
    ) -> Result<(), StoreError> {
        let new_len = self.log_len + frames.len() as u64;
        let write = self
            .log
            .write_all(frames)
            .and_then(|_| self.log.sync_data());
        let durable = match write {
            Err(e) => Err(StoreError::from(e)),
            Ok(()) => match self.sb.as_mut() {
                Some(sb) => sb.advance(new_len, records, last_hash),
                None => Err(StoreError::ReadOnly),
            },
        };
        if let Err(e) = durable {
            let _ = self.log.set_len(self.log_len);
            return Err(e);
        }
        self.log_len = new_len;
        self.last_hash = last_hash;
        Ok(())
    }
}

impl LogStore {
    /// True when `dir` holds a log store.
    pub fn exists(dir: &Path) -> bool {
        dir.join("log").join(LOG_FILE).exists()
    }

    /// Opens or creates the store in `dir/log` to serve it ([`OpenMode::Write`]).
    pub fn open(dir: &Path) -> Result<(Self, LogRecovery), StoreError> {
        Self::open_with(dir, OpenMode::Write)
    }

    /// Opens the store in `dir/log`: validates the log against its superblock (refusing missing
    /// or damaged acknowledged data), cuts off an unacknowledged torn tail unless read-only, and
    /// rebuilds every index from the log (read-only: in a scratch directory outside `dir`).
    pub fn open_with(dir: &Path, mode: OpenMode) -> Result<(Self, LogRecovery), StoreError> {
        let (opened, recovery) = recovery::open(dir, mode)?;
        let store = LogStore {
            log: File::open(opened.dir.join(LOG_FILE))?,
            gseq_idx: opened.gseq_idx.try_clone()?,
            lotprev_idx: opened.lotprev_idx.try_clone()?,
            writer: Mutex::new(Writer {
                log: opened.log_writer,
                log_len: opened.log_len,
                gseq_idx: opened.gseq_idx,
                lotprev_idx: opened.lotprev_idx,
                records: opened.records,
                sb: opened.superblock,
                last_hash: opened.last_hash,
            }),
            heads: RwLock::new(opened.heads),
            idem: Mutex::new(opened.idem),
            records: RwLock::new(opened.records),
            dir: opened.dir,
            _lock: opened.lock,
            _scratch: opened.scratch,
        };
        Ok((store, recovery))
    }

    fn offset_of(&self, g: u64) -> Result<Option<u64>, StoreError> {
        if g == 0 || g > *self.records.read().unwrap_or_else(|e| e.into_inner()) {
            return Ok(None);
        }
        index_entry(&self.gseq_idx, g).map(Some)
    }

    fn decode_record(g: u64, bytes: &[u8]) -> Result<Record, StoreError> {
        Record::decode(bytes).map_err(|e| StoreError::Corrupt(format!("record {g}: {e}")))
    }

    /// The idempotency entry of the submission `id` if it starts at `g` (a fingerprint names
    /// candidates only).
    fn submission_at(&self, g: u64, id: EventId) -> Result<Option<IdempotencyEntry>, StoreError> {
        let Some(bytes) = self.record(g)? else {
            return Ok(None);
        };
        let rec = Self::decode_record(g, &bytes)?;
        let Some(key) = rec.submission_key().filter(|k| k.event_id == id) else {
            return Ok(None);
        };
        // The submission's records are consecutive and carry the same body; the next
        // submission starts with a record of its own.
        let mut count = 1u8;
        while let Some(next) = self.record(g + count as u64)? {
            let n = Self::decode_record(g + count as u64, &next)?;
            if n.submission_key().is_some() || n.body != rec.body {
                break;
            }
            count += 1;
        }
        Ok(Some(IdempotencyEntry {
            body_hash: key.body_hash,
            first_global_seq: g,
            count,
        }))
    }
}

impl Store for LogStore {
    fn append(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if writer.sb.is_none() {
            return Err(StoreError::ReadOnly);
        }
        if batch.records.is_empty() {
            // Nothing to make durable. A commit frame closing no records would end the log past
            // the group the superblock's record count names, and the next open would refuse it.
            return Ok(());
        }
        // Held until the new records count is published: a reader never sees a head it cannot
        // read yet.
        let mut heads = self.heads.write().unwrap_or_else(|e| e.into_inner());
        check_sequence(writer.records, &batch.records)?;
        let last_global_seq = writer.records + batch.records.len() as u64;
        let mut frames = Vec::with_capacity(batch.records.len() * 400 + 64);
        let mut offsets = Vec::with_capacity(batch.records.len());
        for r in &batch.records {
            offsets.push(writer.log_len + frames.len() as u64);
            push_frame(&mut frames, KIND_RECORD, &r.bytes);
        }
        push_commit(&mut frames, last_global_seq);
        let prevs = batch_back_links(&heads, &batch.records);
        let last_hash = batch
            .records
            .last()
            .map_or(writer.last_hash, |r| record_hash(&r.bytes).0);
        // The group is durable, or it is a torn tail that the next open cuts off.
        writer.write_group(&frames, last_global_seq, last_hash)?;
        (&writer.gseq_idx).write_all(&le_bytes(offsets.into_iter()))?;
        (&writer.lotprev_idx).write_all(&le_bytes(prevs.into_iter()))?;
        let mut idem = self.idem.lock().unwrap_or_else(|e| e.into_inner());
        for (id, e) in &batch.idempotency {
            idem.insert(id, e.first_global_seq)?;
        }
        for r in &batch.records {
            heads.entry(r.lot).or_default().push(r.seq, r.global_seq);
        }
        writer.records = last_global_seq;
        *self.records.write().unwrap_or_else(|e| e.into_inner()) = last_global_seq;
        Ok(())
    }

    fn record(&self, global_seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        match self.offset_of(global_seq)? {
            None => Ok(None),
            Some(off) => read_record_at(&self.log, off).map(Some),
        }
    }

    fn lot_records(
        &self,
        lot: LotId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let window = {
            let heads = self.heads.read().unwrap_or_else(|e| e.into_inner());
            match heads.get(&lot).and_then(|h| h.window(from_seq, limit)) {
                Some(w) => w,
                None => return Ok(vec![]),
            }
        };
        let gseqs = window.walk(lot, |g| index_entry(&self.lotprev_idx, g))?;
        gseqs
            .into_iter()
            .map(|(s, g)| {
                self.record(g)?.map(|b| (s, b)).ok_or_else(|| {
                    StoreError::Corrupt(format!("lot {lot} seq {s}: record {g} missing"))
                })
            })
            .collect()
    }

    fn idempotency(&self, id: EventId) -> Result<Option<IdempotencyEntry>, StoreError> {
        let candidates = self
            .idem
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .candidates(&id)?;
        for g in candidates {
            if let Some(entry) = self.submission_at(g, id)? {
                return Ok(Some(entry));
            }
        }
        Ok(None)
    }

    fn scan(&self, from: u64, f: &mut ScanFn<'_>) -> Result<(), StoreError> {
        let last = *self.records.read().unwrap_or_else(|e| e.into_inner());
        let Some(start) = self.offset_of(from.max(1))? else {
            return Ok(());
        };
        let mut r = BufReader::with_capacity(1 << 20, File::open(self.dir.join(LOG_FILE))?);
        r.seek(SeekFrom::Start(start))?;
        let mut g = from.max(1);
        while g <= last {
            match read_frame(&mut r) {
                Ok(Some((Frame::Record(bytes), _))) => {
                    f(g, &bytes)?;
                    g += 1;
                }
                Ok(Some((Frame::Commit(_), _))) => {}
                Ok(None) | Err(()) => {
                    return Err(StoreError::Corrupt(format!(
                        "records.log ends or is damaged before record {g}"
                    )))
                }
            }
        }
        Ok(())
    }

    fn records(&self, from: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        let mut g = from.max(1);
        while out.len() < limit {
            match self.record(g)? {
                Some(b) => out.push((g, b)),
                None => break,
            }
            g += 1;
        }
        Ok(out)
    }

    fn idempotency_count(&self) -> Result<u64, StoreError> {
        Ok(self.idem.lock().unwrap_or_else(|e| e.into_inner()).count())
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        let mut n = 0;
        for e in std::fs::read_dir(&self.dir)? {
            n += e?.metadata()?.len();
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
