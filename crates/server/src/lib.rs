//! The gRPC face of ree-ledger: tonic services thin over `ree-engine`, plus health, reflection,
//! limits and graceful shutdown. Nothing here decides a rule; it converts, calls, and maps errors
//! to status codes. The wire types and their conversions are `ree-proto`'s.
#![forbid(unsafe_code)]

pub mod auth;
pub mod bootstrap;
pub mod checkpoints;
mod conn;
mod crma;
mod edge;
pub mod http;
pub mod limits;
mod service;
mod tlog_service;
mod watch;
pub mod witnesses;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ree_engine::Engine;
use ree_proto::v1::queries_server::QueriesServer;
use ree_proto::v1::submissions_server::SubmissionsServer;
use ree_proto::v1::transparency_log_server::TransparencyLogServer;
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;

pub use limits::Limits;

// The server refuses larger batches with the engine's own message; both must agree.
const _: () = assert!(ree_proto::MAX_BATCH == ree_engine::MAX_BATCH);
pub use service::status_of;

/// Largest request the server decodes (a full batch of 1000 events fits in well under this).
pub const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;
/// Largest answer (proof bundles of large campaigns).
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;
/// Per-request deadline.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests in flight per connection.
pub const CONCURRENCY_PER_CONNECTION: usize = 256;

/// How to run the server.
#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Serve TLS (rustls) instead of plaintext HTTP/2.
    pub tls: Option<TlsFiles>,
    /// The store a new data directory gets (an existing one keeps its own).
    pub store: ree_store::StoreKind,
    /// Connection, stream and rate limits.
    pub limits: Limits,
    /// The transparency log's origin and checkpoint interval (issue 13).
    pub log: LogOptions,
}

/// The transparency log's options (issue 13).
#[derive(Clone, Debug, clap::Args)]
pub struct LogOptions {
    /// The log's origin line (and its key's name), fixed when `DATA/log.key` is created; a
    /// different one on an existing log is refused. Default: `ree-ledger/` and the first 16 hex
    /// digits of the administrator's public key.
    #[arg(long)]
    pub origin: Option<String>,
    /// While records arrive, a checkpoint is signed at least this often (milliseconds).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub checkpoint_interval_ms: u64,
    /// Push each new checkpoint to this witness and publish its cosignatures (repeatable):
    /// `http://HOST:PORT=FILE`, FILE the witness's verifier key (`witness.vkey`, pinned).
    #[arg(long = "witness", value_name = "URL=VKEY_FILE")]
    pub witnesses: Vec<String>,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            origin: None,
            checkpoint_interval_ms: 1000,
            witnesses: Vec::new(),
        }
    }
}

/// PEM files for TLS. With `client_ca`, every client must present a certificate it signed
/// (mutual TLS), in addition to its bearer token.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

impl TlsFiles {
    fn load(&self) -> Result<tonic::transport::ServerTlsConfig, ServeError> {
        let read = |p: &PathBuf| {
            std::fs::read(p).map_err(|source| ServeError::Tls {
                path: p.clone(),
                source,
            })
        };
        let mut c = tonic::transport::ServerTlsConfig::new().identity(
            tonic::transport::Identity::from_pem(read(&self.cert)?, read(&self.key)?),
        );
        if let Some(ca) = &self.client_ca {
            c = c.client_ca_root(tonic::transport::Certificate::from_pem(read(ca)?));
        }
        Ok(c)
    }
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open the store in {dir}: {source}")]
    Open {
        dir: PathBuf,
        source: ree_engine::EngineError,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("administrator credentials: {0}")]
    Credentials(#[from] bootstrap::BootstrapError),
    #[error("transparency log: {0}")]
    Log(checkpoints::LogError),
    #[error("TLS file {path}: {source}")]
    Tls {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Witness(String),
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("--listen {0}: refusing plaintext on a non-loopback address (bearer tokens would travel in clear): serve TLS (--tls-cert, --tls-key) or pass --insecure-plaintext")]
    PlaintextExposed(SocketAddr),
}

impl From<checkpoints::LogError> for ServeError {
    fn from(e: checkpoints::LogError) -> Self {
        ServeError::Log(e)
    }
}

/// Plaintext only on loopback, unless the operator insists (then a loud warning).
fn check_plaintext(cfg: &Config) -> Result<(), ServeError> {
    if cfg.tls.is_some() || cfg.listen.ip().is_loopback() {
        return Ok(());
    }
    if !cfg.limits.insecure_plaintext {
        return Err(ServeError::PlaintextExposed(cfg.listen));
    }
    tracing::warn!(
        addr = %cfg.listen,
        "INSECURE: serving plaintext on a non-loopback address; bearer tokens travel in clear (--insecure-plaintext)"
    );
    Ok(())
}

/// The transparency log's node hashes (derived from the records, checked and rebuilt on open).
pub fn tree_hashes_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("tree").join("hashes")
}

