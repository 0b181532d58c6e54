//! Opening a log store: the lock, the scan that rebuilds the indexes, the checks of the log
//! against its commit superblock (is acknowledged data all there?), and the repair of what a
//! crash may leave: an unacknowledged torn tail cut, complete but unrecorded groups recorded.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ree_core::record::record_hash;
use ree_core::{LotId, Record};

use super::frame::{holds_valid_commit, read_frame, Frame, LOG_FILE};
use super::idempotency::{ShardEntries, Shards};
use super::lot_index::LotIdx;
use super::superblock::{self, Committed, Superblock};
use crate::StoreError;

/// How [`super::LogStore::open_with`] treats the data directory.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OpenMode {
    /// To serve: created if new, an unacknowledged torn tail cut, missing acknowledged data or a
    /// missing superblock refused.
    Write,
    /// `ree check`, offline backup: nothing in the data directory is created or changed.
    ReadOnly,
    /// `ree repair`: as `Write`, and a missing superblock is rebuilt from the log as it is.
    Repair,
}

/// What opening a log found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogRecovery {
    pub records: u64,
    /// Bytes of an unacknowledged torn tail cut off (read-only: found and left in place).
    pub truncated_bytes: u64,
    /// A missing superblock was rebuilt from the log ([`OpenMode::Repair`]).
    pub superblock_rebuilt: bool,
}

/// Everything an opened log store is made of.
pub(super) struct Opened {
    /// `DATA/log`.
    pub dir: PathBuf,
    /// Held (flock) for the store's life: one process at a time.
    pub lock: Option<File>,
    /// The log, opened for appending (read-only: for reading) and positioned at its end.
    pub log_writer: File,
    /// Bytes of the log up to the end of its last commit frame.
    pub log_len: u64,
    pub gseq_idx: File,
    pub lotprev_idx: File,
    pub records: u64,
    /// Hash of the last record (zeros for an empty log).
    pub last_hash: [u8; 32],
    /// The commit superblock (None: read-only).
    pub superblock: Option<Superblock>,
    pub heads: HashMap<LotId, LotIdx>,
    pub idem: Shards,
    /// Read-only: where the indexes were rebuilt (outside the data directory).
    pub scratch: Option<tempfile::TempDir>,
}

/// Opens the store in `data_dir/log`: validates the log against its superblock (refusing
/// missing or damaged acknowledged data), cuts off an unacknowledged torn tail unless read-only,
/// and rebuilds every index from the log (read-only: in a scratch directory outside `data_dir`).
pub(super) fn open(data_dir: &Path, mode: OpenMode) -> Result<(Opened, LogRecovery), StoreError> {
    let dir = data_dir.join("log");
    let read_only = mode == OpenMode::ReadOnly;
    if !read_only {
        crate::perms::create_private_dir(&dir)?;
    }
    let lock = take_lock(&dir, data_dir, read_only)?;
    let log_path = dir.join(LOG_FILE);
    let mut log_writer = open_log(&log_path, read_only)?;
    let total = log_writer.metadata()?.len();
    let sb = Superblock::read(&dir, !read_only)?;
    // Indexes are derived: rebuilt from scratch on every open.
    let scratch = if read_only {
        Some(tempfile::tempdir()?)
    } else {
        None
    };
    let idx_dir = scratch
        .as_ref()
        .map_or(dir.clone(), |s| s.path().to_path_buf());
    let gseq_idx = create_index(&idx_dir.join("gseq.idx"))?;
    let lotprev_idx = create_index(&idx_dir.join("lotprev.idx"))?;
    let want = sb.as_ref().map(|s| s.committed().records).unwrap_or(0);
    let scan = scan_log(&log_path, &gseq_idx, &lotprev_idx, want)?;
    match &sb {
        Some(sb) => check_against(&log_path, &sb.committed(), &scan)?,
        None if total > 0 && mode != OpenMode::Repair => {
            return Err(StoreError::Corrupt(format!(
                "{} is missing: cannot tell whether acknowledged data was cut off {} (`ree repair` rebuilds it from the log as it is)",
                dir.join(superblock::FILE).display(),
                log_path.display()
            )))
        }
        None => {}
    }
    let idem = Shards::build(&idx_dir.join("idem"), scan.idem_entries)?;
    let (committed_end, records) = (scan.committed_end, scan.records);
    let truncated = cut_torn_tail(
        &log_path,
        &log_writer,
        total,
        committed_end,
        scan.damaged,
        read_only,
    )?;
    let last_hash = scan
        .last_bytes
        .as_deref()
        .map_or([0u8; 32], |b| record_hash(b).0);
    let superblock_rebuilt = !read_only && sb.is_none() && total > 0;
    let now = Committed {
        generation: 0,
        log_len: committed_end,
        records,
        last_hash,
    };
    let superblock = settle_superblock(&dir, sb, read_only, now)?;
    log_writer.seek(SeekFrom::End(0))?;
    let opened = Opened {
        dir,
        lock,
        log_writer,
        log_len: committed_end,
        gseq_idx,
        lotprev_idx,
        records,
        last_hash,
        superblock,
        heads: scan.heads,
        idem,
        scratch,
    };
    let recovery = LogRecovery {
        records,
        truncated_bytes: truncated,
        superblock_rebuilt,
    };
    Ok((opened, recovery))
}

