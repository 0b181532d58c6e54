//! The witness's key pair (`W/witness.key`, 0600, and `W/witness.vkey`, type 0x04), created at
//! first start, and the log verifier keys it trusts (`--log-vkey`: the key name is the origin).

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use ree_tlog::{Cosigner, NoteSigner, SigType, VerifierKey};

use crate::state::sync_dir;

/// Why a key file could not be read or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Bad { path: PathBuf, reason: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_owned(),
        source,
    }
}

fn bad(path: &Path, reason: impl ToString) -> KeyError {
    KeyError::Bad {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// The witness's signing side and its published verifier key.
#[derive(Clone, Debug)]
pub struct WitnessKeys {
    pub cosigner: Cosigner,
    pub vkey: VerifierKey,
}

/// Loads `dir/witness.key`, or creates it (named `name`) with `dir/witness.vkey` on first start.
///
/// The secret is written to a temporary 0600 file, fsynced and renamed, so a crash never leaves
/// a truncated key; an existing `witness.vkey` must match the secret key (a swapped file would
/// make every cosignature unverifiable by the witness's users).
pub fn load_or_create(dir: &Path, name: &str) -> Result<WitnessKeys, KeyError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let key_path = dir.join("witness.key");
    let vkey_path = dir.join("witness.vkey");
    let signer = match fs::read_to_string(&key_path) {
        Ok(text) => NoteSigner::parse(&text).map_err(|e| bad(&key_path, e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let seed: [u8; 32] = rand::random();
            let signer =
                NoteSigner::new(name, SigType::CosignatureV1, SigningKey::from_bytes(&seed))
                    .map_err(|e| bad(&key_path, format!("witness name {name:?}: {e}")))?;
            let tmp = dir.join("witness.key.tmp");
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io(&tmp))?;
            f.write_all(format!("{}\n", signer.to_secret_string()).as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(io(&tmp))?;
            fs::rename(&tmp, &key_path).map_err(io(&key_path))?;
            sync_dir(dir).map_err(io(dir))?;
            signer
        }
        Err(e) => return Err(io(&key_path)(e)),
    };
    let cosigner = Cosigner::new(signer).map_err(|e| bad(&key_path, e))?;
    let vkey = cosigner.verifier_key();
    match fs::read_to_string(&vkey_path) {
        Ok(text) => {
            let on_disk = VerifierKey::parse(&text).map_err(|e| bad(&vkey_path, e))?;
            if on_disk != vkey {
                return Err(bad(&vkey_path, "does not match witness.key"));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::write(&vkey_path, format!("{vkey}\n")).map_err(io(&vkey_path))?;
            sync_dir(dir).map_err(io(dir))?;
        }
        Err(e) => return Err(io(&vkey_path)(e)),
    }
    Ok(WitnessKeys { cosigner, vkey })
}

/// Reads the logs' verifier keys (type 0x01); a log's origin is its key's name.
pub fn load_log_keys(files: &[PathBuf]) -> Result<Vec<VerifierKey>, KeyError> {
    files
        .iter()
        .map(|p| {
            let text = fs::read_to_string(p).map_err(io(p))?;
            let key = VerifierKey::parse(&text).map_err(|e| bad(p, e))?;
            if key.sig_type() != SigType::Ed25519 {
                return Err(bad(p, "a log key must be ed25519 (type 0x01)"));
            }
            Ok(key)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn first_start_creates_a_0600_key_and_a_type_4_vkey_then_reloads_it() {
        let dir = tempfile::tempdir().unwrap();
        let k = load_or_create(dir.path(), "w.example").unwrap();
        let meta = fs::metadata(dir.path().join("witness.key")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let secret = fs::read_to_string(dir.path().join("witness.key")).unwrap();
        assert!(secret.starts_with("PRIVATE+KEY+w.example+"));
        let vkey = fs::read_to_string(dir.path().join("witness.vkey")).unwrap();
        let vkey = VerifierKey::parse(&vkey).unwrap();
        assert_eq!(vkey.sig_type(), SigType::CosignatureV1);
        assert_eq!(vkey, k.vkey);
        let again = load_or_create(dir.path(), "ignored-once-created").unwrap();
        assert_eq!(again.vkey, k.vkey);
    }

    #[test]
    fn a_vkey_of_another_key_is_refused() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        load_or_create(a.path(), "w.example").unwrap();
        load_or_create(b.path(), "w.example").unwrap();
        fs::copy(b.path().join("witness.vkey"), a.path().join("witness.vkey")).unwrap();
        let err = load_or_create(a.path(), "w.example").unwrap_err();
        assert!(
            err.to_string().contains("does not match witness.key"),
            "{err}"
        );
    }

    #[test]
    fn log_keys_must_be_ed25519() {
        let dir = tempfile::tempdir().unwrap();
        let w = load_or_create(dir.path(), "w.example").unwrap();
        let err = load_log_keys(&[dir.path().join("witness.vkey")]).unwrap_err();
        assert!(err.to_string().contains("type 0x01"), "{err}");
        let log = NoteSigner::new(
            "log.example",
            SigType::Ed25519,
            SigningKey::from_bytes(&[1; 32]),
        )
        .unwrap();
        let p = dir.path().join("log.vkey");
        fs::write(&p, format!("{}\n", log.verifier_key())).unwrap();
        assert_eq!(load_log_keys(&[p]).unwrap()[0].name(), "log.example");
        drop(w);
    }
}
