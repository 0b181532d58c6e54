//! `ree serve` (optionally loading the demo once it listens), `ree init` and `ree demo`: the
//! commands that run or create a ledger, and so the only client-side users of the server crate.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use ree_proto::v1 as pb;

use crate::cli::{DemoArgs, ServeArgs};
use crate::client::status;
use crate::conn::{Conn, Creds};
use crate::demo;

/// `ree serve`: binds, prints the address, serves until SIGINT or SIGTERM.
pub async fn serve(args: ServeArgs) -> Result<()> {
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(ree_server::TlsFiles {
            cert,
            key,
            client_ca: args.client_ca,
        }),
        _ => None,
    };
    let cfg = ree_server::Config {
        data_dir: args.data_dir,
        listen: args.listen,
        tls,
        store: args.store,
        limits: args.limits,
        log: args.log,
    };
    let demo = args.demo.then_some((args.seed, args.creds_dir));
    use std::io::IsTerminal;
    // Colour only on a terminal: log files and journald get plain text.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    if demo.is_some() && cfg.tls.is_some() {
        bail!(
            "--demo runs over plaintext loopback: start the demo without TLS, then restart with it"
        );
    }
    let bound = ree_server::bind(&cfg).await?;
    let addr = bound.addr;
    if let Some(http) = args.http {
        serve_http(http, &cfg, bound.log()).await?;
    }
    // The signal handlers first: a script may send SIGTERM as soon as it reads the port.
    let shutdown = ree_server::shutdown_signal();
    // The port actually bound (useful with --listen 127.0.0.1:0), on stdout for scripts.
    println!("listening on {addr}");
    let server = tokio::spawn(bound.serve(shutdown));
    if let Some((seed, creds_dir)) = demo {
        load_demo(addr, &cfg.data_dir, seed, &creds_dir).await?;
    }
    server.await.map_err(|e| anyhow!("server task: {e}"))??;
    Ok(())
}

/// `ree serve --http ADDR`: the tlog-tiles read path, bound before the gRPC port is announced.
async fn serve_http(
    http: SocketAddr,
    cfg: &ree_server::Config,
    log: std::sync::Arc<ree_server::checkpoints::Checkpointer>,
) -> Result<()> {
    if !http.ip().is_loopback() && !cfg.limits.insecure_plaintext {
        bail!("--http {http}: refusing plaintext HTTP on a non-loopback address (a bearer token sent to it would travel in clear): put a TLS proxy in front and listen on loopback, or pass --insecure-plaintext");
    }
    let listener = ree_server::http::bind(http)
        .await
        .with_context(|| format!("--http {http}: cannot listen"))?;
    let bound = listener.local_addr().unwrap_or(http);
    println!("http listening on {bound}");
    tokio::spawn(ree_server::http::serve(listener, log));
    Ok(())
}

/// `ree serve --demo`: loads the demo into a store that holds no lots yet.
async fn load_demo(addr: SocketAddr, data_dir: &Path, seed: u64, creds_dir: &Path) -> Result<()> {
    // The demo acts through the API like any client: as the administrator first, whose
    // credentials the first start wrote into the data directory.
    let admin = ree_proto::creds::AdminFiles::in_dir(data_dir);
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
        let s = demo::run(&c, creds.secret()?, seed, creds_dir).await?;
        demo::print_summary(&s);
    } else {
        println!("the store already holds lots: demo not loaded again");
    }
    Ok(())
}

/// `ree demo`: loads the demo year into a running server, as its participants.
pub async fn demo(args: DemoArgs) -> Result<()> {
    let c = args.server.connect().await?;
    let s = demo::run(&c, args.server.secret()?, args.seed, &args.creds_dir).await?;
    demo::print_summary(&s);
    Ok(())
}

/// `ree init`: a data directory with its administrator, as the first `ree serve` creates it.
pub async fn init(data_dir: PathBuf) -> Result<()> {
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
