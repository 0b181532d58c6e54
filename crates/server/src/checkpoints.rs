//! Issue 13's checkpoints: the log's own ed25519 key (`DATA/log.key`, secret, owner-only, and
//! `DATA/log.vkey`, the C2SP note verifier key), the durable list of every checkpoint it signed
//! (`DATA/checkpoints`, see docs/format.md), the guard that refuses to start on a tree that does
//! not extend the latest signed checkpoint (the log never signs a fork), and the checkpointer
//! that signs a new one when the tree grew, at most every interval.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use ree_engine::Engine;
use ree_proto::creds::{random32, write_secret, CredError};
use ree_tlog::{Checkpoint, Note, NoteSigner, SigType};

/// Largest stored checkpoint note (ree-tlog refuses larger notes anyway).
const MAX_STORED_NOTE: usize = ree_tlog::note::MAX_NOTE_LEN;

/// Why the log cannot sign, or refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Cred(#[from] CredError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Bad { path: PathBuf, reason: String },
    #[error("--origin {given:?}: this log's key and checkpoints are for origin {stored:?}")]
    OriginMismatch { given: String, stored: String },
    /// The fork guard: the stored tree does not extend what the log already signed.
    #[error("refusing to start: the log signed a checkpoint of {size} records with root {root}, but the stored records {reason}; restore the records it covers (a rewritten history would make the log sign a fork)")]
    Fork {
        size: u64,
        root: String,
        reason: String,
    },
    #[error("tree: {0}")]
    Tree(#[from] ree_tlog::TreeError),
    #[error("signing: {0}")]
    Sign(#[from] ree_tlog::CheckpointError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The log key's files in a data directory.
pub fn key_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    (data_dir.join("log.key"), data_dir.join("log.vkey"))
}

/// Loads `DATA/log.key`, or creates it (and `DATA/log.vkey`) named `origin`. The key's name is
/// the log's origin; an explicit `--origin` that differs from an existing key's is refused.
pub fn load_or_create_key(
    data_dir: &Path,
    origin: Option<&str>,
    default_origin: &str,
) -> Result<NoteSigner, LogError> {
    let (key, vkey) = key_paths(data_dir);
    let signer = if key.exists() {
        let mut text = String::new();
        File::open(&key)
            .and_then(|mut f| f.read_to_string(&mut text))
            .map_err(io(&key))?;
        let s = NoteSigner::parse(text.trim()).map_err(|e| LogError::Bad {
            path: key.clone(),
            reason: e.to_string(),
        })?;
        if let Some(o) = origin.filter(|o| *o != s.name()) {
            return Err(LogError::OriginMismatch {
                given: o.to_owned(),
                stored: s.name().to_owned(),
            });
        }
        s
    } else {
        let name = origin.unwrap_or(default_origin);
        let sk = ed25519_dalek::SigningKey::from_bytes(&random32()?);
        let s = NoteSigner::new(name, SigType::Ed25519, sk).map_err(|e| LogError::Bad {
            path: key.clone(),
            reason: format!("origin {name:?}: {e}"),
        })?;
        write_secret(&key, &s.to_secret_string())?;
        s
    };
    // The verifier key is public and derived: (re)written so a copied log.key brings its own.
    let line = format!("{}\n", signer.verifier_key());
    if std::fs::read_to_string(&vkey).ok().as_deref() != Some(line.as_str()) {
        std::fs::write(&vkey, line).map_err(io(&vkey))?;
    }
    Ok(signer)
}

/// A signed checkpoint: the parsed head and the note bytes exactly as signed.
#[derive(Clone, Debug)]
pub struct Signed {
    pub checkpoint: Checkpoint,
    pub note: Vec<u8>,
}

/// Reads `DATA/checkpoints` (u32 little-endian length, then that many note bytes, repeated) and
/// returns the last complete one. A torn final entry (a crash mid-append, never served because
/// it was never synced) is cut off. Every note must carry the log's signature.
pub fn read_latest(path: &Path, signer: &NoteSigner) -> Result<Option<Signed>, LogError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let bad = |reason: String| LogError::Bad {
        path: path.to_path_buf(),
        reason,
    };
    let (mut at, mut last) = (0usize, None);
    while let Some(len) = bytes.get(at..at + 4) {
        let mut n = [0u8; 4];
        n.copy_from_slice(len);
        let n = u32::from_le_bytes(n) as usize;
        if n > MAX_STORED_NOTE {
            return Err(bad(format!("entry at byte {at}: length {n} too large")));
        }
        let Some(note) = bytes.get(at + 4..at + 4 + n) else {
            break;
        };
        last = Some((at, note));
        at += 4 + n;
    }
    if at < bytes.len() {
        tracing::warn!(path = %path.display(), at, "cutting off a torn checkpoint entry");
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io(path))?;
        f.set_len(at as u64).map_err(io(path))?;
        f.sync_all().map_err(io(path))?;
    }
    let Some((off, note)) = last else {
        return Ok(None);
    };
    let (checkpoint, _) = Checkpoint::open(note, &[signer.verifier_key()])
        .map_err(|e| bad(format!("entry at byte {off}: {e}")))?;
    Ok(Some(Signed {
        checkpoint,
        note: note.to_vec(),
    }))
}

