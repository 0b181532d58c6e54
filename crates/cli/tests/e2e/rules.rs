//! Every rule is refused end to end with its gRPC status code and an unchanged store.

use crate::common::*;
use crate::fixtures::*;
use ree_proto::pbjson_types::Timestamp;
use ree_proto::v1 as pb;
use tonic::Code;

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
            facility_id: ree_core::testkit::separation_site(
                ree_core::Country::parse("FR").unwrap(),
            )
            .to_string(),
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
            input_head: Default::default(),
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
                facility_id: ree_core::testkit::recycling_site(
                    ree_core::Country::parse("FR").unwrap(),
                )
                .to_string(),
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
                    countersignature: None,
                }))
            },
            Code::FailedPrecondition,
            "expected head",
        ),
    ];
    for (name, b, code, needle) in cases.drain(..) {
        let before = store_snapshot(&mut q).await;
        let e = w
            .submit(sub(committed(&mut q, b).await))
            .await
            .expect_err(name);
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
    w.submit(sub(
        committed(&mut q, body(charge(&camp, &ore, 500_000))).await
    ))
    .await
    .unwrap();
    // 500 kg at 6% Nd brought 30 kg of Nd: 50 kg of Nd2O3 (42.4 kg Nd) would create Nd.
    let e = w
        .submit(sub(
            committed(&mut q, body(produce(&camp, &ox, 50_000))).await
        ))
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
    w.submit(sub(
        committed(&mut q, body(produce(&camp, &ox, 10_000))).await
    ))
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
        .submit(sub(committed(&mut q, body(charge(&camp, &ore, 1))).await))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("closed"));
    let e = w
        .submit(sub(committed(
            &mut q,
            body(produce(&camp, &uuid::Uuid::now_v7().to_string(), 1)),
        )
        .await))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    // A separation that references the same input twice is refused, nothing applies.
    let ore2 = uuid::Uuid::now_v7().to_string();
    let camp2 = uuid::Uuid::now_v7().to_string();
    w.submit(sub(ore_body(&ore2, 1_000))).await.unwrap();
    w.submit(sub(body(pb::event_body::Kind::CampaignOpened(
        pb::CampaignOpened {
            facility_id: ree_core::testkit::separation_site(
                ree_core::Country::parse("FR").unwrap(),
            )
            .to_string(),
            campaign_id: camp2.clone(),
            facility: "Lacq".into(),
            country: "FR".into(),
        },
    ))))
    .await
    .unwrap();
    let plant = kit().plant;
    // Each event of an atomic batch commits to the heads as they stand before it.
    let separation = |bodies: Vec<pb::EventBody>| {
        let submissions = bodies
            .into_iter()
            .map(|b| {
                signed_submission(
                    &plant.secret,
                    ree_proto::convert::body_from_pb(&b)
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
            committed(&mut q, body(charge(&camp2, &ore2, 100))).await,
            committed(&mut q, body(charge(&camp2, &ore2, 100))).await,
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
            committed(&mut q, body(charge(&camp2, &ore3, 1_001))).await,
            committed(&mut q, body(charge(&camp2, &ore2, 600))).await,
        ]))
        .await
        .unwrap()
        .into_inner();
    let msg = format!("{:?}", r.results[0]);
    assert_eq!(
        codes(r),
        vec![Code::FailedPrecondition as i32, Code::Aborted as i32]
    );
    assert!(msg.contains("1001") || msg.contains("1,001"), "{msg}");
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
