//! The log store: record bytes in one append-only, checksummed log file, fdatasync'd once per
//! group commit; every index derived from the log and rebuilt from it on open, kept in files read
//! with `pread` (the page cache, not the process, holds them), so memory does not grow with the
//! number of events and disk holds each record once plus ~50 bytes of index.
//!
//! Layout under `DATA/log/`:
//! - `records.log`: frames. A frame is `kind u8 | len u32 LE | payload | check u64 LE` where
//!   `check` is the first 8 bytes of blake3(kind, len, payload). Kind 1: a record (payload = the
//!   record's exact bytes). Kind 2: the end of a group commit (payload = 16-byte magic, then the
//!   group's last global sequence number, u64 LE). A group is acknowledged only after its commit
//!   frame is fdatasync'd; on open, frames after the last commit frame (a torn tail) are cut off,
//!   but a damaged frame followed by any valid commit frame is refused as corruption.
//! - `gseq.idx`: u64 LE file offset of record `g`'s frame at `(g-1)*8`.
//! - `lotprev.idx`: u64 LE global sequence number of the previous record of the same lot (0 for a
//!   lot's genesis) at `(g-1)*8`.
//! - `idem/00.tbl` .. `idem/ff.tbl`: the idempotency index, 256 shards by the top byte of a
//!   fingerprint of the event id; each an open-addressing table of 16-byte slots (fingerprint,
//!   never 0; global sequence number of the submission's first record), linear probing, at most
//!   half full, grown shard by shard (so a growth rewrites 1/256 of the index); a fingerprint
//!   match is confirmed against the event id in the stored record.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use ree_core::record::record_hash;
use ree_core::{EventId, Hash32, LotId, Record};

mod recovery;
mod superblock;

use crate::{Batch, IdempotencyEntry, ScanFn, Store, StoreError};
use superblock::{Committed, Superblock};

use recovery::{check_against, refuse_damage_before_commits, scan_log, take_lock};

const KIND_RECORD: u8 = 1;
const KIND_COMMIT: u8 = 2;
const COMMIT_MAGIC: &[u8; 16] = b"ree-log-commit\x00\x01";
/// Frame overhead: kind, length, check.
const FRAME_OVERHEAD: usize = 1 + 4 + 8;
/// Largest payload a frame may claim (a record is at most ~16.5 KB).
const MAX_PAYLOAD: usize = 1 << 20;
/// Initial capacity of each idempotency shard (slots).
const SHARD_INITIAL: u64 = 1 << 10;
/// Idempotency shards.
const SHARDS: usize = 256;

fn check(kind: u8, payload: &[u8]) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(&[kind]);
    h.update(&(payload.len() as u32).to_le_bytes());
    h.update(payload);
    let out = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&out.as_bytes()[..8]);
    u64::from_le_bytes(b)
}

fn frame(out: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&check(kind, payload).to_le_bytes());
}

fn fingerprint(id: &EventId) -> u64 {
    let h = blake3::hash(&id.bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h.as_bytes()[..8]);
    u64::from_le_bytes(b).max(1)
}

/// The event id of a record's body: bytes 2..18 of the body (docs/format.md, "Event body").
fn body_event_id(rec: &Record) -> Option<EventId> {
    let b = rec.body.get(2..18)?;
    Some(EventId(uuid::Uuid::from_bytes(b.try_into().ok()?)))
}

/// One frame read back.
enum Frame {
    Record(Vec<u8>),
    Commit(u64),
}

