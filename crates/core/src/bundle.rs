//! The proof bundle: a lot's records and those of every lot upstream of it, self-contained
//! (docs/format.md, "Bundle"). Encoding and decoding only; checking is `ree-verifier`'s job.

use crate::codec::{Reader, Writer};
use crate::error::DecodeError;
use crate::ids::{Hash32, LotId};

/// First bytes of every bundle file.
pub const BUNDLE_MAGIC: &[u8; 8] = b"REEBNDL\0";
/// Bundle format version this build writes and reads.
pub const BUNDLE_VERSION: u16 = 1;
/// Most records one bundle may hold (bounds memory when reading hostile files).
pub const MAX_BUNDLE_RECORDS: u32 = 10_000_000;
/// Smallest possible record, used to bound allocations before reading.
const MIN_RECORD_LEN: usize = 90;

/// A decoded bundle. Records are the exact stored bytes, in global order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Bundle {
    pub lot: LotId,
    pub head_seq: u64,
    pub head: Hash32,
    pub records: Vec<Vec<u8>>,
}

impl Bundle {
    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let size: usize = self.records.iter().map(|r| r.len() + 4).sum();
        let mut w = Writer::with_capacity(70 + size);
        w.raw(BUNDLE_MAGIC);
        w.u16(BUNDLE_VERSION);
        w.raw(&self.lot.bytes());
        w.u64(self.head_seq);
        w.raw(&self.head.0);
        w.u32(self.records.len() as u32);
        for r in &self.records {
            w.u32(r.len() as u32);
            w.raw(r);
        }
        w.buf
    }

    /// Parses a file; any deviation from the layout is an error, never a panic.
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
        if v != BUNDLE_VERSION {
            return Err(r.err(format!(
                "bundle version {v} is not supported (this build reads {BUNDLE_VERSION})"
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
        let mut records = Vec::with_capacity((n as usize).min(r.remaining() / MIN_RECORD_LEN));
        for i in 0..n {
            let len = r.u32()? as usize;
            let rec = r.take(len).map_err(|e| DecodeError {
                reason: format!("record {i}: {}", e.reason),
                ..e
            })?;
            records.push(rec.to_vec());
        }
        r.finish()?;
        Ok(Bundle {
            lot,
            head_seq,
            head,
            records,
        })
    }
}
