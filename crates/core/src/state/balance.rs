//! Checked arithmetic on grams: no sum wraps, no balance goes below zero.

use crate::error::RuleError;
use crate::ids::LotId;

pub(super) fn add(lot: LotId, a: u64, b: u64) -> Result<u64, RuleError> {
    a.checked_add(b)
        .ok_or_else(|| RuleError::violation(lot, "mass total overflows"))
}

pub(super) fn debit(lot: LotId, balance: u64, g: u64, what: &str) -> Result<u64, RuleError> {
    balance.checked_sub(g).ok_or_else(|| {
        RuleError::violation(
            lot,
            format!("{what} of {g} g exceeds the balance of {balance} g"),
        )
    })
}