/// The fork guard: the engine's tree must extend `latest` (same origin, at least its size, and
/// the same root at its size).
pub fn check_extends(engine: &Engine, latest: &Signed, origin: &str) -> Result<(), LogError> {
    let c = &latest.checkpoint;
    let fork = |reason: String| LogError::Fork {
        size: c.size,
        root: c.root.to_hex(),
        reason,
    };
    if c.origin != origin {
        return Err(LogError::OriginMismatch {
            given: origin.to_owned(),
            stored: c.origin.clone(),
        });
    }
    let have = engine.last_global_seq();
    if have < c.size {
        return Err(fork(format!("hold only {have}")));
    }
    let root = engine.tree().root(c.size)?;
    if root != c.root {
        return Err(fork(format!("give root {} at that size", root.to_hex())));
    }
    Ok(())
}

/// Signs checkpoints of one engine's tree and keeps them durably; the latest in memory.
pub struct Checkpointer {
    engine: Arc<Engine>,
    signer: NoteSigner,
    path: PathBuf,
    /// Held while signing and appending: one checkpoint at a time, in order.
    file: Mutex<File>,
    latest: RwLock<Option<Arc<Signed>>>,
    stop: AtomicBool,
    /// The witnesses' cosignatures (`DATA/cosignatures`), set once at start.
    cosigs: OnceLock<Arc<crate::witnesses::Cosignatures>>,
    /// The size of the latest signed checkpoint, for those who wait for the next one.
    signed: tokio::sync::watch::Sender<u64>,
}

impl Checkpointer {
    /// Opens `DATA/checkpoints`, applies the fork guard, and signs a first checkpoint if the
    /// tree grew since the last (or none was ever signed).
    pub fn open(
        engine: Arc<Engine>,
        signer: NoteSigner,
        data_dir: &Path,
    ) -> Result<Arc<Checkpointer>, LogError> {
        let path = data_dir.join("checkpoints");
        let latest = read_latest(&path, &signer)?;
        if let Some(l) = &latest {
            check_extends(&engine, l, signer.name())?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        let cp = Arc::new(Checkpointer {
            engine,
            signer,
            path,
            file: Mutex::new(file),
            latest: RwLock::new(latest.map(Arc::new)),
            stop: AtomicBool::new(false),
            cosigs: OnceLock::new(),
            signed: tokio::sync::watch::Sender::new(0),
        });
        cp.sign_if_grown()?;
        Ok(cp)
    }

    /// The engine whose tree this log signs.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Attaches the cosignature store (once; later calls are ignored).
    pub fn set_cosignatures(&self, c: Arc<crate::witnesses::Cosignatures>) {
        let _ = self.cosigs.set(c);
    }

    /// A checkpoint as published: the log's note plus every witness cosignature held for it.
    pub fn published(&self, s: &Signed) -> Vec<u8> {
        match self.cosigs.get() {
            Some(c) => c.merged(&s.note, s.checkpoint.size),
            None => s.note.clone(),
        }
    }

    /// The log's verifier key (`DATA/log.vkey`).
    pub fn verifier_key(&self) -> ree_tlog::VerifierKey {
        self.signer.verifier_key()
    }

    /// The log's origin (its key's name).
    pub fn origin(&self) -> &str {
        self.signer.name()
    }

    /// The latest signed checkpoint.
    pub fn latest(&self) -> Option<Arc<Signed>> {
        self.latest
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Signs and durably stores a checkpoint of every published record, unless the latest
    /// already covers them; returns the latest.
    pub fn sign_if_grown(&self) -> Result<Arc<Signed>, LogError> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let size = self.engine.last_global_seq();
        if let Some(l) = self.latest().filter(|l| l.checkpoint.size >= size) {
            return Ok(l);
        }
        let root = self.engine.tree().root(size)?;
        let checkpoint = Checkpoint::new(self.signer.name(), size, root)?;
        let note: Note = checkpoint.sign(&self.signer)?;
        let bytes = note.to_bytes();
        let mut entry = Vec::with_capacity(4 + bytes.len());
        entry.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        entry.extend_from_slice(&bytes);
        file.write_all(&entry).map_err(io(&self.path))?;
        file.sync_data().map_err(io(&self.path))?;
        let signed = Arc::new(Signed {
            checkpoint,
            note: bytes,
        });
        *self.latest.write().unwrap_or_else(|e| e.into_inner()) = Some(signed.clone());
        self.signed.send_replace(size);
        Ok(signed)
    }

    /// Told the size of each checkpoint signed from now on (the witness pushers wait on it).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.signed.subscribe()
    }

