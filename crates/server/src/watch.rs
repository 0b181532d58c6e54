//! Fan-out of durable records to watchers, with bounded memory: one shared broadcast ring; a
//! watcher that falls behind it is ended (RESOURCE_EXHAUSTED) instead of buffering without bound.

use std::sync::Arc;

use ree_core::LotId;
use ree_engine::{Committed, Engine, Observer};
use ree_proto::v1 as pb;
use tokio::sync::{broadcast, mpsc};
use tonic::Status;

use crate::limits::WatchPermit;
use ree_proto::convert;

/// Groups of committed records kept for watchers that are momentarily behind.
pub const WATCH_RING: usize = 1024;

#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<Arc<Vec<Committed>>>,
}

impl Hub {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(WATCH_RING);
        Hub { tx }
    }
    /// The engine-side hook: called after every durable group.
    pub fn observer(&self) -> Observer {
        let tx = self.tx.clone();
        Box::new(move |c: &[Committed]| {
            // No receivers is fine: nobody is watching.
            let _ = tx.send(Arc::new(c.to_vec()));
        })
    }
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Vec<Committed>>> {
        self.tx.subscribe()
    }
}

/// One Watch stream's task: history first, then live records of its lot. It ends as soon as its
/// client goes (the receiver dropped), even if no record ever lands on the lot again, and its
/// [`WatchPermit`] then frees the caller's place.
pub struct Watch {
    pub engine: Arc<Engine>,
    pub closing: tokio::sync::watch::Receiver<bool>,
    pub live: broadcast::Receiver<Arc<Vec<Committed>>>,
    pub tx: mpsc::Sender<Result<pb::Event, Status>>,
    pub lot: LotId,
    pub next: u64,
    pub _permit: WatchPermit,
}

/// What woke a live watcher.
enum Wake {
    Group(Result<Arc<Vec<Committed>>, broadcast::error::RecvError>),
    Closing,
    ClientGone,
}

impl Watch {
    pub async fn run(mut self) {
        if self.history().await.is_err() {
            return;
        }
        loop {
            let wake = tokio::select! {
                g = self.live.recv() => Wake::Group(g),
                _ = closed(self.closing.clone()) => Wake::Closing,
                _ = self.tx.closed() => Wake::ClientGone,
            };
            let next = self.next;
            let r = match wake {
                Wake::ClientGone => return,
                Wake::Closing => Err(Status::unavailable(format!(
                    "server shutting down; resume with from_seq={next}"
                ))),
                Wake::Group(Ok(group)) => self.forward(&group).await,
                Wake::Group(Err(broadcast::error::RecvError::Lagged(n))) => Err(Status::resource_exhausted(format!(
                    "watcher fell {n} commit groups behind and was disconnected; resume with from_seq={next}"
                ))),
                Wake::Group(Err(broadcast::error::RecvError::Closed)) => return,
            };
            if let Err(st) = r {
                // Gone is gone; a status is sent only to a client still there.
                if st.code() != tonic::Code::Cancelled {
                    let _ = self.tx.send(Err(st)).await;
                }
                return;
            }
        }
    }

    /// The lot's records up to its head as of now, page by page. Err: the stream is over.
    async fn history(&mut self) -> Result<(), ()> {
        loop {
            let (e2, id, from) = (self.engine.clone(), self.lot, self.next);
            let page =
                match tokio::task::spawn_blocking(move || e2.lot_records(id, from, 1000)).await {
                    Ok(Ok(p)) => p,
                    Ok(Err(e)) => {
                        tracing::error!("{e}");
                        let _ = self
                            .tx
                            .send(Err(Status::internal(format!("store: {e}"))))
                            .await;
                        return Err(());
                    }
                    Err(e) => {
                        let _ = self.tx.send(Err(Status::internal(e.to_string()))).await;
                        return Err(());
                    }
                };
            if page.is_empty() {
                return Ok(());
            }
            for r in &page {
                let ev = convert::event_pb(&r.record, &r.bytes, r.hash);
                self.tx.send(Ok(ev)).await.map_err(|_| ())?;
                self.next = r.record.seq + 1;
            }
        }
    }

    /// Sends the group's records of this lot. Err(CANCELLED): the client went.
    async fn forward(&mut self, group: &[Committed]) -> Result<(), Status> {
        for c in group {
            if c.lot != self.lot || c.seq < self.next {
                continue;
            }
            if c.seq != self.next {
                // Cannot happen when subscribed first; refuse to send a gap.
                return Err(Status::internal(format!(
                    "watch gap at seq {}; resume from it",
                    self.next
                )));
            }
            let rec = ree_core::Record::decode(&c.bytes)
                .map_err(|e| Status::internal(format!("stored record undecodable: {e}")))?;
            self.tx
                .send(Ok(convert::event_pb(&rec, &c.bytes, c.hash)))
                .await
                .map_err(|_| Status::cancelled("client gone"))?;
            self.next += 1;
        }
        Ok(())
    }
}

/// Resolves once the server starts closing (or its signal is gone).
async fn closed(mut closing: tokio::sync::watch::Receiver<bool>) {
    while !*closing.borrow_and_update() {
        if closing.changed().await.is_err() {
            return;
        }
    }
}
