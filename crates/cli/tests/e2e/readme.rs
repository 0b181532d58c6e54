//! The README's commands are the commands that work: every ```sh block of README.md is run, in
//! order, each in its own bash with `set -euo pipefail`, in one working directory where a demo
//! server was started the way the README's first command starts it. A block preceded by
//! `<!-- readme-test: file NAME -->` is written to NAME instead (e.g. the policy file).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{bin, free_port, workspace_root};

/// A fenced block: its language, its text, and the directive line before it, if any.
struct Block {
    lang: String,
    text: String,
    directive: Option<String>,
    line: usize,
}

fn blocks(readme: &str) -> Vec<Block> {
    let mut out = vec![];
    let mut lines = readme.lines().enumerate().peekable();
    let mut previous = "";
    while let Some((n, line)) = lines.next() {
        if let Some(lang) = line.strip_prefix("```") {
            let mut text = String::new();
            for (_, l) in lines.by_ref() {
                if l.starts_with("```") {
                    break;
                }
                text.push_str(l);
                text.push('\n');
            }
            let directive = previous
                .strip_prefix("<!-- readme-test:")
                .and_then(|d| d.strip_suffix("-->"))
                .map(|d| d.trim().to_string());
            out.push(Block {
                lang: lang.trim().to_string(),
                text,
                directive,
                line: n + 1,
            });
        }
        previous = line;
    }
    out
}

/// The README's two commands, without their comments.
fn two_commands(block: &Block) -> Vec<String> {
    block
        .text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn every_sh_block_of_the_readme_runs() {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let all = blocks(&readme);
    let mut sh = all.iter().filter(|b| b.lang == "sh");

    // The first block is the two commands: the server with the demo, and the tests. The first
    // is run below as the built binary (the same code `cargo run` would build); the second is
    // what CI runs, so it must appear in .ci/run.
    let first = sh.next().expect("README has no sh block");
    let cmds = two_commands(first);
    assert_eq!(
        cmds.len(),
        2,
        "README's first sh block must be the two commands: {cmds:?}"
    );
    assert_eq!(cmds[0], "cargo run --release -p ree-cli -- serve --demo");
    let ci = std::fs::read_to_string(root.join(".ci/run")).expect(".ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == cmds[1]),
        "README's test command {:?} is not what .ci/run runs",
        cmds[1]
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = Command::new(bin("ree"))
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn ree serve --demo");
    let stdout = server.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "the demo did not finish loading");
        match lines.next() {
            Some(Ok(l)) if l.starts_with("query as the auditor") => break,
            Some(Ok(_)) => continue,
            _ => panic!("ree serve --demo exited before the demo was loaded"),
        }
    }
    std::thread::spawn(move || for _ in lines {});

    // `ree` and `ree-verify` on the PATH, as `cargo install` would put them.
    let bin_dir = bin("ree").parent().expect("bin dir").to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = 0;
    for b in all.iter().skip_while(|b| b.line <= first.line) {
        match (&b.directive, b.lang.as_str()) {
            (Some(d), _) if d.starts_with("file ") => {
                let name = d.trim_start_matches("file ").trim();
                std::fs::write(dir.path().join(name), &b.text).expect("write block file");
            }
            (Some(d), _) => panic!("README line {}: unknown directive {d:?}", b.line),
            (None, "sh") => {
                let out = Command::new("bash")
                    .arg("-c")
                    .arg(format!("set -euo pipefail\n{}", b.text))
                    .current_dir(dir.path())
                    .env("PATH", &path)
                    .env("REE_SERVER", &url)
                    .env_remove("REE_TOKEN")
                    .env_remove("REE_TOKEN_FILE")
                    .env_remove("REE_KEY")
                    .stdin(Stdio::null())
                    .output()
                    .expect("run bash");
                assert!(
                    out.status.success(),
                    "README block at line {} failed ({}):\n{}\nstdout:\n{}\nstderr:\n{}",
                    b.line,
                    out.status,
                    b.text,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                ran += 1;
            }
            _ => {}
        }
    }
    assert!(ran >= 3, "only {ran} README blocks ran");
    let _ = server.kill();
    let _ = server.wait();
}
