//! Backups taken while serving restore into a working, verified data directory; damaged backups
//! are refused.

use crate::common::*;
use std::process::Command;

/// `ree backup --data-dir DIR -o OUT`, the offline form.
fn offline_backup(dir: &std::path::Path, out: impl AsRef<std::ffi::OsStr>) -> std::process::Output {
    Command::new(bin("ree"))
        .args(["backup", "--data-dir"])
        .arg(dir)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn backup_while_serving_restores_to_the_same_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), free_port());
    let url = s.url();
    let data = dir.path().join("data");
    let admin = admin_of(&data);
    demo_as_admin(&url, &data);
    // Under load: the backup is a consistent prefix, so it restores and checks.
    let mut load = Command::new(bin("ree"))
        .args([
            "bench",
            "--allow-writes",
            "--duration",
            "3",
            "--concurrency",
            "8",
            "--batch",
            "10",
        ])
        .env("REE_SERVER", &url)
        .envs(admin.env())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let during = dir.path().join("during.backup");
    ree_ok_as(&url, &admin, &["backup", "-o", during.to_str().unwrap()]);
    assert!(load.wait().unwrap().success());
    let restored = dir.path().join("restored-during");
    let out = ree_ok(
        &url,
        &[
            "restore",
            during.to_str().unwrap(),
            "--data-dir",
            restored.to_str().unwrap(),
        ],
    );
    assert!(out.contains("every chain replayed"), "{out}");
    // Quiet: the restored ledger answers exactly as the original.
    let quiet = dir.path().join("quiet.backup");
    ree_ok_as(&url, &admin, &["backup", "-o", quiet.to_str().unwrap()]);
    let lots = ree_ok_as(&url, &admin, &["lots", "--json"]);
    let restored = dir.path().join("restored");
    ree_ok(
        &url,
        &[
            "restore",
            quiet.to_str().unwrap(),
            "--data-dir",
            restored.to_str().unwrap(),
        ],
    );
    let s2 = Server::start(&restored, free_port());
    assert_eq!(ree_ok_as(&s2.url(), &admin, &["lots", "--json"]), lots);
    // The same backup restores into the segment-log store, which answers the same; while a
    // server holds it, an offline backup of it is refused.
    let restored_log = dir.path().join("restored-log");
    let out = ree_ok_as(
        &url,
        &admin,
        &[
            "restore",
            quiet.to_str().unwrap(),
            "--data-dir",
            restored_log.to_str().unwrap(),
            "--store",
            "log",
        ],
    );
    assert!(out.contains("every chain replayed"), "{out}");
    assert!(restored_log.join("log").join("records.log").exists());
    let s3 = Server::start(&restored_log, free_port());
    assert_eq!(ree_ok_as(&s3.url(), &admin, &["lots", "--json"]), lots);
    let o = offline_backup(&restored_log, dir.path().join("held.backup"));
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is in use by a running server"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    drop(s3);
    let o = offline_backup(&restored_log, dir.path().join("log-offline.backup"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(dir.path().join("log-offline.backup")).unwrap(),
        std::fs::read(&quiet).unwrap(),
        "the log store gives back the very same records"
    );
    // A restore never overwrites an existing directory.
    let out = ree_as(
        &url,
        &admin,
        &[
            "restore",
            quiet.to_str().unwrap(),
            "--data-dir",
            restored.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    // A damaged backup is refused and leaves no directory behind.
    let mut bytes = std::fs::read(&quiet).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    let bad = dir.path().join("bad.backup");
    std::fs::write(&bad, &bytes).unwrap();
    let target = dir.path().join("restored-bad");
    let out = ree_as(
        &url,
        &admin,
        &[
            "restore",
            bad.to_str().unwrap(),
            "--data-dir",
            target.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("record"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!target.exists());
    drop(s);
    // Offline backup needs the directory to itself: refused while a server holds it...
    let offline = dir.path().join("offline.backup");
    let o = offline_backup(&restored, &offline);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is in use by a running server"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // ...and, once it is stopped, gives the same file as the backup taken through the server.
    drop(s2);
    let o = offline_backup(&restored, &offline);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(&offline).unwrap(),
        std::fs::read(&quiet).unwrap()
    );
}
