//! Issue 13's monitor through the real binaries: `ree monitor` trusts on first use, follows
//! consistent growth (exit 0, state saved), catches a history rewritten under the same log key
//! (exit 3 naming both sizes and roots, state untouched), and refuses another log's key. The
//! customer's path: the checkpoint kept in a bundle (`ree-verify --print-checkpoint`) is a
//! monitor state file.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ree_tlog::{Checkpoint, VerifierKey};

use crate::common::*;

const FAST: &[&str] = &["--checkpoint-interval-ms", "50"];

fn vkey(data: &Path) -> VerifierKey {
    let line = std::fs::read_to_string(data.join("log.vkey")).expect("DATA/log.vkey");
    VerifierKey::parse(line.trim()).expect("log.vkey parses")
}

/// The latest checkpoint `ree checkpoint` prints, opened with the data directory's key.
fn latest(url: &str, admin: &Member, data: &Path) -> Checkpoint {
    let note = ree_ok_as(url, admin, &["checkpoint"]);
    Checkpoint::open(note.as_bytes(), &[vkey(data)])
        .expect("signed by log.key")
        .0
}

/// Appends records until the signed checkpoint is larger than `than`.
fn grow_past(url: &str, admin: &Member, data: &Path, than: u64) -> Checkpoint {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let c = latest(url, admin, data);
        if c.size > than {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "the log did not grow past {than}"
        );
        let out = Command::new(bin("ree"))
            .args(["bench", "--allow-writes", "--duration", "1"])
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
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `ree monitor --once` as `m` with the log key file and state file.
fn monitor(url: &str, m: &Member, vkey: &Path, state: &Path) -> Output {
    ree_as(
        url,
        m,
        &[
            "monitor",
            "--once",
            "--log-vkey",
            vkey.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ],
    )
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn monitor_follows_growth_and_exits_3_on_a_rewritten_history() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let s = Server::start_with(&a, free_port(), FAST);
    let admin = admin_of(&a);
    let url = s.url();
    let vk = a.join("log.vkey");
    let state = dir.path().join("monitor.state");
    let c1 = grow_past(&url, &admin, &a, 0);
    // First use: trusted, said so, saved.
    let out = monitor(&url, &admin, &vk, &state);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("trust on first use"), "{}", text(&out));
    let saved = Checkpoint::open(&std::fs::read(&state).unwrap(), &[vkey(&a)])
        .unwrap()
        .0;
    assert!(saved.size >= c1.size);
    // Following: one line per new checkpoint.
    let mut follower = Command::new(bin("ree"))
        .args(["monitor", "--interval-secs", "1", "--log-vkey"])
        .arg(&vk)
        .arg("--state")
        .arg(dir.path().join("follow.state"))
        .env("REE_SERVER", &url)
        .envs(admin.env())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("trust on first use"), "{first}");
    // Consistent growth: exit 0, the state moves forward.
    let c2 = grow_past(&url, &admin, &a, saved.size);
    let out = monitor(&url, &admin, &vk, &state);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("consistent: "), "{}", text(&out));
    let saved2 = Checkpoint::open(&std::fs::read(&state).unwrap(), &[vkey(&a)])
        .unwrap()
        .0;
    assert!(saved2.size >= c2.size && saved2.size > saved.size);
    let next = lines.next().unwrap().unwrap();
    assert!(next.starts_with("consistent: "), "{next}");
    let _ = follower.kill();
    let _ = follower.wait();
    // Another log's key (same origin): refused, naming the key; the state is untouched.
    let other = dir.path().join("other.vkey");
    let signer = ree_tlog::NoteSigner::new(
        &saved2.origin,
        ree_tlog::SigType::Ed25519,
        ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
    )
    .unwrap();
    std::fs::write(&other, format!("{}\n", signer.verifier_key())).unwrap();
    let before = std::fs::read(&state).unwrap();
    let key_id = format!("{}+{:08x}", saved2.origin, signer.verifier_key().id());
    let out = monitor(&url, &admin, &other, &state);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains(&key_id), "{}", text(&out));
    let fresh = dir.path().join("fresh.state");
    let out = monitor(&url, &admin, &other, &fresh);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(&key_id), "{}", text(&out));
    assert!(!fresh.exists());
    assert_eq!(std::fs::read(&state).unwrap(), before);
    s.stop_cleanly();

    // The operator rewrites history under the same key: a fresh data directory, a copy of
    // log.key, another history grown past the saved checkpoint.
    std::fs::create_dir_all(&b).unwrap();
    std::fs::copy(a.join("log.key"), b.join("log.key")).unwrap();
    let s = Server::start_with(&b, free_port(), FAST);
    let badmin = admin_of(&b);
    assert_eq!(vkey(&b), vkey(&a), "same log key");
    let forged = grow_past(&s.url(), &badmin, &b, saved2.size);
    let out = monitor(&s.url(), &badmin, &b.join("log.vkey"), &state);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let msg = text(&out);
    for needle in [
        format!("size {}", saved2.size),
        saved2.root.to_string(),
        format!("size {}", forged.size),
        forged.root.to_string(),
    ] {
        assert!(msg.contains(&needle), "{msg} lacks {needle}");
    }
    assert_eq!(
        std::fs::read(&state).unwrap(),
        before,
        "a fork is never saved"
    );
    s.stop_cleanly();
}

