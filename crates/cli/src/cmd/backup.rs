//! `ree backup` (from a running server, or offline from a stopped server's data directory) and
//! `ree restore`. An offline backup opens the store read-only: it never creates, cuts or changes
//! anything in the data directory, and refuses a missing one.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use ree_proto::v1 as pb;

use crate::cli::{BackupArgs, RestoreArgs};
use crate::client::status;
use crate::cmd::check::replay;
use crate::conn::Conn;
use crate::output::count;

/// `ree backup`: from a running server, or (`--data-dir`) offline and read-only. The file is
/// written to `FILE.partial` (owner-only), synced, then renamed; a failure removes it.
pub async fn backup(args: BackupArgs) -> Result<()> {
    let (server, data_dir, output) = (&args.server, args.data_dir, args.output);
    let tmp = output.with_extension("partial");
    let written = match data_dir {
        Some(dir) => {
            let tmp = tmp.clone();
            tokio::task::spawn_blocking(move || offline_backup(&dir, &tmp)).await?
        }
        None => online_backup(server, &tmp).await,
    };
    let n = match written {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, &output)?;
    println!("wrote {} ({})", output.display(), count(n, "record"));
    Ok(())
}

fn create_private(path: &Path) -> Result<std::io::BufWriter<std::fs::File>> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    Ok(std::io::BufWriter::new(f))
}

fn finish(f: std::io::BufWriter<std::fs::File>) -> Result<()> {
    f.into_inner().map_err(|e| anyhow!("{e}"))?.sync_all()?;
    Ok(())
}

fn offline_backup(dir: &Path, tmp: &Path) -> Result<u64> {
    // Opened (and refused if missing, empty or in use) before anything is created.
    let ro = ree_store::open_read_only(dir)?;
    let (state, _) = replay(&*ro.store, dir)?;
    let upto = state.next_global_seq() - 1;
    let mut f = create_private(tmp)?;
    let bar = crate::progress::bar(upto, "backing up", "records");
    let written = ree_engine::backup::backup_store_with_progress(&*ro.store, upto, &mut f, &|n| {
        bar.set_position(n)
    });
    bar.finish_and_clear();
    let n = written?;
    finish(f)?;
    Ok(n)
}

async fn online_backup(server: &Conn, tmp: &Path) -> Result<u64> {
    let mut c = server.connect().await?;
    let mut stream = c
        .query
        .backup(pb::BackupRequest {})
        .await
        .map_err(status)?
        .into_inner();
    let mut f = create_private(tmp)?;
    let mut written = 0u64;
    let mut header = false;
    let mut bar = indicatif::ProgressBar::hidden();
    while let Some(chunk) = stream.message().await.map_err(status)? {
        if !header {
            ree_engine::backup::write_header(&mut f, chunk.total)?;
            bar = crate::progress::bar(chunk.total, "backing up", "records");
            header = true;
        }
        for r in &chunk.records {
            ree_engine::backup::write_record(&mut f, r)?;
            written += 1;
        }
        bar.set_position(written);
        if written > chunk.total {
            bail!("server sent more records than announced");
        }
    }
    bar.finish_and_clear();
    if !header {
        ree_engine::backup::write_header(&mut f, 0)?;
    }
    f.flush()?;
    finish(f)?;
    Ok(written)
}

/// `ree restore`: into a new (or empty) directory only; a failed restore leaves none behind.
pub async fn restore(args: RestoreArgs) -> Result<()> {
    let (file, data_dir, kind) = (args.file, args.data_dir, args.store);
    if data_dir.exists() && std::fs::read_dir(&data_dir)?.next().is_some() {
        bail!(
            "{} is not empty: restore into a new directory",
            data_dir.display()
        );
    }
    let mut r = std::io::BufReader::new(
        std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?,
    );
    let dir = data_dir.clone();
    let report = tokio::task::spawn_blocking(move || -> Result<ree_engine::OpenReport> {
        let (store, _) = ree_store::open(&dir, kind)?;
        // Written, then replayed again as a check: the bar runs twice over the records.
        let bar = crate::progress::bar(0, "restoring", "records");
        let restored = ree_engine::backup::restore_with_progress(
            &mut r,
            &*store,
            &|total| bar.set_length(total),
            &|n| bar.set_position(n),
        );
        bar.finish_and_clear();
        Ok(restored?)
    })
    .await?;
    match report {
        Ok(r) => {
            println!(
                "{}: restored {} in {}, every chain replayed and checked",
                data_dir.display(),
                count(r.records, "record"),
                count(r.lots as u64, "lot")
            );
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&data_dir);
            Err(e)
        }
    }
}
