//! The demo through the real `ree serve`: it survives a restart unchanged, its provenance JSON
//! keeps its contract; health and reflection answer without proto files.

use crate::common::*;

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
    let mut attested = 0;
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
        // Issue 12, CRMA fields: per element, a post-consumer share in [0, 1] and the countries.
        let nd = &v["crma"]["Nd"];
        let share = nd["post_consumer_recycled_share"]
            .as_f64()
            .expect("crma.Nd share");
        assert!((0.0..=1.0).contains(&share), "{share}");
        assert!(nd["attributed_g"].as_u64().unwrap() > 0, "{nd}");
        let countries = |k: &str| nd["countries"][k].as_array().unwrap().len();
        assert!(countries("extraction") + countries("recycling") > 0, "{nd}");
        assert_eq!(countries("processing"), 1, "one separation plant: {nd}");
        assert!(!nd["facilities"].as_array().unwrap().is_empty(), "{nd}");
        attested += v["upstream_lots"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|u| u["attestations"].as_array().unwrap().iter())
            .filter(|a| a["kind"] == "origin_verified" && a["method"] == "site_visit")
            .count();
        let has_cn = v["origin_shares"].get("CN").is_some();
        assert_eq!(has_cn, label.contains("Chinese"));
        assert_eq!(
            v["claim"],
            if has_cn { "mass_balance" } else { "segregated" }
        );
    }
    // The demo's auditor attested some ore lots' origin after a site visit.
    assert!(
        attested > 0,
        "no origin_verified attestation upstream of the demo's oxides"
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
