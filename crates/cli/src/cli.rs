//! The command line: every command, its arguments and their help (the CLI's manual). What each
//! command does is in `cmd/` (and `bench.rs`, `demo/`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::conn::{Conn, Creds};

#[derive(Parser)]
#[command(
    name = "ree",
    version,
    about = "ree-ledger: provenance of rare-earth material, as a hash-chained event ledger"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Run the gRPC server on an embedded sled store.
    Serve(ServeArgs),
    /// Create a data directory with its administrator (what the first `ree serve` does).
    Init {
        /// Data directory to create.
        #[arg(long, default_value = "./ree-data")]
        data_dir: PathBuf,
    },
    /// Load a realistic plant year over gRPC, as its participants (needs an administrator's
    /// --key and --token-file to register them).
    Demo(DemoArgs),
    /// Print the transparency log's latest signed checkpoint (a C2SP signed note) to stdout.
    Checkpoint {
        #[command(flatten)]
        server: Conn,
        /// Instead, list the witnesses the server pushes checkpoints to and their state
        /// (last cosigned size, last error, consecutive failures, alarms).
        #[arg(long)]
        witnesses: bool,
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
    /// Manage registered facilities and their certifications (administrators; list: everyone).
    Facility {
        #[command(subcommand)]
        cmd: crate::cmd::facility::FacilityCmd,
    },
    /// Submit events from JSON lines (protobuf JSON of ree.v1.EventBody, one per line).
    Submit(SubmitArgs),
    /// Countersign stock-count gains as an auditor, offline: adjustment events (JSON lines) on
    /// standard input, the same events with the auditor's countersignature on standard output.
    Countersign {
        /// The auditor's signing key file (from `ree keygen`).
        #[arg(long, value_name = "KEYFILE")]
        key: PathBuf,
    },
    /// Record an auditor's attestation about a lot (or one of its records), signed with --key.
    Attest(AttestArgs),
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
    Lots(LotsArgs),
    /// Show one lot.
    Lot(LotArgs),
    /// List a lot's events.
    Events(EventsArgs),
    /// Where a lot's material comes from.
    Provenance(ProvenanceArgs),
    /// Follow a lot's events as they are appended (reconnects and resumes without gaps).
    Watch(WatchArgs),
    /// Write a lot's proof bundle for ree-verify.
    Export(ExportArgs),
    /// Write a consistent backup of every record: from a running server, or offline from a data dir.
    Backup(BackupArgs),
    /// Turn a backup into a new data directory, replaying and checking every record.
    Restore(RestoreArgs),
    /// Load generator: durable appends (or queries) against a running server.
    Bench(BenchArgs),
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
    /// Follow the transparency log: check that each new checkpoint extends the saved one
    /// (exit 0), or report a fork (exit 3).
    Monitor(crate::cmd::monitor::MonitorArgs),
    /// Run a transparency-log witness that cosigns checkpoints (c2sp.org/tlog-witness).
    Witness {
        #[command(subcommand)]
        cmd: crate::cmd::witness::WitnessCmd,
    },
}

// `ree serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Data directory: the store and the administrator's credentials (created if missing).
    #[arg(long, default_value = "./ree-data")]
    pub data_dir: PathBuf,
    /// Address to serve gRPC on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Load the demo plant year through the server's own API once it listens (skipped if the
    /// store already holds events).
    #[arg(long)]
    pub demo: bool,
    /// Seed of the demo.
    #[arg(long, default_value_t = 2027)]
    pub seed: u64,
    /// Where the demo writes its participants' keys and tokens.
    #[arg(long, default_value = "./ree-demo-creds")]
    pub creds_dir: PathBuf,
    /// Serve TLS with this certificate (PEM; needs --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (mutual TLS; needs --tls-cert).
    #[arg(long, requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,
    /// Store of a new data directory: sled (default) or log (append-only segment log; flat
    /// memory, ~1.2x the record bytes on disk). An existing directory keeps its store.
    #[arg(long, default_value = "sled", value_parser = parse_store)]
    pub store: ree_store::StoreKind,
    #[command(flatten)]
    pub limits: ree_server::Limits,
    #[command(flatten)]
    pub log: ree_server::LogOptions,
    /// Also serve the transparency log's tiles over HTTP here (C2SP tlog-tiles: /checkpoint,
    /// /tile/...; no token). Plaintext: loopback only unless --insecure-plaintext.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
}

// `ree demo`.
#[derive(Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub server: Creds,
    /// Seed of the demo's random plant year (the same seed gives the same events).
    #[arg(long, default_value_t = 2027)]
    pub seed: u64,
    /// Where each participant's NAME.key, NAME.key.pub and NAME.token are written.
    #[arg(long, default_value = "./ree-demo-creds")]
    pub creds_dir: PathBuf,
}

// `ree submit`.
#[derive(Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub server: Creds,
    /// File, or - for standard input.
    pub file: String,
    /// Submit all lines as one atomic batch (all or none).
    #[arg(long)]
    pub atomic: bool,
}

