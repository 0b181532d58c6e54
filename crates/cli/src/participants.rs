//! Acting as a participant: credentials from flags, files and the environment; signing events;
//! and the administrator's registry operations (`ree participant ...`, the demo, the bench).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use ree_core::event::{EventBody, EventKind, ParticipantRegistered, Role};
use ree_core::record::Signature;
use ree_core::registry::token_hash;
use ree_core::{Country, EventId, Hash32, ParticipantId};
use ree_ledger::v1 as pb;
use ree_server::bootstrap;

use crate::client::{connect, status, Client};

/// Where the CLI connects and as whom it reads: the server, a bearer token, TLS files.
#[derive(clap::Args, Clone, Debug)]
pub struct Conn {
    /// Server URL: http://HOST:PORT, or https://HOST:PORT with --ca-cert.
    #[arg(long, env = "REE_SERVER", default_value = crate::DEFAULT_SERVER)]
    pub server: String,
    /// Bearer token (prefer --token-file: a command line is visible to other users).
    #[arg(long, env = "REE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// File holding the bearer token (e.g. DATA/admin.token, ree-demo-creds/NAME.token).
    #[arg(long, env = "REE_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// CA certificate (PEM) that signed the server's certificate, for an https:// server.
    #[arg(long, env = "REE_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// Client certificate (PEM) for a server that requires mutual TLS.
    #[arg(long, env = "REE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, env = "REE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// A connection plus the signing key of commands that submit events.
#[derive(clap::Args, Clone, Debug)]
pub struct Creds {
    #[command(flatten)]
    pub conn: Conn,
    /// ed25519 signing key file (from `ree keygen`): events are signed with it.
    #[arg(long, env = "REE_KEY")]
    pub key: Option<PathBuf>,
}

impl std::ops::Deref for Creds {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl Creds {
    /// The signing key's secret; an error that says how to give one if missing.
    pub fn secret(&self) -> Result<[u8; 32]> {
        let p = self.key.as_ref().ok_or_else(|| {
            anyhow!("events must be signed: give your key file with --key KEYFILE or REE_KEY")
        })?;
        Ok(bootstrap::read_key(p)?)
    }
}

impl Conn {
    /// The token, from --token or --token-file.
    pub fn token(&self) -> Result<Option<String>> {
        match (&self.token, &self.token_file) {
            (Some(t), _) => Ok(Some(t.trim().to_string())),
            (None, Some(f)) => Ok(Some(bootstrap::read_token(f)?)),
            (None, None) => Ok(None),
        }
    }
    /// TLS settings for an https:// server (None: plaintext).
    pub fn tls(&self) -> Result<Option<tonic::transport::ClientTlsConfig>> {
        if self.ca_cert.is_none() && self.tls_cert.is_none() {
            return Ok(None);
        }
        let read =
            |p: &PathBuf| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
        let mut c = tonic::transport::ClientTlsConfig::new();
        if let Some(ca) = &self.ca_cert {
            c = c.ca_certificate(tonic::transport::Certificate::from_pem(read(ca)?));
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            c = c.identity(tonic::transport::Identity::from_pem(
                read(cert)?,
                read(key)?,
            ));
        }
        Ok(Some(c))
    }
    /// Connects as the token's participant.
    pub async fn connect(&self) -> Result<Client> {
        connect(&self.server, self.token()?.as_deref(), self.tls()?).await
    }
}

/// A signed wire submission of `body`, which the caller validated (or built itself): `validate`
/// refuses everything the layout cannot hold.
pub fn signed(secret: &[u8; 32], body: &EventBody) -> pb::Submission {
    let bytes = body.encode().expect("a validated body fits the layout");
    let s = Signature::sign(secret, &bytes);
    pb::Submission {
        body: None,
        canonical_body: bytes,
        signature: Some(pb::Signature {
            public_key: s.public_key.to_vec(),
            signature: s.signature.to_vec(),
        }),
    }
}

/// Submits one registry (or any) event signed by `secret`, as `client`'s participant.
pub async fn submit_one(client: &mut Client, secret: &[u8; 32], kind: EventKind) -> Result<()> {
    let body = EventBody {
        event_id: EventId::new_v7(),
        occurred_at: ree_engine::now_utc(),
        expected_head: None,
        kind,
    };
    body.validate(ree_engine::now_utc())
        .map_err(|e| anyhow!("{e}"))?;
    client
        .submit
        .submit(pb::SubmitRequest {
            submission: Some(signed(secret, &body)),
        })
        .await
        .map_err(status)?;
    Ok(())
}

/// The registration of a new participant, with a fresh token returned beside it.
pub struct Registration {
    pub kind: EventKind,
    pub id: ParticipantId,
    pub token: String,
}

/// Builds a registration; the token is fresh from the OS unless given.
pub fn registration(
    name: &str,
    role: Role,
    country: &str,
    public_key: [u8; 32],
    token: Option<String>,
    id: Option<ParticipantId>,
) -> Result<Registration> {
    let country = Country::parse(country).map_err(|e| anyhow!("country: {}", e.reason))?;
    let token = match token {
        Some(t) => t,
        None => bootstrap::new_token()?,
    };
    let id = id.unwrap_or_else(|| ParticipantId(uuid::Uuid::now_v7()));
    Ok(Registration {
        kind: EventKind::ParticipantRegistered(ParticipantRegistered {
            participant: id,
            name: name.to_string(),
            role,
            country,
            public_key,
            token_hash: token_hash(&token),
        }),
        id,
        token,
    })
}

/// Reads a public key: a `.pub` file, or 64 hex digits.
pub fn public_key(arg: &str) -> Result<[u8; 32]> {
    let text = if Path::new(arg).exists() {
        std::fs::read_to_string(arg).with_context(|| format!("cannot read {arg}"))?
    } else {
        arg.to_string()
    };
    let h = Hash32::from_hex(text.trim()).map_err(|e| {
        anyhow!(
            "{arg}: not a public key file or 64 hex digits ({})",
            e.reason
        )
    })?;
    Ok(h.0)
}

/// Parses a role name.
pub fn role(s: &str) -> Result<Role> {
    Role::parse(s).ok_or_else(|| {
        anyhow!(
            "role {s:?}: expected one of {}",
            Role::ALL
                .iter()
                .map(|r| r.name())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// Writes NAME.token (owner-only); refuses to overwrite.
pub fn write_token(path: &Path, token: &str) -> Result<()> {
    if path.exists() {
        bail!("{} exists: not overwritten", path.display());
    }
    Ok(bootstrap::write_secret(path, token)?)
}
