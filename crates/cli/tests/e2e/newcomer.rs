//! A newcomer's first hour (issue 10, items 3, 14, 16, 18, 19): retried files never double-book,
//! the demo is not loaded twice, wrong settings get one line saying what to do, the bench asks
//! before it writes, and the outputs read right.

use std::process::{Command, Stdio};

use crate::common::{bin, free_port, ree_as, ree_ok_as, Server, Team};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A receipt line of `team.supplier`'s, with or without its event id and time.
fn receipt_line(lot: &str, event_id: Option<&str>, occurred_at: Option<&str>) -> String {
    let mut v = serde_json::json!({
        "oreReceipt": {"facilityId": ree_core::testkit::mine(ree_core::Country::parse("AU").unwrap()).to_string(), "lotId": lot, "supplier": "Mine", "mineSite": "Pit 1", "country": "AU",
            "massG": "1000000", "reoGradePpm": 500000,
            "assay": [{"element": "Nd", "ppm": 100000}]}
    });
    if let Some(id) = event_id {
        v["eventId"] = id.into();
    }
    if let Some(t) = occurred_at {
        v["occurredAt"] = t.into();
    }
    v.to_string()
}

#[test]
fn a_retried_file_never_books_an_event_twice() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), free_port());
    let team = Team::setup_blocking(&s.url(), &s.dir, &dir.path().join("creds"), 1);
    let file = dir.path().join("receipts.jsonl");
    let lot_a = uuid::Uuid::now_v7().to_string();
    let lot_b = uuid::Uuid::now_v7().to_string();
    let lines = [
        receipt_line(&lot_a, None, Some("2025-03-04T08:00:00Z")),
        receipt_line(&lot_b, None, Some("2025-03-04T09:00:00Z")),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let path = file.to_str().unwrap();
    let first = ree_ok_as(&s.url(), &team.supplier, &["submit", path]);
    let second = ree_ok_as(&s.url(), &team.supplier, &["submit", path]);
    let parse = |out: &str| -> Vec<serde_json::Value> {
        out.lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line per event"))
            .collect()
    };
    let (first, second) = (parse(&first), parse(&second));
    assert_eq!(first.len(), 2);
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a["replayed"], false);
        assert_eq!(b["replayed"], true, "the retry booked again: {b}");
        assert_eq!(a["event_id"], b["event_id"]);
        assert_eq!(a["head"], b["head"]);
    }
    assert_ne!(first[0]["event_id"], first[1]["event_id"]);
    let events = ree_ok_as(&s.url(), &team.supplier, &["events", &lot_a, "--json"]);
    let events: serde_json::Value = serde_json::from_str(&events).unwrap();
    assert_eq!(events.as_array().unwrap().len(), 1);

    // Two identical lines in one file are two events (two stock counts of -1 g), and the
    // file retried is still those two.
    let adjust = format!(
        "{{\"occurredAt\": \"2025-03-05T08:00:00Z\", \"adjustment\": {{\"lotId\": \"{lot_a}\", \"deltaG\": \"-1\", \"reason\": \"count\"}}}}\n"
    );
    std::fs::write(&file, adjust.repeat(2)).unwrap();
    let first = parse(&ree_ok_as(&s.url(), &team.plant, &["submit", path]));
    let again = parse(&ree_ok_as(&s.url(), &team.plant, &["submit", path]));
    assert_ne!(first[0]["event_id"], first[1]["event_id"]);
    assert!(first.iter().all(|r| r["replayed"] == false));
    assert!(again.iter().all(|r| r["replayed"] == true), "{again:?}");
    let events = ree_ok_as(&s.url(), &team.supplier, &["events", &lot_a, "--json"]);
    let events: serde_json::Value = serde_json::from_str(&events).unwrap();
    assert_eq!(events.as_array().unwrap().len(), 3);

    // A line without its time is refused before anything is sent, naming the field.
    std::fs::write(&file, receipt_line(&lot_a, None, None)).unwrap();
    let out = ree_as(&s.url(), &team.supplier, &["submit", path]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("line 1: occurredAt: missing"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn the_demo_is_not_loaded_into_a_store_that_holds_lots() {
    let dir = tempfile::tempdir().unwrap();
    let serve = |port: u16| {
        Command::new(bin("ree"))
            .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
            .current_dir(dir.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let read_until = |child: &mut std::process::Child, end: &str| -> String {
        use std::io::BufRead;
        let out = child.stdout.take().unwrap();
        let mut text = String::new();
        for line in std::io::BufReader::new(out).lines() {
            let line = line.unwrap();
            text.push_str(&line);
            text.push('\n');
            if line.starts_with(end) {
                break;
            }
        }
        text
    };
    let mut first = serve(free_port());
    let text = read_until(&mut first, "query as the auditor");
    assert!(text.contains("demo loaded: 396 events"), "{text}");
    first.kill().unwrap();
    first.wait().unwrap();
    let lots_env = std::fs::read_to_string(dir.path().join("ree-demo-creds/lots.env")).unwrap();
    assert!(lots_env.starts_with("CLEAN_NDPR_LOT="), "{lots_env}");

    let mut second = serve(free_port());
    let text = read_until(&mut second, "the store already holds lots");
    second.kill().unwrap();
    second.wait().unwrap();
    assert!(!text.contains("demo loaded"), "{text}");
    assert!(text.contains("demo not loaded again"), "{text}");
}

#[test]
fn wrong_server_settings_get_one_line_saying_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), free_port());
    let bare = format!("127.0.0.1:{}", s.port);
    let https = format!("https://127.0.0.1:{}", s.port);
    let ca = dir.path().join("ca.pem");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(&ca, cert.cert.pem()).unwrap();
    let cases: [(Vec<&str>, &str); 4] = [
        (vec!["lots", "--server", &bare], "give the scheme: http://"),
        (vec!["lots", "--server", &https], "needs --ca-cert"),
        (
            vec![
                "lots",
                "--server",
                &https,
                "--ca-cert",
                ca.to_str().unwrap(),
            ],
            "does not answer TLS; if it serves plaintext, use http://",
        ),
        (
            vec!["lots", "--server", "http://127.0.0.1:1"],
            "connection refused",
        ),
    ];
    for (args, expected) in cases {
        let out = Command::new(bin("ree")).args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn the_bench_asks_before_it_writes_and_counts_queries_as_queries() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), free_port());
    let admin = crate::common::admin_of(&s.dir);
    let before = ree_ok_as(&s.url(), &admin, &["participant", "list", "--json"]);
    let out = ree_as(&s.url(), &admin, &["bench", "--count", "10"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("--allow-writes"), "{err}");
    let after = ree_ok_as(&s.url(), &admin, &["participant", "list", "--json"]);
    assert_eq!(before, after, "a refused bench registered somebody");

    crate::common::demo_as_admin(&s.url(), &s.dir);
    let out = ree_ok_as(
        &s.url(),
        &admin,
        &[
            "bench",
            "--mode",
            "provenance",
            "--count",
            "20",
            "--concurrency",
            "2",
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["queries"], 20, "{v}");
    assert!(v["queries_per_s"].as_f64().unwrap() > 0.0);
    assert!(
        v.get("events").is_none() && v.get("events_per_s").is_none(),
        "{v}"
    );
}

#[test]
fn whoami_and_lists_read_as_the_readme_says() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), free_port());
    let team = Team::setup_blocking(&s.url(), &s.dir, &dir.path().join("creds"), 2);
    let who = ree_ok_as(&s.url(), &team.auditor, &["whoami"]);
    assert_eq!(who.lines().count(), 1, "{who}");
    assert!(
        who.starts_with(&format!(
            "{}, auditor (",
            who.split(',').next().unwrap_or_default()
        )) && who.contains(&format!("participant {}, 1 active key", team.auditor.id)),
        "{who}"
    );
    // The participants table: every column where its header is.
    let list = ree_ok_as(&s.url(), &team.auditor, &["participant", "list"]);
    let header = list.lines().next().unwrap();
    let name_col = header.find("NAME").unwrap();
    for line in list.lines().skip(1) {
        let keys_col = header.find("KEYS").unwrap();
        assert!(
            line[keys_col..].starts_with("1 key "),
            "misaligned: {line:?}"
        );
        assert!(line.len() > name_col, "{line:?}");
    }
}

/// Progress bars are for terminals: piped into a file, long commands print only their result.
#[test]
fn long_commands_print_no_progress_when_not_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Server::start(&data, free_port());
    crate::common::demo_as_admin(&s.url(), &s.dir);
    s.stop();
    let backup = dir.path().join("b.backup");
    let restored = dir.path().join("restored");
    for args in [
        vec!["check", "--data-dir", data.to_str().unwrap()],
        vec![
            "backup",
            "--data-dir",
            data.to_str().unwrap(),
            "-o",
            backup.to_str().unwrap(),
        ],
        vec![
            "restore",
            backup.to_str().unwrap(),
            "--data-dir",
            restored.to_str().unwrap(),
        ],
    ] {
        let out = Command::new(bin("ree")).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let all = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
        assert!(
            !all.contains(&b'\r') && !all.contains(&0x1b),
            "{args:?} drew a progress bar into a pipe: {}",
            String::from_utf8_lossy(&all)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    }
}
