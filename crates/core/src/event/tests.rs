//! Round trips of the canonical encoding over generated bodies of every kind, and field paths.

use super::*;
use crate::country::Country;
use crate::element::{Element, Oxide};
use crate::ids::ParticipantId;
use proptest::prelude::*;

pub fn lot_id() -> impl Strategy<Value = LotId> {
    any::<[u8; 16]>().prop_map(|b| LotId(uuid::Uuid::from_bytes(b)))
}
fn pid() -> impl Strategy<Value = ParticipantId> {
    any::<[u8; 16]>().prop_map(|b| ParticipantId(uuid::Uuid::from_bytes(b)))
}
fn hash() -> impl Strategy<Value = Hash32> {
    any::<[u8; 32]>().prop_map(Hash32)
}
fn name() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9 éü.-]{0,40}"
}
fn country() -> impl Strategy<Value = Country> {
    prop::sample::select(vec!["AU", "US", "BR", "CA", "ZA", "CN", "FR", "DE", "ES"])
        .prop_map(|c| Country::parse(c).unwrap())
}
fn composition() -> impl Strategy<Value = Composition> {
    prop::collection::btree_map(
        prop::sample::select(Element::ALL.to_vec()),
        0u32..70_000,
        0..6,
    )
    .prop_map(|m| Composition::new(m.into_iter().collect()).unwrap())
}
fn docs() -> impl Strategy<Value = Vec<Document>> {
    prop::collection::btree_set(
        (prop::sample::select(DocKind::ALL.to_vec()), hash())
            .prop_map(|(kind, digest)| Document { kind, digest }),
        0..4,
    )
    .prop_map(|s| s.into_iter().collect())
}
fn oxide() -> impl Strategy<Value = Oxide> {
    prop_oneof![
        prop::sample::select(Element::ALL.to_vec()).prop_map(Oxide::Single),
        (0u32..=1_000_000).prop_map(|p| Oxide::NdPr { nd2o3_ppm: p })
    ]
}
/// One strategy per kind, in code order: long because it lists every kind's fields.
pub fn kind() -> impl Strategy<Value = EventKind> {
    let mass = 1u64..1_000_000_000;
    prop_oneof![
        (
            lot_id(),
            name(),
            name(),
            country(),
            mass.clone(),
            1u32..1_000_000,
            composition(),
            docs()
        )
            .prop_map(
                |(lot, supplier, mine_site, country, mass_g, reo_grade_ppm, assay, documents)| {
                    EventKind::OreReceipt(OreReceipt {
                        facility: crate::testkit::mine(country),
                        lot,
                        supplier,
                        mine_site,
                        country,
                        mass_g,
                        reo_grade_ppm,
                        assay,
                        documents,
                    })
                }
            ),
        (
            lot_id(),
            name(),
            prop::sample::select(MagnetCategory::ALL.to_vec()),
            prop::sample::select(ScrapClass::ALL.to_vec()),
            country(),
            mass.clone(),
            composition(),
            docs()
        )
            .prop_map(
                |(lot, recycler, category, scrap, country, mass_g, content, documents)| {
                    EventKind::MagnetIntake(MagnetIntake {
                        facility: crate::testkit::recycling_site(country),
                        lot,
                        recycler,
                        category,
                        scrap,
                        country,
                        mass_g,
                        content,
                        documents,
                    })
                }
            ),
        (lot_id(), name(), country()).prop_map(|(campaign, facility, country)| {
            EventKind::CampaignOpened(CampaignOpened {
                facility_id: crate::testkit::separation_site(country),
                campaign,
                facility,
                country,
            })
        }),
        (lot_id(), lot_id(), mass.clone()).prop_map(|(campaign, input, mass_g)| {
            EventKind::InputCharged(InputCharged {
                campaign,
                input,
                mass_g,
                input_head: Default::default(),
            })
        }),
        (lot_id(), lot_id(), oxide(), mass.clone(), 1u32..=1_000_000).prop_map(
            |(campaign, output, oxide, mass_g, purity_ppm)| {
                EventKind::OutputProduced(OutputProduced {
                    campaign,
                    output,
                    oxide,
                    mass_g,
                    purity_ppm,
                })
            }
        ),
        (lot_id(), 0u64..1_000_000).prop_map(|(campaign, losses_g)| EventKind::CampaignClosed(
            CampaignClosed { campaign, losses_g }
        )),
        (lot_id(), mass.clone(), name(), country(), hash()).prop_map(
            |(lot, mass_g, customer, destination, document)| {
                EventKind::Shipment(Shipment {
                    lot,
                    mass_g,
                    customer,
                    destination,
                    document,
                })
            }
        ),
        (lot_id(), name(), composition(), hash()).prop_map(|(lot, lab, content, certificate)| {
            EventKind::AssayRecorded(AssayRecorded {
                facility: Some(crate::testkit::laboratory()),
                lot,
                lab,
                content,
                certificate,
            })
        }),
        (
            lot_id(),
            -1_000_000i64..1_000_000,
            name(),
            prop::option::of((any::<[u8; 32]>(), any::<[u8; 32]>(), any::<[u8; 32]>()))
        )
            .prop_map(|(lot, delta_g, reason, c)| {
                EventKind::Adjustment(Adjustment {
                    lot,
                    delta_g,
                    reason,
                    countersignature: c.map(|(k, r, s)| Countersignature {
                        public_key: k,
                        signature: [r, s].concat().try_into().unwrap_or([0; 64]),
                    }),
                })
            }),
        (
            lot_id(),
            prop::option::of(hash()),
            prop::sample::select(AttestationKind::ALL.to_vec()),
            prop::option::of(prop::sample::select(OriginMethod::ALL.to_vec())),
            hash(),
            any::<i64>(),
            any::<i64>()
        )
            .prop_map(|(lot, event, kind, method, evidence, f, u)| {
                EventKind::Attestation(Attestation {
                    lot,
                    event,
                    kind,
                    method,
                    evidence,
                    valid_from: UtcMicros(f),
                    valid_until: UtcMicros(u),
                })
            }),
        (
            pid(),
            name(),
            prop::sample::select(Role::ALL.to_vec()),
            country(),
            any::<[u8; 32]>(),
            hash()
        )
            .prop_map(
                |(participant, name, role, country, public_key, token_hash)| {
                    EventKind::ParticipantRegistered(ParticipantRegistered {
                        participant,
                        name,
                        role,
                        country,
                        public_key,
                        token_hash,
                    })
                }
            ),
        (pid(), any::<[u8; 32]>()).prop_map(|(participant, public_key)| {
            EventKind::KeyAdded(KeyAdded {
                participant,
                public_key,
            })
        }),
        (pid(), any::<[u8; 32]>(), name()).prop_map(|(participant, public_key, reason)| {
            EventKind::KeyRevoked(KeyRevoked {
                participant,
                public_key,
                reason,
            })
        }),
        (pid(), name()).prop_map(|(participant, reason)| {
            EventKind::ParticipantSuspended(ParticipantSuspended {
                participant,
                reason,
            })
        }),
        (pid(), hash()).prop_map(|(participant, token_hash)| {
            EventKind::TokenIssued(TokenIssued {
                participant,
                token_hash,
            })
        }),
    ]
}
pub fn body() -> impl Strategy<Value = EventBody> {
    (
        any::<[u8; 16]>(),
        946_684_800_000_000i64..1_900_000_000_000_000,
        prop::option::of(hash()),
        kind(),
    )
        .prop_map(|(id, t, expected_head, kind)| EventBody {
            event_id: EventId(uuid::Uuid::from_bytes(id)),
            occurred_at: UtcMicros(t),
            expected_head,
            kind,
        })
}

