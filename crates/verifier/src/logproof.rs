//! Issue 13 in bundles: a version 3 or 4 bundle wraps a version 1 or 2 bundle with the log's
//! signed checkpoint and the proof that every full record is in its tree: one RFC 6962
//! inclusion proof per record (version 3), or one multi-proof for all (version 4, what
//! `ree export` writes; docs/format.md, "Bundle versions 3 and 4"). This module encodes that
//! wrapper (the server's export) and checks it (here): the checkpoint's signature against the
//! pinned log keys, and each record's leaf, its hash, at index `global_seq - 1` of the tree.

use ree_core::record::Record;
use ree_core::Hash32;
use ree_tlog::{leaf_hash, Checkpoint, Hash, Note, VerifierKey};
use serde::Serialize;

use crate::replay::IntegrityError;

/// The wrapper's first bytes: the bundle magic, then version 3 or 4 (little-endian u16).
pub const MAGIC: &[u8; 8] = ree_core::bundle::BUNDLE_MAGIC;
pub const VERSION_PER_RECORD: u16 = 3;
pub const VERSION_MULTI: u16 = 4;
/// Longest audit path (a tree of 2^64 leaves).
const MAX_PATH: usize = 64;

/// The log part of a version 3 or 4 bundle, not yet checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSection {
    pub note: Vec<u8>,
    pub proofs: Proofs,
}

/// How the full records are proven to be in the checkpoint's tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proofs {
    /// Version 3: one audit path per full record, in bundle order.
    PerRecord(Vec<Vec<Hash>>),
    /// Version 4: one multi-proof of all of them (`ree_tlog::verify_multi`).
    Multi(Vec<Hash>),
}

/// What the report says of the log.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CheckpointSummary {
    pub origin: String,
    pub size: u64,
    pub root: String,
    /// Signed by a pinned log key (`--log-vkey`, `log_vkeys`); false when none was pinned.
    pub verified: bool,
    /// The pinned witnesses whose cosignatures on this checkpoint verified.
    pub cosigners: Vec<CosignerSummary>,
}

/// One verified witness cosignature.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CosignerSummary {
    pub name: String,
    /// The witness's key ID, 8 hex digits.
    pub key_id: String,
    /// When it cosigned, POSIX seconds (its own claim).
    pub timestamp: u64,
}

/// The witnesses' verdict on a checkpoint: every pinned witness's cosignature must verify, and
/// at least `quorum` distinct ones must be present.
fn cosigners(
    note: &Note,
    witnesses: &[VerifierKey],
    quorum: usize,
) -> Result<Vec<CosignerSummary>, IntegrityError> {
    if witnesses.is_empty() {
        return Ok(Vec::new());
    }
    let ok =
        ree_tlog::cosignature::verify_quorum(note, witnesses, quorum).map_err(|e| match e {
            ree_tlog::CosignatureError::Quorum { got, need } => IntegrityError(format!(
                "checkpoint cosigned by {got} of the pinned witnesses, quorum {need}"
            )),
            other => IntegrityError(format!("checkpoint cosignature: {other}")),
        })?;
    Ok(ok
        .into_iter()
        .filter_map(|(i, t)| witnesses.get(i).map(|k| (k, t)))
        .map(|(k, t)| CosignerSummary {
            name: k.name().to_owned(),
            key_id: format!("{:08x}", k.id()),
            timestamp: t,
        })
        .collect())
}

