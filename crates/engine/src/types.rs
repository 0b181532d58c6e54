//! The values that cross the engine's boundary: what callers submit, what they are answered,
//! what watchers are told and what opening a store found.

use std::sync::Arc;

use ree_core::record::Signature;
use ree_core::{EventId, Hash32, LotId, ParticipantId, Record};

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

/// One record an accepted submission appended (its lot, place and hash), as answered.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AppendedRecord {
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
    pub records: Vec<AppendedRecord>,
    /// True when this answer is the original result of an earlier, identical submission.
    pub replayed: bool,
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

/// What opening a store found.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenReport {
    pub records: u64,
    pub lots: usize,
    pub submissions: u64,
}
