//! The accept loop: a cap on open connections, a deadline for a connection's first bytes, and
//! accept errors (EMFILE at the descriptor limit) backed off instead of spun on.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// Pause after a failed accept: at the descriptor limit, retrying at once spins a core.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// At most one log line per this interval for repeated accept errors or refused connections.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// An accepted connection holding its place under the cap until dropped; until it has sent a
/// byte, reads fail after the handshake deadline so a silent peer cannot hold the place.
pub struct Conn {
    io: TcpStream,
    info: TcpConnectInfo,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    _permit: OwnedSemaphorePermit,
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;
    fn connect_info(&self) -> TcpConnectInfo {
        self.info.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        let Some(d) = self.deadline.as_mut() else {
            return r;
        };
        match r {
            Poll::Ready(Ok(())) if buf.filled().len() > before => self.deadline = None,
            Poll::Pending if d.as_mut().poll(cx).is_ready() => {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no bytes before the handshake timeout",
                )));
            }
            _ => {}
        }
        r
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Logs at most once per [`LOG_EVERY`], counting what it held back.
struct Throttled {
    last: Option<Instant>,
    held: u64,
}

impl Throttled {
    fn warn(&mut self, what: &str, detail: &dyn std::fmt::Display) {
        let now = Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < LOG_EVERY) {
            self.held += 1;
            return;
        }
        tracing::warn!(suppressed = self.held, "{what}: {detail}");
        self.last = Some(now);
        self.held = 0;
    }
}

/// Accepts connections into a stream for tonic, at most `max` open at once. A connection past
/// the cap is closed on accept (health stays answerable once a place frees, and the backlog
/// never fills with peers waiting for nothing).
pub fn incoming(
    listener: TcpListener,
    max: usize,
    handshake: Duration,
) -> tokio_stream::wrappers::ReceiverStream<io::Result<Conn>> {
    let (tx, rx) = mpsc::channel(16);
    let places = Arc::new(Semaphore::new(max.max(1)));
    tokio::spawn(async move {
        let (mut errs, mut refused) = (
            Throttled {
                last: None,
                held: 0,
            },
            Throttled {
                last: None,
                held: 0,
            },
        );
        loop {
            let (io, peer) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        errs.warn("accept failed; backing off", &e);
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                },
                _ = tx.closed() => return,
            };
            let Ok(permit) = places.clone().try_acquire_owned() else {
                refused.warn("connection cap reached; closing new connection", &peer);
                drop(io);
                continue;
            };
            let _ = io.set_nodelay(true);
            let info = TcpConnectInfo {
                local_addr: io.local_addr().ok(),
                remote_addr: Some(peer),
            };
            let conn = Conn {
                io,
                info,
                deadline: Some(Box::pin(tokio::time::sleep(handshake))),
                _permit: permit,
            };
            if tx.send(Ok(conn)).await.is_err() {
                return;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}
