//! Issue 13's witnesses end to end, real binaries only: `ree serve --witness` pushes its
//! checkpoints to a real `ree witness serve`, publishes the cosignatures (`ree checkpoint`,
//! exported bundles), keeps accepting events while the witness is down; then the operator
//! rewrites history holding every key and the witness refuses (ALARM), while `ree-verify
//! --witness-vkey W --quorum 1` passes the honest bundle and fails the forked one.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ree_tlog::cosignature::verify_quorum;
use ree_tlog::{Checkpoint, VerifierKey};

use crate::common::*;

/// A child process killed on drop (the ledger or the witness).
struct Proc {
    child: Child,
    addr: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `cmd` (stdout piped) and waits for its `listening on ADDR` line; stderr to `log`.
fn spawn_listening(mut cmd: Command, log: &Path) -> Proc {
    let err = std::fs::File::create(log).expect("log file");
    let mut child = cmd
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(err))
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        assert!(Instant::now() < deadline, "no `listening on` within 30 s");
        match lines.next() {
            Some(Ok(l)) => match l.strip_prefix("listening on ") {
                Some(a) => break a.trim().to_owned(),
                None => continue,
            },
            _ => panic!(
                "exited before listening: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            ),
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Proc { child, addr }
}

fn witness(dir: &Path, log_vkey: &Path) -> Proc {
    let mut c = Command::new(bin("ree"));
    c.args(["witness", "serve", "--listen", "127.0.0.1:0"])
        .args(["--name", "w.example"])
        .arg("--data-dir")
        .arg(dir)
        .arg("--log-vkey")
        .arg(log_vkey);
    spawn_listening(c, &dir.with_extension("log"))
}

fn ledger(data: &Path, witness: &str, log: &Path) -> Proc {
    let mut c = Command::new(bin("ree"));
    c.args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(data)
        .args(["--checkpoint-interval-ms", "50", "--witness", witness]);
    let mut p = spawn_listening(c, log);
    p.addr = format!("http://{}", p.addr);
    p
}

/// `cosigned_size=`, `failures=` and `alarms=` of the only witness (`ree checkpoint --witnesses`).
fn status(url: &str, admin: &Member) -> (u64, u64, u64, String) {
    let out = ree_ok_as(url, admin, &["checkpoint", "--witnesses"]);
    let num = |k: &str| -> u64 {
        let (_, t) = out.split_once(k).unwrap_or_else(|| panic!("{k} in {out}"));
        t.split_whitespace().next().unwrap().parse().unwrap()
    };
    (
        num("cosigned_size="),
        num("failures="),
        num("alarms="),
        out.clone(),
    )
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn bench(url: &str, admin: &Member) {
    let out = Command::new(bin("ree"))
        .args(["bench", "--allow-writes", "--duration", "1"])
        .args(["--concurrency", "2", "--batch", "10"])
        .env("REE_SERVER", url)
        .envs(admin.env())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "events must still be accepted: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn size_of(url: &str, admin: &Member) -> (u64, String) {
    let note = ree_ok_as(url, admin, &["checkpoint"]);
    let text = note.split_once("\n\n").map_or("", |(t, _)| t);
    let c = Checkpoint::parse(&format!("{text}\n"));
    (c.map(|c| c.size).unwrap_or(0), note)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `ree-verify BUNDLE --trust --log-vkey --witness-vkey W --quorum 1 --json`: (exit, JSON).
fn verify_witnessed(bundle: &Path, data: &Path, w: &Path) -> (Option<i32>, serde_json::Value) {
    let trust = data.join("admin.key.pub");
    let vk = data.join("log.vkey");
    let out = ree_verify(&[
        s(bundle),
        "--trust",
        s(&trust),
        "--log-vkey",
        s(&vk),
        "--witness-vkey",
        s(w),
        "--quorum",
        "1",
        "--json",
    ]);
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code(), v)
}

fn python(bundle: &Path, w: &Path) -> Option<i32> {
    let out = Command::new("python3")
        .arg(workspace_root().join("docs/verify_bundle.py"))
        .arg(bundle)
        .args(["--witness-vkey", s(w), "--quorum", "1"])
        .output()
        .expect("python3 is needed for docs/verify_bundle.py: apt-get install python3");
    assert_ne!(out.status.code(), Some(4), "docs/verify_bundle.py needs its packages: pip install -r docs/requirements.txt (blake3, pynacl): {}", String::from_utf8_lossy(&out.stderr));
    let code = out.status.code();
    assert!(
        matches!(code, Some(0 | 3)),
        "docs/verify_bundle.py crashed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    code
}

fn copy_admin(from: &Path, to: &Path) {
    let (a, b) = (
        ree_proto::creds::AdminFiles::in_dir(from),
        ree_proto::creds::AdminFiles::in_dir(to),
    );
    for (x, y) in [(a.key, b.key), (a.public, b.public), (a.token, b.token)] {
        std::fs::copy(x, y).unwrap();
    }
}

#[test]
fn witnesses_cosign_the_honest_log_and_refuse_a_rewritten_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    // The ledger's first start creates its log key; b1 is its history before the demo.
    let first = Server::start(&d, free_port());
    let admin = admin_of(&d);
    assert_eq!(
        size_of(&first.url(), &admin).0,
        1,
        "serving: the genesis record"
    );
    first.stop_cleanly();
    let b1: PathBuf = dir.path().join("b1");
    let o = Command::new(bin("ree"))
        .args(["backup", "--data-dir", s(&d), "-o", s(&b1)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let wdir = dir.path().join("w");
    let w = witness(&wdir, &d.join("log.vkey"));
    let wkey = wdir.join("witness.vkey");
    let wk = VerifierKey::parse(std::fs::read_to_string(&wkey).unwrap().trim()).unwrap();
    let spec = format!("http://{}={}", w.addr, s(&wkey));
    let log = dir.path().join("honest.log");
    let l = ledger(&d, &spec, &log);
    let summary = demo_as_admin(&l.addr, &d);
    // The witness catches up with the published checkpoint; `ree checkpoint` carries its line.
    // (Read the note and the witness's state together: a newer checkpoint may be signed
    // between two reads, uncosigned for a moment.)
    let mut size = 0;
    let mut note = String::new();
    wait_for("the witness to cosign the latest checkpoint", 30, || {
        (size, note) = size_of(&l.addr, &admin);
        let cosigned = ree_tlog::Note::parse(note.as_bytes())
            .is_ok_and(|n| verify_quorum(&n, std::slice::from_ref(&wk), 1).is_ok());
        cosigned && status(&l.addr, &admin).0 == size && size > 1
    });
    let parsed = ree_tlog::Note::parse(note.as_bytes()).expect("a signed note");
    assert_eq!(
        verify_quorum(&parsed, std::slice::from_ref(&wk), 1)
            .unwrap()
            .len(),
        1,
        "{note}"
    );
    Checkpoint::open(
        note.as_bytes(),
        &[
            VerifierKey::parse(std::fs::read_to_string(d.join("log.vkey")).unwrap().trim())
                .unwrap(),
        ],
    )
    .expect("still the log's signature");
    assert!(
        std::fs::metadata(d.join("cosignatures")).unwrap().len() > 0,
        "stored durably"
    );
    let lot = demo_lot(&summary, "clean NdPr oxide lot");
    let honest = dir.path().join("honest.bundle");
    ree_ok_as(&l.addr, &admin, &["export", &lot, "-o", s(&honest)]);
    let (code, v) = verify_witnessed(&honest, &d, &wkey);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["checkpoint"]["cosigners"][0]["name"], "w.example", "{v}");
    assert_eq!(python(&honest, &wkey), Some(0));
    // Usage errors: a quorum without witness keys, or larger than the keys pinned.
    let trust = d.join("admin.key.pub");
    assert_eq!(
        ree_verify(&[s(&honest), "--trust", s(&trust), "--quorum", "1"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        ree_verify(&[
            s(&honest),
            "--trust",
            s(&trust),
            "--witness-vkey",
            s(&wkey),
            "--quorum",
            "2"
        ])
        .status
        .code(),
        Some(2)
    );
    // The witness goes down: events are still accepted, the failure is visible.
    drop(w);
    let before = status(&l.addr, &admin).0;
    bench(&l.addr, &admin);
    wait_for("a failed push to show", 20, || {
        status(&l.addr, &admin).1 > 0
    });
    let (after, _, _, text) = status(&l.addr, &admin);
    assert_eq!(after, before, "{text}");
    assert!(text.contains("last_error="), "{text}");
    drop(l);
    // The operator rewrites history with every key: the log key copied into a fresh
    // directory, the records restored from before the demo, another history replayed.
    let fork = dir.path().join("fork");
    ree_ok(
        "http://unused",
        &["restore", s(&b1), "--data-dir", s(&fork)],
    );
    std::fs::copy(d.join("log.key"), fork.join("log.key")).unwrap();
    copy_admin(&d, &fork);
    let w = witness(&wdir, &d.join("log.vkey"));
    let spec = format!("http://{}={}", w.addr, s(&wkey));
    let flog = dir.path().join("fork.log");
    let f = ledger(&fork, &spec, &flog);
    let fsummary = demo_as_admin(&f.addr, &fork);
    bench(&f.addr, &admin);
    wait_for("the ALARM", 30, || {
        std::fs::read_to_string(&flog)
            .unwrap_or_default()
            .contains("ALARM")
    });
    bench(&f.addr, &admin); // acceptance continues
    let (cosigned, _, alarms, text) = status(&f.addr, &admin);
    assert_eq!(cosigned, 0, "the witness never cosigned the fork: {text}");
    assert!(alarms >= 1, "{text}");
    let wlog = std::fs::read_to_string(wdir.with_extension("log")).unwrap_or_default();
    assert!(
        wlog.contains("ALARM"),
        "the witness refused the proof: {wlog}"
    );
    let flot = demo_lot(&fsummary, "clean NdPr oxide lot");
    let forked = dir.path().join("forked.bundle");
    ree_ok_as(&f.addr, &admin, &["export", &flot, "-o", s(&forked)]);
    let (code, v) = verify_witnessed(&forked, &fork, &wkey);
    assert_eq!(code, Some(3), "{v}");
    let e = v["integrity_error"].as_str().unwrap_or_default();
    assert!(
        e.contains("cosigned by 0 of the pinned witnesses, quorum 1"),
        "{v}"
    );
    assert_eq!(python(&forked, &wkey), Some(3));
    // The honest bundle still passes: it was cosigned before the rewrite.
    assert_eq!(verify_witnessed(&honest, &d, &wkey).0, Some(0));
}
