//! One contract, every store: the same suite of behaviours runs against each implementation of
//! `ree_store::Store` (as Trillian's storage tester does), with `MemStore` as the model the
//! others must agree with. A new store is one more `contract_tests!` line at the bottom.
//!
//! The batches are honest, as the engine writes them: real records, gap-free global sequence
//! numbers, lot chains from seq 0, one idempotency entry per submission made from
//! `Record::submission_key` of its first record (the log store derives its index from the
//! records, so a batch that lied would be answered differently, and rightly so).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use ree_core::event::{Adjustment, EventBody, EventKind};
use ree_core::record::{record_hash, Link};
use ree_core::{EventId, Hash32, LotId, Record, UtcMicros};
use ree_store::{
    Batch, IdempotencyEntry, LogStore, MemStore, NewRecord, SledStore, Store, StoreError,
};

/// A store under test in its own directory; `reopen` closes it and opens it again.
struct Subject {
    dir: tempfile::TempDir,
    open: fn(&Path) -> Arc<dyn Store>,
    durable: bool,
    store: Option<Arc<dyn Store>>,
}

impl Subject {
    fn new(open: fn(&Path) -> Arc<dyn Store>, durable: bool) -> Subject {
        let dir = tempfile::tempdir().unwrap();
        let store = Some(open(dir.path()));
        Subject {
            dir,
            open,
            durable,
            store,
        }
    }
    fn store(&self) -> &dyn Store {
        self.store.as_deref().unwrap()
    }
    /// Closes the store and opens it again from disk; a store in memory stays as it is.
    fn reopen(&mut self) {
        if self.durable {
            self.store = None;
            self.store = Some((self.open)(self.dir.path()));
        }
    }
}

/// Opens sled, waiting out the lock of a handle just dropped: sled releases its `flock` from a
/// background flusher thread, after `Drop` returns (spacejam/sled#1289), so an immediate
/// reopen can briefly meet our own lock.
fn open_sled(dir: &Path) -> Arc<dyn Store> {
    for _ in 0..100 {
        match SledStore::open(dir) {
            Ok(s) => return Arc::new(s),
            Err(StoreError::InUse(_)) => std::thread::sleep(std::time::Duration::from_millis(50)),
            Err(e) => panic!("open sled: {e}"),
        }
    }
    panic!("sled's lock was not released within 5 s")
}

fn open_log(dir: &Path) -> Arc<dyn Store> {
    Arc::new(LogStore::open(dir).unwrap().0)
}

fn open_mem(_: &Path) -> Arc<dyn Store> {
    Arc::new(MemStore::new())
}

/// Writes honest batches and remembers what it wrote: every record's bytes, each lot's chain,
/// each submission's idempotency entry.
#[derive(Default)]
struct Ledger {
    /// Record bytes by global sequence number - 1.
    records: Vec<Vec<u8>>,
    /// Each lot's global sequence numbers, by seq.
    chains: HashMap<LotId, Vec<u64>>,
    submissions: Vec<(EventId, IdempotencyEntry)>,
}

impl Ledger {
    fn next_global_seq(&self) -> u64 {
        self.records.len() as u64 + 1
    }

    /// Adds to `batch` one submission naming `lots`: one record per lot, sharing one body, the
    /// second and later linked to the first (as a two-lot event is stored).
    fn submit(&mut self, batch: &mut Batch, lots: &[LotId]) {
        let body = EventBody {
            event_id: EventId::new_v7(),
            occurred_at: UtcMicros(1_760_000_000_000_000),
            expected_head: None,
            kind: EventKind::Adjustment(Adjustment {
                lot: lots[0],
                delta_g: -1,
                reason: "contract".into(),
                countersignature: None,
            }),
        }
        .encode()
        .expect("a valid test body");
        let first_global_seq = self.next_global_seq();
        let mut link = None;
        for lot in lots {
            let chain = self.chains.entry(*lot).or_default();
            let record = Record {
                lot: *lot,
                seq: chain.len() as u64,
                global_seq: self.records.len() as u64 + 1,
                prev: Hash32([chain.len() as u8; 32]),
                recorded_at: UtcMicros(1),
                registry: Hash32::ZERO,
                link,
                body: body.clone(),
                signature: None,
            };
            let bytes = record.encode();
            if link.is_none() {
                let key = record
                    .submission_key()
                    .expect("a first record starts a submission");
                let entry = IdempotencyEntry {
                    body_hash: key.body_hash,
                    first_global_seq,
                    count: lots.len() as u8,
                };
                batch.idempotency.push((key.event_id, entry));
                self.submissions.push((key.event_id, entry));
                link = Some(Link {
                    lot: *lot,
                    seq: record.seq,
                    hash: record_hash(&bytes),
                });
            }
            chain.push(record.global_seq);
            batch.records.push(NewRecord {
                global_seq: record.global_seq,
                lot: *lot,
                seq: record.seq,
                bytes: bytes.clone(),
            });
            self.records.push(bytes);
        }
    }

