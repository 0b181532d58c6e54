//! Transport security: `ree serve --tls-cert --tls-key --client-ca` serves TLS and requires a
//! client certificate signed by that CA (mutual TLS) on top of the bearer token.

use crate::common::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

struct Pki {
    ca: String,
    cert: String,
    key: String,
}

/// A CA, and a leaf certificate for `names` signed by it.
fn pki(names: &[&str]) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec![]).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = p.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    Pki {
        ca: ca.pem(),
        cert: leaf.pem(),
        key: leaf_key.serialize_pem(),
    }
}

#[test]
fn mutual_tls_requires_a_client_certificate_from_the_trusted_ca() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let server = pki(&["localhost", "127.0.0.1"]);
    let client = pki(&["supplier.example"]);
    let rogue = pki(&["rogue.example"]);
    for (name, text) in [
        ("server.crt", &server.cert),
        ("server.key", &server.key),
        ("server-ca.crt", &server.ca),
        ("client.crt", &client.cert),
        ("client.key", &client.key),
        ("client-ca.crt", &client.ca),
        ("rogue.crt", &rogue.cert),
        ("rogue.key", &rogue.key),
    ] {
        std::fs::write(p(name), text).unwrap();
    }
    let data = dir.path().join("data");
    let port = free_port();
    let _s = Server::start_with(
        &data,
        port,
        &[
            "--tls-cert",
            &p("server.crt"),
            "--tls-key",
            &p("server.key"),
            "--client-ca",
            &p("client-ca.crt"),
        ],
    );
    let url = format!("https://127.0.0.1:{port}");
    let admin = admin_of(&data);
    let whoami = |extra: &[&str]| {
        let ca = p("server-ca.crt");
        let mut args = vec!["whoami", "--ca-cert", &ca];
        args.extend_from_slice(extra);
        let o = ree_as(&url, &admin, &args);
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    // The right client certificate and the token: answered.
    let (ok, out) = whoami(&[
        "--tls-cert",
        &p("client.crt"),
        "--tls-key",
        &p("client.key"),
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("administrator"), "{out}");
    // No client certificate, or one from another CA: the handshake fails, nothing is served.
    let (ok, out) = whoami(&[]);
    assert!(!ok, "served without a client certificate: {out}");
    let (ok, out) = whoami(&["--tls-cert", &p("rogue.crt"), "--tls-key", &p("rogue.key")]);
    assert!(!ok, "served a certificate from an untrusted CA: {out}");
    // A client certificate is not a credential by itself: the token is still required.
    let o = std::process::Command::new(bin("ree"))
        .args([
            "whoami",
            "--ca-cert",
            &p("server-ca.crt"),
            "--tls-cert",
            &p("client.crt"),
            "--tls-key",
            &p("client.key"),
        ])
        .env("REE_SERVER", &url)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("Unauthenticated"));
    // Plaintext to a TLS server fails.
    let o = ree_as(&format!("http://127.0.0.1:{port}"), &admin, &["whoami"]);
    assert!(!o.status.success());
}
