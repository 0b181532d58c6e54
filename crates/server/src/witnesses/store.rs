//! `DATA/cosignatures`: every witness cosignature the log accepted, durably, beside
//! `DATA/checkpoints`. Same framing (u32 little-endian length, then that many bytes, repeated);
//! each entry is a complete C2SP signed note: the checkpoint text, the log's signature line and
//! one witness's cosignature line (docs/format.md, "Cosignatures"). A reader needs nothing else
//! to check an entry. The last few checkpoints' cosignatures are also kept merged in memory,
//! for `GetCheckpoint` and exports.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ree_tlog::{Checkpoint, Note, NoteSignature, VerifierKey};

use crate::checkpoints::LogError;

/// How many checkpoints' cosignatures stay in memory (older ones stay on disk only).
const KEEP: usize = 256;

/// The cosigned checkpoints, newest last, and the file they are appended to.
pub struct Cosignatures {
    path: PathBuf,
    inner: Mutex<Inner>,
}

struct Inner {
    file: File,
    /// Size -> the checkpoint note with every cosignature held for it.
    notes: BTreeMap<u64, Note>,
}

fn bad(path: &Path, reason: String) -> LogError {
    LogError::Bad {
        path: path.to_path_buf(),
        reason,
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Adds `sig` to `note` unless the same key already cosigned it.
fn merge(note: &mut Note, sig: &NoteSignature) {
    let dup = note
        .signatures()
        .iter()
        .any(|s| s.name == sig.name && s.key_id == sig.key_id);
    if !dup {
        note.add_signature(sig.clone());
    }
}

impl Cosignatures {
    /// Reads `DATA/cosignatures` (cutting a torn final entry, as `DATA/checkpoints`), keeping
    /// the cosignatures that verify against `witnesses` on a checkpoint `log` signed. An entry
    /// by a witness no longer configured is skipped; one that does not verify is refused.
    pub fn open(
        data_dir: &Path,
        log: &VerifierKey,
        witnesses: &[VerifierKey],
    ) -> Result<Cosignatures, LogError> {
        let path = data_dir.join("cosignatures");
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(&path)(e)),
        };
        let mut notes: BTreeMap<u64, Note> = BTreeMap::new();
        let mut at = 0usize;
        while let Some(len) = bytes.get(at..at + 4) {
            let n = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            let Some(entry) = bytes.get(at + 4..at + 4 + n) else {
                break;
            };
            let (cp, base, sig) = check_entry(entry, log, witnesses)
                .map_err(|e| bad(&path, format!("entry at byte {at}: {e}")))?;
            if let Some(sig) = sig {
                let held = notes.entry(cp.size).or_insert(base);
                if held.text() == cp.to_text() {
                    merge(held, &sig);
                }
            }
            at += 4 + n;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        if at < bytes.len() {
            tracing::warn!(path = %path.display(), at, "cutting off a torn cosignature entry");
            file.set_len(at as u64).map_err(io(&path))?;
            file.sync_all().map_err(io(&path))?;
        }
        while notes.len() > KEEP {
            notes.pop_first();
        }
        Ok(Cosignatures {
            path,
            inner: Mutex::new(Inner { file, notes }),
        })
    }

    /// Durably appends a verified cosignature of `note` (log-signed, as published), then
    /// merges it in memory. The caller has verified `sig` against the witness's pinned key.
    pub fn add(&self, note: &[u8], size: u64, sig: &NoteSignature) -> Result<(), LogError> {
        let base = Note::parse(note).map_err(|e| bad(&self.path, e.to_string()))?;
        let mut entry = base.clone();
        entry.add_signature(sig.clone());
        let bytes = entry.to_bytes();
        let mut frame = (bytes.len() as u32).to_le_bytes().to_vec();
        frame.extend_from_slice(&bytes);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.file.write_all(&frame).map_err(io(&self.path))?;
        inner.file.sync_data().map_err(io(&self.path))?;
        let held = inner.notes.entry(size).or_insert(base);
        if held.text() == entry.text() {
            merge(held, sig);
        }
        while inner.notes.len() > KEEP {
            inner.notes.pop_first();
        }
        Ok(())
    }

    /// `note` (a checkpoint as the log signed it) with every cosignature held for it.
    pub fn merged(&self, note: &[u8], size: u64) -> Vec<u8> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (Some(held), Ok(mut n)) = (inner.notes.get(&size), Note::parse(note)) else {
            return note.to_vec();
        };
        if held.text() != n.text() {
            return note.to_vec();
        }
        for s in held.signatures() {
            merge(&mut n, s);
        }
        n.to_bytes()
    }

    /// The newest cosigned checkpoint of at least `min_size` records: (size, note with its
    /// cosignatures).
    pub fn newest_covering(&self, min_size: u64) -> Option<(u64, Vec<u8>)> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (size, note) = inner.notes.last_key_value()?;
        (*size >= min_size).then(|| (*size, note.to_bytes()))
    }

    /// The largest size `witness` cosigned, among those held in memory.
    pub fn last_cosigned(&self, witness: &VerifierKey) -> Option<u64> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .notes
            .iter()
            .rev()
            .find(|(_, n)| {
                n.signatures()
                    .iter()
                    .any(|s| s.name == witness.name() && s.key_id == witness.id())
            })
            .map(|(size, _)| *size)
    }
}

