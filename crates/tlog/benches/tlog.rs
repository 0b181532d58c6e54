//! Transparency-log costs: `cargo bench -p ree-tlog`.
//! - an inclusion proof at 10M leaves from the in-memory hash store (target p50 < 1 ms), and a
//!   consistency proof and a verification alongside it;
//! - appending 1M leaves to the frontier, with the root read once (checkpoints at 50k events/s).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ree_tlog::{
    consistency_proof, inclusion_proof, root, verify_inclusion, Frontier, Hash, MemHashStore,
    NodeId,
};
use std::hint::black_box;

const TREE: u64 = 10_000_000;

fn leaf(i: u64) -> [u8; 32] {
    let mut l = [0u8; 32];
    l[..8].copy_from_slice(&i.to_le_bytes());
    l
}

fn proofs(c: &mut Criterion) {
    let mut s = MemHashStore::with_capacity(TREE as usize);
    for i in 0..TREE {
        s.append(&leaf(i));
    }
    let r = root(TREE, &s).unwrap();
    let mut g = c.benchmark_group("proofs_10M");
    let mut i = 0u64;
    g.bench_function("inclusion_proof", |b| {
        b.iter(|| {
            i = (i + 7_919_993) % TREE;
            black_box(inclusion_proof(i, TREE, &s).unwrap())
        })
    });
    g.bench_function("consistency_proof", |b| {
        b.iter(|| {
            i = (i + 7_919_993) % TREE;
            black_box(consistency_proof(i + 1, TREE, &s).unwrap())
        })
    });
    let p = inclusion_proof(1_234_567, TREE, &s).unwrap();
    let l: Hash = s.get(NodeId::new(0, 1_234_567)).unwrap();
    g.bench_function("verify_inclusion", |b| {
        b.iter(|| verify_inclusion(1_234_567, TREE, &l, black_box(&p), &r).unwrap())
    });
    g.finish();
}

fn frontier(c: &mut Criterion) {
    const N: u64 = 1_000_000;
    let leaves: Vec<Hash> = (0..N).map(|i| ree_tlog::leaf_hash(&leaf(i))).collect();
    let mut g = c.benchmark_group("frontier");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N));
    g.bench_function("append_1M_leaves", |b| {
        b.iter_batched(
            Frontier::new,
            |mut f| {
                for l in &leaves {
                    f.append_leaf_hash(*l, |_, _| {});
                }
                black_box(f.root())
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, proofs, frontier);
criterion_main!(benches);
