//! `ree watch`: follows a lot's events, reconnecting and resuming without gaps.

use anyhow::{anyhow, bail, Result};
use ree_proto::v1 as pb;

use crate::cli::WatchArgs;
use crate::client::status;
use crate::output;

/// Prints each event once, in order; retries with backoff unless the error is final.
pub async fn watch(args: WatchArgs) -> Result<()> {
    let (server, lot_id, from, count) = (&args.server, args.lot_id.as_str(), args.from, args.count);
    let mut next = from;
    let mut seen = 0u64;
    let mut backoff = std::time::Duration::from_millis(100);
    loop {
        let attempt: Result<()> = async {
            let mut c = server.connect().await?;
            let mut stream = c
                .query
                .watch(pb::WatchRequest {
                    lot_id: lot_id.to_string(),
                    from_seq: next,
                })
                .await
                .map_err(status)?
                .into_inner();
            backoff = std::time::Duration::from_millis(100);
            while let Some(ev) = stream.message().await.map_err(status)? {
                if ev.seq != next {
                    bail!("watch stream skipped from seq {next} to {}", ev.seq);
                }
                output::watch_line(&ev);
                next = ev.seq + 1;
                seen += 1;
                if count.is_some_and(|c| seen >= c) {
                    return Ok(());
                }
            }
            Err(anyhow!("stream ended"))
        }
        .await;
        match attempt {
            Ok(()) => return Ok(()),
            Err(e) => {
                let msg = format!("{e:#}");
                if [
                    "NotFound",
                    "InvalidArgument",
                    "Unauthenticated",
                    "PermissionDenied",
                ]
                .iter()
                .any(|c| msg.starts_with(c))
                {
                    return Err(e);
                }
                eprintln!("watch: {msg}; reconnecting from seq {next}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(5));
            }
        }
    }
}