proptest! {
    #[test]
    fn encode_decode_round_trips(b in body()) {
        let bytes = b.encode().unwrap();
        let back = EventBody::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &b);
        prop_assert_eq!(back.encode().unwrap(), bytes);
    }

    #[test]
    fn decoder_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        // Anything that decodes must be canonical: re-encoding gives the same bytes.
        if let Ok(b) = EventBody::decode(&bytes) {
            prop_assert_eq!(b.encode().unwrap(), bytes);
        }
    }

    #[test]
    fn decoder_survives_mutations_of_valid_bodies(b in body(), pos in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let mut bytes = b.encode().unwrap();
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        if let Ok(d) = EventBody::decode(&bytes) {
            prop_assert_eq!(d.encode().unwrap(), bytes.clone());
        }
        let n = cut.index(bytes.len());
        prop_assert!(EventBody::decode(&b.encode().unwrap()[..n]).is_err(), "a truncated body must not decode");
    }
}

#[test]
fn validation_names_the_field() {
    let now = UtcMicros(1_800_000_000_000_000);
    let mut b = EventBody {
        event_id: EventId::new_v7(),
        occurred_at: now,
        expected_head: None,
        kind: EventKind::InputCharged(InputCharged {
            campaign: LotId::new_v7(),
            input: LotId::new_v7(),
            mass_g: 0,
            input_head: Default::default(),
        }),
    };
    assert_eq!(b.validate(now).unwrap_err().field, "expected_head");
    b.expected_head = Some(Hash32([1; 32]));
    let e = b.validate(now).unwrap_err();
    assert_eq!(e.field, "input_charged.mass_g");
    if let EventKind::InputCharged(c) = &mut b.kind {
        c.mass_g = 5;
        c.input = c.campaign;
    }
    assert_eq!(b.validate(now).unwrap_err().field, "input_charged.input");
    if let EventKind::InputCharged(c) = &mut b.kind {
        c.input = LotId::new_v7();
    }
    assert!(b.validate(now).is_ok());
    b.occurred_at = UtcMicros(now.0 + MAX_FUTURE_SKEW_US + 1);
    assert_eq!(b.validate(now).unwrap_err().field, "occurred_at");
}