/// Checks one stored entry: the log's signature, then at most one cosignature by a configured
/// witness. Returns the checkpoint, the note with the log's signature only, and the
/// cosignature (`None` if its witness is no longer configured).
fn check_entry(
    entry: &[u8],
    log: &VerifierKey,
    witnesses: &[VerifierKey],
) -> Result<(Checkpoint, Note, Option<NoteSignature>), String> {
    let (cp, note) =
        Checkpoint::open(entry, std::slice::from_ref(log)).map_err(|e| e.to_string())?;
    let mut base = Note::new(note.text()).map_err(|e| e.to_string())?;
    let mut found = None;
    for s in note.signatures() {
        if s.name == log.name() && s.key_id == log.id() {
            base.add_signature(s.clone());
            continue;
        }
        let Some(k) = witnesses
            .iter()
            .find(|k| k.name() == s.name && k.id() == s.key_id)
        else {
            continue;
        };
        k.verify(note.text().as_bytes(), s)
            .map_err(|e| format!("cosignature: {e}"))?;
        found = Some(s.clone());
    }
    Ok((cp, base, found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use ree_tlog::{Cosigner, Hash, NoteSigner, SigType};

    fn signer(seed: u8, name: &str, t: SigType) -> NoteSigner {
        NoteSigner::new(name, t, SigningKey::from_bytes(&[seed; 32])).unwrap()
    }

    #[test]
    fn cosignatures_survive_a_restart_merge_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let log = signer(1, "log.example", SigType::Ed25519);
        let (w1, w2) = (
            Cosigner::new(signer(2, "w1", SigType::CosignatureV1)).unwrap(),
            Cosigner::new(signer(3, "w2", SigType::CosignatureV1)).unwrap(),
        );
        let keys = [w1.verifier_key(), w2.verifier_key()];
        let cp = Checkpoint::new("log.example", 5, Hash([7; 32])).unwrap();
        let note = cp.sign(&log).unwrap().to_bytes();
        let c = Cosignatures::open(dir.path(), &log.verifier_key(), &keys).unwrap();
        assert_eq!(c.merged(&note, 5), note, "nothing held yet");
        let text = cp.to_text();
        c.add(&note, 5, &w1.cosign(&text, 10).unwrap()).unwrap();
        c.add(&note, 5, &w2.cosign(&text, 11).unwrap()).unwrap();
        let path = dir.path().join("cosignatures");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&[90, 0, 0, 0, b'x'])
            .unwrap();
        let whole = std::fs::metadata(&path).unwrap().len() - 5;
        let c = Cosignatures::open(dir.path(), &log.verifier_key(), &keys).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            whole,
            "torn tail cut"
        );
        let merged = Note::parse(&c.merged(&note, 5)).unwrap();
        assert_eq!(
            merged.signatures().len(),
            3,
            "the log's and two cosignatures"
        );
        assert_eq!(
            ree_tlog::cosignature::verify_quorum(&merged, &keys, 2)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(c.newest_covering(5).map(|x| x.0), Some(5));
        assert_eq!(c.newest_covering(6), None);
        assert_eq!(c.last_cosigned(&keys[1]), Some(5));
        // A witness no longer configured: its cosignatures are not published.
        let c = Cosignatures::open(dir.path(), &log.verifier_key(), &keys[..1]).unwrap();
        assert_eq!(
            Note::parse(&c.merged(&note, 5)).unwrap().signatures().len(),
            2
        );
        // Another log's key: the file is refused, not believed.
        let other = signer(9, "log.example", SigType::Ed25519);
        assert!(Cosignatures::open(dir.path(), &other.verifier_key(), &keys).is_err());
    }
}
