//! Wire → domain: what a client sends. Errors name the field by its path in the request, so a
//! client knows exactly what to fix.

use ree_core::element::{Element, Oxide};
use ree_core::event::{
    self as ev, Composition, DocKind, EventKind, MagnetCategory, Role, ScrapClass,
};
use ree_core::state::LotKind;
use ree_core::{Country, EventBody, EventId, FieldError, Hash32, LotId, ParticipantId, UtcMicros};

use super::facility::{self, facility_id};
use crate::v1 as pb;

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

/// A head hash the signer must commit to (docs/format.md, "The order commitment").
fn required_head(s: &str, path: &str) -> Result<Hash32, FieldError> {
    if s.is_empty() {
        return Err(FieldError::new(
            path,
            "required: the lot's head hash (GetLot), which fixes the event's place in its chain",
        ));
    }
    digest(s, path)
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

pub(super) fn name_field(s: &str, path: &str) -> Result<String, FieldError> {
    name(s, path)
}

pub(super) fn reason_field(s: &str, path: &str) -> Result<String, FieldError> {
    text(s, path, ev::MAX_REASON_LEN)
}

pub(super) fn country_field(s: &str, path: &str) -> Result<Country, FieldError> {
    country(s, path)
}

pub(super) fn digest_field(s: &str, path: &str) -> Result<Hash32, FieldError> {
    digest(s, path)
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

fn countersignature(c: &pb::Countersignature) -> Result<ev::Countersignature, FieldError> {
    let path = "adjustment.countersignature";
    let public_key = digest(&c.public_key, &format!("{path}.public_key"))?.0;
    let half =
        |r: std::ops::Range<usize>| c.signature.get(r).and_then(|h| Hash32::from_hex(h).ok());
    let (Some(r), Some(s), 128) = (half(0..64), half(64..128), c.signature.len()) else {
        return Err(FieldError::new(
            format!("{path}.signature"),
            "must be 128 hex digits",
        ));
    };
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(&r.0);
    bytes[32..].copy_from_slice(&s.0);
    Ok(ev::Countersignature {
        public_key,
        signature: bytes,
    })
}

fn time(t: &Option<crate::pbjson_types::Timestamp>, path: &str) -> Result<UtcMicros, FieldError> {
    let t = t
        .as_ref()
        .ok_or_else(|| FieldError::new(path, "is required"))?;
    UtcMicros::from_seconds_nanos(t.seconds, t.nanos)
        .ok_or_else(|| FieldError::new(path, "is out of range"))
}

fn attestation(a: &pb::Attestation) -> Result<ev::Attestation, FieldError> {
    let kind = ev::AttestationKind::parse(&a.kind).ok_or_else(|| {
        FieldError::new(
            "attestation.kind",
            format!(
                "{:?} is not origin_verified, mass_verified or scrap_class_verified",
                a.kind
            ),
        )
    })?;
    let method = match a.method.as_str() {
        "" => None,
        m => Some(ev::OriginMethod::parse(m).ok_or_else(|| {
            FieldError::new(
                "attestation.method",
                format!("{m:?} is not site_visit or certificate_of_origin"),
            )
        })?),
    };
    Ok(ev::Attestation {
        lot: lot_id(&a.lot_id, "attestation.lot_id")?,
        event: match a.event_hash.as_str() {
            "" => None,
            h => Some(digest(h, "attestation.event_hash")?),
        },
        kind,
        method,
        evidence: digest(&a.evidence_digest, "attestation.evidence_digest")?,
        valid_from: time(&a.valid_from, "attestation.valid_from")?,
        valid_until: time(&a.valid_until, "attestation.valid_until")?,
    })
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
    let kind = match &b.kind {
        None => {
            return Err(FieldError::new(
                "kind",
                "one event kind (ore_receipt, magnet_intake, ...) must be set",
            ))
        }
        Some(kind) => event_kind(kind)?,
    };
    Ok(EventBody {
        event_id,
        occurred_at,
        expected_head,
        kind,
    })
}

/// The domain kind of a wire kind. One arm per event kind: a flat table is easier to check
/// against the proto than a split one, hence its length.
fn event_kind(kind: &pb::event_body::Kind) -> Result<EventKind, FieldError> {
    use pb::event_body::Kind as K;
    Ok(match kind {
        K::OreReceipt(o) => EventKind::OreReceipt(ev::OreReceipt {
            lot: lot_id(&o.lot_id, "ore_receipt.lot_id")?,
            facility: facility_id(&o.facility_id, "ore_receipt.facility_id")?,
            supplier: name(&o.supplier, "ore_receipt.supplier")?,
            mine_site: name(&o.mine_site, "ore_receipt.mine_site")?,
            country: country(&o.country, "ore_receipt.country")?,
            mass_g: o.mass_g,
            reo_grade_ppm: o.reo_grade_ppm,
            assay: composition(&o.assay, "ore_receipt.assay")?,
            documents: documents(&o.documents, "ore_receipt.documents")?,
        }),
        K::MagnetIntake(m) => EventKind::MagnetIntake(ev::MagnetIntake {
            lot: lot_id(&m.lot_id, "magnet_intake.lot_id")?,
            facility: facility_id(&m.facility_id, "magnet_intake.facility_id")?,
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
        K::CampaignOpened(c) => EventKind::CampaignOpened(ev::CampaignOpened {
            campaign: lot_id(&c.campaign_id, "campaign_opened.campaign_id")?,
            facility_id: facility_id(&c.facility_id, "campaign_opened.facility_id")?,
            facility: name(&c.facility, "campaign_opened.facility")?,
            country: country(&c.country, "campaign_opened.country")?,
        }),
        K::InputCharged(c) => EventKind::InputCharged(ev::InputCharged {
            campaign: lot_id(&c.campaign_id, "input_charged.campaign_id")?,
            input: lot_id(&c.input_lot_id, "input_charged.input_lot_id")?,
            mass_g: c.mass_g,
            input_head: required_head(&c.input_head, "input_charged.input_head")?,
        }),
        K::OutputProduced(p) => EventKind::OutputProduced(ev::OutputProduced {
            campaign: lot_id(&p.campaign_id, "output_produced.campaign_id")?,
            output: lot_id(&p.output_lot_id, "output_produced.output_lot_id")?,
            oxide: field(
                Oxide::parse(&p.oxide, p.ndpr_nd2o3_ppm),
                "output_produced.oxide",
            )?,
            mass_g: p.mass_g,
            purity_ppm: p.purity_ppm,
        }),
        K::CampaignClosed(c) => EventKind::CampaignClosed(ev::CampaignClosed {
            campaign: lot_id(&c.campaign_id, "campaign_closed.campaign_id")?,
            losses_g: c.losses_g,
        }),
        K::Shipment(s) => EventKind::Shipment(ev::Shipment {
            lot: lot_id(&s.lot_id, "shipment.lot_id")?,
            mass_g: s.mass_g,
            customer: name(&s.customer, "shipment.customer")?,
            destination: country(&s.destination_country, "shipment.destination_country")?,
            document: digest(&s.document_digest, "shipment.document_digest")?,
        }),
        K::AssayRecorded(a) => EventKind::AssayRecorded(ev::AssayRecorded {
            lot: lot_id(&a.lot_id, "assay_recorded.lot_id")?,
            facility: if a.facility_id.is_empty() {
                None
            } else {
                Some(facility_id(&a.facility_id, "assay_recorded.facility_id")?)
            },
            lab: name(&a.lab, "assay_recorded.lab")?,
            content: composition(&a.content, "assay_recorded.content")?,
            certificate: digest(&a.certificate_digest, "assay_recorded.certificate_digest")?,
        }),
        K::Adjustment(a) => EventKind::Adjustment(ev::Adjustment {
            lot: lot_id(&a.lot_id, "adjustment.lot_id")?,
            delta_g: a.delta_g,
            reason: text(&a.reason, "adjustment.reason", ev::MAX_REASON_LEN)?,
            countersignature: a
                .countersignature
                .as_ref()
                .map(countersignature)
                .transpose()?,
        }),
        K::Attestation(a) => EventKind::Attestation(attestation(a)?),
        K::ParticipantRegistered(r) => {
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
        K::KeyAdded(k) => EventKind::KeyAdded(ev::KeyAdded {
            participant: participant_id(&k.participant_id, "key_added.participant_id")?,
            public_key: digest(&k.public_key, "key_added.public_key")?.0,
        }),
        K::KeyRevoked(k) => EventKind::KeyRevoked(ev::KeyRevoked {
            participant: participant_id(&k.participant_id, "key_revoked.participant_id")?,
            public_key: digest(&k.public_key, "key_revoked.public_key")?.0,
            reason: text(&k.reason, "key_revoked.reason", ev::MAX_REASON_LEN)?,
        }),
        K::ParticipantSuspended(p) => EventKind::ParticipantSuspended(ev::ParticipantSuspended {
            participant: participant_id(&p.participant_id, "participant_suspended.participant_id")?,
            reason: text(
                &p.reason,
                "participant_suspended.reason",
                ev::MAX_REASON_LEN,
            )?,
        }),
        K::TokenIssued(t) => EventKind::TokenIssued(ev::TokenIssued {
            participant: participant_id(&t.participant_id, "token_issued.participant_id")?,
            token_hash: digest(&t.token_hash, "token_issued.token_hash")?,
        }),
        K::FacilityRegistered(f) => facility::registered(f)?,
        K::CertificationGranted(c) => facility::granted(c)?,
        K::CertificationSuspended(c) => {
            EventKind::CertificationSuspended(ev::CertificationSuspended(facility::ended(
                "certification_suspended",
                &c.facility_id,
                &c.certificate_id,
                &c.reason,
            )?))
        }
        K::CertificationWithdrawn(c) => {
            EventKind::CertificationWithdrawn(ev::CertificationWithdrawn(facility::ended(
                "certification_withdrawn",
                &c.facility_id,
                &c.certificate_id,
                &c.reason,
            )?))
        }
        K::FacilityClosed(c) => facility::closed(c)?,
    })
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
