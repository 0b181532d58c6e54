//! The policy's rules on a source lot's site and assays: `require_certified_sites` (the lot's
//! registered site held a certificate of one of the schemes, valid at the receipt's date),
//! `require_lab_assays` (every charge of the lot used a laboratory's assay) and
//! `max_reassay_shift_ppm` (no re-assay moved an element by more than this).

use ree_core::registry::Registry;
use ree_core::state::{AssayBy, LotState};

use crate::policy::Policy;
use crate::report::Violation;

/// Breaches of the site and assay rules by one upstream source lot.
pub(crate) fn site_violations(
    policy: &Policy,
    l: &LotState,
    registry: Option<&Registry>,
) -> Vec<Violation> {
    let Some(src) = l.source_lot() else {
        return vec![];
    };
    let id = l.id;
    let kind = l.kind().name();
    let mut out = vec![];
    let mut v = |rule: &str, seq: u64, message: String| {
        out.push(Violation {
            rule: rule.into(),
            lot: id.to_string(),
            seq: Some(seq),
            message,
        })
    };
    if !policy.require_certified_sites.is_empty() {
        let at = l.created_at;
        let site = registry.and_then(|r| r.facility(&src.facility));
        let ok = site.is_some_and(|f| {
            policy
                .require_certified_sites
                .iter()
                .any(|s| f.certified(s, at))
        });
        if !ok {
            let name = site.map_or_else(|| "an unknown site".into(), |f| f.name.to_string());
            v(
                "require_certified_sites",
                0,
                format!(
                    "{kind} lot {id} was received at {name} ({}), which held no valid {} certificate at {at}",
                    src.facility,
                    policy.require_certified_sites.join(" or ")
                ),
            );
        }
    }
    if policy.require_lab_assays {
        let used: Vec<usize> = if src.charges.is_empty() {
            vec![src.assays.len().saturating_sub(1)]
        } else {
            src.charges.iter().map(|c| c.assay).collect()
        };
        let declared = used
            .iter()
            .any(|i| src.assays.get(*i).is_none_or(|a| a.by == AssayBy::Declared));
        if declared {
            v(
                "require_lab_assays",
                0,
                format!("{kind} lot {id} was charged (or stands) on its owner's declared assay, not a laboratory's"),
            );
        }
    }
    for a in src.assays.iter() {
        if a.shift_ppm > policy.max_reassay_shift_ppm {
            v(
                "max_reassay_shift_ppm",
                a.seq,
                format!(
                    "{kind} lot {id}: the re-assay at seq {} moved an element by {} ppm (at most {} allowed)",
                    a.seq, a.shift_ppm, policy.max_reassay_shift_ppm
                ),
            );
        }
    }
    out
}
