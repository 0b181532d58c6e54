//! The tree's node hashes on disk (`DATA/tree/hashes`), so the server's memory stays flat as
//! the log grows: every complete-subtree hash, 32 bytes each, in the order Go's
//! `tlog.StoredHashIndex` gives (a leaf's hash, then the parents it completes, leaf by leaf).
//! Reads are `pread`s; only the frontier (one hash per set bit of the size) is in memory.
//!
//! The file is derived data, like the stores' indexes: it is written after each group commit
//! and never synced. On open the replay recomputes every hash from the records and compares it
//! with the file, byte for byte and in order (one sequential read): from the first difference
//! (a torn or corrupted file) it is rewritten from the records; a file longer than the records
//! prove is cut. So a proof is never served from a hash the records do not give.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use ree_tlog::{Frontier, Hash, HashReader, NodeId, ReadError};

/// Go's `tlog.StoredHashIndex`: where node (`level`, `n`) is in the file, in hashes.
pub fn stored_hash_index(level: u8, n: u64) -> u64 {
    let mut n = n;
    for _ in 0..level {
        n = 2 * n + 1;
    }
    let mut i = 0u64;
    while n > 0 {
        i += n;
        n >>= 1;
    }
    i + u64::from(level)
}

/// What the open-time comparison found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileCheck {
    /// Every stored hash equals the one recomputed from the records.
    Verified { leaves: u64 },
    /// The file differed from leaf `from_leaf` on (or ended there): rewritten from the records.
    Rebuilt { from_leaf: u64, leaves: u64 },
    /// The file held `extra_bytes` past the records' hashes: cut.
    Truncated { extra_bytes: u64, leaves: u64 },
}

/// The node hashes of a tree in a file, and its frontier.
#[derive(Debug)]
pub struct FileHashes {
    file: File,
    path: PathBuf,
    frontier: Frontier,
    /// Bytes of the file that hold the hashes of every leaf so far.
    end: u64,
    /// The file's length at open: bytes from `end` up to it are still to be compared.
    unchecked: u64,
    reader: Option<BufReader<File>>,
    rebuilt_from: Option<u64>,
    /// `ree check`: compare only, never write (then reads past a difference are refused).
    read_only: bool,
    /// Bytes known to equal the records' hashes (reads beyond are refused).
    valid: u64,
}

