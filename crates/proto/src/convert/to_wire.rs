//! Domain → wire: what the server answers (records, lots, participants, provenance).

use std::collections::HashMap;

use ree_core::element::Oxide;
use ree_core::event::{self as ev, Composition, EventKind};
use ree_core::provenance::Provenance;
use ree_core::registry::{Participant, Registry};
use ree_core::state::{LotDetail, LotKind, LotState};
use ree_core::{Country, EventBody, Hash32, Record, UtcMicros};

use crate::pbjson_types::Timestamp;
use crate::v1 as pb;

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

/// The wire form of a domain body (for reading events back). One arm per event kind: a flat
/// table is easier to check against the proto than a split one, hence its length.
pub fn body_to_pb(b: &EventBody) -> pb::EventBody {
    use pb::event_body::Kind as K;
    let kind = match &b.kind {
        EventKind::OreReceipt(o) => K::OreReceipt(pb::OreReceipt {
            lot_id: o.lot.to_string(),
            facility_id: o.facility.to_string(),
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
            facility_id: m.facility.to_string(),
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
            facility_id: c.facility_id.to_string(),
            facility: c.facility.clone(),
            country: c.country.to_string(),
        }),
        EventKind::InputCharged(c) => K::InputCharged(pb::InputCharged {
            campaign_id: c.campaign.to_string(),
            input_lot_id: c.input.to_string(),
            mass_g: c.mass_g,
            input_head: c.input_head.to_hex(),
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
            facility_id: a.facility.map(|f| f.to_string()).unwrap_or_default(),
            lab: a.lab.clone(),
            content: comp_pb(&a.content),
            certificate_digest: a.certificate.to_hex(),
        }),
        EventKind::Adjustment(a) => K::Adjustment(pb::Adjustment {
            lot_id: a.lot.to_string(),
            delta_g: a.delta_g,
            reason: a.reason.clone(),
            countersignature: a.countersignature.map(|c| pb::Countersignature {
                public_key: Hash32(c.public_key).to_hex(),
                signature: c.signature.iter().map(|b| format!("{b:02x}")).collect(),
            }),
        }),
        EventKind::Attestation(a) => K::Attestation(pb::Attestation {
            lot_id: a.lot.to_string(),
            event_hash: a.event.map(|h| h.to_hex()).unwrap_or_default(),
            kind: a.kind.name().into(),
            method: a.method.map(|m| m.name().to_string()).unwrap_or_default(),
            evidence_digest: a.evidence.to_hex(),
            valid_from: Some(ts(a.valid_from)),
            valid_until: Some(ts(a.valid_until)),
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
        k @ (EventKind::FacilityRegistered(_)
        | EventKind::CertificationGranted(_)
        | EventKind::CertificationSuspended(_)
        | EventKind::CertificationWithdrawn(_)
        | EventKind::FacilityClosed(_)) => match super::facility::to_pb(k) {
            Some(k) => k,
            None => unreachable!("facility kinds convert"),
        },
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

/// A composition as `Nd=60000,Pr=20000`.
fn ppm_list(c: &Composition) -> String {
    c.entries()
        .iter()
        .map(|(e, p)| format!("{}={p}", e.symbol()))
        .collect::<Vec<_>>()
        .join(",")
}

/// A lot's kind-specific attributes, as `ree lot` shows them.
fn detail_attributes(l: &LotState) -> HashMap<String, String> {
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
            source,
        } => {
            put("facility_id", source.facility.to_string());
            put("assays", source.assays.len().to_string());
            put("supplier", supplier.to_string());
            put("mine_site", mine_site.to_string());
            put("country", country.to_string());
            put("feed", "mined".into());
            put("reo_grade_ppm", reo_grade_ppm.to_string());
            put("documents", documents.len().to_string());
            put("assay", ppm_list(assay));
        }
        LotDetail::Recycled {
            recycler,
            category,
            scrap,
            country,
            documents,
            content,
            source,
        } => {
            put("facility_id", source.facility.to_string());
            put("assays", source.assays.len().to_string());
            put("recycler", recycler.to_string());
            put("category", category.name().into());
            put("scrap", scrap.name().into());
            put("country", country.to_string());
            put(
                "feed",
                l.source().map(|s| s.feed.name()).unwrap_or_default().into(),
            );
            put("documents", documents.len().to_string());
            put("content", ppm_list(content));
        }
        LotDetail::Campaign(c) => {
            put("facility", c.facility.to_string());
            put("facility_id", c.facility_id.to_string());
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
    a
}

/// The wire form of a lot's state.
pub fn lot_pb(l: &LotState) -> pb::Lot {
    let mut a = detail_attributes(l);
    a.insert("owner".to_string(), l.owner.to_string());
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
        // Needs the upstream lots and the registry: set by the caller (`crma_pb`).
        crma: vec![],
    }
}

/// A source lot's adjustments and attestations recorded up to `upto` (its seq the subject's head
/// commits to): what a bundle of the subject carries, so GetProvenance and ree-verify agree.
pub fn audit_pb(st: &LotState, upto: u64) -> (Vec<pb::LotAdjustment>, Vec<pb::LotAttestation>) {
    let adjustments = st
        .audit
        .adjustments
        .iter()
        .filter(|a| a.seq <= upto)
        .map(|a| pb::LotAdjustment {
            seq: a.seq,
            hash: a.hash.to_hex(),
            occurred_at: Some(ts(a.occurred_at)),
            delta_g: a.delta_g,
            reason: a.reason.to_string(),
            countersigned_by: a
                .countersigned_by
                .map(|p| p.to_string())
                .unwrap_or_default(),
        })
        .collect();
    let attestations = st
        .audit
        .attestations
        .iter()
        .filter(|a| a.seq <= upto)
        .map(|a| pb::LotAttestation {
            seq: a.seq,
            hash: a.hash.to_hex(),
            auditor: a.auditor.to_string(),
            kind: a.kind.name().into(),
            method: a.method.map(|m| m.name().to_string()).unwrap_or_default(),
            event_hash: a.event.map(|h| h.to_hex()).unwrap_or_default(),
            evidence_digest: a.evidence.to_hex(),
            valid_from: Some(ts(a.valid_from)),
            valid_until: Some(ts(a.valid_until)),
        })
        .collect();
    (adjustments, attestations)
}
