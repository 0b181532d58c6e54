//! Issue 13's Merkle tree, kept by the engine: every stored record, registry included, is leaf
//! `global_seq - 1` of one RFC 6962 tree (SHA-256) whose leaves are the records' 32-byte hashes.
//!
//! The tree is *derived data*, like the store's indexes: it is rebuilt from the records the
//! open-time replay reads anyway, so it works for every store and a crash cannot make it lie.
//! The committer extends it after each group commit, before publishing, so that every record
//! a reader can see is already a leaf. It lives in memory (about 64 bytes per record, in
//! [`MemHashStore`]); or, for the server, in `DATA/tree/hashes` ([`crate::hashfile`]).

use std::path::Path;
use std::sync::RwLock;

use ree_core::Hash32;
use ree_tlog::tiles::TileError;
use ree_tlog::{Frontier, Hash, HashReader, MemHashStore, NodeId, ReadError, TreeError};

use crate::hashfile::{FileCheck, FileHashes};

/// Where the tree's node hashes live.
#[derive(Debug)]
enum Backing {
    Mem(MemHashStore),
    File(FileHashes),
}

impl Default for Backing {
    fn default() -> Self {
        Backing::Mem(MemHashStore::new())
    }
}

impl Backing {
    fn size(&self) -> u64 {
        match self {
            Backing::Mem(m) => m.size(),
            Backing::File(f) => f.size(),
        }
    }
}

impl HashReader for Backing {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, ReadError> {
        match self {
            Backing::Mem(m) => m.read_hashes(ids),
            Backing::File(f) => f.read_hashes(ids),
        }
    }
}

/// The engine's tree: every complete subtree hash (in memory, or in `DATA/tree/hashes`), and
/// the leaf count.
#[derive(Debug, Default)]
pub struct LogTree {
    hashes: RwLock<Backing>,
}

impl LogTree {
    /// A tree in memory (about 64 bytes a record): tests, `ree restore`, `ree check`.
    pub fn new() -> LogTree {
        LogTree::default()
    }

    /// A tree whose node hashes are in `path` (created if missing), checked against every
    /// record by the replay that follows (see [`crate::hashfile`]); `read_only` compares only.
    pub fn open_file(path: &Path, read_only: bool) -> std::io::Result<LogTree> {
        Ok(LogTree {
            hashes: RwLock::new(Backing::File(FileHashes::open(path, read_only)?)),
        })
    }

    /// Appends records' hashes as the next leaves, in global order. A file write that fails
    /// leaves the tree short of them (proofs past it are refused; a restart rebuilds it).
    pub fn extend(&self, record_hashes: impl IntoIterator<Item = Hash32>) -> std::io::Result<()> {
        let mut s = self.hashes.write().unwrap_or_else(|e| e.into_inner());
        for h in record_hashes {
            match &mut *s {
                Backing::Mem(m) => {
                    m.append(&h.0);
                }
                Backing::File(f) => f.push(ree_tlog::leaf_hash(&h.0))?,
            }
        }
        Ok(())
    }

    /// After the replay: for a file-backed tree, what comparing it with the records found.
    pub fn finish_replay(&self) -> std::io::Result<Option<FileCheck>> {
        let mut s = self.hashes.write().unwrap_or_else(|e| e.into_inner());
        match &mut *s {
            Backing::Mem(_) => Ok(None),
            Backing::File(f) => f.finish_replay().map(Some),
        }
    }

    /// Number of leaves (the global sequence number of the last record in the tree).
    pub fn size(&self) -> u64 {
        self.read().size()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Backing> {
        self.hashes.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The root of the first `size` leaves.
    pub fn root(&self, size: u64) -> Result<Hash, TreeError> {
        let s = self.read();
        check_size(size, s.size())?;
        if let Backing::File(f) = &*s {
            if size == f.size() {
                return Ok(f.frontier().root());
            }
        }
        ree_tlog::root(size, &*s)
    }

    /// The audit path of leaf `index` in the tree of `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, TreeError> {
        let s = self.read();
        check_size(size, s.size())?;
        ree_tlog::inclusion_proof(index, size, &*s)
    }

    /// One multi-proof that leaves `indices` (strictly increasing) are in the tree of `size`
    /// leaves: what a bundle version 4 carries.
    pub fn multi_proof(&self, indices: &[u64], size: u64) -> Result<Vec<Hash>, TreeError> {
        let s = self.read();
        check_size(size, s.size())?;
        ree_tlog::multi_proof(indices, size, &*s)
    }

    /// The consistency proof from `old` to `new` leaves.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, TreeError> {
        let s = self.read();
        check_size(new, s.size())?;
        ree_tlog::consistency_proof(old, new, &*s)
    }

    /// The bytes of a tlog-tiles hash tile of the tree of `size` leaves (C2SP tlog-tiles).
    pub fn tile(&self, tile: ree_tlog::tiles::Tile, size: u64) -> Result<Vec<u8>, TileError> {
        let s = self.read();
        if size > s.size() {
            return Err(TileError::NotInTree);
        }
        ree_tlog::tiles::tile_bytes(tile, size, &*s)
    }

    /// The frontier at the current size: what a checkpointer needs to sign the root.
    pub fn frontier(&self) -> Result<Frontier, TreeError> {
        let s = self.read();
        if let Backing::File(f) = &*s {
            return Ok(f.frontier().clone());
        }
        Frontier::from_reader(s.size(), &*s)
    }
}

/// A size beyond the tree is an index out of range (of the tree itself, index = size).
fn check_size(size: u64, have: u64) -> Result<(), TreeError> {
    if size > have {
        return Err(TreeError::IndexOutOfRange {
            index: size,
            size: have,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u64) -> Hash32 {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&i.to_le_bytes());
        Hash32(b)
    }

    #[test]
    fn proofs_verify_and_sizes_beyond_the_tree_are_refused() {
        let t = LogTree::new();
        t.extend((0..37).map(h)).unwrap();
        assert_eq!(t.size(), 37);
        let root = t.root(37).unwrap();
        assert_eq!(t.frontier().unwrap().root(), root);
        for i in 0..37 {
            let proof = t.inclusion_proof(i, 37).unwrap();
            ree_tlog::verify_inclusion(i, 37, &ree_tlog::leaf_hash(&h(i).0), &proof, &root)
                .unwrap();
        }
        let old = t.root(20).unwrap();
        let c = t.consistency_proof(20, 37).unwrap();
        ree_tlog::verify_consistency(20, 37, &old, &root, &c).unwrap();
        assert!(t.root(38).is_err());
        assert!(t.inclusion_proof(37, 37).is_err());
        assert!(t.consistency_proof(30, 20).is_err());
    }
}
