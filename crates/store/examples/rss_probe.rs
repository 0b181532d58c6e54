//! Memory and disk growth of the sled store as events are appended (three keys per event, as the
//! ledger writes them): `cargo run --release -p ree-store --example rss_probe idem`.
//! Without a page-cache cap, sled 0.34's RSS tracks the store size (~700 bytes per event); with
//! the 64 MiB cap it levels off, growing only by sled's per-page bookkeeping. Disk use is ~780
//! bytes per event for ~180-byte records: sled's log-structured space amplification.

use ree_core::{EventId, Hash32, LotId};
use ree_store::{Batch, IdempotencyEntry, NewRecord, SledStore, Store};
fn rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .unwrap()
        .to_string()
}
fn main() {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    let lot = LotId::new_v7();
    let mut g = 1u64;
    let with_idem = std::env::args().nth(1).as_deref() == Some("idem");
    for round in 0..12 {
        for _ in 0..1000 {
            let mut b = Batch::default();
            for _ in 0..100 {
                b.records.push(NewRecord {
                    global_seq: g,
                    lot,
                    seq: g,
                    bytes: vec![7u8; 180],
                });
                if with_idem {
                    b.idempotency.push((
                        EventId::new_v7(),
                        IdempotencyEntry {
                            body_hash: Hash32([1; 32]),
                            first_global_seq: g,
                            count: 1,
                        },
                    ));
                }
                g += 1;
            }
            s.append(&b).unwrap();
        }
        println!(
            "{} events: {} disk {}",
            (round + 1) * 100_000,
            rss(),
            s.size_on_disk().unwrap()
        );
    }
}
