//! The ledger engine: turns submissions into durable, chained records.
//!
//! One committer thread owns every write. Callers decode and validate on their own threads
//! ([`Engine::submit`]), then queue; the committer drains the queue, stages each submission
//! against the lot states (a rejected one leaves no trace), writes the whole group with one
//! `Store::append` (one fdatasync), and only then publishes the new states and answers. Readers
//! see committed, durable state only.

pub mod backup;
mod closure;

use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use ree_core::error::{DecodeError, FieldError, RuleError};
use ree_core::record::Signature;
use ree_core::registry::{Registry, REGISTRY_LOT};
use ree_core::state::{Appended, LotKind, Staged};
use ree_core::ParticipantId;
use ree_core::{EventBody, EventId, Hash32, LedgerState, LotId, LotState, Record, UtcMicros};
use ree_store::{Batch, IdempotencyEntry, NewRecord, Store, StoreError};

pub use closure::{Upstream, UpstreamHeads};

/// Most submissions one request may carry.
pub const MAX_BATCH: usize = 1000;
/// Requests waiting for the committer before new ones are shed with RESOURCE_EXHAUSTED.
pub const QUEUE_DEPTH: usize = 4096;
/// Most records one group commit writes.
const MAX_GROUP_RECORDS: usize = 8192;

/// One event as submitted: the canonical body bytes and the submitter's signature over them.
#[derive(Clone, Debug)]
pub struct Submission {
    pub body: Vec<u8>,
    /// Required: an unsigned submission is refused (UNAUTHENTICATED).
    pub signature: Option<Signature>,
    /// The participant the transport authenticated (bearer token); the signing key must be
    /// theirs. None only for in-process callers (bootstrap, tools, tests).
    pub caller: Option<ParticipantId>,
}

/// One record an accepted submission appended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Appended1 {
    pub lot: LotId,
    pub seq: u64,
    pub global_seq: u64,
    pub hash: Hash32,
}

/// The result of an accepted submission (or of its retry).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Outcome {
    pub event_id: EventId,
    /// One entry per lot the event appended to, in append order.
    pub records: Vec<Appended1>,
    /// True when this answer is the original result of an earlier, identical submission.
    pub replayed: bool,
}

/// Why a submission was not appended.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("{0}")]
    Decode(#[from] DecodeError),
    #[error("{0}")]
    Invalid(#[from] FieldError),
    #[error("{0}")]
    Rule(#[from] RuleError),
    /// The signature does not verify over the body bytes.
    #[error("signature: {0}")]
    BadSignature(String),
    /// The submission is not signed, or not by a key the caller may use.
    #[error("{0}")]
    Unauthenticated(String),
    /// The signing key belongs to someone other than the authenticated caller.
    #[error("{0}")]
    PermissionDenied(String),
    /// The event id was used before with other content.
    #[error("event id {0} was already used for a different event")]
    Conflict(EventId),
    /// Part of an atomic batch in which another event failed.
    #[error("not applied: event {failed} of the atomic batch was rejected")]
    Aborted { failed: usize },
    /// Too much queued work: retry later.
    #[error("the ledger is overloaded ({0}); retry later")]
    Overloaded(String),
    /// The engine cannot write (stopped, or a storage failure made it stop).
    #[error("ledger unavailable: {0}")]
    Unavailable(String),
}

/// Errors opening or checking a store.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("store is inconsistent at global sequence {global_seq}: {reason}")]
    Inconsistent { global_seq: u64, reason: String },
}

/// A stored record read back: decoded, its exact bytes, and their hash.
#[derive(Clone, Debug)]
pub struct StoredRecord {
    pub record: Record,
    pub bytes: Arc<[u8]>,
    pub hash: Hash32,
}

/// A durable record as announced to watchers.
#[derive(Clone, Debug)]
pub struct Committed {
    pub lot: LotId,
    pub seq: u64,
    pub global_seq: u64,
    pub hash: Hash32,
    pub bytes: Arc<[u8]>,
}

/// Called by the committer after each durable group, in commit order. Must not block.
pub type Observer = Box<dyn Fn(&[Committed]) + Send + Sync>;

type Reply = Box<dyn FnOnce(Vec<Result<Outcome, SubmitError>>) + Send>;

struct Prepared {
    body: EventBody,
    bytes: Vec<u8>,
    body_hash: Hash32,
    signature: Option<Signature>,
    /// The authenticated caller, checked again against the registry as staged at commit time.
    caller: Option<ParticipantId>,
}

struct Request {
    items: Vec<Result<Prepared, SubmitError>>,
    atomic: bool,
    reply: Reply,
}

/// What opening a store found.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenReport {
    pub records: u64,
    pub lots: usize,
    pub submissions: u64,
}

