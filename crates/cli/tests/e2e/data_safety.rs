//! Data safety of a data directory (issue 10): acknowledged data cut off the log is refused by
//! `ree check`, `ree serve` and `ree repair` alike, and nothing changes it; only a torn, never
//! acknowledged tail is cut, by `ree repair` saying how many bytes; `check` and offline `backup`
//! never create or change anything and refuse a missing, empty or live data directory with one
//! line; everything the ledger writes is owner-only.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn ree_offline(args: &[&str], dir: &Path) -> Output {
    Command::new(bin("ree"))
        .args(args)
        .arg(dir)
        .output()
        .expect("run ree")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every path under `dir` with its content (files) or None (dirs), to compare before/after.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p.clone());
                out.push((p, None));
            } else {
                out.push((p.clone(), Some(std::fs::read(&p).unwrap())));
            }
        }
    }
    out.sort();
    out
}

/// A stopped log-store server's data directory with a team and `n` acknowledged adjustments.
fn log_ledger(root: &Path, n: usize) -> PathBuf {
    let data = root.join("data");
    let s = Server::start_with(&data, free_port(), &["--store", "log"]);
    let team = Team::setup_blocking(&s.url(), &data, &root.join("creds"), 3);
    let lot = uuid::Uuid::now_v7().to_string();
    let mut lines = format!("{{\"occurredAt\": \"2025-03-04T08:00:00Z\", \"oreReceipt\": {{\"facilityId\": \"e3e61896-c824-447f-ba3a-5471893c1a4c\", \"lotId\": \"{lot}\", \"supplier\": \"s\", \"mineSite\": \"m\", \"country\": \"AU\", \"massG\": \"1000000\", \"reoGradePpm\": 1}}}}\n");
    let events = root.join("e.jsonl");
    std::fs::write(&events, &lines).unwrap();
    ree_ok_as(
        &s.url(),
        &team.supplier,
        &["submit", events.to_str().unwrap()],
    );
    lines.clear();
    for _ in 0..n {
        lines.push_str(&format!(
            "{{\"occurredAt\": \"2025-03-04T08:00:00Z\", \"adjustment\": {{\"lotId\": \"{lot}\", \"deltaG\": \"-1\", \"reason\": \"r\"}}}}\n"
        ));
    }
    std::fs::write(&events, &lines).unwrap();
    ree_ok_as(&s.url(), &team.plant, &["submit", events.to_str().unwrap()]);
    s.stop_cleanly();
    data
}

/// `ree serve` on `data`, expected to refuse to start: its exit status and stderr.
fn serve_refused(data: &Path) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(bin("ree"))
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            return (st, stderr(&out));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ree serve started on a data directory missing acknowledged data");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_log_cut_to_half_is_refused_by_check_serve_and_repair_and_left_unchanged() {
    let root = tempfile::tempdir().unwrap();
    let data = log_ledger(root.path(), 200);
    let log = data.join("log/records.log");
    let full = std::fs::read(&log).unwrap();
    std::fs::write(&log, &full[..full.len() / 2]).unwrap();
    let before = snapshot(&data);
    let check = ree_offline(&["check", "--data-dir"], &data);
    assert!(!check.status.success(), "check passed a log cut to half");
    let err = stderr(&check);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("records.log: acknowledged data is missing: expected")
            && err.contains(&format!("length {} bytes", full.len())),
        "{err}"
    );
    assert_eq!(snapshot(&data), before, "check changed the data directory");
    let (st, err) = serve_refused(&data);
    assert!(!st.success());
    assert!(err.contains("acknowledged data is missing"), "{err}");
    let repair = ree_offline(&["repair", "--data-dir"], &data);
    assert!(!repair.status.success());
    assert!(stderr(&repair).contains("acknowledged data is missing"));
    assert_eq!(
        std::fs::read(&log).unwrap(),
        full[..full.len() / 2],
        "repair or serve touched a log missing acknowledged data"
    );
}

#[test]
fn repair_cuts_a_torn_unacknowledged_tail_and_says_how_many_bytes() {
    let root = tempfile::tempdir().unwrap();
    let data = log_ledger(root.path(), 5);
    let log = data.join("log/records.log");
    let good = std::fs::read(&log).unwrap();
    // Half a record frame: what a crash in the middle of a group's write leaves.
    let mut torn = good.clone();
    torn.extend_from_slice(&[1, 0x40, 0x01, 0, 0, 0x01, 0x02, 0x03]);
    std::fs::write(&log, &torn).unwrap();
    let before = snapshot(&data);
    let check = ree_offline(&["check", "--data-dir"], &data);
    assert!(check.status.success(), "{}", stderr(&check));
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(
        out.contains("OK") && out.contains("8 bytes of a torn"),
        "{out}"
    );
    assert_eq!(snapshot(&data), before, "check cut the tail itself");
    let repair = ree_offline(&["repair", "--data-dir"], &data);
    assert!(repair.status.success(), "{}", stderr(&repair));
    let out = String::from_utf8_lossy(&repair.stdout);
    assert!(
        out.contains("cut 8 bytes of an unacknowledged torn tail"),
        "{out}"
    );
    assert_eq!(std::fs::read(&log).unwrap(), good);
    let again = ree_offline(&["repair", "--data-dir"], &data);
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to repair"));
}

