//! Credentials on disk and the first start. Key files hold the 32-byte ed25519 secret (seed) as
//! hex, readable by the owner only, with the public key as hex in `KEYFILE.pub`; token files hold
//! a bearer token. On its first start, a server with an empty registry creates the
//! administrator's `DATA/admin.key`, `DATA/admin.key.pub` and `DATA/admin.token` and appends the
//! registry's genesis: the administrator registering itself, signed by its own key.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::TryRngCore;
use ree_core::event::{EventBody, EventKind, ParticipantRegistered, Role};
use ree_core::record::Signature;
use ree_core::registry::token_hash;
use ree_core::{Country, EventId, Hash32, ParticipantId};
use ree_engine::{Engine, Submission};

/// Errors reading or writing credentials, or appending the genesis.
#[derive(Debug, thiserror::Error)]
pub enum CredError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Bad { path: PathBuf, reason: String },
    #[error("no OS randomness: {0}")]
    Random(String),
    #[error("registering the administrator failed: {0}")]
    Genesis(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CredError + '_ {
    move |source| CredError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// 32 bytes from the OS.
pub fn random32() -> Result<[u8; 32], CredError> {
    let mut b = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut b)
        .map_err(|e| CredError::Random(e.to_string()))?;
    Ok(b)
}

/// A fresh bearer token: `reetok_` and 64 hex digits (256 random bits).
pub fn new_token() -> Result<String, CredError> {
    Ok(format!("reetok_{}", hex(&random32()?)))
}

/// Writes `text` to a new file readable by its owner only; refuses to overwrite.
pub fn write_secret(path: &Path, text: &str) -> Result<(), CredError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).map_err(io(path))?;
    writeln!(f, "{text}").map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// Creates KEYFILE (secret) and KEYFILE.pub from `seed`; returns the public key.
pub fn write_key(path: &Path, seed: &[u8; 32]) -> Result<[u8; 32], CredError> {
    let public = Signature::sign(seed, b"").public_key;
    write_secret(path, &hex(seed))?;
    let pubpath = pub_path(path);
    std::fs::write(&pubpath, format!("{}\n", hex(&public))).map_err(io(&pubpath))?;
    Ok(public)
}

/// `KEYFILE.pub`.
pub fn pub_path(key: &Path) -> PathBuf {
    let mut p = key.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

/// Reads a key file's secret.
pub fn read_key(path: &Path) -> Result<[u8; 32], CredError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let h = Hash32::from_hex(text.trim()).map_err(|e| CredError::Bad {
        path: path.to_path_buf(),
        reason: format!("not a key file ({})", e.reason),
    })?;
    if h == Hash32::ZERO {
        return Err(CredError::Bad {
            path: path.to_path_buf(),
            reason: "an all-zero key".into(),
        });
    }
    Ok(h.0)
}

/// Reads a token file (surrounding whitespace ignored).
pub fn read_token(path: &Path) -> Result<String, CredError> {
    let t = std::fs::read_to_string(path).map_err(io(path))?;
    let t = t.trim().to_string();
    if t.is_empty() || t.chars().any(|c| !c.is_ascii_graphic()) {
        return Err(CredError::Bad {
            path: path.to_path_buf(),
            reason: "not a bearer token (one line of printable ASCII)".into(),
        });
    }
    Ok(t)
}

/// Where the administrator's credentials live.
#[derive(Clone, Debug)]
pub struct AdminFiles {
    pub key: PathBuf,
    pub public: PathBuf,
    pub token: PathBuf,
}

impl AdminFiles {
    /// The files under `data_dir`.
    pub fn in_dir(data_dir: &Path) -> AdminFiles {
        let key = data_dir.join("admin.key");
        AdminFiles {
            public: pub_path(&key),
            token: data_dir.join("admin.token"),
            key,
        }
    }
}

/// If the registry is empty: creates the administrator's credentials (or reuses them after a
/// first start that stopped before the genesis was durable) and appends the genesis. Returns the
/// files when it did so, None when the ledger already had a registry.
pub fn bootstrap(engine: &Engine, data_dir: &Path) -> Result<Option<AdminFiles>, CredError> {
    if engine.registry().is_some() {
        return Ok(None);
    }
    let files = AdminFiles::in_dir(data_dir);
    let (seed, token) = if files.key.exists() && files.token.exists() {
        (read_key(&files.key)?, read_token(&files.token)?)
    } else {
        for p in [&files.key, &files.public, &files.token] {
            if p.exists() {
                std::fs::remove_file(p).map_err(io(p))?;
            }
        }
        let seed = random32()?;
        let token = new_token()?;
        write_key(&files.key, &seed)?;
        write_secret(&files.token, &token)?;
        (seed, token)
    };
    let public = Signature::sign(&seed, b"").public_key;
    let id_bytes = blake3::derive_key("ree-ledger 2026-11 administrator id v1", &public);
    let mut b = [0u8; 16];
    b.copy_from_slice(&id_bytes[..16]);
    let now = ree_engine::now_utc();
    let body = EventBody {
        // Derived from the key: a retried genesis is the same event.
        event_id: EventId(uuid::Builder::from_random_bytes(b).into_uuid()),
        occurred_at: now,
        expected_head: None,
        kind: EventKind::ParticipantRegistered(ParticipantRegistered {
            participant: ParticipantId(uuid::Builder::from_random_bytes(b).into_uuid()),
            name: "administrator".into(),
            role: Role::Administrator,
            country: Country::parse("FR").map_err(|e| CredError::Genesis(e.to_string()))?,
            public_key: public,
            token_hash: token_hash(&token),
        }),
    };
    let bytes = body
        .encode()
        .map_err(|e| CredError::Genesis(e.to_string()))?;
    let sig = Signature::sign(&seed, &bytes);
    let r = engine
        .submit_blocking(
            vec![Submission {
                body: bytes,
                signature: Some(sig),
                caller: None,
            }],
            false,
            now,
        )
        .pop();
    match r {
        Some(Ok(_)) => Ok(Some(files)),
        Some(Err(e)) => Err(CredError::Genesis(e.to_string())),
        None => Err(CredError::Genesis("no answer".into())),
    }
}
