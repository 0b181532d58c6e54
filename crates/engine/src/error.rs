//! The engine's two error types: why one submission was refused, and why a store cannot be served.

use ree_core::error::{DecodeError, FieldError, RuleError};
use ree_core::{EventId, LotId};
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
    /// `global_seq` is the record where the damage was found; `None` when it is not one record
    /// (an index, a count, a backup's framing).
    #[error("store is inconsistent{}: {reason}", at_global_seq(.global_seq))]
    Inconsistent {
        global_seq: Option<u64>,
        reason: String,
    },
}

fn at_global_seq(global_seq: &Option<u64>) -> String {
    global_seq.map_or(String::new(), |g| format!(" at global sequence {g}"))
}

impl EngineError {
    /// Damage found at one record.
    pub(crate) fn at(global_seq: u64, reason: impl Into<String>) -> EngineError {
        EngineError::Inconsistent {
            global_seq: Some(global_seq),
            reason: reason.into(),
        }
    }

    /// Damage not tied to one record.
    pub(crate) fn inconsistent(reason: impl Into<String>) -> EngineError {
        EngineError::Inconsistent {
            global_seq: None,
            reason: reason.into(),
        }
    }

    /// A stored record of a lot that does not decode.
    pub(crate) fn undecodable(lot: LotId, seq: u64, error: impl std::fmt::Display) -> EngineError {
        EngineError::inconsistent(format!("lot {lot} seq {seq}: {error}"))
    }
}