/// `records.log`, created if missing unless read-only.
fn open_log(log_path: &Path, read_only: bool) -> Result<File, StoreError> {
    Ok(if read_only {
        File::open(log_path)?
    } else {
        OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(log_path)?
    })
}

/// A derived index file, emptied: the scan writes it anew.
fn create_index(path: &Path) -> Result<File, StoreError> {
    Ok(OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?)
}

/// Cuts off (unless read-only) what follows the last commit frame, an unacknowledged torn
/// tail: the group being written when the process stopped. Returns its size in bytes.
fn cut_torn_tail(
    log_path: &Path,
    log: &File,
    total: u64,
    committed_end: u64,
    damaged: bool,
    read_only: bool,
) -> Result<u64, StoreError> {
    if committed_end >= total {
        return Ok(0);
    }
    refuse_damage_before_commits(log_path, committed_end, damaged)?;
    if !read_only {
        log.set_len(committed_end)?;
        log.sync_all()?;
    }
    Ok(total - committed_end)
}

/// The superblock to write through from now on: None read-only; created from the log when
/// missing (a new store, or `ree repair`); advanced over complete groups the crash kept from
/// being acknowledged (now they are).
fn settle_superblock(
    dir: &Path,
    sb: Option<Superblock>,
    read_only: bool,
    now: Committed,
) -> Result<Option<Superblock>, StoreError> {
    Ok(match sb {
        _ if read_only => None,
        None => Some(Superblock::create(dir, now)?),
        Some(mut sb) => {
            let c = sb.committed();
            if (c.log_len, c.records) != (now.log_len, now.records) {
                sb.advance(now.log_len, now.records, now.last_hash)?;
            }
            Some(sb)
        }
    })
}

/// Takes `LOCK` (flock) so one process at a time has the store. Read-only, a missing `LOCK` is
/// not created (nothing can be holding it).
fn take_lock(dir: &Path, data_dir: &Path, read_only: bool) -> Result<Option<File>, StoreError> {
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
struct Scan {
    records: u64,
    /// End of the last valid commit frame.
    committed_end: u64,
    /// The scan stopped at a frame that is incomplete or does not check.
    damaged: bool,
    /// Bytes of the last committed record.
    last_bytes: Option<Vec<u8>>,
    /// (end of its commit frame, hash of the record) once `want` records were committed.
    at_want: Option<(u64, [u8; 32])>,
    heads: HashMap<LotId, LotIdx>,
    idem_entries: ShardEntries,
}

/// The offset and lot-previous indexes, written in large appends as the scan goes.
struct IndexWriter<'a> {
    gseq_idx: &'a File,
    lotprev_idx: &'a File,
    offsets: Vec<u8>,
    prevs: Vec<u8>,
}

