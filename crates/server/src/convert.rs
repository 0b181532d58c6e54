//! Conversions between the wire types (`ree.v1`) and the domain (`ree-core`). Errors name the
//! field by its path in the request, so a client knows exactly what to fix.

use std::collections::HashMap;

use ree_core::element::{Element, Oxide};
use ree_core::event::{
    self as ev, Composition, DocKind, EventKind, MagnetCategory, Role, ScrapClass,
};
use ree_core::provenance::Provenance;
use ree_core::registry::{Participant, Registry};
use ree_core::state::{LotDetail, LotKind, LotState};
use ree_core::{
    Country, EventBody, EventId, FieldError, Hash32, LotId, ParticipantId, Record, UtcMicros,
};
use ree_ledger::pbjson_types::Timestamp;
use ree_ledger::v1 as pb;

fn field<T>(r: Result<T, FieldError>, path: &str) -> Result<T, FieldError> {
    r.map_err(|e| e.at(path))
}

fn uuid(s: &str, path: &str) -> Result<uuid::Uuid, FieldError> {
    if s.is_empty() {
        return Err(FieldError::new(path, "is required (a UUID)"));
    }
    uuid::Uuid::parse_str(s).map_err(|e| FieldError::new(path, format!("{s:?} is not a UUID: {e}")))
}

/// Parses a participant id field.
pub fn participant_id(s: &str, path: &str) -> Result<ParticipantId, FieldError> {
    uuid(s, path).map(ParticipantId)
}

/// Parses a lot id field.
pub fn lot_id(s: &str, path: &str) -> Result<LotId, FieldError> {
    uuid(s, path).map(LotId)
}

fn country(s: &str, path: &str) -> Result<Country, FieldError> {
    if s.is_empty() {
        return Err(FieldError::new(path, "is required (ISO 3166-1 alpha-2)"));
    }
    field(Country::parse(s), path)
}

fn digest(s: &str, path: &str) -> Result<Hash32, FieldError> {
    field(Hash32::from_hex(s), path)
}

fn composition(v: &[pb::ElementContent], path: &str) -> Result<Composition, FieldError> {
    let mut out = Vec::with_capacity(v.len());
    for (i, c) in v.iter().enumerate() {
        let e = field(Element::parse(&c.element), &format!("{path}[{i}].element"))?;
        out.push((e, c.ppm));
    }
    field(Composition::new(out), path)
}

fn documents(v: &[pb::Document], path: &str) -> Result<Vec<ev::Document>, FieldError> {
    if v.len() > ev::MAX_DOCUMENTS {
        return Err(FieldError::new(
            path,
            format!("{} documents, at most {}", v.len(), ev::MAX_DOCUMENTS),
        ));
    }
    let mut out: Vec<ev::Document> = Vec::with_capacity(v.len());
    for (i, d) in v.iter().enumerate() {
        let kind = u8::try_from(d.kind)
            .ok()
            .and_then(DocKind::from_code)
            .ok_or_else(|| {
                FieldError::new(
                    format!("{path}[{i}].kind"),
                    format!("unknown document kind {}", d.kind),
                )
            })?;
        out.push(ev::Document {
            kind,
            digest: digest(&d.digest, &format!("{path}[{i}].digest"))?,
        });
    }
    out.sort();
    if out.windows(2).any(|w| w[0] == w[1]) {
        return Err(FieldError::new(path, "the same document is listed twice"));
    }
    Ok(out)
}

fn text(s: &str, path: &str, max: usize) -> Result<String, FieldError> {
    if s.len() > max {
        return Err(FieldError::new(
            path,
            format!("is {} bytes, at most {max} allowed", s.len()),
        ));
    }
    Ok(s.to_string())
}

fn name(s: &str, path: &str) -> Result<String, FieldError> {
    text(s, path, ev::MAX_NAME_LEN)
}

fn enum_code<T>(
    v: i32,
    path: &str,
    what: &str,
    f: impl Fn(u8) -> Option<T>,
) -> Result<T, FieldError> {
    u8::try_from(v)
        .ok()
        .and_then(f)
        .ok_or_else(|| FieldError::new(path, format!("{v} is not a valid {what}")))
}

