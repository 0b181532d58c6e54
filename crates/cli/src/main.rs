//! `ree`: run the ledger server, load the demo, submit events, query lots and provenance, export
//! proof bundles, and check a data directory offline. The client commands speak the wire through
//! `ree-proto` only; `serve`, `init`, `demo` on start and the offline commands use the server,
//! engine and store crates.
#![deny(unsafe_code)]

mod bench;
mod cli;
mod client;
mod cmd;
mod conn;
mod demo;
mod output;
mod output_crma;
mod participants;
mod process;
mod progress;

use anyhow::Result;
use clap::Parser;

use crate::cli::{Cli, Cmd};

fn main() {
    process::prepare();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(cli.cmd)) {
        eprintln!("error: {}", one_line(&e));
        std::process::exit(1);
    }
}

/// The error and its causes on one line, each cause said once: library errors often repeat
/// their source in their own message.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}

async fn run(command: Cmd) -> Result<()> {
    match command {
        Cmd::Serve(args) => cmd::serve::serve(args).await,
        Cmd::Init { data_dir } => cmd::serve::init(data_dir).await,
        Cmd::Demo(args) => cmd::serve::demo(args).await,
        Cmd::Whoami { server } => cmd::query::whoami(&server).await,
        Cmd::Checkpoint { server, witnesses } => match witnesses {
            true => cmd::query::witnesses(&server).await,
            false => cmd::query::checkpoint(&server).await,
        },
        Cmd::Participant { cmd: subcommand } => cmd::participant::run(subcommand).await,
        Cmd::Facility { cmd: subcommand } => cmd::facility::run(subcommand).await,
        Cmd::Submit(args) => cmd::submit::submit(args).await,
        Cmd::Countersign { key } => cmd::audit::countersign(&key),
        Cmd::Attest(args) => cmd::audit::attest(args).await,
        Cmd::Keygen { output } => cmd::participant::keygen(&output),
        Cmd::Digest { file } => cmd::submit::digest(&file),
        Cmd::Lots(args) => cmd::query::lots(args).await,
        Cmd::Lot(args) => cmd::query::lot(args).await,
        Cmd::Events(args) => cmd::query::events(args).await,
        Cmd::Provenance(args) => cmd::query::provenance(args).await,
        Cmd::Watch(args) => cmd::watch::watch(args).await,
        Cmd::Export(args) => cmd::query::export(args).await,
        Cmd::Check { data_dir } => cmd::check::check(data_dir).await,
        Cmd::Repair { data_dir } => cmd::check::repair(data_dir).await,
        Cmd::Backup(args) => cmd::backup::backup(args).await,
        Cmd::Restore(args) => cmd::backup::restore(args).await,
        Cmd::Bench(args) => bench::run(args.into()).await,
        Cmd::Witness { cmd: subcommand } => cmd::witness::run(subcommand).await,
        Cmd::Monitor(args) => cmd::monitor::monitor(args).await,
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn errors_say_each_cause_once_on_one_line() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address in use");
        let e = anyhow::Error::new(io).context("cannot listen on 127.0.0.1:1: Address in use");
        assert_eq!(one_line(&e), "cannot listen on 127.0.0.1:1: Address in use");
        let e = anyhow::anyhow!("root cause").context("while\nloading");
        assert_eq!(one_line(&e), "while loading: root cause");
    }
}
