//! C2SP tlog-tiles: the tree served as static tiles of 256 hashes. Tile `(L, N)` holds the
//! stored hashes of tree level `8·L`, indices `N·256 …`; a partial tile (`.p/<W>`) holds the
//! first `W`. The levels in between are recomputed by hashing. Entry bundles
//! (`tile/entries/<N>`) hold the leaves themselves: in ree-ledger, 32-byte record hashes, each
//! prefixed by its big-endian u16 length as the spec requires.
//!
//! Server side: [`tile_bytes`] and [`entries_range`]. Client side: [`parse_path`],
//! [`tiles_for_nodes`] and [`TileHashReader`], which answers proof reads from fetched tiles so
//! the same proof code runs on both sides. Nothing read from a tile is trusted: a client checks
//! the proofs it computes against a signed checkpoint.

use crate::hash::{node_hash, Hash, HASH_LEN};
use crate::tree::{HashReader, NodeId, ReadError};
use std::collections::HashMap;

/// Tree levels per tile.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile.
pub const TILE_WIDTH: u64 = 256;

/// Why a tile path or a tile's contents was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    #[error("malformed tile path: {0}")]
    BadPath(&'static str),
    #[error("tile is not part of the tree of this size")]
    NotInTree,
    #[error("tile data has {got} bytes, expected {expected}")]
    BadLength { got: usize, expected: usize },
    #[error("malformed entry bundle")]
    BadBundle,
    #[error(transparent)]
    Read(#[from] ReadErrorText),
}

/// A hash reader's error, as text (so that `TileError` stays `Clone + PartialEq`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReadErrorText(pub String);

/// A Merkle tree tile: level `L` (tree level `8·L`), index `N`, width 1..=256.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    pub level: u8,
    pub index: u64,
    pub width: u16,
}

/// What a `tile/…` path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TilePath {
    Hashes(Tile),
    /// An entry bundle: index and width as for a level-0 tile.
    Entries {
        index: u64,
        width: u16,
    },
}

/// `N` as zero-padded 3-digit elements, all but the last prefixed by `x` (1234067 →
/// `x001/x234/067`).
pub fn encode_index(n: u64) -> String {
    let mut groups = vec![n % 1000];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(rest % 1000);
        rest /= 1000;
    }
    let last = groups.len() - 1;
    let parts: Vec<String> = groups
        .iter()
        .rev()
        .enumerate()
        .map(|(i, g)| {
            if i == last {
                format!("{g:03}")
            } else {
                format!("x{g:03}")
            }
        })
        .collect();
    parts.join("/")
}

fn suffix(width: u16) -> String {
    if u64::from(width) == TILE_WIDTH {
        String::new()
    } else {
        format!(".p/{width}")
    }
}

impl Tile {
    /// `tile/<L>/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        format!(
            "tile/{}/{}{}",
            self.level,
            encode_index(self.index),
            suffix(self.width)
        )
    }

    /// Tree level of the hashes this tile holds.
    pub fn tree_level(&self) -> u32 {
        u32::from(self.level) * u32::from(TILE_HEIGHT)
    }
}

/// `tile/entries/<N>[.p/<W>]`.
pub fn entries_path(index: u64, width: u16) -> String {
    format!("tile/entries/{}{}", encode_index(index), suffix(width))
}

fn decimal(s: &str, what: &'static str) -> Result<u64, TileError> {
    let ok =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    s.parse()
        .ok()
        .filter(|_| ok)
        .ok_or(TileError::BadPath(what))
}

/// Parses a tile or entry-bundle path (without the log's prefix). Only the canonical encoding
/// is accepted, so one tile has exactly one path.
pub fn parse_path(path: &str) -> Result<TilePath, TileError> {
    let rest = path
        .strip_prefix("tile/")
        .ok_or(TileError::BadPath("must start with tile/"))?;
    let (kind, rest) = rest.split_once('/').ok_or(TileError::BadPath("no index"))?;
    let (n, width) = match rest.split_once(".p/") {
        Some((n, w)) => {
            let w = decimal(w, "bad width")?;
            if !(1..TILE_WIDTH).contains(&w) {
                return Err(TileError::BadPath("partial width must be 1..255"));
            }
            (n, w as u16)
        }
        None => (rest, TILE_WIDTH as u16),
    };
    let mut index: u64 = 0;
    let groups: Vec<&str> = n.split('/').collect();
    for (i, g) in groups.iter().enumerate() {
        let digits = if i + 1 == groups.len() {
            Some(*g)
        } else {
            g.strip_prefix('x')
        };
        let d = digits.filter(|d| d.len() == 3 && d.bytes().all(|b| b.is_ascii_digit()));
        let d: u64 = d
            .and_then(|d| d.parse().ok())
            .ok_or(TileError::BadPath("bad index element"))?;
        index = index
            .checked_mul(1000)
            .and_then(|x| x.checked_add(d))
            .ok_or(TileError::BadPath("index too large"))?;
    }
    if encode_index(index) != n {
        return Err(TileError::BadPath("index not canonically encoded"));
    }
    if kind == "entries" {
        return Ok(TilePath::Entries { index, width });
    }
    let level = decimal(kind, "bad level")?;
    if level > 63 {
        return Err(TileError::BadPath("level above 63"));
    }
    Ok(TilePath::Hashes(Tile {
        level: level as u8,
        index,
        width,
    }))
}