    /// A batch of `n` one-lot submissions, round robin over `lots`.
    fn batch(&mut self, n: usize, lots: &[LotId]) -> Batch {
        let mut batch = Batch::default();
        for _ in 0..n {
            let lot = lots[(self.next_global_seq() % lots.len() as u64) as usize];
            self.submit(&mut batch, &[lot]);
        }
        batch
    }

    fn bytes(&self, global_seq: u64) -> &[u8] {
        &self.records[global_seq as usize - 1]
    }
}

fn seqs(got: &[(u64, Vec<u8>)]) -> Vec<u64> {
    got.iter().map(|r| r.0).collect()
}

fn scanned(store: &dyn Store, from: u64) -> Vec<(u64, Vec<u8>)> {
    let mut out = vec![];
    store
        .scan(from, &mut |g, b| {
            out.push((g, b.to_vec()));
            Ok(())
        })
        .unwrap();
    out
}

/// The behaviours, each run against every store by `contract_tests!`.
mod cases {
    use super::*;

    pub fn an_empty_store_answers_nothing(mut subject: Subject) {
        for _ in 0..2 {
            let s = subject.store();
            assert_eq!(s.record(0).unwrap(), None);
            assert_eq!(s.record(1).unwrap(), None);
            assert!(s.lot_records(LotId::new_v7(), 0, 10).unwrap().is_empty());
            assert_eq!(s.idempotency(EventId::new_v7()).unwrap(), None);
            assert!(scanned(s, 0).is_empty());
            assert!(scanned(s, 1).is_empty());
            assert!(s.records(0, 10).unwrap().is_empty());
            assert_eq!(s.idempotency_count().unwrap(), 0);
            subject.reopen();
        }
    }

    pub fn appends_are_read_back_and_survive_reopen(mut subject: Subject) {
        let mut ledger = Ledger::default();
        let lot = LotId::new_v7();
        let batch = ledger.batch(5, &[lot]);
        subject.store().append(&batch).unwrap();
        for _ in 0..2 {
            let s = subject.store();
            assert_eq!(s.record(3).unwrap().as_deref(), Some(ledger.bytes(3)));
            let recs = s.lot_records(lot, 2, 10).unwrap();
            assert_eq!(seqs(&recs), vec![2, 3, 4]);
            for (id, entry) in &batch.idempotency {
                assert_eq!(s.idempotency(*id).unwrap(), Some(*entry));
            }
            assert_eq!(seqs(&scanned(s, 1)), vec![1, 2, 3, 4, 5]);
            assert_eq!(s.idempotency_count().unwrap(), 5);
            subject.reopen();
        }
    }