impl FileHashes {
    /// Opens (or creates, with its directory) the file; the replay then feeds every record.
    pub fn open(path: &Path, read_only: bool) -> std::io::Result<FileHashes> {
        if !read_only {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let file = OpenOptions::new()
            .read(true)
            .write(!read_only)
            .create(!read_only)
            .truncate(false)
            .open(path)?;
        let unchecked = file.metadata()?.len();
        let reader = Some(BufReader::with_capacity(1 << 20, file.try_clone()?));
        Ok(FileHashes {
            file,
            path: path.to_owned(),
            frontier: Frontier::new(),
            end: 0,
            unchecked,
            reader,
            rebuilt_from: None,
            read_only,
            valid: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }

    /// Hashes held in memory (the frontier's): O(log size), whatever the size.
    pub fn resident_hashes(&self) -> usize {
        self.frontier.peaks().len()
    }

    /// Appends a leaf hash: compared with the file while it still holds unchecked bytes,
    /// written after them.
    pub fn push(&mut self, leaf: Hash) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(64);
        self.frontier
            .append_leaf_hash(leaf, |_, h| buf.extend_from_slice(&h.0));
        let n = buf.len() as u64;
        if self.end < self.unchecked {
            let same = self.end + n <= self.unchecked && {
                let mut got = vec![0u8; buf.len()];
                let reader = self.reader.as_mut().ok_or_else(no_reader)?;
                reader.read_exact(&mut got)?;
                got == buf
            };
            if same {
                self.end += n;
                self.valid = self.end;
                return Ok(());
            }
            self.differs()?;
        }
        if !self.read_only {
            self.file.write_all_at(&buf, self.end)?;
            self.valid = self.end + n;
        }
        self.end += n;
        Ok(())
    }

    /// The file stops matching here: nothing past `end` is trusted again.
    fn differs(&mut self) -> std::io::Result<()> {
        self.rebuilt_from = Some(self.size() - 1);
        self.unchecked = self.end;
        self.reader = None;
        if !self.read_only {
            self.file.set_len(self.end)?;
        }
        Ok(())
    }

    /// After the replay: what the comparison found; a longer file is cut to the records.
    pub fn finish_replay(&mut self) -> std::io::Result<FileCheck> {
        let leaves = self.size();
        self.reader = None;
        if let Some(from_leaf) = self.rebuilt_from {
            return Ok(FileCheck::Rebuilt { from_leaf, leaves });
        }
        if self.unchecked > self.end {
            let extra_bytes = self.unchecked - self.end;
            self.unchecked = self.end;
            if !self.read_only {
                self.file.set_len(self.end)?;
            }
            return Ok(FileCheck::Truncated {
                extra_bytes,
                leaves,
            });
        }
        Ok(FileCheck::Verified { leaves })
    }
}

fn no_reader() -> std::io::Error {
    std::io::Error::other("tree hashes: no reader after the replay")
}

impl HashReader for FileHashes {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, ReadError> {
        let size = self.size();
        ids.iter()
            .map(|&id| {
                let missing = ReadError::Missing {
                    level: id.level,
                    index: id.index,
                };
                // Complete subtrees only: (index + 1) · 2^level leaves must exist.
                let complete = id.level < 64
                    && id
                        .index
                        .checked_add(1)
                        .and_then(|i| i.checked_mul(1u64 << id.level))
                        .is_some_and(|last| last <= size);
                if !complete {
                    return Err(missing);
                }
                let at = stored_hash_index(id.level, id.index) * 32;
                if at + 32 > self.valid {
                    return Err(missing);
                }
                let mut b = [0u8; 32];
                self.file
                    .read_exact_at(&mut b, at)
                    .map_err(|e| ReadError::Backend(Box::new(e)))?;
                Ok(Hash(b))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ree_tlog::{leaf_hash, MemHashStore};

    fn leaf(i: u64) -> Hash {
        leaf_hash(&i.to_le_bytes())
    }

    fn filled(path: &Path, n: u64) -> FileHashes {
        let mut f = FileHashes::open(path, false).unwrap();
        for i in 0..n {
            f.push(leaf(i)).unwrap();
        }
        f.finish_replay().unwrap();
        f
    }

    #[test]
    fn go_stored_hash_index_values() {
        // From Go's tlog: leaves 0,1 at 0,1; their parent at 2; leaf 2 at 3; leaf 3 at 4, ...
        assert_eq!(stored_hash_index(0, 0), 0);
        assert_eq!(stored_hash_index(0, 1), 1);
        assert_eq!(stored_hash_index(1, 0), 2);
        assert_eq!(stored_hash_index(0, 2), 3);
        assert_eq!(stored_hash_index(0, 3), 4);
        assert_eq!(stored_hash_index(1, 1), 5);
        assert_eq!(stored_hash_index(2, 0), 6);
        assert_eq!(stored_hash_index(0, 4), 7);
    }

    #[test]
    fn every_complete_node_reads_back_as_the_memory_store_has_it_and_memory_stays_flat() {
        let dir = tempfile::tempdir().unwrap();
        let n = 3000;
        let f = filled(&dir.path().join("hashes"), n);
        let mut m = MemHashStore::new();
        for i in 0..n {
            m.append_leaf_hash(leaf(i));
        }
        for level in 0..12u8 {
            for index in 0..(n >> level) + 2 {
                let id = NodeId::new(level, index);
                let got = f.read_hashes(&[id]).ok().map(|v| v[0]);
                assert_eq!(got, m.get(id), "{id:?}");
            }
        }
        assert!(f.resident_hashes() <= 64, "only the frontier is in memory");
        assert_eq!(f.resident_hashes(), n.count_ones() as usize);
    }

    #[test]
    fn a_reopened_file_is_verified_a_corrupted_one_rebuilt_a_longer_one_cut() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tree/hashes");
        let good = filled(&p, 1000);
        let root = good.frontier().root();
        let bytes = std::fs::read(&p).unwrap();
        drop(good);
        let mut f = FileHashes::open(&p, false).unwrap();
        for i in 0..1000 {
            f.push(leaf(i)).unwrap();
        }
        assert_eq!(
            f.finish_replay().unwrap(),
            FileCheck::Verified { leaves: 1000 }
        );
        drop(f);
        // One flipped byte in an interior node: found, and rewritten from the records.
        let mut bad = bytes.clone();
        bad[32 * stored_hash_index(3, 20) as usize] ^= 1;
        std::fs::write(&p, &bad).unwrap();
        let ro = {
            let mut f = FileHashes::open(&p, true).unwrap();
            for i in 0..1000 {
                f.push(leaf(i)).unwrap();
            }
            f.finish_replay().unwrap()
        };
        assert!(matches!(ro, FileCheck::Rebuilt { .. }), "{ro:?}");
        assert_eq!(std::fs::read(&p).unwrap(), bad, "read-only never writes");
        let mut f = FileHashes::open(&p, false).unwrap();
        for i in 0..1000 {
            f.push(leaf(i)).unwrap();
        }
        assert!(matches!(
            f.finish_replay().unwrap(),
            FileCheck::Rebuilt { .. }
        ));
        assert_eq!(f.frontier().root(), root);
        drop(f);
        assert_eq!(std::fs::read(&p).unwrap(), bytes);
        // Torn (cut mid-hash) and longer than the records (a file of another history).
        std::fs::write(&p, &bytes[..bytes.len() - 40]).unwrap();
        let mut f = FileHashes::open(&p, false).unwrap();
        for i in 0..1000 {
            f.push(leaf(i)).unwrap();
        }
        assert!(matches!(
            f.finish_replay().unwrap(),
            FileCheck::Rebuilt { .. }
        ));
        drop(f);
        assert_eq!(std::fs::read(&p).unwrap(), bytes);
        let mut f = FileHashes::open(&p, false).unwrap();
        for i in 0..900 {
            f.push(leaf(i)).unwrap();
        }
        assert!(matches!(
            f.finish_replay().unwrap(),
            FileCheck::Truncated { leaves: 900, .. }
        ));
        let shorter = filled(&dir.path().join("other"), 900);
        drop(shorter);
        assert_eq!(
            std::fs::read(&p).unwrap(),
            std::fs::read(dir.path().join("other")).unwrap()
        );
    }
}
