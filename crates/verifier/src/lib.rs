//! The offline verifier: replays a proof bundle from its bytes and judges it against a policy.
//!
//! Two separate questions, answered separately:
//! 1. **Authentic?** Every record decodes, every hash is recomputed from the stored bytes, every
//!    chain runs from its genesis with consecutive sequence numbers and previous-hash links, every
//!    cross-lot link names exactly the counterpart's record, every domain rule holds on replay, and
//!    the bundle ends at the head it claims. Any failure is an [`IntegrityError`].
//! 2. **Compliant?** The attribution recomputed from the replay is held against the [`Policy`];
//!    each breach is a [`Violation`] naming the lot that causes it.
//!
//! Depends on `ree-core` only (the same rules code the ledger runs), never on the network, the
//! database or an async runtime. Nothing here panics on input.

pub mod policy;

use std::collections::{BTreeMap, BTreeSet};

use ree_core::bundle::{Bundle, Withheld};
use ree_core::provenance::{Claim, Provenance};
use ree_core::registry::REGISTRY_LOT;
use ree_core::state::{registry, LotDetail, LotView};
use ree_core::{Hash32, LedgerState, LotId, ParticipantId, Record};
use serde::Serialize;

pub use policy::{Policy, RequiredClaim};

/// Why a bundle is not authentic.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IntegrityError(pub String);

/// One policy breach.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Violation {
    /// Which policy rule.
    pub rule: String,
    /// The lot that causes it.
    pub lot: String,
    /// The event (sequence number in that lot) that causes it, where one does.
    pub seq: Option<u64>,
    pub message: String,
}

/// One signer of the bundle.
#[derive(Clone, Debug, Serialize)]
pub struct SignerSummary {
    pub participant: String,
    pub name: String,
    pub role: String,
    pub records: u64,
}

/// One upstream lot as the report lists it.
#[derive(Clone, Debug, Serialize)]
pub struct UpstreamLot {
    pub lot: String,
    pub kind: String,
    pub country: String,
    pub feed: String,
    pub events: u64,
}

/// The verdict and the facts behind it.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub authentic: bool,
    pub compliant: bool,
    pub lot: String,
    pub head: String,
    pub head_seq: u64,
    pub events_verified: u64,
    pub lots_verified: usize,
    /// Signed records, each checked over its body bytes (every record must be signed).
    pub signatures_verified: u64,
    /// Who signed the bundle's events, with their role as the registry had it.
    pub signers: Vec<SignerSummary>,
    /// The administrator key that founded the bundle's participant registry.
    pub registry_founder: String,
    /// The registry's head as included (compare with the operator's published registry head).
    pub registry_head: String,
    pub registry_head_seq: u64,
    /// Registry records the bundle carries by hash only: they are about no signer of the bundle
    /// and no administrator (docs/format.md, "Bundle").
    pub registry_withheld: u64,
    /// True when `registry_founder` is one of the keys the auditor trusts (`--trust`); false
    /// when no key was given (the registry is then only as good as the operator's word).
    pub registry_trusted: bool,
    pub claim: String,
    pub basis: String,
    pub attributed_g: u64,
    pub origin_shares: BTreeMap<String, f64>,
    pub element_origin_shares: BTreeMap<String, BTreeMap<String, f64>>,
    pub recycled_share: f64,
    pub recycled_share_pre_consumer: f64,
    pub recycled_share_post_consumer: f64,
    pub facilities: Vec<(String, String)>,
    pub upstream_lots: Vec<UpstreamLot>,
    pub violations: Vec<Violation>,
    /// Set when not authentic: what broke.
    pub integrity_error: Option<String>,
}