/// The layout's u16 length cannot hold a 70,000-byte name: encoding refuses it, naming the field,
/// rather than cutting it to 65,535 bytes (possibly mid-character) and signing something else.
#[test]
fn an_overlong_string_is_refused_with_its_field_never_truncated() {
    let body = EventBody {
        event_id: EventId::new_v7(),
        occurred_at: UtcMicros(1_800_000_000_000_000),
        expected_head: None,
        kind: EventKind::OreReceipt(OreReceipt {
            facility: crate::testkit::mine(Country::parse("AU").unwrap()),
            lot: LotId::new_v7(),
            supplier: "é".repeat(35_000),
            mine_site: "Mount Weld".into(),
            country: Country::parse("AU").unwrap(),
            mass_g: 1,
            reo_grade_ppm: 1,
            assay: Composition::default(),
            documents: vec![],
        }),
    };
    let e = body.encode().unwrap_err();
    assert_eq!(e.field, "ore_receipt.supplier");
    assert!(e.reason.contains("70000 bytes"), "{e}");
    // More documents than the u8 count holds are refused too, not wrapped.
    let mut many = body.clone();
    if let EventKind::OreReceipt(o) = &mut many.kind {
        o.supplier = "Lynas".into();
        o.documents = (0..256u32)
            .map(|i| Document {
                kind: DocKind::BillOfLading,
                digest: Hash32(*blake3::hash(&i.to_le_bytes()).as_bytes()),
            })
            .collect();
    }
    assert_eq!(many.encode().unwrap_err().field, "ore_receipt.documents");
    // A string the layout holds is encoded whole.
    let mut fits = body;
    if let EventKind::OreReceipt(o) = &mut fits.kind {
        o.supplier = "x".repeat(u16::MAX as usize);
    }
    let back = EventBody::decode(&fits.encode().unwrap()).unwrap();
    assert_eq!(back, fits);
}

/// A countersignature covers the whole body but itself: valid after countersigning, broken by
/// any change of the body (here its reason or event id), and never a signature over the body.
#[test]
fn a_countersignature_covers_the_body_without_itself() {
    let secret = [5u8; 32];
    let mut b = EventBody {
        event_id: EventId(uuid::Uuid::from_u128(1)),
        occurred_at: UtcMicros(1_760_000_000_000_000),
        expected_head: None,
        kind: EventKind::Adjustment(Adjustment {
            lot: LotId(uuid::Uuid::from_u128(2)),
            delta_g: 10,
            reason: "stock count".into(),
            countersignature: None,
        }),
    };
    let bare = b.encode().unwrap();
    countersign(&mut b, &secret).unwrap();
    let EventKind::Adjustment(a) = &b.kind else {
        unreachable!()
    };
    let c = a.countersignature.unwrap();
    let msg = countersignature_message(&b).unwrap();
    assert_eq!(msg, [COUNTERSIGNATURE_DOMAIN, &bare[..]].concat());
    let v = crate::signature::Verifier::new(&c.public_key).unwrap();
    v.verify(&msg, &c.signature).unwrap();
    assert!(v.verify(&bare, &c.signature).is_err());
    let mut other = b.clone();
    other.event_id = EventId(uuid::Uuid::from_u128(3));
    assert!(v
        .verify(&countersignature_message(&other).unwrap(), &c.signature)
        .is_err());
    // The encoding ends with flag 1, the key and the signature.
    let enc = b.encode().unwrap();
    assert_eq!(enc.len(), bare.len() + 96);
    assert_eq!(enc[bare.len() - 1], 1);
}
