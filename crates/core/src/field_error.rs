//! [`FieldError`], the error of a malformed value. A leaf so that `ids` can parse into it while
//! `error`, which re-exports it, names lots in its rule errors.

/// A malformed value: which field, and why. Maps to INVALID_ARGUMENT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// Dotted path of the field, e.g. `ore_receipt.mass_g`.
    pub field: String,
    /// Human-readable reason.
    pub reason: String,
}

impl FieldError {
    /// Builds an error for `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Prefixes the field path, so nested validators can report the full path.
    pub fn at(mut self, prefix: &str) -> Self {
        self.field = if self.field.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}.{}", self.field)
        };
        self
    }
}
