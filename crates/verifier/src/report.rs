//! The verdict and the facts behind it, as JSON (`Report`) and for people (`render`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::replay::IntegrityError;

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
    pub adjustments: Vec<crate::audit::AdjustmentLine>,
    pub attestations: Vec<crate::audit::AttestationLine>,
    /// Re-assays that moved an element by more than the default tolerance (as GetProvenance).
    pub reassay_flags: Vec<crate::crma::ReassayLine>,
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
    /// EU CRMA fields per element present (post-consumer share, countries, certified sites).
    pub crma: BTreeMap<String, crate::crma::CrmaLine>,
    pub violations: Vec<Violation>,
    /// Set when not authentic: what broke.
    pub integrity_error: Option<String>,
    /// The transparency log's checkpoint the bundle carries (versions 3 and 4), if any.
    pub checkpoint: Option<crate::logproof::CheckpointSummary>,
    /// Records whose inclusion proof in that checkpoint verified.
    pub inclusion_verified: u64,
}

impl Report {
    pub(crate) fn not_authentic(e: IntegrityError) -> Report {
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
            crma: BTreeMap::new(),
            violations: vec![],
            integrity_error: Some(e.0),
            checkpoint: None,
            inclusion_verified: 0,
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
    match &r.checkpoint {
        Some(c) => {
            let _ = writeln!(
                s,
                "log:       checkpoint {} size {} root {} ({}); {} inclusion proofs verified",
                c.origin,
                c.size,
                c.root,
                if c.verified {
                    "signed by the pinned log key"
                } else {
                    "UNVERIFIED: no log key pinned (--log-vkey)"
                },
                r.inclusion_verified
            );
            for w in &c.cosigners {
                let _ = writeln!(
                    s,
                    "witness:   cosigned by {} (key {}) at {}",
                    w.name, w.key_id, w.timestamp
                );
            }
        }
        None => {
            let _ = writeln!(s, "log:       no checkpoint in the bundle");
        }
    }
    write_verdict(&mut s, r);
    s
}

/// The compliance half of [`render`]: the verdict, the provenance behind it, each violation.
fn write_verdict(s: &mut String, r: &Report) {
    use std::fmt::Write;
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
    let _ = writeln!(s, "origin:    {}", shares_line(&r.origin_shares));
    for (e, m) in &r.element_origin_shares {
        let _ = writeln!(s, "  {e:<3} {}", shares_line(m));
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
    for u in &r.upstream_lots {
        for a in &u.adjustments {
            let by = a
                .countersigned_by
                .as_deref()
                .unwrap_or("no countersignature");
            let _ = writeln!(
                s,
                "  adjusted:  {} {} {:+} g ({}; {by})",
                u.kind, u.lot, a.delta_g, a.reason
            );
        }
        for a in &u.attestations {
            let m = a
                .method
                .as_deref()
                .map(|m| format!(" by {m}"))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "  attested:  {} {} {}{m}, valid {} to {} (auditor {})",
                u.kind, u.lot, a.kind, a.valid_from, a.valid_until, a.auditor
            );
        }
    }
    write_crma(s, r);
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
}

/// Per element, the EU Critical Raw Materials Act figures (Art. 29 recycled share, Art. 31
/// countries), and the re-assays beyond the policy's tolerance.
fn write_crma(s: &mut String, r: &Report) {
    use std::fmt::Write;
    for (e, c) in &r.crma {
        let k = &c.countries;
        let line = ree_core::crma::text_line(
            e,
            c.post_consumer_recycled_share,
            (c.post_consumer_g, c.attributed_g),
            [&k.extraction, &k.recycling, &k.processing, &k.refining],
            c.facilities.len(),
        );
        let _ = writeln!(s, "{line}");
    }
    for u in &r.upstream_lots {
        for f in &u.reassay_flags {
            let _ = writeln!(
                s,
                "  reassayed: {} {} seq {} {} {} -> {} ppm (beyond the default tolerance)",
                u.kind, u.lot, f.seq, f.element, f.from_ppm, f.to_ppm
            );
        }
    }
}

/// Countries by share, largest first (ties in country order): "CN 60.00%, AU 40.00%".
fn shares_line(shares: &BTreeMap<String, f64>) -> String {
    let mut by_share: Vec<_> = shares.iter().collect();
    by_share.sort_by(|a, b| b.1.total_cmp(a.1));
    by_share
        .iter()
        .map(|(country, share)| format!("{country} {:.2}%", *share * 100.0))
        .collect::<Vec<_>>()
        .join(", ")
}
