//! `ree submit` (events from protobuf-JSON lines, signed with the caller's key) and `ree digest`
//! (what events cite as a document's digest).

use std::io::BufRead;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use ree_proto::v1 as pb;

use crate::cli::SubmitArgs;
use crate::client::{status, Client};
use crate::{output, participants};

/// Reads JSON lines into submissions. `occurredAt` is required; a line without `eventId` gets
/// one derived from its content ([`derived_event_id`]), so submitting the same file again is
/// answered as a replay instead of booking the events twice.
pub async fn submit(args: SubmitArgs) -> Result<()> {
    let (creds, file, atomic) = (&args.server, args.file.as_str(), args.atomic);
    let key = creds.secret()?;
    let subs = read_lines(&key, file)?;
    if subs.is_empty() {
        bail!("no events in {file}");
    }
    let mut client = creds.connect().await?;
    let failed = send(&mut client, &subs, atomic).await?;
    if failed > 0 {
        bail!("{failed} of {} events rejected", subs.len());
    }
    Ok(())
}

/// Every line of `file` (- for standard input) as a signed submission; an error names the line.
fn read_lines(key: &[u8; 32], file: &str) -> Result<Vec<pb::Submission>> {
    let reader: Box<dyn BufRead> = if file == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("cannot open {file}"))?,
        ))
    };
    let mut subs = vec![];
    let mut seen = std::collections::HashMap::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("line {}: not valid UTF-8 text", n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let mut body: pb::EventBody = serde_json::from_str(&line)
            .with_context(|| format!("line {}: not a ree.v1.EventBody in protobuf JSON", n + 1))?;
        if body.occurred_at.is_none() {
            bail!(
                "line {}: occurredAt: missing (when the event happened, e.g. \"2025-03-04T08:00:00Z\")",
                n + 1
            );
        }
        let derive = body.event_id.is_empty();
        if derive {
            body.event_id = uuid::Uuid::nil().to_string();
        }
        let mut d =
            ree_proto::convert::body_from_pb(&body).map_err(|e| anyhow!("line {}: {e}", n + 1))?;
        if derive {
            d.event_id = derived_event_id(&d, &mut seen);
        }
        d.validate(ree_proto::now_utc())
            .map_err(|e| anyhow!("line {}: {e}", n + 1))?;
        subs.push(participants::signed(key, &d));
    }
    Ok(subs)
}

/// Sends `subs` in batches (one, if atomic), printing each result; how many were rejected.
pub(crate) async fn send(
    client: &mut Client,
    subs: &[pb::Submission],
    atomic: bool,
) -> Result<usize> {
    let mut failed = 0;
    let chunk_size = if atomic {
        usize::MAX
    } else {
        ree_proto::MAX_BATCH
    };
    for (chunk_index, chunk) in subs.chunks(chunk_size).enumerate() {
        let response = client
            .submit
            .submit_batch(pb::SubmitBatchRequest {
                submissions: chunk.to_vec(),
                atomic,
            })
            .await
            .map_err(status)?
            .into_inner();
        for (i, res) in response.results.into_iter().enumerate() {
            let idx = chunk_index * ree_proto::MAX_BATCH + i;
            match res.result {
                Some(pb::event_result::Result::Ok(o)) => {
                    println!("{}", serde_json::to_string(&output::submit_json(idx, &o))?)
                }
                Some(pb::event_result::Result::Error(e)) => {
                    failed += 1;
                    eprintln!(
                        "event {}: {:?}: {}",
                        idx + 1,
                        tonic::Code::from(e.code),
                        e.message
                    );
                }
                None => {}
            }
        }
    }
    Ok(failed)
}

/// The event id of a line that names none: a v8 UUID from the BLAKE3 hash of the event's
/// canonical bytes (with a nil id) and of how many identical events came before it in the same
/// file. The same file always gets the same ids, so a retry is idempotent; identical lines in
/// one file stay distinct events; two events that differ in any field get different ids.
fn derived_event_id(
    body: &ree_core::EventBody,
    seen: &mut std::collections::HashMap<Vec<u8>, u64>,
) -> ree_core::EventId {
    let mut unnamed = body.clone();
    unnamed.event_id = ree_core::EventId(uuid::Uuid::nil());
    // A body the layout cannot hold gets some id: `validate` refuses it right after.
    let bytes = unnamed.encode().unwrap_or_default();
    let occurrence = seen.entry(bytes.clone()).or_insert(0);
    let mut hasher = blake3::Hasher::new_derive_key("ree-ledger 2026-11 submit event id v1");
    hasher.update(&occurrence.to_le_bytes());
    hasher.update(&bytes);
    *occurrence += 1;
    let mut id = [0u8; 16];
    id.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    ree_core::EventId(uuid::Builder::from_custom_bytes(id).into_uuid())
}

/// `ree digest`: the BLAKE3 digest of a file, as 64 hex digits.
pub fn digest(file: &Path) -> Result<()> {
    let mut hasher = blake3::Hasher::new();
    hasher
        .update_reader(
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
        )
        .with_context(|| format!("cannot read {}", file.display()))?;
    println!("{}", hasher.finalize().to_hex());
    Ok(())
}
