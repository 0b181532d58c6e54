//! Authenticity: decode every record of a bundle, check every signature, and replay the records
//! through the ledger's own rules (`apply_stored`), from each chain's genesis to the claimed head.

use ree_core::bundle::{Bundle, Withheld};
use ree_core::registry::REGISTRY_LOT;
use ree_core::state::{registry, LotView};
use ree_core::{Hash32, LedgerState, ParticipantId, Record};

/// Why a bundle is not authentic.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IntegrityError(pub String);

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

/// Checks every record's ed25519 signature over its body on all cores (the verifier's dominant
/// cost), with the ledger's verdicts (`bad_signatures`, in batches). The two records of one
/// event carry the same body and signature: checked once. On failure, names the first bad
/// record.
fn verify_signatures(recs: &[Record]) -> Result<(), IntegrityError> {
    let todo: Vec<usize> = (0..recs.len())
        .filter(|&i| {
            i == 0
                || recs[i].link.is_none()
                || recs[i].signature != recs[i - 1].signature
                || recs[i].body != recs[i - 1].body
        })
        .collect();
    // Parts small enough that the threads finish together (each takes the next part), large
    // enough for batches to pay off.
    let parts: Vec<&[usize]> = todo.chunks(PART).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(parts.len())
        .max(1);
    let first_bad = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| s.spawn(|| check_parts(recs, &parts, &next)))
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

/// Records per part of the signature check.
const PART: usize = 8192;

/// One thread's share of [`verify_signatures`]: parts taken in turn until none is left; the
/// first bad record it saw (index, why).
fn check_parts(
    recs: &[Record],
    parts: &[&[usize]],
    next: &std::sync::atomic::AtomicUsize,
) -> Option<(usize, String)> {
    // Few signers, many records: each key's verifier (and its table) once per thread.
    let mut keys = std::collections::HashMap::new();
    let mut first: Option<(usize, String)> = None;
    loop {
        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(part) = parts.get(k) else {
            return first;
        };
        let items: Vec<(&[u8], &ree_core::record::Signature)> = part
            .iter()
            .filter_map(|&i| {
                recs[i]
                    .signature
                    .as_ref()
                    .map(|g| (recs[i].body.as_slice(), g))
            })
            .collect();
        for (_, g) in &items {
            if let std::collections::hash_map::Entry::Vacant(v) = keys.entry(g.public_key) {
                if let Ok(key) = ree_core::signature::Verifier::new(&g.public_key) {
                    v.insert(key);
                }
            }
        }
        let bad = ree_core::record::bad_signatures(&items, &|k| keys.get(k).cloned());
        if let Some((j, e)) = bad.into_iter().next() {
            if first.as_ref().is_none_or(|(i, _)| part[j] < *i) {
                first = Some((part[j], e));
            }
        }
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
    replay_then(bytes, expect_head, trusted, |_| ()).map(|(r, ())| r)
}

/// [`replay`], and `then` on what it establishes, run while the signatures are still being
/// checked on the other cores (the verifier's longest step); its result counts only if every
/// signature is good. A bad signature is reported before any replay error.
pub fn replay_then<T: Send>(
    bytes: &[u8],
    expect_head: Option<Hash32>,
    trusted: &[[u8; 32]],
    then: impl FnOnce(&Replayed) -> T + Send,
) -> Result<(Replayed, T), IntegrityError> {
    let bundle = Bundle::decode(bytes).map_err(|e| IntegrityError(e.to_string()))?;
    if let Some(h) = expect_head {
        if h != bundle.head {
            return fail(format!(
                "bundle is for head {} but the expected head is {h}",
                bundle.head
            ));
        }
    }
    let decoded = decode_signed(&bundle)?;
    let (signatures, replayed) = std::thread::scope(|s| {
        let signatures = s.spawn(|| verify_signatures(&decoded));
        let replayed = replay_records(&bundle, &decoded).and_then(|(state, records, signers)| {
            let founder = check_ends(&bundle, &state, &records, trusted)?;
            let r = Replayed {
                bundle,
                state,
                records,
                founder,
                signers,
            };
            let t = then(&r);
            Ok((r, t))
        });
        let signatures = signatures
            .join()
            .unwrap_or_else(|_| fail("the signature check stopped"));
        (signatures, replayed)
    });
    signatures?;
    replayed
}

/// Decodes every record; each must be signed.
fn decode_signed(bundle: &Bundle) -> Result<Vec<Record>, IntegrityError> {
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
    Ok(decoded)
}

/// What replaying the records yields: the state, the records with their hashes, their signers.
type ReplayedRecords = (LedgerState, Vec<(Record, Hash32)>, Vec<ParticipantId>);

/// Replays the records in bundle order (withheld registry records in their places) through the
/// rules; global sequence numbers must strictly increase.
fn replay_records(bundle: &Bundle, decoded: &[Record]) -> Result<ReplayedRecords, IntegrityError> {
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
        let hash = state.apply_stored(rec, b).map_err(|e| {
            IntegrityError(format!("record {i} (lot {} seq {}): {e}", rec.lot, rec.seq))
        })?;
        let signer = registry(&state)
            .and_then(|r| r.key(&sig.public_key))
            .map(|k| k.participant)
            .ok_or_else(|| {
                IntegrityError(format!("record {i}: signer vanished from the registry"))
            })?;
        signers.push(signer);
        records.push((rec.clone(), hash));
    }
    if withheld.next().is_some() {
        return fail("the bundle ends with a withheld registry record: no record after it commits to its hash");
    }
    Ok((state, records, signers))
}

/// The registry starts at its genesis (founded by a trusted key, if any are given) and the
/// subject's chain ends at the head the bundle claims. Returns the founder's key.
fn check_ends(
    bundle: &Bundle,
    state: &LedgerState,
    records: &[(Record, Hash32)],
    trusted: &[[u8; 32]],
) -> Result<[u8; 32], IntegrityError> {
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
    Ok(founder)
}
