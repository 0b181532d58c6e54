//! Issue 13's transparency log through the real binaries: checkpoints signed by `DATA/log.key`
//! cover every acknowledged record, proofs over gRPC verify with ree-tlog, and the fork attacks
//! (a restore with records removed, a rewritten history under the same key) are caught.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ree_proto::v1 as pb;
use ree_proto::v1::transparency_log_client::TransparencyLogClient;
use ree_tlog::{leaf_hash, verify_consistency, verify_inclusion, Checkpoint, Hash, VerifierKey};

use ree_verifier::logproof::{LogSection, Proofs};

use crate::common::*;

const FAST: &[&str] = &["--checkpoint-interval-ms", "50"];

fn vkey(data: &Path) -> VerifierKey {
    let line = std::fs::read_to_string(data.join("log.vkey")).expect("DATA/log.vkey");
    VerifierKey::parse(line.trim()).expect("log.vkey parses")
}

/// `ree checkpoint`, opened with the data directory's own log key.
fn checkpoint(url: &str, admin: &Member, data: &Path) -> (Checkpoint, String) {
    let note = ree_ok_as(url, admin, &["checkpoint"]);
    let (c, _) = Checkpoint::open(note.as_bytes(), &[vkey(data)]).expect("signed by log.key");
    (c, note)
}

/// The "tree size N root R" that `ree check` ends its line with.
fn checked_root(data: &Path) -> (u64, String) {
    let out = ree_ok(
        "http://unused",
        &["check", "--data-dir", data.to_str().unwrap()],
    );
    let (_, tail) = out
        .split_once("transparency log: tree size ")
        .unwrap_or_else(|| panic!("no tree size in: {out}"));
    let w: Vec<&str> = tail.split_whitespace().collect();
    (w[0].parse().unwrap(), w[2].to_string())
}

fn bench(url: &str, admin: &Member, secs: &str) {
    let out = Command::new(bin("ree"))
        .args(["bench", "--allow-writes", "--duration", secs])
        .args(["--concurrency", "2", "--batch", "10"])
        .env("REE_SERVER", url)
        .envs(admin.env())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn log_client(url: &str) -> TransparencyLogClient<tonic::transport::Channel> {
    TransparencyLogClient::new(
        tonic::transport::Endpoint::from_shared(url.to_string())
            .unwrap()
            .connect()
            .await
            .unwrap(),
    )
}

fn h(b: &[u8]) -> Hash {
    Hash::from_slice(b).expect("32-byte hash")
}

#[test]
fn checkpoints_cover_every_record_and_proofs_verify() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Server::start_with(&data, free_port(), FAST);
    let url = s.url();
    let admin = admin_of(&data);
    demo_as_admin(&url, &data);
    std::thread::sleep(Duration::from_millis(400)); // several intervals
    let (c, note) = checkpoint(&url, &admin, &data);
    assert!(
        note.starts_with(&c.origin) && c.origin.starts_with("ree-ledger/"),
        "{note}"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut log = log_client(&url).await;
        for g in [1, c.size / 2, c.size] {
            let p = log
                .get_inclusion_proof(admin.req(pb::GetInclusionProofRequest {
                    global_seq: g,
                    tree_size: 0,
                }))
                .await
                .unwrap()
                .into_inner();
            assert_eq!((p.leaf_index, p.tree_size), (g - 1, c.size));
            let path: Vec<Hash> = p.hashes.iter().map(|x| h(x)).collect();
            let leaf = leaf_hash(&p.record_hash);
            verify_inclusion(g - 1, c.size, &leaf, &path, &c.root).unwrap();
        }
        let early = log
            .get_inclusion_proof(admin.req(pb::GetInclusionProofRequest {
                global_seq: 1,
                tree_size: 1,
            }))
            .await
            .unwrap()
            .into_inner();
        let old_root = leaf_hash(&early.record_hash);
        let cp = log
            .get_consistency_proof(admin.req(pb::GetConsistencyProofRequest {
                old_size: 1,
                new_size: 0,
            }))
            .await
            .unwrap()
            .into_inner();
        let path: Vec<Hash> = cp.hashes.iter().map(|x| h(x)).collect();
        verify_consistency(1, c.size, &old_root, &c.root, &path).unwrap();
        // Bad input: the status and the field named.
        let beyond = pb::GetInclusionProofRequest {
            global_seq: 1,
            tree_size: c.size + 1_000_000,
        };
        let e = log
            .get_inclusion_proof(admin.req(beyond))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::OutOfRange, "{e:?}");
        assert!(e.message().starts_with("tree_size:"), "{}", e.message());
        let zero = pb::GetInclusionProofRequest {
            global_seq: 0,
            tree_size: 0,
        };
        let e = log.get_inclusion_proof(admin.req(zero)).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.message().starts_with("global_seq:"), "{}", e.message());
        let order = pb::GetConsistencyProofRequest {
            old_size: c.size,
            new_size: 1,
        };
        let e = log
            .get_consistency_proof(admin.req(order))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.message().starts_with("old_size:"), "{}", e.message());
        // Without a token: refused like every other call.
        let e = log
            .get_checkpoint(pb::GetCheckpointRequest {})
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
    });
    // Another log's key does not open the checkpoint.
    let other = ree_tlog::NoteSigner::new(
        &c.origin,
        ree_tlog::SigType::Ed25519,
        ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
    )
    .unwrap();
    assert!(Checkpoint::open(note.as_bytes(), &[other.verifier_key()]).is_err());
    s.stop_cleanly();
    // Every acknowledged record was in the checkpoint served after the demo, and `ree check`
    // recomputes the same root from the records.
    let (size, root) = checked_root(&data);
    assert_eq!((size, root), (c.size, c.root.to_hex()));
}

