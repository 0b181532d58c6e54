//! The committer thread: the only writer. It drains queued requests into a group, stages every
//! submission against the lot states, writes the group with one `Store::append`, and only then
//! publishes the new states and answers.

use std::collections::HashMap;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, RwLock};

use ree_core::state::{Appended, Changes, Staged};
use ree_core::{EventId, Hash32, LedgerState, Record, UtcMicros};
use ree_store::{Batch, IdempotencyEntry, NewRecord, Store};

use crate::error::SubmitError;
use crate::submit::{staged_binding, Item, Prepared, Reply, Request};
use crate::tree::LogTree;
use crate::types::{AppendedRecord, Committed, Observer, Outcome};

/// Most records one group commit writes.
const MAX_GROUP_RECORDS: usize = 8192;

/// What the engine handle and the committer share.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    /// Committed, durable state only: the committer writes it after the sync.
    pub(crate) state: RwLock<LedgerState>,
    /// Set when a storage failure stopped writes.
    pub(crate) poisoned: Mutex<Option<String>>,
    pub(crate) observer: Option<Observer>,
    /// The Merkle tree of every record: extended before the state is published.
    pub(crate) tree: LogTree,
}

/// The committer thread's body: one group per wake-up, until every sender is gone.
pub(crate) fn committer_loop(shared: &Shared, rx: Receiver<Request>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        let mut records: usize = group[0].items.len();
        while records < MAX_GROUP_RECORDS / 2 {
            match rx.try_recv() {
                Ok(request) => {
                    records += request.items.len();
                    group.push(request);
                }
                Err(_) => break,
            }
        }
        commit_group(shared, group);
    }
}

/// What the committer decided for one submission before the group is durable.
enum Decision {
    Done(Result<Outcome, SubmitError>),
    /// Accepted in this group: durable once the append returns.
    Pending(Outcome),
}

/// Ids accepted in this group (with their body hash), for retries arriving in the same group.
type InGroup = HashMap<EventId, (Hash32, Outcome)>;

/// One group's write path, step by step:
/// 1. **Known outcome**: an event id already accepted (in this group, then in the durable
///    idempotency index) is answered with its original result, or refused as a conflict.
/// 2. **Stage**: each request gets an overlay over the group's staged state; each submission is
///    staged on an overlay of its own over that (the rules run in `Staged::append`) and kept
///    only whole; an atomic batch is kept whole or dropped whole.
/// 3. **Batch**: the kept records, their lot index and idempotency entries join one `Batch`.
/// 4. **Write**: one `Store::append`: atomic and durable (the fdatasync) when it returns.
/// 5. **Publish**: the staged states become the committed state, watchers are told, every
///    caller is answered. A failed write stops the engine instead (see [`answer`]).
fn commit_group(shared: &Shared, group: Vec<Request>) {
    let now = now_utc();
    let mut batch = Batch::default();
    let mut committed: Vec<Committed> = Vec::new();
    let mut answers: Vec<(Vec<Decision>, Reply)> = Vec::with_capacity(group.len());
    let changes = {
        let state = shared.state.read().unwrap_or_else(|e| e.into_inner());
        let mut staged = Staged::new(&*state, state.next_global_seq());
        let mut in_group = InGroup::new();
        for request in group {
            let (decisions, kept) = stage_request(
                shared,
                &staged,
                &mut in_group,
                request.items,
                request.atomic,
                now,
            );
            if let Some((request_changes, accepted)) = kept {
                staged.absorb(request_changes);
                add_to_batch(&mut batch, &mut committed, accepted);
            }
            answers.push((decisions, request.reply));
        }
        staged.into_changes()
    };
    let write = if batch.records.is_empty() {
        Ok(())
    } else {
        shared.store.append(&batch)
    };
    match write {
        Ok(()) => {
            if !batch.records.is_empty() {
                // The records are durable: they are published and answered. A tree file that
                // cannot be written stops further writes (a restart rebuilds it from them).
                if let Err(e) = shared.tree.extend(committed.iter().map(|c| c.hash)) {
                    let msg = format!("tree hashes file: {e}; writes stopped until restart");
                    tracing::error!("{msg}");
                    *shared.poisoned.lock().unwrap_or_else(|e| e.into_inner()) = Some(msg);
                }
                shared
                    .state
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .commit(changes);
                if let Some(observer) = &shared.observer {
                    observer(&committed);
                }
            }
            answer(answers, Ok);
        }
        Err(e) => {
            // The store may or may not hold the group; the in-memory state no longer knows.
            // Stop writing rather than risk a fork: a restart replays what is on disk.
            let msg = format!("storage failure, writes stopped until restart: {e}");
            tracing::error!("{msg}");
            *shared.poisoned.lock().unwrap_or_else(|e| e.into_inner()) = Some(msg.clone());
            answer(answers, |_| Err(SubmitError::Unavailable(msg.clone())));
        }
    }
}

