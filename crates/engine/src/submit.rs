//! The caller's side of a submission, before the committer sees it: decode, stateless checks,
//! signatures (batched, on the caller's thread so that requests verify in parallel), and the
//! checks across the events of one request.

use std::collections::HashMap;

use ree_core::error::FieldError;
use ree_core::event::EventKind;
use ree_core::record::{Signature, SubmissionKey};
use ree_core::registry::{Registry, REGISTRY_LOT};
use ree_core::state::LotView;
use ree_core::{EventBody, Hash32, ParticipantId, Record, UtcMicros};

use crate::error::SubmitError;
use crate::types::{Outcome, Submission};

/// Most submissions one request may carry.
pub const MAX_BATCH: usize = 1000;

/// Called once with one result per submission of a request.
pub(crate) type Reply = Box<dyn FnOnce(Answers) + Send>;

/// A submission that passed every check the committer does not need the staged state for.
pub(crate) struct Prepared {
    pub(crate) body: EventBody,
    pub(crate) bytes: Vec<u8>,
    /// The idempotency key its first record will be stored under.
    pub(crate) key: SubmissionKey,
    pub(crate) signature: Option<Signature>,
    /// The authenticated caller, checked again against the registry as staged at commit time.
    pub(crate) caller: Option<ParticipantId>,
}

/// One request as queued for the committer.
pub(crate) struct Request {
    pub(crate) items: Vec<Item>,
    pub(crate) atomic: bool,
    pub(crate) reply: Reply,
}

/// One result per submission of a request, as the reply gets them.
pub(crate) type Answers = Vec<Result<Outcome, SubmitError>>;

/// One prepared submission, or why it was refused.
pub(crate) type Item = Result<Prepared, SubmitError>;

/// The same error for every submission of a request.
pub(crate) fn all_failed(n: usize, error: SubmitError) -> Answers {
    vec![Err(error); n]
}

/// Prepares every submission of a request. `Err` is the whole answer when nothing is to be
/// queued: too many events, or an atomic batch of which one already failed.
pub(crate) fn prepare_request(
    subs: Vec<Submission>,
    atomic: bool,
    now: UtcMicros,
    registry: Option<&Registry>,
) -> Result<Vec<Item>, Answers> {
    if subs.len() > MAX_BATCH {
        let n = subs.len();
        let err = SubmitError::Invalid(FieldError::new(
            "events",
            format!("{n} events in one batch, at most {MAX_BATCH}"),
        ));
        return Err(all_failed(n, err));
    }
    let mut items: Vec<Item> = subs
        .into_iter()
        .map(|s| prepare(s, now, registry))
        .collect();
    check_signatures(&mut items, registry);
    refuse_repeats(&mut items, atomic);
    if atomic {
        if let Some(bad) = items.iter().position(|r| r.is_err()) {
            return Err(items
                .into_iter()
                .map(|r| match r {
                    Err(e) => Err(e),
                    Ok(_) => Err(SubmitError::Aborted { failed: bad }),
                })
                .collect());
        }
    }
    Ok(items)
}

/// Two events of one request with the same id: the later one is refused outright. A separation
/// (an atomic batch) charges each input once.
fn refuse_repeats(items: &mut [Item], atomic: bool) {
    let mut seen = HashMap::new();
    let mut charged = HashMap::new();
    for (i, it) in items.iter_mut().enumerate() {
        if let Ok(p) = it {
            if let Some(first) = seen.insert(p.body.event_id, i) {
                *it = Err(SubmitError::Invalid(FieldError::new(
                    format!("events[{i}].event_id"),
                    format!("repeats the event id of events[{first}]"),
                )));
                continue;
            }
            if let (true, EventKind::InputCharged(c)) = (atomic, &p.body.kind) {
                if let Some(first) = charged.insert((c.campaign, c.input), i) {
                    *it = Err(SubmitError::Invalid(FieldError::new(
                        format!("events[{i}].input_charged.input_lot_id"),
                        format!("lot {} is already charged into this campaign by events[{first}] of the same separation", c.input),
                    )));
                }
            }
        }
    }
}