/// Wraps a version 1 or 2 bundle into version 3 or 4 (by the kind of proofs).
pub fn encode(inner: &[u8], s: &LogSection) -> Vec<u8> {
    let mut w = Vec::with_capacity(inner.len() + s.note.len() + 64);
    w.extend_from_slice(MAGIC);
    let version = match s.proofs {
        Proofs::PerRecord(_) => VERSION_PER_RECORD,
        Proofs::Multi(_) => VERSION_MULTI,
    };
    w.extend_from_slice(&version.to_le_bytes());
    w.extend_from_slice(&(inner.len() as u32).to_le_bytes());
    w.extend_from_slice(inner);
    w.extend_from_slice(&(s.note.len() as u32).to_le_bytes());
    w.extend_from_slice(&s.note);
    match &s.proofs {
        Proofs::PerRecord(proofs) => {
            w.extend_from_slice(&(proofs.len() as u32).to_le_bytes());
            for p in proofs {
                w.push(p.len() as u8);
                for h in p {
                    w.extend_from_slice(&h.0);
                }
            }
        }
        Proofs::Multi(p) => {
            w.extend_from_slice(&(p.len() as u32).to_le_bytes());
            for h in p {
                w.extend_from_slice(&h.0);
            }
        }
    }
    w
}

fn bad<T>(msg: impl Into<String>) -> Result<T, IntegrityError> {
    Err(IntegrityError(format!(
        "bundle log section: {}",
        msg.into()
    )))
}

