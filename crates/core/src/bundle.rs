//! The proof bundle: a lot's records and those of every lot upstream of it, self-contained
//! (docs/format.md, "Bundle"). Encoding, decoding, and which registry records a bundle discloses;
//! checking is `ree-verifier`'s job.
//!
//! A bundle discloses only the participant registry records its verifier needs: the genesis,
//! every record about an administrator, and every record about a participant whose key signed
//! any record of the bundle. The others are **withheld**: carried as (seq, prev, hash) only, so
//! the registry's hash chain (which every record names) still runs unbroken, while the names,
//! keys and token hashes of participants who have nothing to do with the lot stay private.

use std::collections::HashSet;

use crate::codec::{Reader, Writer};
use crate::error::DecodeError;
use crate::event::{EventBody, EventKind, Role};
use crate::ids::{FacilityId, Hash32, LotId, ParticipantId};
use crate::record::{record_hash, Record};
use crate::registry::REGISTRY_LOT;

/// First bytes of every bundle file.
pub const BUNDLE_MAGIC: &[u8; 8] = b"REEBNDL\0";
/// Bundle format version this build writes (it reads 1 and 2).
pub const BUNDLE_VERSION: u16 = 2;
/// Most entries one bundle may hold (bounds memory when reading hostile files).
pub const MAX_BUNDLE_RECORDS: u32 = 10_000_000;
/// Smallest possible entry, used to bound allocations before reading.
const MIN_ENTRY_LEN: usize = 73;
/// Version 2 entry tags.
const TAG_RECORD: u8 = 1;
const TAG_WITHHELD: u8 = 2;

/// A registry record carried by its hash only. `prev` and `hash` tie it into the registry's
/// chain: the verifier checks `prev` against the registry head and moves the head to `hash`;
/// the next record (any lot: its `registry` field; the registry: its `prev`) must name it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Withheld {
    /// How many full records precede it in the bundle (its place in global order).
    pub pos: usize,
    /// Its `seq` in the registry's chain.
    pub seq: u64,
    /// Its `prev` field: the hash of the registry record before it.
    pub prev: Hash32,
    /// Its record hash.
    pub hash: Hash32,
}

/// One entry of a bundle, in order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Entry<'a> {
    /// A record's exact stored bytes.
    Record(&'a [u8]),
    /// A registry record withheld.
    Withheld(&'a Withheld),
}

/// A decoded bundle. Records are the exact stored bytes, in global order; withheld registry
/// records sit between them at their `pos`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Bundle {
    pub lot: LotId,
    pub head_seq: u64,
    pub head: Hash32,
    pub records: Vec<Vec<u8>>,
    /// Sorted by `pos`; a `pos` beyond the records puts the entry at the end.
    pub withheld: Vec<Withheld>,
}