/// Converts a wire body to the domain (structure only; `EventBody::validate` checks the rest).
pub fn body_from_pb(b: &pb::EventBody) -> Result<EventBody, FieldError> {
    let event_id = EventId(uuid(&b.event_id, "event_id")?);
    let occurred_at = match &b.occurred_at {
        None => return Err(FieldError::new("occurred_at", "is required")),
        Some(t) => UtcMicros::from_seconds_nanos(t.seconds, t.nanos)
            .ok_or_else(|| FieldError::new("occurred_at", "is out of range"))?,
    };
    let expected_head = if b.expected_head.is_empty() {
        None
    } else {
        Some(digest(&b.expected_head, "expected_head")?)
    };
    use pb::event_body::Kind as K;
    let kind = match &b.kind {
        None => {
            return Err(FieldError::new(
                "kind",
                "one event kind (ore_receipt, magnet_intake, ...) must be set",
            ))
        }
        Some(K::OreReceipt(o)) => EventKind::OreReceipt(ev::OreReceipt {
            lot: lot_id(&o.lot_id, "ore_receipt.lot_id")?,
            supplier: name(&o.supplier, "ore_receipt.supplier")?,
            mine_site: name(&o.mine_site, "ore_receipt.mine_site")?,
            country: country(&o.country, "ore_receipt.country")?,
            mass_g: o.mass_g,
            reo_grade_ppm: o.reo_grade_ppm,
            assay: composition(&o.assay, "ore_receipt.assay")?,
            documents: documents(&o.documents, "ore_receipt.documents")?,
        }),
        Some(K::MagnetIntake(m)) => EventKind::MagnetIntake(ev::MagnetIntake {
            lot: lot_id(&m.lot_id, "magnet_intake.lot_id")?,
            recycler: name(&m.recycler, "magnet_intake.recycler")?,
            category: enum_code(
                m.category,
                "magnet_intake.category",
                "magnet category",
                MagnetCategory::from_code,
            )?,
            scrap: enum_code(
                m.scrap,
                "magnet_intake.scrap",
                "scrap class (pre or post consumer)",
                ScrapClass::from_code,
            )?,
            country: country(&m.country, "magnet_intake.country")?,
            mass_g: m.mass_g,
            content: composition(&m.content, "magnet_intake.content")?,
            documents: documents(&m.documents, "magnet_intake.documents")?,
        }),
        Some(K::CampaignOpened(c)) => EventKind::CampaignOpened(ev::CampaignOpened {
            campaign: lot_id(&c.campaign_id, "campaign_opened.campaign_id")?,
            facility: name(&c.facility, "campaign_opened.facility")?,
            country: country(&c.country, "campaign_opened.country")?,
        }),
        Some(K::InputCharged(c)) => EventKind::InputCharged(ev::InputCharged {
            campaign: lot_id(&c.campaign_id, "input_charged.campaign_id")?,
            input: lot_id(&c.input_lot_id, "input_charged.input_lot_id")?,
            mass_g: c.mass_g,
        }),
        Some(K::OutputProduced(p)) => EventKind::OutputProduced(ev::OutputProduced {
            campaign: lot_id(&p.campaign_id, "output_produced.campaign_id")?,
            output: lot_id(&p.output_lot_id, "output_produced.output_lot_id")?,
            oxide: field(
                Oxide::parse(&p.oxide, p.ndpr_nd2o3_ppm),
                "output_produced.oxide",
            )?,
            mass_g: p.mass_g,
            purity_ppm: p.purity_ppm,
        }),
        Some(K::CampaignClosed(c)) => EventKind::CampaignClosed(ev::CampaignClosed {
            campaign: lot_id(&c.campaign_id, "campaign_closed.campaign_id")?,
            losses_g: c.losses_g,
        }),
        Some(K::Shipment(s)) => EventKind::Shipment(ev::Shipment {
            lot: lot_id(&s.lot_id, "shipment.lot_id")?,
            mass_g: s.mass_g,
            customer: name(&s.customer, "shipment.customer")?,
            destination: country(&s.destination_country, "shipment.destination_country")?,
            document: digest(&s.document_digest, "shipment.document_digest")?,
        }),
        Some(K::AssayRecorded(a)) => EventKind::AssayRecorded(ev::AssayRecorded {
            lot: lot_id(&a.lot_id, "assay_recorded.lot_id")?,
            lab: name(&a.lab, "assay_recorded.lab")?,
            content: composition(&a.content, "assay_recorded.content")?,
            certificate: digest(&a.certificate_digest, "assay_recorded.certificate_digest")?,
        }),
        Some(K::Adjustment(a)) => EventKind::Adjustment(ev::Adjustment {
            lot: lot_id(&a.lot_id, "adjustment.lot_id")?,
            delta_g: a.delta_g,
            reason: text(&a.reason, "adjustment.reason", ev::MAX_REASON_LEN)?,
        }),
        Some(K::ParticipantRegistered(r)) => {
            EventKind::ParticipantRegistered(ev::ParticipantRegistered {
                participant: participant_id(
                    &r.participant_id,
                    "participant_registered.participant_id",
                )?,
                name: name(&r.name, "participant_registered.name")?,
                role: enum_code(
                    r.role,
                    "participant_registered.role",
                    "role",
                    Role::from_code,
                )?,
                country: country(&r.country, "participant_registered.country")?,
                public_key: digest(&r.public_key, "participant_registered.public_key")?.0,
                token_hash: if r.token_hash.is_empty() {
                    Hash32::ZERO
                } else {
                    digest(&r.token_hash, "participant_registered.token_hash")?
                },
            })
        }
        Some(K::KeyAdded(k)) => EventKind::KeyAdded(ev::KeyAdded {
            participant: participant_id(&k.participant_id, "key_added.participant_id")?,
            public_key: digest(&k.public_key, "key_added.public_key")?.0,
        }),
        Some(K::KeyRevoked(k)) => EventKind::KeyRevoked(ev::KeyRevoked {
            participant: participant_id(&k.participant_id, "key_revoked.participant_id")?,
            public_key: digest(&k.public_key, "key_revoked.public_key")?.0,
            reason: text(&k.reason, "key_revoked.reason", ev::MAX_REASON_LEN)?,
        }),
        Some(K::ParticipantSuspended(p)) => {
            EventKind::ParticipantSuspended(ev::ParticipantSuspended {
                participant: participant_id(
                    &p.participant_id,
                    "participant_suspended.participant_id",
                )?,
                reason: text(
                    &p.reason,
                    "participant_suspended.reason",
                    ev::MAX_REASON_LEN,
                )?,
            })
        }
        Some(K::TokenIssued(t)) => EventKind::TokenIssued(ev::TokenIssued {
            participant: participant_id(&t.participant_id, "token_issued.participant_id")?,
            token_hash: digest(&t.token_hash, "token_issued.token_hash")?,
        }),
    };
    Ok(EventBody {
        event_id,
        occurred_at,
        expected_head,
        kind,
    })
}

