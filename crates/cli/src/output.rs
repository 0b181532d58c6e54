//! Human and JSON renderings. The JSON keys are a contract (README, "CLI").

use anyhow::Result;
use ree_proto::v1 as pb;
use serde_json::{json, Value};

fn kind_name(k: i32) -> &'static str {
    match pb::LotKind::try_from(k) {
        Ok(pb::LotKind::Ore) => "ore",
        Ok(pb::LotKind::Recycled) => "recycled",
        Ok(pb::LotKind::Campaign) => "campaign",
        Ok(pb::LotKind::Oxide) => "oxide",
        Ok(pb::LotKind::Registry) => "registry",
        _ => "unknown",
    }
}

fn ts(t: &Option<ree_proto::pbjson_types::Timestamp>) -> String {
    t.as_ref()
        .and_then(|t| ree_core::UtcMicros::from_seconds_nanos(t.seconds, t.nanos))
        .map(|u| u.to_string())
        .unwrap_or_default()
}

fn lot_json(l: &pb::Lot) -> Value {
    let attrs: std::collections::BTreeMap<_, _> = l.attributes.iter().collect();
    json!({
        "lot": l.lot_id,
        "kind": kind_name(l.kind),
        "balance_g": l.balance_g,
        "head": l.head,
        "head_seq": l.head_seq,
        "events": l.events,
        "created_at": ts(&l.created_at),
        "attributes": attrs,
    })
}

/// `n` and the word, in the plural unless `n` is 1: "1 record", "2 records".
pub fn count(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Prints a table whose columns are as wide as their widest cell (the last column unpadded);
/// columns listed in `right` are right-aligned (numbers).
pub fn table(header: &[&str], rows: &[Vec<String>], right: &[usize]) {
    for line in table_lines(header, rows, right) {
        println!("{line}");
    }
}

fn table_lines(header: &[&str], rows: &[Vec<String>], right: &[usize]) -> Vec<String> {
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            width[i] = width[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        let mut out = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            let pad = width[i] - cell.chars().count();
            if i > 0 {
                out.push_str("  ");
            }
            if right.contains(&i) {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            } else {
                out.push_str(cell);
                if i < last {
                    out.push_str(&" ".repeat(pad));
                }
            }
        }
        out
    };
    let mut lines = vec![line(header.to_vec())];
    lines.extend(
        rows.iter()
            .map(|row| line(row.iter().map(String::as_str).collect())),
    );
    lines
}

fn tonnes(g: u64) -> String {
    format!("{:.3} t", g as f64 / 1e6)
}

pub fn lots(lots: &[pb::Lot], json: bool) -> Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&lots.iter().map(lot_json).collect::<Vec<_>>())?
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = lots
        .iter()
        .map(|l| {
            vec![
                l.lot_id.clone(),
                kind_name(l.kind).to_string(),
                tonnes(l.balance_g),
                l.events.to_string(),
                l.attributes.get("country").cloned().unwrap_or_default(),
                l.head.clone(),
            ]
        })
        .collect();
    table(
        &["LOT", "KIND", "BALANCE", "EVENTS", "COUNTRY", "HEAD"],
        &rows,
        &[2, 3],
    );
    println!("{}", count(lots.len() as u64, "lot"));
    Ok(())
}

pub fn lot(l: &pb::Lot, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&lot_json(l))?);
        return Ok(());
    }
    println!("lot      {}", l.lot_id);
    println!("kind     {}", kind_name(l.kind));
    println!("balance  {} ({} g)", tonnes(l.balance_g), l.balance_g);
    println!("events   {}", l.events);
    println!("head     {} (seq {})", l.head, l.head_seq);
    println!("created  {}", ts(&l.created_at));
    let attrs: std::collections::BTreeMap<_, _> = l.attributes.iter().collect();
    for (k, v) in attrs {
        println!("  {k:<14} {v}");
    }
    Ok(())
}