    /// Long chains (10,000 records a lot, so ten marks of the log store's 1024) read from
    /// anywhere, before and after a reopen.
    pub fn windows_of_long_chains_and_every_index_agree(mut subject: Subject) {
        let mut ledger = Ledger::default();
        let lots = [LotId::new_v7(), LotId::new_v7(), LotId::new_v7()];
        for k in 0..300 {
            let batch = ledger.batch(100, &lots);
            subject.store().append(&batch).unwrap();
            if k % 50 == 0 {
                for (id, entry) in &batch.idempotency {
                    assert_eq!(subject.store().idempotency(*id).unwrap(), Some(*entry));
                }
            }
        }
        subject.reopen();
        let s = subject.store();
        assert_eq!(s.idempotency_count().unwrap(), 30_000);
        assert_eq!(
            s.record(12_345).unwrap().as_deref(),
            Some(ledger.bytes(12_345))
        );
        assert!(s.record(30_001).unwrap().is_none());
        let lot = lots[1];
        let chain = s.lot_records(lot, 5, 7).unwrap();
        assert_eq!(seqs(&chain), (5..12).collect::<Vec<_>>());
        for (seq, bytes) in &chain {
            let d = Record::decode(bytes).unwrap();
            assert_eq!((d.lot, d.seq), (lot, *seq));
        }
        let windows = [
            (0u64, 20_000usize),
            (1023, 2),
            (1024, 1),
            (5_000, 3_000),
            (9_999, 5),
        ];
        for (from, limit) in windows {
            let got = s.lot_records(lots[0], from, limit).unwrap();
            let want: Vec<u64> = (from..(from + limit as u64).min(10_000)).collect();
            assert_eq!(seqs(&got), want, "from {from}");
            for (seq, bytes) in &got {
                let d = Record::decode(bytes).unwrap();
                assert_eq!((d.lot, d.seq), (lots[0], *seq));
                assert_eq!(bytes.as_slice(), ledger.bytes(d.global_seq));
            }
        }
        let tail = scanned(s, 29_990);
        assert_eq!(seqs(&tail), (29_990..=30_000).collect::<Vec<_>>());
        for (g, bytes) in &tail {
            assert_eq!(bytes.as_slice(), ledger.bytes(*g));
        }
        assert!(s.idempotency(EventId::new_v7()).unwrap().is_none());
    }

    pub fn an_empty_batch_changes_nothing(mut subject: Subject) {
        let mut ledger = Ledger::default();
        let lot = LotId::new_v7();
        subject.store().append(&Batch::default()).unwrap();
        subject.store().append(&ledger.batch(2, &[lot])).unwrap();
        subject.store().append(&Batch::default()).unwrap();
        for _ in 0..2 {
            let s = subject.store();
            assert_eq!(seqs(&s.records(0, 10).unwrap()), vec![1, 2]);
            assert_eq!(seqs(&s.lot_records(lot, 0, 10).unwrap()), vec![0, 1]);
            assert_eq!(s.idempotency_count().unwrap(), 2);
            subject.reopen();
        }
    }

    pub fn reads_come_in_order_within_their_limits(subject: Subject) {
        let mut ledger = Ledger::default();
        let lots = [LotId::new_v7(), LotId::new_v7()];
        for _ in 0..4 {
            subject.store().append(&ledger.batch(5, &lots)).unwrap();
        }
        let s = subject.store();
        assert_eq!(seqs(&s.records(0, 3).unwrap()), vec![1, 2, 3]);
        assert_eq!(seqs(&s.records(18, 10).unwrap()), vec![18, 19, 20]);
        assert!(s.records(21, 10).unwrap().is_empty());
        assert!(s.records(5, 0).unwrap().is_empty());
        for (g, bytes) in s.records(1, 100).unwrap() {
            assert_eq!(bytes, ledger.bytes(g));
        }
        assert_eq!(seqs(&scanned(s, 0)), (1..=20).collect::<Vec<_>>());
        assert_eq!(seqs(&scanned(s, 17)), vec![17, 18, 19, 20]);
        assert!(scanned(s, 21).is_empty());
        assert_eq!(
            seqs(&s.lot_records(lots[0], 0, 100).unwrap()),
            (0..10).collect::<Vec<_>>()
        );
        assert_eq!(seqs(&s.lot_records(lots[1], 8, 100).unwrap()), vec![8, 9]);
        assert!(s.lot_records(lots[1], 10, 100).unwrap().is_empty());
        assert!(s.lot_records(lots[1], 3, 0).unwrap().is_empty());
        // The scan stops at the visitor's first error and returns it.
        let mut calls = 0;
        let stopped = s.scan(1, &mut |_, _| {
            calls += 1;
            match calls {
                3 => Err(StoreError::Corrupt("visitor stops".into())),
                _ => Ok(()),
            }
        });
        assert!(matches!(stopped, Err(StoreError::Corrupt(m)) if m == "visitor stops"));
        assert_eq!(calls, 3);
    }

