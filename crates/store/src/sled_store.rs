//! The sled-backed store. One tree, prefixed keys, one `apply_batch` per group commit (atomic
//! within a tree), then `Db::flush` and `fdatasync(2)` on sled's files: sled's own flush only
//! issues `sync_file_range`, which does not make the write survive a power cut.
//!
//! Keys (big-endian numbers so that byte order is numeric order):
//! - `m` `format`            → u32 store format version
//! - `g` gseq(8)             → record bytes
//! - `l` lot(16) seq(8)      → gseq(8)
//! - `i` event_id(16)        → idempotency entry (41 bytes)

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ree_core::{EventId, Hash32, LotId};

use crate::{Batch, IdempotencyEntry, ScanFn, Store, StoreError, STORE_FORMAT_VERSION};

const FORMAT_KEY: &[u8] = b"mformat";
/// sled page-cache budget.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

fn gkey(gseq: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = b'g';
    k[1..].copy_from_slice(&gseq.to_be_bytes());
    k
}

fn lkey(lot: LotId, seq: u64) -> [u8; 25] {
    let mut k = [0u8; 25];
    k[0] = b'l';
    k[1..17].copy_from_slice(&lot.bytes());
    k[17..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// An idempotency entry's value: body hash (32), first global sequence number (8), count (1).
fn encode_entry(e: &IdempotencyEntry) -> [u8; 41] {
    let mut b = [0u8; 41];
    b[..32].copy_from_slice(&e.body_hash.0);
    b[32..40].copy_from_slice(&e.first_global_seq.to_be_bytes());
    b[40] = e.count;
    b
}

fn decode_entry(b: &[u8]) -> Option<IdempotencyEntry> {
    if b.len() != 41 {
        return None;
    }
    Some(IdempotencyEntry {
        body_hash: Hash32(b[..32].try_into().ok()?),
        first_global_seq: u64::from_be_bytes(b[32..40].try_into().ok()?),
        count: b[40],
    })
}

/// The global sequence number in a record key.
fn gseq_of_key(k: &[u8]) -> Result<u64, StoreError> {
    k.get(1..9)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| StoreError::Corrupt("record key".into()))
}

fn ikey(id: EventId) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[0] = b'i';
    k[1..].copy_from_slice(&id.bytes());
    k
}

/// sled under a data directory.
pub struct SledStore {
    db: sled::Db,
    dir: PathBuf,
    /// sled's main log file, opened once so each commit can `fdatasync` it.
    log: File,
    /// Blob files already synced (sled writes a node larger than segment/4 to its own file).
    synced_blobs: Mutex<HashSet<std::ffi::OsString>>,
    /// Read-only: the copy of the data directory's sled files that `db` opened (sled has no
    /// read-only mode and writes on open); dropped after `db`.
    _scratch: Option<tempfile::TempDir>,
}

/// Fails with [`StoreError::InUse`] if a process holds sled's lock on `DATA/sled/db` (the same
/// `flock` sled takes), instead of sled's raw lock error; the returned guard keeps it held.
fn lock_sled(data_dir: &Path) -> Result<Option<File>, StoreError> {
    match File::open(data_dir.join("sled").join("db")) {
        Ok(f) => {
            f.try_lock()
                .map_err(|_| StoreError::InUse(data_dir.to_path_buf()))?;
            Ok(Some(f))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Copies the regular files of `from` into `to`, recursively.
fn copy_tree(from: &Path, to: &Path) -> Result<(), StoreError> {
    crate::perms::create_private_dir(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let t = e.file_type()?;
        if t.is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()))?;
        } else if t.is_file() {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}

impl SledStore {
    /// Opens or creates the store in `dir` (the sled database lives in `dir/sled`). Refuses a
    /// store written by a newer format.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        crate::perms::create_private_dir(dir)?;
        // Checked, then released: sled takes the same lock itself, on its own descriptor.
        drop(lock_sled(dir)?);
        Self::open_at(dir, None)
    }

    /// Opens a copy of `dir`'s sled files, taken under sled's lock (refused while a server holds
    /// it), so that nothing in `dir` is created or changed.
    pub fn open_read_only(dir: &Path) -> Result<Self, StoreError> {
        let guard = lock_sled(dir)?;
        let scratch = tempfile::tempdir()?;
        copy_tree(&dir.join("sled"), &scratch.path().join("sled"))?;
        drop(guard);
        let root = scratch.path().to_path_buf();
        Self::open_at(&root, Some(scratch))
    }

    fn open_at(dir: &Path, scratch: Option<tempfile::TempDir>) -> Result<Self, StoreError> {
        let path = dir.join("sled");
        let db = sled::Config::new()
            .path(&path)
            .mode(sled::Mode::HighThroughput)
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(|e| match e {
                // Another process took the lock between our check and sled's.
                sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
                    StoreError::InUse(dir.to_path_buf())
                }
                e => StoreError::Sled(e),
            })?;
        match db.get(FORMAT_KEY)? {
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt("format version key is malformed".into()))?;
                if found > STORE_FORMAT_VERSION {
                    return Err(StoreError::NewerFormat {
                        found,
                        supported: STORE_FORMAT_VERSION,
                    });
                }
            }
            None => {
                db.insert(FORMAT_KEY, &STORE_FORMAT_VERSION.to_be_bytes())?;
            }
        }
        db.flush()?;
        let log = File::open(path.join("db"))?;
        log.sync_data()?;
        Ok(SledStore {
            db,
            dir: path,
            log,
            synced_blobs: Mutex::new(HashSet::new()),
            _scratch: scratch,
        })
    }

    /// Makes everything sled has written durable: its flush (write + `sync_file_range`) and
    /// then `fdatasync` on the log file and on any new blob file.
    fn sync(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        self.log.sync_data()?;
        let blobs = self.dir.join("blobs");
        if let Ok(entries) = std::fs::read_dir(&blobs) {
            let mut synced = self.synced_blobs.lock().unwrap_or_else(|e| e.into_inner());
            let mut any = false;
            for e in entries.flatten() {
                if synced.insert(e.file_name()) {
                    File::open(e.path())?.sync_data()?;
                    any = true;
                }
            }
            if any {
                File::open(&blobs)?.sync_all()?;
            }
        }
        Ok(())
    }
}