/// The customer's path: the checkpoint inside the bundle of its certificate, printed by
/// `ree-verify --print-checkpoint`, is a monitor state file; later, `ree monitor --once` proves
/// today's log extends it.
#[test]
fn a_checkpoint_kept_from_a_bundle_is_a_monitor_state() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Server::start_with(&data, free_port(), FAST);
    let url = s.url();
    let admin = admin_of(&data);
    let summary = demo_as_admin(&url, &data);
    let lot = demo_lot(&summary, "clean NdPr oxide lot");
    let bundle = dir.path().join("certificate.bundle");
    let b = bundle.to_str().unwrap();
    ree_ok_as(&url, &admin, &["export", &lot, "-o", b]);
    let vk = data.join("log.vkey");
    let out = ree_verify(&["--print-checkpoint", b, "--log-vkey", vk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let kept = dir.path().join("kept-checkpoint.txt");
    std::fs::write(&kept, &out.stdout).unwrap();
    let (old, _) = Checkpoint::open(&out.stdout, &[vkey(&data)]).expect("the log's note");
    // Months later: the log grew; the kept checkpoint is proved extended, and replaced.
    let now = grow_past(&url, &admin, &data, old.size);
    let out = monitor(&url, &admin, &vk, &kept);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("consistent: {} -> ", old.size)),
        "{}",
        text(&out)
    );
    let (saved, _) = Checkpoint::open(&std::fs::read(&kept).unwrap(), &[vkey(&data)]).unwrap();
    assert!(saved.size >= now.size);
    s.stop_cleanly();
    // Another key, or a bundle without a checkpoint: nothing printed, exit 3.
    let other = dir.path().join("other.vkey");
    let signer = ree_tlog::NoteSigner::new(
        &old.origin,
        ree_tlog::SigType::Ed25519,
        ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
    )
    .unwrap();
    std::fs::write(&other, format!("{}\n", signer.verifier_key())).unwrap();
    let out = ree_verify(&[
        "--print-checkpoint",
        b,
        "--log-vkey",
        other.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(out.stdout.is_empty());
    let bytes = std::fs::read(&bundle).unwrap();
    let (inner, _) = ree_verifier::logproof::split(&bytes).unwrap();
    let old_bundle = dir.path().join("v2.bundle");
    std::fs::write(&old_bundle, inner).unwrap();
    let out = ree_verify(&["--print-checkpoint", old_bundle.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("carries no checkpoint"),
        "{}",
        text(&out)
    );
}
