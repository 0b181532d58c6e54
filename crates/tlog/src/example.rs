//! The worked example of docs/format.md ("Transparency log"), pinned: change a byte layout and
//! this test names the doc value that no longer holds.

use crate::cosignature::Cosigner;
use crate::note::{NoteSigner, SigType};
use crate::{inclusion_proof, root, Checkpoint, Hash, MemHashStore};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::SigningKey;

pub(crate) struct Example {
    pub root: Hash,
    pub log_vkey: String,
    pub log_skey: String,
    pub note: String,
    pub proof: Vec<String>,
    pub witness_vkey: String,
    pub cosignature: String,
}

/// Leaves `[i; 32]` for i in 0..5, log key seed `[0x2a; 32]`, witness seed `[0x2b; 32]`,
/// cosigned at 1767225600 (2026-01-01T00:00:00Z).
pub(crate) fn example() -> Example {
    let mut s = MemHashStore::new();
    for i in 0..5u8 {
        s.append(&[i; 32]);
    }
    let root = root(5, &s).expect("in memory");
    let log = NoteSigner::new(
        "ree.example/log",
        SigType::Ed25519,
        SigningKey::from_bytes(&[0x2a; 32]),
    )
    .expect("valid name");
    let w = NoteSigner::new(
        "witness.example/w1",
        SigType::CosignatureV1,
        SigningKey::from_bytes(&[0x2b; 32]),
    )
    .expect("valid name");
    let w = Cosigner::new(w).expect("type 0x04");
    let cp = Checkpoint::new("ree.example/log", 5, root).expect("valid origin");
    let note = cp.sign(&log).expect("ed25519 key");
    let cosig = w
        .cosign(&cp.to_text(), 1_767_225_600)
        .expect("time in range");
    let proof = inclusion_proof(2, 5, &s).expect("in memory");
    Example {
        root,
        log_vkey: log.verifier_key().to_string(),
        log_skey: log.to_secret_string(),
        note: String::from_utf8(note.to_bytes()).expect("utf-8"),
        proof: proof.iter().map(|h| h.to_hex()).collect(),
        witness_vkey: w.verifier_key().to_string(),
        cosignature: cosig.line(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = include_str!("../../../docs/format.md");

    fn in_doc(what: &str, value: &str) {
        assert!(
            DOC.contains(value),
            "docs/format.md, Transparency log, worked example: {what} should read {value}"
        );
    }

    #[test]
    fn format_example() {
        let e = example();
        let section = DOC
            .split("## Transparency log")
            .nth(1)
            .expect("section exists");
        assert!(section.contains("### Worked example"));
        for i in 0..5u8 {
            let h = crate::leaf_hash(&[i; 32]).to_hex();
            in_doc(&format!("leaf hash {i}"), &format!("{i} {h}"));
        }
        in_doc("the root", &e.root.to_hex());
        in_doc("the root in base64", &B64.encode(e.root.0));
        in_doc("log.vkey", &e.log_vkey);
        in_doc("log.key", &e.log_skey);
        in_doc("the signed checkpoint", &e.note);
        for (i, h) in e.proof.iter().enumerate() {
            in_doc(&format!("inclusion proof hash {i}"), h);
        }
        assert_eq!(e.proof.len(), 3);
        in_doc("the witness key", &e.witness_vkey);
        in_doc("the cosignature line", &e.cosignature);
        in_doc("the timestamp bytes", "00000000 6955b900");
        assert_eq!(
            1_767_225_600u64.to_be_bytes(),
            [0, 0, 0, 0, 0x69, 0x55, 0xb9, 0]
        );
    }
}