/// Starts `ree serve` expecting it to refuse; returns its stderr.
fn refused_start(data: &Path) -> String {
    let mut child = Command::new(bin("ree"))
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(!st.success(), "the server must refuse to start");
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return err;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started on a forked history");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn offline_backup(data: &Path, out: &Path) {
    let o = Command::new(bin("ree"))
        .args(["backup", "--data-dir"])
        .arg(data)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn restore(backup: &Path, data: &Path, log_files: &[&str], from: &Path) {
    ree_ok(
        "http://unused",
        &[
            "restore",
            backup.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ],
    );
    for f in log_files {
        std::fs::copy(from.join(f), data.join(f)).unwrap();
    }
}

#[test]
fn forks_are_refused_at_start_and_caught_by_consistency_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    // History: the demo (backup b1), then more records (backup b2, checkpoint c2).
    let s = Server::start_with(&d, free_port(), FAST);
    let admin = admin_of(&d);
    demo_as_admin(&s.url(), &d);
    s.stop_cleanly();
    let b1 = dir.path().join("b1");
    offline_backup(&d, &b1);
    let s = Server::start_with(&d, free_port(), FAST);
    bench(&s.url(), &admin, "1");
    s.stop_cleanly();
    let b2 = dir.path().join("b2");
    offline_backup(&d, &b2);
    let (n2, root2) = checked_root(&d);
    // An honest restore (with the log's key and checkpoints) serves the same root.
    let honest = dir.path().join("honest");
    restore(&b2, &honest, &["log.key", "checkpoints"], &d);
    let s = Server::start_with(&honest, free_port(), FAST);
    let (c2, _) = checkpoint(&s.url(), &admin, &honest);
    assert_eq!((c2.size, c2.root.to_hex()), (n2, root2));
    s.stop_cleanly();
    // Attack 1: the last records removed, the old checkpoints kept: refused.
    let cut = dir.path().join("cut");
    restore(&b1, &cut, &["log.key", "checkpoints"], &d);
    let err = refused_start(&cut);
    assert!(err.contains("refusing to start"), "{err}");
    assert!(
        err.contains(&format!("checkpoint of {n2} records")),
        "{err}"
    );
    // Attack 2: a fresh directory, the same key, another history: the log signs it, but no
    // consistency proof links it to the checkpoint kept from before.
    let fork = dir.path().join("fork");
    restore(&b1, &fork, &["log.key"], &d);
    let s = Server::start_with(&fork, free_port(), FAST);
    // A restore carries the records, not the credential files: the same administrator.
    let fadmin = admin.clone();
    let mut c3 = checkpoint(&s.url(), &fadmin, &fork).0;
    for _ in 0..20 {
        if c3.size > n2 {
            break;
        }
        bench(&s.url(), &fadmin, "1");
        std::thread::sleep(Duration::from_millis(200));
        c3 = checkpoint(&s.url(), &fadmin, &fork).0;
    }
    assert!(c3.size > n2, "the forked log grew past the kept checkpoint");
    assert_eq!(vkey(&fork), vkey(&d), "same log key");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proof = rt.block_on(async {
        let mut log = log_client(&s.url()).await;
        log.get_consistency_proof(fadmin.req(pb::GetConsistencyProofRequest {
            old_size: c2.size,
            new_size: c3.size,
        }))
        .await
        .unwrap()
        .into_inner()
    });
    let path: Vec<Hash> = proof.hashes.iter().map(|x| h(x)).collect();
    assert!(
        verify_consistency(c2.size, c3.size, &c2.root, &c3.root, &path).is_err(),
        "a rewritten history must not prove consistent with the kept checkpoint"
    );
    s.stop_cleanly();
}

