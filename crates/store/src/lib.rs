//! Durable storage of event records behind the small [`Store`] trait.
//!
//! The store knows bytes and keys, not rules: the engine decides what to append, the store makes
//! it durable and atomic. Three implementations: [`SledStore`] (the embedded default),
//! [`LogStore`] (an append-only segment log, `--store log`) and [`MemStore`] (tests). Every one
//! passes the same suite, `tests/contract.rs`. What a record's body holds is ree-core's business
//! (`Record::submission_key`), never the store's.

#![forbid(unsafe_code)]

mod log_store;
mod mem;
pub mod perms;
mod sled_store;

use ree_core::{EventId, Hash32, LotId};

pub use log_store::{LogRecovery, LogStore, OpenMode};
pub use mem::MemStore;
pub use sled_store::SledStore;

/// Which durable store a data directory holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StoreKind {
    /// sled under `DATA/sled` (the default).
    Sled,
    /// The append-only segment log under `DATA/log`: flat memory, ~1.2x the raw record bytes on
    /// disk (BENCHMARKS.md).
    Log,
}

impl StoreKind {
    /// Parses `sled` or `log`.
    pub fn parse(s: &str) -> Option<StoreKind> {
        match s {
            "sled" => Some(StoreKind::Sled),
            "log" => Some(StoreKind::Log),
            _ => None,
        }
    }
}

/// The kind of store `dir` holds, if any. A directory holding both is refused.
fn existing_kind(dir: &std::path::Path) -> Result<Option<StoreKind>, StoreError> {
    let has_log = LogStore::exists(dir);
    let has_sled = dir.join("sled").join("db").exists();
    match (has_log, has_sled) {
        (true, true) => Err(StoreError::Corrupt(format!(
            "{} holds both a sled store and a log store",
            dir.display()
        ))),
        (true, false) => Ok(Some(StoreKind::Log)),
        (false, true) => Ok(Some(StoreKind::Sled)),
        (false, false) => Ok(None),
    }
}

/// Opens the store in `dir` to serve it: the kind it already holds, else `new_kind` for an
/// empty directory. The directory and everything in it is made owner-only; a cut torn tail is
/// logged with its size.
pub fn open(
    dir: &std::path::Path,
    new_kind: StoreKind,
) -> Result<(std::sync::Arc<dyn Store>, StoreKind), StoreError> {
    let kind = existing_kind(dir)?.unwrap_or(new_kind);
    perms::create_private_dir(dir)?;
    perms::tighten_tree(dir)?;
    Ok(match kind {
        StoreKind::Sled => (std::sync::Arc::new(SledStore::open(dir)?), kind),
        StoreKind::Log => {
            let (store, r) = LogStore::open(dir)?;
            if r.truncated_bytes > 0 {
                tracing::warn!(
                    bytes = r.truncated_bytes,
                    file = %dir.join("log/records.log").display(),
                    "cut an unacknowledged torn tail"
                );
            }
            (std::sync::Arc::new(store), kind)
        }
    })
}

/// A store opened without changing anything in its data directory.
pub struct ReadOnlyStore {
    pub store: std::sync::Arc<dyn Store>,
    pub kind: StoreKind,
    /// Bytes of an unacknowledged torn tail at the end of the log, left in place.
    pub torn_tail_bytes: u64,
}

/// Opens an existing data directory read-only (`ree check`, offline backup): refuses a missing
/// directory, one holding no store, or one a server holds; creates and changes nothing in it.
pub fn open_read_only(dir: &std::path::Path) -> Result<ReadOnlyStore, StoreError> {
    if !dir.is_dir() {
        return Err(StoreError::Missing(dir.to_path_buf()));
    }
    match existing_kind(dir)? {
        None => Err(StoreError::NoStore(dir.to_path_buf())),
        Some(StoreKind::Sled) => Ok(ReadOnlyStore {
            store: std::sync::Arc::new(SledStore::open_read_only(dir)?),
            kind: StoreKind::Sled,
            torn_tail_bytes: 0,
        }),
        Some(StoreKind::Log) => {
            let (store, r) = LogStore::open_with(dir, OpenMode::ReadOnly)?;
            Ok(ReadOnlyStore {
                store: std::sync::Arc::new(store),
                kind: StoreKind::Log,
                torn_tail_bytes: r.truncated_bytes,
            })
        }
    }
}

