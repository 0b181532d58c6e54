//! Typed errors of the domain. Each names the field or the lot at fault so that the server can map
//! it to a status with a precise message.

use crate::ids::LotId;

/// Defined in a leaf module so that `ids` can use it while [`RuleError`] names lots.
pub use crate::field_error::FieldError;

/// A well-formed event that the ledger's current state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The lot named does not exist (NOT_FOUND).
    #[error("lot {0} does not exist")]
    UnknownLot(LotId),
    /// A genesis event names a lot id already in use (ALREADY_EXISTS).
    #[error("lot {0} already exists")]
    LotExists(LotId),
    /// The submitter's expected head does not match (FAILED_PRECONDITION).
    #[error("lot {lot}: expected head {expected} but the head is {actual}")]
    HeadMismatch {
        lot: LotId,
        expected: String,
        actual: String,
    },
    /// The signer cannot be authenticated: no signature, unknown or revoked key (UNAUTHENTICATED).
    #[error("{0}")]
    Unauthenticated(String),
    /// The signer is known but may not do this (PERMISSION_DENIED).
    #[error("{0}")]
    Forbidden(String),
    /// Any other violated rule (FAILED_PRECONDITION).
    #[error("lot {lot}: {reason}")]
    Violation { lot: LotId, reason: String },
}

impl RuleError {
    /// Shorthand for a [`RuleError::Violation`].
    pub fn violation(lot: LotId, reason: impl Into<String>) -> Self {
        RuleError::Violation {
            lot,
            reason: reason.into(),
        }
    }
}

/// Bytes that do not decode as the documented layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {what} at byte {offset}: {reason}")]
pub struct DecodeError {
    /// What was being decoded (`event body`, `record`, `bundle`).
    pub what: &'static str,
    /// Offset into the input where decoding failed.
    pub offset: usize,
    /// Why.
    pub reason: String,
}

/// "a" or "an" before `word`, for messages such as "is an oxide lot" and "is an auditor".
pub fn a_or_an(word: &str) -> &'static str {
    match word.chars().next() {
        Some(c) if "aeiouAEIOU".contains(c) => "an",
        _ => "a",
    }
}

#[cfg(test)]
mod article_tests {
    #[test]
    fn articles_follow_the_first_letter() {
        assert_eq!(super::a_or_an("auditor"), "an");
        assert_eq!(super::a_or_an("oxide"), "an");
        assert_eq!(super::a_or_an("campaign"), "a");
        assert_eq!(super::a_or_an("supplier"), "a");
    }
}