fn event_summary(e: &pb::Event) -> String {
    use pb::event_body::Kind as K;
    let Some(b) = &e.body else {
        return "(undecodable body)".into();
    };
    match &b.kind {
        Some(K::OreReceipt(o)) => format!(
            "ore receipt {} from {} ({}, {})",
            tonnes(o.mass_g),
            o.supplier,
            o.mine_site,
            o.country
        ),
        Some(K::MagnetIntake(m)) => format!(
            "magnet intake {} from {} ({})",
            tonnes(m.mass_g),
            m.recycler,
            m.country
        ),
        Some(K::CampaignOpened(c)) => format!("campaign opened at {} ({})", c.facility, c.country),
        Some(K::InputCharged(c)) => format!(
            "charge {} of {} into {}",
            tonnes(c.mass_g),
            c.input_lot_id,
            c.campaign_id
        ),
        Some(K::OutputProduced(p)) => format!(
            "produced {} {} as {} from {}",
            tonnes(p.mass_g),
            p.oxide,
            p.output_lot_id,
            p.campaign_id
        ),
        Some(K::CampaignClosed(c)) => format!("campaign closed, losses {}", tonnes(c.losses_g)),
        Some(K::Shipment(s)) => format!(
            "shipped {} to {} ({})",
            tonnes(s.mass_g),
            s.customer,
            s.destination_country
        ),
        Some(K::AssayRecorded(a)) => format!("assay by {}", a.lab),
        Some(K::Adjustment(a)) => format!(
            "adjustment {:+} g: {}{}",
            a.delta_g,
            a.reason,
            if a.countersignature.is_some() {
                " (countersigned)"
            } else {
                ""
            }
        ),
        Some(K::Attestation(a)) => format!(
            "attestation {}{} (evidence {})",
            a.kind,
            if a.method.is_empty() {
                String::new()
            } else {
                format!(" by {}", a.method)
            },
            a.evidence_digest
        ),
        Some(K::ParticipantRegistered(r)) => format!(
            "registered {} ({}, {}) as {}",
            r.name,
            role_name(r.role),
            r.country,
            r.participant_id
        ),
        Some(K::KeyAdded(k)) => format!("key {} added to {}", k.public_key, k.participant_id),
        Some(K::KeyRevoked(k)) => format!(
            "key {} of {} revoked: {}",
            k.public_key, k.participant_id, k.reason
        ),
        Some(K::ParticipantSuspended(p)) => {
            format!("participant {} suspended: {}", p.participant_id, p.reason)
        }
        Some(K::TokenIssued(t)) => format!("new bearer token for {}", t.participant_id),
        Some(K::FacilityRegistered(f)) => format!(
            "facility {} ({}, {}) registered as {}, operated by {}",
            f.name,
            facility_kind_name(f.kind),
            f.country,
            f.facility_id,
            f.operator_id
        ),
        Some(K::CertificationGranted(c)) => format!(
            "{} certificate {} granted to facility {}",
            c.scheme, c.certificate_id, c.facility_id
        ),
        Some(K::CertificationSuspended(c)) => format!(
            "certificate {} of facility {} suspended: {}",
            c.certificate_id, c.facility_id, c.reason
        ),
        Some(K::CertificationWithdrawn(c)) => format!(
            "certificate {} of facility {} withdrawn: {}",
            c.certificate_id, c.facility_id, c.reason
        ),
        Some(K::FacilityClosed(c)) => format!("facility {} closed: {}", c.facility_id, c.reason),
        None => "(no kind)".into(),
    }
}

fn event_json(e: &pb::Event) -> Result<Value> {
    Ok(json!({
        "lot": e.lot_id,
        "seq": e.seq,
        "global_seq": e.global_seq,
        "hash": e.hash,
        "prev_hash": e.prev_hash,
        "recorded_at": ts(&e.recorded_at),
        "link": e.link.as_ref().map(|l| json!({"lot": l.lot_id, "seq": l.seq, "hash": l.hash})),
        "body": serde_json::to_value(&e.body)?,
        "signer": e.signature.as_ref().map(|s| s.public_key.iter().map(|b| format!("{b:02x}")).collect::<String>()),
    }))
}

pub fn events(evs: &[pb::Event], json: bool) -> Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&evs.iter().map(event_json).collect::<Result<Vec<_>>>()?)?
        );
        return Ok(());
    }
    for e in evs {
        println!("{}", event_line(e));
    }
    Ok(())
}

/// One event as `ree events` and `ree watch` both print it: seq, when it happened (as its
/// submitter declares; the ledger's own time is `recorded_at` in --json), the full record hash
/// (what a certificate cites) and what happened.
fn event_line(e: &pb::Event) -> String {
    format!(
        "{:>4}  {}  {}  {}",
        e.seq,
        ts(&e.body.as_ref().and_then(|b| b.occurred_at)),
        e.hash,
        event_summary(e)
    )
}

pub fn watch_line(e: &pb::Event) {
    println!("{}", event_line(e));
}

