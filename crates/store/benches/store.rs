//! Durable append throughput of the sled store (apply_batch + flush + fdatasync per batch):
//! `cargo bench -p ree-store`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ree_core::{EventId, Hash32, LotId};
use ree_store::{Batch, IdempotencyEntry, NewRecord, SledStore, Store};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let lot = LotId::new_v7();
    let mut next = 1u64;
    let mut g = c.benchmark_group("sled_durable_append");
    g.sample_size(20);
    for batch in [1usize, 100, 1000] {
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_function(format!("batch_{batch}"), |b| {
            b.iter(|| {
                let mut bt = Batch::default();
                for _ in 0..batch {
                    bt.records.push(NewRecord {
                        global_seq: next,
                        lot,
                        seq: next,
                        bytes: vec![7u8; 260],
                    });
                    bt.idempotency.push((
                        EventId::new_v7(),
                        IdempotencyEntry {
                            body_hash: Hash32([1; 32]),
                            first_global_seq: next,
                            count: 1,
                        },
                    ));
                    next += 1;
                }
                store.append(&bt).unwrap();
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
