//! The idempotency index, `idem/00.tbl` .. `idem/ff.tbl`: 256 shards by the top byte of a
//! fingerprint of the event id; each an open-addressing table of 16-byte slots (fingerprint,
//! never 0; global sequence number of the submission's first record), linear probing, at most
//! half full, grown shard by shard (so a growth rewrites 1/256 of the index). A fingerprint
//! names candidates only: the caller confirms each against the event id in the stored record.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use ree_core::EventId;

use crate::StoreError;

/// Initial capacity of each idempotency shard (slots).
const SHARD_INITIAL: u64 = 1 << 10;
/// Idempotency shards.
const SHARDS: usize = 256;

fn fingerprint(id: &EventId) -> u64 {
    let h = blake3::hash(&id.bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h.as_bytes()[..8]);
    u64::from_le_bytes(b).max(1)
}

fn shard_of(fp: u64) -> usize {
    (fp >> 56) as usize % SHARDS
}

/// One shard: a file of `capacity` 16-byte slots.
struct Table {
    file: File,
    path: PathBuf,
    capacity: u64,
    count: u64,
}

impl Table {
    fn slot(&self, i: u64) -> Result<(u64, u64), StoreError> {
        let mut b = [0u8; 16];
        self.file.read_exact_at(&mut b, i * 16)?;
        let mut f = [0u8; 8];
        let mut g = [0u8; 8];
        f.copy_from_slice(&b[..8]);
        g.copy_from_slice(&b[8..]);
        Ok((u64::from_le_bytes(f), u64::from_le_bytes(g)))
    }
    /// Every gseq stored under `fp`, in probe order.
    fn candidates(&self, fp: u64) -> Result<Vec<u64>, StoreError> {
        let mut out = vec![];
        let mut i = fp & (self.capacity - 1);
        loop {
            let (f, g) = self.slot(i)?;
            if f == 0 {
                return Ok(out);
            }
            if f == fp {
                out.push(g);
            }
            i = (i + 1) & (self.capacity - 1);
        }
    }
    fn insert_raw(&mut self, fp: u64, gseq: u64) -> Result<(), StoreError> {
        let mut i = fp & (self.capacity - 1);
        loop {
            let (f, _) = self.slot(i)?;
            if f == 0 {
                let mut b = [0u8; 16];
                b[..8].copy_from_slice(&fp.to_le_bytes());
                b[8..].copy_from_slice(&gseq.to_le_bytes());
                self.file.write_all_at(&b, i * 16)?;
                self.count += 1;
                return Ok(());
            }
            i = (i + 1) & (self.capacity - 1);
        }
    }
    fn insert(&mut self, fp: u64, gseq: u64) -> Result<(), StoreError> {
        if (self.count + 1) * 2 > self.capacity {
            self.grow()?;
        }
        self.insert_raw(fp, gseq)
    }
    /// Doubles the table: rebuilt in memory (one shard: small), written once, renamed over.
    fn grow(&mut self) -> Result<(), StoreError> {
        let mut all = vec![0u8; (self.capacity * 16) as usize];
        self.file.read_exact_at(&mut all, 0)?;
        let entries: Vec<(u64, u64)> = all
            .chunks_exact(16)
            .filter_map(|c| {
                let f = u64::from_le_bytes(c[..8].try_into().ok()?);
                let g = u64::from_le_bytes(c[8..].try_into().ok()?);
                (f != 0).then_some((f, g))
            })
            .collect();
        drop(all);
        *self = Table::build(&self.path, &entries, self.capacity * 2)?;
        Ok(())
    }

    /// A table holding `entries`, at least `min_capacity` slots and at most half full, built in
    /// memory and written in one go (to a temporary file renamed over `path`).
    fn build(path: &Path, entries: &[(u64, u64)], min_capacity: u64) -> Result<Table, StoreError> {
        let capacity = (entries.len() as u64 * 2 + 2)
            .next_power_of_two()
            .max(min_capacity);
        let mut t = vec![0u8; (capacity * 16) as usize];
        for (fp, g) in entries {
            let mut i = fp & (capacity - 1);
            loop {
                let at = (i * 16) as usize;
                if t[at..at + 8] == [0u8; 8] {
                    t[at..at + 8].copy_from_slice(&fp.to_le_bytes());
                    t[at + 8..at + 16].copy_from_slice(&g.to_le_bytes());
                    break;
                }
                i = (i + 1) & (capacity - 1);
            }
        }
        let tmp = path.with_extension("tbl.new");
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?
            .write_all(&t)?;
        std::fs::rename(&tmp, path)?;
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Table {
            file,
            path: path.to_path_buf(),
            capacity,
            count: entries.len() as u64,
        })
    }
}

/// Entries gathered by the scan on open, bucketed by shard, for [`Shards::build`].
pub(super) struct ShardEntries(Vec<Vec<(u64, u64)>>);

impl ShardEntries {
    pub(super) fn new() -> Self {
        ShardEntries(vec![Vec::new(); SHARDS])
    }
    /// Remembers that the submission `id` starts at `gseq`.
    pub(super) fn push(&mut self, id: &EventId, gseq: u64) {
        let fp = fingerprint(id);
        self.0[shard_of(fp)].push((fp, gseq));
    }
}

/// The idempotency index: `SHARDS` tables by the fingerprint's top byte.
pub(super) struct Shards(Vec<Table>);

impl Shards {
    /// Builds every shard in `dir` from `entries`, consuming them shard by shard.
    pub(super) fn build(dir: &Path, entries: ShardEntries) -> Result<Shards, StoreError> {
        crate::perms::create_private_dir(dir)?;
        let mut per_shard = entries.0;
        let mut v = Vec::with_capacity(SHARDS);
        for (i, entries) in per_shard.iter_mut().enumerate() {
            let e = std::mem::take(entries);
            v.push(Table::build(
                &dir.join(format!("{i:02x}.tbl")),
                &e,
                SHARD_INITIAL,
            )?);
        }
        Ok(Shards(v))
    }
    /// Remembers that the submission `id` starts at `gseq`.
    pub(super) fn insert(&mut self, id: &EventId, gseq: u64) -> Result<(), StoreError> {
        let fp = fingerprint(id);
        self.0[shard_of(fp)].insert(fp, gseq)
    }
    /// Where submissions whose id shares `id`'s fingerprint start: to confirm against the
    /// records.
    pub(super) fn candidates(&self, id: &EventId) -> Result<Vec<u64>, StoreError> {
        let fp = fingerprint(id);
        self.0[shard_of(fp)].candidates(fp)
    }
    pub(super) fn count(&self) -> u64 {
        self.0.iter().map(|s| s.count).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idempotency_table_grows_and_keeps_every_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Table::build(&dir.path().join("t"), &[], 4).unwrap();
        for i in 1..=1000u64 {
            t.insert(i * 7919, i).unwrap();
        }
        assert!(t.capacity >= 2000);
        for i in 1..=1000u64 {
            assert_eq!(t.candidates(i * 7919).unwrap(), vec![i]);
        }
        assert!(t.candidates(3).unwrap().is_empty());
    }
}
