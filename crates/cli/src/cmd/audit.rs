//! An auditor's commands: `ree countersign` (offline: vouch for a plant's stock-count gain with
//! the auditor's key, on the auditor's own machine) and `ree attest` (record an attestation).

use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use ree_core::event::{self as ev, EventKind};
use ree_core::{EventBody, EventId, Hash32, LotId};
use ree_proto::pbjson_types::Timestamp;
use ree_proto::v1 as pb;

use crate::cli::AttestArgs;
use crate::participants;

/// Reads adjustment events (protobuf JSON lines) from standard input and writes each back with
/// the auditor's countersignature. An event without `eventId` gets a fresh one first: the
/// countersignature covers the event id, so the plant must submit the line as written.
pub fn countersign(key: &Path) -> Result<()> {
    let secret = ree_proto::creds::read_key(key)?;
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    let mut n = 0;
    for (i, line) in stdin.lock().lines().enumerate() {
        let line = line.with_context(|| format!("line {}: not valid UTF-8 text", i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let signed =
            countersign_line(&secret, &line).map_err(|e| anyhow!("line {}: {e}", i + 1))?;
        writeln!(out, "{signed}")?;
        n += 1;
    }
    if n == 0 {
        bail!("no adjustment on standard input");
    }
    Ok(())
}

/// One line: parse, check it is a valid adjustment, countersign, print as protobuf JSON.
fn countersign_line(secret: &[u8; 32], line: &str) -> Result<String> {
    let mut body: pb::EventBody =
        serde_json::from_str(line).context("not a ree.v1.EventBody in protobuf JSON")?;
    if body.occurred_at.is_none() {
        bail!("occurredAt: missing (the countersignature covers it)");
    }
    if body.event_id.is_empty() {
        body.event_id = EventId::new_v7().to_string();
    }
    let mut d = ree_proto::convert::body_from_pb(&body)?;
    if !matches!(d.kind, EventKind::Adjustment(_)) {
        bail!(
            "kind: only an adjustment is countersigned, not {}",
            d.kind.name()
        );
    }
    d.validate(ree_proto::now_utc())?;
    ev::countersign(&mut d, secret)?;
    Ok(serde_json::to_string(&ree_proto::convert::body_to_pb(&d))?)
}

/// A date (`2026-01-31`, midnight UTC) or an RFC 3339 time.
pub fn parse_time(s: &str) -> Result<ree_core::UtcMicros, String> {
    let text = if s.len() == 10 {
        format!("\"{s}T00:00:00Z\"")
    } else {
        format!("\"{s}\"")
    };
    let t: Timestamp = serde_json::from_str(&text)
        .map_err(|_| format!("{s:?} is not a date (2026-01-31) or an RFC 3339 time"))?;
    ree_core::UtcMicros::from_seconds_nanos(t.seconds, t.nanos).ok_or_else(|| "out of range".into())
}

/// `ree attest`: an auditor's signed attestation about a lot, submitted to the server.
pub async fn attest(args: AttestArgs) -> Result<()> {
    let key = args.server.secret()?;
    let lot: LotId = ree_proto::convert::lot_id(&args.lot, "LOT")?;
    let kind = ev::AttestationKind::parse(&args.kind).ok_or_else(|| {
        anyhow!(
            "--kind: {:?} is not origin_verified, mass_verified or scrap_class_verified",
            args.kind
        )
    })?;
    let method = args
        .method
        .as_deref()
        .map(|m| {
            ev::OriginMethod::parse(m).ok_or_else(|| {
                anyhow!("--method: {m:?} is not site_visit or certificate_of_origin")
            })
        })
        .transpose()?;
    let hash = |s: &str, flag: &str| Hash32::from_hex(s).map_err(|e| anyhow!("{flag}: {e}"));
    let body = EventBody {
        event_id: EventId::new_v7(),
        occurred_at: ree_proto::now_utc(),
        expected_head: None,
        kind: EventKind::Attestation(ev::Attestation {
            lot,
            event: args
                .event
                .as_deref()
                .map(|e| hash(e, "--event"))
                .transpose()?,
            kind,
            method,
            evidence: hash(&args.evidence, "--evidence")?,
            valid_from: args.valid_from,
            valid_until: args.valid_until,
        }),
    };
    body.validate(ree_proto::now_utc())?;
    let mut client = args.server.connect().await?;
    let failed =
        crate::cmd::submit::send(&mut client, &[participants::signed(&key, &body)], false).await?;
    if failed > 0 {
        bail!("the attestation was rejected");
    }
    Ok(())
}
