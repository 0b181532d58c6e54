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
/// answered as a replay instead of booking the events twice. A charge, output or shipment
/// without `expectedHead` (or a charge without `inputHead`) is signed over the heads the
/// ledger gives (GetLot, then each answer): such files go one event per request, in order.
pub async fn submit(args: SubmitArgs) -> Result<()> {
    let (creds, file, atomic) = (&args.server, args.file.as_str(), args.atomic);
    let key = creds.secret()?;
    let lines = read_lines(file)?;
    if lines.is_empty() {
        bail!("no events in {file}");
    }
    let mut client = creds.connect().await?;
    let chain = lines.iter().any(|l| needs_heads(&l.body));
    let failed = if chain {
        send_in_order(&mut client, &key, lines, atomic).await?
    } else {
        let subs = lines
            .iter()
            .map(|l| signed_line(&key, l))
            .collect::<Result<Vec<_>>>()?;
        send(&mut client, &subs, atomic).await?
    };
    if failed > 0 {
        bail!("{failed} events rejected");
    }
    Ok(())
}

/// One line of the file: its number, its body (event id derived if it named none).
struct Line {
    number: usize,
    body: ree_core::EventBody,
    derived_id: bool,
}

fn needs_heads(b: &ree_core::EventBody) -> bool {
    let input = matches!(&b.kind, ree_core::event::EventKind::InputCharged(c) if c.input_head == ree_core::Hash32::ZERO);
    input || (b.expected_head.is_none() && b.kind.must_commit())
}

fn signed_line(key: &[u8; 32], l: &Line) -> Result<pb::Submission> {
    l.body
        .validate(ree_proto::now_utc())
        .map_err(|e| anyhow!("line {}: {e}", l.number))?;
    Ok(participants::signed(key, &l.body))
}

/// Every line of `file` (- for standard input) as a body; an error names the line.
fn read_lines(file: &str) -> Result<Vec<Line>> {
    let reader: Box<dyn BufRead> = if file == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("cannot open {file}"))?,
        ))
    };
    let mut out = vec![];
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
        // A head the signer leaves out is filled in later; the wire form requires one.
        if let Some(pb::event_body::Kind::InputCharged(c)) = &mut body.kind {
            if c.input_head.is_empty() {
                c.input_head = ree_core::Hash32::ZERO.to_hex();
            }
        }
        let mut d =
            ree_proto::convert::body_from_pb(&body).map_err(|e| anyhow!("line {}: {e}", n + 1))?;
        if derive {
            // From the line as written, heads left out: a retry derives the same id.
            d.event_id = derived_event_id(&d, &mut seen);
        }
        out.push(Line {
            number: n + 1,
            body: d,
            derived_id: derive,
        });
    }
    Ok(out)
}

/// Sends lines one per request (or, atomic, all at once over the heads before the batch),
/// filling each one's missing heads first; how many were rejected.
async fn send_in_order(
    client: &mut Client,
    key: &[u8; 32],
    mut lines: Vec<Line>,
    atomic: bool,
) -> Result<usize> {
    let mut heads: std::collections::HashMap<ree_core::LotId, ree_core::Hash32> =
        Default::default();
    // Only the lines that leave a head out need the ledger's heads; answers update them after.
    for l in lines.iter().filter(|l| needs_heads(&l.body)) {
        for lot in l.body.kind.lots() {
            if let std::collections::hash_map::Entry::Vacant(v) = heads.entry(lot) {
                v.insert(head_of(client, lot).await?);
            }
        }
    }
    if atomic {
        let mut written = std::collections::HashSet::new();
        for l in &mut lines {
            if needs_heads(&l.body) && l.body.kind.lots().iter().any(|x| written.contains(x)) {
                bail!(
                    "line {}: an atomic batch cannot chain events on one lot (each commits to the head before the batch); submit without --atomic",
                    l.number
                );
            }
            written.extend(l.body.kind.lots());
            l.body.commit_to(|x| heads.get(x).copied());
        }
        let subs = lines
            .iter()
            .map(|l| signed_line(key, l))
            .collect::<Result<Vec<_>>>()?;
        return send(client, &subs, true).await;
    }
    let mut failed = 0;
    for (i, l) in lines.iter_mut().enumerate() {
        l.body.commit_to(|x| heads.get(x).copied());
        let sub = signed_line(key, l)?;
        let answer = client
            .submit
            .submit_batch(pb::SubmitBatchRequest {
                submissions: vec![sub],
                atomic: false,
            })
            .await
            .map_err(status)?
            .into_inner();
        for res in answer.results {
            match res.result {
                Some(pb::event_result::Result::Ok(o)) => {
                    for r in &o.records {
                        if let (Ok(lot), Ok(h)) = (
                            ree_core::LotId::parse(&r.lot_id),
                            ree_core::Hash32::from_hex(&r.hash),
                        ) {
                            heads.insert(lot, h);
                        }
                    }
                    println!("{}", serde_json::to_string(&output::submit_json(i, &o))?)
                }
                // A derived id is this line's content: it was booked by an earlier run of the
                // same file, over heads that have moved on since.
                Some(pb::event_result::Result::Error(e))
                    if l.derived_id && tonic::Code::from(e.code) == tonic::Code::AlreadyExists =>
                {
                    println!(
                        "{}",
                        serde_json::json!({"index": i, "event_id": l.body.event_id.to_string(), "replayed": true})
                    );
                    for lot in l.body.kind.lots() {
                        heads.insert(lot, head_of(client, lot).await?);
                    }
                }
                Some(pb::event_result::Result::Error(e)) => {
                    failed += 1;
                    eprintln!(
                        "event {}: {:?}: {}",
                        i + 1,
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

/// A lot's head (zeros for a lot that does not exist yet, or that the caller may not read).
async fn head_of(client: &mut Client, lot: ree_core::LotId) -> Result<ree_core::Hash32> {
    match client
        .query
        .get_lot(pb::GetLotRequest {
            lot_id: lot.to_string(),
        })
        .await
    {
        Ok(l) => ree_core::Hash32::from_hex(&l.into_inner().head)
            .map_err(|e| anyhow!("GetLot {lot}: head: {e}")),
        Err(s) if s.code() == tonic::Code::NotFound => Ok(ree_core::Hash32::ZERO),
        Err(s) => Err(status(s)),
    }
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
