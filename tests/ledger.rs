//! End to end, through the real `ree serve` binary: the demo survives a restart unchanged, a
//! watch sees every event exactly once across a reconnect, and every rule is refused with its
//! status code and an unchanged store.

mod common;

use common::*;
use ree_ledger::pbjson_types::Timestamp;
use ree_ledger::v1 as pb;
use tonic::Code;

#[test]
fn demo_loads_and_survives_a_restart_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let s = Server::start(dir.path(), port);
    let url = s.url();
    let admin = admin_of(dir.path());
    let creds = dir.path().join("creds");
    let creds = creds.to_str().unwrap();
    let summary = ree_ok_as(&url, &admin, &["demo", "--seed", "7", "--creds-dir", creds]);
    assert!(summary.contains("demo loaded"), "{summary}");
    let before = ree_ok_as(&url, &admin, &["lots", "--json"]);
    let lots: serde_json::Value = serde_json::from_str(&before).unwrap();
    let lots = lots.as_array().unwrap();
    assert!(lots.len() > 150, "{} lots", lots.len());
    for l in lots {
        for k in ["lot", "kind", "balance_g", "head", "events"] {
            assert!(l.get(k).is_some(), "lots --json lacks {k}");
        }
    }
    let clean = demo_lot(&summary, "clean NdPr oxide lot");
    let prov_before = ree_ok_as(&url, &admin, &["provenance", &clean, "--json"]);
    // Loading the same seed again is answered idempotently: nothing changes.
    ree_ok_as(&url, &admin, &["demo", "--seed", "7", "--creds-dir", creds]);
    assert_eq!(ree_ok_as(&url, &admin, &["lots", "--json"]), before);
    assert!(s.stop().success(), "SIGTERM must exit 0 after draining");
    // Offline check of every chain while stopped.
    let check = std::process::Command::new(bin("ree"))
        .args(["check", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("OK"));
    let s = Server::start(dir.path(), port);
    assert_eq!(
        ree_ok_as(&s.url(), &admin, &["lots", "--json"]),
        before,
        "every lot, balance and head unchanged"
    );
    assert_eq!(
        ree_ok_as(&s.url(), &admin, &["provenance", &clean, "--json"]),
        prov_before
    );
}

#[test]
fn provenance_json_has_the_contract_keys_and_shares_sum_to_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), free_port());
    let admin = admin_of(dir.path());
    let summary = demo_as_admin(&s.url(), dir.path());
    for label in ["clean NdPr oxide lot", "NdPr oxide with Chinese content"] {
        let lot = demo_lot(&summary, label);
        let v: serde_json::Value = serde_json::from_str(&ree_ok_as(
            &s.url(),
            &admin,
            &["provenance", &lot, "--json"],
        ))
        .unwrap();
        for k in [
            "lot",
            "head",
            "claim",
            "origin_shares",
            "recycled_share",
            "upstream_lots",
        ] {
            assert!(v.get(k).is_some(), "provenance --json lacks {k}");
        }
        let sum: f64 = v["origin_shares"]
            .as_object()
            .unwrap()
            .values()
            .map(|x| x.as_f64().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-9, "{sum}");
        let has_cn = v["origin_shares"].get("CN").is_some();
        assert_eq!(has_cn, label.contains("Chinese"));
        assert_eq!(
            v["claim"],
            if has_cn { "mass_balance" } else { "segregated" }
        );
    }
}

fn ore_body(lot: &str, mass_g: u64) -> pb::EventBody {
    pb::EventBody {
        event_id: uuid::Uuid::now_v7().to_string(),
        occurred_at: Some(Timestamp {
            seconds: 1_760_000_000,
            nanos: 0,
        }),
        expected_head: String::new(),
        kind: Some(pb::event_body::Kind::OreReceipt(pb::OreReceipt {
            lot_id: lot.into(),
            supplier: "Lynas".into(),
            mine_site: "Mt Weld".into(),
            country: "AU".into(),
            mass_g,
            reo_grade_ppm: 380_000,
            assay: vec![pb::ElementContent {
                element: "Nd".into(),
                ppm: 60_000,
            }],
            documents: vec![],
        })),
    }
}

