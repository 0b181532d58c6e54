//! The witness's decision (C2SP tlog-witness add-checkpoint), pure: given what the witness last
//! cosigned for a log, a request and the log's keys, either cosign and move forward, or refuse
//! with the status the spec prescribes. The HTTP server around it persists the new state
//! atomically with the check (the spec's rollback race) and owns the clock.

use crate::checkpoint::Checkpoint;
use crate::cosignature::{CosignatureError, Cosigner};
use crate::hash::{empty_root, Hash};
use crate::note::{Note, NoteSignature, SigType, VerifierKey, MAX_NOTE_LEN};
use crate::verify::verify_consistency;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

/// At most this many consistency proof lines (the spec's limit).
pub const MAX_PROOF_LINES: usize = 63;

/// What a witness keeps per origin: the last tree head it cosigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeHead {
    pub size: u64,
    pub root: Hash,
}

/// A parsed add-checkpoint request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    pub old_size: u64,
    pub proof: Vec<Hash>,
    pub note: Note,
    pub checkpoint: Checkpoint,
}

/// A refusal, with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// 400: malformed body, or old size above the checkpoint's size.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 403: no signature by a trusted key of this log verifies.
    #[error("checkpoint is not signed by a trusted key of its log")]
    Forbidden,
    /// 404: the witness does not know this origin.
    #[error("unknown log origin")]
    UnknownLog,
    /// 409: the old size is not what the witness last cosigned, or the same size with another
    /// root. The body is the stored size.
    #[error("conflict: the witness's latest cosigned size is {stored_size}")]
    Conflict { stored_size: u64 },
    /// 422: the consistency proof does not verify.
    #[error("consistency proof does not verify")]
    BadProof,
}

impl Rejection {
    pub fn status(&self) -> u16 {
        match self {
            Rejection::BadRequest(_) => 400,
            Rejection::Forbidden => 403,
            Rejection::UnknownLog => 404,
            Rejection::Conflict { .. } => 409,
            Rejection::BadProof => 422,
        }
    }

    /// The response body: for 409, `<size>\n` (served as `text/x.tlog.size`).
    pub fn body(&self) -> String {
        match self {
            Rejection::Conflict { stored_size } => format!("{stored_size}\n"),
            other => format!("{other}\n"),
        }
    }
}

/// A cosigned checkpoint: the state to persist and the line to answer with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    pub state: TreeHead,
    pub checkpoint: Checkpoint,
    pub signature: NoteSignature,
}

impl Cosigned {
    /// The 200 response body: the cosignature line.
    pub fn body(&self) -> String {
        self.signature.line()
    }
}

fn bad(msg: &str) -> Rejection {
    Rejection::BadRequest(msg.to_owned())
}

/// Splits off one newline-terminated line.
fn take_line(s: &str) -> Result<(&str, &str), Rejection> {
    s.split_once('\n')
        .ok_or_else(|| bad("line without a newline"))
}

impl AddCheckpoint {
    /// Parses `old <N>\n`, up to 63 base64 proof lines, an empty line, then a signed checkpoint.
    pub fn parse(body: &[u8]) -> Result<AddCheckpoint, Rejection> {
        if body.len() > MAX_NOTE_LEN + 64 * 64 {
            return Err(bad("body too large"));
        }
        let s = std::str::from_utf8(body).map_err(|_| bad("body is not UTF-8"))?;
        let (old, mut rest) = take_line(s)?;
        let n = old
            .strip_prefix("old ")
            .ok_or_else(|| bad("first line must be old <size>"))?;
        let canonical = !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && (n == "0" || !n.starts_with('0'));
        let old_size: u64 = n
            .parse()
            .ok()
            .filter(|_| canonical)
            .ok_or_else(|| bad("old size is not a decimal without leading zeroes"))?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = take_line(rest)?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad("more than 63 proof lines"));
            }
            let h = B64.decode(line).ok().and_then(|b| Hash::from_slice(&b));
            proof.push(h.ok_or_else(|| bad("proof line is not a base64 hash"))?);
        }
        let note = Note::parse(rest.as_bytes()).map_err(|e| bad(&format!("checkpoint: {e}")))?;
        let checkpoint =
            Checkpoint::parse(note.text()).map_err(|e| bad(&format!("checkpoint: {e}")))?;
        Ok(AddCheckpoint {
            old_size,
            proof,
            note,
            checkpoint,
        })
    }

    /// The request body (what a log sends).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("old {}\n", self.old_size).into_bytes();
        for h in &self.proof {
            out.extend_from_slice(B64.encode(h.0).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.note.to_bytes());
        out
    }
}