pub fn submit_json(i: usize, o: &pb::SubmitResponse) -> Value {
    json!({
        "index": i,
        "event_id": o.event_id,
        "replayed": o.replayed,
        "head": o.head,
        "seq": o.seq,
        "records": o.records.iter().map(|r| json!({"lot": r.lot_id, "seq": r.seq, "global_seq": r.global_seq, "hash": r.hash})).collect::<Vec<_>>(),
    })
}

/// The JSON form of a provenance answer.
fn provenance_json(p: &pb::Provenance) -> Value {
    let r = p.recycled_share.unwrap_or_default();
    json!({
        "lot": p.lot_id,
        "head": p.head,
        "head_seq": p.head_seq,
        "claim": p.claim,
        "basis": p.basis,
        "attributed_g": p.attributed_g,
        "origin_shares": p.origin_shares.iter().collect::<std::collections::BTreeMap<_, _>>(),
        "recycled_share": r.total,
        "recycled_share_pre_consumer": r.pre_consumer,
        "recycled_share_post_consumer": r.post_consumer,
        "sources": p.sources.iter().map(|s| json!({"country": s.country, "feed": s.feed, "grams": s.grams, "share": s.share})).collect::<Vec<_>>(),
        "elements": p.elements.iter().map(|e| json!({
            "element": e.element, "grams": e.grams,
            "sources": e.sources.iter().map(|s| json!({"country": s.country, "feed": s.feed, "grams": s.grams, "share": s.share})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "facilities": p.facilities.iter().map(|f| json!({"name": f.name, "country": f.country})).collect::<Vec<_>>(),
        "upstream_lots": p.upstream_lots.iter().map(|u| json!({"lot": u.lot_id, "kind": kind_name(u.kind), "seq": u.seq, "head": u.head, "country": u.country, "feed": u.feed,
            "adjustments": u.adjustments.iter().map(|a| json!({"seq": a.seq, "hash": a.hash, "delta_g": a.delta_g, "reason": a.reason, "countersigned_by": a.countersigned_by})).collect::<Vec<_>>(),
            "attestations": u.attestations.iter().map(attestation_json).collect::<Vec<_>>(),
            "reassay_flags": u.reassay_flags.iter().map(|f| json!({"seq": f.seq, "element": f.element, "from_ppm": f.from_ppm, "to_ppm": f.to_ppm})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "crma": crate::output_crma::crma_json(&p.crma),
    })
}

fn attestation_json(a: &pb::LotAttestation) -> serde_json::Value {
    let t = |t: &Option<ree_proto::pbjson_types::Timestamp>| {
        t.as_ref()
            .and_then(|t| ree_core::UtcMicros::from_seconds_nanos(t.seconds, t.nanos))
            .map(|t| t.to_string())
            .unwrap_or_default()
    };
    json!({"seq": a.seq, "hash": a.hash, "auditor": a.auditor, "kind": a.kind, "method": a.method,
        "event_hash": a.event_hash, "evidence_digest": a.evidence_digest,
        "valid_from": t(&a.valid_from), "valid_until": t(&a.valid_until)})
}

/// `ree provenance`: JSON (the README's contract) or a table.
pub fn provenance(p: &pb::Provenance, json: bool) -> Result<()> {
    let r = p.recycled_share.unwrap_or_default();
    if json {
        let v = provenance_json(p);
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("lot       {}", p.lot_id);
    println!("head      {} (seq {})", p.head, p.head_seq);
    println!(
        "claim     {} (ISO 22095; attributed by {})",
        p.claim, p.basis
    );
    println!("attributed {}", tonnes(p.attributed_g));
    println!("origin:");
    let mut o: Vec<_> = p.origin_shares.iter().collect();
    o.sort_by(|a, b| b.1.total_cmp(a.1));
    for (c, s) in o {
        println!("  {c}  {:>6.2}%", s * 100.0);
    }
    println!(
        "recycled  {:.2}% (pre-consumer {:.2}%, post-consumer {:.2}%)",
        r.total * 100.0,
        r.pre_consumer * 100.0,
        r.post_consumer * 100.0
    );
    for e in &p.elements {
        let parts: Vec<String> = e
            .sources
            .iter()
            .map(|s| format!("{} {} {:.1}%", s.country, s.feed, s.share * 100.0))
            .collect();
        println!(
            "  {:<3} {:>12}: {}",
            e.element,
            tonnes(e.grams),
            parts.join(", ")
        );
    }
    for f in &p.facilities {
        println!("processed at {} ({})", f.name, f.country);
    }
    crate::output_crma::print_crma(&p.crma);
    crate::output_crma::print_reassays(&p.upstream_lots);
    println!("upstream: {}", count(p.upstream_lots.len() as u64, "lot"));
    let rows: Vec<Vec<String>> = p
        .upstream_lots
        .iter()
        .map(|u| {
            vec![
                u.lot_id.clone(),
                kind_name(u.kind).to_string(),
                u.country.clone(),
                u.feed.clone(),
                u.seq.to_string(),
                u.head.clone(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        table(
            &["LOT", "KIND", "COUNTRY", "FEED", "SEQ", "HEAD"],
            &rows,
            &[4],
        );
    }
    for u in &p.upstream_lots {
        for a in &u.adjustments {
            let by = match a.countersigned_by.as_str() {
                "" => "no countersignature".to_string(),
                p => format!("countersigned by {p}"),
            };
            println!(
                "adjusted {} {:+} g: {} ({by})",
                u.lot_id, a.delta_g, a.reason
            );
        }
        for a in &u.attestations {
            let v = attestation_json(a);
            println!(
                "attested {} {}{} by auditor {}, valid {} to {}",
                u.lot_id,
                a.kind,
                if a.method.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", a.method)
                },
                a.auditor,
                v["valid_from"].as_str().unwrap_or_default(),
                v["valid_until"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// The snake_case name of a wire facility kind.
pub fn facility_kind_name(k: i32) -> &'static str {
    u8::try_from(k)
        .ok()
        .and_then(ree_core::event::FacilityKind::from_code)
        .map_or("unknown", |k| k.name())
}

fn role_name(r: i32) -> &'static str {
    u8::try_from(r)
        .ok()
        .and_then(ree_core::event::Role::from_code)
        .map_or("unknown", |r| r.name())
}

fn participant_json(p: &pb::Participant) -> Value {
    json!({
        "participant": p.participant_id,
        "name": p.name,
        "role": role_name(p.role),
        "country": p.country,
        "registered_at": p.registered_at,
        "suspended_at": (p.suspended_at != 0).then_some(p.suspended_at),
        "keys": p.keys.iter().map(|k| json!({
            "public_key": k.public_key,
            "added_at": k.added_at,
            "revoked_at": (k.revoked_at != 0).then_some(k.revoked_at),
        })).collect::<Vec<_>>(),
    })
}

/// Participants, one per line (or JSON).
pub fn participants(ps: &[pb::Participant], json: bool) -> Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&ps.iter().map(participant_json).collect::<Vec<_>>())?
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = ps
        .iter()
        .map(|p| {
            let active = p.keys.iter().filter(|k| k.revoked_at == 0).count() as u64;
            vec![
                p.participant_id.clone(),
                role_name(p.role).to_string(),
                p.country.clone(),
                if p.suspended_at != 0 {
                    "suspended"
                } else {
                    "active"
                }
                .to_string(),
                count(active, "key"),
                p.name.clone(),
            ]
        })
        .collect();
    table(
        &["PARTICIPANT", "ROLE", "COUNTRY", "STATUS", "KEYS", "NAME"],
        &rows,
        &[],
    );
    Ok(())
}

/// `ree whoami`: one line, the participant the token belongs to.
pub fn whoami(p: &pb::Participant) {
    let active = p.keys.iter().filter(|k| k.revoked_at == 0).count() as u64;
    println!(
        "{}, {} ({}), participant {}, {}{}",
        p.name,
        role_name(p.role),
        p.country,
        p.participant_id,
        count(active, "active key"),
        if p.suspended_at != 0 {
            ", SUSPENDED"
        } else {
            ""
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_plural_unless_one() {
        assert_eq!(count(0, "record"), "0 records");
        assert_eq!(count(1, "record"), "1 record");
        assert_eq!(count(2, "active key"), "2 active keys");
    }

    #[test]
    fn table_columns_line_up_whatever_the_content() {
        let rows = vec![
            vec![
                "plant_operator".to_string(),
                "1".to_string(),
                "Caremag".to_string(),
            ],
            vec!["auditor".to_string(), "12345".to_string(), "X".to_string()],
        ];
        let lines = table_lines(&["ROLE", "N", "NAME"], &rows, &[1]);
        assert_eq!(lines[0], "ROLE                N  NAME");
        assert_eq!(lines[1], "plant_operator      1  Caremag");
        assert_eq!(lines[2], "auditor         12345  X");
    }
}
