//! Issue 12, attack 3 through the real binaries: a plant's unbounded stock-count gain is refused
//! (no countersignature; past the 2% cap even with one), store unchanged. The auditor's path:
//! `ree countersign` on its own key, the plant's `ree submit`, `ree attest`; GetProvenance and
//! `ree-verify` list them, and the policy keys decide.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::*;
use crate::fixtures::*;
use ree_proto::v1 as pb;
use tonic::Code;

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn adjustment_json(lot: &str, delta_g: i64) -> String {
    serde_json::json!({
        "occurredAt": "2025-10-09T08:00:00Z",
        "adjustment": {"lotId": lot, "deltaG": delta_g.to_string(), "reason": "stock count"}
    })
    .to_string()
}

/// `ree countersign --key KEY` with `input` on stdin (offline: no server named).
fn countersign(key: &std::path::Path, input: &str) -> std::process::Output {
    let mut c = Command::new(bin("ree"))
        .args(["countersign", "--key", key.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ree countersign");
    c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    c.wait_with_output().unwrap()
}

fn submit_file(url: &str, m: &Member, dir: &std::path::Path, line: &str) -> std::process::Output {
    let f = dir.join(format!("{}.jsonl", id()));
    std::fs::write(&f, line).unwrap();
    ree_as(url, m, &["submit", f.to_str().unwrap()])
}

#[tokio::test(flavor = "multi_thread")]
async fn unbounded_gains_are_refused_and_auditors_vouch_for_lots() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), free_port());
    let url = s.url();
    let team = Team::setup(&url, dir.path(), &dir.path().join("creds"), 1).await;
    let (mut w, mut q) = client_as(&url, &team.auditor.token).await;
    // Attack 3: 1 t of AU ore, then +999 t by the plant.
    let ore = id();
    w.submit(sub(ore_body(&ore, 1_000_000))).await.unwrap();
    let before = store_snapshot(&mut q).await;
    let e = w
        .submit(sub(body(pb::event_body::Kind::Adjustment(
            pb::Adjustment {
                lot_id: ore.clone(),
                delta_g: 999_000_000,
                reason: "stock count".into(),
                countersignature: None,
            },
        ))))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{}", e.message());
    assert!(
        e.message().contains("adjustment.countersignature"),
        "{}",
        e.message()
    );
    assert_eq!(
        before,
        store_snapshot(&mut q).await,
        "the store is unchanged"
    );
    // Countersigned by the auditor, on its own machine: still past the 2% cap.
    let out = countersign(&team.auditor.key_file, &adjustment_json(&ore, 999_000_000));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = submit_file(
        &url,
        &team.plant,
        dir.path(),
        &String::from_utf8_lossy(&out.stdout),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("FailedPrecondition")
            && err
                .contains("adjustment.delta_g: gains would total 999000000 g, over the cap of 2%"),
        "{err}"
    );
    assert_eq!(
        before,
        store_snapshot(&mut q).await,
        "the store is unchanged"
    );
    // So 100 t of oxide cannot be made from it: 100 t cannot even be charged.
    let camp = id();
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
    let charge = |mass_g| {
        body(pb::event_body::Kind::InputCharged(pb::InputCharged {
            campaign_id: camp.clone(),
            input_lot_id: ore.clone(),
            mass_g,
            input_head: String::new(),
        }))
    };
    let e = w
        .submit(sub(committed(&mut q, charge(100_000_000)).await))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{}", e.message());

    // The plant's own key cannot countersign; a real 2% gain countersigned by the auditor passes.
    let by_plant = countersign(&team.plant.key_file, &adjustment_json(&ore, 20_000));
    let out = submit_file(
        &url,
        &team.plant,
        dir.path(),
        &String::from_utf8_lossy(&by_plant.stdout),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an auditor"));
    let signed = countersign(&team.auditor.key_file, &adjustment_json(&ore, 20_000));
    let out = submit_file(
        &url,
        &team.plant,
        dir.path(),
        &String::from_utf8_lossy(&signed.stdout),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The auditor attests the lot's origin (a site visit).
    let evidence = "ab".repeat(32);
    ree_ok_as(
        &url,
        &team.auditor,
        &[
            "attest",
            &ore,
            "--kind",
            "origin_verified",
            "--method",
            "site_visit",
            "--evidence",
            &evidence,
            "--valid-from",
            "2025-01-01",
            "--valid-until",
            "2026-12-31",
        ],
    );
    let out = ree_as(
        &url,
        &team.plant,
        &[
            "attest",
            &ore,
            "--kind",
            "mass_verified",
            "--evidence",
            &evidence,
            "--valid-from",
            "2025-01-01",
            "--valid-until",
            "2026-12-31",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("may not submit attestation"));
    // An oxide from it: provenance lists the source's adjustment and attestation.
    w.submit(sub(committed(&mut q, charge(1_020_000)).await))
        .await
        .unwrap();
    let ox = id();
    let output = body(pb::event_body::Kind::OutputProduced(pb::OutputProduced {
        campaign_id: camp.clone(),
        output_lot_id: ox.clone(),
        oxide: "Nd2O3".into(),
        ndpr_nd2o3_ppm: 0,
        mass_g: 50_000,
        purity_ppm: 990_000,
    }));
    w.submit(sub(committed(&mut q, output).await))
        .await
        .unwrap();
    let p: serde_json::Value = serde_json::from_str(&ree_ok_as(
        &url,
        &team.auditor,
        &["provenance", &ox, "--json"],
    ))
    .unwrap();
    let src = p["upstream_lots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["lot"] == ore)
        .unwrap()
        .clone();
    assert_eq!(src["adjustments"][0]["delta_g"], 20_000);
    assert_eq!(src["adjustments"][0]["countersigned_by"], team.auditor.id);
    assert_eq!(src["attestations"][0]["kind"], "origin_verified");
    assert_eq!(src["attestations"][0]["method"], "site_visit");
    assert_eq!(src["attestations"][0]["auditor"], team.auditor.id);
    // ree-verify reports them, and the policy keys decide.
    let bundle = dir.path().join("ox.bundle");
    ree_ok_as(
        &url,
        &team.auditor,
        &["export", &ox, "-o", bundle.to_str().unwrap()],
    );
    let pin = dir.path().join("admin.key.pub");
    let verify = |policy: &str| {
        let f = dir.path().join(format!("{}.toml", id()));
        std::fs::write(&f, policy).unwrap();
        ree_verify(&[
            bundle.to_str().unwrap(),
            "--trust",
            pin.to_str().unwrap(),
            "--policy",
            f.to_str().unwrap(),
            "--json",
        ])
    };
    let out = verify("require_attestation = { ore = [\"origin_verified\"] }");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let u = v["upstream_lots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["lot"] == ore)
        .unwrap()
        .clone();
    assert_eq!(u["adjustments"][0]["delta_g"], 20_000);
    assert_eq!(u["attestations"][0]["valid_at_receipt"], true);
    for (policy, rule) in [
        (
            "max_adjustment_gain_share = 0.01",
            "max_adjustment_gain_share",
        ),
        (
            "require_attestation = { ore = [\"mass_verified\"] }",
            "require_attestation",
        ),
    ] {
        let out = verify(policy);
        assert_eq!(out.status.code(), Some(1), "{policy}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            v["violations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["rule"] == rule && x["lot"] == ore),
            "{v}"
        );
    }
}