    /// Runs [`Checkpointer::sign_if_grown`] every `interval` on a thread of its own until
    /// [`Checkpointer::stop`].
    pub fn spawn(self: &Arc<Self>, interval: Duration) -> std::io::Result<()> {
        let me = self.clone();
        std::thread::Builder::new()
            .name("ree-checkpointer".into())
            .spawn(move || {
                while !me.stop.load(Ordering::Acquire) {
                    std::thread::sleep(interval);
                    if let Err(e) = me.sign_if_grown() {
                        tracing::error!("checkpointer: {e}");
                    }
                }
            })
            .map(|_| ())
    }

    /// Stops the thread (after its current sleep).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// A bundle as version 4: the inner bundle, a checkpoint covering every record it holds (signed
/// now if the latest does not: one fdatasync, only when the tree grew since), and one
/// multi-proof that every full record is in it.
pub fn with_log_section(
    log: &Checkpointer,
    b: &ree_core::bundle::Bundle,
) -> Result<Vec<u8>, tonic::Status> {
    let internal = |e: String| {
        tracing::error!("export: {e}");
        tonic::Status::internal(format!("transparency log: {e}"))
    };
    let records = b
        .records
        .iter()
        .map(|bytes| ree_core::Record::decode(bytes).map_err(|e| internal(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let need = records.iter().map(|r| r.global_seq).max().unwrap_or(0);
    // The newest cosigned checkpoint that covers the bundle, else the newest (signed now if
    // needed) with whatever cosignatures it has.
    let (size, note) = match log.cosigs.get().and_then(|c| c.newest_covering(need)) {
        Some(x) => x,
        None => {
            let signed = log.sign_if_grown().map_err(|e| internal(e.to_string()))?;
            (signed.checkpoint.size, log.published(&signed))
        }
    };
    let indices: Vec<u64> = records
        .iter()
        .map(|r| r.global_seq.saturating_sub(1))
        .collect();
    let proof = log
        .engine()
        .tree()
        .multi_proof(&indices, size)
        .map_err(|e| internal(e.to_string()))?;
    let section = ree_verifier::logproof::LogSection {
        note,
        proofs: ree_verifier::logproof::Proofs::Multi(proof),
    };
    Ok(ree_verifier::logproof::encode(&b.encode(), &section))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ree_core::testkit::Team;
    use ree_engine::Submission;
    use ree_store::MemStore;

    /// The test team's registry events, as submissions.
    fn registry_submissions(now: ree_core::UtcMicros) -> Vec<Submission> {
        Team::new(2)
            .registry_events(now)
            .into_iter()
            .map(|(body, sig)| Submission {
                body,
                signature: Some(sig),
                caller: None,
            })
            .collect()
    }

    /// Submits `subs` atomically; each must be accepted.
    fn accept(e: &Engine, subs: Vec<Submission>, now: ree_core::UtcMicros) {
        for r in e.submit_blocking(subs, true, now) {
            r.unwrap();
        }
    }

    /// An engine holding the test team's registry (a few records).
    fn engine(store: Arc<MemStore>) -> Arc<Engine> {
        let e = Engine::open(store, None).unwrap();
        let now = ree_engine::now_utc();
        accept(&e, registry_submissions(now), now);
        Arc::new(e)
    }

    /// The witness pushers wait on `subscribe`: each newly signed checkpoint wakes them.
    #[test]
    fn subscribers_are_told_each_new_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let signer = load_or_create_key(dir.path(), None, "ree-ledger/test").unwrap();
        let e = Arc::new(Engine::open(Arc::new(MemStore::new()), None).unwrap());
        let now = ree_engine::now_utc();
        let mut subs = registry_submissions(now);
        let later = subs.split_off(3);
        accept(&e, subs, now);
        let cp = Checkpointer::open(e.clone(), signer, dir.path()).unwrap();
        let mut rx = cp.subscribe();
        cp.sign_if_grown().unwrap();
        assert!(!rx.has_changed().unwrap(), "no new checkpoint, no wake-up");
        accept(&e, later, now);
        cp.sign_if_grown().unwrap();
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), e.last_global_seq());
    }

    #[test]
    fn the_key_is_reused_and_another_origin_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create_key(dir.path(), None, "ree-ledger/test").unwrap();
        assert_eq!(a.name(), "ree-ledger/test");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(dir.path().join("log.key")).unwrap();
            assert_eq!(m.permissions().mode() & 0o777, 0o600);
        }
        let b = load_or_create_key(dir.path(), Some("ree-ledger/test"), "x").unwrap();
        assert_eq!(a.verifier_key(), b.verifier_key());
        let vkey = std::fs::read_to_string(dir.path().join("log.vkey")).unwrap();
        assert_eq!(vkey.trim(), a.verifier_key().to_string());
        let e = load_or_create_key(dir.path(), Some("elsewhere"), "x").unwrap_err();
        assert!(matches!(e, LogError::OriginMismatch { .. }), "{e}");
    }

    #[test]
    fn a_torn_entry_is_cut_and_the_last_whole_one_is_latest() {
        let dir = tempfile::tempdir().unwrap();
        let signer = load_or_create_key(dir.path(), None, "ree-ledger/test").unwrap();
        let e = engine(Arc::new(MemStore::new()));
        let cp = Checkpointer::open(e.clone(), signer.clone(), dir.path()).unwrap();
        let size = cp.latest().unwrap().checkpoint.size;
        assert_eq!(size, e.last_global_seq());
        let path = dir.path().join("checkpoints");
        let whole = std::fs::metadata(&path).unwrap().len();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&[200, 0, 0, 0, b'x'])
            .unwrap();
        let latest = read_latest(&path, &signer).unwrap().unwrap();
        assert_eq!(latest.checkpoint.size, size);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);
        // A note signed by another key is refused, not believed.
        let o = dir.path().join("o");
        std::fs::create_dir_all(&o).unwrap();
        let other = load_or_create_key(&o, None, "ree-ledger/test").unwrap();
        assert!(read_latest(&path, &other).is_err());
    }

    #[test]
    fn a_tree_that_does_not_extend_the_signed_checkpoint_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let signer = load_or_create_key(dir.path(), None, "ree-ledger/test").unwrap();
        let e = engine(Arc::new(MemStore::new()));
        let cp = Checkpointer::open(e, signer.clone(), dir.path()).unwrap();
        let signed = cp.latest().unwrap();
        // Fewer records than signed: refused.
        let empty = Arc::new(Engine::open(Arc::new(MemStore::new()), None).unwrap());
        let err = check_extends(&empty, &signed, signer.name()).unwrap_err();
        assert!(err.to_string().contains("refusing to start"), "{err}");
        assert!(Checkpointer::open(empty, signer.clone(), dir.path()).is_err());
        // As many records, another history (another team's registry): refused.
        let other = engine(Arc::new(MemStore::new()));
        assert_eq!(other.last_global_seq(), signed.checkpoint.size);
        let err = check_extends(&other, &signed, signer.name()).unwrap_err();
        assert!(err.to_string().contains("give root"), "{err}");
    }
}
