//! Verification throughput on a 100,000-event bundle: `cargo bench -p ree-verifier`.

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ree_verifier::logproof::Proofs;
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
    // The same as a version 4 bundle, as `ree export` writes it: a checkpoint over every record
    // signed by a pinned log key, and one multi-proof of all records; then as version 3 (one
    // inclusion proof per record), as older exports are.
    for (multi, name) in [(true, "with_proofs"), (false, "with_per_record_proofs")] {
        let (v, pinned) = with_proofs(&l, &bytes, multi);
        let r = verify(&v, &pinned, None);
        assert_eq!(r.exit_code(), 0, "{:?}", r.integrity_error);
        eprintln!("{name}: {} bytes (records only: {})", v.len(), bytes.len());
        g.bench_function(format!("bundle_{n}_events_{name}"), |b| {
            b.iter(|| verify(&v, &pinned, None))
        });
    }
    g.finish();
}

fn with_proofs(l: &common::Ledger, inner: &[u8], multi: bool) -> (Vec<u8>, Policy) {
    let mut tree = ree_tlog::MemHashStore::new();
    for a in &l.records {
        tree.append(&a.hash.0);
    }
    let size = tree.size();
    let root = ree_tlog::root(size, &tree).expect("root");
    let signer = ree_tlog::NoteSigner::new(
        "bench.example/log",
        ree_tlog::SigType::Ed25519,
        ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
    )
    .expect("signer");
    let note = ree_tlog::Checkpoint::new("bench.example/log", size, root)
        .and_then(|c| c.sign(&signer))
        .expect("checkpoint");
    let b = ree_core::bundle::Bundle::decode(inner).expect("bundle");
    let indices: Vec<u64> = b
        .records
        .iter()
        .map(|r| ree_core::Record::decode(r).expect("record").global_seq - 1)
        .collect();
    let proofs = if multi {
        Proofs::Multi(ree_tlog::multi_proof(&indices, size, &tree).expect("proof"))
    } else {
        Proofs::PerRecord(
            indices
                .iter()
                .map(|&i| ree_tlog::inclusion_proof(i, size, &tree).expect("proof"))
                .collect(),
        )
    };
    let section = ree_verifier::logproof::LogSection {
        note: note.to_bytes(),
        proofs,
    };
    let policy = Policy {
        log_vkeys: vec![signer.verifier_key()],
        ..Policy::default()
    };
    (ree_verifier::logproof::encode(inner, &section), policy)
}

criterion_group!(benches, bench);
criterion_main!(benches);
