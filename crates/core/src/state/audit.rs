//! What auditors vouch for on a lot: its adjustments (gains countersigned and capped) and its
//! attestations. Kept in the lot's state so that provenance and the verifier list them, and so
//! that the cap on gains is a ledger rule that holds in the engine and in `ree-verify` alike.

use std::sync::Arc;

use super::lot::{registry, LotKind, LotState, LotView};
use crate::element::PPM;
use crate::error::RuleError;
use crate::event::{
    countersignature_message, Adjustment, Attestation, AttestationKind, EventBody, OriginMethod,
    Role,
};
use crate::ids::{Hash32, ParticipantId};
use crate::registry::{Registry, SignerError};
use crate::time::UtcMicros;

/// The default cap on a lot's cumulative stock-count gains: 2% of its received mass.
pub const MAX_GAIN_SHARE_PPM: u64 = 20_000;

/// One adjustment as recorded on a lot.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AdjustmentEntry {
    /// Sequence number of its record on the lot's chain.
    pub seq: u64,
    pub hash: Hash32,
    pub occurred_at: UtcMicros,
    pub delta_g: i64,
    pub reason: Arc<str>,
    /// The auditor whose countersignature it carries (every gain has one).
    pub countersigned_by: Option<ParticipantId>,
}

/// One attestation as recorded on a lot.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AttestationEntry {
    pub seq: u64,
    pub hash: Hash32,
    pub auditor: ParticipantId,
    pub kind: AttestationKind,
    pub method: Option<OriginMethod>,
    pub event: Option<Hash32>,
    pub evidence: Hash32,
    pub valid_from: UtcMicros,
    pub valid_until: UtcMicros,
}

impl AttestationEntry {
    /// Whether its validity period covers `t`.
    pub fn valid_at(&self, t: UtcMicros) -> bool {
        self.valid_from.0 <= t.0 && t.0 <= self.valid_until.0
    }
}

/// A lot's audit trail.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Audit {
    /// Sum of the lot's positive adjustments, in grams.
    pub gains_g: u64,
    pub adjustments: super::History<AdjustmentEntry>,
    pub attestations: super::History<AttestationEntry>,
    /// Record hashes an attestation may name: the lot's genesis, assays and adjustments (the
    /// facts an auditor checks), not every record (a campaign's charges stay out of the state).
    pub attestable: super::History<Hash32>,
}

/// The countersignature of a gain: present, by a key registered to an active auditor at this
/// point of history, valid over [`countersignature_message`]. Returns the auditor.
fn countersigner(
    view: &dyn LotView,
    st: &LotState,
    body: &EventBody,
    a: &Adjustment,
) -> Result<ParticipantId, RuleError> {
    let field = "adjustment.countersignature";
    let Some(c) = &a.countersignature else {
        return Err(RuleError::violation(st.id, format!("{field}: a positive adjustment (stock-count gain) needs an auditor's countersignature")));
    };
    let reg: Option<&Registry> = registry(view);
    let p = reg
        .ok_or_else(|| RuleError::violation(st.id, format!("{field}: no registry")))?
        .signer(&c.public_key)
        .map_err(|e| {
            let (SignerError::Unauthenticated(m) | SignerError::Suspended(m)) = e;
            RuleError::violation(st.id, format!("{field}: {m}"))
        })?;
    if p.role != Role::Auditor {
        return Err(RuleError::violation(
            st.id,
            format!(
                "{field}: key of {}, {}, not an auditor",
                p.name,
                p.role.name()
            ),
        ));
    }
    let msg = countersignature_message(body)
        .map_err(|e| RuleError::violation(st.id, format!("{field}: {e}")))?;
    crate::signature::Verifier::new(&c.public_key)
        .and_then(|v| v.verify(&msg, &c.signature))
        .map_err(|e| RuleError::violation(st.id, format!("{field}: {e}")))?;
    Ok(p.id)
}

/// Checks a gain against the countersignature and the cap; returns its countersigner.
pub(super) fn check_gain(
    view: &dyn LotView,
    st: &LotState,
    body: &EventBody,
    a: &Adjustment,
) -> Result<ParticipantId, RuleError> {
    let by = countersigner(view, st, body, a)?;
    let gains = st.audit.gains_g as u128 + a.delta_g.unsigned_abs() as u128;
    if gains * PPM as u128 > st.received_g as u128 * MAX_GAIN_SHARE_PPM as u128 {
        return Err(RuleError::violation(
            st.id,
            format!(
                "adjustment.delta_g: gains would total {gains} g, over the cap of {}% of the {} g received",
                MAX_GAIN_SHARE_PPM as f64 / 10_000.0,
                st.received_g
            ),
        ));
    }
    Ok(by)
}

/// Records an accepted adjustment in the lot's audit trail.
pub(super) fn note_adjustment(
    st: &mut LotState,
    seq: u64,
    hash: Hash32,
    body: &EventBody,
    a: &Adjustment,
    by: Option<ParticipantId>,
) {
    let audit = Arc::make_mut(&mut st.audit);
    if a.delta_g > 0 {
        audit.gains_g = audit.gains_g.saturating_add(a.delta_g.unsigned_abs());
    }
    audit.adjustments.push(AdjustmentEntry {
        seq,
        hash,
        occurred_at: body.occurred_at,
        delta_g: a.delta_g,
        reason: a.reason.as_str().into(),
        countersigned_by: by,
    });
    audit.attestable.push(hash);
}

/// The rule of attestations: on a material lot (not the registry), naming, if any, one of the
/// lot's attestable records. Only auditors sign them (`registry::role_may_submit`).
pub(super) fn attest(
    st: &mut LotState,
    seq: u64,
    hash: Hash32,
    a: &Attestation,
    auditor: ParticipantId,
) -> Result<(), RuleError> {
    if st.kind() == LotKind::Registry {
        return Err(RuleError::violation(
            st.id,
            "attestation.lot_id: the registry is not a lot of material",
        ));
    }
    if let Some(e) = &a.event {
        if !st.audit.attestable.contains(e) {
            return Err(RuleError::violation(st.id, format!("attestation.event_hash: {e} is not the record hash of this lot's receipt, output, assay or adjustment")));
        }
    }
    Arc::make_mut(&mut st.audit)
        .attestations
        .push(AttestationEntry {
            seq,
            hash,
            auditor,
            kind: a.kind,
            method: a.method,
            event: a.event,
            evidence: a.evidence,
            valid_from: a.valid_from,
            valid_until: a.valid_until,
        });
    Ok(())
}