#[test]
fn exported_bundles_carry_a_checkpoint_and_proofs_that_ree_verify_checks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Server::start_with(&data, free_port(), FAST);
    let url = s.url();
    let admin = admin_of(&data);
    let summary = demo_as_admin(&url, &data);
    let lot = demo_lot(&summary, "clean NdPr oxide lot");
    let file = dir.path().join("lot.bundle");
    let f = file.to_str().unwrap();
    ree_ok_as(&url, &admin, &["export", &lot, "-o", f]);
    let vk = data.join("log.vkey");
    let vk = vk.to_str().unwrap();
    // The root of trust pinned as every auditor must (issue 12); the log key is what varies.
    let trust = data.join("admin.key.pub");
    let trust = trust.to_str().unwrap();
    // Pinned: the checkpoint is the log's and every record is in it.
    let out = ree_verify(&[f, "--trust", trust, "--log-vkey", vk, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{v}");
    assert_eq!(v["checkpoint"]["verified"], true, "{v}");
    assert!(v["inclusion_verified"].as_u64().unwrap() > 0);
    assert_eq!(v["inclusion_verified"], v["events_verified"], "{v}");
    let (c, _) = checkpoint(&url, &admin, &data);
    assert!(v["checkpoint"]["size"].as_u64().unwrap() <= c.size);
    // The same pin in the policy file.
    let policy = dir.path().join("policy.toml");
    let line = std::fs::read_to_string(vk).unwrap();
    std::fs::write(&policy, format!("log_vkeys = [\"{}\"]\n", line.trim())).unwrap();
    let out = ree_verify(&[f, "--trust", trust, "--policy", policy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    // Unpinned: proofs checked, the checkpoint reported as unverified.
    let out = ree_verify(&[f, "--trust", trust]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("UNVERIFIED: no log key pinned"), "{text}");
    // Another log's key: exit 3.
    let other = dir.path().join("other.vkey");
    let signer = ree_tlog::NoteSigner::new(
        &c.origin,
        ree_tlog::SigType::Ed25519,
        ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
    )
    .unwrap();
    std::fs::write(&other, format!("{}\n", signer.verifier_key())).unwrap();
    let out = ree_verify(&[f, "--trust", trust, "--log-vkey", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("pinned log key"));
    // `ree export` writes version 4 (one multi-proof). A hash of it altered: exit 3, in
    // ree-verify and the Python checker.
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(bytes[8..10], [4, 0], "bundle version 4");
    let (inner, section) = ree_verifier::logproof::split(&bytes).unwrap();
    let section = section.unwrap();
    let Proofs::Multi(multi) = &section.proofs else {
        panic!("a multi-proof expected")
    };
    assert!(
        !multi.is_empty(),
        "withheld registry records leave gaps to prove"
    );
    let mut tampered = multi.clone();
    tampered[0].0[0] ^= 1;
    let bad = dir.path().join("bad.bundle");
    let with = |proofs| LogSection {
        note: section.note.clone(),
        proofs,
    };
    let write = |path: &Path, s: &LogSection| {
        std::fs::write(path, ree_verifier::logproof::encode(inner, s)).unwrap()
    };
    write(&bad, &with(Proofs::Multi(tampered)));
    let out = ree_verify(&[bad.to_str().unwrap(), "--trust", trust, "--log-vkey", vk]);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("not all in the checkpoint"), "{text}");
    // The independent checker (docs/verify_bundle.py) agrees on both.
    assert_eq!(python_check(&file), Some(0));
    assert_eq!(python_check(&bad), Some(3));
    // Version 3, as earlier exports wrote it (one audit path per record, here from
    // GetInclusionProof at the bundle's checkpoint): still read; an altered path names the record.
    let cp_size = v["checkpoint"]["size"].as_u64().unwrap();
    let paths = per_record_paths(&url, &admin, inner, cp_size);
    let v3 = dir.path().join("v3.bundle");
    write(&v3, &with(Proofs::PerRecord(paths.clone())));
    let out = ree_verify(&[v3.to_str().unwrap(), "--trust", trust, "--log-vkey", vk]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(python_check(&v3), Some(0));
    let mut bad_paths = paths;
    let i = bad_paths.iter().position(|p| !p.is_empty()).unwrap();
    bad_paths[i][0].0[0] ^= 1;
    write(&bad, &with(Proofs::PerRecord(bad_paths)));
    let out = ree_verify(&[bad.to_str().unwrap(), "--trust", trust, "--log-vkey", vk]);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("is not in the checkpoint"), "{text}");
    assert_eq!(python_check(&bad), Some(3));
    // A pinned key and a bundle without a checkpoint (an older version): exit 3.
    let old = dir.path().join("old.bundle");
    std::fs::write(&old, inner).unwrap();
    assert_eq!(
        ree_verify(&[old.to_str().unwrap(), "--trust", trust])
            .status
            .code(),
        Some(0)
    );
    let out = ree_verify(&[old.to_str().unwrap(), "--trust", trust, "--log-vkey", vk]);
    assert_eq!(out.status.code(), Some(3));
    s.stop_cleanly();
}

/// Each full record's audit path in the tree of `size` leaves, over gRPC.
fn per_record_paths(url: &str, admin: &Member, inner: &[u8], size: u64) -> Vec<Vec<Hash>> {
    let b = ree_core::bundle::Bundle::decode(inner).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut log = log_client(url).await;
        let mut paths = vec![];
        for raw in &b.records {
            let g = ree_core::Record::decode(raw).unwrap().global_seq;
            let p = log
                .get_inclusion_proof(admin.req(pb::GetInclusionProofRequest {
                    global_seq: g,
                    tree_size: size,
                }))
                .await
                .unwrap()
                .into_inner();
            paths.push(p.hashes.iter().map(|x| h(x)).collect());
        }
        paths
    })
}

/// docs/verify_bundle.py's exit code on `file`; fails naming what to install when it cannot run.
fn python_check(file: &Path) -> Option<i32> {
    let out = Command::new("python3")
        .arg(workspace_root().join("docs/verify_bundle.py"))
        .arg(file)
        .output()
        .expect("python3 is needed for docs/verify_bundle.py: apt-get install python3");
    assert_ne!(
        out.status.code(),
        Some(4),
        "docs/verify_bundle.py needs its packages: pip install -r docs/requirements.txt (blake3, pynacl): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.code()
}
