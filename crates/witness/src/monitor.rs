//! The monitor's core: is the log's new checkpoint an extension of the one saved last time?
//!
//! The state file has the witness's state layout (the log-signed checkpoint note as received),
//! so either can be read by the other's tools. `ree monitor` (fetching over the ledger's gRPC)
//! calls [`check`] and maps [`MonitorError::exit_code`] to the process's exit status.

use std::fs;
use std::path::{Path, PathBuf};

use ree_tlog::{verify_consistency, Checkpoint, Hash, VerifierKey};

/// The last checkpoint a monitor verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorState {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// The log-signed checkpoint note, as fetched.
    pub note: Vec<u8>,
}

/// Why a new checkpoint was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The log showed two histories: exit status 3.
    #[error("FORK: the log's checkpoint at size {new_size} (root {new_root}) is not consistent with the one saved at size {old_size} (root {old_root})")]
    Fork {
        old_size: u64,
        old_root: Hash,
        new_size: u64,
        new_root: Hash,
    },
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    #[error("checkpoint is for origin {got:?}, the state file for {want:?}")]
    WrongOrigin { got: String, want: String },
    #[error("{path}: {reason}")]
    State { path: PathBuf, reason: String },
    /// The log could not be asked (down, refused); the state is unchanged.
    #[error("fetching from the log: {0}")]
    Source(String),
}

impl MonitorError {
    /// 3 for a fork (the alarm), 1 for anything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            MonitorError::Fork { .. } => 3,
            _ => 1,
        }
    }
}

impl MonitorState {
    /// Reads a state file; `None` if it does not exist yet (first run).
    pub fn load(path: &Path, log_key: &VerifierKey) -> Result<Option<MonitorState>, MonitorError> {
        let state_err = |reason: String| MonitorError::State {
            path: path.to_owned(),
            reason,
        };
        match fs::read(path) {
            Ok(note) => open(&note, log_key)
                .map(Some)
                .map_err(|e| state_err(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(state_err(e.to_string())),
        }
    }

    /// Replaces the state file atomically (temporary file, fsync, rename, fsync the directory).
    pub fn save(&self, path: &Path) -> Result<(), MonitorError> {
        let state_err = |e: std::io::Error| MonitorError::State {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let write = || -> std::io::Result<()> {
            let f = fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut &f, &self.note)?;
            f.sync_all()?;
            fs::rename(&tmp, path)?;
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            fs::File::open(parent.unwrap_or(Path::new(".")))?.sync_all()
        };
        write().map_err(state_err)
    }
}

/// Parses a log-signed checkpoint note and checks the log's signature.
pub(crate) fn open(note: &[u8], log_key: &VerifierKey) -> Result<MonitorState, MonitorError> {
    let (cp, _) = Checkpoint::open(note, std::slice::from_ref(log_key))
        .map_err(|e| MonitorError::Checkpoint(e.to_string()))?;
    Ok(MonitorState {
        origin: cp.origin,
        size: cp.size,
        root: cp.root,
        note: note.to_vec(),
    })
}

/// Checks `new_note` (signed by `log_key`) against the saved `state` with `proof` (the log's
/// consistency proof from `state.size` to the new size). First run (`None`): accepted as is.
/// A new size smaller than the saved one is checked the other way round by the caller's
/// proof only if it fetched one; without it, it is reported as a fork (a log never shrinks).
pub fn check(
    state: Option<&MonitorState>,
    new_note: &[u8],
    proof: &[Hash],
    log_key: &VerifierKey,
) -> Result<MonitorState, MonitorError> {
    let new = open(new_note, log_key)?;
    let Some(old) = state else { return Ok(new) };
    if new.origin != old.origin {
        return Err(MonitorError::WrongOrigin {
            got: new.origin,
            want: old.origin.clone(),
        });
    }
    let consistent = new.size >= old.size
        && verify_consistency(old.size, new.size, &old.root, &new.root, proof).is_ok();
    if !consistent {
        return Err(MonitorError::Fork {
            old_size: old.size,
            old_root: old.root,
            new_size: new.size,
            new_root: new.root,
        });
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use ree_tlog::{consistency_proof, root, MemHashStore, NoteSigner, SigType};

    fn log() -> NoteSigner {
        NoteSigner::new(
            "log.example",
            SigType::Ed25519,
            SigningKey::from_bytes(&[1; 32]),
        )
        .unwrap()
    }

    fn tree(fork_from: u32) -> MemHashStore {
        let mut t = MemHashStore::new();
        for i in 0..20u32 {
            t.append(&(if i < fork_from { i } else { i + 1000 }).to_le_bytes());
        }
        t
    }

    fn note(t: &MemHashStore, size: u64) -> Vec<u8> {
        let cp = Checkpoint::new("log.example", size, root(size, t).unwrap()).unwrap();
        cp.sign(&log()).unwrap().to_bytes()
    }

    #[test]
    fn first_run_saves_then_a_consistent_checkpoint_moves_forward() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("monitor.state");
        let key = log().verifier_key();
        let t = tree(20);
        assert_eq!(MonitorState::load(&path, &key).unwrap(), None);
        let first = check(None, &note(&t, 10), &[], &key).unwrap();
        first.save(&path).unwrap();
        let saved = MonitorState::load(&path, &key).unwrap().unwrap();
        assert_eq!((saved.size, saved.root), (10, root(10, &t).unwrap()));
        let proof = consistency_proof(10, 20, &t).unwrap();
        let next = check(Some(&saved), &note(&t, 20), &proof, &key).unwrap();
        assert_eq!(next.size, 20);
        let same = check(Some(&next), &note(&t, 20), &[], &key).unwrap();
        assert_eq!(same, next);
    }

    #[test]
    fn a_fork_is_exit_3_naming_both_sizes_and_roots() {
        let key = log().verifier_key();
        let (honest, forked) = (tree(20), tree(5));
        let old = check(None, &note(&honest, 10), &[], &key).unwrap();
        let proof = consistency_proof(10, 20, &forked).unwrap();
        let err = check(Some(&old), &note(&forked, 20), &proof, &key).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        let msg = err.to_string();
        for needle in [
            "size 10".to_owned(),
            "size 20".to_owned(),
            root(10, &honest).unwrap().to_string(),
            root(20, &forked).unwrap().to_string(),
        ] {
            assert!(msg.contains(&needle), "{msg} lacks {needle}");
        }
        let shrunk = check(Some(&old), &note(&honest, 5), &[], &key).unwrap_err();
        assert_eq!(shrunk.exit_code(), 3);
        let same_size = check(Some(&old), &note(&forked, 10), &[], &key).unwrap_err();
        assert_eq!(same_size.exit_code(), 3);
    }

    #[test]
    fn a_checkpoint_not_signed_by_the_log_is_an_error_not_a_state() {
        let key = log().verifier_key();
        let other = NoteSigner::new(
            "log.example",
            SigType::Ed25519,
            SigningKey::from_bytes(&[2; 32]),
        )
        .unwrap();
        let t = tree(20);
        let cp = Checkpoint::new("log.example", 3, root(3, &t).unwrap()).unwrap();
        let err = check(None, &cp.sign(&other).unwrap().to_bytes(), &[], &key).unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert!(err.to_string().starts_with("checkpoint: "), "{err}");
    }
}
