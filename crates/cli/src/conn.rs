//! Where the CLI connects and as whom: the server, a bearer token, TLS files (flags, files and
//! the environment), and the signing key of commands that submit events.

use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use ree_proto::creds;

use crate::client::{connect, Client};

/// The server a command talks to unless told otherwise (`ree serve`'s default address).
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:50051";

/// Where the CLI connects and as whom it reads: the server, a bearer token, TLS files.
#[derive(clap::Args, Clone, Debug)]
pub struct Conn {
    /// Server URL: http://HOST:PORT, or https://HOST:PORT with --ca-cert.
    #[arg(long, env = "REE_SERVER", default_value = DEFAULT_SERVER)]
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
        Ok(creds::read_key(p)?)
    }
}

impl Conn {
    /// The token, from --token or --token-file.
    pub fn token(&self) -> Result<Option<String>> {
        match (&self.token, &self.token_file) {
            (Some(t), _) => Ok(Some(t.trim().to_string())),
            (None, Some(f)) => Ok(Some(creds::read_token(f)?)),
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