/// A bound, not yet running server.
pub struct Bound {
    listener: TcpListener,
    tls: Option<tonic::transport::ServerTlsConfig>,
    engine: Arc<Engine>,
    log: Arc<checkpoints::Checkpointer>,
    witnesses: Arc<witnesses::Witnesses>,
    hub: watch::Hub,
    limits: Limits,
    pub addr: SocketAddr,
}

/// Opens the store (replaying and checking it) and binds the listener.
pub async fn bind(cfg: &Config) -> Result<Bound, ServeError> {
    check_plaintext(cfg)?;
    // The port first: a busy one is refused before anything is created in the data directory.
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: cfg.listen,
            source,
        })?;
    let hub = watch::Hub::new();
    let observer = hub.observer();
    let dir = cfg.data_dir.clone();
    let new_kind = cfg.store;
    let engine = tokio::task::spawn_blocking(move || -> Result<Engine, ree_engine::EngineError> {
        let (store, kind) =
            ree_store::open(&dir, new_kind).map_err(ree_engine::EngineError::Store)?;
        tracing::info!(store = ?kind, "store opened");
        let tree = ree_engine::LogTree::open_file(&tree_hashes_path(&dir), false)
            .map_err(|e| ree_engine::EngineError::Store(ree_store::StoreError::Io(e)))?;
        Engine::open_with_tree(store, Some(observer), ree_engine::QUEUE_DEPTH, tree)
    })
    .await
    .map_err(|e| ServeError::Open {
        dir: cfg.data_dir.clone(),
        source: ree_engine::EngineError::Inconsistent {
            global_seq: None,
            reason: e.to_string(),
        },
    })?
    .map_err(|source| ServeError::Open {
        dir: cfg.data_dir.clone(),
        source,
    })?;
    let r = engine.open_report();
    tracing::info!(records = r.records, lots = r.lots, dir = %cfg.data_dir.display(), "store opened and verified");
    let engine = Arc::new(engine);
    let (e2, dir) = (engine.clone(), cfg.data_dir.clone());
    let created = tokio::task::spawn_blocking(move || bootstrap::bootstrap(&e2, &dir))
        .await
        .map_err(|e| bootstrap::BootstrapError::Genesis(e.to_string()))??;
    if let Some(f) = created {
        // Paths only: the secrets never reach a log.
        tracing::info!(
            key = %f.key.display(),
            public_key = %f.public.display(),
            token = %f.token.display(),
            "first start: created the administrator's signing key and bearer token (owner-only files)"
        );
        println!(
            "administrator credentials created: key {} (public {}), token {}",
            f.key.display(),
            f.public.display(),
            f.token.display()
        );
    }
    let log = open_log(&engine, cfg).await?;
    let witnesses = start_witnesses(&log, cfg).await?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: cfg.listen,
        source,
    })?;
    let handshake = cfg.limits.handshake_timeout();
    let tls = cfg
        .tls
        .as_ref()
        .map(|t| t.load().map(|c| c.timeout(handshake)))
        .transpose()?;
    Ok(Bound {
        listener,
        tls,
        engine,
        log,
        witnesses,
        hub,
        limits: cfg.limits.clone(),
        addr,
    })
}

/// The log key (created beside the administrator's at first start), the fork guard against
/// the stored checkpoints, a first checkpoint, and the checkpointer thread.
async fn open_log(
    engine: &Arc<Engine>,
    cfg: &Config,
) -> Result<Arc<checkpoints::Checkpointer>, ServeError> {
    let (engine, dir, opts) = (engine.clone(), cfg.data_dir.clone(), cfg.log.clone());
    let log = tokio::task::spawn_blocking(move || {
        let admin = ree_proto::creds::AdminFiles::in_dir(&dir);
        let public = std::fs::read_to_string(&admin.public).unwrap_or_default();
        let default_origin = format!("ree-ledger/{}", public.trim().get(..16).unwrap_or("log"));
        let signer =
            checkpoints::load_or_create_key(&dir, opts.origin.as_deref(), &default_origin)?;
        checkpoints::Checkpointer::open(engine, signer, &dir)
    })
    .await
    .map_err(|e| {
        ServeError::Log(checkpoints::LogError::Bad {
            path: cfg.data_dir.clone(),
            reason: e.to_string(),
        })
    })??;
    log.spawn(Duration::from_millis(cfg.log.checkpoint_interval_ms))
        .map_err(|source| {
            ServeError::Log(checkpoints::LogError::Io {
                path: cfg.data_dir.clone(),
                source,
            })
        })?;
    if let Some(l) = log.latest() {
        tracing::info!(origin = log.origin(), size = l.checkpoint.size, root = %l.checkpoint.root.to_hex(), "transparency log checkpoint");
    }
    Ok(log)
}

