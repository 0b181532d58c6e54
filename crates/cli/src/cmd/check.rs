//! `ree check` and `ree repair`: a stopped server's data directory, offline. `check` opens the
//! store read-only: it never creates, cuts or changes anything, and refuses a missing directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::output::count;

/// Replays every record of `store` (of the data directory `dir`) through the rules, with a
/// counter on a terminal.
pub fn replay(
    store: &dyn ree_store::Store,
    dir: &Path,
) -> Result<(ree_core::LedgerState, ree_engine::OpenReport)> {
    replay_with_tree(store, dir, &ree_engine::LogTree::new())
}

/// [`replay`], rebuilding the transparency log's Merkle tree into `tree` (issue 13).
fn replay_with_tree(
    store: &dyn ree_store::Store,
    dir: &Path,
    tree: &ree_engine::LogTree,
) -> Result<(ree_core::LedgerState, ree_engine::OpenReport)> {
    let bar = crate::progress::counter("checking", "records");
    let replayed = ree_engine::replay_store_with_tree(store, &|n| bar.set_position(n), tree);
    bar.finish_and_clear();
    replayed.with_context(|| format!("{}: check failed", dir.display()))
}

/// What `ree check` says of `DATA/tree/hashes` (derived: a difference is rewritten at start).
fn tree_file_line(path: &Path, f: ree_engine::hashfile::FileCheck) -> String {
    use ree_engine::hashfile::FileCheck::*;
    match f {
        Verified { leaves } => format!("{}: every node hash of {leaves} leaves matches the records", path.display()),
        Rebuilt { from_leaf, .. } => format!("{}: differs from the records from leaf {from_leaf} on (derived data: `ree serve` rewrites it from the records)", path.display()),
        Truncated { extra_bytes, .. } => format!("{}: {extra_bytes} bytes past the records' hashes (derived data: `ree serve` cuts them)", path.display()),
    }
}

/// `ree check`: replays every record of a stopped server's data directory, read-only.
pub async fn check(data_dir: PathBuf) -> Result<()> {
    let dir = data_dir.clone();
    let (r, torn, root) = tokio::task::spawn_blocking(move || -> Result<_> {
        let ro = ree_store::open_read_only(&dir)?;
        // DATA/tree/hashes, if any, compared read-only with the records.
        let hashes = ree_server::tree_hashes_path(&dir);
        let tree = if hashes.exists() {
            ree_engine::LogTree::open_file(&hashes, true)
                .with_context(|| format!("{}", hashes.display()))?
        } else {
            ree_engine::LogTree::new()
        };
        let (_, report) = replay_with_tree(&*ro.store, &dir, &tree)?;
        let file = tree.finish_replay()?;
        let root = tree.root(tree.size())?;
        if let Some(f) = file {
            eprintln!("{}", tree_file_line(&hashes, f));
        }
        Ok((report, ro.torn_tail_bytes, root))
    })
    .await??;
    // One line; its end is what a checkpoint of this directory must say (`ree checkpoint`).
    println!(
        "{}: OK: {} in {} replayed from genesis; every hash, link, sequence, rule and index checked; transparency log: tree size {} root {}",
        data_dir.display(),
        count(r.records, "record"),
        count(r.lots as u64, "lot"),
        r.records,
        root.to_hex()
    );
    if torn > 0 {
        println!(
            "note: log/records.log ends with {torn} bytes of a torn, never acknowledged group; `ree repair` (or the next `ree serve`) cuts them"
        );
    }
    Ok(())
}

/// `ree repair`: cuts an unacknowledged torn tail, refuses missing acknowledged data.
pub async fn repair(data_dir: PathBuf) -> Result<()> {
    let dir = data_dir.clone();
    let r = tokio::task::spawn_blocking(move || ree_store::repair(&dir)).await??;
    let d = data_dir.display();
    match r.kind {
        ree_store::StoreKind::Sled => println!("{d}: sled store opened and recovered by sled"),
        ree_store::StoreKind::Log => {
            if r.cut_bytes > 0 {
                println!(
                    "{d}: cut {} bytes of an unacknowledged torn tail from log/records.log",
                    r.cut_bytes
                );
            }
            if r.superblock_rebuilt {
                println!(
                    "{d}: rebuilt the missing log/committed from the log as it is; compare it with your last backup"
                );
            }
            if r.cut_bytes == 0 && !r.superblock_rebuilt {
                println!("{d}: nothing to repair");
            }
            println!("{d}: {} kept", count(r.records, "acknowledged record"));
        }
    }
    Ok(())
}
