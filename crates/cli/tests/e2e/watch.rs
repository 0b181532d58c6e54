//! Watching a lot: every event exactly once across a server restart; a stuck watcher is
//! disconnected, not buffered.

use crate::common::*;
use crate::fixtures::*;
use ree_proto::v1 as pb;
use tonic::Code;

#[test]
fn a_watch_sees_every_event_exactly_once_across_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let s = Server::start(dir.path(), port);
    let url = s.url();
    let team = Team::setup_blocking(&url, dir.path(), &dir.path().join("creds"), 1);
    let lot = uuid::Uuid::now_v7().to_string();
    let file = dir.path().join("e.jsonl");
    // Each call's events are new ones (the same file again would be replayed, not rebooked).
    let adjust = |n: usize, tag: &str| -> String {
        (0..n).map(|_| format!("{{\"occurredAt\": \"2025-03-04T08:00:00Z\", \"adjustment\": {{\"lotId\": \"{lot}\", \"deltaG\": \"-1\", \"reason\": \"count {tag}\"}}}}\n")).collect()
    };
    std::fs::write(&file, format!("{{\"occurredAt\": \"2025-03-04T08:00:00Z\", \"oreReceipt\": {{\"facilityId\": \"e3e61896-c824-447f-ba3a-5471893c1a4c\", \"lotId\": \"{lot}\", \"supplier\": \"s\", \"mineSite\": \"m\", \"country\": \"AU\", \"massG\": \"1000000\", \"reoGradePpm\": 1}}}}\n")).unwrap();
    ree_ok_as(&url, &team.supplier, &["submit", file.to_str().unwrap()]);
    std::fs::write(&file, adjust(4, "a")).unwrap();
    ree_ok_as(&url, &team.plant, &["submit", file.to_str().unwrap()]);
    // 5 events so far; the watcher (the supplier, watching its own lot) will wait for 15.
    let watcher = std::process::Command::new(bin("ree"))
        .args(["watch", &lot, "--count", "15"])
        .env("REE_SERVER", &url)
        .envs(team.supplier.env())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    std::fs::write(&file, adjust(5, "b")).unwrap();
    ree_ok_as(&url, &team.plant, &["submit", file.to_str().unwrap()]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    s.stop_cleanly();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let s = Server::start(dir.path(), port);
    std::fs::write(&file, adjust(5, "c")).unwrap();
    ree_ok_as(&s.url(), &team.plant, &["submit", file.to_str().unwrap()]);
    let out = watcher.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seqs: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (0..15).collect::<Vec<u64>>(),
        "every event exactly once, in order"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("reconnecting"),
        "the watcher did reconnect"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stuck_watcher_is_disconnected_not_buffered() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), free_port());
    let team = Team::setup(&s.url(), dir.path(), &dir.path().join("creds"), 1).await;
    let (mut w, mut q) = client_as(&s.url(), &team.auditor.token).await;
    let lot = uuid::Uuid::now_v7().to_string();
    w.submit(sub(ore_body(&lot, 1_000_000))).await.unwrap();
    // Open a watch on its own connection with HTTP/2's smallest window (64 KiB), and never read
    // it while far more commit groups go by than the server keeps for watchers.
    let ch = tonic::transport::Endpoint::from_shared(s.url())
        .unwrap()
        .initial_stream_window_size(Some(65_535))
        .initial_connection_window_size(Some(65_535))
        .connect()
        .await
        .unwrap();
    let mut wq = pb::queries_client::QueriesClient::new(ch);
    let mut stream = wq
        .watch(team.auditor.req(pb::WatchRequest {
            lot_id: lot.clone(),
            from_seq: 0,
        }))
        .await
        .unwrap()
        .into_inner();
    // Beyond what the ring (1024 groups), the watcher's queue and HTTP/2's buffers hold.
    let n = 3000u64;
    for _ in 0..n {
        w.submit(sub(body(pb::event_body::Kind::Adjustment(
            pb::Adjustment {
                lot_id: lot.clone(),
                delta_g: -1,
                reason: "r".into(),
                countersignature: None,
            },
        ))))
        .await
        .unwrap();
    }
    let mut received = 0u64;
    let status = loop {
        let next = tokio::time::timeout(std::time::Duration::from_secs(20), stream.message())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the stuck watcher was neither served nor disconnected after {received} events"
                )
            });
        match next {
            Ok(Some(e)) => {
                assert_eq!(e.seq, received, "in order, no gap");
                received += 1;
            }
            Ok(None) => panic!("stream ended without a status after {received} events"),
            Err(s) => break s,
        }
    };
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains(&format!("from_seq={received}")),
        "{}",
        status.message()
    );
    assert!(
        received <= n,
        "the stuck watcher was cut off before the end"
    );
    // Resuming from where it stopped delivers the rest.
    let mut stream = q
        .watch(pb::WatchRequest {
            lot_id: lot,
            from_seq: received,
        })
        .await
        .unwrap()
        .into_inner();
    while received < n + 1 {
        let e = stream.message().await.unwrap().unwrap();
        assert_eq!(e.seq, received);
        received += 1;
    }
}
