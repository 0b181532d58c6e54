//! Who may submit what: a supplier joins with its own key and token; signatures, roles, lot
//! ownership and tokens are enforced with their status codes.

use crate::common::*;
use crate::fixtures::*;
use ree_proto::v1 as pb;
use tonic::Code;

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
    let participant = out
        .split("as participant ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .expect("the participant id")
        .to_string();
    // Attack 1: the newcomer names an AU mine site that is not its own (not registered here).
    let lot = uuid::Uuid::now_v7().to_string();
    let file = dir.path().join("e.jsonl");
    let line = |site: &str| {
        format!("{{\"occurredAt\": \"2025-03-04T08:00:00Z\", \"oreReceipt\": {{\"facilityId\": \"{site}\", \"lotId\": \"{lot}\", \"supplier\": \"Mine One\", \"mineSite\": \"m\", \"country\": \"AU\", \"massG\": \"1000\", \"reoGradePpm\": 1}}}}\n")
    };
    let others = ree_core::testkit::mine(ree_core::Country::parse("AU").unwrap()).to_string();
    std::fs::write(&file, line(&others)).unwrap();
    // The administrator registers the newcomer's own mine: `ree facility add` prints its id.
    let site = ree_ok_as(
        &s.url(),
        &admin,
        &[
            "facility",
            "add",
            "--name",
            "Pit One",
            "--kind",
            "mine",
            "--country",
            "AU",
            "--operator",
            &participant,
            "--lat",
            "-28.86",
            "--lon",
            "122.55",
        ],
    )
    .trim()
    .to_string();
    let listed = ree_ok_as(&s.url(), &admin, &["facility", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let mine = v
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["facility"] == site.as_str())
        .expect("listed");
    assert_eq!(mine["kind"], "mine");
    assert_eq!(mine["country"], "AU");
    assert_eq!(mine["operator"], participant.as_str());
    assert_eq!(mine["lat_microdeg"], -28_860_000);
    assert!(mine["certifications"].as_array().unwrap().is_empty());
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
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "another's mine accepted");
    assert!(
        err.contains("FailedPrecondition") && err.contains("ore_receipt.facility_id"),
        "{err}"
    );
    std::fs::write(&file, line(&site)).unwrap();
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
            facility_id: ree_core::testkit::laboratory().to_string(),
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
    let other = ree_proto::convert::body_from_pb(&ore_body(&uuid::Uuid::now_v7().to_string(), 5))
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