fn prepare(
    s: Submission,
    now: UtcMicros,
    registry: Option<&Registry>,
) -> Result<Prepared, SubmitError> {
    if s.body.len() > ree_core::record::MAX_BODY_LEN {
        return Err(FieldError::new(
            "body",
            format!(
                "{} bytes, at most {}",
                s.body.len(),
                ree_core::record::MAX_BODY_LEN
            ),
        )
        .into());
    }
    let body = EventBody::decode(&s.body)?;
    body.validate(now)?;
    let Some(sig) = &s.signature else {
        return Err(SubmitError::Unauthenticated(
            "the event is not signed: sign the body bytes with your key (ree submit --key)".into(),
        ));
    };
    // The signature itself is checked by `check_signatures`, batched over the request.
    // A key belongs to one participant forever, so this check cannot race a registry change;
    // whether the key is still valid is checked again, in order, by the rules.
    if let Some(reg) = registry {
        key_bound_to_caller(reg, &sig.public_key, s.caller)?;
    }
    let (key, bytes) = submission_key(&body, s.body, now);
    let key = key.ok_or_else(|| FieldError::new("body", "carries no event id"))?;
    Ok(Prepared {
        body,
        bytes,
        key,
        signature: s.signature,
        caller: s.caller,
    })
}

/// The idempotency key the submission's first record will carry, asked of that record before
/// the committer places it ([`Record::submission_key`]): a retry is then recognised by the very
/// function its stored entry was made with. The key depends on the body bytes alone.
fn submission_key(
    body: &EventBody,
    bytes: Vec<u8>,
    now: UtcMicros,
) -> (Option<SubmissionKey>, Vec<u8>) {
    let unplaced = Record {
        lot: body.kind.lots().first().copied().unwrap_or(REGISTRY_LOT),
        seq: 0,
        global_seq: 0,
        prev: Hash32::ZERO,
        recorded_at: now,
        registry: Hash32::ZERO,
        link: None,
        body: bytes,
        signature: None,
    };
    (unplaced.submission_key(), unplaced.body)
}

/// The signing key, if registered, must belong to the authenticated caller. Checked early
/// against the committed registry and again in the committer against the registry as staged
/// (a key registered earlier in the same batch or group is then known too).
fn key_bound_to_caller(
    reg: &Registry,
    key: &[u8; 32],
    caller: Option<ParticipantId>,
) -> Result<(), SubmitError> {
    if let (Some(caller), Some(k)) = (caller, reg.key(key)) {
        if k.participant != caller {
            return Err(SubmitError::PermissionDenied(format!(
                "the event is signed with a key of participant {}, but the credential is participant {caller}'s",
                k.participant
            )));
        }
    }
    Ok(())
}

/// [`key_bound_to_caller`] against a staged view.
pub(crate) fn staged_binding(view: &dyn LotView, p: &Prepared) -> Result<(), SubmitError> {
    match (ree_core::state::registry(view), &p.signature) {
        (Some(reg), Some(sig)) => key_bound_to_caller(reg, &sig.public_key, p.caller),
        _ => Ok(()),
    }
}

/// Checks the signatures of every prepared submission of a request (on the caller's thread, so
/// that requests verify in parallel), with the registry's per-key verifiers; a bad one turns its
/// item into `BadSignature`.
fn check_signatures(items: &mut [Item], registry: Option<&Registry>) {
    let cached = |k: &[u8; 32]| {
        registry
            .and_then(|r| r.key(k))
            .and_then(|s| s.verifier.clone())
    };
    let (idx, refs): (Vec<usize>, Vec<(&[u8], &Signature)>) = items
        .iter()
        .enumerate()
        .filter_map(|(i, it)| match it {
            Ok(p) => p.signature.as_ref().map(|s| (i, (p.bytes.as_slice(), s))),
            Err(_) => None,
        })
        .unzip();
    let bad = ree_core::record::bad_signatures(&refs, &cached);
    for (j, why) in bad {
        items[idx[j]] = Err(SubmitError::BadSignature(why));
    }
}