impl Report {
    fn not_authentic(e: IntegrityError) -> Report {
        Report {
            authentic: false,
            compliant: false,
            lot: String::new(),
            head: String::new(),
            head_seq: 0,
            events_verified: 0,
            lots_verified: 0,
            signatures_verified: 0,
            signers: vec![],
            registry_founder: String::new(),
            registry_head: String::new(),
            registry_head_seq: 0,
            registry_withheld: 0,
            registry_trusted: false,
            claim: String::new(),
            basis: String::new(),
            attributed_g: 0,
            origin_shares: BTreeMap::new(),
            element_origin_shares: BTreeMap::new(),
            recycled_share: 0.0,
            recycled_share_pre_consumer: 0.0,
            recycled_share_post_consumer: 0.0,
            facilities: vec![],
            upstream_lots: vec![],
            violations: vec![],
            integrity_error: Some(e.0),
        }
    }

    /// The documented exit code: 0 authentic and compliant, 1 authentic but not compliant,
    /// 3 not authentic (2 is reserved for usage errors).
    pub fn exit_code(&self) -> i32 {
        match (self.authentic, self.compliant) {
            (false, _) => 3,
            (true, false) => 1,
            (true, true) => 0,
        }
    }
}

/// What replaying a bundle establishes, before any policy.
pub struct Replayed {
    pub bundle: Bundle,
    pub state: LedgerState,
    /// Decoded records in bundle order, with their hashes.
    pub records: Vec<(Record, Hash32)>,
    /// The registry's first record's signer: the founding administrator.
    pub founder: [u8; 32],
    /// The participant of each record's signer, in bundle order.
    pub signers: Vec<ParticipantId>,
}

fn fail<T>(msg: impl Into<String>) -> Result<T, IntegrityError> {
    Err(IntegrityError(msg.into()))
}

/// Checks every record's ed25519 signature over its body, batched and on all cores (the
/// verifier's dominant cost), with the same equation as the ledger (`bad_signatures`). The two records of one event carry the same body and signature: checked once. On
/// failure, names the first bad record.
fn verify_signatures(recs: &[Record]) -> Result<(), IntegrityError> {
    let todo: Vec<usize> = (0..recs.len())
        .filter(|&i| {
            i == 0
                || recs[i].link.is_none()
                || recs[i].signature != recs[i - 1].signature
                || recs[i].body != recs[i - 1].body
        })
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(todo.len().div_ceil(256).max(1));
    let chunk = todo.len().div_ceil(threads).max(1);
    let first_bad = std::thread::scope(|s| {
        let handles: Vec<_> = todo
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let items: Vec<(&[u8], &ree_core::record::Signature)> = part
                        .iter()
                        .filter_map(|&i| {
                            recs[i]
                                .signature
                                .as_ref()
                                .map(|g| (recs[i].body.as_slice(), g))
                        })
                        .collect();
                    // Few signers, many records: decompress each key once.
                    let mut keys = std::collections::HashMap::new();
                    for (_, g) in &items {
                        if let std::collections::hash_map::Entry::Vacant(v) =
                            keys.entry(g.public_key)
                        {
                            if let Ok(k) = ree_core::signature::registrable_key(&g.public_key) {
                                v.insert(k);
                            }
                        }
                    }
                    ree_core::record::bad_signatures(&items, &|k| keys.get(k).copied())
                        .into_iter()
                        .next()
                        .map(|(j, e)| (part[j], e))
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| {
                h.join()
                    .unwrap_or(Some((0, "verifier thread failed".into())))
            })
            .min_by_key(|(i, _)| *i)
    });
    match first_bad {
        None => Ok(()),
        Some((i, e)) => fail(format!(
            "record {i} (lot {} seq {}): {e}",
            recs[i].lot, recs[i].seq
        )),
    }
}

/// Moves the registry's head on by a withheld record (docs/format.md, "How to verify a bundle"):
/// it must follow the current head; the next record must then name its hash (a registry record
/// as `prev`, any other as its `registry` field), which `apply_stored` checks. No rule applies
/// to it: the bundle discloses every registry record about its signers and administrators.
fn advance_withheld(state: &mut LedgerState, w: &Withheld) -> Result<(), IntegrityError> {
    let Some(reg) = state.lot(&REGISTRY_LOT) else {
        return fail(
            "a withheld registry record precedes the registry's genesis, which is never withheld",
        );
    };
    if w.seq != reg.next_seq || w.prev != reg.head {
        return fail(format!(
            "withheld registry record seq {} prev {} does not follow the registry's head seq {} hash {}",
            w.seq,
            w.prev,
            reg.head_seq(),
            reg.head
        ));
    }
    state.advance_unseen(&REGISTRY_LOT, w.hash);
    Ok(())
}

