//! The offline verifier: replays a proof bundle from its bytes and judges it against a policy.
//!
//! Two separate questions, answered separately:
//! 1. **Authentic?** Every record decodes, every hash is recomputed from the stored bytes, every
//!    chain runs from its genesis with consecutive sequence numbers and previous-hash links, every
//!    cross-lot link names exactly the counterpart's record, every domain rule holds on replay, and
//!    the bundle ends at the head it claims. Any failure is an [`IntegrityError`] (`replay.rs`).
//! 2. **Compliant?** The attribution recomputed from the replay is held against the [`Policy`];
//!    each breach is a [`Violation`] naming the lot that causes it (`policy.rs`).
//!
//! Bundles of versions 3 and 4 also carry the log's checkpoint and inclusion proofs (`logproof.rs`).
//! The answer is a [`Report`] (`report.rs`). Depends on `ree-core` and the pure `ree-tlog` only (the same rules code the
//! ledger runs), never on the network, the database or an async runtime. Nothing here panics on
//! input.
#![forbid(unsafe_code)]

pub mod audit;
pub mod crma;
pub mod logproof;
pub mod policy;
mod replay;
mod report;
mod sites;

use std::collections::{BTreeMap, BTreeSet};

use ree_core::provenance::Provenance;
use ree_core::registry::REGISTRY_LOT;
use ree_core::state::{registry, LotDetail, LotView};
use ree_core::{Hash32, LedgerState, LotId, ParticipantId};

pub use policy::{Policy, RequiredClaim};
pub use replay::{replay, replay_then, IntegrityError, Replayed};
pub use report::{render, Report, SignerSummary, UpstreamLot, Violation};

/// Verifies a bundle and judges it against `policy`. Never panics, whatever the bytes.
pub fn verify(bytes: &[u8], policy: &Policy, expect_head: Option<Hash32>) -> Report {
    let (inner, log) = match logproof::split(bytes) {
        Ok(x) => x,
        Err(e) => return Report::not_authentic(e),
    };
    let judged = replay_then(inner, expect_head, &policy.trusted_administrators, |r| {
        judge(r, log.as_ref(), policy)
    });
    match judged {
        Ok((_, report)) => report,
        Err(e) => Report::not_authentic(e),
    }
}

/// The log's proofs, then the report on a replayed bundle (run while its signatures are still
/// being checked: `replay_then`).
fn judge(r: &Replayed, log: Option<&logproof::LogSection>, policy: &Policy) -> Report {
    let (checkpoint, inclusion_verified) = match logproof::check(
        log,
        &r.records,
        &policy.log_vkeys,
        &policy.witness_vkeys,
        policy.quorum(),
    ) {
        Ok(x) => x,
        Err(e) => return Report::not_authentic(e),
    };
    let subject_id = r.bundle.lot;
    let Some(subject) = r.state.lot(&subject_id) else {
        return Report::not_authentic(IntegrityError("subject lot vanished".into()));
    };
    let prov = Provenance::of(subject);
    let lots: BTreeSet<LotId> = r
        .records
        .iter()
        .map(|(rec, _)| rec.lot)
        .filter(|l| *l != REGISTRY_LOT)
        .collect();
    let mut violations: Vec<Violation> = lots
        .iter()
        .filter_map(|id| r.state.lot(id))
        .flat_map(|l| {
            let mut v = policy::lot_violations(policy, l, subject_id);
            v.extend(sites::site_violations(
                policy,
                l,
                ree_core::state::registry(&r.state),
            ));
            v
        })
        .collect();
    let (registry_head, registry_head_seq) = r
        .state
        .lot(&REGISTRY_LOT)
        .map(|l| (l.head.to_hex(), l.head_seq()))
        .unwrap_or_default();
    let claim = prov.claim_by(&policy.claim_rule());
    let rs = prov.recycled_share();
    let shares = prov.origin_shares();
    violations.extend(policy::provenance_violations(
        policy, &prov, claim, &rs, &shares, subject_id,
    ));
    Report {
        authentic: true,
        compliant: violations.is_empty(),
        lot: subject_id.to_string(),
        head: r.bundle.head.to_hex(),
        head_seq: r.bundle.head_seq,
        events_verified: r.records.len() as u64,
        lots_verified: lots.len() + 1,
        signatures_verified: r
            .records
            .iter()
            .filter(|(rec, _)| rec.signature.is_some())
            .count() as u64,
        signers: signer_summaries(&r.state, &r.signers),
        registry_founder: Hash32(r.founder).to_hex(),
        registry_head,
        registry_head_seq,
        registry_withheld: r.bundle.withheld.len() as u64,
        registry_trusted: policy.trusted_administrators.contains(&r.founder),
        claim: claim.name().into(),
        basis: prov.basis.name().into(),
        attributed_g: prov.total_g(),
        origin_shares: shares.iter().map(|(c, s)| (c.to_string(), *s)).collect(),
        element_origin_shares: prov
            .element_origin_shares()
            .into_iter()
            .map(|(e, m)| {
                (
                    e.symbol().to_string(),
                    m.into_iter().map(|(c, s)| (c.to_string(), s)).collect(),
                )
            })
            .collect(),
        recycled_share: rs.total,
        recycled_share_pre_consumer: rs.pre_consumer,
        recycled_share_post_consumer: rs.post_consumer,
        facilities: prov
            .facilities
            .iter()
            .map(|(n, c)| (n.to_string(), c.to_string()))
            .collect(),
        upstream_lots: upstream_lots(&r.state, &lots, subject_id),
        crma: crma::report_crma(&r.state, &prov, subject, &lots),
        violations,
        integrity_error: None,
        checkpoint,
        inclusion_verified,
    }
}

/// Who signed, with how many records, as the replayed registry names them.
fn signer_summaries(state: &LedgerState, signers: &[ParticipantId]) -> Vec<SignerSummary> {
    let reg = registry(state);
    let mut by_signer: BTreeMap<ParticipantId, u64> = BTreeMap::new();
    for p in signers {
        *by_signer.entry(*p).or_default() += 1;
    }
    by_signer
        .into_iter()
        .map(|(id, n)| {
            let p = reg.and_then(|g| g.participant(&id));
            SignerSummary {
                participant: id.to_string(),
                name: p.map(|p| p.name.to_string()).unwrap_or_default(),
                role: p.map(|p| p.role.name().to_string()).unwrap_or_default(),
                records: n,
            }
        })
        .collect()
}

/// The report's line for each lot of the bundle but the subject.
fn upstream_lots(state: &LedgerState, lots: &BTreeSet<LotId>, subject: LotId) -> Vec<UpstreamLot> {
    let mut upstream = Vec::new();
    for id in lots.iter().filter(|id| **id != subject) {
        let Some(l) = state.lot(id) else { continue };
        let src = l.source();
        let (adjustments, attestations) = audit::lines(l);
        let facility_country = match &l.detail {
            LotDetail::Campaign(c) => Some(c.country),
            _ => None,
        };
        upstream.push(UpstreamLot {
            lot: id.to_string(),
            kind: l.kind().name().into(),
            country: src
                .map(|s| s.country.to_string())
                .or(facility_country.map(|c| c.to_string()))
                .unwrap_or_default(),
            feed: src.map(|s| s.feed.name().to_string()).unwrap_or_default(),
            events: l.next_seq,
            adjustments,
            attestations,
            reassay_flags: crma::reassay_lines(l),
        });
    }
    upstream
}
