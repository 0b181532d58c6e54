//! Issue 10, the server's hardening, attacked end to end on the real `ree serve` over loopback:
//! watch reaping and caps, connection caps and deadlines, export rate limits, undecodable bytes,
//! hidden lots, plaintext off loopback, same-batch key binding, auth-failure and request logs.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::fixtures::body;
use ree_proto::v1 as pb;
use tonic::Code;

/// `ree serve` with `extra` flags and `RUST_LOG=log`, its stderr captured to a file.
fn start_logged(dir: &Path, extra: &[&str], log: &str) -> (Server, PathBuf) {
    let port = free_port();
    let err_path = dir.with_extension("stderr.log");
    let err = std::fs::File::create(&err_path).expect("stderr file");
    let mut child = Command::new(bin("ree"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .args(extra)
        .env("RUST_LOG", log)
        .stdout(Stdio::piped())
        .stderr(err)
        .spawn()
        .expect("spawn ree serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("listening on") => break,
            Some(Ok(_)) => continue,
            _ => panic!(
                "server exited before listening: {}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            ),
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let s = Server {
        child,
        port,
        dir: dir.to_path_buf(),
    };
    (s, err_path)
}

/// Polls `f` every 50 ms until it holds or `limit` passes.
fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

fn registry_lot() -> String {
    ree_core::registry::REGISTRY_LOT.to_string()
}

/// A 1 t ore receipt of `lot`.
fn ore_body(lot: &str) -> pb::EventBody {
    crate::fixtures::ore_body(lot, 1_000_000)
}

fn assay(lot: &str) -> pb::EventBody {
    body(pb::event_body::Kind::AssayRecorded(pb::AssayRecorded {
        facility_id: ree_core::testkit::laboratory().to_string(),
        lot_id: lot.into(),
        lab: "lab".into(),
        content: vec![pb::ElementContent {
            element: "Nd".into(),
            ppm: 61_000,
        }],
        certificate_digest: "cd".repeat(32),
    }))
}

async fn health_ok(url: &str) -> bool {
    let Ok(ch) = tonic::transport::Endpoint::from_shared(url.to_string())
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(2))
        .connect()
        .await
    else {
        return false;
    };
    let mut h = tonic_health::pb::health_client::HealthClient::new(ch);
    h.check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .is_ok()
}

/// Item 5: cancelled Watch streams end without any event on their lot, their places come back,
/// and a caller past its cap gets RESOURCE_EXHAUSTED.
#[tokio::test(flavor = "multi_thread")]
async fn cancelled_watches_are_reaped_and_capped_per_caller() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let (s, log) = start_logged(
        &data,
        &["--max-watchers-per-caller", "5"],
        "warn,ree_server::limits=debug",
    );
    let admin = admin_of(&data);
    let watch = || pb::WatchRequest {
        lot_id: registry_lot(),
        from_seq: 0,
    };
    for round in 0..2 {
        let (_, mut q) = client_as(&s.url(), &admin.token).await;
        let mut streams = vec![];
        for _ in 0..5 {
            let mut st = q.watch(watch()).await.expect("watch").into_inner();
            st.message().await.expect("history").expect("an event");
            streams.push(st);
        }
        let e = q.watch(watch()).await.expect_err("sixth watch");
        assert_eq!(e.code(), Code::ResourceExhausted, "round {round}: {e:?}");
        drop(streams);
        drop(q);
        // No event lands on the registry lot: the server must notice the cancels by itself.
        let reaped = eventually(Duration::from_secs(10), || {
            let l = std::fs::read_to_string(&log).unwrap_or_default();
            l.lines()
                .rfind(|l| l.contains("live_watchers="))
                .is_some_and(|l| l.contains("watch ended") && l.contains("live_watchers=0"))
        });
        assert!(reaped, "live watchers did not return to 0 (round {round})");
    }
    s.stop();
}

/// Item 6: connections past the cap are closed, silent connections are closed after the
/// handshake timeout, and health is answered again afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn connection_cap_and_handshake_timeout_close_silent_peers() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _log) = start_logged(
        &dir.path().join("d"),
        &["--max-connections", "3", "--handshake-timeout-ms", "700"],
        "warn",
    );
    let addr = format!("127.0.0.1:{}", s.port);
    let silent: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(100));
    // Past the cap: closed at once (EOF or reset), long before the handshake timeout.
    let mut extra = TcpStream::connect(&addr).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let t = Instant::now();
    let mut b = [0u8; 64];
    let r = extra.read(&mut b);
    assert!(
        matches!(r, Ok(0))
            || r.as_ref()
                .is_err_and(|e| e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::TimedOut),
        "connection past the cap not closed: {r:?} after {:?}",
        t.elapsed()
    );
    // The silent ones: closed once the handshake timeout passes (hyper may first send its
    // SETTINGS frame; read until EOF).
    for mut c in silent {
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            match c.read(&mut b) {
                Ok(0) | Err(_) => break,
                Ok(_) => assert!(Instant::now() < end, "silent connection kept open"),
            }
        }
        assert!(Instant::now() < end, "silent connection not closed in time");
    }
    let url = s.url();
    assert!(health_ok(&url).await, "health answered once places free");
    s.stop();
}

