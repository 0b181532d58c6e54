//! The committed ledger and the staged overlay a submission is checked in: both replay records
//! through [`super::apply_record`], so accepting and replaying are the same code.

use std::collections::HashMap;

use super::apply_record;
use super::campaign::{open_campaign, CampaignUse};
use super::lot::{LotState, LotView};
use crate::error::{DecodeError, FieldError, RuleError};
use crate::event::{EventBody, EventKind};
use crate::ids::{Hash32, LotId, REGISTRY_LOT};
use crate::record::{record_hash, Link, Record, Signature};
use crate::time::UtcMicros;

/// Every lot's state and the next global sequence number.
#[derive(Default, Clone, Debug)]
pub struct LedgerState {
    pub(super) lots: HashMap<LotId, LotState>,
    /// The global sequence number the next record takes (starts at 1).
    next_global_seq: u64,
}

impl LotView for LedgerState {
    fn lot(&self, id: &LotId) -> Option<&LotState> {
        self.lots.get(id)
    }
}

impl LedgerState {
    /// An empty ledger.
    pub fn new() -> Self {
        LedgerState {
            lots: HashMap::new(),
            next_global_seq: 1,
        }
    }
    /// Global sequence number of the next record.
    pub fn next_global_seq(&self) -> u64 {
        self.next_global_seq.max(1)
    }
    /// All lots (unordered).
    pub fn lots(&self) -> impl Iterator<Item = &LotState> {
        self.lots.values()
    }
    /// Number of lots.
    pub fn lot_count(&self) -> usize {
        self.lots.len()
    }
    /// Applies what a [`Staged`] overlay produced. Call only after the records are durable.
    pub fn commit(&mut self, changes: Changes) {
        self.lots.extend(changes.lots);
        self.next_global_seq = changes.next_global_seq;
    }
    /// Replays one stored record (opening a store, verifying a bundle): checks its hash position
    /// in the global order and every rule, then applies it.
    pub fn replay(&mut self, rec: &Record, bytes: &[u8]) -> Result<Hash32, ReplayError> {
        if rec.global_seq != self.next_global_seq() {
            return Err(ReplayError::Order {
                expected: self.next_global_seq(),
                found: rec.global_seq,
            });
        }
        self.apply_stored(rec, bytes)
    }

    /// Applies one stored record whose global position the caller has checked (a bundle holds
    /// only part of the global order, so its sequence numbers have gaps).
    pub fn apply_stored(&mut self, rec: &Record, bytes: &[u8]) -> Result<Hash32, ReplayError> {
        let hash = record_hash(bytes);
        let body = EventBody::decode(&rec.body).map_err(ReplayError::Body)?;
        // The stateless rules too: what was valid when it was recorded is valid now.
        body.validate(rec.recorded_at)
            .map_err(ReplayError::Invalid)?;
        let st = apply_record(self, rec, hash, &body).map_err(ReplayError::Rule)?;
        self.lots.insert(st.id, st);
        self.next_global_seq = rec.global_seq.saturating_add(1);
        Ok(hash)
    }
}

impl LedgerState {
    /// Moves a lot's head on by one record known only by its hash (a proof bundle's withheld
    /// registry record): no rule applies to it; the caller checked its `seq` and `prev`.
    /// False if the lot does not exist.
    pub fn advance_unseen(&mut self, lot: &LotId, hash: Hash32) -> bool {
        let Some(l) = self.lots.get_mut(lot) else {
            return false;
        };
        l.next_seq += 1;
        l.head = hash;
        true
    }
}

/// Why a stored record could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("global sequence: expected {expected}, found {found}")]
    Order { expected: u64, found: u64 },
    #[error("{0}")]
    Body(DecodeError),
    #[error("{0}")]
    Invalid(FieldError),
    #[error("{0}")]
    Rule(RuleError),
}

/// Lot states changed by a staged submission, ready to [`LedgerState::commit`].
#[derive(Default, Debug)]
pub struct Changes {
    lots: HashMap<LotId, LotState>,
    next_global_seq: u64,
}

/// A record built by [`Staged::append`]: the decoded record, its stored bytes and their hash.
#[derive(Clone, Debug)]
pub struct Appended {
    pub record: Record,
    pub bytes: Vec<u8>,
    pub hash: Hash32,
}

/// Uncommitted changes layered over a [`LotView`]. Dropping it discards them, which is how a
/// rejected submission leaves no trace.
pub struct Staged<'a> {
    base: &'a dyn LotView,
    changes: Changes,
}

impl LotView for Staged<'_> {
    fn lot(&self, id: &LotId) -> Option<&LotState> {
        self.changes.lots.get(id).or_else(|| self.base.lot(id))
    }
}

impl<'a> Staged<'a> {
    /// A fresh overlay whose next record takes `next_global_seq`.
    pub fn new(base: &'a dyn LotView, next_global_seq: u64) -> Self {
        Staged {
            base,
            changes: Changes {
                lots: HashMap::new(),
                next_global_seq,
            },
        }
    }
    /// Global sequence number the next record takes.
    pub fn next_global_seq(&self) -> u64 {
        self.changes.next_global_seq
    }
    /// Ends the overlay, returning its changes.
    pub fn into_changes(self) -> Changes {
        self.changes
    }
    /// Takes in the changes of an overlay stacked on this one.
    pub fn absorb(&mut self, c: Changes) {
        self.changes.lots.extend(c.lots);
        self.changes.next_global_seq = c.next_global_seq;
    }

    /// Turns a validated body into its records (one per lot it names), checking every rule.
    /// On error nothing in the overlay has changed... for this body only if the caller drops a
    /// nested overlay; use a fresh [`Staged`] per submission.
    pub fn append(
        &mut self,
        body_bytes: &[u8],
        body: &EventBody,
        signature: Option<Signature>,
        recorded_at: UtcMicros,
    ) -> Result<Vec<Appended>, RuleError> {
        let lots = body.kind.lots();
        // Checks on the counterpart that the first record alone cannot see.
        match &body.kind {
            EventKind::InputCharged(c) => {
                let camp = self
                    .lot(&c.campaign)
                    .ok_or(RuleError::UnknownLot(c.campaign))?;
                open_campaign(camp, CampaignUse::Charge)?;
            }
            EventKind::OutputProduced(p) if self.lot(&p.output).is_some() => {
                return Err(RuleError::LotExists(p.output));
            }
            _ => {}
        }
        let mut out = Vec::with_capacity(lots.len());
        let mut link = None;
        for lot in lots {
            let (seq, prev) = self
                .lot(&lot)
                .map_or((0, Hash32::ZERO), |l| (l.next_seq, l.head));
            let record = Record {
                lot,
                seq,
                global_seq: self.changes.next_global_seq,
                prev,
                recorded_at,
                registry: self.lot(&REGISTRY_LOT).map_or(Hash32::ZERO, |l| l.head),
                link,
                body: body_bytes.to_vec(),
                signature,
            };
            let bytes = record.encode();
            let hash = record_hash(&bytes);
            let st = apply_record(self, &record, hash, body)?;
            self.changes.lots.insert(lot, st);
            self.changes.next_global_seq += 1;
            link = Some(Link { lot, seq, hash });
            out.push(Appended {
                record,
                bytes,
                hash,
            });
        }
        Ok(out)
    }
}
