//! `ree`: run the ledger server, load the demo, submit events, query lots and provenance, export
//! proof bundles, and check a data directory offline.

mod bench;
mod client;
mod demo;
mod keys;
mod output;

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use ree_core::state::LotKind;
use ree_ledger::v1 as pb;

use crate::client::{connect, status};

const DEFAULT_SERVER: &str = "http://127.0.0.1:50051";

#[derive(Parser)]
#[command(
    name = "ree",
    version,
    about = "ree-ledger: provenance of rare-earth material, as a hash-chained event ledger"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args, Clone)]
struct ServerArg {
    /// Server URL.
    #[arg(long, env = "REE_SERVER", default_value = DEFAULT_SERVER)]
    server: String,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the gRPC server on an embedded sled store.
    Serve {
        #[arg(long, default_value = "./ree-data")]
        data_dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:50051")]
        listen: SocketAddr,
        /// Load the demo plant year through the server's own API once it listens (skipped if the
        /// store already holds events).
        #[arg(long)]
        demo: bool,
        /// Seed of the demo.
        #[arg(long, default_value_t = 2027)]
        seed: u64,
    },
    /// Load a realistic plant year over gRPC.
    Demo {
        #[command(flatten)]
        server: ServerArg,
        #[arg(long, default_value_t = 2027)]
        seed: u64,
    },
    /// Submit events from JSON lines (protobuf JSON of ree.v1.EventBody, one per line).
    Submit {
        #[command(flatten)]
        server: ServerArg,
        /// File, or - for standard input.
        file: String,
        /// Submit all lines as one atomic batch (all or none).
        #[arg(long)]
        atomic: bool,
        /// Sign every event with this ed25519 key file (from `ree keygen`).
        #[arg(long, env = "REE_KEY")]
        key: Option<PathBuf>,
    },
    /// Create an ed25519 signing key: KEYFILE (secret, owner-only) and KEYFILE.pub.
    Keygen {
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// List lots.
    Lots {
        #[command(flatten)]
        server: ServerArg,
        /// ore, recycled, campaign or oxide.
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one lot.
    Lot {
        #[command(flatten)]
        server: ServerArg,
        lot_id: String,
        #[arg(long)]
        json: bool,
    },
    /// List a lot's events.
    Events {
        #[command(flatten)]
        server: ServerArg,
        lot_id: String,
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[arg(long)]
        json: bool,
    },
    /// Where a lot's material comes from.
    Provenance {
        #[command(flatten)]
        server: ServerArg,
        lot_id: String,
        /// Countries whose origin breaks a segregated claim (default CN).
        #[arg(long = "deny")]
        deny: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Follow a lot's events as they are appended (reconnects and resumes without gaps).
    Watch {
        #[command(flatten)]
        server: ServerArg,
        lot_id: String,
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Stop after this many events (default: run until interrupted).
        #[arg(long)]
        count: Option<u64>,
    },
    /// Write a lot's proof bundle for ree-verify.
    Export {
        #[command(flatten)]
        server: ServerArg,
        lot_id: String,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Write a consistent backup of every record: from a running server, or offline from a data dir.
    Backup {
        #[command(flatten)]
        server: ServerArg,
        /// Read a stopped server's data directory instead of asking the server.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Turn a backup into a new data directory, replaying and checking every record.
    Restore {
        file: PathBuf,
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Load generator: durable appends (or queries) against a running server.
    Bench {
        #[command(flatten)]
        server: ServerArg,
        /// Seconds to run (default 10 unless --count is given).
        #[arg(long)]
        duration: Option<f64>,
        /// Stop after this many events instead.
        #[arg(long)]
        count: Option<u64>,
        /// Requests in flight.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// gRPC connections the requests are spread over.
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// Events per request (1 = unary Submit).
        #[arg(long, default_value_t = 1)]
        batch: usize,
        #[arg(long, value_enum, default_value = "submit")]
        mode: bench::Mode,
        /// Sign every event (ed25519), as real suppliers do, so the server checks signatures.
        #[arg(long)]
        sign: bool,
        #[arg(long)]
        json: bool,
    },
    /// Verify every chain of a data directory offline (the server must not be running on it).
    Check {
        #[arg(long, default_value = "./ree-data")]
        data_dir: PathBuf,
    },
}

fn main() {
    // Like any Unix filter: a closed pipe (`ree events X | head`) ends the process quietly
    // instead of panicking on the next write.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
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
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Serve {
            data_dir,
            listen,
            demo,
            seed,
        } => serve(data_dir, listen, demo, seed).await,
        Cmd::Demo { server, seed } => {
            let mut c = connect(&server.server).await?;
            let s = demo::run(&mut c, seed).await?;
            demo::print_summary(&s);
            Ok(())
        }
        Cmd::Submit {
            server,
            file,
            atomic,
            key,
        } => {
            let key = key.map(|k| keys::read_secret(&k)).transpose()?;
            submit(&server.server, &file, atomic, key).await
        }
        Cmd::Keygen { output } => {
            let public = keys::generate(&output)?;
            println!(
                "wrote {} (secret, mode 0600) and {}.pub: public key {public}",
                output.display(),
                output.display()
            );
            Ok(())
        }
        Cmd::Lots { server, kind, json } => {
            let kind = match kind.as_deref() {
                None => pb::LotKind::Unspecified,
                Some(k) => match LotKind::parse(k) {
                    Some(k) => ree_server::convert::kind_pb(k),
                    None => bail!("--kind {k:?}: expected ore, recycled, campaign or oxide"),
                },
            };
            let mut c = connect(&server.server).await?;
            let mut lots = vec![];
            let mut token = String::new();
            loop {
                let r = c
                    .query
                    .list_lots(pb::ListLotsRequest {
                        kind: kind as i32,
                        page_size: 10_000,
                        page_token: token,
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                lots.extend(r.lots);
                if r.next_page_token.is_empty() {
                    break;
                }
                token = r.next_page_token;
            }
            output::lots(&lots, json)
        }
        Cmd::Lot {
            server,
            lot_id,
            json,
        } => {
            let mut c = connect(&server.server).await?;
            let l = c
                .query
                .get_lot(pb::GetLotRequest { lot_id })
                .await
                .map_err(status)?
                .into_inner();
            output::lot(&l, json)
        }
        Cmd::Events {
            server,
            lot_id,
            from,
            json,
        } => {
            let mut c = connect(&server.server).await?;
            let mut all = vec![];
            let mut next = from;
            loop {
                let r = c
                    .query
                    .list_events(pb::ListEventsRequest {
                        lot_id: lot_id.clone(),
                        from_seq: next,
                        limit: 10_000,
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                let n = r.events.len();
                if let Some(l) = r.events.last() {
                    next = l.seq + 1;
                }
                all.extend(r.events);
                if n < 10_000 {
                    break;
                }
            }
            output::events(&all, json)
        }
        Cmd::Provenance {
            server,
            lot_id,
            deny,
            json,
        } => {
            let mut c = connect(&server.server).await?;
            let p = c
                .query
                .get_provenance(pb::GetProvenanceRequest {
                    lot_id,
                    denied_countries: deny,
                })
                .await
                .map_err(status)?
                .into_inner();
            output::provenance(&p, json)
        }
        Cmd::Watch {
            server,
            lot_id,
            from,
            count,
        } => watch(&server.server, &lot_id, from, count).await,
        Cmd::Export {
            server,
            lot_id,
            output,
        } => {
            let mut c = connect(&server.server).await?;
            let r = c
                .query
                .export_bundle(pb::ExportBundleRequest {
                    lot_id: lot_id.clone(),
                })
                .await
                .map_err(status)?
                .into_inner();
            std::fs::write(&output, &r.bundle)
                .with_context(|| format!("cannot write {}", output.display()))?;
            println!(
                "wrote {} ({} records, {} bytes) for lot {lot_id} at head {}",
                output.display(),
                r.records,
                r.bundle.len(),
                r.head
            );
            Ok(())
        }
        Cmd::Check { data_dir } => check(data_dir).await,
        Cmd::Backup {
            server,
            data_dir,
            output,
        } => backup(&server.server, data_dir, output).await,
        Cmd::Restore { file, data_dir } => restore(file, data_dir).await,
        Cmd::Bench {
            server,
            duration,
            count,
            concurrency,
            connections,
            batch,
            mode,
            sign,
            json,
        } => {
            let duration = if count.is_none() {
                Some(duration.unwrap_or(10.0))
            } else {
                duration
            };
            bench::run(bench::Options {
                server: server.server,
                duration,
                count,
                concurrency,
                connections,
                batch,
                json,
                mode,
                sign,
            })
            .await
        }
    }
}

async fn serve(data_dir: PathBuf, listen: SocketAddr, demo: bool, seed: u64) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cfg = ree_server::Config { data_dir, listen };
    let bound = ree_server::bind(&cfg).await?;
    let addr = bound.addr;
    // The port actually bound (useful with --listen 127.0.0.1:0), on stdout for scripts.
    println!("listening on {addr}");
    let server = tokio::spawn(bound.serve(ree_server::shutdown_signal()));
    if demo {
        let url = format!("http://{addr}");
        let mut c = connect(&url).await?;
        let existing = c
            .query
            .list_lots(pb::ListLotsRequest {
                kind: 0,
                page_size: 1,
                page_token: String::new(),
            })
            .await
            .map_err(status)?
            .into_inner();
        if existing.lots.is_empty() {
            let s = demo::run(&mut c, seed).await?;
            demo::print_summary(&s);
        } else {
            println!("store already holds lots: demo not loaded again");
        }
    }
    server.await.map_err(|e| anyhow!("server task: {e}"))??;
    Ok(())
}

/// Reads JSON lines into submissions. A line without event_id gets a fresh v7 id, one without
/// occurred_at the current time; both are printed back so a retry can reuse them.
async fn submit(server: &str, file: &str, atomic: bool, key: Option<[u8; 32]>) -> Result<()> {
    let reader: Box<dyn BufRead> = if file == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("cannot open {file}"))?,
        ))
    };
    let mut subs = vec![];
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("line {}: not valid UTF-8 text", n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let mut body: pb::EventBody = serde_json::from_str(&line)
            .with_context(|| format!("line {}: not a ree.v1.EventBody in protobuf JSON", n + 1))?;
        if body.event_id.is_empty() {
            body.event_id = uuid::Uuid::now_v7().to_string();
        }
        if body.occurred_at.is_none() {
            body.occurred_at = Some(ree_server::convert::ts(ree_engine::now_utc()));
        }
        let d =
            ree_server::convert::body_from_pb(&body).map_err(|e| anyhow!("line {}: {e}", n + 1))?;
        d.validate(ree_engine::now_utc())
            .map_err(|e| anyhow!("line {}: {e}", n + 1))?;
        let bytes = d.encode();
        let signature = key.map(|k| {
            let s = ree_core::record::Signature::sign(&k, &bytes);
            pb::Signature {
                public_key: s.public_key.to_vec(),
                signature: s.signature.to_vec(),
            }
        });
        subs.push(pb::Submission {
            body: None,
            canonical_body: bytes,
            signature,
        });
    }
    if subs.is_empty() {
        bail!("no events in {file}");
    }
    let mut c = connect(server).await?;
    let mut failed = 0;
    for (ci, chunk) in subs
        .chunks(if atomic {
            usize::MAX
        } else {
            ree_engine::MAX_BATCH
        })
        .enumerate()
    {
        let r = c
            .submit
            .submit_batch(pb::SubmitBatchRequest {
                submissions: chunk.to_vec(),
                atomic,
            })
            .await
            .map_err(status)?
            .into_inner();
        for (i, res) in r.results.into_iter().enumerate() {
            let idx = ci * ree_engine::MAX_BATCH + i;
            match res.result {
                Some(pb::event_result::Result::Ok(o)) => {
                    println!("{}", serde_json::to_string(&output::submit_json(idx, &o))?)
                }
                Some(pb::event_result::Result::Error(e)) => {
                    failed += 1;
                    eprintln!(
                        "event {}: {:?}: {}",
                        idx + 1,
                        tonic::Code::from(e.code),
                        e.message
                    );
                }
                None => {}
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} events rejected", subs.len());
    }
    Ok(())
}

async fn watch(server: &str, lot_id: &str, from: u64, count: Option<u64>) -> Result<()> {
    let mut next = from;
    let mut seen = 0u64;
    let mut backoff = std::time::Duration::from_millis(100);
    loop {
        let attempt: Result<()> = async {
            let mut c = connect(server).await?;
            let mut stream = c
                .query
                .watch(pb::WatchRequest {
                    lot_id: lot_id.to_string(),
                    from_seq: next,
                })
                .await
                .map_err(status)?
                .into_inner();
            backoff = std::time::Duration::from_millis(100);
            while let Some(ev) = stream.message().await.map_err(status)? {
                if ev.seq != next {
                    bail!("watch stream skipped from seq {next} to {}", ev.seq);
                }
                output::watch_line(&ev);
                next = ev.seq + 1;
                seen += 1;
                if count.is_some_and(|c| seen >= c) {
                    return Ok(());
                }
            }
            Err(anyhow!("stream ended"))
        }
        .await;
        match attempt {
            Ok(()) => return Ok(()),
            Err(e) => {
                let msg = format!("{e:#}");
                if msg.starts_with("NotFound") || msg.starts_with("InvalidArgument") {
                    return Err(e);
                }
                eprintln!("watch: {msg}; reconnecting from seq {next}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(5));
            }
        }
    }
}

async fn check(data_dir: PathBuf) -> Result<()> {
    let dir = data_dir.clone();
    let r = tokio::task::spawn_blocking(move || -> Result<ree_engine::OpenReport> {
        let store = ree_store::SledStore::open(&dir)
            .with_context(|| format!("cannot open {}", dir.display()))?;
        let store: Arc<dyn ree_store::Store> = Arc::new(store);
        let (_, report) = ree_engine::replay_store(&*store)?;
        Ok(report)
    })
    .await??;
    println!(
        "{}: OK: {} records in {} lots replayed from genesis; every hash, link, sequence, rule and index checked",
        data_dir.display(),
        r.records,
        r.lots
    );
    Ok(())
}

async fn backup(server: &str, data_dir: Option<PathBuf>, output: PathBuf) -> Result<()> {
    use std::io::Write;
    let tmp = output.with_extension("partial");
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?,
    );
    let n = match data_dir {
        Some(dir) => {
            let out = tokio::task::spawn_blocking(
                move || -> Result<(u64, std::io::BufWriter<std::fs::File>)> {
                    let store = ree_store::SledStore::open(&dir).with_context(|| {
                        format!("cannot open {} (is a server running on it?)", dir.display())
                    })?;
                    let (state, _) = ree_engine::replay_store(&store)?;
                    let n = ree_engine::backup::backup_store(
                        &store,
                        state.next_global_seq() - 1,
                        &mut f,
                    )?;
                    Ok((n, f))
                },
            )
            .await??;
            f = out.1;
            out.0
        }
        None => {
            let mut c = connect(server).await?;
            let mut stream = c
                .query
                .backup(pb::BackupRequest {})
                .await
                .map_err(status)?
                .into_inner();
            let mut written = 0u64;
            let mut header = false;
            while let Some(chunk) = stream.message().await.map_err(status)? {
                if !header {
                    ree_engine::backup::write_header(&mut f, chunk.total)?;
                    header = true;
                }
                for r in &chunk.records {
                    ree_engine::backup::write_record(&mut f, r)?;
                    written += 1;
                }
                if written > chunk.total {
                    bail!("server sent more records than announced");
                }
            }
            if !header {
                ree_engine::backup::write_header(&mut f, 0)?;
            }
            written
        }
    };
    f.flush()?;
    f.into_inner().map_err(|e| anyhow!("{e}"))?.sync_all()?;
    std::fs::rename(&tmp, &output)?;
    println!("wrote {} ({n} records)", output.display());
    Ok(())
}

async fn restore(file: PathBuf, data_dir: PathBuf) -> Result<()> {
    if data_dir.exists() && std::fs::read_dir(&data_dir)?.next().is_some() {
        bail!(
            "{} is not empty: restore into a new directory",
            data_dir.display()
        );
    }
    let dir = data_dir.clone();
    let report = tokio::task::spawn_blocking(move || -> Result<ree_engine::OpenReport> {
        let mut r = std::io::BufReader::new(
            std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?,
        );
        let store = ree_store::SledStore::open(&dir)?;
        Ok(ree_engine::backup::restore(&mut r, &store)?)
    })
    .await?;
    match report {
        Ok(r) => {
            println!(
                "{}: restored {} records in {} lots, every chain replayed and checked",
                data_dir.display(),
                r.records,
                r.lots
            );
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&data_dir);
            Err(e)
        }
    }
}
