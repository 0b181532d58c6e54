//! ed25519 edge cases (C2SP CCTV vectors, plus generated ones for every low-order and mixed-order
//! `A` and `R`): the single check, a batch of one, a batch of valid signatures around the vector,
//! a libsodium-rules reference and docs/verify_bundle.py (PyNaCl) all give the verdict that
//! docs/format.md's accepted set predicts from the vector's flags.

use std::path::PathBuf;
use std::process::Command;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use ree_core::record::{bad_signatures, Signature};
use ree_core::signature::registrable_key;
use sha2::{Digest, Sha512};

struct Vector {
    number: u64,
    key: [u8; 32],
    sig: [u8; 64],
    msg: String,
    flags: Vec<String>,
}

impl Vector {
    fn has(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }
    /// The documented accepted set (docs/format.md, "Signatures"), from the flags alone.
    fn expected(&self) -> bool {
        ![
            "low_order_A",
            "low_order_R",
            "non_canonical_A",
            "non_canonical_R",
            "low_order_residue",
            "reencoded_k",
            "s_not_reduced",
        ]
        .iter()
        .any(|f| self.has(f))
    }
}

fn unhex<const N: usize>(s: &str) -> [u8; N] {
    assert_eq!(s.len(), 2 * N, "{s}");
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex");
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn data_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/ed25519vectors.json")
}

/// The committed CCTV vectors; a missing or empty file fails the test.
fn cctv() -> Vec<Vector> {
    let path = data_file();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the test data {} is missing: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).expect("vectors are JSON");
    let list = json.as_array().expect("a JSON array");
    assert!(list.len() >= 40, "{} vectors only", list.len());
    list.iter()
        .map(|v| Vector {
            number: v["number"].as_u64().expect("number"),
            key: unhex(v["key"].as_str().expect("key")),
            sig: unhex(v["sig"].as_str().expect("sig")),
            msg: v["msg"].as_str().expect("msg").to_string(),
            flags: v["flags"]
                .as_array()
                .expect("flags")
                .iter()
                .map(|f| f.as_str().expect("flag").to_string())
                .collect(),
        })
        .collect()
}

/// The 8 low-order points' canonical encodings, then the 6 non-canonical ones (CCTV README).
const LOW_ORDER: [&str; 14] = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];

fn scalar(tag: &str) -> Scalar {
    Scalar::from_bytes_mod_order_wide(&Sha512::digest(tag.as_bytes()).into())
}

/// Every point input: (encoding, discrete log of its prime-order part). Low-order encodings,
/// mixed-order points (a prime-order point plus each non-identity low-order point), a plain one.
fn points(tag: &str) -> Vec<([u8; 32], Scalar)> {
    let s = scalar(tag);
    let mut out: Vec<([u8; 32], Scalar)> =
        LOW_ORDER.iter().map(|h| (unhex(h), Scalar::ZERO)).collect();
    for h in &LOW_ORDER[..8] {
        let t = CompressedEdwardsY(unhex(h))
            .decompress()
            .expect("low-order point");
        if !t.is_identity() {
            out.push(((s * B + t).compress().0, s));
        }
    }
    out.push(((s * B).compress().0, s));
    out
}

fn decode(b: &[u8; 32]) -> EdwardsPoint {
    CompressedEdwardsY(*b).decompress().expect("a point")
}

fn k_of(r: &[u8; 32], a: &[u8; 32], msg: &[u8]) -> Scalar {
    let mut h = Sha512::new();
    h.update(r);
    h.update(a);
    h.update(msg);
    Scalar::from_bytes_mod_order_wide(&h.finalize().into())
}

/// The flags of a vector, computed from its points (as CCTV defines them).
fn flags(key: &[u8; 32], sig: &[u8; 64], msg: &[u8]) -> Vec<String> {
    let r_bytes: [u8; 32] = sig[..32].try_into().expect("32");
    let (a, r) = (decode(key), decode(&r_bytes));
    let s = Scalar::from_bytes_mod_order(sig[32..].try_into().expect("32"));
    let residue = r + k_of(&r_bytes, key, msg) * a - s * B;
    let mut f = Vec::new();
    for (name, p, b) in [("A", a, key), ("R", r, &r_bytes)] {
        if p.is_small_order() {
            f.push(format!("low_order_{name}"));
        }
        if !p.is_torsion_free() {
            f.push(format!("low_order_component_{name}"));
        }
        if p.compress().0 != *b {
            f.push(format!("non_canonical_{name}"));
        }
    }
    assert!(
        residue.mul_by_cofactor().is_identity(),
        "generator: cofactored equation"
    );
    if !residue.is_identity() {
        f.push("low_order_residue".into());
    }
    f
}

/// Generated vectors: every (A, R) pair of [`points`], signed so the cofactored equation holds,
/// with and without a low-order residue where the message can choose; and `S + L` variants.
fn generated() -> Vec<Vector> {
    let mut out = Vec::new();
    let mut push = |key: [u8; 32], sig: [u8; 64], msg: String, extra: Option<&str>| {
        let mut flags = flags(&key, &sig, msg.as_bytes());
        flags.extend(extra.map(String::from));
        let number = 100_000 + out.len() as u64;
        out.push(Vector {
            number,
            key,
            sig,
            msg,
            flags,
        });
    };
    for (ai, (a_bytes, a)) in points("ree A").into_iter().enumerate() {
        for (ri, (r_bytes, r)) in points(&format!("ree R {ai}")).into_iter().enumerate() {
            let mut seen = [false; 2];
            for n in 0..24 {
                let msg = format!("ree vectors {ai} {ri} {n}");
                let s = r + k_of(&r_bytes, &a_bytes, msg.as_bytes()) * a;
                let mut sig = [0u8; 64];
                sig[..32].copy_from_slice(&r_bytes);
                sig[32..].copy_from_slice(s.as_bytes());
                let residue = flags(&a_bytes, &sig, msg.as_bytes())
                    .contains(&"low_order_residue".to_string());
                if std::mem::replace(&mut seen[residue as usize], true) {
                    continue;
                }
                if !residue {
                    push(
                        a_bytes,
                        with_s_plus_l(sig),
                        msg.clone(),
                        Some("s_not_reduced"),
                    );
                }
                push(a_bytes, sig, msg, None);
                if seen == [true; 2] {
                    break;
                }
            }
        }
    }
    out
}

