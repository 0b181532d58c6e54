//! The compliance policy: a TOML file (unknown keys are an error) or the default.

use std::collections::BTreeMap;

use ree_core::event::DocKind;
use ree_core::provenance::{Claim, ClaimRule, Provenance, RecycledShare};
use ree_core::state::{Feed, LotDetail, LotKind, LotState};
use ree_core::{Country, LotId};
use serde::Deserialize;

use crate::report::Violation;

/// EU member states (2025): what is *not* a "third country" for the CRMA's 65% benchmark.
pub const EU_MEMBERS: &[&str] = &[
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
];

/// The policy file as written.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    denied_origin_countries: Option<Vec<String>>,
    denied_processing_countries: Option<Vec<String>>,
    min_recycled_share: Option<f64>,
    min_post_consumer_share: Option<f64>,
    max_single_third_country_share: Option<f64>,
    required_claim: Option<String>,
    required_documents: Option<BTreeMap<String, Vec<String>>>,
    trusted_administrator_keys: Option<Vec<String>>,
    allow_denied_countries_in_recycled_feed: Option<bool>,
    log_vkeys: Option<Vec<String>>,
    witness_vkeys: Option<Vec<String>>,
    witness_quorum: Option<usize>,
    max_adjustment_gain_share: Option<f64>,
    require_attestation: Option<BTreeMap<String, Vec<String>>>,
    require_certified_sites: Option<Vec<String>>,
    require_lab_assays: Option<bool>,
    max_reassay_shift_ppm: Option<u32>,
}

/// Which chain-of-custody claim the policy requires.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RequiredClaim {
    /// Every upstream input qualifies (no denied origin or processing country anywhere).
    Segregated,
    /// Shares are enough; denied countries must still have no share.
    MassBalance,
}

/// A checked policy.
#[derive(Clone, Debug)]
pub struct Policy {
    pub denied_origin: Vec<Country>,
    pub denied_processing: Vec<Country>,
    pub min_recycled_share: f64,
    pub min_post_consumer_share: f64,
    pub max_single_third_country_share: Option<f64>,
    pub required_claim: RequiredClaim,
    pub required_documents: BTreeMap<LotKind, Vec<DocKind>>,
    /// Administrator public keys the auditor trusts (`--trust FILE.pub`): when any is given, the
    /// bundle's participant registry must have been founded by one of them.
    pub trusted_administrators: Vec<[u8; 32]>,
    /// Opt-in: recycled feed (pre- or post-consumer) collected in a denied origin country is
    /// allowed. Off by default: scrap collected in a denied country is denied like ore.
    pub allow_denied_recycled: bool,
    /// Pinned transparency-log keys (`--log-vkey FILE`, `log_vkeys`): bundles must carry a
    /// checkpoint signed by one, with every record's inclusion proof.
    pub log_vkeys: Vec<ree_tlog::VerifierKey>,
    /// `max_adjustment_gain_share` and `require_attestation` (`audit.rs`).
    pub audit: crate::audit::AuditPolicy,
    /// Pinned witness keys (`--witness-vkey FILE`, `witness_vkeys`; type 0x04).
    pub witness_vkeys: Vec<ree_tlog::VerifierKey>,
    /// How many distinct pinned witnesses must have cosigned the bundle's checkpoint
    /// (`--quorum N`, `witness_quorum`); `None`: 1 when a witness key is pinned, else 0.
    pub witness_quorum: Option<usize>,
    /// Schemes (e.g. IRMA, RMAP): every source lot's registered site must hold a certificate of
    /// one of them, valid at the receipt's date. Empty: not required.
    pub require_certified_sites: Vec<String>,
    /// Every charge of a source lot (or, uncharged, its assay in effect) must rest on a
    /// laboratory's assay, not the owner's declaration.
    pub require_lab_assays: bool,
    /// The largest move of one element a re-assay may make, in ppm of the lot's mass.
    pub max_reassay_shift_ppm: u32,
}

/// A witness's verifier key (`witness.vkey`): a note verifier key of type 0x04.
pub fn parse_witness_key(text: &str) -> Result<ree_tlog::VerifierKey, String> {
    let k = ree_tlog::VerifierKey::parse(text.trim()).map_err(|e| e.to_string())?;
    if k.sig_type() != ree_tlog::SigType::CosignatureV1 {
        return Err("not a witness key (a cosignature/v1 key, type 0x04)".into());
    }
    Ok(k)
}

impl Policy {
    /// The witness quorum in force: explicit, else 1 when a witness key is pinned.
    pub fn quorum(&self) -> usize {
        self.witness_quorum
            .unwrap_or(usize::from(!self.witness_vkeys.is_empty()))
    }

    /// A quorum needs pinned witnesses, and no more than are pinned.
    pub fn check_witnesses(&self) -> Result<(), String> {
        let (q, n) = (self.quorum(), self.witness_vkeys.len());
        if q > 0 && n == 0 {
            return Err(format!(
                "a witness quorum of {q} needs pinned witness keys (--witness-vkey FILE or witness_vkeys)"
            ));
        }
        if q > n {
            return Err(format!(
                "a witness quorum of {q} can never be met by {n} pinned witness keys"
            ));
        }
        Ok(())
    }
}