/// Item 7: exports past a caller's rate answer RESOURCE_EXHAUSTED with a RetryInfo detail and
/// "retry in N ms"; health is answered while exports run.
#[tokio::test(flavor = "multi_thread")]
async fn export_rate_limit_answers_retry_info_and_health_stays_up() {
    use tonic_types::StatusExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let (s, _log) = start_logged(
        &data,
        &["--export-rate", "0.1", "--export-burst", "2"],
        "warn",
    );
    let admin = admin_of(&data);
    let (_, mut q) = client_as(&s.url(), &admin.token).await;
    let export = || pb::ExportBundleRequest {
        lot_id: registry_lot(),
    };
    for _ in 0..2 {
        q.export_bundle(export()).await.expect("within the burst");
    }
    let e = q.export_bundle(export()).await.expect_err("past the rate");
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("retry in"), "{}", e.message());
    let ri = e.get_details_retry_info().expect("RetryInfo detail");
    let d = ri.retry_delay.expect("a delay");
    assert!(
        d > Duration::from_secs(5) && d <= Duration::from_secs(10),
        "{d:?}"
    );
    // Other callers are not throttled by the first; health answers while their exports run.
    let team = Team::setup(&s.url(), &data, &dir.path().join("creds"), 1).await;
    let url = s.url();
    let mut runs = vec![];
    for m in [&team.auditor, &team.customer, &team.plant, &team.admin] {
        let (url, token) = (url.clone(), m.token.clone());
        runs.push(tokio::spawn(async move {
            let (_, mut q) = client_as(&url, &token).await;
            q.export_bundle(export()).await.map(drop)
        }));
    }
    let t = Instant::now();
    assert!(health_ok(&s.url()).await, "health answered");
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "health slow: {:?}",
        t.elapsed()
    );
    let mut codes = vec![];
    for r in runs {
        codes.push(r.await.unwrap().err().map(|e| e.code()));
    }
    assert_eq!(
        codes,
        vec![None, None, None, Some(Code::ResourceExhausted)],
        "each caller has its own bucket; the admin's is still empty"
    );
    s.stop();
}

/// Raw bytes in and out: a gRPC call with a body that is not the method's message.
#[derive(Clone, Default)]
struct RawCodec;
struct RawEnc;
struct RawDec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEnc;
    type Decoder = RawDec;
    fn encoder(&mut self) -> RawEnc {
        RawEnc
    }
    fn decoder(&mut self) -> RawDec {
        RawDec
    }
}

impl tonic::codec::Encoder for RawEnc {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use prost::bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawDec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use prost::bytes::Buf;
        let mut v = vec![0; src.remaining()];
        src.copy_to_slice(&mut v);
        Ok(Some(v))
    }
}

/// Item 8: undecodable request bytes are INVALID_ARGUMENT, not INTERNAL.
#[tokio::test(flavor = "multi_thread")]
async fn undecodable_request_bytes_are_invalid_argument() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let (s, _log) = start_logged(&data, &[], "warn");
    let admin = admin_of(&data);
    let ch = tonic::transport::Endpoint::from_shared(s.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut g = tonic::client::Grpc::new(ch);
    for method in ["/ree.v1.Submissions/Submit", "/ree.v1.Queries/GetLot"] {
        g.ready().await.unwrap();
        let e = g
            .unary::<Vec<u8>, Vec<u8>, _>(
                with_token(vec![0xff, 0xff, 0xff, 0x07], &admin.token),
                tonic::codegen::http::uri::PathAndQuery::from_static(method),
                RawCodec,
            )
            .await
            .expect_err("garbage refused");
        assert_eq!(e.code(), Code::InvalidArgument, "{method}: {e:?}");
    }
    s.stop();
}

/// Item 9: to a supplier, another's lot and a lot that does not exist answer the same status
/// and message on every read, and on an assay.
#[tokio::test(flavor = "multi_thread")]
async fn hidden_lots_answer_exactly_like_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let (s, _log) = start_logged(&data, &[], "warn");
    let _team = Team::setup(&s.url(), &data, &dir.path().join("creds"), 1).await;
    let k = kit();
    let (mut w, _) = client(&s.url()).await;
    let theirs = uuid::Uuid::now_v7().to_string();
    w.submit(sub_as(&k.supplier, &ore_body(&theirs)))
        .await
        .expect("supplier's lot");
    let missing = uuid::Uuid::now_v7().to_string();
    let (mut w2, mut q2) = client_as(&s.url(), &k.supplier2.token).await;
    let mut answers = vec![];
    for lot in [&theirs, &missing] {
        let l = || lot.clone();
        let st = [
            q2.get_lot(pb::GetLotRequest { lot_id: l() })
                .await
                .map(drop)
                .unwrap_err(),
            q2.list_events(pb::ListEventsRequest {
                lot_id: l(),
                from_seq: 0,
                limit: 0,
            })
            .await
            .map(drop)
            .unwrap_err(),
            q2.get_provenance(pb::GetProvenanceRequest {
                lot_id: l(),
                denied_countries: vec![],
            })
            .await
            .map(drop)
            .unwrap_err(),
            q2.watch(pb::WatchRequest {
                lot_id: l(),
                from_seq: 0,
            })
            .await
            .map(drop)
            .unwrap_err(),
            q2.export_bundle(pb::ExportBundleRequest { lot_id: l() })
                .await
                .map(drop)
                .unwrap_err(),
            w2.submit(sub_as(&k.supplier2, &assay(lot)))
                .await
                .map(drop)
                .unwrap_err(),
        ];
        answers.push(
            st.iter()
                .map(|e| (e.code(), e.message().replace(lot.as_str(), "LOT")))
                .collect::<Vec<_>>(),
        );
    }
    assert!(
        answers[0].iter().all(|(c, _)| *c == Code::NotFound),
        "{answers:?}"
    );
    assert_eq!(answers[0], answers[1], "another's lot vs a missing one");
    s.stop();
}