impl Bundle {
    /// Every entry in bundle order.
    pub fn entries(&self) -> Vec<Entry<'_>> {
        let mut out = Vec::with_capacity(self.records.len() + self.withheld.len());
        let mut w = self.withheld.iter().peekable();
        for (i, r) in self.records.iter().enumerate() {
            while let Some(x) = w.next_if(|x| x.pos <= i) {
                out.push(Entry::Withheld(x));
            }
            out.push(Entry::Record(r));
        }
        out.extend(w.map(Entry::Withheld));
        out
    }

    /// The file's bytes (version 2).
    pub fn encode(&self) -> Vec<u8> {
        let size: usize = self.records.iter().map(|r| r.len() + 5).sum();
        let mut w = Writer::with_capacity(70 + size + self.withheld.len() * MIN_ENTRY_LEN);
        w.raw(BUNDLE_MAGIC);
        w.u16(BUNDLE_VERSION);
        w.raw(&self.lot.bytes());
        w.u64(self.head_seq);
        w.raw(&self.head.0);
        w.u32((self.records.len() + self.withheld.len()) as u32);
        for e in self.entries() {
            match e {
                Entry::Record(r) => {
                    w.u8(TAG_RECORD);
                    w.u32(r.len() as u32);
                    w.raw(r);
                }
                Entry::Withheld(x) => {
                    w.u8(TAG_WITHHELD);
                    w.u64(x.seq);
                    w.raw(&x.prev.0);
                    w.raw(&x.hash.0);
                }
            }
        }
        w.buf
    }

    /// Parses a file (version 1 or 2); any deviation from the layout is an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Bundle, DecodeError> {
        let mut r = Reader::new(bytes, "bundle");
        if r.array::<8>().ok().as_ref() != Some(BUNDLE_MAGIC) {
            return Err(DecodeError {
                what: "bundle",
                offset: 0,
                reason: "not a ree-ledger bundle (bad magic)".into(),
            });
        }
        let v = r.u16()?;
        if v != 1 && v != BUNDLE_VERSION {
            return Err(r.err(format!(
                "bundle version {v} is not supported (this build reads 1 and {BUNDLE_VERSION})"
            )));
        }
        let lot = LotId(uuid::Uuid::from_bytes(r.array()?));
        let head_seq = r.u64()?;
        let head = Hash32(r.array()?);
        let n = r.u32()?;
        if n > MAX_BUNDLE_RECORDS {
            return Err(r.err(format!(
                "{n} records exceeds the limit of {MAX_BUNDLE_RECORDS}"
            )));
        }
        let mut b = Bundle {
            lot,
            head_seq,
            head,
            records: Vec::with_capacity((n as usize).min(r.remaining() / MIN_ENTRY_LEN)),
            withheld: vec![],
        };
        for i in 0..n {
            let tag = if v == 1 { TAG_RECORD } else { r.u8()? };
            match tag {
                TAG_RECORD => {
                    let len = r.u32()? as usize;
                    let rec = r.take(len).map_err(|e| DecodeError {
                        reason: format!("entry {i}: {}", e.reason),
                        ..e
                    })?;
                    b.records.push(rec.to_vec());
                }
                TAG_WITHHELD => b.withheld.push(Withheld {
                    pos: b.records.len(),
                    seq: r.u64()?,
                    prev: Hash32(r.array()?),
                    hash: Hash32(r.array()?),
                }),
                t => return Err(r.err(format!("entry {i}: unknown entry tag {t}"))),
            }
        }
        r.finish()?;
        Ok(b)
    }

    /// The bundle of `records` (the whole closure, in global order), withholding every registry
    /// record that is not the genesis and is about neither an administrator nor a participant
    /// whose key signed one of `records`. Withheld records after the last disclosed one are
    /// dropped: nothing in the bundle would commit to their hashes.
    pub fn disclosing(
        lot: LotId,
        head_seq: u64,
        head: Hash32,
        records: &[(&Record, &[u8])],
    ) -> Bundle {
        // The registry's own bundle is the registry: nothing of it is withheld.
        let needed = (lot != REGISTRY_LOT).then(|| {
            let p = needed_participants(records);
            let f = unneeded_facilities(records, &p);
            (p, f)
        });
        let mut b = Bundle {
            lot,
            head_seq,
            head,
            records: Vec::with_capacity(records.len()),
            withheld: vec![],
        };
        for (rec, bytes) in records {
            if needed
                .as_ref()
                .is_some_and(|(p, f)| withholdable(rec, p, f))
            {
                b.withheld.push(Withheld {
                    pos: b.records.len(),
                    seq: rec.seq,
                    prev: rec.prev,
                    hash: record_hash(bytes),
                });
            } else {
                b.records.push(bytes.to_vec());
            }
        }
        let n = b.records.len();
        b.withheld.retain(|w| w.pos < n);
        b
    }

    /// How many registry records the bundle withholds.
    pub fn withheld_count(&self) -> usize {
        self.withheld.len()
    }
}