/// Decides an add-checkpoint request for the log `req.checkpoint.origin`.
///
/// `log_keys` are the keys the witness trusts for that origin (empty: unknown log, 404);
/// `stored` is what it last cosigned for it (`None`: never, i.e. size 0); `now` is POSIX
/// seconds. On success the caller persists `state` (atomically with having read `stored`) and
/// then answers `body()`.
pub fn add_checkpoint(
    req: &AddCheckpoint,
    log_keys: &[VerifierKey],
    stored: Option<TreeHead>,
    cosigner: &Cosigner,
    now: u64,
) -> Result<Cosigned, Rejection> {
    let trusted: Vec<VerifierKey> = log_keys
        .iter()
        .filter(|k| k.sig_type() == SigType::Ed25519)
        .cloned()
        .collect();
    if trusted.is_empty() {
        return Err(Rejection::UnknownLog);
    }
    req.note
        .verify(&trusted)
        .map_err(|_| Rejection::Forbidden)?;
    let cp = &req.checkpoint;
    if req.old_size > cp.size {
        return Err(bad("old size is larger than the checkpoint's size"));
    }
    let stored = stored.unwrap_or(TreeHead {
        size: 0,
        root: empty_root(),
    });
    if req.old_size != stored.size {
        return Err(Rejection::Conflict {
            stored_size: stored.size,
        });
    }
    if cp.size == stored.size && cp.root != stored.root {
        return Err(Rejection::Conflict {
            stored_size: stored.size,
        });
    }
    verify_consistency(stored.size, cp.size, &stored.root, &cp.root, &req.proof)
        .map_err(|_| Rejection::BadProof)?;
    let signature = cosigner.cosign(req.note.text(), now).map_err(|e| match e {
        CosignatureError::TimestampTooLarge(_) => bad("witness clock out of range"),
        other => bad(&other.to_string()),
    })?;
    Ok(Cosigned {
        state: TreeHead {
            size: cp.size,
            root: cp.root,
        },
        checkpoint: cp.clone(),
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memstore::MemHashStore;
    use crate::note::NoteSigner;
    use crate::tree::{consistency_proof, root};
    use ed25519_dalek::SigningKey;

    struct Fixture {
        log: NoteSigner,
        witness: Cosigner,
        store: MemHashStore,
    }

    fn fixture() -> Fixture {
        let log = NoteSigner::new(
            "ree.example/log",
            SigType::Ed25519,
            SigningKey::from_bytes(&[1; 32]),
        )
        .unwrap();
        let w = NoteSigner::new(
            "w.example",
            SigType::CosignatureV1,
            SigningKey::from_bytes(&[2; 32]),
        )
        .unwrap();
        let mut store = MemHashStore::new();
        for i in 0..20u32 {
            store.append(&i.to_le_bytes());
        }
        Fixture {
            log,
            witness: Cosigner::new(w).unwrap(),
            store,
        }
    }

    impl Fixture {
        fn request(&self, old: u64, size: u64) -> AddCheckpoint {
            let cp =
                Checkpoint::new("ree.example/log", size, root(size, &self.store).unwrap()).unwrap();
            let note = cp.sign(&self.log).unwrap();
            let proof = consistency_proof(old, size, &self.store).unwrap();
            let body = AddCheckpoint {
                old_size: old,
                proof,
                note,
                checkpoint: cp,
            }
            .to_bytes();
            AddCheckpoint::parse(&body).unwrap()
        }
        fn head(&self, size: u64) -> TreeHead {
            TreeHead {
                size,
                root: root(size, &self.store).unwrap(),
            }
        }
    }

    #[test]
    fn cosigns_a_consistent_checkpoint_and_moves_forward() {
        let f = fixture();
        let keys = [f.log.verifier_key()];
        let first = add_checkpoint(&f.request(0, 7), &keys, None, &f.witness, 100).unwrap();
        assert_eq!(first.state, f.head(7));
        let next =
            add_checkpoint(&f.request(7, 13), &keys, Some(first.state), &f.witness, 101).unwrap();
        assert_eq!(next.state, f.head(13));
        let mut note = f.request(7, 13).note;
        note.add_signature(next.signature.clone());
        let wk = [f.witness.verifier_key()];
        assert_eq!(
            crate::cosignature::verify_quorum(&note, &wk, 1).unwrap(),
            [(0, 101)]
        );
        assert!(next.body().starts_with("\u{2014} w.example "));
        let same = add_checkpoint(&f.request(13, 13), &keys, Some(next.state), &f.witness, 102);
        assert_eq!(same.unwrap().state, f.head(13));
    }

    #[test]
    fn refusals_carry_the_spec_status() {
        let f = fixture();
        let keys = [f.log.verifier_key()];
        let at7 = Some(f.head(7));
        let status = |r: Result<Cosigned, Rejection>| r.unwrap_err().status();
        assert_eq!(
            status(add_checkpoint(&f.request(0, 7), &[], None, &f.witness, 1)),
            404
        );
        let stranger = NoteSigner::new(
            "ree.example/log",
            SigType::Ed25519,
            SigningKey::from_bytes(&[9; 32]),
        )
        .unwrap();
        assert_eq!(
            status(add_checkpoint(
                &f.request(0, 7),
                &[stranger.verifier_key()],
                None,
                &f.witness,
                1
            )),
            403
        );
        let stale = add_checkpoint(&f.request(5, 13), &keys, at7, &f.witness, 1).unwrap_err();
        assert_eq!((stale.status(), stale.body()), (409, "7\n".to_owned()));
        let mut req = f.request(7, 13);
        req.proof[0] = Hash([0; 32]);
        assert_eq!(status(add_checkpoint(&req, &keys, at7, &f.witness, 1)), 422);
        let fork = TreeHead {
            size: 13,
            root: Hash([5; 32]),
        };
        assert_eq!(
            status(add_checkpoint(
                &f.request(13, 13),
                &keys,
                Some(fork),
                &f.witness,
                1
            )),
            409
        );
        let mut back = f.request(7, 7);
        back.old_size = 13;
        assert_eq!(
            status(add_checkpoint(
                &back,
                &keys,
                Some(f.head(13)),
                &f.witness,
                1
            )),
            400
        );
    }

    #[test]
    fn malformed_bodies_are_400() {
        let f = fixture();
        let good = f.request(3, 7).to_bytes();
        let text = String::from_utf8(good.clone()).unwrap();
        assert!(AddCheckpoint::parse(&good).is_ok());
        for bad in [
            text.replacen("old 3", "old 03", 1),
            text.replacen("old 3", "new 3", 1),
            text.replacen("\n\n", "\n", 1),
            "old 3".to_owned(),
            format!("old 0\n{}\n{text}", "AAAA"),
        ] {
            assert_eq!(
                AddCheckpoint::parse(bad.as_bytes()).unwrap_err().status(),
                400,
                "{bad:?}"
            );
        }
        let long = format!(
            "old 1\n{}\n",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n".repeat(64)
        );
        assert!(AddCheckpoint::parse(long.as_bytes()).is_err());
    }
}