/// Reads each `--witness URL=VKEY_FILE`, opens `DATA/cosignatures` and starts one pusher task
/// per witness (none: nothing is pushed; stored cosignatures are not published).
async fn start_witnesses(
    log: &Arc<checkpoints::Checkpointer>,
    cfg: &Config,
) -> Result<Arc<witnesses::Witnesses>, ServeError> {
    let specs = cfg
        .log
        .witnesses
        .iter()
        .map(|a| witnesses::WitnessSpec::parse(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ServeError::Witness)?;
    let keys: Vec<_> = specs.iter().map(|s| s.key.clone()).collect();
    let (dir, vkey) = (cfg.data_dir.clone(), log.verifier_key());
    let cosigs =
        tokio::task::spawn_blocking(move || witnesses::Cosignatures::open(&dir, &vkey, &keys))
            .await
            .map_err(|e| ServeError::Witness(e.to_string()))??;
    let cosigs = Arc::new(cosigs);
    log.set_cosignatures(cosigs.clone());
    for s in &specs {
        tracing::info!(witness = s.key.name(), url = %s.url, "pushing checkpoints to witness");
    }
    Ok(witnesses::spawn(log.clone(), cosigs, specs))
}

impl Bound {
    /// The transparency log, for `--http`'s read path.
    pub fn log(&self) -> Arc<checkpoints::Checkpointer> {
        self.log.clone()
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests and the commit queue.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let (health_reporter, health) = tonic_health::server::health_reporter();
        health_reporter
            .set_serving::<SubmissionsServer<service::Ledger>>()
            .await;
        health_reporter
            .set_serving::<QueriesServer<service::Ledger>>()
            .await;
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(ree_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(ree_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;
        let (closing_tx, closing) = tokio::sync::watch::channel(false);
        let svc = service::Ledger {
            engine: self.engine.clone(),
            hub: self.hub.clone(),
            closing,
            guards: limits::Guards::new(&self.limits),
            log: self.log.clone(),
        };
        let shutdown = async move {
            shutdown.await;
            let _ = closing_tx.send(true);
        };
        tracing::info!(addr = %self.addr, "serving ree.v1");
        // Capped, deadlined connections (with TCP_NODELAY: the builder's applies only to
        // listeners it binds itself).
        let l = &self.limits;
        let incoming = conn::incoming(self.listener, l.max_connections, l.handshake_timeout());
        let mut builder = tonic::transport::Server::builder()
            .max_concurrent_streams(l.max_streams_per_connection)
            .http2_keepalive_interval(l.keepalive_interval())
            .http2_keepalive_timeout(Some(l.keepalive_timeout()));
        if let Some(tls) = self.tls.clone() {
            builder = builder.tls_config(tls)?;
        }
        builder
            .layer(edge::layer())
            .timeout(REQUEST_TIMEOUT)
            .concurrency_limit_per_connection(CONCURRENCY_PER_CONNECTION)
            .tcp_nodelay(true)
            // Batches of 1000 events exceed HTTP/2's default 64 KiB window: without a larger
            // one each large request waits on window updates.
            .initial_stream_window_size(Some(4 << 20))
            .initial_connection_window_size(Some(8 << 20))
            .add_service(health)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(InterceptedService::new(
                SubmissionsServer::new(svc.clone())
                    .max_decoding_message_size(MAX_REQUEST_BYTES)
                    .max_encoding_message_size(MAX_RESPONSE_BYTES),
                auth::interceptor(self.engine.clone()),
            ))
            .add_service(InterceptedService::new(
                TransparencyLogServer::new(tlog_service::TransparencyLog {
                    log: self.log.clone(),
                    witnesses: self.witnesses.clone(),
                }),
                auth::interceptor(self.engine.clone()),
            ))
            .add_service(InterceptedService::new(
                QueriesServer::new(svc)
                    .max_decoding_message_size(MAX_REQUEST_BYTES)
                    .max_encoding_message_size(MAX_RESPONSE_BYTES),
                auth::interceptor(self.engine.clone()),
            ))
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await?;
        let engine = self.engine.clone();
        let log = self.log.clone();
        // Drained: one last checkpoint covers every acknowledged record.
        let _ = tokio::task::spawn_blocking(move || {
            engine.shutdown();
            log.stop();
            if let Err(e) = log.sign_if_grown() {
                tracing::error!("last checkpoint: {e}");
            }
        })
        .await;
        tracing::info!("stopped: commit queue drained, store flushed");
        Ok(())
    }
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled: call it before announcing the port, so that a signal sent as soon as
/// a script reads "listening" stops the server gracefully instead of killing it.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (term, int) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(term) => {},
                _ = wait(int) => {},
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested");
    }
}
