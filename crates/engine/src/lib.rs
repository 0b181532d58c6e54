//! The ledger engine: turns submissions into durable, chained records.
//!
//! One committer thread owns every write. Callers decode and validate on their own threads
//! ([`Engine::submit`], `submit.rs`), then queue; the committer (`committer.rs`) drains the queue,
//! stages each submission against the lot states (a rejected one leaves no trace), writes the
//! whole group with one `Store::append` (one fdatasync), and only then publishes the new states
//! and answers. Readers see committed, durable state only. Opening replays and checks the store
//! (`replay.rs`).

#![forbid(unsafe_code)]

pub mod backup;
mod closure;
mod committer;
mod error;
pub mod hashfile;
mod replay;
mod submit;
pub mod tree;
mod types;

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use ree_core::registry::{Registry, REGISTRY_LOT};
use ree_core::state::{LotKind, LotView};
use ree_core::{LedgerState, LotId, LotState, Record, UtcMicros};
use ree_store::{Store, StoreError};

pub use closure::{Upstream, UpstreamHeads};
pub use committer::now_utc;
pub use error::{EngineError, SubmitError};
pub use replay::{
    replay_store, replay_store_with_progress, replay_store_with_tree, Progress, PROGRESS_EVERY,
};
pub use submit::MAX_BATCH;
pub use tree::LogTree;
pub use types::{
    AppendedRecord, Committed, Observer, OpenReport, Outcome, StoredRecord, Submission,
};

use committer::{committer_loop, Shared};
use submit::{all_failed, prepare_request, Reply, Request};

/// Requests waiting for the committer before new ones are shed with RESOURCE_EXHAUSTED.
pub const QUEUE_DEPTH: usize = 4096;

/// The handle: cheap to share behind an `Arc`; dropping the last one drains and stops the committer.
pub struct Engine {
    shared: Arc<Shared>,
    tx: Mutex<Option<SyncSender<Request>>>,
    committer: Mutex<Option<JoinHandle<()>>>,
    report: OpenReport,
}

impl Engine {
    /// Opens the ledger on `store`: replays and checks it (refusing to serve a damaged store),
    /// then starts the committer.
    pub fn open(store: Arc<dyn Store>, observer: Option<Observer>) -> Result<Engine, EngineError> {
        Self::open_with_queue(store, observer, QUEUE_DEPTH)
    }

    /// [`Engine::open`] with a chosen queue depth: requests beyond it are shed (Overloaded).
    pub fn open_with_queue(
        store: Arc<dyn Store>,
        observer: Option<Observer>,
        queue_depth: usize,
    ) -> Result<Engine, EngineError> {
        Self::open_with_tree(store, observer, queue_depth, LogTree::new())
    }

    /// [`Engine::open_with_queue`] with the tree's node hashes kept by `tree` (the server's:
    /// `DATA/tree/hashes`, [`LogTree::open_file`]), checked against every record on the way.
    pub fn open_with_tree(
        store: Arc<dyn Store>,
        observer: Option<Observer>,
        queue_depth: usize,
        tree: LogTree,
    ) -> Result<Engine, EngineError> {
        let (state, report) = replay_store_with_tree(&*store, &|_| {}, &tree)?;
        match tree.finish_replay().map_err(StoreError::Io)? {
            Some(hashfile::FileCheck::Verified { leaves }) => {
                tracing::info!(leaves, "tree hashes file verified against the records")
            }
            Some(other) => tracing::warn!(
                "tree hashes file did not match the records ({other:?}): corrected from them"
            ),
            None => {}
        }
        let shared = Arc::new(Shared {
            store,
            state: RwLock::new(state),
            poisoned: Mutex::new(None),
            observer,
            tree,
        });
        let (tx, rx) = sync_channel::<Request>(queue_depth);
        let committer_shared = shared.clone();
        let committer = std::thread::Builder::new()
            .name("ree-committer".into())
            .spawn(move || committer_loop(&committer_shared, rx))
            .map_err(StoreError::Io)?;
        Ok(Engine {
            shared,
            tx: Mutex::new(Some(tx)),
            committer: Mutex::new(Some(committer)),
            report,
        })
    }

    /// What opening found.
    pub fn open_report(&self) -> OpenReport {
        self.report
    }