impl Store for SledStore {
    fn append(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut b = sled::Batch::default();
        for r in &batch.records {
            b.insert(&gkey(r.global_seq)[..], r.bytes.as_slice());
            b.insert(&lkey(r.lot, r.seq)[..], &r.global_seq.to_be_bytes()[..]);
        }
        for (id, e) in &batch.idempotency {
            b.insert(&ikey(*id), &encode_entry(e)[..]);
        }
        self.db.apply_batch(b)?;
        self.sync()
    }

    fn record(&self, global_seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get(gkey(global_seq))?.map(|v| v.to_vec()))
    }

    fn lot_records(
        &self,
        lot: LotId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for kv in self
            .db
            .range(lkey(lot, from_seq)..=lkey(lot, u64::MAX))
            .take(limit)
        {
            let (k, v) = kv?;
            let seq = u64::from_be_bytes(
                k[17..25]
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("lot index key".into()))?,
            );
            let gseq = u64::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt(format!("lot index of {lot} seq {seq}")))?,
            );
            let bytes = self.record(gseq)?.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "lot {lot} seq {seq} points to missing record {gseq}"
                ))
            })?;
            out.push((seq, bytes));
        }
        Ok(out)
    }

    fn idempotency(&self, id: EventId) -> Result<Option<IdempotencyEntry>, StoreError> {
        match self.db.get(ikey(id))? {
            None => Ok(None),
            Some(v) => decode_entry(&v)
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt(format!("idempotency entry of {id}"))),
        }
    }

    fn scan(&self, from: u64, f: &mut ScanFn<'_>) -> Result<(), StoreError> {
        for kv in self.db.range(gkey(from)..=gkey(u64::MAX)) {
            let (k, v) = kv?;
            let gseq = gseq_of_key(&k)?;
            f(gseq, &v)?;
        }
        Ok(())
    }

    fn records(&self, from: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.db.range(gkey(from)..=gkey(u64::MAX)).take(limit) {
            let (k, v) = kv?;
            let gseq = gseq_of_key(&k)?;
            out.push((gseq, v.to_vec()));
        }
        Ok(out)
    }

    fn idempotency_count(&self) -> Result<u64, StoreError> {
        Ok(self.db.scan_prefix(b"i").count() as u64)
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_newer_format() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SledStore::open(dir.path()).unwrap();
            s.db.insert(FORMAT_KEY, &(STORE_FORMAT_VERSION + 1).to_be_bytes())
                .unwrap();
            s.db.flush().unwrap();
        }
        // sled drops its file lock from a background thread after the handle goes
        // (spacejam/sled#1289): an immediate reopen in the same process may still see it held.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let reopened = loop {
            match SledStore::open(dir.path()) {
                Err(StoreError::InUse(_)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50))
                }
                other => break other,
            }
        };
        match reopened {
            Err(StoreError::NewerFormat { found, .. }) => {
                assert_eq!(found, STORE_FORMAT_VERSION + 1)
            }
            Err(e) => panic!("wrong error {e}"),
            Ok(_) => panic!("opened a newer format"),
        }
    }
}