/// Default of `max_reassay_shift_ppm`: the tolerance provenance flags re-assays by (core).
pub use ree_core::crma::DEFAULT_MAX_REASSAY_SHIFT_PPM;

impl Default for Policy {
    /// No Chinese feed (mined, pre- or post-consumer) or processing anywhere upstream, mass
    /// balance accepted.
    fn default() -> Self {
        let cn = Country::parse("CN").map(|c| vec![c]).unwrap_or_default();
        Policy {
            denied_origin: cn.clone(),
            denied_processing: cn,
            min_recycled_share: 0.0,
            min_post_consumer_share: 0.0,
            max_single_third_country_share: None,
            required_claim: RequiredClaim::MassBalance,
            required_documents: BTreeMap::new(),
            trusted_administrators: Vec::new(),
            allow_denied_recycled: false,
            log_vkeys: Vec::new(),
            witness_vkeys: Vec::new(),
            witness_quorum: None,
            audit: Default::default(),
            require_certified_sites: Vec::new(),
            require_lab_assays: false,
            max_reassay_shift_ppm: DEFAULT_MAX_REASSAY_SHIFT_PPM,
        }
    }
}

fn countries(v: Vec<String>, key: &str) -> Result<Vec<Country>, String> {
    v.iter()
        .map(|c| Country::parse(c).map_err(|e| format!("{key}: {}", e.reason)))
        .collect()
}

fn share(v: Option<f64>, key: &str) -> Result<Option<f64>, String> {
    match v {
        Some(x) if !(0.0..=1.0).contains(&x) => {
            Err(format!("{key}: {x} is not a share between 0 and 1"))
        }
        other => Ok(other),
    }
}