/// Administrators, and the participants whose keys sign (or countersign) any of `records`. Registry records are
/// signed by administrators, all of whom are included, so this is already a fixpoint; including
/// every administrator also keeps the "last active administrator" rules exact on replay.
fn needed_participants(records: &[(&Record, &[u8])]) -> HashSet<ParticipantId> {
    let mut keys: HashSet<[u8; 32]> = records
        .iter()
        .filter_map(|(r, _)| r.signature.map(|s| s.public_key))
        .collect();
    // An auditor who countersigned an adjustment must be disclosed too: the rule checks its key.
    // Byte 1 of a body is its kind code; 9 is an adjustment (docs/format.md, "Event body").
    for (rec, _) in records.iter().filter(|(r, _)| r.body.get(1) == Some(&9)) {
        if let Ok(EventKind::Adjustment(a)) = EventBody::decode(&rec.body).map(|b| b.kind) {
            keys.extend(a.countersignature.map(|c| c.public_key));
        }
    }
    let mut needed = HashSet::new();
    for (rec, _) in records.iter().filter(|(r, _)| r.lot == REGISTRY_LOT) {
        match EventBody::decode(&rec.body).map(|b| b.kind) {
            Ok(EventKind::ParticipantRegistered(e))
                if e.role == Role::Administrator || keys.contains(&e.public_key) =>
            {
                needed.insert(e.participant);
            }
            Ok(EventKind::KeyAdded(e)) if keys.contains(&e.public_key) => {
                needed.insert(e.participant);
            }
            _ => {}
        }
    }
    needed
}

/// Facilities operated by participants the bundle withholds: their registration and
/// certifications are withheld with them (no disclosed record can name them, since only a
/// facility's operator may).
fn unneeded_facilities(
    records: &[(&Record, &[u8])],
    needed: &HashSet<ParticipantId>,
) -> HashSet<FacilityId> {
    records
        .iter()
        .filter(|(r, _)| r.lot == REGISTRY_LOT)
        .filter_map(
            |(rec, _)| match EventBody::decode(&rec.body).map(|b| b.kind) {
                Ok(EventKind::FacilityRegistered(e)) if !needed.contains(&e.operator) => {
                    Some(e.facility)
                }
                _ => None,
            },
        )
        .collect()
}

