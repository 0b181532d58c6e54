//! Verification throughput on a 100,000-event bundle: `cargo bench -p ree-verifier`.

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ree_verifier::{verify, Policy};

fn bench(c: &mut Criterion) {
    // 33,332 inputs: each a receipt and a charge on its own chain plus a charge on the campaign.
    let (l, ox) = common::separation(33_332, 0, &["AU", "US", "BR", "ZA", "CA"]);
    let bytes = l.bundle(ox).encode();
    let n = l.records.len() as u64;
    assert!(n >= 100_000, "{n}");
    let policy = Policy::default();
    assert_eq!(verify(&bytes, &policy, None).exit_code(), 0);
    let mut g = c.benchmark_group("verify");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n));
    g.bench_function(format!("bundle_{n}_events"), |b| {
        b.iter(|| verify(&bytes, &policy, None))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
