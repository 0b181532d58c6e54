//! The log store's commit superblock, `DATA/log/committed`: how far the log went when the last
//! group was acknowledged (length, record count, last record's hash), so that losing any
//! acknowledged data (a truncated or swapped `records.log`) is detected on open.
//!
//! Why a second file and a second `fdatasync` per group: the log's own commit frames prove what
//! is *in* the log, never what was cut *off* it. A superblock written in the same `fdatasync` as
//! the group (a header inside `records.log`) may reach the disk before the group's frames; after
//! a crash it would claim an unacknowledged group, indistinguishable from the truncation of an
//! acknowledged one. So the group is made durable first, then the superblock, then the answer:
//! the superblock never claims more than the log holds, and everything it claims was durable.
//!
//! Layout: two 64-byte slots at offsets 0 and 512 (separate sectors); generation `g` goes to
//! slot `g % 2` with one `pwrite` + `fdatasync`, so a torn slot write leaves the other slot (the
//! previous generation) intact. A slot: magic `REECMT\0\1` (8) · generation u64 · log length
//! u64 · records u64 · last record hash (32) ; then check u64 = first 8 bytes of BLAKE3 of those
//! 64 bytes, little-endian (the slot is 72 bytes). The valid slot with the higher generation
//! wins.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use crate::StoreError;

const MAGIC: &[u8; 8] = b"REECMT\x00\x01";
const SLOT_LEN: usize = 72;
const SLOT_AT: [u64; 2] = [0, 512];
/// The superblock's file name under `DATA/log`.
pub const FILE: &str = "committed";

/// What the last acknowledged group left behind.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Committed {
    pub generation: u64,
    /// Bytes of `records.log` up to the end of the last acknowledged commit frame.
    pub log_len: u64,
    /// Records (= last global sequence number) acknowledged.
    pub records: u64,
    /// Hash of record `records` (zeros when there is none).
    pub last_hash: [u8; 32],
}

impl Committed {
    fn encode(&self) -> [u8; SLOT_LEN] {
        let mut b = [0u8; SLOT_LEN];
        b[..8].copy_from_slice(MAGIC);
        b[8..16].copy_from_slice(&self.generation.to_le_bytes());
        b[16..24].copy_from_slice(&self.log_len.to_le_bytes());
        b[24..32].copy_from_slice(&self.records.to_le_bytes());
        b[32..64].copy_from_slice(&self.last_hash);
        let c = check(&b[..64]);
        b[64..].copy_from_slice(&c.to_le_bytes());
        b
    }

    fn decode(b: &[u8; SLOT_LEN]) -> Option<Committed> {
        let u = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]));
        if &b[..8] != MAGIC || u(64) != check(&b[..64]) {
            return None;
        }
        let mut last_hash = [0u8; 32];
        last_hash.copy_from_slice(&b[32..64]);
        Some(Committed {
            generation: u(8),
            log_len: u(16),
            records: u(24),
            last_hash,
        })
    }
}

fn check(b: &[u8]) -> u64 {
    let h = blake3::hash(b);
    let mut c = [0u8; 8];
    c.copy_from_slice(&h.as_bytes()[..8]);
    u64::from_le_bytes(c)
}

/// The superblock file, open for reading (and writing unless read-only).
pub struct Superblock {
    file: File,
    current: Committed,
}

impl Superblock {
    /// Reads `dir/committed`: Ok(None) if the file does not exist, an error if no slot is valid.
    pub fn read(dir: &Path, writable: bool) -> Result<Option<Superblock>, StoreError> {
        let path = dir.join(FILE);
        let file = match OpenOptions::new().read(true).write(writable).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let slot = |i: usize| {
            let mut b = [0u8; SLOT_LEN];
            file.read_exact_at(&mut b, SLOT_AT[i])
                .ok()
                .and_then(|_| Committed::decode(&b))
        };
        let current = match (slot(0), slot(1)) {
            (Some(a), Some(b)) => {
                if a.generation >= b.generation {
                    a
                } else {
                    b
                }
            }
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => {
                return Err(StoreError::Corrupt(format!(
                    "{} is damaged (no valid slot): cannot tell how much of records.log was acknowledged",
                    path.display()
                )))
            }
        };
        Ok(Some(Superblock { file, current }))
    }

    /// Creates (or replaces) `dir/committed` holding `c` in both slots, durably (file and
    /// directory entry).
    pub fn create(dir: &Path, c: Committed) -> Result<Superblock, StoreError> {
        let path = dir.join(FILE);
        let tmp = dir.join("committed.new");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        let b = c.encode();
        file.write_all_at(&b, SLOT_AT[0])?;
        file.write_all_at(&b, SLOT_AT[1])?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        File::open(dir)?.sync_all()?;
        Ok(Superblock { file, current: c })
    }

    /// What the superblock says was acknowledged.
    pub fn committed(&self) -> Committed {
        self.current
    }

    /// Records a newly durable group: the next generation into its slot, then `fdatasync`.
    pub fn advance(
        &mut self,
        log_len: u64,
        records: u64,
        last_hash: [u8; 32],
    ) -> Result<(), StoreError> {
        let next = Committed {
            generation: self.current.generation + 1,
            log_len,
            records,
            last_hash,
        };
        let at = SLOT_AT[(next.generation % 2) as usize];
        self.file.write_all_at(&next.encode(), at)?;
        self.file.sync_data()?;
        self.current = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_valid_slot_wins_and_a_torn_slot_falls_back_to_the_other() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Superblock::read(dir.path(), true).unwrap().is_none());
        let mut s = Superblock::create(dir.path(), Committed::default()).unwrap();
        s.advance(100, 3, [7; 32]).unwrap();
        s.advance(200, 5, [8; 32]).unwrap();
        let r = Superblock::read(dir.path(), false).unwrap().unwrap();
        assert_eq!(
            (r.committed().generation, r.committed().records),
            (2, 5),
            "generation 2 in slot 0 beats generation 1 in slot 1"
        );
        // Tear generation 2's slot: the previous generation is what was acknowledged.
        let f = OpenOptions::new()
            .write(true)
            .open(dir.path().join(FILE))
            .unwrap();
        f.write_all_at(&[0xff; 4], 20).unwrap();
        let r = Superblock::read(dir.path(), false).unwrap().unwrap();
        assert_eq!((r.committed().log_len, r.committed().records), (100, 3));
        // Both torn: refused, not guessed.
        f.write_all_at(&[0xff; 4], 512 + 20).unwrap();
        assert!(matches!(
            Superblock::read(dir.path(), false),
            Err(StoreError::Corrupt(m)) if m.contains("committed")
        ));
    }
}