impl IndexWriter<'_> {
    fn push(&mut self, offset: u64, prev: u64) -> Result<(), StoreError> {
        self.offsets.extend_from_slice(&offset.to_le_bytes());
        self.prevs.extend_from_slice(&prev.to_le_bytes());
        if self.offsets.len() >= 1 << 20 {
            self.flush()?;
        }
        Ok(())
    }
    fn flush(&mut self) -> Result<(), StoreError> {
        (&*self.gseq_idx).write_all(&self.offsets)?;
        (&*self.lotprev_idx).write_all(&self.prevs)?;
        self.offsets.clear();
        self.prevs.clear();
        Ok(())
    }
}

impl Scan {
    /// Indexes the records of a group its commit frame just closed, as (offset, record).
    fn index_group(
        &mut self,
        pending: &mut Vec<(u64, Record)>,
        index: &mut IndexWriter<'_>,
    ) -> Result<(), StoreError> {
        for (off, rec) in pending.drain(..) {
            let g = self.records + 1;
            if rec.global_seq != g {
                return Err(StoreError::Corrupt(format!(
                    "log record at offset {off} has global sequence {}, expected {g}",
                    rec.global_seq
                )));
            }
            let head = self.heads.entry(rec.lot).or_default();
            let prev = head.back_link();
            head.push(rec.seq, g);
            if let Some(key) = rec.submission_key() {
                self.idem_entries.push(&key.event_id, g);
            }
            self.records = g;
            index.push(off, prev)?;
        }
        Ok(())
    }
}

/// Reads the log from the start, writing the offset and lot-previous indexes as it goes;
/// `want` is the record count the superblock says was acknowledged.
fn scan_log(
    log_path: &Path,
    gseq_idx: &File,
    lotprev_idx: &File,
    want: u64,
) -> Result<Scan, StoreError> {
    let mut scan = Scan {
        records: 0,
        committed_end: 0,
        damaged: false,
        last_bytes: None,
        at_want: None,
        heads: HashMap::new(),
        idem_entries: ShardEntries::new(),
    };
    let mut index = IndexWriter {
        gseq_idx,
        lotprev_idx,
        offsets: Vec::new(),
        prevs: Vec::new(),
    };
    // (offset, record) of the group not yet closed by a commit frame, and its last bytes.
    let mut pending: Vec<(u64, Record)> = Vec::new();
    let mut pending_last: Option<Vec<u8>> = None;
    let mut pos = 0u64;
    let mut reader = BufReader::with_capacity(1 << 20, File::open(log_path)?);
    loop {
        match read_frame(&mut reader) {
            Ok(None) => break,
            Err(()) => {
                scan.damaged = true;
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
                scan.index_group(&mut pending, &mut index)?;
                if last != scan.records {
                    return Err(StoreError::Corrupt(format!(
                        "commit frame at offset {pos} says {last} records, the log holds {}",
                        scan.records
                    )));
                }
                pos += size as u64;
                scan.committed_end = pos;
                if pending_last.is_some() {
                    scan.last_bytes = pending_last.take();
                }
                if scan.records == want && want > 0 && scan.at_want.is_none() {
                    let h = scan
                        .last_bytes
                        .as_deref()
                        .map_or([0; 32], |b| record_hash(b).0);
                    scan.at_want = Some((pos, h));
                }
            }
        }
    }
    index.flush()?;
    Ok(scan)
}

/// Refuses a log that lacks, or differs from, what the superblock says was acknowledged.
fn check_against(log: &Path, c: &Committed, s: &Scan) -> Result<(), StoreError> {
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
fn refuse_damage_before_commits(
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