/// Answers every request of the group; `pending` says what became of the accepted ones.
fn answer(
    answers: Vec<(Vec<Decision>, Reply)>,
    pending: impl Fn(Outcome) -> Result<Outcome, SubmitError>,
) {
    for (decisions, reply) in answers {
        reply(
            decisions
                .into_iter()
                .map(|decision| match decision {
                    Decision::Done(result) => result,
                    Decision::Pending(outcome) => pending(outcome),
                })
                .collect(),
        );
    }
}

/// A request's accepted submissions with their records, and the overlay's changes.
type Kept = (Changes, Vec<(Prepared, Vec<Appended>)>);

/// Steps 1 and 2 for one request, on an overlay of `base`. `None` for what is kept when an
/// atomic batch failed: nothing of it is.
fn stage_request(
    shared: &Shared,
    base: &Staged<'_>,
    in_group: &mut InGroup,
    items: Vec<Item>,
    atomic: bool,
    now: UtcMicros,
) -> (Vec<Decision>, Option<Kept>) {
    let mut decisions: Vec<Decision> = Vec::with_capacity(items.len());
    let mut layer = Staged::new(base, base.next_global_seq());
    let mut accepted: Vec<(Prepared, Vec<Appended>)> = Vec::new();
    let mut failed_at: Option<usize> = None;
    for (index, item) in items.into_iter().enumerate() {
        let prepared = match item {
            Ok(prepared) => prepared,
            Err(e) => {
                decisions.push(Decision::Done(Err(e)));
                continue;
            }
        };
        let id = prepared.body.event_id;
        let result = match known_outcome(shared, in_group, &prepared) {
            Some(known) => Err(known),
            None => stage_one(&mut layer, &prepared, now).map_err(Err),
        };
        match result {
            Ok(appended) => {
                let outcome = outcome_of(id, &appended, false);
                in_group.insert(id, (prepared.key.body_hash, outcome.clone()));
                decisions.push(Decision::Pending(outcome));
                accepted.push((prepared, appended));
            }
            Err(done) => {
                if atomic && done.is_err() {
                    failed_at.get_or_insert(index);
                }
                decisions.push(Decision::Done(done));
            }
        }
    }
    if let (true, Some(bad)) = (atomic, failed_at) {
        // Nothing of an atomic batch with a failure is kept.
        for decision in decisions.iter_mut() {
            if let Decision::Pending(outcome) = decision {
                in_group.remove(&outcome.event_id);
                *decision = Decision::Done(Err(SubmitError::Aborted { failed: bad }));
            }
        }
        return (decisions, None);
    }
    (decisions, Some((layer.into_changes(), accepted)))
}

