//! `DATA/tree/hashes` through the real binaries: written by the server, reported by `ree check`,
//! and after a restart on a corrupted or truncated file, rewritten from the records: proofs keep
//! verifying against the signed checkpoint, never built from a wrong hash.

use std::path::Path;
use std::time::Duration;

use ree_engine::hashfile::stored_hash_index;
use ree_proto::v1 as pb;
use ree_proto::v1::transparency_log_client::TransparencyLogClient;
use ree_tlog::{leaf_hash, verify_inclusion, Checkpoint, Hash, VerifierKey};

use crate::common::*;

const FAST: &[&str] = &["--checkpoint-interval-ms", "50"];

/// Starts the server on `data`, checks the inclusion proof of leaf 0 (whose path holds the
/// node (3, 1)) and of the last record against the latest checkpoint; returns its size.
fn serve_and_prove(data: &Path) -> u64 {
    let s = Server::start_with(data, free_port(), FAST);
    let admin = admin_of(data);
    let line = std::fs::read_to_string(data.join("log.vkey")).unwrap();
    let key = VerifierKey::parse(line.trim()).unwrap();
    let note = ree_ok_as(&s.url(), &admin, &["checkpoint"]);
    let (c, _) = Checkpoint::open(note.as_bytes(), &[key]).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ch = tonic::transport::Endpoint::from_shared(s.url())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut log = TransparencyLogClient::new(ch);
        for g in [1, 9, c.size] {
            let p = log
                .get_inclusion_proof(admin.req(pb::GetInclusionProofRequest {
                    global_seq: g,
                    tree_size: c.size,
                }))
                .await
                .unwrap()
                .into_inner();
            let path: Vec<Hash> = p
                .hashes
                .iter()
                .map(|x| Hash::from_slice(x).unwrap())
                .collect();
            verify_inclusion(g - 1, c.size, &leaf_hash(&p.record_hash), &path, &c.root)
                .unwrap_or_else(|e| panic!("proof of {g}: {e}"));
        }
    });
    s.stop_cleanly();
    c.size
}

fn check_line(data: &Path) -> String {
    let out = ree(
        "http://unused",
        &["check", "--data-dir", data.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_corrupted_or_truncated_hashes_file_is_rewritten_and_proofs_stay_right() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Server::start_with(&data, free_port(), FAST);
    demo_as_admin(&s.url(), &data);
    std::thread::sleep(Duration::from_millis(300));
    s.stop_cleanly();
    let size = serve_and_prove(&data);
    let file = data.join("tree/hashes");
    let good = std::fs::read(&file).expect("DATA/tree/hashes");
    assert!(good.len() as u64 >= 32 * size);
    assert!(check_line(&data).contains("matches the records"));
    // An interior node on leaf 0's proof path, flipped.
    let mut bad = good.clone();
    bad[32 * stored_hash_index(3, 1) as usize] ^= 0x80;
    std::fs::write(&file, &bad).unwrap();
    assert!(check_line(&data).contains("differs from the records from leaf"));
    serve_and_prove(&data);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        good,
        "rewritten from the records"
    );
    // Torn mid-hash.
    std::fs::write(&file, &good[..good.len() / 2 + 7]).unwrap();
    serve_and_prove(&data);
    assert_eq!(std::fs::read(&file).unwrap(), good);
    // Longer than the records prove (garbage appended): cut.
    let mut long = good.clone();
    long.extend_from_slice(&[7u8; 96]);
    std::fs::write(&file, &long).unwrap();
    assert!(check_line(&data).contains("bytes past the records"));
    serve_and_prove(&data);
    assert_eq!(std::fs::read(&file).unwrap(), good);
    // Removed: rebuilt.
    std::fs::remove_file(&file).unwrap();
    serve_and_prove(&data);
    assert_eq!(std::fs::read(&file).unwrap(), good);
}
