use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use super::frame::{push_commit, push_frame, KIND_RECORD};
use super::*;
use crate::NewRecord;
use ree_core::event::{Adjustment, EventBody, EventKind};
use ree_core::Hash32;
use ree_core::UtcMicros;

fn rec(g: u64, lot: LotId, seq: u64, id: EventId) -> NewRecord {
    let body = EventBody {
        event_id: id,
        occurred_at: UtcMicros(1_760_000_000_000_000),
        expected_head: None,
        kind: EventKind::Adjustment(Adjustment {
            lot,
            delta_g: -1,
            reason: "r".into(),
            countersignature: None,
        }),
    }
    .encode()
    .unwrap();
    let r = Record {
        lot,
        seq,
        global_seq: g,
        prev: Hash32([seq as u8; 32]),
        recorded_at: UtcMicros(1),
        registry: Hash32::ZERO,
        link: None,
        body,
        signature: None,
    };
    NewRecord {
        global_seq: g,
        lot,
        seq,
        bytes: r.encode(),
    }
}

fn batch(from: u64, n: u64, lots: &[LotId], seqs: &mut HashMap<LotId, u64>) -> Batch {
    let mut b = Batch::default();
    for g in from..from + n {
        let lot = lots[(g % lots.len() as u64) as usize];
        let s = seqs.entry(lot).or_insert(0);
        let id = EventId::new_v7();
        b.records.push(rec(g, lot, *s, id));
        b.idempotency.push((
            id,
            IdempotencyEntry {
                body_hash: Hash32::ZERO,
                first_global_seq: g,
                count: 1,
            },
        ));
        *s += 1;
    }
    b
}

#[test]
fn a_torn_tail_is_cut_and_damage_before_acknowledged_data_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let lots = [LotId::new_v7()];
    let mut seqs = HashMap::new();
    {
        let (s, _) = LogStore::open(dir.path()).unwrap();
        for k in 0..3 {
            s.append(&batch(k * 10 + 1, 10, &lots, &mut seqs)).unwrap();
        }
    }
    let log = dir.path().join("log/records.log");
    let len = std::fs::metadata(&log).unwrap().len();
    // A torn write: half of a fourth group, never acknowledged (the process died writing it).
    let torn = append_group(&log, &batch(31, 10, &lots, &mut seqs), false);
    let before = std::fs::read(&log).unwrap();
    // Read-only, it is reported and left in place.
    let (_, r) = LogStore::open_with(dir.path(), OpenMode::ReadOnly).unwrap();
    assert_eq!((r.records, r.truncated_bytes), (30, torn));
    assert_eq!(
        std::fs::read(&log).unwrap(),
        before,
        "read-only changed the log"
    );
    let (s, r) = LogStore::open(dir.path()).unwrap();
    assert_eq!(
        r.records, 30,
        "the unacknowledged group is gone, the others stay"
    );
    assert_eq!(r.truncated_bytes, torn);
    assert_eq!(std::fs::metadata(&log).unwrap().len(), len);
    // The store appends again after the cut.
    let mut seqs2 = HashMap::from([(lots[0], 30u64)]);
    s.append(&batch(31, 10, &lots, &mut seqs2)).unwrap();
    drop(s);
    // A flipped byte inside the first group, with acknowledged groups after it: refused.
    let mut bytes = std::fs::read(&log).unwrap();
    bytes[40] ^= 0x10;
    std::fs::write(&log, &bytes).unwrap();
    match LogStore::open(dir.path()) {
        Err(StoreError::Corrupt(m)) => assert!(m.contains("acknowledged"), "{m}"),
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("opened a damaged log"),
    }
}

/// Appends `b`'s frames to the log behind the store's back: whole with its commit frame (a group
/// whose fdatasync completed but whose superblock update did not), or the first half of it only
/// (a torn write). Returns the bytes appended.
fn append_group(log: &Path, b: &Batch, whole: bool) -> u64 {
    let mut buf = vec![];
    for r in &b.records {
        push_frame(&mut buf, KIND_RECORD, &r.bytes);
    }
    push_commit(&mut buf, b.records.last().unwrap().global_seq);
    let n = if whole { buf.len() } else { buf.len() / 2 };
    let mut f = OpenOptions::new().append(true).open(log).unwrap();
    f.write_all(&buf[..n]).unwrap();
    n as u64
}