/// Checks authenticity: decodes and replays every record, checks every signature and, through
/// the same rules the ledger runs, every signer's key and role at that point in history.
/// `expect_head` is the head printed on the certificate, if the caller has one; `trusted` the
/// administrator keys the auditor trusts (empty: the registry is taken as it is).
pub fn replay(
    bytes: &[u8],
    expect_head: Option<Hash32>,
    trusted: &[[u8; 32]],
) -> Result<Replayed, IntegrityError> {
    let bundle = Bundle::decode(bytes).map_err(|e| IntegrityError(e.to_string()))?;
    if let Some(h) = expect_head {
        if h != bundle.head {
            return fail(format!(
                "bundle is for head {} but the expected head is {h}",
                bundle.head
            ));
        }
    }
    let mut decoded: Vec<Record> = Vec::with_capacity(bundle.records.len());
    for (i, b) in bundle.records.iter().enumerate() {
        let rec = Record::decode(b).map_err(|e| IntegrityError(format!("record {i}: {e}")))?;
        if rec.signature.is_none() {
            return fail(format!(
                "record {i} (lot {} seq {}): the event is not signed",
                rec.lot, rec.seq
            ));
        }
        decoded.push(rec);
    }
    verify_signatures(&decoded)?;
    let mut state = LedgerState::new();
    let mut records: Vec<(Record, Hash32)> = Vec::with_capacity(bundle.records.len());
    let mut signers = Vec::with_capacity(bundle.records.len());
    let mut last_gseq = 0u64;
    let mut withheld = bundle.withheld.iter().peekable();
    for (i, (b, rec)) in bundle.records.iter().zip(decoded).enumerate() {
        while let Some(w) = withheld.next_if(|w| w.pos <= i) {
            advance_withheld(&mut state, w)?;
        }
        let Some(sig) = rec.signature else {
            return fail(format!("record {i}: the event is not signed"));
        };
        let sig = &sig;
        if rec.global_seq <= last_gseq {
            return fail(format!(
                "record {i} (lot {} seq {}): global sequence {} does not follow {last_gseq}: records are reordered or duplicated",
                rec.lot, rec.seq, rec.global_seq
            ));
        }
        last_gseq = rec.global_seq;
        let hash = state.apply_stored(&rec, b).map_err(|e| {
            IntegrityError(format!("record {i} (lot {} seq {}): {e}", rec.lot, rec.seq))
        })?;
        let signer = registry(&state)
            .and_then(|r| r.key(&sig.public_key))
            .map(|k| k.participant)
            .ok_or_else(|| {
                IntegrityError(format!("record {i}: signer vanished from the registry"))
            })?;
        signers.push(signer);
        records.push((rec, hash));
    }
    if withheld.next().is_some() {
        return fail("the bundle ends with a withheld registry record: no record after it commits to its hash");
    }
    let founder = match records.iter().find(|(r, _)| r.lot == REGISTRY_LOT) {
        Some((r, _)) if r.seq == 0 => r.signature.map(|s| s.public_key).unwrap_or([0; 32]),
        _ => return fail("the bundle carries no participant registry from its genesis"),
    };
    if !trusted.is_empty() && !trusted.contains(&founder) {
        return fail(format!(
            "the participant registry was founded by administrator key {}, which is not among the trusted keys: its signers cannot be trusted",
            Hash32(founder)
        ));
    }
    let Some(subject) = state.lot(&bundle.lot) else {
        return fail(format!(
            "the bundle's lot {} has no events in it",
            bundle.lot
        ));
    };
    if subject.head != bundle.head || subject.head_seq() != bundle.head_seq {
        return fail(format!(
            "lot {}: bundle claims head {} at seq {}, replay ends at {} seq {}",
            bundle.lot,
            bundle.head,
            bundle.head_seq,
            subject.head,
            subject.head_seq()
        ));
    }
    Ok(Replayed {
        bundle,
        state,
        records,
        founder,
        signers,
    })
}

