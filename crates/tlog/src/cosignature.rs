//! C2SP tlog-cosignature v1 (signature type 0x04): a witness's timestamped ed25519 signature
//! over `cosignature/v1\ntime <t>\n` followed by the checkpoint text. The signature line's bytes
//! after the key ID are `timestamp (u64 big-endian) || ed25519 signature (64)`.

use crate::note::{Note, NoteError, NoteSignature, NoteSigner, SigType, VerifierKey};
use ed25519_dalek::Signature;

/// Why a cosignature could not be made or a quorum was not met.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    #[error("a cosigner needs a type 0x04 (cosignature/v1) key, not {0:?}")]
    WrongKeyType(SigType),
    #[error("timestamp {0} exceeds 2^63 - 1")]
    TimestampTooLarge(u64),
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error("{got} valid cosignatures from trusted witnesses, {need} required")]
    Quorum { got: usize, need: usize },
}

/// The bytes a v1 cosignature signs.
pub fn signed_message(timestamp: u64, checkpoint_text: &[u8]) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    m.extend_from_slice(checkpoint_text);
    m
}

/// Splits a `timestamped_signature`; `None` unless exactly 8 + 64 bytes with t <= 2^63 - 1.
pub(crate) fn split_timestamped(sig: &[u8]) -> Option<(u64, Signature)> {
    if sig.len() != 72 {
        return None;
    }
    let (t, s) = sig.split_at(8);
    let t = u64::from_be_bytes(t.try_into().ok()?);
    if t > i64::MAX as u64 {
        return None;
    }
    Some((t, Signature::from_slice(s).ok()?))
}

/// A witness's signing side.
#[derive(Clone, Debug)]
pub struct Cosigner {
    signer: NoteSigner,
}

impl Cosigner {
    pub fn new(signer: NoteSigner) -> Result<Cosigner, CosignatureError> {
        if signer.sig_type() != SigType::CosignatureV1 {
            return Err(CosignatureError::WrongKeyType(signer.sig_type()));
        }
        Ok(Cosigner { signer })
    }

    pub fn verifier_key(&self) -> VerifierKey {
        self.signer.verifier_key()
    }

    /// Cosigns a checkpoint text (with its final newline) at POSIX time `timestamp`.
    pub fn cosign(
        &self,
        checkpoint_text: &str,
        timestamp: u64,
    ) -> Result<NoteSignature, CosignatureError> {
        if timestamp > i64::MAX as u64 {
            return Err(CosignatureError::TimestampTooLarge(timestamp));
        }
        let sig = self
            .signer
            .sign_raw(&signed_message(timestamp, checkpoint_text.as_bytes()));
        let mut bytes = timestamp.to_be_bytes().to_vec();
        bytes.extend_from_slice(&sig);
        Ok(NoteSignature {
            name: self.signer.name().to_owned(),
            key_id: self.verifier_key().id(),
            sig: bytes,
        })
    }
}

/// Checks a checkpoint note's cosignatures against the trusted witness keys (type 0x04; others
/// are ignored): a trusted witness's bad cosignature rejects the note; otherwise at least
/// `quorum` distinct witnesses must have cosigned. Returns (witness index, timestamp) pairs.
pub fn verify_quorum(
    note: &Note,
    witnesses: &[VerifierKey],
    quorum: usize,
) -> Result<Vec<(usize, u64)>, CosignatureError> {
    let mut ok: Vec<(usize, u64)> = Vec::new();
    for sig in note.signatures() {
        let known = witnesses.iter().position(|k| {
            k.sig_type() == SigType::CosignatureV1 && k.name() == sig.name && k.id() == sig.key_id
        });
        let Some(i) = known else { continue };
        let t = witnesses[i]
            .verify(note.text().as_bytes(), sig)?
            .unwrap_or(0);
        if !ok.iter().any(|&(j, _)| j == i) {
            ok.push((i, t));
        }
    }
    if ok.len() < quorum {
        return Err(CosignatureError::Quorum {
            got: ok.len(),
            need: quorum,
        });
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn witness(seed: u8, name: &str) -> Cosigner {
        let k = SigningKey::from_bytes(&[seed; 32]);
        Cosigner::new(NoteSigner::new(name, SigType::CosignatureV1, k).unwrap()).unwrap()
    }

    #[test]
    fn message_is_the_spec_layout() {
        assert_eq!(
            signed_message(1679315147, b"o\n1\nAA==\n"),
            b"cosignature/v1\ntime 1679315147\no\n1\nAA==\n"
        );
    }

    #[test]
    fn cosign_and_count() {
        let text = "example.com/log\n3\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let (w1, w2) = (witness(1, "w1.example"), witness(2, "w2.example"));
        let mut note = Note::new(text).unwrap();
        note.add_signature(w1.cosign(text, 1_700_000_000).unwrap());
        let keys = [w1.verifier_key(), w2.verifier_key()];
        assert_eq!(
            verify_quorum(&note, &keys, 1).unwrap(),
            [(0, 1_700_000_000)]
        );
        assert_eq!(
            verify_quorum(&note, &keys, 2),
            Err(CosignatureError::Quorum { got: 1, need: 2 })
        );
        note.add_signature(w2.cosign(text, 5).unwrap());
        assert_eq!(verify_quorum(&note, &keys, 2).unwrap().len(), 2);
        let parsed = Note::parse(&note.to_bytes()).unwrap();
        assert_eq!(
            parsed.verify(&keys).unwrap(),
            [(0, Some(1_700_000_000)), (1, Some(5))]
        );
        let mut forged = Note::new(text).unwrap();
        let mut s = w1.cosign(text, 9).unwrap();
        s.sig[7] ^= 1; // claims another time than was signed
        forged.add_signature(s);
        assert!(matches!(
            verify_quorum(&forged, &keys, 1),
            Err(CosignatureError::Note(NoteError::BadSignature { .. }))
        ));
        assert_eq!(
            w1.cosign(text, u64::MAX),
            Err(CosignatureError::TimestampTooLarge(u64::MAX))
        );
        let log = NoteSigner::new("l", SigType::Ed25519, SigningKey::from_bytes(&[1; 32])).unwrap();
        assert!(Cosigner::new(log).is_err());
    }
}
