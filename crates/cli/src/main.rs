//! `ree`: run the ledger server, load the demo, submit events, query lots and provenance, export
//! proof bundles, and check a data directory offline.

mod bench;
mod client;
mod demo;
mod offline;
mod output;
mod participants;
mod progress;

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use ree_core::state::LotKind;
use ree_ledger::v1 as pb;

use crate::client::status;
use crate::participants::{Conn, Creds};

pub(crate) const DEFAULT_SERVER: &str = "http://127.0.0.1:50051";

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

#[derive(Subcommand)]
enum Cmd {
    /// Run the gRPC server on an embedded sled store.
    Serve {
        /// Data directory: the store and the administrator's credentials (created if missing).
        #[arg(long, default_value = "./ree-data")]
        data_dir: PathBuf,
        /// Address to serve gRPC on (port 0: any free port, printed at start).
        #[arg(long, default_value = "127.0.0.1:50051")]
        listen: SocketAddr,
        /// Load the demo plant year through the server's own API once it listens (skipped if the
        /// store already holds events).
        #[arg(long)]
        demo: bool,
        /// Seed of the demo.
        #[arg(long, default_value_t = 2027)]
        seed: u64,
        /// Where the demo writes its participants' keys and tokens.
        #[arg(long, default_value = "./ree-demo-creds")]
        creds_dir: PathBuf,
        /// Serve TLS with this certificate (PEM; needs --tls-key).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Require client certificates signed by this CA (mutual TLS; needs --tls-cert).
        #[arg(long, requires = "tls_cert")]
        client_ca: Option<PathBuf>,
        /// Store of a new data directory: sled (default) or log (append-only segment log; flat
        /// memory, ~1.2x the record bytes on disk). An existing directory keeps its store.
        #[arg(long, default_value = "sled", value_parser = parse_store)]
        store: ree_store::StoreKind,
        #[command(flatten)]
        limits: ree_server::Limits,
    },
    /// Create a data directory with its administrator (what the first `ree serve` does).
    Init {
        /// Data directory to create.
        #[arg(long, default_value = "./ree-data")]
        data_dir: PathBuf,
    },
    /// Load a realistic plant year over gRPC, as its participants (needs an administrator's
    /// --key and --token-file to register them).
    Demo {
        #[command(flatten)]
        server: Creds,
        /// Seed of the demo's random plant year (the same seed gives the same events).
        #[arg(long, default_value_t = 2027)]
        seed: u64,
        /// Where each participant's NAME.key, NAME.key.pub and NAME.token are written.
        #[arg(long, default_value = "./ree-demo-creds")]
        creds_dir: PathBuf,
    },
    /// Show the participant your token belongs to.
    Whoami {
        #[command(flatten)]
        server: Conn,
    },
    /// Manage the participant registry (administrators; list: everyone).
    Participant {
        #[command(subcommand)]
        cmd: ParticipantCmd,
    },
    /// Submit events from JSON lines (protobuf JSON of ree.v1.EventBody, one per line).
    Submit {
        #[command(flatten)]
        server: Creds,
        /// File, or - for standard input.
        file: String,
        /// Submit all lines as one atomic batch (all or none).
        #[arg(long)]
        atomic: bool,
    },
    /// Create an ed25519 signing key: KEYFILE (secret, owner-only) and KEYFILE.pub.
    Keygen {
        /// Secret key file to create (must not exist); the public key goes to KEYFILE.pub.
        #[arg(short = 'o', long = "output", value_name = "KEYFILE")]
        output: PathBuf,
    },
    /// Print the BLAKE3 digest of a file (64 hex digits): what events cite as a document digest.
    Digest {
        /// The document (a certificate, bill of lading, assay report, ...).
        file: PathBuf,
    },
    /// List lots.
    Lots {
        #[command(flatten)]
        server: Conn,
        /// ore, recycled, campaign or oxide.
        #[arg(long)]
        kind: Option<String>,
        /// Print JSON (a stable contract, see the README) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one lot.
    Lot {
        #[command(flatten)]
        server: Conn,
        /// The lot's id (a UUID, as `ree lots` lists it).
        lot_id: String,
        /// Print JSON (a stable contract, see the README) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List a lot's events.
    Events {
        #[command(flatten)]
        server: Conn,
        /// The lot's id (a UUID, as `ree lots` lists it).
        lot_id: String,
        /// Start at this position in the lot's chain (0: its first event).
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Print JSON (a stable contract, see the README) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Where a lot's material comes from.
    Provenance {
        #[command(flatten)]
        server: Conn,
        /// The lot's id (a UUID, as `ree lots` lists it).
        lot_id: String,
        /// Countries whose origin breaks a segregated claim (default CN).
        #[arg(long = "deny")]
        deny: Vec<String>,
        /// Print JSON (a stable contract, see the README) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Follow a lot's events as they are appended (reconnects and resumes without gaps).
    Watch {
        #[command(flatten)]
        server: Conn,
        /// The lot's id (a UUID, as `ree lots` lists it).
        lot_id: String,
        /// Start at this position in the lot's chain (0: its first event).
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Stop after this many events (default: run until interrupted).
        #[arg(long)]
        count: Option<u64>,
    },
    /// Write a lot's proof bundle for ree-verify.
    Export {
        #[command(flatten)]
        server: Conn,
        /// The lot's id (a UUID, as `ree lots` lists it).
        lot_id: String,
        /// File to write.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Write a consistent backup of every record: from a running server, or offline from a data dir.
    Backup {
        #[command(flatten)]
        server: Conn,
        /// Read a stopped server's data directory instead of asking the server.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// File to write.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Turn a backup into a new data directory, replaying and checking every record.
    Restore {
        /// Backup file written by `ree backup`.
        file: PathBuf,
        /// New data directory to create (must not exist or be empty).
        #[arg(long)]
        data_dir: PathBuf,
        /// Store of the new directory: sled or log.
        #[arg(long, default_value = "sled", value_parser = parse_store)]
        store: ree_store::StoreKind,
    },
    /// Load generator: durable appends (or queries) against a running server.
    Bench {
        #[command(flatten)]
        server: Creds,
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
        /// What to measure: submit (appends), provenance or export (queries).
        mode: bench::Mode,
        /// Register nobody, create no lots (for a server that checks nothing: the no-op ceiling).
        #[arg(long, hide = true)]
        no_setup: bool,
        /// Consent to write: submit mode registers a bench supplier and plant operator and
        /// appends every event it sends to the target ledger (use a scratch server).
        #[arg(long)]
        allow_writes: bool,
        /// Print the figures as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Verify every chain of a data directory offline (the server must not be running on it).
    Check {
        /// Data directory of a stopped server.
        #[arg(long, default_value = "./ree-data")]
        data_dir: PathBuf,
    },
    /// Cut a torn, never acknowledged tail off a stopped server's log store (never acknowledged data).
    Repair {
        /// Data directory of a stopped server.
        #[arg(long)]
        data_dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum ParticipantCmd {
    /// Register a participant with its public key; writes its new bearer token to --token-out.
    Add {
        #[command(flatten)]
        server: Creds,
        /// The participant's name (e.g. its legal name).
        #[arg(long)]
        name: String,
        /// administrator, supplier, recycler, plant_operator, customer or auditor.
        #[arg(long)]
        role: String,
        /// ISO 3166-1 alpha-2.
        #[arg(long)]
        country: String,
        /// The participant's public key: KEYFILE.pub from `ree keygen`, or 64 hex digits.
        #[arg(long)]
        public_key: String,
        /// Where to write the participant's bearer token (owner-only, must not exist).
        #[arg(long)]
        token_out: PathBuf,
    },
    /// List participants, their roles and keys.
    List {
        #[command(flatten)]
        server: Conn,
        /// Print JSON (a stable contract, see the README) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a signing key to a participant (rotation: add the new one, then revoke the old).
    AddKey {
        #[command(flatten)]
        server: Creds,
        /// The participant's id (`ree participant list`).
        participant: String,
        /// The public key: KEYFILE.pub from `ree keygen`, or 64 hex digits.
        #[arg(long)]
        public_key: String,
    },
    /// Revoke a key: events it signed before stay valid, none after.
    RevokeKey {
        #[command(flatten)]
        server: Creds,
        /// The participant's id (`ree participant list`).
        participant: String,
        /// The public key: KEYFILE.pub from `ree keygen`, or 64 hex digits.
        #[arg(long)]
        public_key: String,
        /// Why (recorded in the registry).
        #[arg(long)]
        reason: String,
    },
    /// Suspend a participant: its token and keys stop working.
    Suspend {
        #[command(flatten)]
        server: Creds,
        /// The participant's id (`ree participant list`).
        participant: String,
        /// Why (recorded in the registry).
        #[arg(long)]
        reason: String,
    },
    /// Issue a new bearer token to a participant (the old one stops working).
    IssueToken {
        #[command(flatten)]
        server: Creds,
        /// The participant's id (`ree participant list`).
        participant: String,
        /// Where to write the new token (owner-only, must not exist).
        #[arg(long)]
        token_out: PathBuf,
    },
}

fn parse_store(s: &str) -> Result<ree_store::StoreKind, String> {
    ree_store::StoreKind::parse(s).ok_or_else(|| format!("{s:?}: expected sled or log"))
}

fn main() {
    // Like any Unix filter: a closed pipe (`ree events X | head`) ends the process quietly
    // instead of panicking on the next write.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // The ledger and its backups are confidential: whatever ree (or sled) creates is owner-only.
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file-creation mask; no thread is running yet.
    unsafe {
        libc::umask(0o077);
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

async fn run(cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Serve {
            data_dir,
            listen,
            demo,
            seed,
            creds_dir,
            tls_cert,
            tls_key,
            client_ca,
            store,
            limits,
        } => {
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(ree_server::TlsFiles {
                    cert,
                    key,
                    client_ca,
                }),
                _ => None,
            };
            let cfg = ree_server::Config {
                data_dir,
                listen,
                tls,
                store,
                limits,
            };
            serve(cfg, demo.then_some((seed, creds_dir))).await
        }
        Cmd::Init { data_dir } => init(data_dir).await,
        Cmd::Demo {
            server,
            seed,
            creds_dir,
        } => {
            let c = server.connect().await?;
            let s = demo::run(&c, server.secret()?, seed, &creds_dir).await?;
            demo::print_summary(&s);
            Ok(())
        }
        Cmd::Whoami { server } => {
            let mut c = server.connect().await?;
            let p = c
                .query
                .who_am_i(pb::WhoAmIRequest {})
                .await
                .map_err(status)?
                .into_inner();
            output::whoami(&p);
            Ok(())
        }
        Cmd::Participant { cmd } => participant(cmd).await,
        Cmd::Submit {
            server,
            file,
            atomic,
        } => submit(&server, &file, atomic).await,
        Cmd::Keygen { output } => {
            let public =
                ree_server::bootstrap::write_key(&output, &ree_server::bootstrap::random32()?)
                    .with_context(|| {
                        format!("cannot create {} (it must not exist yet)", output.display())
                    })?;
            println!(
                "wrote {} (secret, mode 0600) and {}.pub: public key {}",
                output.display(),
                output.display(),
                ree_core::Hash32(public)
            );
            Ok(())
        }
        Cmd::Digest { file } => {
            let mut hasher = blake3::Hasher::new();
            hasher
                .update_reader(
                    std::fs::File::open(&file)
                        .with_context(|| format!("cannot open {}", file.display()))?,
                )
                .with_context(|| format!("cannot read {}", file.display()))?;
            println!("{}", hasher.finalize().to_hex());
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
            let mut c = server.connect().await?;
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
            let mut c = server.connect().await?;
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
            let mut c = server.connect().await?;
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
            let mut c = server.connect().await?;
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
        } => watch(&server, &lot_id, from, count).await,
        Cmd::Export {
            server,
            lot_id,
            output,
        } => {
            let mut c = server.connect().await?;
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
                "wrote {} ({}, {} bytes) for lot {lot_id} at head {}",
                output.display(),
                output::count(r.records, "record"),
                r.bundle.len(),
                r.head
            );
            Ok(())
        }
        Cmd::Check { data_dir } => offline::check(data_dir).await,
        Cmd::Repair { data_dir } => offline::repair(data_dir).await,
        Cmd::Backup {
            server,
            data_dir,
            output,
        } => offline::backup(&server, data_dir, output).await,
        Cmd::Restore {
            file,
            data_dir,
            store,
        } => offline::restore(file, data_dir, store).await,
        Cmd::Bench {
            server,
            duration,
            count,
            concurrency,
            connections,
            batch,
            mode,
            no_setup,
            allow_writes,
            json,
        } => {
            let duration = if count.is_none() {
                Some(duration.unwrap_or(10.0))
            } else {
                duration
            };
            bench::run(bench::Options {
                creds: server,
                duration,
                count,
                concurrency,
                connections,
                batch,
                json,
                mode,
                no_setup,
                allow_writes,
            })
            .await
        }
    }
}

async fn serve(cfg: ree_server::Config, demo: Option<(u64, PathBuf)>) -> Result<()> {
    use std::io::IsTerminal;
    // Colour only on a terminal: log files and journald get plain text.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let data_dir = cfg.data_dir.clone();
    if demo.is_some() && cfg.tls.is_some() {
        bail!(
            "--demo runs over plaintext loopback: start the demo without TLS, then restart with it"
        );
    }
    let bound = ree_server::bind(&cfg).await?;
    let addr = bound.addr;
    // The port actually bound (useful with --listen 127.0.0.1:0), on stdout for scripts.
    println!("listening on {addr}");
    let server = tokio::spawn(bound.serve(ree_server::shutdown_signal()));
    if let Some((seed, creds_dir)) = demo {
        // The demo acts through the API like any client: as the administrator first, whose
        // credentials the first start wrote into the data directory.
        let admin = ree_server::bootstrap::AdminFiles::in_dir(&data_dir);
        let creds = Creds {
            conn: Conn {
                server: format!("http://{addr}"),
                token: None,
                token_file: Some(admin.token),
                ca_cert: None,
                tls_cert: None,
                tls_key: None,
            },
            key: Some(admin.key),
        };
        let mut c = creds.connect().await?;
        // The registry lot exists from the first start: any other lot means data was loaded.
        let existing = c
            .query
            .list_lots(pb::ListLotsRequest {
                kind: 0,
                page_size: 2,
                page_token: String::new(),
            })
            .await
            .map_err(status)?
            .into_inner();
        let registry = ree_core::registry::REGISTRY_LOT.to_string();
        if existing.lots.iter().all(|l| l.lot_id == registry) {
            let s = demo::run(&c, creds.secret()?, seed, &creds_dir).await?;
            demo::print_summary(&s);
        } else {
            println!("the store already holds lots: demo not loaded again");
        }
    }
    server.await.map_err(|e| anyhow!("server task: {e}"))??;
    Ok(())
}

/// Reads JSON lines into submissions. `occurredAt` is required; a line without `eventId` gets
/// one derived from its content ([`derived_event_id`]), so submitting the same file again is
/// answered as a replay instead of booking the events twice.
async fn submit(creds: &Creds, file: &str, atomic: bool) -> Result<()> {
    let key = creds.secret()?;
    let reader: Box<dyn BufRead> = if file == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("cannot open {file}"))?,
        ))
    };
    let mut subs = vec![];
    let mut seen = std::collections::HashMap::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("line {}: not valid UTF-8 text", n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let mut body: pb::EventBody = serde_json::from_str(&line)
            .with_context(|| format!("line {}: not a ree.v1.EventBody in protobuf JSON", n + 1))?;
        if body.occurred_at.is_none() {
            bail!(
                "line {}: occurredAt: missing (when the event happened, e.g. \"2025-03-04T08:00:00Z\")",
                n + 1
            );
        }
        let derive = body.event_id.is_empty();
        if derive {
            body.event_id = uuid::Uuid::nil().to_string();
        }
        let mut d =
            ree_server::convert::body_from_pb(&body).map_err(|e| anyhow!("line {}: {e}", n + 1))?;
        if derive {
            d.event_id = derived_event_id(&d, &mut seen);
        }
        d.validate(ree_engine::now_utc())
            .map_err(|e| anyhow!("line {}: {e}", n + 1))?;
        subs.push(participants::signed(&key, &d));
    }
    if subs.is_empty() {
        bail!("no events in {file}");
    }
    let mut c = creds.connect().await?;
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

/// The event id of a line that names none: a v8 UUID from the BLAKE3 hash of the event's
/// canonical bytes (with a nil id) and of how many identical events came before it in the same
/// file. The same file always gets the same ids, so a retry is idempotent; identical lines in
/// one file stay distinct events; two events that differ in any field get different ids.
fn derived_event_id(
    body: &ree_core::EventBody,
    seen: &mut std::collections::HashMap<Vec<u8>, u64>,
) -> ree_core::EventId {
    let mut unnamed = body.clone();
    unnamed.event_id = ree_core::EventId(uuid::Uuid::nil());
    // A body the layout cannot hold gets some id: `validate` refuses it right after.
    let bytes = unnamed.encode().unwrap_or_default();
    let occurrence = seen.entry(bytes.clone()).or_insert(0);
    let mut hasher = blake3::Hasher::new_derive_key("ree-ledger 2026-11 submit event id v1");
    hasher.update(&occurrence.to_le_bytes());
    hasher.update(&bytes);
    *occurrence += 1;
    let mut id = [0u8; 16];
    id.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    ree_core::EventId(uuid::Builder::from_custom_bytes(id).into_uuid())
}

async fn watch(server: &Conn, lot_id: &str, from: u64, count: Option<u64>) -> Result<()> {
    let mut next = from;
    let mut seen = 0u64;
    let mut backoff = std::time::Duration::from_millis(100);
    loop {
        let attempt: Result<()> = async {
            let mut c = server.connect().await?;
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
                if [
                    "NotFound",
                    "InvalidArgument",
                    "Unauthenticated",
                    "PermissionDenied",
                ]
                .iter()
                .any(|c| msg.starts_with(c))
                {
                    return Err(e);
                }
                eprintln!("watch: {msg}; reconnecting from seq {next}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(5));
            }
        }
    }
}

async fn init(data_dir: PathBuf) -> Result<()> {
    let dir = data_dir.clone();
    let created = tokio::task::spawn_blocking(move || -> Result<_> {
        let (store, _) = ree_store::open(&dir, ree_store::StoreKind::Sled)
            .with_context(|| format!("cannot open {}", dir.display()))?;
        let engine = ree_engine::Engine::open(store, None)?;
        let r = ree_server::bootstrap::bootstrap(&engine, &dir)?;
        engine.shutdown();
        Ok(r)
    })
    .await??;
    match created {
        Some(f) => println!(
            "{}: created; administrator signing key {} (public {}), bearer token {} (owner-only files)",
            data_dir.display(),
            f.key.display(),
            f.public.display(),
            f.token.display()
        ),
        None => println!(
            "{}: already has an administrator; nothing changed",
            data_dir.display()
        ),
    }
    Ok(())
}

async fn participant(cmd: ParticipantCmd) -> Result<()> {
    use participants::{public_key, registration, role, submit_one, write_token};
    use ree_core::event::{KeyAdded, KeyRevoked, ParticipantSuspended, TokenIssued};
    let pid = |s: &str| -> Result<ree_core::ParticipantId> {
        ree_core::ParticipantId::parse(s).map_err(|e| anyhow!("participant: {}", e.reason))
    };
    match cmd {
        ParticipantCmd::Add {
            server,
            name,
            role: r,
            country,
            public_key: pk,
            token_out,
        } => {
            if token_out.exists() {
                bail!("{} exists: not overwritten", token_out.display());
            }
            let reg = registration(&name, role(&r)?, &country, public_key(&pk)?, None, None)?;
            let mut c = server.connect().await?;
            submit_one(&mut c, &server.secret()?, reg.kind).await?;
            write_token(&token_out, &reg.token)?;
            println!(
                "registered {name} ({r}) as participant {}; bearer token written to {} (owner-only)",
                reg.id,
                token_out.display()
            );
            Ok(())
        }
        ParticipantCmd::List { server, json } => {
            let mut c = server.connect().await?;
            let r = c
                .query
                .list_participants(pb::ListParticipantsRequest {})
                .await
                .map_err(status)?
                .into_inner();
            output::participants(&r.participants, json)
        }
        ParticipantCmd::AddKey {
            server,
            participant,
            public_key: pk,
        } => {
            let mut c = server.connect().await?;
            let kind = ree_core::event::EventKind::KeyAdded(KeyAdded {
                participant: pid(&participant)?,
                public_key: public_key(&pk)?,
            });
            submit_one(&mut c, &server.secret()?, kind).await?;
            println!("key added to {participant}");
            Ok(())
        }
        ParticipantCmd::RevokeKey {
            server,
            participant,
            public_key: pk,
            reason,
        } => {
            let mut c = server.connect().await?;
            let kind = ree_core::event::EventKind::KeyRevoked(KeyRevoked {
                participant: pid(&participant)?,
                public_key: public_key(&pk)?,
                reason,
            });
            submit_one(&mut c, &server.secret()?, kind).await?;
            println!("key revoked: events it signed before stay valid, none after");
            Ok(())
        }
        ParticipantCmd::Suspend {
            server,
            participant,
            reason,
        } => {
            let mut c = server.connect().await?;
            let kind = ree_core::event::EventKind::ParticipantSuspended(ParticipantSuspended {
                participant: pid(&participant)?,
                reason,
            });
            submit_one(&mut c, &server.secret()?, kind).await?;
            println!("{participant} suspended");
            Ok(())
        }
        ParticipantCmd::IssueToken {
            server,
            participant,
            token_out,
        } => {
            if token_out.exists() {
                bail!("{} exists: not overwritten", token_out.display());
            }
            let token = ree_server::bootstrap::new_token()?;
            let mut c = server.connect().await?;
            let kind = ree_core::event::EventKind::TokenIssued(TokenIssued {
                participant: pid(&participant)?,
                token_hash: ree_core::registry::token_hash(&token),
            });
            submit_one(&mut c, &server.secret()?, kind).await?;
            write_token(&token_out, &token)?;
            println!(
                "new token for {participant} written to {} (owner-only); the old one no longer works",
                token_out.display()
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::{one_line, Cli};

    #[test]
    fn errors_say_each_cause_once_on_one_line() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address in use");
        let e = anyhow::Error::new(io).context("cannot listen on 127.0.0.1:1: Address in use");
        assert_eq!(one_line(&e), "cannot listen on 127.0.0.1:1: Address in use");
        let e = anyhow::anyhow!("root cause").context("while\nloading");
        assert_eq!(one_line(&e), "while loading: root cause");
    }

    /// Every argument of every command says what it is (the help is the CLI's manual).
    #[test]
    fn every_argument_is_described() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.is_hide_set() || id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() {
                    missing.push(format!("{path} {} (the command itself)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        let mut missing = vec![];
        walk(&cmd, "ree", &mut missing);
        assert!(missing.is_empty(), "undescribed: {missing:#?}");
    }

    /// Reading commands take no signing key: --key appears only where events are signed.
    #[test]
    fn key_only_on_commands_that_sign() {
        let cmd = Cli::command();
        let has_key = |path: &[&str]| {
            let mut c = &cmd;
            for p in path {
                c = c.find_subcommand(p).expect("subcommand");
            }
            c.get_arguments().any(|a| a.get_id() == "key")
        };
        for read in [
            &["whoami"][..],
            &["lots"],
            &["lot"],
            &["events"],
            &["provenance"],
            &["watch"],
            &["export"],
            &["backup"],
            &["participant", "list"],
        ] {
            assert!(!has_key(read), "{read:?} offers --key");
        }
        for write in [
            &["submit"][..],
            &["demo"],
            &["bench"],
            &["participant", "add"],
            &["participant", "revoke-key"],
        ] {
            assert!(has_key(write), "{write:?} lacks --key");
        }
    }
}
