//! `ree provenance`'s EU CRMA fields: the `crma` object of `--json`, keyed by element symbol,
//! and the text lines (the same as `ree-verify`'s).

use ree_proto::v1 as pb;
use serde_json::{json, Map, Value};

fn time(t: &Option<ree_proto::pbjson_types::Timestamp>) -> String {
    t.as_ref()
        .and_then(|t| ree_core::UtcMicros::from_seconds_nanos(t.seconds, t.nanos))
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// `{"Nd": {"post_consumer_recycled_share": .., "countries": {..}, "facilities": [..]}, ..}`.
pub fn crma_json(c: &[pb::ElementCrma]) -> Value {
    let mut m = Map::new();
    for e in c {
        let facilities: Vec<Value> = e
            .facilities
            .iter()
            .map(|f| {
                json!({"lot": f.lot_id, "facility": f.facility_id, "name": f.name, "kind": f.kind,
                    "country": f.country, "received_at": time(&f.received_at),
                    "certifications": f.certifications.iter().map(|c| json!({
                        "scheme": c.scheme, "certificate_id": c.certificate_id,
                        "valid_until": time(&c.valid_until)})).collect::<Vec<_>>()})
            })
            .collect();
        m.insert(
            e.element.clone(),
            json!({
                "attributed_g": e.attributed_g,
                "post_consumer_g": e.post_consumer_g,
                "post_consumer_recycled_share": e.post_consumer_share,
                "countries": {
                    "extraction": e.extraction_countries,
                    "recycling": e.recycling_countries,
                    "processing": e.processing_countries,
                    "refining": e.refining_countries,
                },
                "facilities": facilities,
            }),
        );
    }
    Value::Object(m)
}

/// One line per element: the Art. 29 post-consumer recycled share and the Art. 31 countries.
pub fn print_crma(c: &[pb::ElementCrma]) {
    for e in c {
        let line = ree_core::crma::text_line(
            &e.element,
            e.post_consumer_share,
            (e.post_consumer_g, e.attributed_g),
            [
                &e.extraction_countries,
                &e.recycling_countries,
                &e.processing_countries,
                &e.refining_countries,
            ],
            e.facilities.len(),
        );
        println!("{line}");
    }
}

/// Each re-assay past the default tolerance, per upstream lot.
pub fn print_reassays(lots: &[pb::UpstreamLot]) {
    for u in lots {
        for f in &u.reassay_flags {
            println!(
                "reassayed {} seq {} {} {} -> {} ppm (beyond the default tolerance)",
                u.lot_id, f.seq, f.element, f.from_ppm, f.to_ppm
            );
        }
    }
}