struct Shared {
    store: Arc<dyn Store>,
    state: RwLock<LedgerState>,
    poisoned: Mutex<Option<String>>,
    observer: Option<Observer>,
}

/// The handle: cheap to share behind an `Arc`; dropping the last one drains and stops the committer.
pub struct Engine {
    shared: Arc<Shared>,
    tx: Mutex<Option<SyncSender<Request>>>,
    committer: Mutex<Option<JoinHandle<()>>>,
    report: OpenReport,
}

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
            let fail = |reason: String| EngineError::Inconsistent {
                global_seq: gseq,
                reason,
            };
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
            return Err(EngineError::Inconsistent {
                global_seq: 0,
                reason: format!(
                    "lot index of {} does not end at its head (seq {} {})",
                    lot.id,
                    lot.head_seq(),
                    lot.head
                ),
            });
        }
    }
    let idem = store.idempotency_count()?;
    if idem != report.submissions {
        return Err(EngineError::Inconsistent {
            global_seq: 0,
            reason: format!(
                "{idem} idempotency entries for {} submissions",
                report.submissions
            ),
        });
    }
    report.lots = state.lot_count();
    Ok((state, report))
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
        let (state, report) = replay_store(&*store)?;
        let shared = Arc::new(Shared {
            store,
            state: RwLock::new(state),
            poisoned: Mutex::new(None),
            observer,
        });
        let (tx, rx) = sync_channel::<Request>(queue_depth);
        let s2 = shared.clone();
        let committer = std::thread::Builder::new()
            .name("ree-committer".into())
            .spawn(move || committer_loop(&s2, rx))
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
        if subs.len() > MAX_BATCH {
            let n = subs.len();
            let err = SubmitError::Invalid(FieldError::new(
                "events",
                format!("{n} events in one batch, at most {MAX_BATCH}"),
            ));
            reply(vec![Err(err); n]);
            return;
        }
        let registry = self.registry();
        let mut items: Vec<Result<Prepared, SubmitError>> = subs
            .into_iter()
            .map(|s| prepare(s, now, registry.as_deref()))
            .collect();
        check_signatures(&mut items, registry.as_deref());
        // Two events of one request with the same id: the later one is refused outright.
        let mut seen = HashMap::new();
        let mut charged = HashMap::new();
        for (i, it) in items.iter_mut().enumerate() {
            if let Ok(p) = it {
                if let Some(first) = seen.insert(p.body.event_id, i) {
                    *it = Err(SubmitError::Invalid(FieldError::new(
                        format!("events[{i}].event_id"),
                        format!("repeats the event id of events[{first}]"),
                    )));
                    continue;
                }
                // A separation (an atomic batch) charges each input once.
                if let (true, ree_core::event::EventKind::InputCharged(c)) = (atomic, &p.body.kind)
                {
                    if let Some(first) = charged.insert((c.campaign, c.input), i) {
                        *it = Err(SubmitError::Invalid(FieldError::new(
                            format!("events[{i}].input_charged.input_lot_id"),
                            format!("lot {} is already charged into this campaign by events[{first}] of the same separation", c.input),
                        )));
                    }
                }
            }
        }
        if atomic {
            if let Some(bad) = items.iter().position(|r| r.is_err()) {
                let out = items
                    .into_iter()
                    .map(|r| match r {
                        Err(e) => Err(e),
                        Ok(_) => Err(SubmitError::Aborted { failed: bad }),
                    })
                    .collect();
                reply(out);
                return;
            }
        }
        if let Some(p) = self
            .shared
            .poisoned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            let n = items.len();
            reply(vec![Err(SubmitError::Unavailable(p)); n]);
            return;
        }
        let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tx) = guard.as_ref() else {
            let n = items.len();
            reply(vec![
                Err(SubmitError::Unavailable("shutting down".into()));
                n
            ]);
            return;
        };
        match tx.try_send(Request {
            items,
            atomic,
            reply,
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(req)) => {
                let n = req.items.len();
                (req.reply)(vec![
                    Err(SubmitError::Overloaded(
                        "the commit queue is full".to_string()
                    ));
                    n
                ]);
            }
            Err(TrySendError::Disconnected(req)) => {
                let n = req.items.len();
                (req.reply)(vec![
                    Err(SubmitError::Unavailable(
                        "committer stopped".into()
                    ));
                    n
                ]);
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
        use ree_core::state::LotView;
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
                let rec = Record::decode(&bytes).map_err(|e| EngineError::Inconsistent {
                    global_seq: 0,
                    reason: format!("lot {lot} seq {seq}: {e}"),
                })?;
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
        use ree_core::state::LotView;
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

    /// Store size on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.shared.store.size_on_disk()
    }

    /// The participant registry as committed (None before the first administrator).
    pub fn registry(&self) -> Option<Arc<Registry>> {
        use ree_core::state::LotView;
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

fn prepare(
    s: Submission,
    now: UtcMicros,
    registry: Option<&Registry>,
) -> Result<Prepared, SubmitError> {
    if s.body.len() > ree_core::record::MAX_BODY_LEN {
        return Err(FieldError::new(
            "body",
            format!(
                "{} bytes, at most {}",
                s.body.len(),
                ree_core::record::MAX_BODY_LEN
            ),
        )
        .into());
    }
    let body = EventBody::decode(&s.body)?;
    body.validate(now)?;
    let Some(sig) = &s.signature else {
        return Err(SubmitError::Unauthenticated(
            "the event is not signed: sign the body bytes with your key (ree submit --key)".into(),
        ));
    };
    // The signature itself is checked by `check_signatures`, batched over the request.
    // A key belongs to one participant forever, so this check cannot race a registry change;
    // whether the key is still valid is checked again, in order, by the rules.
    if let Some(reg) = registry {
        key_bound_to_caller(reg, &sig.public_key, s.caller)?;
    }
    let body_hash = Hash32(*blake3::hash(&s.body).as_bytes());
    Ok(Prepared {
        body,
        bytes: s.body,
        body_hash,
        signature: s.signature,
        caller: s.caller,
    })
}

/// The signing key, if registered, must belong to the authenticated caller. Checked early
/// against the committed registry and again in the committer against the registry as staged
/// (a key registered earlier in the same batch or group is then known too).
fn key_bound_to_caller(
    reg: &Registry,
    key: &[u8; 32],
    caller: Option<ParticipantId>,
) -> Result<(), SubmitError> {
    if let (Some(caller), Some(k)) = (caller, reg.key(key)) {
        if k.participant != caller {
            return Err(SubmitError::PermissionDenied(format!(
                "the event is signed with a key of participant {}, but the credential is participant {caller}'s",
                k.participant
            )));
        }
    }
    Ok(())
}

/// [`key_bound_to_caller`] against a staged view.
fn staged_binding(view: &dyn ree_core::state::LotView, p: &Prepared) -> Result<(), SubmitError> {
    match (ree_core::state::registry(view), &p.signature) {
        (Some(reg), Some(sig)) => key_bound_to_caller(reg, &sig.public_key, p.caller),
        _ => Ok(()),
    }
}

/// Checks the signatures of every prepared submission of a request at once (batch verification,
/// on the caller's thread so that requests verify in parallel), with the registry's decompressed
/// keys; a bad one turns its item into `BadSignature`.
fn check_signatures(items: &mut [Result<Prepared, SubmitError>], registry: Option<&Registry>) {
    let cached = |k: &[u8; 32]| registry.and_then(|r| r.key(k)).and_then(|s| s.verifying);
    let (idx, refs): (Vec<usize>, Vec<(&[u8], &Signature)>) = items
        .iter()
        .enumerate()
        .filter_map(|(i, it)| match it {
            Ok(p) => p.signature.as_ref().map(|s| (i, (p.bytes.as_slice(), s))),
            Err(_) => None,
        })
        .unzip();
    let bad = ree_core::record::bad_signatures(&refs, &cached);
    for (j, why) in bad {
        items[idx[j]] = Err(SubmitError::BadSignature(why));
    }
}

fn outcome_of(event_id: EventId, appended: &[Appended], replayed: bool) -> Outcome {
    Outcome {
        event_id,
        records: appended
            .iter()
            .map(|a| Appended1 {
                lot: a.record.lot,
                seq: a.record.seq,
                global_seq: a.record.global_seq,
                hash: a.hash,
            })
            .collect(),
        replayed,
    }
}

/// The original result of an already-stored submission, read back from its records.
fn stored_outcome(
    store: &dyn Store,
    id: EventId,
    e: &IdempotencyEntry,
) -> Result<Outcome, SubmitError> {
    let mut records = Vec::new();
    for g in e.first_global_seq..e.first_global_seq + e.count as u64 {
        let bytes = store
            .record(g)
            .map_err(|e| SubmitError::Unavailable(e.to_string()))?
            .ok_or_else(|| {
                SubmitError::Unavailable(format!(
                    "idempotency entry of {id} names missing record {g}"
                ))
            })?;
        let rec = Record::decode(&bytes).map_err(|e| SubmitError::Unavailable(e.to_string()))?;
        records.push(Appended1 {
            lot: rec.lot,
            seq: rec.seq,
            global_seq: g,
            hash: ree_core::record::record_hash(&bytes),
        });
    }
    Ok(Outcome {
        event_id: id,
        records,
        replayed: true,
    })
}

fn committer_loop(shared: &Shared, rx: Receiver<Request>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        let mut n: usize = group[0].items.len();
        while n < MAX_GROUP_RECORDS / 2 {
            match rx.try_recv() {
                Ok(r) => {
                    n += r.items.len();
                    group.push(r);
                }
                Err(_) => break,
            }
        }
        commit_group(shared, group);
    }
}

/// What the committer decided for one submission before the group is durable.
enum Decision {
    Done(Result<Outcome, SubmitError>),
    /// Accepted in this group: durable once the append returns.
    Pending(Outcome),
}

fn commit_group(shared: &Shared, group: Vec<Request>) {
    let now = now_utc();
    let mut batch = Batch::default();
    let mut committed: Vec<Committed> = Vec::new();
    let mut decisions: Vec<(Vec<Decision>, Reply)> = Vec::with_capacity(group.len());
    let changes = {
        let state = shared.state.read().unwrap_or_else(|e| e.into_inner());
        let mut staged = Staged::new(&*state, state.next_global_seq());
        // Ids accepted in this group, for retries arriving in the same group.
        let mut in_group: HashMap<EventId, (Hash32, Outcome)> = HashMap::new();
        for req in group {
            let mut ds: Vec<Decision> = Vec::with_capacity(req.items.len());
            let mut layer = Staged::new(&staged, staged.next_global_seq());
            let mut layer_batch: Vec<(Prepared, Vec<Appended>)> = Vec::new();
            let mut failed_at: Option<usize> = None;
            for (i, item) in req.items.into_iter().enumerate() {
                let p = match item {
                    Ok(p) => p,
                    Err(e) => {
                        ds.push(Decision::Done(Err(e)));
                        continue;
                    }
                };
                // Idempotency: this group first, then the durable index.
                let id = p.body.event_id;
                let known = match in_group.get(&id) {
                    Some((h, o)) => Some(if *h == p.body_hash {
                        Ok(Outcome {
                            replayed: true,
                            ..o.clone()
                        })
                    } else {
                        Err(SubmitError::Conflict(id))
                    }),
                    None => match shared.store.idempotency(id) {
                        Err(e) => Some(Err(SubmitError::Unavailable(e.to_string()))),
                        Ok(Some(entry)) if entry.body_hash == p.body_hash => {
                            Some(stored_outcome(&*shared.store, id, &entry))
                        }
                        Ok(Some(_)) => Some(Err(SubmitError::Conflict(id))),
                        Ok(None) => None,
                    },
                };
                if let Some(r) = known {
                    if req.atomic && r.is_err() {
                        failed_at.get_or_insert(i);
                    }
                    ds.push(Decision::Done(r));
                    continue;
                }
                let res = if let Err(e) = staged_binding(&layer, &p) {
                    Err(e)
                } else if req.atomic {
                    layer
                        .append(&p.bytes, &p.body, p.signature, now)
                        .map_err(Into::into)
                } else {
                    // Per-event: a rejected event must leave no trace, so stage it alone.
                    let mut one = Staged::new(&layer, layer.next_global_seq());
                    let r = one.append(&p.bytes, &p.body, p.signature, now);
                    if r.is_ok() {
                        let c = one.into_changes();
                        layer.absorb(c);
                    }
                    r.map_err(Into::into)
                };
                match res {
                    Ok(app) => {
                        let o = outcome_of(id, &app, false);
                        in_group.insert(id, (p.body_hash, o.clone()));
                        ds.push(Decision::Pending(o));
                        layer_batch.push((p, app));
                    }
                    Err(e) => {
                        if req.atomic {
                            failed_at.get_or_insert(i);
                        }
                        ds.push(Decision::Done(Err(e)));
                    }
                }
            }
            if let (true, Some(bad)) = (req.atomic, failed_at) {
                // Nothing of an atomic batch with a failure is kept.
                drop(layer);
                for d in ds.iter_mut() {
                    if let Decision::Pending(o) = d {
                        in_group.remove(&o.event_id);
                        *d = Decision::Done(Err(SubmitError::Aborted { failed: bad }));
                    }
                }
            } else {
                let c = layer.into_changes();
                staged.absorb(c);
                for (p, app) in layer_batch {
                    batch.idempotency.push((
                        p.body.event_id,
                        IdempotencyEntry {
                            body_hash: p.body_hash,
                            first_global_seq: app[0].record.global_seq,
                            count: app.len() as u8,
                        },
                    ));
                    for a in app {
                        let bytes: Arc<[u8]> = Arc::from(a.bytes.as_slice());
                        committed.push(Committed {
                            lot: a.record.lot,
                            seq: a.record.seq,
                            global_seq: a.record.global_seq,
                            hash: a.hash,
                            bytes,
                        });
                        batch.records.push(NewRecord {
                            global_seq: a.record.global_seq,
                            lot: a.record.lot,
                            seq: a.record.seq,
                            bytes: a.bytes,
                        });
                    }
                }
            }
            decisions.push((ds, req.reply));
        }
        staged.into_changes()
    };
    let write = if batch.records.is_empty() {
        Ok(())
    } else {
        shared.store.append(&batch)
    };
    match write {
        Ok(()) => {
            if !batch.records.is_empty() {
                shared
                    .state
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .commit(changes);
                if let Some(obs) = &shared.observer {
                    obs(&committed);
                }
            }
            for (ds, reply) in decisions {
                reply(
                    ds.into_iter()
                        .map(|d| match d {
                            Decision::Done(r) => r,
                            Decision::Pending(o) => Ok(o),
                        })
                        .collect(),
                );
            }
        }
        Err(e) => {
            // The store may or may not hold the group; the in-memory state no longer knows.
            // Stop writing rather than risk a fork: a restart replays what is on disk.
            let msg = format!("storage failure, writes stopped until restart: {e}");
            tracing::error!("{msg}");
            *shared.poisoned.lock().unwrap_or_else(|e| e.into_inner()) = Some(msg.clone());
            for (ds, reply) in decisions {
                reply(
                    ds.into_iter()
                        .map(|d| match d {
                            Decision::Done(r) => r,
                            Decision::Pending(_) => Err(SubmitError::Unavailable(msg.clone())),
                        })
                        .collect(),
                );
            }
        }
    }
}

/// The server's clock as UTC microseconds.
pub fn now_utc() -> UtcMicros {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    UtcMicros(d.as_micros().min(i64::MAX as u128) as i64)
}