/// Hashes available in tile `(level, index)` of a tree of `size` leaves (0 if none).
pub fn available_width(level: u8, index: u64, size: u64) -> u16 {
    let shift = u32::from(level) * u32::from(TILE_HEIGHT);
    if shift >= 64 {
        return 0;
    }
    let at_level = u128::from(size >> shift);
    let start = u128::from(index) * u128::from(TILE_WIDTH);
    at_level.saturating_sub(start).min(u128::from(TILE_WIDTH)) as u16
}

/// The tile's bytes (its hashes, concatenated) for a tree of `size` leaves, read from the
/// store. A partial tile may be asked for with any width up to what the tree has.
pub fn tile_bytes<R: HashReader + ?Sized>(
    tile: Tile,
    size: u64,
    r: &R,
) -> Result<Vec<u8>, TileError> {
    if tile.width == 0 || tile.width > available_width(tile.level, tile.index, size) {
        return Err(TileError::NotInTree);
    }
    let level = tile.tree_level() as u8;
    let start = tile.index * TILE_WIDTH;
    let ids: Vec<NodeId> = (0..u64::from(tile.width))
        .map(|i| NodeId::new(level, start + i))
        .collect();
    let hashes = r
        .read_hashes(&ids)
        .map_err(|e| ReadErrorText(e.to_string()))?;
    if hashes.len() != ids.len() {
        return Err(
            ReadErrorText(format!("{} hashes for {} nodes", hashes.len(), ids.len())).into(),
        );
    }
    Ok(hashes.iter().flat_map(|h| h.0).collect())
}

/// The leaf indices an entry bundle covers in a tree of `size` leaves (the server fills it
/// with those records' hashes and [`entries_bundle`]).
pub fn entries_range(index: u64, width: u16, size: u64) -> Result<std::ops::Range<u64>, TileError> {
    if width == 0 || width > available_width(0, index, size) {
        return Err(TileError::NotInTree);
    }
    let start = index * TILE_WIDTH;
    Ok(start..start + u64::from(width))
}

/// An entry bundle: each leaf (record hash) as a big-endian u16 length (32) and its bytes.
pub fn entries_bundle(leaves: &[Hash]) -> Vec<u8> {
    let mut out = Vec::with_capacity(leaves.len() * (2 + HASH_LEN));
    for l in leaves {
        out.extend_from_slice(&(HASH_LEN as u16).to_be_bytes());
        out.extend_from_slice(&l.0);
    }
    out
}

/// Parses an entry bundle of ree-ledger leaves (every entry exactly 32 bytes).
pub fn parse_entries_bundle(bytes: &[u8]) -> Result<Vec<Hash>, TileError> {
    let mut out = Vec::new();
    for chunk in bytes.chunks(2 + HASH_LEN) {
        if chunk.len() != 2 + HASH_LEN || chunk[..2] != (HASH_LEN as u16).to_be_bytes() {
            return Err(TileError::BadBundle);
        }
        out.extend(Hash::from_slice(&chunk[2..]));
    }
    Ok(out)
}

/// The hash of a complete subtree whose leaves (at some level) are `hashes` (a power of two).
fn subtree_root(hashes: &[Hash]) -> Hash {
    let mut row = hashes.to_vec();
    while row.len() > 1 {
        row = row
            .chunks(2)
            .map(|p| node_hash(&p[0], &p[p.len() - 1]))
            .collect();
    }
    row.first().copied().unwrap_or_default()
}

/// Where a stored node's hash lives: its tile, and the run of tile hashes it is the root of.
fn locate(id: NodeId) -> (u8, u64, u64, u64) {
    let tl = id.level / TILE_HEIGHT;
    let up = u32::from(id.level % TILE_HEIGHT);
    let first = id.index << up; // index at tree level 8·tl
    (tl, first / TILE_WIDTH, first % TILE_WIDTH, 1 << up)
}

/// The tiles (with their widths at `size`) a client fetches to read `ids`, deduplicated.
pub fn tiles_for_nodes(ids: &[NodeId], size: u64) -> Vec<Tile> {
    let mut tiles: Vec<Tile> = ids
        .iter()
        .map(|&id| {
            let (level, index, _, _) = locate(id);
            Tile {
                level,
                index,
                width: available_width(level, index, size),
            }
        })
        .filter(|t| t.width > 0)
        .collect();
    tiles.sort();
    tiles.dedup();
    tiles
}

/// Answers proof reads from fetched tiles (client side).
#[derive(Clone, Debug, Default)]
pub struct TileHashReader {
    tiles: HashMap<(u8, u64), Vec<Hash>>,
}

