//! Fan-out of durable records to watchers, with bounded memory: one shared broadcast ring; a
//! watcher that falls behind it is ended (RESOURCE_EXHAUSTED) instead of buffering without bound.

use std::sync::Arc;

use ree_engine::{Committed, Observer};
use tokio::sync::broadcast;

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
