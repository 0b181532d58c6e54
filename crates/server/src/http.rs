//! `ree serve --http ADDR`: the C2SP tlog-tiles read path over HTTP/1.1, public (no token):
//! `GET /checkpoint`, `/tile/<L>/<N>[.p/<W>]` (hash tiles) and `/tile/entries/<N>[.p/<W>]`
//! (entry bundles of the records' 32-byte hashes). Everything is served for the latest signed
//! checkpoint, so a client's tiles always match a note it can verify. Any other path needs the
//! bearer token (401 without a valid one; 404 with one, nothing else is served yet).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use ree_tlog::tiles::{self, TileError, TilePath, TILE_WIDTH};
use tokio::net::TcpListener;

use crate::checkpoints::Checkpointer;

/// A request that takes longer than this is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that has not sent a whole request head within this long is closed.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once (the next ones wait in the kernel's backlog).
pub const MAX_CONNECTIONS: usize = 256;

/// Full tiles and full entry bundles never change (tlog-tiles: cache them for ever).
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The checkpoint and partial tiles are superseded as the log grows.
pub const SHORT: &str = "no-cache";

const TEXT: &str = "text/plain; charset=utf-8";
const BINARY: &str = "application/octet-stream";

/// Binds `addr` (before the gRPC port is announced, so a script may use both at once).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves the read path on `listener` until the process ends.
pub async fn serve(listener: TcpListener, log: Arc<Checkpointer>) {
    let app = Router::new().fallback(route).with_state(log);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "http: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
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

fn answer(
    status: StatusCode,
    ctype: &'static str,
    cache: Option<&'static str>,
    body: Vec<u8>,
) -> Response {
    let mut r = (status, [(header::CONTENT_TYPE, ctype)], body).into_response();
    if let Some(c) = cache {
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(c));
    }
    r
}

fn text(status: StatusCode, msg: String) -> Response {
    answer(status, TEXT, None, format!("{msg}\n").into_bytes())
}

async fn route(State(log): State<Arc<Checkpointer>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let public = path == "/checkpoint" || path.starts_with("/tile/");
    if !public {
        return private(&log, &req);
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET".into());
    }
    let work = tokio::task::spawn_blocking(move || public_path(&log, &path));
    match tokio::time::timeout(REQUEST_TIMEOUT, work).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => text(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into()),
        Err(_) => text(StatusCode::REQUEST_TIMEOUT, "request timed out".into()),
    }
}

/// Not part of the read path: 401 without a valid bearer token, 404 with one.
fn private(log: &Checkpointer, req: &Request) -> Response {
    let md = tonic::metadata::MetadataMap::from_headers(req.headers().clone());
    match crate::auth::authenticate(log.engine(), &md) {
        Ok(_) => text(StatusCode::NOT_FOUND, "not found".into()),
        Err(s) => {
            let mut r = text(StatusCode::UNAUTHORIZED, s.message().to_owned());
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            r
        }
    }
}

/// `/checkpoint` or a `/tile/…` path, for the latest signed checkpoint.
fn public_path(log: &Checkpointer, path: &str) -> Response {
    let Some(latest) = log.latest() else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "no checkpoint signed yet".into(),
        );
    };
    if path == "/checkpoint" {
        return answer(StatusCode::OK, TEXT, Some(SHORT), latest.note.clone());
    }
    let size = latest.checkpoint.size;
    let tile = match tiles::parse_path(&path[1..]) {
        Ok(t) => t,
        Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let (width, body) = match tile {
        TilePath::Hashes(t) => (t.width, log.engine().tree().tile(t, size)),
        TilePath::Entries { index, width } => (width, entries(log, index, width, size)),
    };
    let cache = if u64::from(width) == TILE_WIDTH {
        IMMUTABLE
    } else {
        SHORT
    };
    match body {
        Ok(b) => answer(StatusCode::OK, BINARY, Some(cache), b),
        Err(TileError::NotInTree) => text(
            StatusCode::NOT_FOUND,
            format!("not in the tree of the latest checkpoint ({size} records)"),
        ),
        Err(e) => {
            tracing::error!("http {path}: {e}");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot read the tree".into(),
            )
        }
    }
}

/// An entry bundle: the hashes of the records of global sequence `range + 1`.
fn entries(log: &Checkpointer, index: u64, width: u16, size: u64) -> Result<Vec<u8>, TileError> {
    let range = tiles::entries_range(index, width, size)?;
    let read_err = |e: String| TileError::Read(tiles::ReadErrorText(e));
    let records = log
        .engine()
        .records_from(range.start + 1, usize::from(width))
        .map_err(|e| read_err(e.to_string()))?;
    let mut leaves = Vec::with_capacity(records.len());
    for (want, (g, bytes)) in (range.start + 1..range.end + 1).zip(&records) {
        if *g != want {
            return Err(read_err(format!("record {want} missing, found {g}")));
        }
        leaves.push(ree_tlog::Hash(ree_core::record::record_hash(bytes).0));
    }
    if leaves.len() as u64 != range.end - range.start {
        return Err(read_err(format!(
            "{} records for {width} leaves",
            leaves.len()
        )));
    }
    Ok(tiles::entries_bundle(&leaves))
}
