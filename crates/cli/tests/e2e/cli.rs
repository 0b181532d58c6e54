//! The `ree` binary's own surface (the other modules of this test binary drive it fully).

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
        "init",
        "whoami",
        "participant",
        "keygen",
        "digest",
        "repair",
        "checkpoint",
        "witness",
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
    // Credentials and registry input are checked before anything is sent.
    let dir = tempfile::tempdir().unwrap();
    let token_out = dir.path().join("t.token");
    let add = |role: &str, country: &str, key: &str| {
        ree()
            .args(["participant", "add", "--server", "http://127.0.0.1:1"])
            .args(["--name", "Mine", "--role", role, "--country", country])
            .args(["--public-key", key, "--token-out"])
            .arg(&token_out)
            .output()
            .unwrap()
    };
    let key = "ab".repeat(32);
    for (out, needle) in [
        (add("miner", "AU", &key), "role \"miner\""),
        (add("supplier", "XX", &key), "country"),
        (add("supplier", "AU", "nothex"), "not a public key"),
    ] {
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{needle}: {err}");
    }
    assert!(
        !token_out.exists(),
        "no token written for a refused registration"
    );
    let out = ree()
        .args(["submit", "-", "--server", "http://127.0.0.1:1"])
        .env_remove("REE_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--key"));
}

#[test]
fn check_refuses_a_missing_or_empty_data_dir_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nonexistent");
    for (d, needle) in [
        (&missing, "does not exist"),
        (&dir.path().to_path_buf(), "holds no ledger"),
    ] {
        let out = ree().args(["check", "--data-dir"]).arg(d).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{err}");
    }
    assert!(!missing.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