impl Policy {
    /// Parses a policy file; keys it does not set keep their defaults.
    pub fn from_toml(text: &str) -> Result<Policy, String> {
        let f: PolicyFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut p = Policy::default();
        if let Some(v) = f.denied_origin_countries {
            p.denied_origin = countries(v, "denied_origin_countries")?;
        }
        if let Some(v) = f.denied_processing_countries {
            p.denied_processing = countries(v, "denied_processing_countries")?;
        }
        p.min_recycled_share = share(f.min_recycled_share, "min_recycled_share")?.unwrap_or(0.0);
        p.min_post_consumer_share =
            share(f.min_post_consumer_share, "min_post_consumer_share")?.unwrap_or(0.0);
        p.max_single_third_country_share = share(
            f.max_single_third_country_share,
            "max_single_third_country_share",
        )?;
        if let Some(c) = f.required_claim {
            p.required_claim = match c.as_str() {
                "segregated" => RequiredClaim::Segregated,
                "mass_balance" => RequiredClaim::MassBalance,
                other => {
                    return Err(format!(
                        "required_claim: {other:?} is not \"segregated\" or \"mass_balance\""
                    ))
                }
            };
        }
        p.allow_denied_recycled = f.allow_denied_countries_in_recycled_feed.unwrap_or(false);
        p.audit =
            crate::audit::AuditPolicy::parse(f.max_adjustment_gain_share, f.require_attestation)?;
        p.require_certified_sites = f.require_certified_sites.unwrap_or_default();
        if p.require_certified_sites
            .iter()
            .any(|s| s.trim().is_empty())
        {
            return Err("require_certified_sites: a scheme name is empty".into());
        }
        p.require_lab_assays = f.require_lab_assays.unwrap_or(false);
        if let Some(m) = f.max_reassay_shift_ppm {
            if m > 1_000_000 {
                return Err(format!("max_reassay_shift_ppm: {m} is more than 1,000,000"));
            }
            p.max_reassay_shift_ppm = m;
        }
        for k in f.trusted_administrator_keys.unwrap_or_default() {
            p.trusted_administrators.push(
                parse_public_key(&k).map_err(|e| format!("trusted_administrator_keys: {e}"))?,
            );
        }
        for k in f.log_vkeys.unwrap_or_default() {
            p.log_vkeys.push(
                ree_tlog::VerifierKey::parse(k.trim()).map_err(|e| format!("log_vkeys: {e}"))?,
            );
        }
        for k in f.witness_vkeys.unwrap_or_default() {
            p.witness_vkeys
                .push(parse_witness_key(&k).map_err(|e| format!("witness_vkeys: {e}"))?);
        }
        p.witness_quorum = f.witness_quorum;
        for (kind, docs) in f.required_documents.unwrap_or_default() {
            let k = LotKind::parse(&kind).ok_or_else(|| format!("required_documents: {kind:?} is not a lot kind (ore, recycled, campaign, oxide)"))?;
            let d = docs
                .iter()
                .map(|d| {
                    DocKind::parse(d).ok_or_else(|| {
                        format!("required_documents.{kind}: {d:?} is not a document kind")
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            p.required_documents.insert(k, d);
        }
        Ok(p)
    }

    /// The rule the claim is judged by, from this policy.
    pub fn claim_rule(&self) -> ClaimRule<'_> {
        ClaimRule {
            denied_origin: &self.denied_origin,
            denied_processing: &self.denied_processing,
            allow_denied_recycled: self.allow_denied_recycled,
        }
    }
}

/// Parses a public key as written in a `.pub` file: 64 hex digits.
pub fn parse_public_key(text: &str) -> Result<[u8; 32], String> {
    let text = text.trim();
    // Name what was found without echoing it: a wrong file may be long, or secret.
    let h = ree_core::Hash32::from_hex(text).map_err(|_| {
        format!(
            "not a public key: expected 64 hex digits (a KEYFILE.pub from `ree keygen`), found {} characters",
            text.chars().count()
        )
    })?;
    if h == ree_core::Hash32::ZERO {
        return Err("an all-zero public key".into());
    }
    Ok(h.0)
}

/// The policy's breaches that one upstream lot causes: a denied origin or processing country, a
/// missing document.
pub(crate) fn lot_violations(policy: &Policy, l: &LotState, subject_id: LotId) -> Vec<Violation> {
    let id = l.id;
    let mut violations = policy.audit.violations(l);
    if let Some(s) = l.source() {
        if policy.claim_rule().denies(&s) {
            let how = match s.feed {
                Feed::Mined => "was extracted in",
                _ => "is scrap collected in",
            };
            violations.push(Violation {
                rule: "denied_origin_countries".into(),
                lot: id.to_string(),
                seq: Some(0),
                message: format!(
                    "{} lot {id} {how} {}, a denied country, and is upstream of {subject_id}",
                    l.kind().name(),
                    s.country
                ),
            });
        }
    }
    if let LotDetail::Campaign(c) = &l.detail {
        if policy.denied_processing.contains(&c.country) {
            violations.push(Violation {
                rule: "denied_processing_countries".into(),
                lot: id.to_string(),
                seq: Some(0),
                message: format!(
                    "campaign {id} was processed in {}, a denied country",
                    c.country
                ),
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
    violations
}

fn required_docs_present(detail: &LotDetail) -> Vec<ree_core::event::DocKind> {
    match detail {
        LotDetail::Ore { documents, .. } | LotDetail::Recycled { documents, .. } => {
            documents.iter().map(|d| d.kind).collect()
        }
        _ => vec![],
    }
}

/// The policy's breaches that the subject's provenance causes as a whole: its claim, recycled
/// shares and the share of any single third country.
pub(crate) fn provenance_violations(
    policy: &Policy,
    prov: &Provenance,
    claim: Claim,
    rs: &RecycledShare,
    shares: &BTreeMap<Country, f64>,
    subject_id: LotId,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    if policy.required_claim == RequiredClaim::Segregated && claim != Claim::Segregated {
        violations.push(Violation {
            rule: "required_claim".into(),
            lot: subject_id.to_string(),
            seq: Some(prov.head_seq),
            message: "a segregated claim is required, but inputs from denied countries are mixed upstream: only mass balance holds".into(),
        });
    }
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
    if let Some(max) = policy.max_single_third_country_share {
        for (c, s) in shares {
            if !EU_MEMBERS.contains(&c.as_str()) && *s > max + 1e-12 {
                violations.push(Violation {
                    rule: "max_single_third_country_share".into(),
                    lot: subject_id.to_string(),
                    seq: Some(prov.head_seq),
                    message: format!("{c} supplies {:.2}% of the lot, above the {:.2}% allowed for a single third country", s * 100.0, max * 100.0),
                });
            }
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_unknown_keys() {
        let p = Policy::from_toml(
            "min_recycled_share = 0.3\nrequired_claim = \"segregated\"\n[required_documents]\nore = [\"certificate_of_origin\"]\n",
        )
        .unwrap();
        assert_eq!(p.min_recycled_share, 0.3);
        assert_eq!(p.required_claim, RequiredClaim::Segregated);
        assert_eq!(p.denied_origin, vec![Country::parse("CN").unwrap()]);
        assert_eq!(
            p.required_documents[&LotKind::Ore],
            vec![DocKind::CertificateOfOrigin]
        );
        assert!(Policy::from_toml("min_recycle_share = 0.3")
            .unwrap_err()
            .contains("unknown field"));
        assert!(Policy::from_toml("min_recycled_share = 3.0").is_err());
        assert!(Policy::from_toml("denied_origin_countries = [\"XX\"]").is_err());
        assert!(Policy::from_toml("required_claim = \"book_and_claim\"").is_err());
        let k = "ab".repeat(32);
        let p = Policy::from_toml(&format!("trusted_administrator_keys = [\"{k}\"]")).unwrap();
        assert_eq!(p.trusted_administrators, vec![[0xab; 32]]);
        assert!(Policy::from_toml("trusted_administrator_keys = [\"abc\"]").is_err());
        assert!(!p.allow_denied_recycled, "denied in every feed by default");
        let p = Policy::from_toml("allow_denied_countries_in_recycled_feed = true").unwrap();
        assert!(p.allow_denied_recycled);
    }

    #[test]
    fn eu_list_has_27_valid_members() {
        assert_eq!(EU_MEMBERS.len(), 27);
        assert!(EU_MEMBERS.iter().all(|c| Country::parse(c).is_ok()));
    }
}
