//! The `ree` binary's own surface (the end-to-end tests in the top-level tests/ drive it fully).

use std::process::Command;

fn ree() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ree"))
}

#[test]
fn help_lists_every_command() {
    let out = ree().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for c in [
        "serve",
        "demo",
        "submit",
        "lots",
        "lot",
        "events",
        "provenance",
        "watch",
        "export",
        "check",
    ] {
        assert!(text.contains(c), "{c} missing from --help");
    }
}

#[test]
fn errors_are_one_line_and_non_zero() {
    let out = ree()
        .args(["lots", "--server", "http://127.0.0.1:1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: cannot connect"), "{err}");
    let out = ree()
        .args(["lots", "--kind", "gold", "--server", "http://127.0.0.1:1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--kind"));
}

#[test]
fn check_passes_on_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    // An empty store checks fine.
    let out = ree()
        .args(["check", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK: 0 records"));
}