    /// Decodes and validates on the caller's thread, then queues for the committer; `reply` is
    /// called once, with one result per submission, after the group is durable.
    pub fn submit(&self, subs: Vec<Submission>, atomic: bool, now: UtcMicros, reply: Reply) {
        let registry = self.registry();
        let items = match prepare_request(subs, atomic, now, registry.as_deref()) {
            Ok(items) => items,
            Err(answer) => return reply(answer),
        };
        if let Some(p) = self.poisoned() {
            return reply(all_failed(items.len(), SubmitError::Unavailable(p)));
        }
        let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tx) = guard.as_ref() else {
            let err = SubmitError::Unavailable("shutting down".into());
            return reply(all_failed(items.len(), err));
        };
        let request = Request {
            items,
            atomic,
            reply,
        };
        match tx.try_send(request) {
            Ok(()) => {}
            Err(TrySendError::Full(req)) => {
                let err = SubmitError::Overloaded("the commit queue is full".to_string());
                (req.reply)(all_failed(req.items.len(), err));
            }
            Err(TrySendError::Disconnected(req)) => {
                let err = SubmitError::Unavailable("committer stopped".into());
                (req.reply)(all_failed(req.items.len(), err));
            }
        }
    }

    /// [`Engine::submit`] that waits for the answer (tests, tools).
    pub fn submit_blocking(
        &self,
        subs: Vec<Submission>,
        atomic: bool,
        now: UtcMicros,
    ) -> Vec<Result<Outcome, SubmitError>> {
        let (tx, rx) = std::sync::mpsc::channel();
        let n = subs.len();
        self.submit(
            subs,
            atomic,
            now,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv()
            .unwrap_or_else(|_| vec![Err(SubmitError::Unavailable("committer stopped".into())); n])
    }

    /// Stops accepting, lets the committer finish what is queued, and waits for it.
    pub fn shutdown(&self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = self
            .committer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = h.join();
        }
    }

    fn state(&self) -> std::sync::RwLockReadGuard<'_, LedgerState> {
        self.shared.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// A lot's committed state.
    pub fn lot(&self, id: LotId) -> Option<LotState> {
        self.state().lot(&id).cloned()
    }

    /// Every lot (optionally of one kind), sorted by id (v7 ids: by creation time).
    pub fn lots(&self, kind: Option<LotKind>) -> Vec<LotState> {
        let mut v: Vec<LotState> = self
            .state()
            .lots()
            .filter(|l| kind.is_none_or(|k| l.kind() == k))
            .cloned()
            .collect();
        v.sort_by_key(|l| l.id);
        v
    }

    /// Global sequence number of the last durable record (0 when empty).
    pub fn last_global_seq(&self) -> u64 {
        self.state().next_global_seq() - 1
    }

    /// Up to `limit` records of a lot from `from_seq`, as stored, with their hashes. Only
    /// committed records are returned (the store may briefly hold a group being published).
    pub fn lot_records(
        &self,
        lot: LotId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, EngineError> {
        let head = match self.lot(lot) {
            Some(l) => l.next_seq,
            None => return Ok(vec![]),
        };
        let limit = limit.min(head.saturating_sub(from_seq) as usize);
        let raw = self.shared.store.lot_records(lot, from_seq, limit)?;
        raw.into_iter()
            .map(|(seq, bytes)| {
                let rec =
                    Record::decode(&bytes).map_err(|e| EngineError::undecodable(lot, seq, e))?;
                let hash = ree_core::record::record_hash(&bytes);
                Ok(StoredRecord {
                    record: rec,
                    bytes: Arc::from(bytes),
                    hash,
                })
            })
            .collect()
    }

    /// The lot's upstream graph: every lot whose history its head commits to, with each chain
    /// up to the record that is linked.
    pub fn upstream(&self, lot: LotId) -> Result<Option<Upstream>, EngineError> {
        let Some(st) = self.lot(lot) else {
            return Ok(None);
        };
        let registry = self.lot(REGISTRY_LOT).map(|r| r.head_seq());
        closure::upstream(&*self.shared.store, &st, registry).map(Some)
    }

    /// The subject's state and the lots upstream of it with the (seq, hash) its head commits to:
    /// what a provenance answer lists, computed without reading ore and recycled chains.
    pub fn provenance_upstream(
        &self,
        lot: LotId,
    ) -> Result<Option<(LotState, UpstreamHeads)>, EngineError> {
        let Some(st) = self.lot(lot) else {
            return Ok(None);
        };
        let kind_of = |id: &LotId| self.lot_kind(*id);
        let heads = closure::upstream_heads(&*self.shared.store, &st, &kind_of)?;
        Ok(Some((st, heads)))
    }

    fn lot_kind(&self, id: LotId) -> Option<LotKind> {
        self.state().lot(&id).map(|l| l.kind())
    }

    /// Writes a consistent backup of every committed record (see [`backup`]); returns how many.
    pub fn backup(&self, w: &mut dyn std::io::Write) -> Result<u64, EngineError> {
        backup::backup_store(&*self.shared.store, self.last_global_seq(), w)
    }

    /// Committed records in global order from `from` on (at most `limit`), for streaming backups.
    pub fn records_from(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, EngineError> {
        let last = self.last_global_seq();
        let mut v = self.shared.store.records(from, limit)?;
        v.retain(|(g, _)| *g <= last);
        Ok(v)
    }

    /// The Merkle tree of every committed record (issue 13): sizes, roots and proofs. Its size
    /// is at least [`Engine::last_global_seq`] (a group joins it just before it is published).
    pub fn tree(&self) -> &LogTree {
        &self.shared.tree
    }

    /// Store size on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.shared.store.size_on_disk()
    }

    /// The participant registry as committed (None before the first administrator).
    pub fn registry(&self) -> Option<Arc<Registry>> {
        match &self.state().lot(&REGISTRY_LOT)?.detail {
            ree_core::state::LotDetail::Registry(r) => Some(r.clone()),
            _ => None,
        }
    }

    /// Set when a storage failure stopped writes; the server reports it instead of serving.
    pub fn poisoned(&self) -> Option<String> {
        self.shared
            .poisoned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown();
    }
}