    pub fn unknown_ids_are_answered_with_nothing(subject: Subject) {
        let mut ledger = Ledger::default();
        let lot = LotId::new_v7();
        subject.store().append(&ledger.batch(3, &[lot])).unwrap();
        let s = subject.store();
        assert_eq!(s.record(0).unwrap(), None);
        assert_eq!(s.record(4).unwrap(), None);
        assert_eq!(s.record(u64::MAX).unwrap(), None);
        assert!(s.lot_records(LotId::new_v7(), 0, 10).unwrap().is_empty());
        assert!(s.lot_records(lot, u64::MAX, usize::MAX).unwrap().is_empty());
        assert_eq!(s.idempotency(EventId::new_v7()).unwrap(), None);
    }

    /// A two-lot submission is one idempotency entry covering both its records.
    pub fn a_multi_lot_submission_is_one_entry(mut subject: Subject) {
        let mut ledger = Ledger::default();
        let (a, b) = (LotId::new_v7(), LotId::new_v7());
        let mut batch = Batch::default();
        ledger.submit(&mut batch, &[a]);
        ledger.submit(&mut batch, &[a, b]);
        ledger.submit(&mut batch, &[b]);
        ledger.submit(&mut batch, &[b, a]);
        subject.store().append(&batch).unwrap();
        for _ in 0..2 {
            let s = subject.store();
            for (id, entry) in &ledger.submissions {
                assert_eq!(s.idempotency(*id).unwrap(), Some(*entry));
            }
            assert_eq!(s.idempotency_count().unwrap(), 4);
            assert_eq!(seqs(&s.lot_records(a, 0, 10).unwrap()), vec![0, 1, 2]);
            assert_eq!(seqs(&s.lot_records(b, 1, 10).unwrap()), vec![1, 2]);
            subject.reopen();
        }
    }

    /// A batch is visible whole or not at all: a reader racing the appends never sees its
    /// first record without its last one, its idempotency entries and its lots' heads.
    pub fn a_batch_is_never_seen_in_part(mut subject: Subject) {
        let mut ledger = Ledger::default();
        let lots = [LotId::new_v7(), LotId::new_v7()];
        let mut batches = vec![];
        for _ in 0..20 {
            let mut batch = Batch::default();
            ledger.submit(&mut batch, &lots);
            ledger.submit(&mut batch, &lots[..1]);
            ledger.submit(&mut batch, &[lots[1], lots[0]]);
            batches.push(batch);
        }
        let store = subject.store.clone().unwrap();
        std::thread::scope(|scope| {
            let writer = scope.spawn(|| {
                for batch in &batches {
                    store.append(batch).unwrap();
                }
            });
            loop {
                let finished = writer.is_finished();
                for batch in &batches {
                    if !visible_whole(&*store, batch) {
                        break;
                    }
                }
                if finished {
                    break;
                }
            }
            writer.join().unwrap();
        });
        drop(store);
        subject.reopen();
        for batch in &batches {
            assert!(visible_whole(subject.store(), batch));
        }
    }

    /// False when nothing of `batch` is visible yet; true when all of it is; panics on a part.
    fn visible_whole(s: &dyn Store, batch: &Batch) -> bool {
        let first = &batch.records[0];
        if s.record(first.global_seq).unwrap().is_none() {
            return false;
        }
        for r in &batch.records {
            assert_eq!(s.record(r.global_seq).unwrap().as_ref(), Some(&r.bytes));
            let at = s.lot_records(r.lot, r.seq, 1).unwrap();
            assert_eq!(at, vec![(r.seq, r.bytes.clone())]);
        }
        for (id, entry) in &batch.idempotency {
            assert_eq!(s.idempotency(*id).unwrap(), Some(*entry));
        }
        true
    }

