//! The witness's HTTP endpoint: `POST /add-checkpoint` (c2sp.org/tlog-witness).
//!
//! Per origin, one mutex serializes read-decide-persist-answer, so two concurrent requests can
//! never both be cosigned against the same stored size (the spec's rollback race), and the new
//! state is on disk before the cosignature line is sent.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use ree_tlog::note::MAX_NOTE_LEN;
use ree_tlog::witness::{add_checkpoint, AddCheckpoint, Rejection, TreeHead};
use ree_tlog::{Cosigner, VerifierKey};
use tokio::net::TcpListener;

use crate::keys::{load_log_keys, load_or_create, KeyError, WitnessKeys};
use crate::state::{StateError, StateStore};

/// Largest request body: a checkpoint note plus 63 proof lines, with room to spare.
pub const MAX_BODY: usize = MAX_NOTE_LEN + 8 * 1024;
/// A request (body included) that takes longer than this is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that has not sent a whole request head within this long is closed.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 256;

/// Why the witness could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("--log-vkey: no log key given; a witness must witness at least one log")]
    NoLogs,
    #[error("listen {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// One witnessed log: its trusted keys and the last tree head cosigned (mirrors the disk).
struct Log {
    keys: Vec<VerifierKey>,
    head: Mutex<Option<TreeHead>>,
}

/// A witness: its cosigner, its state directory and the logs it witnesses.
pub struct Witness {
    cosigner: Cosigner,
    store: StateStore,
    logs: HashMap<String, Log>,
}

/// An HTTP answer: status, content type, body.
pub type Answer = (StatusCode, &'static str, String);

const TEXT: &str = "text/plain; charset=utf-8";

impl Witness {
    /// Loads every log's state; the origin of a log key is its name.
    pub fn new(
        keys: WitnessKeys,
        store: StateStore,
        log_keys: Vec<VerifierKey>,
    ) -> Result<Witness, ServeError> {
        if log_keys.is_empty() {
            return Err(ServeError::NoLogs);
        }
        let mut logs: HashMap<String, Log> = HashMap::new();
        for k in log_keys {
            match logs.get_mut(k.name()) {
                Some(log) => log.keys.push(k),
                None => {
                    let head = store.load(k.name())?;
                    let log = Log {
                        keys: vec![k.clone()],
                        head: Mutex::new(head),
                    };
                    logs.insert(k.name().to_owned(), log);
                }
            }
        }
        Ok(Witness {
            cosigner: keys.cosigner,
            store,
            logs,
        })
    }

    /// Decides one add-checkpoint request at POSIX time `now`, persisting before cosigning.
    /// Blocking (fsync): call it off the async executor.
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Answer {
        let req = match AddCheckpoint::parse(body) {
            Ok(r) => r,
            Err(r) => return refusal(&r, "?"),
        };
        let origin = req.checkpoint.origin.as_str();
        let Some(log) = self.logs.get(origin) else {
            return refusal(&Rejection::UnknownLog, origin);
        };
        // A panic elsewhere cannot leave `head` ahead of the disk (it moves after the save).
        let mut head = log.head.lock().unwrap_or_else(|p| p.into_inner());
        let cosigned = match add_checkpoint(&req, &log.keys, *head, &self.cosigner, now) {
            Ok(c) => c,
            Err(r) => return refusal(&r, origin),
        };
        if let Err(e) = self.store.save(origin, &req.note) {
            tracing::error!(origin, error = %e, "witness state not saved; not cosigning");
            let msg = "internal error: witness state could not be saved\n".to_owned();
            return (StatusCode::INTERNAL_SERVER_ERROR, TEXT, msg);
        }
        *head = Some(cosigned.state);
        tracing::info!(origin, size = cosigned.state.size, "cosigned");
        (StatusCode::OK, TEXT, cosigned.body())
    }
}

/// The spec's answer to a refusal; a failed proof is an alarm (a fork, or a broken log).
fn refusal(r: &Rejection, origin: &str) -> Answer {
    let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::BAD_REQUEST);
    match r {
        Rejection::BadProof => tracing::warn!(origin, "ALARM: consistency proof does not verify"),
        Rejection::Conflict { stored_size } => tracing::info!(origin, stored_size, "stale"),
        other => tracing::info!(origin, refusal = %other, "refused"),
    }
    let ctype = match r {
        Rejection::Conflict { .. } => "text/x.tlog.size",
        _ => TEXT,
    };
    (status, ctype, r.body())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn add(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    let answer = tokio::task::spawn_blocking(move || w.add_checkpoint(&body, now())).await;
    let (status, ctype, body) = answer.unwrap_or_else(|_| {
        let msg = "internal error\n".to_owned();
        (StatusCode::INTERNAL_SERVER_ERROR, TEXT, msg)
    });
    (status, [(header::CONTENT_TYPE, ctype)], body).into_response()
}

async fn timeout(req: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => (StatusCode::REQUEST_TIMEOUT, "request timed out\n").into_response(),
    }
}

/// The witness's routes: `POST /add-checkpoint`, bodies capped at [`MAX_BODY`] (413 above).
pub fn router(w: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(timeout))
        .with_state(w)
}

/// `ree witness serve`: loads or creates the keys in `dir`, loads the state, binds `listen`,
/// calls `ready` with the bound address and the witness's verifier key, serves until `shutdown`
/// completes. A new key is named `name`; an existing one keeps its name.
pub async fn serve(
    dir: &Path,
    name: &str,
    listen: SocketAddr,
    log_vkeys: &[PathBuf],
    ready: impl FnOnce(SocketAddr, &VerifierKey),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let keys = load_or_create(dir, name)?;
    let vkey = keys.vkey.clone();
    let w = Witness::new(keys, StateStore::open(dir)?, load_log_keys(log_vkeys)?)?;
    let listen_err = |source| ServeError::Listen {
        addr: listen,
        source,
    };
    let listener = TcpListener::bind(listen).await.map_err(listen_err)?;
    let addr = listener.local_addr().map_err(listen_err)?;
    ready(addr, &vkey);
    serve_on(listener, Arc::new(w), shutdown).await;
    Ok(())
}

/// Serves HTTP/1.1 on `listener` until `shutdown`: at most [`MAX_CONNECTIONS`] at once (the
/// next ones wait in the kernel's backlog), each given [`HEADER_TIMEOUT`] to send its headers
/// (a slow client cannot hold a connection open forever).
pub async fn serve_on(
    listener: TcpListener,
    w: Arc<Witness>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let app = router(w);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let accepted = tokio::select! {
            _ = &mut shutdown => return,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let _ = http.serve_connection(TokioIo::new(stream), service).await;
            drop(permit);
        });
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