/// A registry record (not the genesis) whose subject is not needed. Anything undecodable is
/// disclosed: withholding is only ever for records known to be irrelevant.
fn withholdable(
    rec: &Record,
    needed: &HashSet<ParticipantId>,
    facilities: &HashSet<FacilityId>,
) -> bool {
    if rec.lot != REGISTRY_LOT || rec.seq == 0 {
        return false;
    }
    let subject = match EventBody::decode(&rec.body).map(|b| b.kind) {
        Ok(EventKind::ParticipantRegistered(e)) => e.participant,
        Ok(EventKind::KeyAdded(e)) => e.participant,
        Ok(EventKind::KeyRevoked(e)) => e.participant,
        Ok(EventKind::ParticipantSuspended(e)) => e.participant,
        Ok(EventKind::TokenIssued(e)) => e.participant,
        Ok(EventKind::FacilityRegistered(e)) => return facilities.contains(&e.facility),
        Ok(EventKind::CertificationGranted(e)) => return facilities.contains(&e.facility),
        Ok(EventKind::CertificationSuspended(e)) => return facilities.contains(&e.0.facility),
        Ok(EventKind::CertificationWithdrawn(e)) => return facilities.contains(&e.0.facility),
        Ok(EventKind::FacilityClosed(e)) => return facilities.contains(&e.facility),
        _ => return false,
    };
    !needed.contains(&subject)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::country::Country;
    use crate::event::{Composition, OreReceipt};
    use crate::ids::EventId;
    use crate::state::{LedgerState, LotView, Staged};
    use crate::testkit::Team;
    use crate::time::UtcMicros;

    const NOW: UtcMicros = UtcMicros(1_760_000_000_000_000);

    /// The team's registry, then one ore receipt by `team.supplier`: (records, ore lot, state).
    fn ledger() -> (Vec<(Record, Vec<u8>)>, LotId, LedgerState, Team) {
        let t = Team::new(5);
        let mut st = LedgerState::new();
        let mut out = vec![];
        let lot = LotId::new_v7();
        let ore = EventBody {
            event_id: EventId::new_v7(),
            occurred_at: NOW,
            expected_head: None,
            kind: EventKind::OreReceipt(OreReceipt {
                facility: crate::testkit::mine(Country::parse("AU").expect("AU")),
                lot,
                supplier: "s".into(),
                mine_site: "m".into(),
                country: Country::parse("AU").expect("AU"),
                mass_g: 10,
                reo_grade_ppm: 1,
                assay: Composition::default(),
                documents: vec![],
            }),
        };
        let mut events = t.registry_events(NOW);
        let bytes = ore.encode().unwrap();
        events.push((bytes.clone(), t.supplier.sign(&bytes)));
        for (bytes, sig) in events {
            let body = EventBody::decode(&bytes).expect("body");
            let mut s = Staged::new(&st, st.next_global_seq());
            let a = s.append(&bytes, &body, Some(sig), NOW).expect("accepted");
            let c = s.into_changes();
            st.commit(c);
            out.extend(a.into_iter().map(|a| (a.record, a.bytes)));
        }
        (out, lot, st, t)
    }

    fn disclose(recs: &[(Record, Vec<u8>)], lot: LotId, st: &LedgerState) -> Bundle {
        let l = st.lot(&lot).expect("lot");
        let refs: Vec<(&Record, &[u8])> = recs.iter().map(|(r, b)| (r, b.as_slice())).collect();
        Bundle::disclosing(lot, l.head_seq(), l.head, &refs)
    }

    #[test]
    fn a_suppliers_bundle_withholds_everyone_else_and_round_trips() {
        let (recs, lot, st, t) = ledger();
        let b = disclose(&recs, lot, &st);
        // The administrator's and the supplier's registrations, the supplier's mines, and the
        // receipt.
        let sites = crate::testkit::SITE_COUNTRIES.len();
        assert_eq!(b.records.len(), 3 + sites);
        assert_eq!(
            b.withheld_count(),
            6 + 3 * sites + 2,
            "supplier2, recycler, plant, customer, auditor, lab; their sites; the lab's certificate"
        );
        assert!(b
            .withheld
            .iter()
            .all(|w| w.pos >= 2 && w.pos < b.records.len()));
        let bytes = b.encode();
        for m in [&t.supplier2, &t.recycler, &t.plant, &t.customer, &t.auditor] {
            let key = bytes.windows(32).any(|w| w == m.public_key);
            let name = bytes.windows(m.name.len() + 2).any(|w| {
                w[2..] == *m.name.as_bytes() && w[..2] == (m.name.len() as u16).to_le_bytes()
            });
            assert!(!key && !name, "{} is disclosed", m.name);
        }
        assert!(bytes.windows(32).any(|w| w == t.supplier.public_key));
        assert_eq!(Bundle::decode(&bytes).expect("decodes"), b);
        // The registry's own bundle withholds nothing.
        let reg = disclose(&recs[..7], REGISTRY_LOT, &st);
        assert_eq!((reg.records.len(), reg.withheld_count()), (7, 0));
    }

    #[test]
    fn version_1_still_reads_and_bad_tags_are_refused() {
        let (recs, lot, st, _) = ledger();
        let b = disclose(&recs, lot, &st);
        let mut v1 = b.encode()[..66].to_vec();
        v1[8..10].copy_from_slice(&1u16.to_le_bytes());
        v1.extend((b.records.len() as u32).to_le_bytes());
        for r in &b.records {
            v1.extend((r.len() as u32).to_le_bytes());
            v1.extend(r);
        }
        let d = Bundle::decode(&v1).expect("version 1 reads");
        assert_eq!((d.withheld_count(), d.records), (0, b.records.clone()));
        let mut bad = b.encode();
        bad[70] = 9;
        let e = Bundle::decode(&bad).expect_err("unknown tag");
        assert!(e.to_string().contains("unknown entry tag 9"), "{e}");
        let mut v3 = b.encode();
        v3[8] = 3;
        assert!(Bundle::decode(&v3).is_err());
    }
}