/// A timestamp on the wire.
pub fn ts(t: UtcMicros) -> Timestamp {
    let (seconds, nanos) = t.to_seconds_nanos();
    Timestamp { seconds, nanos }
}

fn comp_pb(c: &Composition) -> Vec<pb::ElementContent> {
    c.entries()
        .iter()
        .map(|(e, p)| pb::ElementContent {
            element: e.symbol().into(),
            ppm: *p,
        })
        .collect()
}

fn docs_pb(d: &[ev::Document]) -> Vec<pb::Document> {
    d.iter()
        .map(|d| pb::Document {
            kind: d.kind as i32,
            digest: d.digest.to_hex(),
        })
        .collect()
}

/// The wire form of a domain body (for reading events back).
pub fn body_to_pb(b: &EventBody) -> pb::EventBody {
    use pb::event_body::Kind as K;
    let kind = match &b.kind {
        EventKind::OreReceipt(o) => K::OreReceipt(pb::OreReceipt {
            lot_id: o.lot.to_string(),
            supplier: o.supplier.clone(),
            mine_site: o.mine_site.clone(),
            country: o.country.to_string(),
            mass_g: o.mass_g,
            reo_grade_ppm: o.reo_grade_ppm,
            assay: comp_pb(&o.assay),
            documents: docs_pb(&o.documents),
        }),
        EventKind::MagnetIntake(m) => K::MagnetIntake(pb::MagnetIntake {
            lot_id: m.lot.to_string(),
            recycler: m.recycler.clone(),
            category: m.category as i32,
            scrap: m.scrap as i32,
            country: m.country.to_string(),
            mass_g: m.mass_g,
            content: comp_pb(&m.content),
            documents: docs_pb(&m.documents),
        }),
        EventKind::CampaignOpened(c) => K::CampaignOpened(pb::CampaignOpened {
            campaign_id: c.campaign.to_string(),
            facility: c.facility.clone(),
            country: c.country.to_string(),
        }),
        EventKind::InputCharged(c) => K::InputCharged(pb::InputCharged {
            campaign_id: c.campaign.to_string(),
            input_lot_id: c.input.to_string(),
            mass_g: c.mass_g,
        }),
        EventKind::OutputProduced(p) => K::OutputProduced(pb::OutputProduced {
            campaign_id: p.campaign.to_string(),
            output_lot_id: p.output.to_string(),
            oxide: match p.oxide {
                Oxide::NdPr { .. } => "NdPr".into(),
                o => o.formula(),
            },
            ndpr_nd2o3_ppm: match p.oxide {
                Oxide::NdPr { nd2o3_ppm } => nd2o3_ppm,
                _ => 0,
            },
            mass_g: p.mass_g,
            purity_ppm: p.purity_ppm,
        }),
        EventKind::CampaignClosed(c) => K::CampaignClosed(pb::CampaignClosed {
            campaign_id: c.campaign.to_string(),
            losses_g: c.losses_g,
        }),
        EventKind::Shipment(s) => K::Shipment(pb::Shipment {
            lot_id: s.lot.to_string(),
            mass_g: s.mass_g,
            customer: s.customer.clone(),
            destination_country: s.destination.to_string(),
            document_digest: s.document.to_hex(),
        }),
        EventKind::AssayRecorded(a) => K::AssayRecorded(pb::AssayRecorded {
            lot_id: a.lot.to_string(),
            lab: a.lab.clone(),
            content: comp_pb(&a.content),
            certificate_digest: a.certificate.to_hex(),
        }),
        EventKind::Adjustment(a) => K::Adjustment(pb::Adjustment {
            lot_id: a.lot.to_string(),
            delta_g: a.delta_g,
            reason: a.reason.clone(),
        }),
        EventKind::ParticipantRegistered(r) => {
            K::ParticipantRegistered(pb::ParticipantRegistered {
                participant_id: r.participant.to_string(),
                name: r.name.clone(),
                role: r.role as i32,
                country: r.country.to_string(),
                public_key: Hash32(r.public_key).to_hex(),
                token_hash: if r.token_hash == Hash32::ZERO {
                    String::new()
                } else {
                    r.token_hash.to_hex()
                },
            })
        }
        EventKind::KeyAdded(k) => K::KeyAdded(pb::KeyAdded {
            participant_id: k.participant.to_string(),
            public_key: Hash32(k.public_key).to_hex(),
        }),
        EventKind::KeyRevoked(k) => K::KeyRevoked(pb::KeyRevoked {
            participant_id: k.participant.to_string(),
            public_key: Hash32(k.public_key).to_hex(),
            reason: k.reason.clone(),
        }),
        EventKind::ParticipantSuspended(p) => K::ParticipantSuspended(pb::ParticipantSuspended {
            participant_id: p.participant.to_string(),
            reason: p.reason.clone(),
        }),
        EventKind::TokenIssued(t) => K::TokenIssued(pb::TokenIssued {
            participant_id: t.participant.to_string(),
            token_hash: t.token_hash.to_hex(),
        }),
    };
    pb::EventBody {
        event_id: b.event_id.to_string(),
        occurred_at: Some(ts(b.occurred_at)),
        expected_head: b.expected_head.map(|h| h.to_hex()).unwrap_or_default(),
        kind: Some(kind),
    }
}

