//! End to end: an exported bundle discloses only the registry records its verifier needs
//! (docs/format.md, "Bundle"), still verifies offline (ree-verify and docs/verify_bundle.py), and
//! a consumed source lot's provenance is its own origin.

use crate::common::*;
use ree_core::bundle::Bundle;
use ree_core::record::Record;
use ree_core::registry::REGISTRY_LOT;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

/// The demo participant whose credentials in `creds` start with `slug`.
fn member(creds: &Path, slug: &str) -> Member {
    let mut m = admin_of(creds.parent().unwrap());
    m.name = slug.into();
    m.key_file = creds.join(format!("{slug}.key"));
    m.token_file = creds.join(format!("{slug}.token"));
    m.token = ree_proto::creds::read_token(&m.token_file).unwrap();
    m.secret = ree_proto::creds::read_key(&m.key_file).unwrap();
    m
}

/// python3 with blake3 runs docs/verify_bundle.py on `file`; its exit code.
fn python_verifier(file: &Path) -> Option<i32> {
    let script = workspace_root().join("docs/verify_bundle.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(file)
        .output()
        .expect("python3 is required: apt-get install python3");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("No module named"),
        "docs/verify_bundle.py needs the blake3 package: pip install blake3 (or apt-get install python3-blake3): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.code()
}

#[test]
fn a_suppliers_export_discloses_no_other_participant_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), free_port());
    let url = s.url();
    let admin = admin_of(dir.path());
    let summary = demo_as_admin(&url, dir.path());
    let cn_ore = demo_lot(&summary, "the Chinese ore lot");
    let creds = dir.path().join("creds");
    let trader = member(&creds, "baotou-trading-co");
    let file = dir.path().join("cn-ore.bundle");
    let f = file.to_str().unwrap();
    ree_ok_as(&url, &trader, &["export", &cn_ore, "-o", f]);
    let bytes = std::fs::read(&file).unwrap();
    // Authentic and anchored; not compliant (Chinese origin) under the default policy.
    let trust = dir.path().join("admin.key.pub");
    let out = ree_verify(&[f, "--trust", trust.to_str().unwrap(), "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{v}");
    assert_eq!(v["authentic"], true);
    assert_eq!(v["registry_trusted"], true);
    // Its signers: the trader and the plant (which charged the lot into a campaign).
    let signers: Vec<&str> = v["signers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert!(signers.contains(&"Baotou Trading Co."), "{v}");
    // No other participant's name, public key or token hash, administrators aside.
    let people = json(&ree_ok_as(&url, &admin, &["participant", "list", "--json"]));
    let mut others = 0;
    let mut hidden_keys = vec![];
    for p in people.as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        if signers.contains(&name) || p["role"] == "administrator" {
            continue;
        }
        others += 1;
        assert!(
            !bytes.windows(name.len()).any(|w| w == name.as_bytes()),
            "{name} is disclosed"
        );
        for k in p["keys"].as_array().unwrap() {
            let key = hex32(k["public_key"].as_str().unwrap());
            assert!(!bytes.windows(32).any(|w| w == key), "{name}'s key");
            hidden_keys.push(key);
        }
    }
    assert!(others >= 12, "{others} others; signers {signers:?}");
    for e in std::fs::read_dir(&creds).unwrap() {
        let path = e.unwrap().path();
        let n = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(slug) = n.strip_suffix(".token") else {
            continue;
        };
        let secret = ree_proto::creds::read_key(&creds.join(format!("{slug}.key"))).unwrap();
        let public = ree_core::record::Signature::sign(&secret, b"").public_key;
        if hidden_keys.contains(&public) {
            let h = ree_core::registry::token_hash(&ree_proto::creds::read_token(&path).unwrap());
            assert!(!bytes.windows(32).any(|w| w == h.0), "{n}'s token hash");
        }
    }
    assert!(v["registry_withheld"].as_u64().unwrap() >= others, "{v}");
    // The independent checker walks the withheld entries too, and refuses a changed one.
    assert_eq!(python_verifier(&file), Some(0));
    let b = Bundle::decode(ree_verifier::logproof::split(&bytes).unwrap().0).unwrap();
    let mut t = b.clone();
    t.withheld[0].hash.0[0] ^= 1;
    let tf = dir.path().join("t.bundle");
    std::fs::write(&tf, t.encode()).unwrap();
    assert_eq!(
        ree_verify(&[tf.to_str().unwrap(), "--trust", trust.to_str().unwrap()])
            .status
            .code(),
        Some(3)
    );
    assert_eq!(python_verifier(&tf), Some(3));
    let mut t = b;
    t.withheld[0].seq += 1;
    std::fs::write(&tf, t.encode()).unwrap();
    assert_eq!(
        ree_verify(&[tf.to_str().unwrap(), "--trust", trust.to_str().unwrap()])
            .status
            .code(),
        Some(3)
    );
    assert_eq!(python_verifier(&tf), Some(3));
}

