//! Wire → domain: errors name the field, and no input (JSON lines, field values) panics.

use proptest::prelude::*;
use ree_core::EventBody;
use ree_proto::convert::body_from_pb;
use ree_proto::pbjson_types::Timestamp;
use ree_proto::v1 as pb;

#[test]
fn errors_name_the_field() {
    let mut b = pb::EventBody {
        event_id: uuid::Uuid::now_v7().to_string(),
        occurred_at: Some(Timestamp {
            seconds: 1_790_000_000,
            nanos: 0,
        }),
        expected_head: String::new(),
        kind: Some(pb::event_body::Kind::OreReceipt(pb::OreReceipt {
            facility_id: uuid::Uuid::now_v7().to_string(),
            lot_id: uuid::Uuid::now_v7().to_string(),
            supplier: "s".into(),
            mine_site: "m".into(),
            country: "XX".into(),
            mass_g: 1,
            reo_grade_ppm: 1,
            assay: vec![],
            documents: vec![],
        })),
    };
    assert_eq!(body_from_pb(&b).unwrap_err().field, "ore_receipt.country");
    if let Some(pb::event_body::Kind::OreReceipt(o)) = &mut b.kind {
        o.country = "AU".into();
        o.assay = vec![pb::ElementContent {
            element: "Xx".into(),
            ppm: 1,
        }];
    }
    assert_eq!(
        body_from_pb(&b).unwrap_err().field,
        "ore_receipt.assay[0].element"
    );
    if let Some(pb::event_body::Kind::OreReceipt(o)) = &mut b.kind {
        o.assay = vec![
            pb::ElementContent {
                element: "Nd".into(),
                ppm: 600_000,
            },
            pb::ElementContent {
                element: "Pr".into(),
                ppm: 600_000,
            },
        ];
    }
    assert_eq!(body_from_pb(&b).unwrap_err().field, "ore_receipt.assay");
    b.kind = None;
    assert_eq!(body_from_pb(&b).unwrap_err().field, "kind");
    b.event_id = "nope".into();
    assert_eq!(body_from_pb(&b).unwrap_err().field, "event_id");
}

const VALID_LINE: &str = r#"{"eventId": "01936f00-0000-7000-8000-000000000001", "occurredAt": "2025-01-01T00:00:00Z", "oreReceipt": {"lotId": "01936f00-0000-7000-8000-000000000002", "facilityId": "01936f00-0000-7000-8000-000000000003", "supplier": "s", "mineSite": "m", "country": "AU", "massG": "1000", "reoGradePpm": 1, "assay": [{"element": "Nd", "ppm": 60000}]}}"#;

/// What `ree submit` does with a line: protobuf JSON, then the domain.
fn parse_line(line: &str) -> Option<EventBody> {
    let b: pb::EventBody = serde_json::from_str(line).ok()?;
    body_from_pb(&b).ok()
}

#[test]
fn the_valid_line_parses() {
    assert!(parse_line(VALID_LINE).is_some());
}

proptest! {
    // JSON lines: arbitrary text and byte-level mutations of a valid line never panic.
    #[test]
    fn json_lines_never_panic(s in ".{0,300}") {
        let _ = parse_line(&s);
    }

    #[test]
    fn mutated_json_lines_never_panic(cuts in prop::collection::vec((any::<prop::sample::Index>(), any::<char>()), 1..6)) {
        let mut chars: Vec<char> = VALID_LINE.chars().collect();
        for (i, c) in cuts {
            let i = i.index(chars.len());
            chars[i] = c;
        }
        let line: String = chars.into_iter().collect();
        if let Some(b) = parse_line(&line) {
            prop_assert_eq!(EventBody::decode(&b.encode().unwrap()).unwrap(), b);
        }
    }

    // Wire → domain never panics, whatever the field values (structure-aware fuzzing).
    #[test]
    fn conversion_never_panics(id in ".{0,40}", lot in ".{0,40}", c in ".{0,4}", mass in any::<u64>(), ppm in any::<u32>(), el in ".{0,3}", secs in any::<i64>(), nanos in any::<i32>(), cat in any::<i32>(), head in ".{0,70}") {
        let facility_id = lot_or_id(&id);
        let b = pb::EventBody {
            event_id: id,
            occurred_at: Some(Timestamp { seconds: secs, nanos }),
            expected_head: head,
            kind: Some(pb::event_body::Kind::MagnetIntake(pb::MagnetIntake {
                lot_id: lot, recycler: "r".into(), category: cat, scrap: cat, country: c, mass_g: mass,
                content: vec![pb::ElementContent { element: el, ppm }], documents: vec![],
                facility_id,
            })),
        };
        if let Ok(d) = body_from_pb(&b) {
            // Whatever converts also encodes and decodes to the same body.
            prop_assert_eq!(EventBody::decode(&d.encode().unwrap()).unwrap(), d);
        }
    }
}

/// A valid facility id half the time (so conversion gets past it), else the fuzzed text.
fn lot_or_id(s: &str) -> String {
    if s.len().is_multiple_of(2) {
        uuid::Uuid::from_u128(s.len() as u128).to_string()
    } else {
        s.to_string()
    }
}