/// Step 1: the answer already given to this event id, if any (this group first, then the
/// durable index).
fn known_outcome(
    shared: &Shared,
    in_group: &InGroup,
    prepared: &Prepared,
) -> Option<Result<Outcome, SubmitError>> {
    let id = prepared.body.event_id;
    match in_group.get(&id) {
        Some((body_hash, outcome)) => Some(if *body_hash == prepared.key.body_hash {
            Ok(Outcome {
                replayed: true,
                ..outcome.clone()
            })
        } else {
            Err(SubmitError::Conflict(id))
        }),
        None => match shared.store.idempotency(id) {
            Err(e) => Some(Err(SubmitError::Unavailable(e.to_string()))),
            Ok(Some(entry)) if entry.body_hash == prepared.key.body_hash => {
                Some(stored_outcome(&*shared.store, id, &entry))
            }
            Ok(Some(_)) => Some(Err(SubmitError::Conflict(id))),
            Ok(None) => None,
        },
    }
}

/// Step 2 for one submission: the key binding against the registry as staged, then its records,
/// on an overlay of their own: a rejected event leaves no trace, not even its first lot's record
/// when a later lot's fails (`Staged::append` stops at the failing record, keeping the others).
fn stage_one(
    layer: &mut Staged<'_>,
    prepared: &Prepared,
    now: UtcMicros,
) -> Result<Vec<Appended>, SubmitError> {
    staged_binding(layer, prepared)?;
    let mut one = Staged::new(layer, layer.next_global_seq());
    let appended = one.append(&prepared.bytes, &prepared.body, prepared.signature, now)?;
    let changes = one.into_changes();
    layer.absorb(changes);
    Ok(appended)
}

/// Step 3: a kept request's records and idempotency entries join the group's batch.
fn add_to_batch(
    batch: &mut Batch,
    committed: &mut Vec<Committed>,
    accepted: Vec<(Prepared, Vec<Appended>)>,
) {
    for (prepared, appended) in accepted {
        batch.idempotency.push((
            prepared.key.event_id,
            IdempotencyEntry {
                body_hash: prepared.key.body_hash,
                first_global_seq: appended[0].record.global_seq,
                count: appended.len() as u8,
            },
        ));
        for record in appended {
            let bytes: Arc<[u8]> = Arc::from(record.bytes.as_slice());
            committed.push(Committed {
                lot: record.record.lot,
                seq: record.record.seq,
                global_seq: record.record.global_seq,
                hash: record.hash,
                bytes,
            });
            batch.records.push(NewRecord {
                global_seq: record.record.global_seq,
                lot: record.record.lot,
                seq: record.record.seq,
                bytes: record.bytes,
            });
        }
    }
}

fn outcome_of(event_id: EventId, appended: &[Appended], replayed: bool) -> Outcome {
    Outcome {
        event_id,
        records: appended
            .iter()
            .map(|a| AppendedRecord {
                lot: a.record.lot,
                seq: a.record.seq,
                global_seq: a.record.global_seq,
                hash: a.hash,
            })
            .collect(),
        replayed,
    }
}

/// The original result of an already-stored submission, read back from its records.
fn stored_outcome(
    store: &dyn Store,
    id: EventId,
    e: &IdempotencyEntry,
) -> Result<Outcome, SubmitError> {
    let mut records = Vec::new();
    for g in e.first_global_seq..e.first_global_seq + e.count as u64 {
        let bytes = store
            .record(g)
            .map_err(|e| SubmitError::Unavailable(e.to_string()))?
            .ok_or_else(|| {
                SubmitError::Unavailable(format!(
                    "idempotency entry of {id} names missing record {g}"
                ))
            })?;
        let rec = Record::decode(&bytes).map_err(|e| SubmitError::Unavailable(e.to_string()))?;
        records.push(AppendedRecord {
            lot: rec.lot,
            seq: rec.seq,
            global_seq: g,
            hash: ree_core::record::record_hash(&bytes),
        });
    }
    Ok(Outcome {
        event_id: id,
        records,
        replayed: true,
    })
}