#[test]
fn cutting_acknowledged_data_off_the_log_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let lots = [LotId::new_v7(), LotId::new_v7()];
    let mut seqs = HashMap::new();
    {
        let (s, _) = LogStore::open(dir.path()).unwrap();
        for k in 0..20 {
            s.append(&batch(k * 50 + 1, 50, &lots, &mut seqs)).unwrap();
        }
    }
    let log = dir.path().join("log/records.log");
    let full = std::fs::read(&log).unwrap();
    // Truncated to half: every commit frame left is valid, yet 500 acknowledged records are gone.
    std::fs::write(&log, &full[..full.len() / 2]).unwrap();
    for mode in [OpenMode::ReadOnly, OpenMode::Write, OpenMode::Repair] {
        match LogStore::open_with(dir.path(), mode) {
            Err(StoreError::Corrupt(m)) => assert!(
                m.contains(
                    "records.log: acknowledged data is missing: expected 1000 records / length"
                ) && m.contains(&format!("{} bytes", full.len())),
                "{m}"
            ),
            Err(e) => panic!("{mode:?}: wrong error {e}"),
            Ok(_) => panic!("{mode:?}: opened a log missing acknowledged data"),
        }
        assert_eq!(
            std::fs::metadata(&log).unwrap().len(),
            full.len() as u64 / 2
        );
    }
    // The same length with another last record (a swapped log): refused too.
    let mut swapped = full.clone();
    let n = swapped.len();
    swapped[n - 60] ^= 1;
    std::fs::write(&log, &swapped).unwrap();
    assert!(LogStore::open(dir.path()).is_err());
    // Without its superblock, a non-empty log is refused, except by a repair, which rebuilds it.
    std::fs::write(&log, &full).unwrap();
    std::fs::remove_file(dir.path().join("log/committed")).unwrap();
    match LogStore::open(dir.path()) {
        Err(StoreError::Corrupt(m)) => assert!(m.contains("ree repair"), "{m}"),
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("opened a log without its superblock"),
    }
    assert!(LogStore::open_with(dir.path(), OpenMode::ReadOnly).is_err());
    let (_, r) = LogStore::open_with(dir.path(), OpenMode::Repair).unwrap();
    assert!(r.superblock_rebuilt);
    assert_eq!(r.records, 1000);
    let (_, r) = LogStore::open(dir.path()).unwrap();
    assert_eq!(r.records, 1000);
}

#[test]
fn a_complete_group_whose_superblock_update_was_lost_is_kept_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let lots = [LotId::new_v7()];
    let mut seqs = HashMap::new();
    {
        let (s, _) = LogStore::open(dir.path()).unwrap();
        s.append(&batch(1, 10, &lots, &mut seqs)).unwrap();
    }
    let log = dir.path().join("log/records.log");
    append_group(&log, &batch(11, 10, &lots, &mut seqs), true);
    let (s, r) = LogStore::open(dir.path()).unwrap();
    assert_eq!((r.records, r.truncated_bytes), (20, 0));
    drop(s);
    // The superblock now covers it: cutting it off is refused.
    let len = std::fs::metadata(&log).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(len - 1)
        .unwrap();
    assert!(LogStore::open(dir.path()).is_err());
}

#[test]
fn a_read_only_store_creates_nothing_and_refuses_appends() {
    let dir = tempfile::tempdir().unwrap();
    let lots = [LotId::new_v7()];
    let mut seqs = HashMap::new();
    {
        let (s, _) = LogStore::open(dir.path()).unwrap();
        s.append(&batch(1, 10, &lots, &mut seqs)).unwrap();
    }
    for f in ["gseq.idx", "lotprev.idx", "LOCK"] {
        std::fs::remove_file(dir.path().join("log").join(f)).unwrap();
    }
    std::fs::remove_dir_all(dir.path().join("log/idem")).unwrap();
    let (s, r) = LogStore::open_with(dir.path(), OpenMode::ReadOnly).unwrap();
    assert_eq!(r.records, 10);
    assert_eq!(s.lot_records(lots[0], 0, 100).unwrap().len(), 10);
    assert!(matches!(
        s.append(&batch(11, 1, &lots, &mut seqs)),
        Err(StoreError::ReadOnly)
    ));
    let mut left: Vec<_> = std::fs::read_dir(dir.path().join("log"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["committed", "records.log"]);
}

#[test]
fn an_empty_batch_writes_nothing_and_the_log_still_opens() {
    let dir = tempfile::tempdir().unwrap();
    let lots = [LotId::new_v7()];
    let mut seqs = HashMap::new();
    let log = dir.path().join("log/records.log");
    {
        let (s, _) = LogStore::open(dir.path()).unwrap();
        s.append(&Batch::default()).unwrap();
        s.append(&batch(1, 3, &lots, &mut seqs)).unwrap();
        let len = std::fs::metadata(&log).unwrap().len();
        s.append(&Batch::default()).unwrap();
        assert_eq!(std::fs::metadata(&log).unwrap().len(), len);
    }
    let (s, r) = LogStore::open(dir.path()).unwrap();
    assert_eq!((r.records, r.truncated_bytes), (3, 0));
    assert_eq!(s.records(1, 10).unwrap().len(), 3);
}