/// What `ree repair` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RepairReport {
    pub kind: StoreKind,
    /// Records kept (log store; 0 for sled, which repairs itself on open).
    pub records: u64,
    /// Bytes of an unacknowledged torn tail cut off.
    pub cut_bytes: u64,
    /// A missing commit superblock was rebuilt from the log.
    pub superblock_rebuilt: bool,
}

/// Repairs an existing data directory: cuts an unacknowledged torn tail and rebuilds a missing
/// superblock; refuses (and leaves untouched) missing or damaged acknowledged data.
pub fn repair(dir: &std::path::Path) -> Result<RepairReport, StoreError> {
    if !dir.is_dir() {
        return Err(StoreError::Missing(dir.to_path_buf()));
    }
    match existing_kind(dir)? {
        None => Err(StoreError::NoStore(dir.to_path_buf())),
        Some(StoreKind::Sled) => {
            drop(SledStore::open(dir)?);
            Ok(RepairReport {
                kind: StoreKind::Sled,
                records: 0,
                cut_bytes: 0,
                superblock_rebuilt: false,
            })
        }
        Some(StoreKind::Log) => {
            let (_, r) = LogStore::open_with(dir, OpenMode::Repair)?;
            Ok(RepairReport {
                kind: StoreKind::Log,
                records: r.records,
                cut_bytes: r.truncated_bytes,
                superblock_rebuilt: r.superblock_rebuilt,
            })
        }
    }
}

/// The on-disk format version this build writes. A store with a newer version is refused.
pub const STORE_FORMAT_VERSION: u32 = 1;

/// One record to append: its position and its exact bytes.
#[derive(Clone, Debug)]
pub struct NewRecord {
    pub global_seq: u64,
    pub lot: LotId,
    pub seq: u64,
    pub bytes: Vec<u8>,
}

/// What the idempotency index remembers of an accepted submission: enough to recognise a retry
/// (the body's hash) and to answer it with the original result (where its records are).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IdempotencyEntry {
    /// blake3 of the submitted body bytes.
    pub body_hash: Hash32,
    /// Global sequence number of the first record the submission appended.
    pub first_global_seq: u64,
    /// How many consecutive records it appended.
    pub count: u8,
}

/// A group of submissions to make durable together, all or nothing.
#[derive(Default, Debug)]
pub struct Batch {
    pub records: Vec<NewRecord>,
    pub idempotency: Vec<(EventId, IdempotencyEntry)>,
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    #[error("store format version {found} is newer than this build supports ({supported}); upgrade ree-ledger")]
    NewerFormat { found: u32, supported: u32 },
    #[error("store is damaged: {0}")]
    Corrupt(String),
    #[error("{} is in use by a running server (stop it, or use `ree backup` against the server)", .0.display())]
    InUse(std::path::PathBuf),
    #[error("data directory {} does not exist", .0.display())]
    Missing(std::path::PathBuf),
    #[error("{} holds no ledger (neither a sled/ nor a log/ store): wrong --data-dir?", .0.display())]
    NoStore(std::path::PathBuf),
    #[error("the store is open read-only")]
    ReadOnly,
}

/// The visitor [`Store::scan`] calls with (global sequence number, record bytes).
pub type ScanFn<'a> = dyn FnMut(u64, &[u8]) -> Result<(), StoreError> + 'a;

/// Durable, ordered storage of records. Implementations are shared across threads.
pub trait Store: Send + Sync + 'static {
    /// Appends atomically and returns only once the batch is durable (see ARCHITECTURE.md for
    /// the system call that makes it so). On error nothing of the batch may be visible.
    fn append(&self, batch: &Batch) -> Result<(), StoreError>;
    /// The record with this global sequence number.
    fn record(&self, global_seq: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// Up to `limit` records of `lot` from `from_seq` on, as (seq, bytes), in order.
    fn lot_records(
        &self,
        lot: LotId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;
    /// The idempotency entry of a client event id.
    fn idempotency(&self, id: EventId) -> Result<Option<IdempotencyEntry>, StoreError>;
    /// Calls `f` with every record in global order from `from_global_seq` on; stops at the first
    /// error `f` returns.
    fn scan(&self, from_global_seq: u64, f: &mut ScanFn<'_>) -> Result<(), StoreError>;
    /// Up to `limit` records in global order from `from_global_seq` on.
    fn records(
        &self,
        from_global_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;
    /// Number of idempotency entries (for the consistency check on open).
    fn idempotency_count(&self) -> Result<u64, StoreError>;
    /// Bytes on disk (0 in memory).
    fn size_on_disk(&self) -> Result<u64, StoreError>;
}