/// The server's clock as UTC microseconds: what the committer stamps records with.
pub fn now_utc() -> UtcMicros {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    UtcMicros(d.as_micros().min(i64::MAX as u128) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ree_core::element::Element;
    use ree_core::event::{CampaignOpened, Composition, EventKind, InputCharged, OreReceipt};
    use ree_core::record::{Signature, SubmissionKey};
    use ree_core::state::{LotState, LotView};
    use ree_core::testkit::Team;
    use ree_core::{Country, EventBody, LotId};

    const NOW: UtcMicros = UtcMicros(1_760_000_000_000_000);

    fn prepared(team: &Team, view: &dyn LotView, kind: EventKind) -> Prepared {
        let mut body = EventBody {
            event_id: EventId::new_v7(),
            occurred_at: NOW,
            expected_head: None,
            kind,
        };
        body.commit_to(|l| view.lot(l).map(|s| s.head));
        let (bytes, signature) = team.sign(&body);
        Prepared {
            key: SubmissionKey {
                event_id: body.event_id,
                body_hash: Hash32::ZERO,
            },
            body,
            bytes,
            signature: Some(signature),
            caller: None,
        }
    }

    fn commit(state: &mut LedgerState, bytes: &[u8], signature: Signature) {
        let body = EventBody::decode(bytes).unwrap();
        let mut staged = Staged::new(&*state, state.next_global_seq());
        staged.append(bytes, &body, Some(signature), NOW).unwrap();
        let changes = staged.into_changes();
        state.commit(changes);
    }

    /// The committed state with one lot replaced: a view no real ledger reaches, to make the
    /// second record of an event fail after its first was built.
    struct Replaced<'a> {
        base: &'a LedgerState,
        lot: LotState,
    }

    impl LotView for Replaced<'_> {
        fn lot(&self, id: &LotId) -> Option<&LotState> {
            if *id == self.lot.id {
                return Some(&self.lot);
            }
            self.base.lot(id)
        }
    }

    #[test]
    fn an_event_whose_second_record_fails_leaves_the_overlay_as_it_was() {
        let team = Team::new(3);
        let mut state = LedgerState::new();
        for (bytes, signature) in team.registry_events(NOW) {
            commit(&mut state, &bytes, signature);
        }
        let (input, campaign) = (LotId::new_v7(), LotId::new_v7());
        let ore = EventKind::OreReceipt(OreReceipt {
            facility: ree_core::testkit::mine(Country::parse("AU").unwrap()),
            lot: input,
            supplier: "Lynas".into(),
            mine_site: "Mt Weld".into(),
            country: Country::parse("AU").unwrap(),
            mass_g: 1_000,
            reo_grade_ppm: 380_000,
            assay: Composition::new(vec![(Element::Nd, 100_000)]).unwrap(),
            documents: vec![],
        });
        let opened = EventKind::CampaignOpened(CampaignOpened {
            facility_id: ree_core::testkit::separation_site(Country::parse("FR").unwrap()),
            campaign,
            facility: "Lacq SX-1".into(),
            country: Country::parse("FR").unwrap(),
        });
        for kind in [ore, opened] {
            let p = prepared(&team, &state, kind);
            commit(&mut state, &p.bytes, p.signature.unwrap());
        }
        // The campaign's balance cannot take another gram: the input's debit (first record)
        // succeeds, the campaign's credit (second record) overflows.
        let mut full = state.lot(&campaign).unwrap().clone();
        full.balance_g = u64::MAX;
        let view = Replaced {
            base: &state,
            lot: full,
        };
        let mut layer = Staged::new(&view, state.next_global_seq());
        let charge = prepared(
            &team,
            &view,
            EventKind::InputCharged(InputCharged {
                campaign,
                input,
                mass_g: 1,
                input_head: Default::default(),
            }),
        );
        let overlay = |layer: &Staged<'_>| {
            let lots = [input, campaign].map(|id| layer.lot(&id).cloned());
            (lots, layer.next_global_seq())
        };
        let before = overlay(&layer);
        match stage_one(&mut layer, &charge, NOW) {
            Err(SubmitError::Rule(e)) => assert!(e.to_string().contains("overflows"), "{e}"),
            other => panic!("expected the campaign's overflow, got {other:?}"),
        }
        assert_eq!(overlay(&layer), before);
    }
}