impl TileHashReader {
    pub fn new() -> TileHashReader {
        TileHashReader::default()
    }

    /// Adds a fetched tile; its length must match its width. A wider tile replaces a narrower.
    pub fn insert(&mut self, tile: Tile, data: &[u8]) -> Result<(), TileError> {
        let expected = usize::from(tile.width) * HASH_LEN;
        if data.len() != expected || tile.width == 0 || u64::from(tile.width) > TILE_WIDTH {
            return Err(TileError::BadLength {
                got: data.len(),
                expected,
            });
        }
        let hashes: Vec<Hash> = data.chunks(HASH_LEN).filter_map(Hash::from_slice).collect();
        let slot = self.tiles.entry((tile.level, tile.index)).or_default();
        if hashes.len() > slot.len() {
            *slot = hashes;
        }
        Ok(())
    }
}

impl HashReader for TileHashReader {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, ReadError> {
        ids.iter()
            .map(|&id| {
                let (tl, ti, start, count) = locate(id);
                let missing = ReadError::Missing {
                    level: id.level,
                    index: id.index,
                };
                let tile = self.tiles.get(&(tl, ti)).ok_or(ReadError::Missing {
                    level: id.level,
                    index: id.index,
                })?;
                let run = tile
                    .get(start as usize..(start + count) as usize)
                    .ok_or(missing)?;
                Ok(subtree_root(run))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memstore::MemHashStore;
    use crate::tree::{inclusion_nodes, inclusion_proof, range_nodes, root};

    #[test]
    fn index_encoding() {
        assert_eq!(encode_index(0), "000");
        assert_eq!(encode_index(999), "999");
        assert_eq!(encode_index(1000), "x001/000");
        assert_eq!(encode_index(1234067), "x001/x234/067");
        let t = Tile {
            level: 1,
            index: 1234067,
            width: 8,
        };
        assert_eq!(t.path(), "tile/1/x001/x234/067.p/8");
        assert_eq!(parse_path(&t.path()), Ok(TilePath::Hashes(t)));
        assert_eq!(entries_path(5, 256), "tile/entries/005");
        assert_eq!(
            parse_path("tile/entries/005"),
            Ok(TilePath::Entries {
                index: 5,
                width: 256
            })
        );
        for bad in [
            "tile/0/x000/001",
            "tile/0/1",
            "tile/01/000",
            "tile/0/000.p/256",
            "tile/0/000.p/0",
            "tile/64/000",
            "tile/0/000.p/07",
            "tiles/0/000",
            "tile/0/x001",
            "tile/0/y001/000",
        ] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn widths_follow_the_spec_example() {
        // 70,000 leaves: 273 full level-0 tiles, a partial of 112; level 1: one full, a
        // partial of 17; level 2: a partial of 1.
        assert_eq!(available_width(0, 272, 70_000), 256);
        assert_eq!(available_width(0, 273, 70_000), 112);
        assert_eq!(available_width(1, 0, 70_000), 256);
        assert_eq!(available_width(1, 1, 70_000), 17);
        assert_eq!(available_width(2, 0, 70_000), 1);
        assert_eq!(available_width(3, 0, 70_000), 0);
        assert_eq!(available_width(7, 0, u64::MAX), 255);
    }

    #[test]
    fn proofs_from_tiles_equal_proofs_from_the_store() {
        let mut s = MemHashStore::new();
        for i in 0..70_000u32 {
            s.append(&i.to_le_bytes());
        }
        let size = 69_999;
        let mut ids = inclusion_nodes(12_345, size);
        range_nodes(0, size, &mut ids);
        let mut client = TileHashReader::new();
        for t in tiles_for_nodes(&ids, size) {
            client.insert(t, &tile_bytes(t, size, &s).unwrap()).unwrap();
        }
        assert_eq!(root(size, &client).unwrap(), root(size, &s).unwrap());
        assert_eq!(
            inclusion_proof(12_345, size, &client).unwrap(),
            inclusion_proof(12_345, size, &s).unwrap()
        );
        let t = Tile {
            level: 0,
            index: 273,
            width: 112,
        };
        assert_eq!(tile_bytes(t, 69_999, &s), Err(TileError::NotInTree));
        assert!(client.insert(t, &[0; 31]).is_err());
    }

    #[test]
    fn entry_bundles() {
        let leaves = [Hash([1; 32]), Hash([2; 32])];
        let b = entries_bundle(&leaves);
        assert_eq!(b.len(), 68);
        assert_eq!(parse_entries_bundle(&b).unwrap(), leaves);
        assert_eq!(parse_entries_bundle(&b[..67]), Err(TileError::BadBundle));
        assert_eq!(entries_range(1, 256, 600), Ok(256..512));
        assert_eq!(entries_range(2, 88, 600), Ok(512..600));
        assert_eq!(entries_range(2, 89, 600), Err(TileError::NotInTree));
    }
}
