//! Reading a lot's chain without a per-record index in memory: `lotprev.idx` holds, for each
//! record `g` at `(g-1)*8`, the global sequence number of the previous record of the same lot
//! (u64 LE, 0 for a lot's genesis); in memory each lot keeps its head and every `MARK`th
//! record, so reading a window anywhere in a long chain walks back at most `MARK - 1` links
//! (8 bytes of memory per `MARK` records).

use std::collections::HashMap;

use ree_core::LotId;

use crate::{NewRecord, StoreError};

/// Every `MARK`th record of a lot remembered.
const MARK: u64 = 1024;

/// A lot's place in the log: its head, and the global sequence number of seq 0, MARK, 2*MARK, ...
#[derive(Clone, Debug, Default)]
pub(super) struct LotIdx {
    last_seq: u64,
    last_g: u64,
    marks: Vec<u64>,
}

impl LotIdx {
    pub(super) fn push(&mut self, seq: u64, g: u64) {
        if seq.is_multiple_of(MARK) {
            self.marks.push(g);
        }
        self.last_seq = seq;
        self.last_g = g;
    }

    /// The back-link the scan on open gives this lot's next record: its head, or 0 before the
    /// lot's genesis.
    pub(super) fn back_link(&self) -> u64 {
        if self.marks.is_empty() {
            0
        } else {
            self.last_g
        }
    }

    /// The nearest known (seq, gseq) at or after `seq`, to walk back from.
    fn start_at_or_after(&self, seq: u64) -> (u64, u64) {
        let k = seq.div_ceil(MARK);
        match self.marks.get(k as usize) {
            Some(g) if k * MARK <= self.last_seq => (k * MARK, *g),
            _ => (self.last_seq, self.last_g),
        }
    }

    /// Where `lot_records(from_seq, limit)` ends and the (seq, gseq) to walk back from; None
    /// when the window holds nothing.
    pub(super) fn window(&self, from_seq: u64, limit: usize) -> Option<Window> {
        if from_seq > self.last_seq || limit == 0 {
            return None;
        }
        let end = self.last_seq.min(from_seq.saturating_add(limit as u64 - 1));
        Some(Window {
            from_seq,
            end,
            start: self.start_at_or_after(end),
        })
    }
}

/// Seqs `from_seq..=end` of one lot, and the nearest known record at or after `end`.
pub(super) struct Window {
    from_seq: u64,
    end: u64,
    start: (u64, u64),
}

impl Window {
    /// The window's (seq, gseq) in order, walking back from its start along `back_link`
    /// (`lotprev.idx`).
    pub(super) fn walk(
        &self,
        lot: LotId,
        mut back_link: impl FnMut(u64) -> Result<u64, StoreError>,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        let mut gseqs = Vec::with_capacity((self.end - self.from_seq + 1) as usize);
        let (mut seq, mut g) = self.start;
        while seq >= self.from_seq {
            if seq <= self.end {
                gseqs.push((seq, g));
            }
            if seq == 0 {
                break;
            }
            g = back_link(g)?;
            if g == 0 {
                return Err(StoreError::Corrupt(format!(
                    "lot {lot}: the chain index ends before seq {}",
                    self.from_seq
                )));
            }
            seq -= 1;
        }
        gseqs.reverse();
        Ok(gseqs)
    }
}

/// The back-links of a batch's records, in order: the global sequence number of the previous
/// record of the same lot, in the batch or before it (0 for a lot's first record).
pub(super) fn batch_back_links(heads: &HashMap<LotId, LotIdx>, records: &[NewRecord]) -> Vec<u64> {
    let mut batch_heads: HashMap<LotId, u64> = HashMap::new();
    records
        .iter()
        .map(|r| {
            let prev = batch_heads
                .get(&r.lot)
                .copied()
                .or_else(|| heads.get(&r.lot).map(|h| h.last_g))
                .unwrap_or(0);
            batch_heads.insert(r.lot, r.global_seq);
            prev
        })
        .collect()
}
