//! Submitting: retries are idempotent, conflicts ALREADY_EXISTS; `ree submit` reads protobuf
//! JSON lines; the load generator's events are stored signed.

use crate::common::*;
use crate::fixtures::*;
use ree_proto::v1 as pb;
use tonic::Code;

#[tokio::test(flavor = "multi_thread")]
async fn retries_are_idempotent_and_conflicts_already_exist() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), free_port());
    let team = Team::setup(&s.url(), dir.path(), &dir.path().join("creds"), 1).await;
    let (mut w, mut q) = client_as(&s.url(), &team.auditor.token).await;
    let lot = uuid::Uuid::now_v7().to_string();
    let b = ore_body(&lot, 1_000);
    let first = w.submit(sub(b.clone())).await.unwrap().into_inner();
    let again = w.submit(sub(b.clone())).await.unwrap().into_inner();
    assert!(again.replayed && !first.replayed);
    assert_eq!(first.records, again.records);
    assert_eq!(
        q.get_lot(pb::GetLotRequest {
            lot_id: lot.clone()
        })
        .await
        .unwrap()
        .into_inner()
        .events,
        1
    );
    let mut other = b.clone();
    if let Some(pb::event_body::Kind::OreReceipt(o)) = &mut other.kind {
        o.mass_g = 2_000;
    }
    assert_eq!(
        w.submit(sub(other)).await.unwrap_err().code(),
        Code::AlreadyExists
    );
    // After a restart the durable index still answers with the original result.
    drop(w);
    drop(q);
    let port = s.port;
    s.stop_cleanly();
    let s = Server::start(dir.path(), port);
    let team = Team::setup(&s.url(), dir.path(), &dir.path().join("creds"), 1).await;
    let (mut w, _) = client_as(&s.url(), &team.auditor.token).await;
    let third = w.submit(sub(b)).await.unwrap().into_inner();
    assert!(third.replayed);
    assert_eq!(third.records, first.records);
}

#[test]
fn submit_reads_protobuf_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), free_port());
    let team = Team::setup_blocking(&s.url(), dir.path(), &dir.path().join("creds"), 1);
    let lot = uuid::Uuid::now_v7().to_string();
    let file = dir.path().join("events.jsonl");
    // The supplier's file, then the plant's.
    std::fs::write(
        &file,
        format!(
            "{{\"occurredAt\": \"2025-03-04T08:00:00Z\", \"oreReceipt\": {{\"lotId\": \"{lot}\", \"supplier\": \"MP Materials\", \"mineSite\": \"Mountain Pass\", \"facilityId\": \"ec75c72f-747f-4c68-bfcc-f57a1c7e0e86\", \"country\": \"US\", \"massG\": \"250000000\", \"reoGradePpm\": 620000, \"assay\": [{{\"element\": \"Nd\", \"ppm\": 62000}}], \"documents\": [{{\"kind\": \"DOCUMENT_KIND_CERTIFICATE_OF_ORIGIN\", \"digest\": \"{}\"}}]}}}}\n",
            "ab".repeat(32)
        ),
    )
    .unwrap();
    ree_ok_as(
        &s.url(),
        &team.supplier,
        &["submit", file.to_str().unwrap()],
    );
    std::fs::write(
        &file,
        format!("{{\"occurredAt\": \"2025-03-04T08:00:00Z\", \"adjustment\": {{\"lot_id\": \"{lot}\", \"delta_g\": \"-1000\", \"reason\": \"sampling\"}}}}\n"),
    )
    .unwrap();
    let out = ree_ok_as(&s.url(), &team.plant, &["submit", file.to_str().unwrap()]);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["seq"], 1);
    let l: serde_json::Value = serde_json::from_str(&ree_ok_as(
        &s.url(),
        &team.auditor,
        &["lot", &lot, "--json"],
    ))
    .unwrap();
    assert_eq!(l["balance_g"], 249_999_000u64);
    assert_eq!(l["head"], lines[0]["head"]);
    // Invalid UTF-8 and bad JSON: one clear line, non-zero.
    std::fs::write(&file, b"{\"oreReceipt\": \xff}\n").unwrap();
    let out = ree_as(
        &s.url(),
        &team.supplier,
        &["submit", file.to_str().unwrap()],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"));
}

#[test]
fn the_load_generator_reports_json_and_its_signed_events_are_stored_signed() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), free_port());
    let admin = admin_of(dir.path());
    let out = ree_ok_as(
        &s.url(),
        &admin,
        &[
            "bench",
            "--allow-writes",
            "--count",
            "200",
            "--concurrency",
            "4",
            "--connections",
            "2",
            "--batch",
            "10",
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for k in ["events_per_s", "p50_ms", "p99_ms", "errors"] {
        assert!(v.get(k).is_some(), "bench --json lacks {k}");
    }
    assert_eq!(v["events"], 200);
    assert_eq!(v["errors"], serde_json::json!({}));
    assert!(v["events_per_s"].as_f64().unwrap() > 0.0);
    let lots: serde_json::Value = serde_json::from_str(&ree_ok_as(
        &s.url(),
        &admin,
        &["lots", "--kind", "ore", "--json"],
    ))
    .unwrap();
    let lots = lots.as_array().unwrap();
    assert_eq!(lots.len(), 4, "one lot per concurrent submitter");
    assert_eq!(
        lots.iter()
            .map(|l| l["events"].as_u64().unwrap())
            .sum::<u64>(),
        204,
        "200 events + 4 receipts, none lost"
    );
    let evs: serde_json::Value = serde_json::from_str(&ree_ok_as(
        &s.url(),
        &admin,
        &["events", lots[0]["lot"].as_str().unwrap(), "--json"],
    ))
    .unwrap();
    assert!(
        evs.as_array().unwrap()[1..]
            .iter()
            .all(|e| e["signer"].is_string()),
        "every benchmark event is signed"
    );
}