/// The wire form of a stored record (its body decoded for reading, its exact bytes kept).
pub fn event_pb(rec: &Record, bytes: &[u8], hash: Hash32) -> pb::Event {
    pb::Event {
        lot_id: rec.lot.to_string(),
        seq: rec.seq,
        global_seq: rec.global_seq,
        hash: hash.to_hex(),
        prev_hash: rec.prev.to_hex(),
        recorded_at: Some(ts(rec.recorded_at)),
        link: rec.link.map(|l| pb::RecordRef {
            lot_id: l.lot.to_string(),
            seq: l.seq,
            global_seq: 0,
            hash: l.hash.to_hex(),
        }),
        body: EventBody::decode(&rec.body).ok().map(|b| body_to_pb(&b)),
        record: bytes.to_vec(),
        signature: rec.signature.map(|s| pb::Signature {
            public_key: s.public_key.to_vec(),
            signature: s.signature.to_vec(),
        }),
        registry_head: rec.registry.to_hex(),
    }
}

/// The wire form of a participant.
pub fn participant_pb(p: &Participant, reg: &Registry) -> pb::Participant {
    pb::Participant {
        participant_id: p.id.to_string(),
        name: p.name.to_string(),
        role: p.role as i32,
        country: p.country.to_string(),
        keys: p
            .keys
            .iter()
            .map(|k| {
                let st = reg.key(k);
                pb::ParticipantKey {
                    public_key: Hash32(*k).to_hex(),
                    added_at: st.map_or(0, |s| s.added_at),
                    revoked_at: st.and_then(|s| s.revoked_at).unwrap_or(0),
                }
            })
            .collect(),
        registered_at: p.registered_at,
        suspended_at: p.suspended_at.unwrap_or(0),
    }
}