fn hex32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[test]
fn the_clean_oxide_bundle_is_smaller_and_a_consumed_lot_keeps_its_origin() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), free_port());
    let url = s.url();
    let admin = admin_of(dir.path());
    let summary = demo_as_admin(&url, dir.path());
    let clean = demo_lot(&summary, "clean NdPr oxide lot");
    let path = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    ree_ok_as(
        &url,
        &admin,
        &["export", &clean, "-o", &path("clean.bundle")],
    );
    let trust = dir.path().join("admin.key.pub");
    let out = ree_verify(&[&path("clean.bundle"), "--trust", trust.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The registry's own export is the whole registry: put the withheld records back in full.
    ree_ok_as(
        &url,
        &admin,
        &[
            "export",
            &REGISTRY_LOT.to_string(),
            "-o",
            &path("reg.bundle"),
        ],
    );
    let reg = Bundle::decode(
        ree_verifier::logproof::split(&std::fs::read(path("reg.bundle")).unwrap())
            .unwrap()
            .0,
    )
    .unwrap();
    assert!(reg.withheld.is_empty());
    let b = Bundle::decode(
        ree_verifier::logproof::split(&std::fs::read(path("clean.bundle")).unwrap())
            .unwrap()
            .0,
    )
    .unwrap();
    assert!(!b.withheld.is_empty());
    let gseq = |r: &Vec<u8>| Record::decode(r).unwrap().global_seq;
    let mut all: Vec<Vec<u8>> = b.records.clone();
    for w in &b.withheld {
        let r = reg
            .records
            .iter()
            .find(|r| ree_core::record::record_hash(r) == w.hash);
        all.push(r.expect("a withheld record is in the registry").clone());
    }
    all.sort_by_key(gseq);
    let full = Bundle {
        records: all,
        withheld: vec![],
        ..b.clone()
    };
    std::fs::write(path("full.bundle"), full.encode()).unwrap();
    assert_eq!(
        ree_verify(&[&path("full.bundle"), "--trust", trust.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let (before, after) = (full.encode().len(), b.encode().len());
    assert!(
        after < before,
        "{after} bytes, {before} with the registry in full"
    );
    eprintln!(
        "clean NdPr bundle: {after} bytes, {} registry records withheld; {before} bytes in full",
        b.withheld.len()
    );
    // Item 15: the fully consumed CN ore lot shows its own origin and received mass.
    let cn = demo_lot(&summary, "the Chinese ore lot");
    let lot = json(&ree_ok_as(&url, &admin, &["lot", &cn, "--json"]));
    assert_eq!(lot["balance_g"], 0, "{lot}");
    let p = json(&ree_ok_as(&url, &admin, &["provenance", &cn, "--json"]));
    assert_eq!(p["origin_shares"], serde_json::json!({"CN": 1.0}), "{p}");
    assert_eq!(p["attributed_g"], 200_000_000u64, "{p}");
    assert_eq!(p["claim"], "mass_balance", "{p}");
    assert_eq!(p["sources"][0]["feed"], "mined", "{p}");
    let p = json(&ree_ok_as(
        &url,
        &admin,
        &["provenance", &cn, "--deny", "US", "--json"],
    ));
    assert_eq!(p["claim"], "segregated", "{p}");
}
