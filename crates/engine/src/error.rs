//! The engine's two error types: why one submission was refused, and why a store cannot be served.

use ree_core::error::{DecodeError, FieldError, RuleError};
use ree_core::EventId;
use ree_store::StoreError;

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
