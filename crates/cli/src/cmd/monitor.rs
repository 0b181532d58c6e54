//! `ree monitor`: follows the ledger's transparency log over gRPC and checks that every new
//! checkpoint extends the one saved in the state file (issue 13). The check and the state file
//! are `ree_witness::monitor`/`follow`'s; this module is the gRPC source and the command line.
//!
//! Exit status: 0 consistent (or first use), 3 a fork (both sizes and roots named, the state
//! file left as it was), 2 the pinned key or the state file cannot be used, 1 anything else
//! (the log unreachable, a checkpoint not signed by the pinned key).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use ree_proto::v1 as pb;
use ree_tlog::{Hash, VerifierKey};
use ree_witness::{CheckpointSource, MonitorError, MonitorState, Outcome};

use crate::client::Client;
use crate::conn::Conn;

#[derive(Args)]
pub struct MonitorArgs {
    #[command(flatten)]
    pub server: Conn,
    /// The log's verifier key (its `log.vkey`, one line): only checkpoints it signed count.
    #[arg(long, value_name = "FILE")]
    pub log_vkey: PathBuf,
    /// The last checkpoint verified: a signed checkpoint note. Missing: the first fetched one is
    /// trusted and saved. A customer may start from the note kept in its bundle
    /// (`ree-verify --print-checkpoint BUNDLE > FILE`).
    #[arg(long, value_name = "FILE")]
    pub state: PathBuf,
    /// Check once and exit (0 consistent, 3 fork); without it, keep following.
    #[arg(long)]
    pub once: bool,
    /// Seconds between two fetches when following.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub interval_secs: u64,
}

/// The ledger's TransparencyLog service as the monitor's source.
struct GrpcSource(Client);

impl CheckpointSource for GrpcSource {
    async fn latest_checkpoint(&mut self) -> Result<Vec<u8>, String> {
        let cp = self
            .0
            .log
            .get_checkpoint(pb::GetCheckpointRequest {})
            .await
            .map_err(|s| format!("GetCheckpoint: {:?}: {}", s.code(), s.message()))?;
        Ok(cp.into_inner().note.into_bytes())
    }

    async fn consistency_proof(&mut self, old: u64, new: u64) -> Result<Vec<Hash>, String> {
        let p = self
            .0
            .log
            .get_consistency_proof(pb::GetConsistencyProofRequest {
                old_size: old,
                new_size: new,
            })
            .await
            .map_err(|s| format!("GetConsistencyProof: {:?}: {}", s.code(), s.message()))?
            .into_inner();
        if (p.old_size, p.new_size) != (old, new) {
            return Err(format!(
                "GetConsistencyProof answered sizes {} -> {}, asked {old} -> {new}",
                p.old_size, p.new_size
            ));
        }
        p.hashes
            .iter()
            .map(|h| Hash::from_slice(h).ok_or_else(|| "a proof hash is not 32 bytes".to_owned()))
            .collect()
    }
}

/// `ree monitor`: never returns on failure, it exits with the status above.
pub async fn monitor(args: MonitorArgs) -> anyhow::Result<()> {
    let key = match ree_witness::load_log_keys(std::slice::from_ref(&args.log_vkey)) {
        Ok(mut k) => k.remove(0),
        Err(e) => fail(2, &format!("--log-vkey {e}")),
    };
    // A state file that does not open is a configuration problem, found before any fetch.
    if let Err(e) = MonitorState::load(&args.state, &key) {
        fail(2, &explain(&e, &key, &args));
    }
    let client = match args.server.connect().await {
        Ok(c) => c,
        Err(e) => fail(1, &crate::one_line(&e)),
    };
    let mut source = GrpcSource(client);
    loop {
        match ree_witness::step(&mut source, &args.state, &key).await {
            Ok(outcome) => report(outcome, &args.state, &key, args.once),
            Err(MonitorError::Source(e)) if !args.once => {
                eprintln!("warning: fetching from the log: {e}; retrying");
            }
            Err(e) => fail(e.exit_code(), &explain(&e, &key, &args)),
        }
        if args.once {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(args.interval_secs)).await;
    }
}

/// One line per new checkpoint (and, with `--once`, for an unchanged one): the size and root
/// now saved.
fn report(outcome: Outcome, state: &Path, key: &VerifierKey, once: bool) {
    let root = MonitorState::load(state, key)
        .ok()
        .flatten()
        .map_or_else(String::new, |s| format!(" root {}", s.root));
    match outcome {
        Outcome::First { size } => println!(
            "trust on first use: no saved checkpoint, saved the log's checkpoint of {size} records{root} to {}; later runs prove the log extends it",
            state.display()
        ),
        Outcome::Unchanged { size } if once => println!("unchanged: {size} records{root}"),
        Outcome::Unchanged { .. } => {}
        Outcome::Advanced { from, to } => {
            println!("consistent: {from} -> {to} records{root}, saved")
        }
    }
}

/// The error's line, naming the pinned key when a signature is what failed.
fn explain(e: &MonitorError, key: &VerifierKey, args: &MonitorArgs) -> String {
    match e {
        MonitorError::Checkpoint(reason) => format!(
            "the log's checkpoint does not open with the pinned log key {}+{:08x} (--log-vkey {}): {reason}",
            key.name(),
            key.id(),
            args.log_vkey.display()
        ),
        MonitorError::State { path, reason } => format!(
            "--state {}: {reason} (a state file is a checkpoint note signed by the pinned log key {}+{:08x})",
            path.display(),
            key.name(),
            key.id()
        ),
        other => other.to_string(),
    }
}

fn fail(code: i32, line: &str) -> ! {
    eprintln!("error: {}", line.replace('\n', " "));
    std::process::exit(code)
}
