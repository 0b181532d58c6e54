//! Runs the real binaries: `ree serve` on a free loopback port, the `ree` CLI, `ree-verify`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Where cargo put the workspace's binaries: next to this test's own `deps/` directory.
/// `cargo test --workspace` builds them (the cli and verifier packages have integration tests,
/// so cargo builds their binaries before running any test).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} not built: run `cargo build --workspace` or `cargo test --workspace`",
        p.display()
    );
    p
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A running `ree serve`; killed (SIGKILL) on drop unless stopped.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Server {
    pub fn start(dir: &Path, port: u16) -> Server {
        let mut child = Command::new(bin("ree"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn ree serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "server did not start");
            match lines.next() {
                Some(Ok(l)) if l.starts_with("listening on") => break,
                Some(Ok(_)) => continue,
                _ => panic!("server exited before listening"),
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            port,
            dir: dir.to_path_buf(),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGTERM, and the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `ree ARGS` against `url`.
pub fn ree(url: &str, args: &[&str]) -> Output {
    Command::new(bin("ree"))
        .args(args)
        .env("REE_SERVER", url)
        .output()
        .expect("run ree")
}

/// Runs `ree ARGS`, asserting success; returns stdout.
pub fn ree_ok(url: &str, args: &[&str]) -> String {
    let out = ree(url, args);
    assert!(
        out.status.success(),
        "ree {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Extracts a lot id printed after `label` by `ree demo`.
pub fn demo_lot(summary: &str, label: &str) -> String {
    summary
        .lines()
        .find(|l| l.contains(label))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("{label} not in demo output:\n{summary}"))
        .to_string()
}

pub async fn client(
    url: &str,
) -> (
    ree_ledger::v1::submissions_client::SubmissionsClient<tonic::transport::Channel>,
    ree_ledger::v1::queries_client::QueriesClient<tonic::transport::Channel>,
) {
    let ch = tonic::transport::Endpoint::from_shared(url.to_string())
        .unwrap()
        .tcp_nodelay(true)
        .initial_stream_window_size(Some(4 << 20))
        .initial_connection_window_size(Some(8 << 20))
        .connect()
        .await
        .unwrap();
    (
        ree_ledger::v1::submissions_client::SubmissionsClient::new(ch.clone()),
        ree_ledger::v1::queries_client::QueriesClient::new(ch).max_decoding_message_size(256 << 20),
    )
}