/// Wire enum of a lot kind.
pub fn kind_pb(k: LotKind) -> pb::LotKind {
    match k {
        LotKind::Ore => pb::LotKind::Ore,
        LotKind::Recycled => pb::LotKind::Recycled,
        LotKind::Campaign => pb::LotKind::Campaign,
        LotKind::Oxide => pb::LotKind::Oxide,
        LotKind::Registry => pb::LotKind::Registry,
    }
}

/// Domain lot kind of a wire enum (None for UNSPECIFIED).
pub fn kind_from_pb(k: i32) -> Result<Option<LotKind>, FieldError> {
    match pb::LotKind::try_from(k) {
        Ok(pb::LotKind::Unspecified) => Ok(None),
        Ok(pb::LotKind::Ore) => Ok(Some(LotKind::Ore)),
        Ok(pb::LotKind::Recycled) => Ok(Some(LotKind::Recycled)),
        Ok(pb::LotKind::Campaign) => Ok(Some(LotKind::Campaign)),
        Ok(pb::LotKind::Oxide) => Ok(Some(LotKind::Oxide)),
        Ok(pb::LotKind::Registry) => Ok(Some(LotKind::Registry)),
        Err(_) => Err(FieldError::new("kind", format!("{k} is not a lot kind"))),
    }
}

