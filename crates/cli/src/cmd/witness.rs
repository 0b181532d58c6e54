//! `ree witness serve`: a transparency-log witness (c2sp.org/tlog-witness) for ree-ledger logs.
//! The work is in the `ree-witness` crate; this is its command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum WitnessCmd {
    /// Cosign checkpoints of the given logs over HTTP (POST /add-checkpoint). The first start
    /// creates DATA_DIR/witness.key (secret) and DATA_DIR/witness.vkey (publish it).
    Serve(WitnessServeArgs),
}

#[derive(Args)]
pub struct WitnessServeArgs {
    /// The witness's directory: its key pair and, per log, the last checkpoint it cosigned.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// HTTP address to listen on.
    #[arg(long, default_value = "127.0.0.1:7380")]
    pub listen: SocketAddr,
    /// A log's verifier key file (its `log.vkey`); the key's name is the log's origin.
    /// Repeatable: one per witnessed log (or several keys of one log).
    #[arg(long = "log-vkey", required = true, value_name = "FILE")]
    pub log_vkeys: Vec<PathBuf>,
    /// The witness key's name, used only when the first start creates it.
    #[arg(long, default_value = "ree-witness")]
    pub name: String,
}

pub async fn run(cmd: WitnessCmd) -> Result<()> {
    match cmd {
        WitnessCmd::Serve(args) => serve(args).await,
    }
}

async fn serve(args: WitnessServeArgs) -> Result<()> {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let ready = |addr: SocketAddr, vkey: &ree_tlog::VerifierKey| {
        // On stdout for scripts: the bound port (with --listen 127.0.0.1:0) and the key to publish.
        println!("witness vkey {vkey}");
        println!("listening on {addr}");
    };
    ree_witness::serve(
        &args.data_dir,
        &args.name,
        args.listen,
        &args.log_vkeys,
        ready,
        ree_server::shutdown_signal(),
    )
    .await?;
    Ok(())
}