    /// Every query a store answers, answered by `s`, to compare with the model's answers:
    /// `lots` and `ids` include some the ledger never wrote.
    fn every_answer(
        s: &dyn Store,
        ledger: &Ledger,
        lots: &[LotId],
        ids: &[EventId],
    ) -> Vec<String> {
        let end = ledger.next_global_seq();
        let mut out = vec![format!("count {:?}", s.idempotency_count().unwrap())];
        for g in 0..=end {
            out.push(format!("record {g} {:?}", s.record(g).unwrap()));
            for limit in [0, 1, 3, usize::MAX] {
                out.push(format!(
                    "records {g} {limit} {:?}",
                    s.records(g, limit).unwrap()
                ));
            }
            out.push(format!("scan {g} {:?}", scanned(s, g)));
        }
        for lot in lots {
            let head = ledger.chains.get(lot).map_or(0, |c| c.len() as u64);
            for from in 0..=head + 1 {
                for limit in [0, 1, 2, 1000, usize::MAX] {
                    let got = s.lot_records(*lot, from, limit).unwrap();
                    out.push(format!("lot {lot} {from} {limit} {got:?}"));
                }
            }
        }
        for id in ids {
            out.push(format!(
                "idempotency {id} {:?}",
                s.idempotency(*id).unwrap()
            ));
        }
        out
    }

    /// Applies `batches` (submissions as lists of lot indexes) to `subject` and to a
    /// `MemStore`, and compares every answer after each batch and after a reopen.
    pub fn agrees_with_the_model(mut subject: Subject, batches: Vec<Vec<Vec<usize>>>) {
        let model = MemStore::new();
        let mut ledger = Ledger::default();
        // The fifth lot is never written.
        let lots: Vec<LotId> = (0..5).map(|_| LotId::new_v7()).collect();
        let never_submitted = EventId::new_v7();
        let compare = |subject: &Subject, ledger: &Ledger| {
            let ids: Vec<EventId> = ledger.submissions.iter().map(|s| s.0).collect();
            let ids = [ids, vec![never_submitted]].concat();
            let want = every_answer(&model, ledger, &lots, &ids);
            assert_eq!(every_answer(subject.store(), ledger, &lots, &ids), want);
        };
        for submissions in batches {
            let mut batch = Batch::default();
            for lot_indexes in submissions {
                let named: Vec<LotId> = lot_indexes.iter().map(|i| lots[*i]).collect();
                ledger.submit(&mut batch, &named);
            }
            model.append(&batch).unwrap();
            subject.store().append(&batch).unwrap();
            compare(&subject, &ledger);
        }
        subject.reopen();
        compare(&subject, &ledger);
    }
}

/// Submissions naming one lot, or two distinct lots, out of four.
fn submission() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        (0..4usize).prop_map(|a| vec![a]),
        (0..4usize, 1..4usize).prop_map(|(a, d)| vec![a, (a + d) % 4]),
    ]
}

/// Up to six batches of up to five submissions (an empty batch included).
fn batches() -> impl Strategy<Value = Vec<Vec<Vec<usize>>>> {
    prop::collection::vec(prop::collection::vec(submission(), 0..6), 1..7)
}

/// The contract's tests for one store: `contract_tests!(name, durable, open)` where `open`
/// opens (or creates) the store in a directory and `durable` says whether it survives a reopen.
macro_rules! contract_tests {
    ($name:ident, $durable:expr, $open:expr) => {
        mod $name {
            use super::*;

            fn subject() -> Subject {
                Subject::new($open, $durable)
            }

            contract_cases!(
                an_empty_store_answers_nothing,
                appends_are_read_back_and_survive_reopen,
                an_empty_batch_changes_nothing,
                windows_of_long_chains_and_every_index_agree,
                reads_come_in_order_within_their_limits,
                unknown_ids_are_answered_with_nothing,
                a_multi_lot_submission_is_one_entry,
                a_batch_is_never_seen_in_part,
            );

            proptest! {
                // Each case opens a durable store and fdatasyncs every batch: few, large cases.
                #![proptest_config(ProptestConfig::with_cases(16))]
                #[test]
                fn random_batches_agree_with_the_memory_model(batches in batches()) {
                    cases::agrees_with_the_model(subject(), batches);
                }
            }
        }
    };
}

macro_rules! contract_cases {
    ($($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                cases::$case(subject());
            }
        )*
    };
}

const DURABLE: bool = true;
const IN_MEMORY: bool = false;

contract_tests!(sled, DURABLE, open_sled);
contract_tests!(log, DURABLE, open_log);
contract_tests!(mem, IN_MEMORY, open_mem);
