//! In-memory store for fast tests, and the model the durable stores are checked against
//! (`tests/contract.rs`): the same contract, no durability.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use ree_core::{EventId, LotId};

use crate::{Batch, IdempotencyEntry, ScanFn, Store, StoreError};

#[derive(Default)]
struct Inner {
    records: BTreeMap<u64, Vec<u8>>,
    by_lot: BTreeMap<(LotId, u64), u64>,
    idem: HashMap<EventId, IdempotencyEntry>,
}

/// A [`Store`] in a map. Failure injection: [`MemStore::fail_next_appends`].
#[derive(Default)]
pub struct MemStore {
    inner: RwLock<Inner>,
    fail: std::sync::atomic::AtomicU32,
    delay_ms: std::sync::atomic::AtomicU64,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
    /// Makes every append take `ms` milliseconds, like a slow disk, to test load shedding.
    pub fn set_append_delay_ms(&self, ms: u64) {
        self.delay_ms.store(ms, std::sync::atomic::Ordering::SeqCst);
    }
    /// Makes the next `n` appends fail with an I/O error, to test that nothing half-applies.
    pub fn fail_next_appends(&self, n: u32) {
        self.fail.store(n, std::sync::atomic::Ordering::SeqCst);
    }
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for MemStore {
    fn append(&self, batch: &Batch) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        if self
            .fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(StoreError::Io(std::io::Error::other("injected failure")));
        }
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(std::time::Duration::from_millis(delay));
        }
        let mut g = self.inner.write().unwrap_or_else(|e| e.into_inner());
        for r in &batch.records {
            g.records.insert(r.global_seq, r.bytes.clone());
            g.by_lot.insert((r.lot, r.seq), r.global_seq);
        }
        for (id, e) in &batch.idempotency {
            g.idem.insert(*id, *e);
        }
        Ok(())
    }
    fn record(&self, global_seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.read().records.get(&global_seq).cloned())
    }
    fn lot_records(
        &self,
        lot: LotId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let g = self.read();
        Ok(g.by_lot
            .range((lot, from_seq)..=(lot, u64::MAX))
            .take(limit)
            .filter_map(|((_, s), gs)| g.records.get(gs).map(|b| (*s, b.clone())))
            .collect())
    }
    fn idempotency(&self, id: EventId) -> Result<Option<IdempotencyEntry>, StoreError> {
        Ok(self.read().idem.get(&id).copied())
    }
    fn scan(&self, from: u64, f: &mut ScanFn<'_>) -> Result<(), StoreError> {
        let snapshot: Vec<(u64, Vec<u8>)> = self
            .read()
            .records
            .range(from..)
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        for (k, v) in snapshot {
            f(k, &v)?;
        }
        Ok(())
    }
    fn records(&self, from: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        Ok(self
            .read()
            .records
            .range(from..)
            .take(limit)
            .map(|(k, v)| (*k, v.clone()))
            .collect())
    }
    fn idempotency_count(&self) -> Result<u64, StoreError> {
        Ok(self.read().idem.len() as u64)
    }
    fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}
