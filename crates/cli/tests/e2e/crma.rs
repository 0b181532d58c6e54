//! Issue 12's CRMA fields and re-assay flag through the real `ree serve` and `ree provenance
//! --json`: an AU ore lot whose owner re-declared its Nd far beyond the tolerance, made into an
//! Nd2O3 lot in FR.

use crate::common::*;
use crate::fixtures::*;
use ree_proto::v1 as pb;

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn provenance_flags_a_large_reassay_and_gives_crma_fields() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), free_port());
    let url = s.url();
    let team = Team::setup(&url, dir.path(), &dir.path().join("creds"), 1).await;
    let (mut w, mut q) = client_as(&url, &team.auditor.token).await;
    let ore = id();
    w.submit(sub(ore_body(&ore, 1_000_000))).await.unwrap();
    // The supplier re-declares Nd from 60,000 to 200,000 ppm: 14 points, past the 5-point default.
    w.submit(sub(body(pb::event_body::Kind::AssayRecorded(
        pb::AssayRecorded {
            lot_id: ore.clone(),
            lab: "own".into(),
            content: vec![pb::ElementContent {
                element: "Nd".into(),
                ppm: 200_000,
            }],
            certificate_digest: "cd".repeat(32),
            facility_id: String::new(),
        },
    ))))
    .await
    .unwrap();
    let camp = id();
    let fr = ree_core::Country::parse("FR").unwrap();
    w.submit(sub(body(pb::event_body::Kind::CampaignOpened(
        pb::CampaignOpened {
            facility_id: ree_core::testkit::separation_site(fr).to_string(),
            campaign_id: camp.clone(),
            facility: "Lacq".into(),
            country: "FR".into(),
        },
    ))))
    .await
    .unwrap();
    let charge = body(pb::event_body::Kind::InputCharged(pb::InputCharged {
        campaign_id: camp.clone(),
        input_lot_id: ore.clone(),
        mass_g: 1_000_000,
        input_head: String::new(),
    }));
    w.submit(sub(committed(&mut q, charge).await))
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
    assert_eq!(
        src["reassay_flags"],
        serde_json::json!([{"seq": 1, "element": "Nd", "from_ppm": 60_000, "to_ppm": 200_000}]),
        "{src}"
    );
    let nd = &p["crma"]["Nd"];
    assert_eq!(nd["post_consumer_recycled_share"], 0.0, "{nd}");
    assert_eq!(nd["countries"]["extraction"], serde_json::json!(["AU"]));
    assert_eq!(nd["countries"]["recycling"], serde_json::json!([]));
    assert_eq!(nd["countries"]["processing"], serde_json::json!(["FR"]));
    assert_eq!(nd["countries"]["refining"], serde_json::json!(["FR"]));
    assert_eq!(nd["attributed_g"], p["attributed_g"]);
    let mine = ree_core::testkit::mine(ree_core::Country::parse("AU").unwrap()).to_string();
    assert_eq!(nd["facilities"][0]["facility"], mine.as_str(), "{nd}");
    assert_eq!(nd["facilities"][0]["lot"], ore.as_str());
    assert_eq!(
        p["crma"].as_object().unwrap().len(),
        1,
        "only Nd is present"
    );
    // The text output says the same.
    let text = ree_ok_as(&url, &team.auditor, &["provenance", &ox]);
    assert!(
        text.lines().any(|l| l.starts_with("CRMA Nd")
            && l.contains("post-consumer recycled 0.00%")
            && l.contains("extraction AU; recycling -; processing FR; refining FR; 1 facility")),
        "{text}"
    );
    assert!(
        text.contains(&format!("reassayed {ore} seq 1 Nd 60000 -> 200000 ppm")),
        "{text}"
    );
    // ree-verify's report agrees: the same crma and the same flag; its policy catches the shift.
    let bundle = dir.path().join("ox.bundle");
    ree_ok_as(
        &url,
        &team.auditor,
        &["export", &ox, "-o", bundle.to_str().unwrap()],
    );
    let pin = dir.path().join("admin.key.pub");
    let out = ree_verify(&[
        bundle.to_str().unwrap(),
        "--trust",
        pin.to_str().unwrap(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["crma"], p["crma"]);
    let up = v["upstream_lots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["lot"] == ore)
        .unwrap();
    assert_eq!(up["reassay_flags"], src["reassay_flags"]);
    assert!(
        v["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["rule"] == "max_reassay_shift_ppm" && x["lot"] == ore.as_str()),
        "{v}"
    );
}