/// A bounds-checked cursor (never panics on hostile bytes).
struct Cur<'a>(&'a [u8]);

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], IntegrityError> {
        if self.0.len() < n {
            return bad(format!("truncated in {what}"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u32(&mut self, what: &str) -> Result<usize, IntegrityError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
}

/// Splits a bundle file: older versions are returned whole with no log section.
pub fn split(bytes: &[u8]) -> Result<(&[u8], Option<LogSection>), IntegrityError> {
    let version = (bytes.len() >= 10 && &bytes[..8] == MAGIC)
        .then(|| u16::from_le_bytes([bytes[8], bytes[9]]))
        .filter(|v| [VERSION_PER_RECORD, VERSION_MULTI].contains(v));
    let Some(version) = version else {
        return Ok((bytes, None));
    };
    let mut c = Cur(&bytes[10..]);
    let n = c.u32("bundle length")?;
    let inner = c.take(n, "inner bundle")?;
    let n = c.u32("note length")?;
    if n > ree_tlog::note::MAX_NOTE_LEN {
        return bad(format!("checkpoint note of {n} bytes is too long"));
    }
    let note = c.take(n, "checkpoint note")?.to_vec();
    let proofs = if version == VERSION_MULTI {
        let count = c.u32("multi-proof length")?;
        let raw = c.take(count.saturating_mul(32), "multi-proof hashes")?;
        Proofs::Multi(raw.chunks_exact(32).filter_map(Hash::from_slice).collect())
    } else {
        per_record(&mut c)?
    };
    if !c.0.is_empty() {
        return bad(format!("{} trailing bytes", c.0.len()));
    }
    Ok((inner, Some(LogSection { note, proofs })))
}

/// Version 3's proofs: a count, then per record a length byte and its hashes.
fn per_record(c: &mut Cur<'_>) -> Result<Proofs, IntegrityError> {
    let count = c.u32("proof count")?;
    // Each proof takes at least one byte: bound the allocation by what is there.
    if count > c.0.len() {
        return bad(format!("{count} proofs cannot fit in {} bytes", c.0.len()));
    }
    let mut proofs = Vec::with_capacity(count);
    for i in 0..count {
        let len = c.take(1, "proof length")?[0] as usize;
        if len > MAX_PATH {
            return bad(format!("proof {i} has {len} hashes (at most {MAX_PATH})"));
        }
        let raw = c.take(32 * len, "proof hashes")?;
        proofs.push(
            raw.chunks_exact(32)
                .filter_map(Hash::from_slice)
                .collect::<Vec<_>>(),
        );
    }
    Ok(Proofs::PerRecord(proofs))
}

/// Checks the log section against the replayed records: `Ok((summary, proofs verified))`.
/// With pinned keys, a missing or unsigned checkpoint and any failing proof are integrity
/// errors naming the record; without, proofs are still checked against the (unverified) root.
pub fn check(
    section: Option<&LogSection>,
    records: &[(Record, Hash32)],
    pinned: &[VerifierKey],
    witnesses: &[VerifierKey],
    quorum: usize,
) -> Result<(Option<CheckpointSummary>, u64), IntegrityError> {
    let Some(s) = section else {
        if quorum > 0 {
            return Err(IntegrityError(format!(
                "checkpoint cosigned by 0 of the pinned witnesses, quorum {quorum}: the bundle carries no checkpoint"
            )));
        }
        if !pinned.is_empty() {
            return Err(IntegrityError(
                "a log key is pinned but the bundle carries no checkpoint (version 3 bundles do)"
                    .into(),
            ));
        }
        return Ok((None, 0));
    };
    let (cp, note, verified) = if pinned.is_empty() {
        let note = Note::parse(&s.note).map_err(|e| IntegrityError(format!("checkpoint: {e}")))?;
        let cp = Checkpoint::parse(note.text())
            .map_err(|e| IntegrityError(format!("checkpoint: {e}")))?;
        (cp, note, false)
    } else {
        let (cp, note) = Checkpoint::open(&s.note, pinned).map_err(|e| {
            IntegrityError(format!("checkpoint not signed by the pinned log key: {e}"))
        })?;
        (cp, note, true)
    };
    let cosigners = cosigners(&note, witnesses, quorum)?;
    match &s.proofs {
        Proofs::PerRecord(p) => per_record_proofs(p, records, &cp)?,
        Proofs::Multi(p) => {
            let leaves: Vec<(u64, Hash)> = records
                .iter()
                .map(|(rec, hash)| (rec.global_seq.wrapping_sub(1), leaf_hash(&hash.0)))
                .collect();
            ree_tlog::verify_multi(cp.size, &cp.root, &leaves, p).map_err(|e| {
                IntegrityError(format!(
                    "the records are not all in the checkpoint of {} records: {e}",
                    cp.size
                ))
            })?;
        }
    }
    let summary = CheckpointSummary {
        origin: cp.origin.clone(),
        size: cp.size,
        root: cp.root.to_hex(),
        verified,
        cosigners,
    };
    Ok((Some(summary), records.len() as u64))
}

/// Version 3: each record's own audit path, in one `InclusionBatch` (shared upper nodes hashed
/// once).
fn per_record_proofs(
    proofs: &[Vec<Hash>],
    records: &[(Record, Hash32)],
    cp: &Checkpoint,
) -> Result<(), IntegrityError> {
    if proofs.len() != records.len() {
        return Err(IntegrityError(format!(
            "{} inclusion proofs for {} records",
            proofs.len(),
            records.len()
        )));
    }
    let mut batch = ree_tlog::InclusionBatch::new(cp.size, cp.root);
    for ((rec, hash), proof) in records.iter().zip(proofs) {
        let index = rec.global_seq.wrapping_sub(1);
        batch
            .verify(index, &leaf_hash(&hash.0), proof)
            .map_err(|e| {
                IntegrityError(format!(
                    "record {} seq {} (global {}) is not in the checkpoint of {} records: {e}",
                    rec.lot, rec.seq, rec.global_seq, cp.size
                ))
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn section() -> LogSection {
        LogSection {
            note: b"o\n1\nAAAA\n\n".to_vec(),
            proofs: Proofs::PerRecord(vec![vec![Hash([1; 32]), Hash([2; 32])], vec![]]),
        }
    }

    fn multi() -> LogSection {
        LogSection {
            proofs: Proofs::Multi(vec![Hash([1; 32]), Hash([2; 32])]),
            ..section()
        }
    }

    #[test]
    fn round_trips_and_older_versions_pass_through() {
        let inner = b"REEBNDL\0\x02\x00rest".to_vec();
        let v3 = encode(&inner, &section());
        assert_eq!(v3[8..10], VERSION_PER_RECORD.to_le_bytes());
        let (i, s) = split(&v3).unwrap();
        assert_eq!((i, s), (&inner[..], Some(section())));
        let v4 = encode(&inner, &multi());
        assert_eq!(v4[8..10], VERSION_MULTI.to_le_bytes());
        assert_eq!(split(&v4).unwrap(), (&inner[..], Some(multi())));
        assert_eq!(split(&inner).unwrap(), (&inner[..], None));
        let mut long = v3.clone();
        long.push(0);
        assert!(split(&long).unwrap_err().0.contains("trailing"));
    }

    #[test]
    fn a_pinned_key_requires_a_checkpoint() {
        let k = ree_tlog::NoteSigner::new(
            "o",
            ree_tlog::SigType::Ed25519,
            ed25519_dalek::SigningKey::from_bytes(&[3; 32]),
        )
        .unwrap()
        .verifier_key();
        assert!(check(None, &[], std::slice::from_ref(&k), &[], 0).is_err());
        assert_eq!(check(None, &[], &[], &[], 0).unwrap(), (None, 0));
        assert!(check(None, &[], &[], &[k], 1)
            .unwrap_err()
            .0
            .contains("quorum 1"));
    }

    #[test]
    fn cosignatures_count_toward_the_quorum_and_a_forged_one_is_refused() {
        use ree_tlog::{Cosigner, NoteSigner, SigType};
        let key = |seed: u8, name: &str, t: SigType| {
            NoteSigner::new(name, t, ed25519_dalek::SigningKey::from_bytes(&[seed; 32])).unwrap()
        };
        let log = key(1, "log.example", SigType::Ed25519);
        let w = Cosigner::new(key(2, "w.example", SigType::CosignatureV1)).unwrap();
        let other = Cosigner::new(key(3, "w2.example", SigType::CosignatureV1)).unwrap();
        let cp = Checkpoint::new("log.example", 0, ree_tlog::empty_root()).unwrap();
        let mut note = cp.sign(&log).unwrap();
        let section = |n: &Note| LogSection {
            note: n.to_bytes(),
            proofs: Proofs::PerRecord(vec![]),
        };
        let (pin, ws) = (
            [log.verifier_key()],
            [w.verifier_key(), other.verifier_key()],
        );
        // Not cosigned: the quorum fails, naming the count.
        let e = check(Some(&section(&note)), &[], &pin, &ws[..1], 1).unwrap_err();
        assert!(
            e.0.contains("cosigned by 0 of the pinned witnesses, quorum 1"),
            "{}",
            e.0
        );
        note.add_signature(w.cosign(&cp.to_text(), 42).unwrap());
        let (summary, _) = check(Some(&section(&note)), &[], &pin, &ws, 1).unwrap();
        let c = &summary.unwrap().cosigners;
        assert_eq!(
            (c.len(), c[0].name.as_str(), c[0].timestamp),
            (1, "w.example", 42)
        );
        assert!(check(Some(&section(&note)), &[], &pin, &ws, 2).is_err());
        // The same line with its timestamp altered: refused, not merely uncounted.
        let mut forged = cp.sign(&log).unwrap();
        let mut sig = w.cosign(&cp.to_text(), 42).unwrap();
        sig.sig[7] ^= 1;
        forged.add_signature(sig);
        let e = check(Some(&section(&forged)), &[], &pin, &ws, 0).unwrap_err();
        assert!(e.0.contains("cosignature"), "{}", e.0);
    }

    proptest! {
        /// Hostile bytes after a version 3 or 4 header: an error, never a panic or a huge
        /// allocation.
        #[test]
        fn hostile_sections_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
            for (version, s) in [(VERSION_PER_RECORD, section()), (VERSION_MULTI, multi())] {
                let mut b = MAGIC.to_vec();
                b.extend_from_slice(&version.to_le_bytes());
                b.extend_from_slice(&tail);
                let _ = split(&b);
                let v = encode(b"x", &s);
                // Shorter than the header is not version 3 or 4: the inner decoder refuses it.
                for cut in 10..v.len() {
                    prop_assert!(split(&v[..cut]).is_err());
                }
            }
        }
    }
}