fn required_docs_present(detail: &LotDetail) -> Vec<ree_core::event::DocKind> {
    match detail {
        LotDetail::Ore { documents, .. } | LotDetail::Recycled { documents, .. } => {
            documents.iter().map(|d| d.kind).collect()
        }
        _ => vec![],
    }
}

/// Verifies a bundle and judges it against `policy`. Never panics, whatever the bytes.
pub fn verify(bytes: &[u8], policy: &Policy, expect_head: Option<Hash32>) -> Report {
    let r = match replay(bytes, expect_head, &policy.trusted_administrators) {
        Ok(r) => r,
        Err(e) => return Report::not_authentic(e),
    };
    let subject_id = r.bundle.lot;
    let Some(subject) = r.state.lot(&subject_id) else {
        return Report::not_authentic(IntegrityError("subject lot vanished".into()));
    };
    let prov = Provenance::of(subject);
    let mut violations = Vec::new();
    let lots: BTreeSet<LotId> = r
        .records
        .iter()
        .map(|(rec, _)| rec.lot)
        .filter(|l| *l != REGISTRY_LOT)
        .collect();
    let reg = registry(&r.state);
    let mut by_signer: BTreeMap<ParticipantId, u64> = BTreeMap::new();
    for p in &r.signers {
        *by_signer.entry(*p).or_default() += 1;
    }
    let signers = by_signer
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
        .collect();
    let (registry_head, registry_head_seq) = r
        .state
        .lot(&REGISTRY_LOT)
        .map(|l| (l.head.to_hex(), l.head_seq()))
        .unwrap_or_default();
    let mut upstream = Vec::new();
    for id in &lots {
        let Some(l) = r.state.lot(id) else { continue };
        let src = l.source();
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
        });
        if let Some(s) = src {
            if s.feed == ree_core::state::Feed::Mined && policy.denied_origin.contains(&s.country) {
                violations.push(Violation {
                    rule: "denied_origin_countries".into(),
                    lot: id.to_string(),
                    seq: Some(0),
                    message: format!("{} lot {id} was extracted in {}, a denied country, and is upstream of {subject_id}", l.kind().name(), s.country),
                });
            }
        }
        if let Some(c) = facility_country {
            if policy.denied_processing.contains(&c) {
                violations.push(Violation {
                    rule: "denied_processing_countries".into(),
                    lot: id.to_string(),
                    seq: Some(0),
                    message: format!("campaign {id} was processed in {c}, a denied country"),
                });
            }
        }
        if let Some(required) = policy.required_documents.get(&l.kind()) {
            let present = required_docs_present(&l.detail);
            for d in required {
                if !present.contains(d) {
                    violations.push(Violation {
                        rule: "required_documents".into(),
                        lot: id.to_string(),
                        seq: Some(0),
                        message: format!(
                            "{} lot {id} carries no {} digest",
                            l.kind().name(),
                            d.name()
                        ),
                    });
                }
            }
        }
    }
    let claim = prov.claim(&policy.denied_origin, &policy.denied_processing);
    if policy.required_claim == RequiredClaim::Segregated && claim != Claim::Segregated {
        violations.push(Violation {
            rule: "required_claim".into(),
            lot: subject_id.to_string(),
            seq: Some(prov.head_seq),
            message: "a segregated claim is required, but inputs from denied countries are mixed upstream: only mass balance holds".into(),
        });
    }
    let rs = prov.recycled_share();
    if rs.total + 1e-12 < policy.min_recycled_share {
        violations.push(Violation {
            rule: "min_recycled_share".into(),
            lot: subject_id.to_string(),
            seq: Some(prov.head_seq),
            message: format!(
                "recycled share {:.2}% is below the required {:.2}%",
                rs.total * 100.0,
                policy.min_recycled_share * 100.0
            ),
        });
    }
    if rs.post_consumer + 1e-12 < policy.min_post_consumer_share {
        violations.push(Violation {
            rule: "min_post_consumer_share".into(),
            lot: subject_id.to_string(),
            seq: Some(prov.head_seq),
            message: format!(
                "post-consumer recycled share {:.2}% is below the required {:.2}%",
                rs.post_consumer * 100.0,
                policy.min_post_consumer_share * 100.0
            ),
        });
    }
    let shares = prov.origin_shares();
    if let Some(max) = policy.max_single_third_country_share {
        for (c, s) in &shares {
            if !policy::EU_MEMBERS.contains(&c.as_str()) && *s > max + 1e-12 {
                violations.push(Violation {
                    rule: "max_single_third_country_share".into(),
                    lot: subject_id.to_string(),
                    seq: Some(prov.head_seq),
                    message: format!("{c} supplies {:.2}% of the lot, above the {:.2}% allowed for a single third country", s * 100.0, max * 100.0),
                });
            }
        }
    }
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
        signers,
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
        upstream_lots: upstream
            .into_iter()
            .filter(|u| u.lot != subject_id.to_string())
            .collect(),
        violations,
        integrity_error: None,
    }
}

