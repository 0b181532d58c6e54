//! Runs the real binaries: `ree serve` on a free loopback port, the `ree` CLI, `ree-verify`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The workspace's root directory (README.md, docs/, .ci/).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A binary the tests run: `ree` is this package's own (cargo builds it before its tests);
/// `ree-verify` is ree-verifier's, built here on first use into the same target directory (a
/// no-op when `cargo test --workspace` already built it), so `cargo test -p ree-cli` runs alone.
pub fn bin(name: &str) -> PathBuf {
    let ree = PathBuf::from(env!("CARGO_BIN_EXE_ree"));
    if name == "ree" {
        return ree;
    }
    assert_eq!(name, "ree-verify", "no binary {name} in the workspace");
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| build_verifier(&ree)).clone()
}

/// Builds `ree-verify` with the profile and target directory `ree` was built with; its path.
fn build_verifier(ree: &Path) -> PathBuf {
    let profile_dir = ree.parent().expect("profile directory");
    let target_dir = profile_dir.parent().expect("target directory");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "-p",
            "ree-verifier",
            "--bin",
            "ree-verify",
        ])
        .args(["--profile", profile, "--target-dir"])
        .arg(target_dir)
        .current_dir(workspace_root())
        .status()
        .expect("run cargo build -p ree-verifier");
    assert!(status.success(), "cargo build -p ree-verifier failed");
    let verifier = profile_dir.join("ree-verify");
    assert!(verifier.exists(), "{} not built", verifier.display());
    verifier
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
        Server::start_with(dir, port, &[])
    }

    /// [`Server::start`] with more `ree serve` arguments.
    pub fn start_with(dir: &Path, port: u16, extra: &[&str]) -> Server {
        let mut child = Command::new(bin("ree"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(dir)
            .args(extra)
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

    /// SIGTERM; the server must exit 0 (a graceful stop), else the test fails naming how it
    /// ended.
    pub fn stop_cleanly(self) {
        let status = self.stop();
        assert!(status.success(), "ree serve did not stop cleanly: {status}");
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

/// Runs `ree-verify ARGS`.
pub fn ree_verify(args: &[&str]) -> Output {
    Command::new(bin("ree-verify"))
        .args(args)
        .output()
        .expect("run ree-verify")
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

/// A connection with the server's HTTP/2 settings.
async fn channel(url: &str) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(url.to_string())
        .unwrap()
        .tcp_nodelay(true)
        .initial_stream_window_size(Some(4 << 20))
        .initial_connection_window_size(Some(8 << 20))
        .connect()
        .await
        .unwrap()
}

/// `msg` carrying `token` as its bearer credential.
pub fn with_token<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    r
}

/// Canonical body bytes signed with `secret`, as a wire submission.
pub fn signed_submission(secret: &[u8; 32], bytes: Vec<u8>) -> ree_proto::v1::Submission {
    let s = ree_core::record::Signature::sign(secret, &bytes);
    ree_proto::v1::Submission {
        body: None,
        canonical_body: bytes,
        signature: Some(ree_proto::v1::Signature {
            public_key: s.public_key.to_vec(),
            signature: s.signature.to_vec(),
        }),
    }
}

pub fn canonical(body: &ree_proto::v1::EventBody) -> Vec<u8> {
    ree_proto::convert::body_from_pb(body)
        .expect("test body converts")
        .encode()
        .expect("test body fits the layout")
}

pub async fn client(
    url: &str,
) -> (
    ree_proto::v1::submissions_client::SubmissionsClient<tonic::transport::Channel>,
    ree_proto::v1::queries_client::QueriesClient<tonic::transport::Channel>,
) {
    let ch = channel(url).await;
    (
        ree_proto::v1::submissions_client::SubmissionsClient::new(ch.clone()),
        ree_proto::v1::queries_client::QueriesClient::new(ch).max_decoding_message_size(256 << 20),
    )
}

/// One participant of a test ledger: its signing key and bearer token, in memory and on disk.
#[derive(Clone)]
pub struct Member {
    pub name: String,
    pub id: String,
    pub secret: [u8; 32],
    pub key_file: PathBuf,
    pub token: String,
    pub token_file: PathBuf,
}

impl Member {
    /// `msg` with this member's bearer token.
    pub fn req<T>(&self, msg: T) -> tonic::Request<T> {
        with_token(msg, &self.token)
    }
    /// The body's canonical bytes, signed by this member.
    pub fn signed(&self, body: &ree_proto::v1::EventBody) -> ree_proto::v1::Submission {
        signed_submission(&self.secret, canonical(body))
    }
    /// Environment for the `ree` CLI acting as this member.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("REE_TOKEN_FILE", self.token_file.display().to_string()),
            ("REE_KEY", self.key_file.display().to_string()),
        ]
    }
}

/// The server's administrator (from DATA/admin.key and DATA/admin.token) and one participant of
/// each role, registered by it: two suppliers, a recycler, the plant, a customer, an auditor.
pub struct Team {
    pub admin: Member,
    pub supplier: Member,
    pub supplier2: Member,
    pub recycler: Member,
    pub plant: Member,
    pub customer: Member,
    pub auditor: Member,
    pub lab: Member,
}

fn write_member(dir: &Path, name: &str, secret: [u8; 32], token: &str, id: String) -> Member {
    std::fs::create_dir_all(dir).unwrap();
    let key_file = dir.join(format!("{name}.key"));
    if !key_file.exists() {
        ree_proto::creds::write_key(&key_file, &secret).unwrap();
    }
    let token_file = dir.join(format!("{name}.token"));
    if !token_file.exists() {
        ree_proto::creds::write_secret(&token_file, token).unwrap();
    }
    Member {
        name: name.into(),
        id,
        secret,
        key_file,
        token: token.into(),
        token_file,
    }
}

/// The administrator of the server whose data directory is `data`.
pub fn admin_of(data: &Path) -> Member {
    let f = ree_proto::creds::AdminFiles::in_dir(data);
    Member {
        name: "admin".into(),
        id: String::new(),
        secret: ree_proto::creds::read_key(&f.key).unwrap(),
        key_file: f.key,
        token: ree_proto::creds::read_token(&f.token).unwrap(),
        token_file: f.token,
    }
}

impl Team {
    /// Registers the team (keys derived from `seed`) on the server, as its administrator;
    /// their credentials go to `creds`. Idempotent for the same seed.
    pub async fn setup(url: &str, data: &Path, creds: &Path, seed: u64) -> Team {
        let admin = admin_of(data);
        let t = ree_core::testkit::Team::new(seed);
        let (mut w, _) = client(url).await;
        let mut members = vec![];
        for m in &t.members()[1..] {
            let body = ree_core::EventBody {
                event_id: ree_core::EventId(uuid::Uuid::from_u128(u128::from_le_bytes(
                    m.secret[..16].try_into().unwrap(),
                ))),
                occurred_at: ree_core::UtcMicros(1_760_000_000_000_000),
                expected_head: None,
                kind: m.registration(),
            };
            w.submit(admin.req(ree_proto::v1::SubmitRequest {
                submission: Some(signed_submission(&admin.secret, body.encode().unwrap())),
            }))
            .await
            .expect("register a team member");
            members.push(write_member(
                creds,
                &m.name,
                m.secret,
                &m.token,
                m.id.to_string(),
            ));
        }
        // Every member's sites (testkit::SITE_COUNTRIES) and the laboratory's certificate.
        let subs: Vec<_> = t
            .facility_events()
            .into_iter()
            .enumerate()
            .map(|(i, kind)| {
                let id = blake3::derive_key(
                    "ree-ledger e2e site event v1",
                    &[seed.to_le_bytes(), (i as u64).to_le_bytes()].concat(),
                );
                let body = ree_core::EventBody {
                    event_id: ree_core::EventId(uuid::Uuid::from_slice(&id[..16]).unwrap()),
                    occurred_at: ree_core::UtcMicros(1_760_000_000_000_000),
                    expected_head: None,
                    kind,
                };
                signed_submission(&admin.secret, body.encode().unwrap())
            })
            .collect();
        w.submit_batch(admin.req(ree_proto::v1::SubmitBatchRequest {
            submissions: subs,
            atomic: true,
        }))
        .await
        .expect("register the team's sites");
        let mut it = members.into_iter();
        let mut next = || it.next().expect("member");
        Team {
            admin,
            supplier: next(),
            supplier2: next(),
            recycler: next(),
            plant: next(),
            customer: next(),
            auditor: next(),
            lab: next(),
        }
    }

    /// [`Team::setup`] from synchronous code.
    pub fn setup_blocking(url: &str, data: &Path, creds: &Path, seed: u64) -> Team {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(Team::setup(url, data, creds, seed))
    }
}

/// Runs `ree ARGS` against `url` as `m`.
pub fn ree_as(url: &str, m: &Member, args: &[&str]) -> Output {
    Command::new(bin("ree"))
        .args(args)
        .env("REE_SERVER", url)
        .envs(m.env())
        .output()
        .expect("run ree")
}

/// Runs `ree ARGS` as `m`, asserting success; returns stdout.
pub fn ree_ok_as(url: &str, m: &Member, args: &[&str]) -> String {
    let out = ree_as(url, m, args);
    assert!(
        out.status.success(),
        "ree {args:?} as {} failed: {}",
        m.name,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `ree demo` as the server's administrator (data dir `data`), its participants'
/// credentials going to `data/creds`; returns the summary it printed.
pub fn demo_as_admin(url: &str, data: &Path) -> String {
    let creds = data.join("creds");
    ree_ok_as(
        url,
        &admin_of(data),
        &["demo", "--creds-dir", creds.to_str().expect("utf-8 path")],
    )
}

/// Adds a participant's bearer token to calls that do not carry one already.
#[derive(Clone)]
pub struct DefaultAuth(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for DefaultAuth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if !req.metadata().contains_key("authorization") {
            req.metadata_mut().insert("authorization", self.0.clone());
        }
        Ok(req)
    }
}

pub type Authed =
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, DefaultAuth>;
pub type W = ree_proto::v1::submissions_client::SubmissionsClient<Authed>;
pub type Q = ree_proto::v1::queries_client::QueriesClient<Authed>;

/// Clients that act as `token`'s participant unless a request says otherwise.
pub async fn client_as(url: &str, token: &str) -> (W, Q) {
    let ch = channel(url).await;
    let auth = DefaultAuth(format!("Bearer {token}").parse().unwrap());
    (
        ree_proto::v1::submissions_client::SubmissionsClient::with_interceptor(
            ch.clone(),
            auth.clone(),
        ),
        ree_proto::v1::queries_client::QueriesClient::with_interceptor(ch, auth)
            .max_decoding_message_size(256 << 20),
    )
}

/// The test team's deterministic members (seed 1), for requests built without a [`Team`].
pub fn kit() -> ree_core::testkit::Team {
    ree_core::testkit::Team::new(1)
}

/// A Submit request by whoever would really submit `b` (the test team of seed 1): signed over
/// its canonical bytes when it converts and validates, else sent as a structured body so that
/// the server's own validation answers.
pub fn sub(b: ree_proto::v1::EventBody) -> tonic::Request<ree_proto::v1::SubmitRequest> {
    let k = kit();
    let Ok(d) = ree_proto::convert::body_from_pb(&b) else {
        return unsigned(&k.plant, b);
    };
    if d.validate(ree_core::UtcMicros(i64::MAX / 2)).is_err() {
        return unsigned(k.signer_for(&d.kind), b);
    }
    let m = k.signer_for(&d.kind).clone();
    sub_as(&m, &b)
}

/// A Submit request of `b` signed and authenticated as testkit member `m`.
pub fn sub_as(
    m: &ree_core::testkit::Member,
    b: &ree_proto::v1::EventBody,
) -> tonic::Request<ree_proto::v1::SubmitRequest> {
    with_token(
        ree_proto::v1::SubmitRequest {
            submission: Some(signed_submission(&m.secret, canonical(b))),
        },
        &m.token,
    )
}

fn unsigned(
    m: &ree_core::testkit::Member,
    b: ree_proto::v1::EventBody,
) -> tonic::Request<ree_proto::v1::SubmitRequest> {
    with_token(
        ree_proto::v1::SubmitRequest {
            submission: Some(ree_proto::v1::Submission {
                body: Some(b),
                canonical_body: vec![],
                signature: None,
            }),
        },
        &m.token,
    )
}
