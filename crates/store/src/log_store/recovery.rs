//! Opening a log store: the lock, the scan that rebuilds the indexes, and the checks of the log
//! against its commit superblock (the part of [`super::LogStore::open_with`] that decides whether
//! acknowledged data is all there).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use ree_core::record::record_hash;
use ree_core::{LotId, Record};

use super::superblock::Committed;
use super::{
    body_event_id, fingerprint, holds_valid_commit, read_frame, Frame, LotIdx, Shards, SHARDS,
};
use crate::StoreError;

/// Takes `LOCK` (flock) so one process at a time has the store. Read-only, a missing `LOCK` is
/// not created (nothing can be holding it).
pub(super) fn take_lock(
    dir: &Path,
    data_dir: &Path,
    read_only: bool,
) -> Result<Option<File>, StoreError> {
    let path = dir.join("LOCK");
    let file = if read_only {
        match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    } else {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)?
    };
    file.try_lock()
        .map_err(|_| StoreError::InUse(data_dir.to_path_buf()))?;
    Ok(Some(file))
}

/// What a scan of `records.log` found: the committed groups, indexed.
pub(super) struct Scan {
    pub records: u64,
    /// End of the last valid commit frame.
    pub committed_end: u64,
    /// The scan stopped at a frame that is incomplete or does not check.
    pub damaged: bool,
    /// Bytes of the last committed record.
    pub last_bytes: Option<Vec<u8>>,
    /// (end of its commit frame, hash of the record) once `want` records were committed.
    pub at_want: Option<(u64, [u8; 32])>,
    pub heads: HashMap<LotId, LotIdx>,
    pub idem_entries: Vec<Vec<(u64, u64)>>,
}

/// Reads the log from the start, writing the offset and lot-previous indexes as it goes;
/// `want` is the record count the superblock says was acknowledged.
pub(super) fn scan_log(
    log_path: &Path,
    gseq_idx: &File,
    lotprev_idx: &File,
    want: u64,
) -> Result<Scan, StoreError> {
    let mut s = Scan {
        records: 0,
        committed_end: 0,
        damaged: false,
        last_bytes: None,
        at_want: None,
        heads: HashMap::new(),
        idem_entries: vec![Vec::new(); SHARDS],
    };
    let mut offsets: Vec<u8> = Vec::new();
    let mut prevs: Vec<u8> = Vec::new();
    // (offset, record) of the group not yet closed by a commit frame, and its last bytes.
    let mut pending: Vec<(u64, Record)> = Vec::new();
    let mut pending_last: Option<Vec<u8>> = None;
    let mut pos = 0u64;
    let mut reader = BufReader::with_capacity(1 << 20, File::open(log_path)?);
    loop {
        match read_frame(&mut reader) {
            Ok(None) => break,
            Err(()) => {
                s.damaged = true;
                break;
            }
            Ok(Some((Frame::Record(bytes), size))) => {
                let rec = Record::decode(&bytes)
                    .map_err(|e| StoreError::Corrupt(format!("log record at offset {pos}: {e}")))?;
                pending.push((pos, rec));
                pending_last = Some(bytes);
                pos += size as u64;
            }
            Ok(Some((Frame::Commit(last), size))) => {
                for (off, rec) in pending.drain(..) {
                    let g = s.records + 1;
                    if rec.global_seq != g {
                        return Err(StoreError::Corrupt(format!(
                            "log record at offset {off} has global sequence {}, expected {g}",
                            rec.global_seq
                        )));
                    }
                    let h = s.heads.entry(rec.lot).or_default();
                    let prev = if h.marks.is_empty() { 0 } else { h.last_g };
                    h.push(rec.seq, g);
                    offsets.extend_from_slice(&off.to_le_bytes());
                    prevs.extend_from_slice(&prev.to_le_bytes());
                    if rec.link.is_none() {
                        if let Some(id) = body_event_id(&rec) {
                            let fp = fingerprint(&id);
                            s.idem_entries[Shards::shard(fp)].push((fp, g));
                        }
                    }
                    s.records = g;
                    if offsets.len() >= 1 << 20 {
                        (&*gseq_idx).write_all(&offsets)?;
                        (&*lotprev_idx).write_all(&prevs)?;
                        offsets.clear();
                        prevs.clear();
                    }
                }
                if last != s.records {
                    return Err(StoreError::Corrupt(format!(
                        "commit frame at offset {pos} says {last} records, the log holds {}",
                        s.records
                    )));
                }
                pos += size as u64;
                s.committed_end = pos;
                if pending_last.is_some() {
                    s.last_bytes = pending_last.take();
                }
                if s.records == want && want > 0 && s.at_want.is_none() {
                    let h = s
                        .last_bytes
                        .as_deref()
                        .map_or([0; 32], |b| record_hash(b).0);
                    s.at_want = Some((pos, h));
                }
            }
        }
    }
    (&*gseq_idx).write_all(&offsets)?;
    (&*lotprev_idx).write_all(&prevs)?;
    Ok(s)
}

/// Refuses a log that lacks, or differs from, what the superblock says was acknowledged.
pub(super) fn check_against(log: &Path, c: &Committed, s: &Scan) -> Result<(), StoreError> {
    if s.records < c.records || s.committed_end < c.log_len {
        return Err(StoreError::Corrupt(format!(
            "{}: acknowledged data is missing: expected {} records / length {} bytes, found {} records / {} bytes (truncated or replaced; restore from a backup)",
            log.display(),
            c.records,
            c.log_len,
            s.records,
            s.committed_end
        )));
    }
    if c.records == 0 {
        return Ok(());
    }
    match s.at_want {
        Some((end, hash)) if end == c.log_len && hash == c.last_hash => Ok(()),
        _ => Err(StoreError::Corrupt(format!(
            "{}: record {} is not the acknowledged one (its commit does not end at byte {} with the recorded hash): the log was altered; restore from a backup",
            log.display(),
            c.records,
            c.log_len
        ))),
    }
}

/// A damaged frame followed by any valid commit frame is damage inside acknowledged data, never
/// a torn tail: refused rather than cut.
pub(super) fn refuse_damage_before_commits(
    log: &Path,
    committed_end: u64,
    damaged: bool,
) -> Result<(), StoreError> {
    if !damaged {
        return Ok(());
    }
    let mut rest = Vec::new();
    let mut f = File::open(log)?;
    f.seek(SeekFrom::Start(committed_end))?;
    f.read_to_end(&mut rest)?;
    if holds_valid_commit(&rest) {
        return Err(StoreError::Corrupt(format!(
            "{} is damaged at offset {committed_end} and acknowledged groups follow: refusing to drop them (restore from a backup)",
            log.display()
        )));
    }
    Ok(())
}