/// The signature with `S + L` in place of `S`: the same scalar mod L, not reduced.
fn with_s_plus_l(mut sig: [u8; 64]) -> [u8; 64] {
    let l = unhex::<32>("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
    let mut carry = 0u16;
    for i in 0..32 {
        let v = sig[32 + i] as u16 + l[i] as u16 + carry;
        sig[32 + i] = v as u8;
        carry = v >> 8;
    }
    sig
}

fn all_vectors() -> Vec<Vector> {
    let mut v = cctv();
    v.extend(generated());
    v
}

/// libsodium's rules, from ed25519-dalek pieces: canonical `A`, `verify_strict` (small-order `A`
/// and `R` refused, canonical `R`, `S < L`, cofactorless).
fn reference(v: &Vector) -> bool {
    let canonical = CompressedEdwardsY(v.key)
        .decompress()
        .is_some_and(|p| p.compress().0 == v.key);
    canonical
        && ed25519_dalek::VerifyingKey::from_bytes(&v.key).is_ok_and(|k| {
            k.verify_strict(
                v.msg.as_bytes(),
                &ed25519_dalek::Signature::from_bytes(&v.sig),
            )
            .is_ok()
        })
}

#[test]
fn single_batch_and_reference_agree_with_the_accepted_set() {
    let vectors = all_vectors();
    let accepted = vectors.iter().filter(|v| v.expected()).count();
    assert!(
        accepted >= 2 && accepted < vectors.len() / 2,
        "{accepted} of {}",
        vectors.len()
    );
    let valid: Vec<(Vec<u8>, Signature)> = (0..7u8)
        .map(|i| (vec![i; 9], Signature::sign(&[i + 1; 32], &[i; 9])))
        .collect();
    for v in &vectors {
        let sig = Signature {
            public_key: v.key,
            signature: v.sig,
        };
        let body = v.msg.as_bytes();
        let want = v.expected();
        let what = format!("vector {} {} {:?}", v.number, hex(&v.key), v.flags);
        assert_eq!(sig.verify(body).is_ok(), want, "single: {what}");
        assert_eq!(reference(v), want, "libsodium rules: {what}");
        let mut items: Vec<(&[u8], &Signature)> =
            valid.iter().map(|(b, s)| (b.as_slice(), s)).collect();
        items.insert(3, (body, &sig));
        // As the server and the verifier call it: registered keys come from the cache.
        let bad = bad_signatures(&items, &|k| registrable_key(k).ok());
        let want_bad: Vec<usize> = if want { vec![] } else { vec![3] };
        let got: Vec<usize> = bad.iter().map(|b| b.0).collect();
        assert_eq!(got, want_bad, "in a batch: {what}");
        let alone = bad_signatures(&items[3..4], &|_| None);
        assert_eq!(alone.is_empty(), want, "batch of one: {what}");
        // A key that signs often is checked with its fixed-base table: the same verdicts.
        if let Ok(key) = ree_core::signature::Verifier::new(&v.key) {
            for _ in 0..=ree_core::signature::Verifier::TABLE_AFTER {
                let _ = key.verify(body, &sig.signature);
            }
            assert_eq!(
                key.verify(body, &sig.signature).is_ok(),
                want,
                "with the key's table: {what}"
            );
        }
    }
}

#[test]
fn the_registry_accepts_only_prime_order_canonical_keys() {
    for v in all_vectors() {
        let want = !["low_order_A", "non_canonical_A", "low_order_component_A"]
            .iter()
            .any(|f| v.has(f));
        assert_eq!(
            registrable_key(&v.key).is_ok(),
            want,
            "vector {} {:?}",
            v.number,
            v.flags
        );
    }
}

/// docs/verify_bundle.py's signature check (PyNaCl, libsodium) gives the same verdict as ree on
/// every vector. Fails, naming what to install, when the Python packages are missing.
#[test]
fn the_python_verifier_agrees_on_every_vector() {
    let ok = Command::new("python3")
        .args(["-c", "import nacl.signing, blake3"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 with PyNaCl and blake3 is required: pip install pynacl blake3 (pip install -r docs/requirements.txt)"
    );
    let vectors = all_vectors();
    let json: Vec<serde_json::Value> = vectors
        .iter()
        .map(|v| {
            serde_json::json!({"number": v.number, "key": hex(&v.key), "sig": hex(&v.sig),
                "msg": v.msg, "flags": v.flags})
        })
        .collect();
    let file = std::env::temp_dir().join(format!("ree-ed25519-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec(&json).expect("json")).expect("temp file");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/verify_bundle.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg("--vectors")
        .arg(&file)
        .output()
        .expect("python3 runs");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), vectors.len());
    for (v, line) in vectors.iter().zip(lines) {
        let want = if v.expected() { "accept" } else { "reject" };
        let sig = Signature {
            public_key: v.key,
            signature: v.sig,
        };
        assert_eq!(sig.verify(v.msg.as_bytes()).is_ok(), v.expected());
        assert_eq!(
            line,
            format!("{} {want}", v.number),
            "python disagrees: {:?}",
            v.flags
        );
    }
}
