//! What auditors vouched for upstream: each lot's adjustments and attestations as the bundle
//! carries them, and the policy keys `max_adjustment_gain_share` and `require_attestation`.
//!
//! An attestation counts for `require_attestation` when it is in the bundle (recorded on the
//! lot's chain before the subject's head committed to that lot) and its validity period covers
//! the lot's receipt (`occurred_at` of its genesis): the verdict depends on the bundle only,
//! never on the day it is verified.

use std::collections::BTreeMap;

use ree_core::event::AttestationKind;
use ree_core::state::{LotKind, LotState};
use serde::Serialize;

use crate::report::Violation;

/// One adjustment of a lot, as reported.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AdjustmentLine {
    pub seq: u64,
    pub delta_g: i64,
    pub reason: String,
    /// The countersigning auditor's participant id (every gain has one).
    pub countersigned_by: Option<String>,
}

/// One attestation of a lot, as reported.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AttestationLine {
    pub seq: u64,
    pub auditor: String,
    pub kind: String,
    pub method: Option<String>,
    pub event: Option<String>,
    pub evidence: String,
    pub valid_from: String,
    pub valid_until: String,
    /// Whether its validity period covers the lot's receipt.
    pub valid_at_receipt: bool,
}

/// The report's lines for a lot's audit trail.
pub(crate) fn lines(l: &LotState) -> (Vec<AdjustmentLine>, Vec<AttestationLine>) {
    let adj = l
        .audit
        .adjustments
        .iter()
        .map(|a| AdjustmentLine {
            seq: a.seq,
            delta_g: a.delta_g,
            reason: a.reason.to_string(),
            countersigned_by: a.countersigned_by.map(|p| p.to_string()),
        })
        .collect();
    let att = l
        .audit
        .attestations
        .iter()
        .map(|a| AttestationLine {
            seq: a.seq,
            auditor: a.auditor.to_string(),
            kind: a.kind.name().into(),
            method: a.method.map(|m| m.name().into()),
            event: a.event.map(|h| h.to_hex()),
            evidence: a.evidence.to_hex(),
            valid_from: a.valid_from.to_string(),
            valid_until: a.valid_until.to_string(),
            valid_at_receipt: a.valid_at(l.created_at),
        })
        .collect();
    (adj, att)
}

/// The audit part of a policy.
#[derive(Clone, Debug, Default)]
pub struct AuditPolicy {
    /// Cap on a lot's cumulative stock-count gains, as a share of its received mass (the ledger
    /// itself caps them at 2%).
    pub max_adjustment_gain_share: Option<f64>,
    /// Per lot kind, the attestation kinds each upstream lot of that kind must carry.
    pub require_attestation: BTreeMap<LotKind, Vec<AttestationKind>>,
}

impl AuditPolicy {
    /// From the policy file's keys.
    pub(crate) fn parse(
        max: Option<f64>,
        require: Option<BTreeMap<String, Vec<String>>>,
    ) -> Result<AuditPolicy, String> {
        let mut p = AuditPolicy::default();
        if let Some(x) = max {
            if !(0.0..=1.0).contains(&x) {
                return Err(format!(
                    "max_adjustment_gain_share: {x} is not a share between 0 and 1"
                ));
            }
            p.max_adjustment_gain_share = Some(x);
        }
        for (kind, v) in require.unwrap_or_default() {
            let k = LotKind::parse(&kind).ok_or_else(|| {
                format!("require_attestation: {kind:?} is not a lot kind (ore, recycled, campaign, oxide)")
            })?;
            let kinds = v
                .iter()
                .map(|a| {
                    AttestationKind::parse(a).ok_or_else(|| format!("require_attestation.{kind}: {a:?} is not origin_verified, mass_verified or scrap_class_verified"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            p.require_attestation.insert(k, kinds);
        }
        Ok(p)
    }

    /// The breaches one lot of the bundle causes.
    pub(crate) fn violations(&self, l: &LotState) -> Vec<Violation> {
        let mut out = Vec::new();
        let id = l.id;
        if let Some(max) = self.max_adjustment_gain_share {
            let gains = l.audit.gains_g;
            let share = if l.received_g == 0 {
                0.0
            } else {
                gains as f64 / l.received_g as f64
            };
            if gains > 0 && share > max + 1e-12 {
                let last = l.audit.adjustments.iter().rev().find(|a| a.delta_g > 0);
                out.push(Violation {
                    rule: "max_adjustment_gain_share".into(),
                    lot: id.to_string(),
                    seq: last.map(|a| a.seq),
                    message: format!(
                        "{} lot {id} gained {gains} g by adjustments, {:.3}% of the {} g received, above the {:.3}% allowed",
                        l.kind().name(),
                        share * 100.0,
                        l.received_g,
                        max * 100.0
                    ),
                });
            }
        }
        for k in self
            .require_attestation
            .get(&l.kind())
            .into_iter()
            .flatten()
        {
            let ok = l
                .audit
                .attestations
                .iter()
                .any(|a| a.kind == *k && a.valid_at(l.created_at));
            if !ok {
                out.push(Violation {
                    rule: "require_attestation".into(),
                    lot: id.to_string(),
                    seq: Some(0),
                    message: format!(
                        "{} lot {id} carries no {} attestation valid at its receipt ({})",
                        l.kind().name(),
                        k.name(),
                        l.created_at
                    ),
                });
            }
        }
        out
    }
}