// `ree attest`.
#[derive(Args)]
pub struct AttestArgs {
    #[command(flatten)]
    pub server: Creds,
    /// The lot attested.
    pub lot: String,
    /// origin_verified, mass_verified or scrap_class_verified.
    #[arg(long)]
    pub kind: String,
    /// For origin_verified: site_visit or certificate_of_origin.
    #[arg(long)]
    pub method: Option<String>,
    /// BLAKE3 digest of the evidence (`ree digest REPORT`), 64 hex digits.
    #[arg(long)]
    pub evidence: String,
    /// First day (2026-01-31, or RFC 3339) the attestation holds.
    #[arg(long, value_parser = crate::cmd::audit::parse_time)]
    pub valid_from: ree_core::UtcMicros,
    /// Last day it holds.
    #[arg(long, value_parser = crate::cmd::audit::parse_time)]
    pub valid_until: ree_core::UtcMicros,
    /// The record hash of the lot's receipt, output, assay or adjustment it is about.
    #[arg(long, value_name = "HASH")]
    pub event: Option<String>,
}

// `ree lots`.
#[derive(Args)]
pub struct LotsArgs {
    #[command(flatten)]
    pub server: Conn,
    /// ore, recycled, campaign or oxide.
    #[arg(long)]
    pub kind: Option<String>,
    /// Print JSON (a stable contract, see the README) instead of a table.
    #[arg(long)]
    pub json: bool,
}

// `ree lot`.
#[derive(Args)]
pub struct LotArgs {
    #[command(flatten)]
    pub server: Conn,
    /// The lot's id (a UUID, as `ree lots` lists it).
    pub lot_id: String,
    /// Print JSON (a stable contract, see the README) instead of a table.
    #[arg(long)]
    pub json: bool,
}

// `ree events`.
#[derive(Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub server: Conn,
    /// The lot's id (a UUID, as `ree lots` lists it).
    pub lot_id: String,
    /// Start at this position in the lot's chain (0: its first event).
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Print JSON (a stable contract, see the README) instead of a table.
    #[arg(long)]
    pub json: bool,
}

// `ree provenance`.
#[derive(Args)]
pub struct ProvenanceArgs {
    #[command(flatten)]
    pub server: Conn,
    /// The lot's id (a UUID, as `ree lots` lists it).
    pub lot_id: String,
    /// Countries whose origin breaks a segregated claim (default CN).
    #[arg(long = "deny")]
    pub deny: Vec<String>,
    /// Print JSON (a stable contract, see the README) instead of a table.
    #[arg(long)]
    pub json: bool,
}

// `ree watch`.
#[derive(Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub server: Conn,
    /// The lot's id (a UUID, as `ree lots` lists it).
    pub lot_id: String,
    /// Start at this position in the lot's chain (0: its first event).
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Stop after this many events (default: run until interrupted).
    #[arg(long)]
    pub count: Option<u64>,
}

// `ree export`.
#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub server: Conn,
    /// The lot's id (a UUID, as `ree lots` lists it).
    pub lot_id: String,
    /// File to write.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}

// `ree backup`.
#[derive(Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub server: Conn,
    /// Read a stopped server's data directory instead of asking the server.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// File to write.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}

// `ree restore`.
#[derive(Args)]
pub struct RestoreArgs {
    /// Backup file written by `ree backup`.
    pub file: PathBuf,
    /// New data directory to create (must not exist or be empty).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Store of the new directory: sled or log.
    #[arg(long, default_value = "sled", value_parser = parse_store)]
    pub store: ree_store::StoreKind,
}

// `ree bench`.
#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub server: Creds,
    /// Seconds to run (default 10 unless --count is given).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Stop after this many events instead.
    #[arg(long)]
    pub count: Option<u64>,
    /// Requests in flight.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// gRPC connections the requests are spread over.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Events per request (1 = unary Submit).
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    #[arg(long, value_enum, default_value = "submit")]
    /// What to measure: submit (appends), provenance or export (queries).
    pub mode: Mode,
    /// Register nobody, create no lots (for a server that checks nothing: the no-op ceiling).
    #[arg(long, hide = true)]
    pub no_setup: bool,
    /// Consent to write: submit mode registers a bench supplier and plant operator and
    /// appends every event it sends to the target ledger (use a scratch server).
    #[arg(long)]
    pub allow_writes: bool,
    /// Print the figures as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum ParticipantCmd {
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

pub fn parse_store(s: &str) -> Result<ree_store::StoreKind, String> {
    ree_store::StoreKind::parse(s).ok_or_else(|| format!("{s:?}: expected sled or log"))
}

/// What each request does.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Mode {
    /// Durable appends (Submit for --batch 1, SubmitBatch otherwise).
    Submit,
    /// GetProvenance of an oxide lot (run `ree demo` first; the first oxide lot is used).
    Provenance,
    /// ExportBundle of an oxide lot.
    Export,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

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