/// Every lot's id, balance, head and event count: what "the store is unchanged" compares.
async fn store_snapshot(q: &mut Q) -> Vec<(String, u64, String, u64)> {
    let lots = q
        .list_lots(pb::ListLotsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .lots;
    lots.into_iter()
        .map(|l| (l.lot_id, l.balance_g, l.head, l.events))
        .collect()
}

/// A fresh 5 g ore receipt with one field changed, for the bad-input catalogue.
fn ore_with(change: impl FnOnce(&mut pb::OreReceipt)) -> pb::EventBody {
    let mut b = ore_body(&uuid::Uuid::now_v7().to_string(), 5);
    if let Some(pb::event_body::Kind::OreReceipt(o)) = &mut b.kind {
        change(o);
    }
    b
}

fn body(kind: pb::event_body::Kind) -> pb::EventBody {
    pb::EventBody {
        event_id: uuid::Uuid::now_v7().to_string(),
        occurred_at: Some(Timestamp {
            seconds: 1_760_000_000,
            nanos: 0,
        }),
        expected_head: String::new(),
        kind: Some(kind),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_rule_is_refused_with_its_status_and_the_store_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), free_port());
    let team = Team::setup(&s.url(), dir.path(), &dir.path().join("creds"), 1).await;
    let (mut w, mut q) = client_as(&s.url(), &team.auditor.token).await;
    let ore = uuid::Uuid::now_v7().to_string();
    let camp = uuid::Uuid::now_v7().to_string();
    let ox = uuid::Uuid::now_v7().to_string();
    w.submit(sub(ore_body(&ore, 1_000_000))).await.unwrap();
    w.submit(sub(body(pb::event_body::Kind::CampaignOpened(
        pb::CampaignOpened {
            campaign_id: camp.clone(),
            facility: "Lacq".into(),
            country: "FR".into(),
        },
    ))))
    .await
    .unwrap();
    let charge = |c: &str, i: &str, g: u64| {
        pb::event_body::Kind::InputCharged(pb::InputCharged {
            campaign_id: c.into(),
            input_lot_id: i.into(),
            mass_g: g,
        })
    };
    let produce = |c: &str, o: &str, g: u64| {
        pb::event_body::Kind::OutputProduced(pb::OutputProduced {
            campaign_id: c.into(),
            output_lot_id: o.into(),
            oxide: "Nd2O3".into(),
            ndpr_nd2o3_ppm: 0,
            mass_g: g,
            purity_ppm: 990_000,
        })
    };
    let mut cases: Vec<(&str, pb::EventBody, Code, &str)> = vec![
        (
            "zero mass",
            body(charge(&camp, &ore, 0)),
            Code::InvalidArgument,
            "input_charged.mass_g",
        ),
        (
            "overdraw",
            body(charge(&camp, &ore, 1_000_001)),
            Code::FailedPrecondition,
            "exceeds the balance",
        ),
        (
            "charge into itself",
            body(charge(&camp, &camp, 1)),
            Code::InvalidArgument,
            "input_charged.input",
        ),
        (
            "unknown input",
            body(charge(&camp, &uuid::Uuid::now_v7().to_string(), 1)),
            Code::NotFound,
            "does not exist",
        ),
        (
            "unknown campaign",
            body(charge(&uuid::Uuid::now_v7().to_string(), &ore, 1)),
            Code::NotFound,
            "does not exist",
        ),
        (
            "charge a campaign",
            body(charge(&ore, &camp, 1)),
            Code::FailedPrecondition,
            "not a campaign",
        ),
        (
            "duplicate lot id",
            ore_body(&ore, 5),
            Code::AlreadyExists,
            "already exists",
        ),
        (
            "invalid country",
            ore_with(|o| {
                o.country = "XX".into();
            }),
            Code::InvalidArgument,
            "ore_receipt.country",
        ),
        (
            "ppm over a million",
            ore_with(|o| {
                o.assay = vec![pb::ElementContent {
                    element: "Nd".into(),
                    ppm: 1_000_001,
                }];
            }),
            Code::InvalidArgument,
            "ore_receipt.assay",
        ),
        (
            "contents summing past a million",
            ore_with(|o| {
                o.assay = vec![
                    pb::ElementContent {
                        element: "Nd".into(),
                        ppm: 600_000,
                    },
                    pb::ElementContent {
                        element: "Pr".into(),
                        ppm: 400_001,
                    },
                ];
            }),
            Code::InvalidArgument,
            "sum",
        ),
        (
            "far future",
            {
                let mut b = ore_body(&uuid::Uuid::now_v7().to_string(), 5);
                b.occurred_at = Some(Timestamp {
                    seconds: 4_000_000_000,
                    nanos: 0,
                });
                b
            },
            Code::InvalidArgument,
            "occurred_at",
        ),
        (
            "empty supplier",
            ore_with(|o| {
                o.supplier = String::new();
            }),
            Code::InvalidArgument,
            "ore_receipt.supplier",
        ),
        (
            "over-long supplier",
            ore_with(|o| {
                o.supplier = "x".repeat(5000);
            }),
            Code::InvalidArgument,
            "ore_receipt.supplier",
        ),
        (
            "unknown enum value",
            body(pb::event_body::Kind::MagnetIntake(pb::MagnetIntake {
                lot_id: uuid::Uuid::now_v7().to_string(),
                recycler: "r".into(),
                category: 99,
                scrap: 1,
                country: "FR".into(),
                mass_g: 1,
                content: vec![],
                documents: vec![],
            })),
            Code::InvalidArgument,
            "magnet_intake.category",
        ),
        (
            "huge mass",
            ore_body(&uuid::Uuid::now_v7().to_string(), u64::MAX),
            Code::InvalidArgument,
            "mass_g",
        ),
        (
            "missing kind",
            pb::EventBody {
                kind: None,
                ..ore_body("x", 1)
            },
            Code::InvalidArgument,
            "kind",
        ),
        (
            "bad event id",
            pb::EventBody {
                event_id: "nope".into(),
                ..ore_body(&uuid::Uuid::now_v7().to_string(), 1)
            },
            Code::InvalidArgument,
            "event_id",
        ),
        (
            "only campaigns produce",
            body(produce(&ore, &ox, 1)),
            Code::FailedPrecondition,
            "only campaigns produce",
        ),
        (
            "only oxide ships",
            body(pb::event_body::Kind::Shipment(pb::Shipment {
                lot_id: ore.clone(),
                mass_g: 1,
                customer: "c".into(),
                destination_country: "DE".into(),
                document_digest: "00".repeat(32),
            })),
            Code::FailedPrecondition,
            "only oxide lots ship",
        ),
        (
            "head mismatch",
            pb::EventBody {
                expected_head: "ab".repeat(32),
                ..body(pb::event_body::Kind::Adjustment(pb::Adjustment {
                    lot_id: ore.clone(),
                    delta_g: -1,
                    reason: "spill".into(),
                }))
            },
            Code::FailedPrecondition,
            "expected head",
        ),
    ];
    for (name, b, code, needle) in cases.drain(..) {
        let before = store_snapshot(&mut q).await;
        let e = w.submit(sub(b)).await.expect_err(name);
        assert_eq!(e.code(), code, "{name}: {}", e.message());
        if code == Code::InvalidArgument {
            use tonic_types::StatusExt;
            let details = e
                .get_details_bad_request()
                .unwrap_or_else(|| panic!("{name}: no BadRequest detail"));
            assert!(
                details
                    .field_violations
                    .iter()
                    .any(|v| e.message().starts_with(&v.field)),
                "{name}: {details:?}"
            );
        }
        assert!(
            e.message().contains(needle),
            "{name}: {:?} lacks {needle:?}",
            e.message()
        );
        let after = store_snapshot(&mut q).await;
        assert_eq!(before, after, "{name} changed the store");
    }
    // Charge, produce, close; then the closed campaign refuses charges and outputs.
    w.submit(sub(body(charge(&camp, &ore, 500_000))))
        .await
        .unwrap();
    // 500 kg at 6% Nd brought 30 kg of Nd: 50 kg of Nd2O3 (42.4 kg Nd) would create Nd.
    let e = w
        .submit(sub(body(produce(&camp, &ox, 50_000))))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(
        e.message().contains("Nd") && e.message().contains("charged"),
        "{}",
        e.message()
    );
    assert!(
        q.get_lot(pb::GetLotRequest { lot_id: ox.clone() })
            .await
            .is_err(),
        "no oxide lot was created"
    );
    w.submit(sub(body(produce(&camp, &ox, 10_000))))
        .await
        .unwrap();
    w.submit(sub(body(pb::event_body::Kind::CampaignClosed(
        pb::CampaignClosed {
            campaign_id: camp.clone(),
            losses_g: 490_000,
        },
    ))))
    .await
    .unwrap();
    let e = w
        .submit(sub(body(charge(&camp, &ore, 1))))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("closed"));
    let e = w
        .submit(sub(body(produce(
            &camp,
            &uuid::Uuid::now_v7().to_string(),
            1,
        ))))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    // A separation that references the same input twice is refused, nothing applies.
    let ore2 = uuid::Uuid::now_v7().to_string();
    let camp2 = uuid::Uuid::now_v7().to_string();
    w.submit(sub(ore_body(&ore2, 1_000))).await.unwrap();
    w.submit(sub(body(pb::event_body::Kind::CampaignOpened(
        pb::CampaignOpened {
            campaign_id: camp2.clone(),
            facility: "Lacq".into(),
            country: "FR".into(),
        },
    ))))
    .await
    .unwrap();
    let plant = kit().plant;
    let separation = |kinds: Vec<pb::event_body::Kind>| {
        let submissions = kinds
            .into_iter()
            .map(|k| {
                signed_submission(
                    &plant.secret,
                    ree_server::convert::body_from_pb(&body(k))
                        .unwrap()
                        .encode()
                        .unwrap(),
                )
            })
            .collect();
        with_token(
            pb::SubmitBatchRequest {
                atomic: true,
                submissions,
            },
            &plant.token,
        )
    };
    let codes = |r: pb::SubmitBatchResponse| -> Vec<i32> {
        r.results
            .iter()
            .map(|r| match &r.result {
                Some(pb::event_result::Result::Error(e)) => e.code,
                _ => 0,
            })
            .collect()
    };
    let before = store_snapshot(&mut q).await;
    let r = w
        .submit_batch(separation(vec![
            charge(&camp2, &ore2, 100),
            charge(&camp2, &ore2, 100),
        ]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        codes(r.clone()),
        vec![Code::Aborted as i32, Code::InvalidArgument as i32]
    );
    let msg = format!("{:?}", r.results[1]);
    assert!(msg.contains("already charged"), "{msg}");
    assert_eq!(before, store_snapshot(&mut q).await);
    // An overdrawing separation: the failing event is named, the others aborted, nothing applies.
    let ore3 = uuid::Uuid::now_v7().to_string();
    w.submit(sub(ore_body(&ore3, 1_000))).await.unwrap();
    let before = store_snapshot(&mut q).await;
    let r = w
        .submit_batch(separation(vec![
            charge(&camp2, &ore2, 600),
            charge(&camp2, &ore3, 1_001),
        ]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        codes(r),
        vec![Code::Aborted as i32, Code::FailedPrecondition as i32]
    );
    assert_eq!(before, store_snapshot(&mut q).await);
    // Oversized requests are refused before they are decoded.
    let huge = pb::SubmitRequest {
        submission: Some(pb::Submission {
            body: None,
            canonical_body: vec![0u8; 9 << 20],
            signature: None,
        }),
    };
    let e = w.submit(huge).await.unwrap_err();
    assert!(
        matches!(
            e.code(),
            Code::OutOfRange | Code::ResourceExhausted | Code::InvalidArgument
        ),
        "{e:?}"
    );
    assert_eq!(before, store_snapshot(&mut q).await);
    // Batches beyond the limit are refused whole.
    let big = pb::SubmitBatchRequest {
        atomic: false,
        submissions: (0..1001)
            .map(|_| pb::Submission {
                body: Some(ore_body(&uuid::Uuid::now_v7().to_string(), 1)),
                canonical_body: vec![],
                signature: None,
            })
            .collect(),
    };
    assert_eq!(
        w.submit_batch(big).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    // Malformed canonical bytes name the layout problem.
    let e = w
        .submit(pb::SubmitRequest {
            submission: Some(pb::Submission {
                body: None,
                canonical_body: vec![1, 2, 3],
                signature: None,
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("canonical_body"), "{}", e.message());
}

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
    assert!(s.stop().success());
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
            "{{\"occurredAt\": \"2025-03-04T08:00:00Z\", \"oreReceipt\": {{\"lotId\": \"{lot}\", \"supplier\": \"MP Materials\", \"mineSite\": \"Mountain Pass\", \"country\": \"US\", \"massG\": \"250000000\", \"reoGradePpm\": 620000, \"assay\": [{{\"element\": \"Nd\", \"ppm\": 62000}}], \"documents\": [{{\"kind\": \"DOCUMENT_KIND_CERTIFICATE_OF_ORIGIN\", \"digest\": \"{}\"}}]}}}}\n",
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
    std::fs::write(&file, format!("{{\"occurredAt\": \"2025-03-04T08:00:00Z\", \"oreReceipt\": {{\"lotId\": \"{lot}\", \"supplier\": \"s\", \"mineSite\": \"m\", \"country\": \"AU\", \"massG\": \"1000000\", \"reoGradePpm\": 1}}}}\n")).unwrap();
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
    assert!(s.stop().success());
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
async fn health_and_reflection_answer_without_proto_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), free_port());
    let ch = tonic::transport::Endpoint::from_shared(s.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut h = tonic_health::pb::health_client::HealthClient::new(ch.clone());
    let r = h
        .check(tonic_health::pb::HealthCheckRequest {
            service: "ree.v1.Submissions".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    use tonic_reflection::pb::v1::{
        server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        ServerReflectionRequest,
    };
    let mut refl = ServerReflectionClient::new(ch);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = refl
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let msg = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = msg.message_response else {
        panic!("no service list")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for n in [
        "ree.v1.Submissions",
        "ree.v1.Queries",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.contains(&n.to_string()),
            "{n} not reflected: {names:?}"
        );
    }
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

/// A supplier's first submission, step by step as the README shows it: its own key, registered
/// by the administrator with the CLI, its own token; the record carries its signature.
#[test]
fn a_supplier_joins_and_submits_with_its_own_key_and_token() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Server::start(&data, free_port());
    let admin = admin_of(&data);
    #[cfg(unix)]
    for f in ["admin.key", "admin.token"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f} is readable by its owner only");
    }
    let key = dir.path().join("mine.key");
    ree_ok(&s.url(), &["keygen", "-o", key.to_str().unwrap()]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let public_file = format!("{}.pub", key.display());
    let public = std::fs::read_to_string(&public_file)
        .unwrap()
        .trim()
        .to_string();
    let token = dir.path().join("mine.token");
    let out = ree_ok_as(
        &s.url(),
        &admin,
        &[
            "participant",
            "add",
            "--name",
            "Mine One",
            "--role",
            "supplier",
            "--country",
            "AU",
            "--public-key",
            &public_file,
            "--token-out",
            token.to_str().unwrap(),
        ],
    );
    assert!(out.contains("registered Mine One"), "{out}");
    let lot = uuid::Uuid::now_v7().to_string();
    let file = dir.path().join("e.jsonl");
    std::fs::write(&file, format!("{{\"occurredAt\": \"2025-03-04T08:00:00Z\", \"oreReceipt\": {{\"lotId\": \"{lot}\", \"supplier\": \"Mine One\", \"mineSite\": \"m\", \"country\": \"AU\", \"massG\": \"1000\", \"reoGradePpm\": 1}}}}\n")).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(bin("ree"))
            .args(args)
            .env("REE_SERVER", s.url())
            .env("REE_TOKEN_FILE", &token)
            .env("REE_KEY", &key)
            .output()
            .unwrap()
    };
    let out = run(&["submit", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let who = run(&["whoami"]);
    assert!(String::from_utf8_lossy(&who.stdout).contains("Mine One"));
    let evs: serde_json::Value =
        serde_json::from_slice(&run(&["events", &lot, "--json"]).stdout).unwrap();
    assert_eq!(
        evs[0]["signer"],
        public.as_str(),
        "the record carries the signer's key"
    );
    // Without a token: UNAUTHENTICATED, with a message that says how to pass one.
    let out = ree(&s.url(), &["lots"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unauthenticated"));
    // The supplier sees only its own lots.
    let lots: serde_json::Value = serde_json::from_slice(&run(&["lots", "--json"]).stdout).unwrap();
    assert_eq!(lots.as_array().unwrap().len(), 1);
}

async fn lot_count(q: &mut Q) -> usize {
    q.list_lots(pb::ListLotsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .lots
        .len()
}

/// Every way to submit what one may not, each with its status code and an unchanged store.
#[tokio::test(flavor = "multi_thread")]
async fn signatures_roles_ownership_and_tokens_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), free_port());
    let team = Team::setup(&s.url(), dir.path(), &dir.path().join("creds"), 1).await;
    let k = kit();
    let (mut w, mut q) = client_as(&s.url(), &team.auditor.token).await;
    let lot = uuid::Uuid::now_v7().to_string();
    let first = w
        .submit(sub(ore_body(&lot, 1_000_000)))
        .await
        .unwrap()
        .into_inner();
    let assay = |lot: &str| {
        body(pb::event_body::Kind::AssayRecorded(pb::AssayRecorded {
            lot_id: lot.into(),
            lab: "lab".into(),
            content: vec![pb::ElementContent {
                element: "Nd".into(),
                ppm: 61_000,
            }],
            certificate_digest: "cd".repeat(32),
        }))
    };
    let before = store_snapshot(&mut q).await;
    let check = |what: &'static str, code: Code, e: tonic::Status| {
        assert_eq!(e.code(), code, "{what}: {e:?}");
        what
    };
    // A forged signature: one bit of it flipped.
    let mut r = sub_as(&k.supplier, &ore_body(&uuid::Uuid::now_v7().to_string(), 5));
    if let Some(sig) = r
        .get_mut()
        .submission
        .as_mut()
        .and_then(|s| s.signature.as_mut())
    {
        sig.signature[10] ^= 0x40;
    }
    check(
        "forged signature",
        Code::Unauthenticated,
        w.submit(r).await.unwrap_err(),
    );
    // A signed body altered to name another lot: the signature no longer matches.
    let mut r = sub_as(&k.supplier, &ore_body(&uuid::Uuid::now_v7().to_string(), 5));
    let other = ree_server::convert::body_from_pb(&ore_body(&uuid::Uuid::now_v7().to_string(), 5))
        .unwrap()
        .encode()
        .unwrap();
    r.get_mut().submission.as_mut().unwrap().canonical_body = other;
    check(
        "body altered after signing",
        Code::Unauthenticated,
        w.submit(r).await.unwrap_err(),
    );
    // Unsigned.
    let mut r = sub_as(&k.supplier, &ore_body(&uuid::Uuid::now_v7().to_string(), 5));
    r.get_mut().submission.as_mut().unwrap().signature = None;
    check(
        "unsigned",
        Code::Unauthenticated,
        w.submit(r).await.unwrap_err(),
    );
    // A valid signature by the wrong role: the plant receiving ore, a customer assaying.
    check(
        "plant receiving ore",
        Code::PermissionDenied,
        w.submit(sub_as(
            &k.plant,
            &ore_body(&uuid::Uuid::now_v7().to_string(), 5),
        ))
        .await
        .unwrap_err(),
    );
    check(
        "customer assaying",
        Code::PermissionDenied,
        w.submit(sub_as(&k.customer, &assay(&lot)))
            .await
            .unwrap_err(),
    );
    // A supplier appending to another supplier's lot: answered as if it did not exist.
    check(
        "other supplier's lot",
        Code::NotFound,
        w.submit(sub_as(&k.supplier2, &assay(&lot)))
            .await
            .unwrap_err(),
    );
    // A missing token; a wrong token; another participant's token with the supplier's key.
    let mut r = sub_as(&k.supplier, &assay(&lot));
    r.metadata_mut().remove("authorization");
    let (mut bare, _) = client(&s.url()).await;
    check(
        "missing token",
        Code::Unauthenticated,
        bare.submit(r).await.unwrap_err(),
    );
    let mut r = sub_as(&k.supplier, &assay(&lot));
    r.metadata_mut()
        .insert("authorization", "Bearer reetok_nope".parse().unwrap());
    check(
        "unknown token",
        Code::Unauthenticated,
        w.submit(r).await.unwrap_err(),
    );
    let mut r = sub_as(&k.supplier, &assay(&lot));
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", k.supplier2.token).parse().unwrap(),
    );
    check(
        "another participant's token",
        Code::PermissionDenied,
        w.submit(r).await.unwrap_err(),
    );
    // Reading another supplier's lot.
    let r = with_token(
        pb::GetLotRequest {
            lot_id: lot.clone(),
        },
        &k.supplier2.token,
    );
    check(
        "reading another's lot",
        Code::NotFound,
        q.get_lot(r).await.unwrap_err(),
    );
    // Registry events by a non-administrator.
    let revoke = body(pb::event_body::Kind::KeyRevoked(pb::KeyRevoked {
        participant_id: team.supplier.id.clone(),
        public_key: ree_core::Hash32(k.supplier.public_key).to_hex(),
        reason: "stolen".into(),
    }));
    check(
        "plant revoking a key",
        Code::PermissionDenied,
        w.submit(sub_as(&k.plant, &revoke)).await.unwrap_err(),
    );
    assert_eq!(
        store_snapshot(&mut q).await,
        before,
        "nothing stored by any refusal"
    );
    // The original submission replayed as it is: the original result, no second event.
    let n = lot_count(&mut q).await;
    let again = w
        .submit(sub_as(&k.supplier, &ore_body(&lot, 1_000_000)))
        .await;
    // (a fresh event id: a new receipt for an existing lot is ALREADY_EXISTS)
    assert_eq!(again.unwrap_err().code(), Code::AlreadyExists);
    let b = ore_body(&uuid::Uuid::now_v7().to_string(), 7);
    let one = w
        .submit(sub_as(&k.supplier, &b))
        .await
        .unwrap()
        .into_inner();
    let two = w
        .submit(sub_as(&k.supplier, &b))
        .await
        .unwrap()
        .into_inner();
    assert!(two.replayed && !one.replayed && two.records == one.records);
    assert_eq!(lot_count(&mut q).await, n + 1, "one lot, not two");
    let _ = first;
    // A revoked key: refused from the revocation on; what it signed before still verifies.
    let before_revoke = ree_ok_as(&s.url(), &team.auditor, &["lot", &lot, "--json"]);
    let admin_kit = ree_core::testkit::Member {
        secret: team.admin.secret,
        token: team.admin.token.clone(),
        ..k.admin.clone()
    };
    w.submit(sub_as(&admin_kit, &revoke)).await.unwrap();
    let e = w
        .submit(sub_as(&k.supplier, &assay(&lot)))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
    assert!(e.message().contains("revoked"), "{}", e.message());
    assert_eq!(
        ree_ok_as(&s.url(), &team.auditor, &["lot", &lot, "--json"]),
        before_revoke
    );
    let bundle = dir.path().join("b.bundle");
    ree_ok_as(
        &s.url(),
        &team.auditor,
        &["export", &lot, "-o", bundle.to_str().unwrap()],
    );
    let out = std::process::Command::new(bin("ree-verify"))
        .arg(&bundle)
        .arg("--trust")
        .arg(dir.path().join("admin.key.pub"))
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["registry_trusted"], true);
    assert!(v["signers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["role"] == "supplier"));
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

/// Registry events and credentials are input too: each malformed one is refused with its
/// status, the message names the field, and nothing is stored.
#[tokio::test(flavor = "multi_thread")]
async fn bad_registry_events_and_credentials_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), free_port());
    let team = Team::setup(&s.url(), dir.path(), &dir.path().join("creds"), 1).await;
    let (mut w, mut q) = client_as(&s.url(), &team.auditor.token).await;
    let admin = &team.admin;
    // Signed by the administrator when the body converts and validates; else structured, so
    // that the server's own conversion or validation answers.
    let as_admin = |b: pb::EventBody| {
        let ok = ree_server::convert::body_from_pb(&b)
            .map(|d| d.validate(ree_core::UtcMicros(i64::MAX / 2)).is_ok())
            .unwrap_or(false);
        let submission = if ok {
            signed_submission(&admin.secret, canonical(&b))
        } else {
            pb::Submission {
                body: Some(b),
                canonical_body: vec![],
                signature: None,
            }
        };
        admin.req(pb::SubmitRequest {
            submission: Some(submission),
        })
    };
    let k = kit();
    let register = |change: &dyn Fn(&mut pb::ParticipantRegistered)| {
        let mut r = pb::ParticipantRegistered {
            participant_id: uuid::Uuid::now_v7().to_string(),
            name: "New Mine".into(),
            role: pb::Role::Supplier as i32,
            country: "AU".into(),
            public_key: ree_core::Hash32(
                ree_core::record::Signature::sign(&[77; 32], b"").public_key,
            )
            .to_hex(),
            token_hash: String::new(),
        };
        change(&mut r);
        body(pb::event_body::Kind::ParticipantRegistered(r))
    };
    let before = store_snapshot(&mut q).await;
    let cases: Vec<(&str, pb::EventBody, Code, &str)> = vec![
        (
            "public key not hex",
            register(&|r| r.public_key = "zz".into()),
            Code::InvalidArgument,
            "participant_registered.public_key",
        ),
        (
            "public key of small order",
            register(&|r| r.public_key = format!("01{}", "00".repeat(31))),
            Code::InvalidArgument,
            "participant_registered.public_key",
        ),
        (
            "unknown role",
            register(&|r| r.role = 99),
            Code::InvalidArgument,
            "participant_registered.role",
        ),
        (
            "invalid country",
            register(&|r| r.country = "XX".into()),
            Code::InvalidArgument,
            "participant_registered.country",
        ),
        (
            "empty name",
            register(&|r| r.name = " ".into()),
            Code::InvalidArgument,
            "participant_registered.name",
        ),
        (
            "participant id not a UUID",
            register(&|r| r.participant_id = "p-1".into()),
            Code::InvalidArgument,
            "participant_registered.participant_id",
        ),
        (
            "a key registered to another participant",
            register(&|r| r.public_key = ree_core::Hash32(k.supplier.public_key).to_hex()),
            Code::FailedPrecondition,
            "already registered",
        ),
        (
            "revoking a key nobody has",
            body(pb::event_body::Kind::KeyRevoked(pb::KeyRevoked {
                participant_id: team.supplier.id.clone(),
                public_key: "ab".repeat(32),
                reason: "lost".into(),
            })),
            Code::FailedPrecondition,
            "not registered",
        ),
        (
            "a token hash that is not one",
            body(pb::event_body::Kind::TokenIssued(pb::TokenIssued {
                participant_id: team.supplier.id.clone(),
                token_hash: String::new(),
            })),
            Code::InvalidArgument,
            "token_issued.token_hash",
        ),
        (
            "suspending nobody",
            body(pb::event_body::Kind::ParticipantSuspended(
                pb::ParticipantSuspended {
                    participant_id: uuid::Uuid::now_v7().to_string(),
                    reason: "x".into(),
                },
            )),
            Code::FailedPrecondition,
            "not registered",
        ),
    ];
    for (what, b, code, needle) in cases {
        let e = w.submit(as_admin(b)).await.expect_err(what);
        assert_eq!(e.code(), code, "{what}: {e:?}");
        assert!(e.message().contains(needle), "{what}: {}", e.message());
    }
    // A credential that is not a bearer token, or not printable.
    for header in ["Basic YWRtaW46YWRtaW4=", "Bearer", "reetok_abc"] {
        let mut r = tonic::Request::new(pb::ListLotsRequest::default());
        r.metadata_mut()
            .insert("authorization", header.parse().unwrap());
        let e = q.list_lots(r).await.expect_err(header);
        assert_eq!(e.code(), Code::Unauthenticated, "{header}: {e:?}");
    }
    assert_eq!(store_snapshot(&mut q).await, before, "nothing stored");
    let ps = q
        .list_participants(pb::ListParticipantsRequest {})
        .await
        .unwrap()
        .into_inner()
        .participants;
    assert_eq!(ps.len(), 7, "the administrator and the team, no one else");
}