/// The wire form of a lot's state.
pub fn lot_pb(l: &LotState) -> pb::Lot {
    let mut a: HashMap<String, String> = HashMap::new();
    let mut put = |k: &str, v: String| {
        a.insert(k.to_string(), v);
    };
    match &l.detail {
        LotDetail::Ore {
            supplier,
            mine_site,
            country,
            reo_grade_ppm,
            documents,
            assay,
        } => {
            put("supplier", supplier.to_string());
            put("mine_site", mine_site.to_string());
            put("country", country.to_string());
            put("feed", "mined".into());
            put("reo_grade_ppm", reo_grade_ppm.to_string());
            put("documents", documents.len().to_string());
            put(
                "assay",
                assay
                    .entries()
                    .iter()
                    .map(|(e, p)| format!("{}={p}", e.symbol()))
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        LotDetail::Recycled {
            recycler,
            category,
            scrap,
            country,
            documents,
            content,
        } => {
            put("recycler", recycler.to_string());
            put("category", category.name().into());
            put("scrap", scrap.name().into());
            put("country", country.to_string());
            put(
                "feed",
                l.source().map(|s| s.feed.name()).unwrap_or_default().into(),
            );
            put("documents", documents.len().to_string());
            put(
                "content",
                content
                    .entries()
                    .iter()
                    .map(|(e, p)| format!("{}={p}", e.symbol()))
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        LotDetail::Campaign(c) => {
            put("facility", c.facility.to_string());
            put("country", c.country.to_string());
            put("closed", c.closed.to_string());
            put("charged_g", c.charged_g.to_string());
            put("produced_g", c.produced_g.to_string());
            put("losses_g", c.losses_g.to_string());
            put("charges", c.charges.to_string());
            put("outputs", c.outputs.to_string());
        }
        LotDetail::Oxide {
            oxide,
            purity_ppm,
            attribution,
        } => {
            put("oxide", oxide.formula());
            if let Oxide::NdPr { nd2o3_ppm } = oxide {
                put("ndpr_nd2o3_ppm", nd2o3_ppm.to_string());
            }
            put("purity_ppm", purity_ppm.to_string());
            put("campaign", attribution.campaign.to_string());
            put("facility", attribution.facility.to_string());
            put("country", attribution.facility_country.to_string());
        }
        LotDetail::Registry(r) => {
            put("participants", r.participants().count().to_string());
        }
    }
    put("owner", l.owner.to_string());
    pb::Lot {
        lot_id: l.id.to_string(),
        kind: kind_pb(l.kind()) as i32,
        balance_g: l.balance_g,
        head: l.head.to_hex(),
        head_seq: l.head_seq(),
        events: l.next_seq,
        created_at: Some(ts(l.created_at)),
        attributes: a,
    }
}

/// The wire form of a provenance answer.
pub fn provenance_pb(
    p: &Provenance,
    denied: &[Country],
    upstream: Vec<pb::UpstreamLot>,
) -> pb::Provenance {
    let total = p.total_g();
    let share = |g: u64, of: u64| if of == 0 { 0.0 } else { g as f64 / of as f64 };
    let r = p.recycled_share();
    pb::Provenance {
        lot_id: p.lot.to_string(),
        head: p.head.to_hex(),
        head_seq: p.head_seq,
        claim: p.claim(denied, denied).name().into(),
        basis: p.basis.name().into(),
        origin_shares: p
            .origin_shares()
            .into_iter()
            .map(|(c, s)| (c.to_string(), s))
            .collect(),
        recycled_share: Some(pb::RecycledShare {
            total: r.total,
            pre_consumer: r.pre_consumer,
            post_consumer: r.post_consumer,
        }),
        sources: p
            .by_source
            .iter()
            .map(|(s, g)| pb::SourceShare {
                country: s.country.to_string(),
                feed: s.feed.name().into(),
                grams: *g,
                share: share(*g, total),
            })
            .collect(),
        elements: p
            .by_element
            .iter()
            .map(|(e, m)| {
                let eg: u64 = m.values().sum();
                pb::ElementShares {
                    element: e.symbol().into(),
                    grams: eg,
                    sources: m
                        .iter()
                        .map(|(s, g)| pb::SourceShare {
                            country: s.country.to_string(),
                            feed: s.feed.name().into(),
                            grams: *g,
                            share: share(*g, eg),
                        })
                        .collect(),
                }
            })
            .collect(),
        facilities: p
            .facilities
            .iter()
            .map(|(n, c)| pb::Facility {
                name: n.to_string(),
                country: c.to_string(),
            })
            .collect(),
        upstream_lots: upstream,
        attributed_g: total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    const VALID_LINE: &str = r#"{"eventId": "01936f00-0000-7000-8000-000000000001", "occurredAt": "2025-01-01T00:00:00Z", "oreReceipt": {"lotId": "01936f00-0000-7000-8000-000000000002", "supplier": "s", "mineSite": "m", "country": "AU", "massG": "1000", "reoGradePpm": 1, "assay": [{"element": "Nd", "ppm": 60000}]}}"#;

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
            let b = pb::EventBody {
                event_id: id,
                occurred_at: Some(Timestamp { seconds: secs, nanos }),
                expected_head: head,
                kind: Some(pb::event_body::Kind::MagnetIntake(pb::MagnetIntake {
                    lot_id: lot, recycler: "r".into(), category: cat, scrap: cat, country: c, mass_g: mass,
                    content: vec![pb::ElementContent { element: el, ppm }], documents: vec![],
                })),
            };
            if let Ok(d) = body_from_pb(&b) {
                // Whatever converts also encodes and decodes to the same body.
                prop_assert_eq!(EventBody::decode(&d.encode().unwrap()).unwrap(), d);
            }
        }
    }
}