/// Reads the frame at the reader's position: Ok(None) at a clean end, Err(()) for a frame that
/// is incomplete or does not check.
fn read_frame(r: &mut impl Read) -> Result<Option<(Frame, usize)>, ()> {
    let mut head = [0u8; 5];
    let mut got = 0;
    while got < 5 {
        match r.read(&mut head[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(()),
            Ok(n) => got += n,
            Err(_) => return Err(()),
        }
    }
    let kind = head[0];
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_PAYLOAD || (kind != KIND_RECORD && kind != KIND_COMMIT) {
        return Err(());
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).map_err(|_| ())?;
    let mut c = [0u8; 8];
    r.read_exact(&mut c).map_err(|_| ())?;
    if u64::from_le_bytes(c) != check(kind, &payload) {
        return Err(());
    }
    let size = FRAME_OVERHEAD + len;
    match kind {
        KIND_RECORD => Ok(Some((Frame::Record(payload), size))),
        _ => {
            if len != 24 || &payload[..16] != COMMIT_MAGIC {
                return Err(());
            }
            let mut g = [0u8; 8];
            g.copy_from_slice(&payload[16..]);
            Ok(Some((Frame::Commit(u64::from_le_bytes(g)), size)))
        }
    }
}

/// True when a valid commit frame starts anywhere in `data` (used to tell a torn tail, which
/// never holds one, from damage in the middle of acknowledged data).
fn holds_valid_commit(data: &[u8]) -> bool {
    let mut i = 0;
    while let Some(p) = find(&data[i..], COMMIT_MAGIC) {
        let at = i + p;
        if at >= 5 {
            let mut slice = &data[at - 5..];
            if let Ok(Some((Frame::Commit(_), _))) = read_frame(&mut slice) {
                return true;
            }
        }
        i = at + 1;
    }
    false
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

struct Idem {
    file: File,
    path: PathBuf,
    capacity: u64,
    count: u64,
}

impl Idem {
    fn slot(&self, i: u64) -> Result<(u64, u64), StoreError> {
        let mut b = [0u8; 16];
        self.file.read_exact_at(&mut b, i * 16)?;
        let mut f = [0u8; 8];
        let mut g = [0u8; 8];
        f.copy_from_slice(&b[..8]);
        g.copy_from_slice(&b[8..]);
        Ok((u64::from_le_bytes(f), u64::from_le_bytes(g)))
    }
    /// Every gseq stored under `fp`, in probe order.
    fn candidates(&self, fp: u64) -> Result<Vec<u64>, StoreError> {
        let mut out = vec![];
        let mut i = fp & (self.capacity - 1);
        loop {
            let (f, g) = self.slot(i)?;
            if f == 0 {
                return Ok(out);
            }
            if f == fp {
                out.push(g);
            }
            i = (i + 1) & (self.capacity - 1);
        }
    }
    fn insert_raw(&mut self, fp: u64, gseq: u64) -> Result<(), StoreError> {
        let mut i = fp & (self.capacity - 1);
        loop {
            let (f, _) = self.slot(i)?;
            if f == 0 {
                let mut b = [0u8; 16];
                b[..8].copy_from_slice(&fp.to_le_bytes());
                b[8..].copy_from_slice(&gseq.to_le_bytes());
                self.file.write_all_at(&b, i * 16)?;
                self.count += 1;
                return Ok(());
            }
            i = (i + 1) & (self.capacity - 1);
        }
    }
    fn insert(&mut self, fp: u64, gseq: u64) -> Result<(), StoreError> {
        if (self.count + 1) * 2 > self.capacity {
            self.grow()?;
        }
        self.insert_raw(fp, gseq)
    }
    /// Doubles the table: rebuilt in memory (one shard: small), written once, renamed over.
    fn grow(&mut self) -> Result<(), StoreError> {
        let mut all = vec![0u8; (self.capacity * 16) as usize];
        self.file.read_exact_at(&mut all, 0)?;
        let entries: Vec<(u64, u64)> = all
            .chunks_exact(16)
            .filter_map(|c| {
                let f = u64::from_le_bytes(c[..8].try_into().ok()?);
                let g = u64::from_le_bytes(c[8..].try_into().ok()?);
                (f != 0).then_some((f, g))
            })
            .collect();
        drop(all);
        *self = Idem::build(&self.path, &entries, self.capacity * 2)?;
        Ok(())
    }

    /// A table holding `entries`, at least `min_capacity` slots and at most half full, built in
    /// memory and written in one go (to a temporary file renamed over `path`).
    fn build(path: &Path, entries: &[(u64, u64)], min_capacity: u64) -> Result<Idem, StoreError> {
        let capacity = (entries.len() as u64 * 2 + 2)
            .next_power_of_two()
            .max(min_capacity);
        let mut t = vec![0u8; (capacity * 16) as usize];
        for (fp, g) in entries {
            let mut i = fp & (capacity - 1);
            loop {
                let at = (i * 16) as usize;
                if t[at..at + 8] == [0u8; 8] {
                    t[at..at + 8].copy_from_slice(&fp.to_le_bytes());
                    t[at + 8..at + 16].copy_from_slice(&g.to_le_bytes());
                    break;
                }
                i = (i + 1) & (capacity - 1);
            }
        }
        let tmp = path.with_extension("tbl.new");
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?
            .write_all(&t)?;
        std::fs::rename(&tmp, path)?;
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Idem {
            file,
            path: path.to_path_buf(),
            capacity,
            count: entries.len() as u64,
        })
    }
}

/// The idempotency index: [`SHARDS`] tables by the fingerprint's top byte.
struct Shards(Vec<Idem>);

impl Shards {
    fn shard(fp: u64) -> usize {
        (fp >> 56) as usize % SHARDS
    }
    /// Builds every shard from `entries` (fingerprint, gseq), consuming them shard by shard.
    fn build(dir: &Path, mut per_shard: Vec<Vec<(u64, u64)>>) -> Result<Shards, StoreError> {
        crate::perms::create_private_dir(dir)?;
        let mut v = Vec::with_capacity(SHARDS);
        for (i, entries) in per_shard.iter_mut().enumerate() {
            let e = std::mem::take(entries);
            v.push(Idem::build(
                &dir.join(format!("{i:02x}.tbl")),
                &e,
                SHARD_INITIAL,
            )?);
        }
        Ok(Shards(v))
    }
    fn insert(&mut self, fp: u64, gseq: u64) -> Result<(), StoreError> {
        self.0[Self::shard(fp)].insert(fp, gseq)
    }
    fn candidates(&self, fp: u64) -> Result<Vec<u64>, StoreError> {
        self.0[Self::shard(fp)].candidates(fp)
    }
    fn count(&self) -> u64 {
        self.0.iter().map(|s| s.count).sum()
    }
}

/// Every [`MARK`]th record of a lot remembered, so reading a long chain from any point walks
/// back at most `MARK - 1` links (8 bytes of memory per `MARK` records).
const MARK: u64 = 1024;

/// A lot's place in the log: its head, and the global sequence number of seq 0, MARK, 2*MARK, ...
#[derive(Clone, Debug, Default)]
struct LotIdx {
    last_seq: u64,
    last_g: u64,
    marks: Vec<u64>,
}

impl LotIdx {
    fn push(&mut self, seq: u64, g: u64) {
        if seq.is_multiple_of(MARK) {
            self.marks.push(g);
        }
        self.last_seq = seq;
        self.last_g = g;
    }
    /// The nearest known (seq, gseq) at or after `seq`, to walk back from.
    fn start_at_or_after(&self, seq: u64) -> (u64, u64) {
        let k = seq.div_ceil(MARK);
        match self.marks.get(k as usize) {
            Some(g) if k * MARK <= self.last_seq => (k * MARK, *g),
            _ => (self.last_seq, self.last_g),
        }
    }
}

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

/// How [`LogStore::open_with`] treats the data directory.
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

impl LogStore {
    /// True when `dir` holds a log store.
    pub fn exists(dir: &Path) -> bool {
        dir.join("log").join("records.log").exists()
    }

    /// Opens or creates the store in `dir/log` to serve it ([`OpenMode::Write`]).
    pub fn open(dir: &Path) -> Result<(Self, LogRecovery), StoreError> {
        Self::open_with(dir, OpenMode::Write)
    }

    /// Opens the store in `dir/log`: validates the log against its superblock (refusing missing
    /// or damaged acknowledged data), cuts off an unacknowledged torn tail unless read-only, and
    /// rebuilds every index from the log (read-only: in a scratch directory outside `dir`).
    pub fn open_with(dir: &Path, mode: OpenMode) -> Result<(Self, LogRecovery), StoreError> {
        let data_dir = dir.to_path_buf();
        let dir = dir.join("log");
        let read_only = mode == OpenMode::ReadOnly;
        if !read_only {
            crate::perms::create_private_dir(&dir)?;
        }
        let lock = take_lock(&dir, &data_dir, read_only)?;
        let log_path = dir.join("records.log");
        let mut log_w = if read_only {
            File::open(&log_path)?
        } else {
            OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .mode(0o600)
                .open(&log_path)?
        };
        let total = log_w.metadata()?.len();
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
        let open_idx = |name: &str| -> Result<File, StoreError> {
            Ok(OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(idx_dir.join(name))?)
        };
        let gseq_idx = open_idx("gseq.idx")?;
        let lotprev_idx = open_idx("lotprev.idx")?;
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
        let committed_end = scan.committed_end;
        let records = scan.records;
        let mut truncated = 0;
        if committed_end < total {
            refuse_damage_before_commits(&log_path, committed_end, scan.damaged)?;
            // An unacknowledged torn tail: the group being written when the process stopped.
            truncated = total - committed_end;
            if !read_only {
                log_w.set_len(committed_end)?;
                log_w.sync_all()?;
            }
        }
        let last_hash = scan
            .last_bytes
            .as_deref()
            .map_or([0u8; 32], |b| record_hash(b).0);
        let superblock_rebuilt = !read_only && sb.is_none() && total > 0;
        let sb = match sb {
            _ if read_only => None,
            None => Some(Superblock::create(
                &dir,
                Committed {
                    generation: 0,
                    log_len: committed_end,
                    records,
                    last_hash,
                },
            )?),
            Some(mut sb) => {
                let c = sb.committed();
                if (c.log_len, c.records) != (committed_end, records) {
                    // Complete groups the crash kept from being acknowledged: now they are.
                    sb.advance(committed_end, records, last_hash)?;
                }
                Some(sb)
            }
        };
        log_w.seek(SeekFrom::End(0))?;
        let store = LogStore {
            log: File::open(&log_path)?,
            gseq_idx: gseq_idx.try_clone()?,
            lotprev_idx: lotprev_idx.try_clone()?,
            writer: Mutex::new(Writer {
                log: log_w,
                log_len: committed_end,
                gseq_idx,
                lotprev_idx,
                records,
                sb,
                last_hash,
            }),
            heads: RwLock::new(scan.heads),
            idem: Mutex::new(idem),
            records: RwLock::new(records),
            dir,
            _lock: lock,
            _scratch: scratch,
        };
        Ok((
            store,
            LogRecovery {
                records,
                truncated_bytes: truncated,
                superblock_rebuilt,
            },
        ))
    }

    fn offset_of(&self, g: u64) -> Result<Option<u64>, StoreError> {
        if g == 0 || g > *self.records.read().unwrap_or_else(|e| e.into_inner()) {
            return Ok(None);
        }
        let mut b = [0u8; 8];
        self.gseq_idx.read_exact_at(&mut b, (g - 1) * 8)?;
        Ok(Some(u64::from_le_bytes(b)))
    }

    fn read_at(&self, off: u64) -> Result<Vec<u8>, StoreError> {
        let mut head = [0u8; 5];
        self.log.read_exact_at(&mut head, off)?;
        let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if head[0] != KIND_RECORD || len > MAX_PAYLOAD {
            return Err(StoreError::Corrupt(format!(
                "no record frame at offset {off}"
            )));
        }
        let mut payload = vec![0u8; len + 8];
        self.log.read_exact_at(&mut payload, off + 5)?;
        let mut c = [0u8; 8];
        c.copy_from_slice(&payload[len..]);
        payload.truncate(len);
        if u64::from_le_bytes(c) != check(KIND_RECORD, &payload) {
            return Err(StoreError::Corrupt(format!(
                "record frame at offset {off} fails its checksum"
            )));
        }
        Ok(payload)
    }

    fn lot_prev(&self, g: u64) -> Result<u64, StoreError> {
        let mut b = [0u8; 8];
        self.lotprev_idx.read_exact_at(&mut b, (g - 1) * 8)?;
        Ok(u64::from_le_bytes(b))
    }
}

impl Store for LogStore {
    fn append(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if w.sb.is_none() {
            return Err(StoreError::ReadOnly);
        }
        let mut buf = Vec::with_capacity(batch.records.len() * 400 + 64);
        let mut offsets = Vec::with_capacity(batch.records.len() * 8);
        let mut prevs = Vec::with_capacity(batch.records.len() * 8);
        let mut heads = self.heads.write().unwrap_or_else(|e| e.into_inner());
        let mut new_heads: HashMap<LotId, (u64, u64)> = HashMap::new();
        let mut g = w.records;
        for r in &batch.records {
            g += 1;
            if r.global_seq != g {
                return Err(StoreError::Corrupt(format!(
                    "append of global sequence {} after {}",
                    r.global_seq,
                    g - 1
                )));
            }
            offsets.extend_from_slice(&(w.log_len + buf.len() as u64).to_le_bytes());
            let prev = new_heads
                .get(&r.lot)
                .map(|h| h.1)
                .or_else(|| heads.get(&r.lot).map(|h| h.last_g))
                .unwrap_or(0);
            prevs.extend_from_slice(&prev.to_le_bytes());
            new_heads.insert(r.lot, (r.seq, g));
            frame(&mut buf, KIND_RECORD, &r.bytes);
        }
        let mut commit = Vec::with_capacity(24);
        commit.extend_from_slice(COMMIT_MAGIC);
        commit.extend_from_slice(&g.to_le_bytes());
        frame(&mut buf, KIND_COMMIT, &commit);
        // One write and one fdatasync per group: the group is durable, or it is a torn tail
        // that the next open cuts off.
        // Then the superblock records it (docs/format.md, "The stores"): a second, one-block
        // fdatasync, so that cutting acknowledged data off the log is detected on open.
        let new_len = w.log_len + buf.len() as u64;
        let last_hash = batch
            .records
            .last()
            .map_or(w.last_hash, |r| record_hash(&r.bytes).0);
        let write = w.log.write_all(&buf).and_then(|_| w.log.sync_data());
        let durable = match write {
            Err(e) => Err(StoreError::from(e)),
            Ok(()) => match w.sb.as_mut() {
                Some(sb) => sb.advance(new_len, g, last_hash),
                None => Err(StoreError::ReadOnly),
            },
        };
        if let Err(e) = durable {
            // Leave no partial group behind for readers or the next append.
            let _ = w.log.set_len(w.log_len);
            return Err(e);
        }
        w.log_len = new_len;
        w.last_hash = last_hash;
        (&w.gseq_idx).write_all(&offsets)?;
        (&w.lotprev_idx).write_all(&prevs)?;
        let mut idem = self.idem.lock().unwrap_or_else(|e| e.into_inner());
        for (id, e) in &batch.idempotency {
            idem.insert(fingerprint(id), e.first_global_seq)?;
        }
        for r in &batch.records {
            heads.entry(r.lot).or_default().push(r.seq, r.global_seq);
        }
        w.records = g;
        *self.records.write().unwrap_or_else(|e| e.into_inner()) = g;
        Ok(())
    }

    fn record(&self, global_seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        match self.offset_of(global_seq)? {
            None => Ok(None),
            Some(off) => self.read_at(off).map(Some),
        }
    }

    fn lot_records(
        &self,
        lot: LotId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let (end, start) = {
            let heads = self.heads.read().unwrap_or_else(|e| e.into_inner());
            let Some(h) = heads.get(&lot) else {
                return Ok(vec![]);
            };
            if from_seq > h.last_seq || limit == 0 {
                return Ok(vec![]);
            }
            let end = h.last_seq.min(from_seq.saturating_add(limit as u64 - 1));
            (end, h.start_at_or_after(end))
        };
        // Walk back along the lot's chain of global sequence numbers from the nearest mark.
        let mut gseqs = Vec::with_capacity((end - from_seq + 1) as usize);
        let (mut seq, mut g) = start;
        while seq >= from_seq {
            if seq <= end {
                gseqs.push((seq, g));
            }
            if seq == 0 {
                break;
            }
            g = self.lot_prev(g)?;
            if g == 0 {
                return Err(StoreError::Corrupt(format!(
                    "lot {lot}: the chain index ends before seq {from_seq}"
                )));
            }
            seq -= 1;
        }
        gseqs.reverse();
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
            .candidates(fingerprint(&id))?;
        for g in candidates {
            let Some(bytes) = self.record(g)? else {
                continue;
            };
            let rec = Record::decode(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("record {g}: {e}")))?;
            if body_event_id(&rec) != Some(id) {
                continue;
            }
            // The submission's records are consecutive and carry the same body.
            let mut count = 1u8;
            while let Some(next) = self.record(g + count as u64)? {
                let n = Record::decode(&next).map_err(|e| {
                    StoreError::Corrupt(format!("record {}: {e}", g + count as u64))
                })?;
                if n.link.is_none() || n.body != rec.body {
                    break;
                }
                count += 1;
            }
            return Ok(Some(IdempotencyEntry {
                body_hash: Hash32(*blake3::hash(&rec.body).as_bytes()),
                first_global_seq: g,
                count,
            }));
        }
        Ok(None)
    }

    fn scan(&self, from: u64, f: &mut ScanFn<'_>) -> Result<(), StoreError> {
        let last = *self.records.read().unwrap_or_else(|e| e.into_inner());
        let Some(start) = self.offset_of(from.max(1))? else {
            return Ok(());
        };
        let mut r = BufReader::with_capacity(1 << 20, File::open(self.dir.join("records.log"))?);
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
