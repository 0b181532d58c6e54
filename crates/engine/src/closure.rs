//! The upstream closure of a lot: what a proof bundle must contain.

use std::collections::BTreeMap;

use ree_core::bundle::Bundle;
use ree_core::record::record_hash;
use ree_core::registry::REGISTRY_LOT;
use ree_core::{Hash32, LotId, LotState, Record};
use ree_store::Store;

use crate::error::EngineError;

/// Upstream lots with the (seq, hash) of the last record of each that a head commits to.
pub type UpstreamHeads = BTreeMap<LotId, (u64, Hash32)>;

/// Every chain a lot's head commits to: for each lot, its records from genesis up to the last
/// one that something downstream links to (for the lot itself: its head).
pub struct Upstream {
    pub lot: LotId,
    /// The subject's state the closure was taken at.
    pub state: LotState,
    pub head: Hash32,
    pub head_seq: u64,
    /// Per lot: (seq, bytes) from 0, contiguous.
    pub chains: BTreeMap<LotId, Vec<(Record, Vec<u8>)>>,
}

impl Upstream {
    /// Lots upstream of the subject, with the head each is committed at.
    pub fn lots(&self) -> Vec<(LotId, u64, Hash32)> {
        self.chains
            .iter()
            .filter(|(l, _)| **l != self.lot && **l != REGISTRY_LOT)
            .filter_map(|(l, c)| c.last().map(|(r, b)| (*l, r.seq, record_hash(b))))
            .collect()
    }

    /// Number of records.
    pub fn record_count(&self) -> usize {
        self.chains.values().map(Vec::len).sum()
    }

    /// The proof bundle: every record once, in global order, the participant registry's
    /// records that its verifier does not need withheld (hash only: see [`Bundle::disclosing`]).
    pub fn bundle(&self) -> Bundle {
        let mut all: Vec<(&Record, &[u8])> = self
            .chains
            .values()
            .flatten()
            .map(|(r, b)| (r, b.as_slice()))
            .collect();
        all.sort_by_key(|x| x.0.global_seq);
        Bundle::disclosing(self.lot, self.head_seq, self.head, &all)
    }
}

/// `registry_head_seq`: the participant registry's chain is included up to it, so that every
/// signer in the bundle can be checked against the registry as it was when they signed.
pub(crate) fn upstream(
    store: &dyn Store,
    st: &LotState,
    registry_head_seq: Option<u64>,
) -> Result<Upstream, EngineError> {
    let mut chains: BTreeMap<LotId, Vec<(Record, Vec<u8>)>> = BTreeMap::new();
    let mut work: Vec<(LotId, u64)> = vec![(st.id, st.head_seq())];
    if let Some(h) = registry_head_seq {
        work.push((REGISTRY_LOT, h));
    }
    while let Some((lot, upto)) = work.pop() {
        let have = chains.get(&lot).map_or(0, |c| c.len() as u64);
        if have > upto {
            continue;
        }
        let raw = store.lot_records(lot, have, (upto + 1 - have) as usize)?;
        if raw.len() as u64 != upto + 1 - have {
            return Err(EngineError::inconsistent(format!(
                "lot {lot} is missing records up to seq {upto}"
            )));
        }
        let chain = chains.entry(lot).or_default();
        for (seq, bytes) in raw {
            let rec = Record::decode(&bytes).map_err(|e| EngineError::undecodable(lot, seq, e))?;
            if let Some(l) = rec.link {
                work.push((l.lot, l.seq));
            }
            chain.push((rec, bytes));
        }
    }
    Ok(Upstream {
        lot: st.id,
        state: st.clone(),
        head: st.head,
        head_seq: st.head_seq(),
        chains,
    })
}

/// The lots a subject's head commits to, with the last record of each that it commits to, without
/// reading the chains of lots whose records never link onward (ore and recycled lots): their
/// committed head is known from the link itself. Cheaper than [`upstream`] for provenance.
pub(crate) fn upstream_heads(
    store: &dyn Store,
    st: &LotState,
    kind_of: &dyn Fn(&LotId) -> Option<ree_core::state::LotKind>,
) -> Result<UpstreamHeads, EngineError> {
    use ree_core::state::LotKind;
    let mut heads: BTreeMap<LotId, (u64, Hash32)> = BTreeMap::new();
    let mut read_upto: BTreeMap<LotId, u64> = BTreeMap::new();
    let mut work: Vec<(LotId, u64)> = vec![(st.id, st.head_seq())];
    while let Some((lot, upto)) = work.pop() {
        let from = read_upto.get(&lot).map_or(0, |s| s + 1);
        if from > upto {
            continue;
        }
        let raw = store.lot_records(lot, from, (upto + 1 - from) as usize)?;
        read_upto.insert(lot, upto);
        for (seq, bytes) in raw {
            let rec = Record::decode(&bytes).map_err(|e| EngineError::undecodable(lot, seq, e))?;
            if let Some(l) = rec.link {
                let e = heads.entry(l.lot).or_insert((l.seq, l.hash));
                if l.seq > e.0 {
                    *e = (l.seq, l.hash);
                }
                if matches!(kind_of(&l.lot), Some(LotKind::Campaign | LotKind::Oxide)) {
                    work.push((l.lot, l.seq));
                }
            }
        }
    }
    heads.remove(&st.id);
    Ok(heads)
}
