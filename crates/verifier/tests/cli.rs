//! `ree-verify`'s exit codes for usage errors and unreadable input.

use std::process::Command;

fn verify() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ree-verify"))
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(verify().output().unwrap().status.code(), Some(2));
    assert_eq!(
        verify()
            .args(["a.bundle", "--frobnicate"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        verify()
            .args(["a.bundle", "--expect-head", "xyz"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("policy.toml");
    std::fs::write(&p, "min_recycled = 0.3\n").unwrap();
    let out = verify()
        .arg("a.bundle")
        .arg("--policy")
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field"));
}

/// Issue 12, attack 6: without a pinned administrator key nothing is verified (exit 2, stderr
/// names the reason, stdout says nothing of authenticity); `--allow-unpinned` opts in, warning.
#[test]
fn an_unpinned_root_of_trust_exits_2_unless_explicitly_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("junk.bundle");
    std::fs::write(&p, b"not a bundle").unwrap();
    let out = verify().arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing on stdout");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the root of trust is unpinned"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let out = verify().arg(&p).arg("--allow-unpinned").output().unwrap();
    assert_eq!(out.status.code(), Some(3), "then the bundle is judged");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("WARNING: the root of trust is unpinned"),
        "{err}"
    );
    // A key in the policy pins it as well as --trust does.
    let pol = dir.path().join("p.toml");
    let key = "ab".repeat(32);
    std::fs::write(&pol, format!("trusted_administrator_keys = [\"{key}\"]\n")).unwrap();
    let out = verify().arg(&p).arg("--policy").arg(&pol).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("unpinned"));
}

#[test]
fn unreadable_or_malformed_bundles_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        verify()
            .arg(dir.path().join("missing"))
            .arg("--allow-unpinned")
            .output()
            .unwrap()
            .status
            .code(),
        Some(3)
    );
    let p = dir.path().join("junk.bundle");
    std::fs::write(&p, b"not a bundle").unwrap();
    let out = verify()
        .args([
            p.as_os_str(),
            "--json".as_ref(),
            "--allow-unpinned".as_ref(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["authentic"], false);
    assert!(v["integrity_error"].as_str().unwrap().contains("magic"));
}

#[test]
fn help_describes_every_option_and_the_exit_codes() {
    let out = verify().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--trust",
        "--allow-unpinned",
        "--policy",
        "--expect-head",
        "--json",
        "--version",
        "0  authentic and compliant",
        "3  not authentic",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
    let out = verify().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("ree-verify {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_file_that_is_not_a_key_is_named_not_dumped() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("README.md");
    std::fs::write(&p, "# A long document\n".repeat(200)).unwrap();
    let out = verify()
        .arg("a.bundle")
        .arg("--trust")
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("not a public key"), "{err}");
    assert!(!err.contains("A long document"), "{err}");
}
