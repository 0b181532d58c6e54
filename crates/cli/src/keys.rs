//! Key files: the 32-byte ed25519 secret (seed) as hex in KEYFILE, readable by its owner only,
//! and the public key as hex in KEYFILE.pub.

use std::io::Write;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use rand::TryRngCore;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Creates KEYFILE and KEYFILE.pub; refuses to overwrite. Returns the public key in hex.
pub fn generate(path: &Path) -> Result<String> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut seed)
        .map_err(|e| anyhow!("no OS randomness: {e}"))?;
    let public = hex(&ree_core::record::Signature::sign(&seed, b"").public_key);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    writeln!(f, "{}", hex(&seed))?;
    f.sync_all()?;
    let pubpath = format!("{}.pub", path.display());
    std::fs::write(&pubpath, format!("{public}\n"))
        .with_context(|| format!("cannot write {pubpath}"))?;
    Ok(public)
}

/// Reads KEYFILE's secret.
pub fn read_secret(path: &Path) -> Result<[u8; 32]> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    let h = ree_core::Hash32::from_hex(text.trim())
        .map_err(|e| anyhow!("key file {}: {}", path.display(), e.reason))?;
    if h.0 == [0; 32] {
        bail!("key file {} holds an all-zero key", path.display());
    }
    Ok(h.0)
}
