//! The hardware ceilings `bench/compare.sh` sets ree-ledger beside, each measured alone on this
//! machine with the bytes of a real signed record (a 200-byte body: 407 bytes in all):
//! - raw sled: insert the record bytes under a sequence key, batches of 1 and 100, each batch
//!   made durable the way `SledStore` does it (flush, then fdatasync of sled's log);
//! - blake3: record hashes (derive-key mode) per second, one core;
//! - ed25519: single strict verifications and batch verifications per second, one core.
//!
//! `cargo run --release -p ree-store --example ceilings [-- --json]`

use std::time::{Duration, Instant};

use ree_core::record::{record_hash, Record, Signature};
use ree_core::{Hash32, LotId, UtcMicros};

fn record() -> (Vec<u8>, Vec<u8>, Signature) {
    let body = vec![0x5au8; 200];
    let sig = Signature::sign(&[7; 32], &body);
    let rec = Record {
        lot: LotId::new_v7(),
        seq: 1,
        global_seq: 1,
        prev: Hash32([1; 32]),
        recorded_at: UtcMicros(1_760_000_000_000_000),
        registry: Hash32([2; 32]),
        link: None,
        body: body.clone(),
        signature: Some(sig),
    };
    (rec.encode(), body, sig)
}

/// Runs `f` repeatedly for about `secs`; returns operations per second (f returns ops done).
fn rate(secs: f64, mut f: impl FnMut() -> u64) -> f64 {
    let t = Instant::now();
    let mut n = 0u64;
    while t.elapsed() < Duration::from_secs_f64(secs) {
        n += f();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn sled_rate(bytes: &[u8], batch: u64, secs: f64) -> f64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sled::Config::new()
        .path(dir.path())
        .mode(sled::Mode::HighThroughput)
        .cache_capacity(64 << 20)
        .open()
        .expect("sled open");
    db.flush().expect("flush");
    let log = std::fs::File::open(dir.path().join("db")).expect("sled log");
    let mut g = 0u64;
    rate(secs, || {
        let mut b = sled::Batch::default();
        for _ in 0..batch {
            g += 1;
            b.insert(&g.to_be_bytes()[..], bytes);
        }
        db.apply_batch(b).expect("batch");
        db.flush().expect("flush");
        log.sync_data().expect("fdatasync");
        batch
    })
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let (bytes, body, sig) = record();
    let secs = 3.0;
    let sled1 = sled_rate(&bytes, 1, secs);
    let sled100 = sled_rate(&bytes, 100, secs);
    let blake = rate(secs, || {
        for _ in 0..1000 {
            std::hint::black_box(record_hash(std::hint::black_box(&bytes)));
        }
        1000
    });
    let single = rate(secs, || {
        for _ in 0..100 {
            sig.verify(std::hint::black_box(&body)).expect("valid");
        }
        100
    });
    let key = ed25519_dalek::VerifyingKey::from_bytes(&sig.public_key).expect("key");
    let s = ed25519_dalek::Signature::from_bytes(&sig.signature);
    let msgs: Vec<&[u8]> = vec![&body; 64];
    let sigs = vec![s; 64];
    let keys = vec![key; 64];
    let batch = rate(secs, || {
        ed25519_dalek::verify_batch(&msgs, &sigs, &keys).expect("valid batch");
        64
    });
    if json {
        println!(
            "{{\"record_bytes\": {}, \"sled_durable_batch1_per_s\": {sled1:.0}, \"sled_durable_batch100_per_s\": {sled100:.0}, \"blake3_record_hashes_per_s\": {blake:.0}, \"ed25519_verify_per_s\": {single:.0}, \"ed25519_batch64_verify_per_s\": {batch:.0}}}",
            bytes.len()
        );
    } else {
        println!("record: {} bytes", bytes.len());
        println!("raw sled, durable batches of 1:   {sled1:>10.0} records/s");
        println!("raw sled, durable batches of 100: {sled100:>10.0} records/s");
        println!("blake3 record hash (1 core):      {blake:>10.0} records/s");
        println!("ed25519 verify_strict (1 core):   {single:>10.0} signatures/s");
        println!("ed25519 batch of 64 (1 core):     {batch:>10.0} signatures/s");
    }
}
