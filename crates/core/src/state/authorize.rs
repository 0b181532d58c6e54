//! Who may sign a record: the registry as of the record's place in the global order decides.

use super::lot::{registry, LotView};
use crate::error::{a_or_an, RuleError};
use crate::event::{EventBody, EventKind, Role};
use crate::ids::ParticipantId;
use crate::record::Record;
use crate::registry::{role_may_submit, SignerError};

/// Who signed the record, and whether they may: the key must be registered and not revoked, its
/// participant active, its role allowed this kind of event, and a supplier or recycler may only
/// touch its own lots. Checks the registry, not the signature's cryptography: the engine checks
/// that on submission and the verifier on every record it replays.
pub(super) fn authorize(
    view: &dyn LotView,
    rec: &Record,
    body: &EventBody,
) -> Result<ParticipantId, RuleError> {
    let sig = rec
        .signature
        .as_ref()
        .ok_or_else(|| RuleError::Unauthenticated("the event is not signed".into()))?;
    let Some(reg) = registry(view) else {
        if let EventKind::ParticipantRegistered(e) = &body.kind {
            if e.role == Role::Administrator && e.public_key == sig.public_key {
                return Ok(e.participant);
            }
        }
        return Err(RuleError::Unauthenticated(
            "the ledger has no participant registry yet: its first event registers an administrator, signed by that administrator's own key".into(),
        ));
    };
    let p = reg.signer(&sig.public_key).map_err(|e| match e {
        SignerError::Unauthenticated(m) => RuleError::Unauthenticated(m),
        SignerError::Suspended(m) => RuleError::Forbidden(m),
    })?;
    if !role_may_submit(p.role, &body.kind) {
        return Err(RuleError::Forbidden(format!(
            "{} is {} {}, which may not submit {} events",
            p.name,
            a_or_an(p.role.name()),
            p.role.name(),
            body.kind.name()
        )));
    }
    if matches!(p.role, Role::Supplier | Role::Recycler) {
        if let Some(l) = view.lot(&rec.lot) {
            if l.owner != p.id {
                return Err(RuleError::Forbidden(format!(
                    "lot {} belongs to another participant; {} may append only to its own lots",
                    l.id, p.name
                )));
            }
        }
    }
    Ok(p.id)
}
