//! Where a record sits: on a lot its body names, linked to its counterpart's head, under the
//! registry's head, and next in its lot's chain (or starting it).

use super::lot::{LotState, LotView};
use crate::error::RuleError;
use crate::event::EventBody;
use crate::ids::{Hash32, REGISTRY_LOT};
use crate::record::Record;

/// Checks the record's lot, link and registry head; returns its place among the event's lots
/// (0: the subject; 1: the linked counterpart).
pub(super) fn check_place(
    view: &dyn LotView,
    rec: &Record,
    body: &EventBody,
) -> Result<usize, RuleError> {
    let lots = body.kind.lots();
    let role = lots.iter().position(|l| *l == rec.lot).ok_or_else(|| {
        RuleError::violation(rec.lot, "record is on a lot its body does not name")
    })?;
    // The link: the second record names the first's new head, the first names nothing.
    match (role, &rec.link) {
        (0, None) => {}
        (0, Some(_)) => {
            return Err(RuleError::violation(
                rec.lot,
                "first record of an event must not carry a link",
            ))
        }
        (_, None) => {
            return Err(RuleError::violation(
                rec.lot,
                "record must link to its counterpart lot",
            ))
        }
        (_, Some(link)) => {
            if link.lot != lots[0] {
                return Err(RuleError::violation(
                    rec.lot,
                    format!(
                        "link names lot {} but the event's counterpart is {}",
                        link.lot, lots[0]
                    ),
                ));
            }
            let other = view.lot(&link.lot).ok_or(RuleError::UnknownLot(link.lot))?;
            if other.head != link.hash || other.head_seq() != link.seq || other.next_seq == 0 {
                return Err(RuleError::violation(
                    rec.lot,
                    format!(
                        "link to lot {} (seq {}, hash {}) is not that lot's head (seq {}, hash {})",
                        link.lot,
                        link.seq,
                        link.hash,
                        other.head_seq(),
                        other.head
                    ),
                ));
            }
        }
    }
    let registry_head = view.lot(&REGISTRY_LOT).map_or(Hash32::ZERO, |l| l.head);
    if rec.registry != registry_head {
        return Err(RuleError::violation(
            rec.lot,
            format!(
                "record names registry head {} but the registry's head is {registry_head}",
                rec.registry
            ),
        ));
    }
    Ok(role)
}

/// The order commitment: a body that commits to a head for this record's lot (its
/// `expected_head`, or a charge's `input_head`) must sit right after that head. Checked on every
/// record, submitted or replayed, so a rewritten order breaks the signer's signature.
pub(super) fn check_commitment(rec: &Record, body: &EventBody) -> Result<(), RuleError> {
    match body.commitment(&rec.lot) {
        Some(h) if h != rec.prev => Err(RuleError::HeadMismatch {
            lot: rec.lot,
            expected: h.to_hex(),
            actual: rec.prev.to_hex(),
        }),
        _ => Ok(()),
    }
}

/// A genesis record starts a lot that does not exist yet, at sequence 0 after a zero hash.
pub(super) fn check_genesis(prior: Option<&LotState>, rec: &Record) -> Result<(), RuleError> {
    if prior.is_some() {
        return Err(RuleError::LotExists(rec.lot));
    }
    if rec.seq != 0 || rec.prev != Hash32::ZERO {
        return Err(RuleError::violation(
            rec.lot,
            "a genesis record has sequence 0 and a zero previous hash",
        ));
    }
    Ok(())
}

/// Any other record follows its lot's head: the lot as it stands, to be changed by the rule.
pub(super) fn follow(prior: Option<&LotState>, rec: &Record) -> Result<LotState, RuleError> {
    let Some(p) = prior else {
        return Err(RuleError::UnknownLot(rec.lot));
    };
    if rec.seq != p.next_seq || rec.prev != p.head {
        return Err(RuleError::violation(
            rec.lot,
            format!(
                "chain: record seq {} prev {} does not follow head seq {} hash {}",
                rec.seq,
                rec.prev,
                p.head_seq(),
                p.head
            ),
        ));
    }
    Ok(p.clone())
}