/// The human-readable report.
pub fn render(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    if !r.authentic {
        let _ = writeln!(
            s,
            "NOT AUTHENTIC: {}",
            r.integrity_error.as_deref().unwrap_or("unknown")
        );
        return s;
    }
    let _ = writeln!(
        s,
        "authentic: yes ({} events in {} lots replayed from genesis, every hash recomputed, {} signatures checked)",
        r.events_verified, r.lots_verified, r.signatures_verified
    );
    let _ = writeln!(
        s,
        "registry:  founded by administrator key {} ({}), head {} (seq {}), {} records withheld (hash only: about no signer here)",
        r.registry_founder,
        if r.registry_trusted {
            "trusted"
        } else {
            "NOT checked against a trusted key: pass --trust ADMIN.pub"
        },
        r.registry_head,
        r.registry_head_seq,
        r.registry_withheld
    );
    for g in &r.signers {
        let _ = writeln!(
            s,
            "signer:    {} ({}, {}): {} record{}",
            g.name,
            g.role,
            g.participant,
            g.records,
            if g.records == 1 { "" } else { "s" }
        );
    }
    let _ = writeln!(s, "compliant: {}", if r.compliant { "yes" } else { "NO" });
    let _ = writeln!(s, "lot:       {}", r.lot);
    let _ = writeln!(s, "head:      {} (seq {})", r.head, r.head_seq);
    let _ = writeln!(
        s,
        "claim:     {} (attributed by {}, {:.3} t)",
        r.claim,
        r.basis,
        r.attributed_g as f64 / 1e6
    );
    let mut o: Vec<_> = r.origin_shares.iter().collect();
    o.sort_by(|a, b| b.1.total_cmp(a.1));
    let _ = writeln!(
        s,
        "origin:    {}",
        o.iter()
            .map(|(c, v)| format!("{c} {:.2}%", *v * 100.0))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (e, m) in &r.element_origin_shares {
        let mut v: Vec<_> = m.iter().collect();
        v.sort_by(|a, b| b.1.total_cmp(a.1));
        let _ = writeln!(
            s,
            "  {e:<3} {}",
            v.iter()
                .map(|(c, x)| format!("{c} {:.2}%", *x * 100.0))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(
        s,
        "recycled:  {:.2}% (pre-consumer {:.2}%, post-consumer {:.2}%)",
        r.recycled_share * 100.0,
        r.recycled_share_pre_consumer * 100.0,
        r.recycled_share_post_consumer * 100.0
    );
    for (n, c) in &r.facilities {
        let _ = writeln!(s, "processed: {n} ({c})");
    }
    let n = r.upstream_lots.len();
    let _ = writeln!(s, "upstream:  {n} lot{}", if n == 1 { "" } else { "s" });
    for v in &r.violations {
        let _ = writeln!(
            s,
            "VIOLATION [{}] lot {}{}: {}",
            v.rule,
            v.lot,
            v.seq.map(|q| format!(" seq {q}")).unwrap_or_default(),
            v.message
        );
    }
    s
}
