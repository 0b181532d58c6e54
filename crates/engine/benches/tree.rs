//! The transparency log's tree as the ledger keeps it (`DATA/tree/hashes`, read with pread) at
//! 10M records: `cargo bench -p ree-engine --bench tree`. Building it takes a while (10M leaves
//! appended as the committer appends them); the append rate is printed, since checkpoints can
//! only keep up with events if the tree does.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ree_engine::hashfile::FileHashes;
use ree_tlog::{leaf_hash, Checkpoint, Hash, NoteSigner, SigType};

const LEAVES: u64 = 10_000_000;

fn record_hash(i: u64) -> Hash {
    let mut h = [0u8; 32];
    h[..8].copy_from_slice(&i.to_le_bytes());
    leaf_hash(&h)
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut f = FileHashes::open(&dir.path().join("hashes"), false).expect("hashes file");
    let t = std::time::Instant::now();
    for i in 0..LEAVES {
        f.push(record_hash(i)).expect("append");
    }
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "appended {LEAVES} leaves in {secs:.1} s: {:.0} leaves/s",
        LEAVES as f64 / secs
    );
    f.finish_replay().expect("finish");
    let size = f.size();
    let mut g = c.benchmark_group("tree_10M_on_disk");
    let mut n = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        n ^= n << 13;
        n ^= n >> 7;
        n ^= n << 17;
        n % size
    };
    g.bench_function("inclusion_proof", |b| {
        b.iter_batched(
            &mut next,
            |i| ree_tlog::inclusion_proof(i, size, &f).expect("proof"),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("consistency_proof", |b| {
        b.iter_batched(
            &mut next,
            |old| ree_tlog::consistency_proof(old.max(1), size, &f).expect("proof"),
            BatchSize::SmallInput,
        )
    });
    // What the checkpointer does each interval: the root from the frontier, then sign.
    let signer = NoteSigner::new(
        "bench.example/log",
        SigType::Ed25519,
        ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
    )
    .expect("signer");
    g.bench_function("sign_checkpoint", |b| {
        b.iter(|| {
            Checkpoint::new("bench.example/log", size, f.frontier().root())
                .and_then(|c| c.sign(&signer))
                .expect("checkpoint")
        })
    });
    g.finish();
    let mut g = c.benchmark_group("tree_append");
    g.throughput(Throughput::Elements(1000));
    let mut i = LEAVES;
    g.bench_function("push_1000_leaves", |b| {
        b.iter(|| {
            for _ in 0..1000 {
                f.push(record_hash(i)).expect("append");
                i += 1;
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