#[test]
fn check_and_offline_backup_refuse_a_missing_or_empty_dir_and_create_nothing() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("typo");
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for (dir, needle) in [(&missing, "does not exist"), (&empty, "holds no ledger")] {
        for args in [
            vec!["check", "--data-dir"],
            vec!["repair", "--data-dir"],
            vec![
                "backup",
                "-o",
                root.path().join("b.backup").to_str().unwrap(),
                "--data-dir",
            ],
        ] {
            let o = ree_offline(&args, dir);
            assert!(!o.status.success(), "{args:?} {}", dir.display());
            let err = stderr(&o);
            assert_eq!(err.trim().lines().count(), 1, "{err}");
            assert!(err.contains(needle), "{args:?}: {err}");
        }
    }
    assert!(!missing.exists(), "a missing data dir was created");
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
    let mut left: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["empty"], "no backup or .partial left behind");
}

#[test]
fn a_live_data_dir_is_named_in_use_once_and_leaves_no_partial_backup() {
    let root = tempfile::tempdir().unwrap();
    for store in ["sled", "log"] {
        let data = root.path().join(store);
        let _s = Server::start_with(&data, free_port(), &["--store", store]);
        let out = root.path().join("live.backup");
        for args in [
            vec!["check", "--data-dir"],
            vec!["backup", "-o", out.to_str().unwrap(), "--data-dir"],
        ] {
            let o = ree_offline(&args, &data);
            assert!(!o.status.success());
            let err = stderr(&o);
            assert_eq!(
                err.trim(),
                format!(
                    "error: {} is in use by a running server (stop it, or use `ree backup` against the server)",
                    data.display()
                ),
                "{store} {args:?}"
            );
        }
        assert!(!out.exists());
        assert!(
            !root.path().join("live.partial").exists(),
            "empty .partial left"
        );
    }
}

fn assert_owner_only(dir: &Path) {
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    for (p, content) in snapshot(dir) {
        let want = if content.is_some() { 0o600 } else { 0o700 };
        assert_eq!(mode(&p), want, "{} is {:o}", p.display(), mode(&p));
    }
}

#[test]
fn every_file_of_the_ledger_and_its_backups_is_owner_only() {
    let root = tempfile::tempdir().unwrap();
    // A data dir created world-readable (an older build) is tightened on serve start.
    let sled = root.path().join("sled-data");
    std::fs::create_dir(&sled).unwrap();
    std::fs::set_permissions(&sled, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = Server::start(&sled, free_port());
    let team = Team::setup_blocking(&s.url(), &sled, &root.path().join("creds"), 4);
    let backup = root.path().join("x.backup");
    ree_ok_as(
        &s.url(),
        &team.admin,
        &["backup", "-o", backup.to_str().unwrap()],
    );
    s.stop_cleanly();
    assert_owner_only(&sled);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&backup), 0o600);
    let offline = root.path().join("offline.backup");
    let o = ree_offline(
        &["backup", "-o", offline.to_str().unwrap(), "--data-dir"],
        &sled,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(mode(&offline), 0o600);
    let log = log_ledger(&root.path().join("l"), 3);
    assert_owner_only(&log);
    for store in ["sled", "log"] {
        let restored = root.path().join(format!("restored-{store}"));
        ree_ok(
            "http://127.0.0.1:1",
            &[
                "restore",
                backup.to_str().unwrap(),
                "--data-dir",
                restored.to_str().unwrap(),
                "--store",
                store,
            ],
        );
        assert_owner_only(&restored);
    }
}

#[test]
fn restore_refuses_a_non_empty_directory_and_leaves_it_alone() {
    let root = tempfile::tempdir().unwrap();
    let target = root.path().join("t");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), b"mine").unwrap();
    let backup = root.path().join("b.backup");
    std::fs::write(&backup, b"REEBACKP").unwrap();
    let o = ree(
        "http://127.0.0.1:1",
        &[
            "restore",
            backup.to_str().unwrap(),
            "--data-dir",
            target.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("is not empty"), "{}", stderr(&o));
    assert_eq!(std::fs::read(target.join("keep")).unwrap(), b"mine");
}
