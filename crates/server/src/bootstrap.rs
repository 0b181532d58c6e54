//! The first start: a server with an empty registry creates the administrator's
//! `DATA/admin.key`, `DATA/admin.key.pub` and `DATA/admin.token` (see `ree_proto::creds`) and
//! appends the registry's genesis: the administrator registering itself, signed by its own key.

use std::path::Path;

use ree_core::event::{EventBody, EventKind, ParticipantRegistered, Role};
use ree_core::record::Signature;
use ree_core::registry::token_hash;
use ree_core::{Country, EventId, ParticipantId};
use ree_engine::{Engine, Submission};
use ree_proto::creds::{new_token, random32, read_key, read_token, write_key, write_secret};
pub use ree_proto::creds::{AdminFiles, CredError};

/// Errors of the first start: credentials, or appending the genesis.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Cred(#[from] CredError),
    #[error("registering the administrator failed: {0}")]
    Genesis(String),
}

/// If the registry is empty: creates the administrator's credentials (or reuses them after a
/// first start that stopped before the genesis was durable) and appends the genesis. Returns the
/// files when it did so, None when the ledger already had a registry.
pub fn bootstrap(engine: &Engine, data_dir: &Path) -> Result<Option<AdminFiles>, BootstrapError> {
    if engine.registry().is_some() {
        return Ok(None);
    }
    let files = AdminFiles::in_dir(data_dir);
    let (seed, token) = if files.key.exists() && files.token.exists() {
        (read_key(&files.key)?, read_token(&files.token)?)
    } else {
        for p in [&files.key, &files.public, &files.token] {
            if p.exists() {
                std::fs::remove_file(p).map_err(|source| CredError::Io {
                    path: p.clone(),
                    source,
                })?;
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
            country: Country::parse("FR").map_err(|e| BootstrapError::Genesis(e.to_string()))?,
            public_key: public,
            token_hash: token_hash(&token),
        }),
    };
    let bytes = body
        .encode()
        .map_err(|e| BootstrapError::Genesis(e.to_string()))?;
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
        Some(Err(e)) => Err(BootstrapError::Genesis(e.to_string())),
        None => Err(BootstrapError::Genesis("no answer".into())),
    }
}
