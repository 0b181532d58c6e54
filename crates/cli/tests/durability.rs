//! Which system call makes an acknowledged event durable: `fdatasync(2)` on sled's log file
//! (`DATA/sled/db`), once per group commit, before the answer. Checked with strace: submissions
//! sent one at a time (each answered before the next is sent, so no two share a group) must each
//! be covered by their own fdatasync of that file (and, for the log store, of its commit
//! superblock `DATA/log/committed`).

mod common;

use common::*;
use std::process::{Command, Stdio};

#[test]
fn every_acknowledged_submission_is_covered_by_an_fdatasync_of_the_log() {
    durability(&[], "sled/db>");
}

/// The same for the segment-log store: the synced file is `DATA/log/records.log`.
#[test]
fn every_acknowledged_submission_is_covered_by_an_fdatasync_of_the_segment_log() {
    durability(&["--store", "log"], "log/records.log>");
}

/// And the log store's commit superblock (`DATA/log/committed`), after the log: what lets an
/// open tell a cut-off acknowledged group from a torn one.
#[test]
fn every_acknowledged_submission_is_recorded_by_an_fdatasync_of_the_log_superblock() {
    durability(&["--store", "log"], "log/committed>");
}

fn durability(serve_args: &[&str], synced_file: &str) {
    assert!(
        Command::new("strace").arg("-V").output().is_ok(),
        "this test needs strace: install it (apt-get install strace)"
    );
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let trace = dir.path().join("trace");
    let data = dir.path().join("data");
    let mut child = Command::new("strace")
        .args([
            "-f",
            "-y",
            "-e",
            "trace=fdatasync,fsync,sync_file_range",
            "-o",
        ])
        .arg(&trace)
        .arg(bin("ree"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(&data)
        .args(serve_args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    // Generous: under strace -f on a loaded 2-core machine the first start can be slow.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    // The port is bound before the store opens: ready once the first start's credentials exist.
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        || !data.join("admin.token").exists()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "server under strace did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let count = |t: &str| {
        t.lines()
            .filter(|l| l.contains("fdatasync(") && l.contains(synced_file) && l.ends_with("= 0"))
            .count()
    };
    let team = Team::setup_blocking(&url, &data, &dir.path().join("creds"), 1);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let at_start = count(&std::fs::read_to_string(&trace).unwrap_or_default());
    let lot = uuid::Uuid::now_v7().to_string();
    let events = dir.path().join("e.jsonl");
    std::fs::write(&events, format!("{{\"occurredAt\": \"2025-03-04T08:00:00Z\", \"oreReceipt\": {{\"facilityId\": \"e3e61896-c824-447f-ba3a-5471893c1a4c\", \"lotId\": \"{lot}\", \"supplier\": \"s\", \"mineSite\": \"m\", \"country\": \"AU\", \"massG\": \"1000\", \"reoGradePpm\": 1}}}}\n")).unwrap();
    ree_ok_as(&url, &team.supplier, &["submit", events.to_str().unwrap()]);
    let n = 5;
    for i in 0..n {
        // A new event each time (the same line again would be a replay, not a write).
        std::fs::write(&events, format!("{{\"occurredAt\": \"2025-03-04T08:00:00Z\", \"adjustment\": {{\"lotId\": \"{lot}\", \"deltaG\": \"-1\", \"reason\": \"r{i}\"}}}}\n")).unwrap();
        ree_ok_as(&url, &team.plant, &["submit", events.to_str().unwrap()]);
    }
    // SIGTERM to the traced server (strace itself would not pass it on), then strace exits.
    let _ = Command::new("pkill")
        .args(["-TERM", "-P", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let t = std::fs::read_to_string(&trace).unwrap();
    let synced = count(&t) - at_start;
    assert!(
        synced > n,
        "{synced} fdatasync calls on {synced_file} for {} acknowledged submissions:\n{t}",
        n + 1
    );
}