/// Item 10: plaintext on a non-loopback address is refused unless --insecure-plaintext.
#[test]
fn plaintext_off_loopback_is_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(bin("ree"))
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path().join("d"))
        .env("RUST_LOG", "off")
        .output()
        .expect("run ree serve");
    assert!(!out.status.success(), "must not start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains("--insecure-plaintext"), "{err}");
    assert!(
        !dir.path().join("d").exists(),
        "refused before touching the data directory"
    );
}

/// Item 11: a key registered in the same atomic batch must belong to the caller too.
#[tokio::test(flavor = "multi_thread")]
async fn key_registered_in_the_same_batch_is_bound_to_its_participant() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let (s, _log) = start_logged(&data, &[], "warn");
    let admin = admin_of(&data);
    let t = ree_core::testkit::Team::new(77);
    let at = ree_core::UtcMicros(1_760_000_000_000_000);
    let reg = |kind| {
        ree_core::EventBody {
            event_id: ree_core::EventId(uuid::Uuid::now_v7()),
            occurred_at: at,
            expected_head: None,
            kind,
        }
        .encode()
        .unwrap()
    };
    // P, an administrator with key K, and an event signed by K, all on the admin's token.
    let batch = pb::SubmitBatchRequest {
        atomic: true,
        submissions: vec![
            signed_submission(&admin.secret, reg(t.admin.registration())),
            signed_submission(&t.admin.secret, reg(t.customer.registration())),
        ],
    };
    let (mut w, mut q) = client_as(&s.url(), &admin.token).await;
    let before = q
        .list_participants(pb::ListParticipantsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let r = w.submit_batch(batch).await.expect("answered").into_inner();
    let codes: Vec<i32> = r
        .results
        .iter()
        .map(|r| match &r.result {
            Some(pb::event_result::Result::Error(e)) => e.code,
            _ => 0,
        })
        .collect();
    assert_eq!(
        codes,
        vec![Code::Aborted as i32, Code::PermissionDenied as i32],
        "{r:?}"
    );
    let after = q
        .list_participants(pb::ListParticipantsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(before.registry_head, after.registry_head, "store unchanged");
    assert_eq!(before.participants.len(), after.participants.len());
    s.stop();
}

/// Items 12 and 19: an authentication failure is logged with the peer and the reason, never the
/// token; no ANSI escapes in a log file; RUST_LOG=debug gives one line per RPC.
#[tokio::test(flavor = "multi_thread")]
async fn auth_failures_and_requests_are_logged_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let (s, log) = start_logged(&data, &[], "debug,h2=info,hyper=info,tower=info,sled=info");
    let admin = admin_of(&data);
    let bogus = "tok-3f9a7c1e-never-log-me";
    let (_, mut q) = client_as(&s.url(), bogus).await;
    let e = q
        .who_am_i(pb::WhoAmIRequest::default())
        .await
        .expect_err("bogus token");
    assert_eq!(e.code(), Code::Unauthenticated);
    let (mut w, _) = client_as(&s.url(), &admin.token).await;
    let e = w
        .submit(pb::SubmitRequest { submission: None })
        .await
        .expect_err("empty submission");
    assert_eq!(e.code(), Code::InvalidArgument);
    let ok = eventually(Duration::from_secs(5), || {
        let l = std::fs::read_to_string(&log).unwrap_or_default();
        l.lines().any(|l| {
            l.contains("WARN")
                && l.contains("authentication failed")
                && l.contains("peer=127.0.0.1:")
                && l.contains("unknown or superseded bearer token")
        }) && l.lines().any(|l| {
            l.contains("rpc")
                && l.contains("/ree.v1.Submissions/Submit")
                && l.contains("InvalidArgument")
        })
    });
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(ok, "expected lines missing:\n{text}");
    assert!(!text.contains(bogus), "the token reached the log");
    assert!(!text.contains(&admin.token), "the token reached the log");
    assert!(!text.contains('\x1b'), "ANSI escapes in a log file");
    s.stop();
}
