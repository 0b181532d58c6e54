//! The frames of `records.log`: `kind u8 | len u32 LE | payload | check u64 LE`, where `check`
//! is the first 8 bytes of blake3(kind, len, payload). Kind 1: a record (payload = the record's
//! exact bytes). Kind 2: the end of a group commit (payload = 16-byte magic, then the group's
//! last global sequence number, u64 LE). Writing them, reading them back in order or at an
//! offset, and telling a torn tail (never holds a commit frame) from damage.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;

use crate::StoreError;

/// The log file under `DATA/log`.
pub(super) const LOG_FILE: &str = "records.log";
pub(super) const KIND_RECORD: u8 = 1;
pub(super) const KIND_COMMIT: u8 = 2;
pub(super) const COMMIT_MAGIC: &[u8; 16] = b"ree-log-commit\x00\x01";
/// Frame overhead: kind, length, check.
const FRAME_OVERHEAD: usize = 1 + 4 + 8;
/// Largest payload a frame may claim (a record is at most ~16.5 KB).
const MAX_PAYLOAD: usize = 1 << 20;

fn check(kind: u8, payload: &[u8]) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(&[kind]);
    h.update(&(payload.len() as u32).to_le_bytes());
    h.update(payload);
    let out = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&out.as_bytes()[..8]);
    u64::from_le_bytes(b)
}

/// Appends one frame to `out`.
pub(super) fn push_frame(out: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&check(kind, payload).to_le_bytes());
}

/// Appends the commit frame that closes a group ending at `last_global_seq`.
pub(super) fn push_commit(out: &mut Vec<u8>, last_global_seq: u64) {
    let mut commit = Vec::with_capacity(24);
    commit.extend_from_slice(COMMIT_MAGIC);
    commit.extend_from_slice(&last_global_seq.to_le_bytes());
    push_frame(out, KIND_COMMIT, &commit);
}

/// One frame read back.
pub(super) enum Frame {
    Record(Vec<u8>),
    Commit(u64),
}

/// Reads the frame at the reader's position: Ok(None) at a clean end, Err(()) for a frame that
/// is incomplete or does not check.
pub(super) fn read_frame(r: &mut impl Read) -> Result<Option<(Frame, usize)>, ()> {
    let mut head = [0u8; 5];
    let mut got = 0;
    while got < 5 {
        match r.read(&mut head[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(()),
            Ok(n) => got += n,
            Err(_) => return Err(()),
        }
    }
    let kind = head[0];
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_PAYLOAD || (kind != KIND_RECORD && kind != KIND_COMMIT) {
        return Err(());
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).map_err(|_| ())?;
    let mut c = [0u8; 8];
    r.read_exact(&mut c).map_err(|_| ())?;
    if u64::from_le_bytes(c) != check(kind, &payload) {
        return Err(());
    }
    let size = FRAME_OVERHEAD + len;
    match kind {
        KIND_RECORD => Ok(Some((Frame::Record(payload), size))),
        _ => {
            if len != 24 || &payload[..16] != COMMIT_MAGIC {
                return Err(());
            }
            let mut g = [0u8; 8];
            g.copy_from_slice(&payload[16..]);
            Ok(Some((Frame::Commit(u64::from_le_bytes(g)), size)))
        }
    }
}

/// The record in the frame at offset `off` of `log` (pread), its checksum verified.
pub(super) fn read_record_at(log: &File, off: u64) -> Result<Vec<u8>, StoreError> {
    let mut head = [0u8; 5];
    log.read_exact_at(&mut head, off)?;
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if head[0] != KIND_RECORD || len > MAX_PAYLOAD {
        return Err(StoreError::Corrupt(format!(
            "no record frame at offset {off}"
        )));
    }
    let mut payload = vec![0u8; len + 8];
    log.read_exact_at(&mut payload, off + 5)?;
    let mut c = [0u8; 8];
    c.copy_from_slice(&payload[len..]);
    payload.truncate(len);
    if u64::from_le_bytes(c) != check(KIND_RECORD, &payload) {
        return Err(StoreError::Corrupt(format!(
            "record frame at offset {off} fails its checksum"
        )));
    }
    Ok(payload)
}

/// True when a valid commit frame starts anywhere in `data` (used to tell a torn tail, which
/// never holds one, from damage in the middle of acknowledged data).
pub(super) fn holds_valid_commit(data: &[u8]) -> bool {
    let mut i = 0;
    while let Some(p) = find(&data[i..], COMMIT_MAGIC) {
        let at = i + p;
        if at >= 5 {
            let mut slice = &data[at - 5..];
            if let Ok(Some((Frame::Commit(_), _))) = read_frame(&mut slice) {
                return true;
            }
        }
        i = at + 1;
    }
    false
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
