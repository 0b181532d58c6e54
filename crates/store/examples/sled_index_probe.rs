//! What sled costs when it holds only small index entries (no record bytes): RSS and disk per
//! event, 100 events per flushed batch. `cargo run --release -p ree-store --example sled_index_probe`.

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sled::Config::new()
        .path(dir.path())
        .mode(sled::Mode::HighThroughput)
        .cache_capacity(64 << 20)
        .open()
        .expect("open");
    let mut g = 1u64;
    let lot = ree_core::LotId::new_v7().0;
    for round in 0..20 {
        for _ in 0..1000 {
            let mut b = sled::Batch::default();
            for _ in 0..100 {
                let mut lk = [0u8; 25];
                lk[0] = b'l';
                lk[1..17].copy_from_slice(lot.as_bytes());
                lk[17..].copy_from_slice(&g.to_be_bytes());
                b.insert(&lk[..], &g.to_be_bytes()[..]);
                let mut ik = [0u8; 17];
                ik[0] = b'i';
                ik[1..].copy_from_slice(ree_core::LotId::new_v7().0.as_bytes());
                b.insert(&ik[..], &g.to_be_bytes()[..]);
                g += 1;
            }
            db.apply_batch(b).expect("batch");
            db.flush().expect("flush");
        }
        println!(
            "{} events: rss {} MiB, disk {} MiB",
            (round + 1) * 100_000,
            rss_kib() / 1024,
            db.size_on_disk().unwrap_or(0) >> 20
        );
    }
}
