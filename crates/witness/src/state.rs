//! What the witness last cosigned, per origin: `W/state/<hex SHA-256 of the origin>` holds the
//! log-signed checkpoint note exactly as received (text, blank line, the log's signature lines).
//!
//! Storing the note rather than (size, root) keeps the evidence: a witness that later refuses a
//! fork can show the log-signed checkpoint it had cosigned. A file is replaced atomically (write
//! a temporary file, fsync, rename, fsync the directory) and the caller does so *before* it
//! answers with a cosignature, so after a crash the witness never holds a state older than one
//! it has cosigned, and never cosigns two inconsistent checkpoints.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ree_tlog::witness::TreeHead;
use ree_tlog::{Checkpoint, Note};
use sha2::{Digest, Sha256};

/// Why a state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: corrupt witness state: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Fsyncs a directory, so a rename or a new file in it survives a power loss.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// The `W/state` directory.
#[derive(Clone, Debug)]
pub struct StateStore {
    dir: PathBuf,
}

impl StateStore {
    /// Opens (creating) `data_dir/state`.
    pub fn open(data_dir: &Path) -> Result<StateStore, StateError> {
        let dir = data_dir.join("state");
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(StateStore { dir })
    }

    /// The state file of an origin: lower-case hex SHA-256 of its UTF-8 bytes (an origin may
    /// hold any character a file name cannot).
    pub fn path(&self, origin: &str) -> PathBuf {
        let digest = Sha256::digest(origin.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(hex)
    }

    /// The last cosigned tree head of `origin`, `None` if it never cosigned one.
    pub fn load(&self, origin: &str) -> Result<Option<TreeHead>, StateError> {
        let path = self.path(origin);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let corrupt = |reason: String| StateError::Corrupt {
            path: path.clone(),
            reason,
        };
        let note = Note::parse(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let cp = Checkpoint::parse(note.text()).map_err(|e| corrupt(e.to_string()))?;
        if cp.origin != origin {
            return Err(corrupt(format!("holds origin {:?}", cp.origin)));
        }
        Ok(Some(TreeHead {
            size: cp.size,
            root: cp.root,
        }))
    }

    /// Durably replaces `origin`'s state with `note` (the log-signed checkpoint just cosigned).
    pub fn save(&self, origin: &str, note: &Note) -> Result<(), StateError> {
        let tmp = self.stage(origin, &note.to_bytes())?;
        self.commit(&tmp, &self.path(origin))
    }

    /// Step 1: the new contents in `<file>.tmp`, fsynced. A crash here leaves the old state.
    fn stage(&self, origin: &str, bytes: &[u8]) -> Result<PathBuf, StateError> {
        let mut tmp = self.path(origin).into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .map_err(io(&tmp))?;
        Ok(tmp)
    }

    /// Step 2: rename over the old file and fsync the directory (the commit point).
    fn commit(&self, tmp: &Path, path: &Path) -> Result<(), StateError> {
        fs::rename(tmp, path).map_err(io(path))?;
        sync_dir(&self.dir).map_err(io(&self.dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use ree_tlog::{Hash, NoteSigner, SigType};

    fn note(size: u64, root: u8) -> Note {
        let log = NoteSigner::new(
            "log.example",
            SigType::Ed25519,
            SigningKey::from_bytes(&[1; 32]),
        )
        .unwrap();
        Checkpoint::new("log.example", size, Hash([root; 32]))
            .unwrap()
            .sign(&log)
            .unwrap()
    }

    #[test]
    fn save_then_load_round_trips_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateStore::open(dir.path()).unwrap();
        assert_eq!(s.load("log.example").unwrap(), None);
        s.save("log.example", &note(10, 7)).unwrap();
        let s = StateStore::open(dir.path()).unwrap();
        let head = s.load("log.example").unwrap().unwrap();
        assert_eq!((head.size, head.root), (10, Hash([7; 32])));
        assert_eq!(
            fs::read(s.path("log.example")).unwrap(),
            note(10, 7).to_bytes()
        );
    }

    #[test]
    fn crash_between_temp_write_and_rename_keeps_the_old_state() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateStore::open(dir.path()).unwrap();
        s.save("log.example", &note(10, 7)).unwrap();
        // The process dies after step 1: the new state is staged, never renamed.
        s.stage("log.example", &note(20, 8).to_bytes()).unwrap();
        let reopened = StateStore::open(dir.path()).unwrap();
        assert_eq!(reopened.load("log.example").unwrap().unwrap().size, 10);
        // The next save overwrites the leftover temporary file.
        reopened.save("log.example", &note(30, 9)).unwrap();
        assert_eq!(reopened.load("log.example").unwrap().unwrap().size, 30);
    }

    #[test]
    fn a_corrupt_or_misplaced_state_is_an_error_not_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateStore::open(dir.path()).unwrap();
        fs::write(s.path("log.example"), b"garbage").unwrap();
        assert!(matches!(
            s.load("log.example"),
            Err(StateError::Corrupt { .. })
        ));
        fs::write(s.path("other.example"), note(1, 1).to_bytes()).unwrap();
        let err = s.load("other.example").unwrap_err();
        assert!(err.to_string().contains("holds origin"), "{err}");
    }
}
