//! Reproduction of a sled 0.34 finding: resident memory and disk use grow by ~700 bytes per
//! appended event (three keys each), whatever `cache_capacity` says. Run with
//! `cargo run --release -p ree-store --example rss_probe idem` and watch VmRSS track the store size.

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
