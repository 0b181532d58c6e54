//! Deterministic participants for tests and benches (feature `testkit`): an administrator and one
//! participant per role, with keys and tokens derived from a seed, and the registry events that
//! register them. Never for production: anyone who knows the seed holds the keys.

use crate::country::Country;
use crate::event::{
    CertificationGranted, EventBody, EventKind, FacilityKind, FacilityRegistered,
    ParticipantRegistered, Role,
};
use crate::ids::{EventId, FacilityId, Hash32, ParticipantId};
use crate::record::Signature;
use crate::registry::token_hash;
use crate::time::UtcMicros;

/// One participant with its secrets.
#[derive(Clone, Debug)]
pub struct Member {
    pub id: ParticipantId,
    pub name: String,
    pub role: Role,
    pub country: Country,
    pub secret: [u8; 32],
    pub public_key: [u8; 32],
    pub token: String,
}

impl Member {
    /// Derives a member from `seed` and its name.
    pub fn derive(seed: u64, name: &str, role: Role, country: &str) -> Member {
        let mut h = blake3::Hasher::new_derive_key("ree-ledger testkit member v1");
        h.update(&seed.to_le_bytes());
        h.update(name.as_bytes());
        let out = h.finalize();
        let b = out.as_bytes();
        let mut secret = [0u8; 32];
        secret.copy_from_slice(b);
        let tok = blake3::derive_key("ree-ledger testkit token v1", b);
        let id = blake3::derive_key("ree-ledger testkit id v1", b);
        let mut idb = [0u8; 16];
        idb.copy_from_slice(&id[..16]);
        Member {
            id: ParticipantId(uuid::Builder::from_random_bytes(idb).into_uuid()),
            name: name.into(),
            role,
            country: Country::parse(country).expect("a valid testkit country"),
            secret,
            public_key: Signature::sign(&secret, b"").public_key,
            token: tok.iter().map(|x| format!("{x:02x}")).collect(),
        }
    }
    /// Signs body bytes.
    pub fn sign(&self, body: &[u8]) -> Signature {
        Signature::sign(&self.secret, body)
    }
    /// The registry event that registers this member.
    pub fn registration(&self) -> EventKind {
        EventKind::ParticipantRegistered(ParticipantRegistered {
            participant: self.id,
            name: self.name.clone(),
            role: self.role,
            country: self.country,
            public_key: self.public_key,
            token_hash: token_hash(&self.token),
        })
    }
}

/// The countries where the testkit team has sites: a mine of each supplier, a recycling plant of
/// the recycler and a separation plant of the plant operator in each.
pub const SITE_COUNTRIES: &[&str] = &[
    "AU", "BR", "CA", "CN", "DE", "ES", "FR", "IT", "MY", "US", "ZA",
];

fn cc(c: &str) -> Country {
    Country::parse(c).expect("a valid testkit country")
}

/// A testkit facility id: the same in every testkit ledger, whatever the seed.
fn site_id(operator: &str, country: Country) -> FacilityId {
    let d = blake3::derive_key(
        "ree-ledger testkit facility v1",
        format!("{operator}/{country}").as_bytes(),
    );
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    FacilityId(uuid::Builder::from_random_bytes(b).into_uuid())
}

/// The supplier's mine in `country` (one of [`SITE_COUNTRIES`]).
pub fn mine(country: Country) -> FacilityId {
    site_id("supplier", country)
}
/// The second supplier's mine in `country`.
pub fn mine2(country: Country) -> FacilityId {
    site_id("supplier2", country)
}
/// The recycler's recycling plant in `country`.
pub fn recycling_site(country: Country) -> FacilityId {
    site_id("recycler", country)
}
/// The plant operator's separation plant in `country`.
pub fn separation_site(country: Country) -> FacilityId {
    site_id("plant", country)
}
/// The laboratory's ISO/IEC 17025-certified laboratory (FR).
pub fn laboratory() -> FacilityId {
    site_id("lab", cc("FR"))
}
/// The site a testkit event from `kind`'s usual signer names for `country`.
pub fn site_for(kind: FacilityKind, country: Country) -> FacilityId {
    match kind {
        FacilityKind::Mine => mine(country),
        FacilityKind::Collection | FacilityKind::Recycling => recycling_site(country),
        FacilityKind::Separation => separation_site(country),
        FacilityKind::Laboratory => laboratory(),
    }
}

/// An administrator and one participant per role (two suppliers, to test ownership).
#[derive(Clone, Debug)]
pub struct Team {
    pub seed: u64,
    pub admin: Member,
    pub supplier: Member,
    pub supplier2: Member,
    pub recycler: Member,
    pub plant: Member,
    pub customer: Member,
    pub auditor: Member,
    pub lab: Member,
}

impl Team {
    /// The team of `seed`.
    pub fn new(seed: u64) -> Team {
        Team {
            seed,
            admin: Member::derive(seed, "admin", Role::Administrator, "FR"),
            supplier: Member::derive(seed, "supplier", Role::Supplier, "AU"),
            supplier2: Member::derive(seed, "supplier2", Role::Supplier, "BR"),
            recycler: Member::derive(seed, "recycler", Role::Recycler, "DE"),
            plant: Member::derive(seed, "plant", Role::PlantOperator, "FR"),
            customer: Member::derive(seed, "customer", Role::Customer, "DE"),
            auditor: Member::derive(seed, "auditor", Role::Auditor, "FR"),
            lab: Member::derive(seed, "lab", Role::Laboratory, "FR"),
        }
    }
    /// Every member, the administrator first.
    pub fn members(&self) -> [&Member; 8] {
        [
            &self.admin,
            &self.supplier,
            &self.supplier2,
            &self.recycler,
            &self.plant,
            &self.customer,
            &self.auditor,
            &self.lab,
        ]
    }
    /// The registry events that register the team, each signed by the administrator (the first
    /// registers the administrator itself): submit them first, in order.
    pub fn registry_events(&self, at: UtcMicros) -> Vec<(Vec<u8>, Signature)> {
        let kinds: Vec<EventKind> = self
            .members()
            .iter()
            .map(|m| m.registration())
            .chain(self.facility_events())
            .collect();
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| {
                let id = blake3::derive_key(
                    "ree-ledger testkit event id v1",
                    &[&self.seed.to_le_bytes()[..], &(i as u64).to_le_bytes()[..]].concat(),
                );
                let mut b = [0u8; 16];
                b.copy_from_slice(&id[..16]);
                let body = EventBody {
                    event_id: EventId(uuid::Builder::from_random_bytes(b).into_uuid()),
                    occurred_at: at,
                    expected_head: None,
                    kind,
                };
                let bytes = body.encode().expect("a registration fits the layout");
                let sig = self.admin.sign(&bytes);
                (bytes, sig)
            })
            .collect()
    }
    /// The facility registrations (and the laboratory's ISO/IEC 17025 certificate, valid
    /// 2000-2100) that give every member its sites.
    pub fn facility_events(&self) -> Vec<EventKind> {
        let mut out = Vec::new();
        let mut site = |id, name: String, kind, country, operator: &Member| {
            out.push(EventKind::FacilityRegistered(FacilityRegistered {
                facility: id,
                name,
                kind,
                country,
                location: None,
                operator: operator.id,
            }))
        };
        for c in SITE_COUNTRIES.iter().map(|c| cc(c)) {
            site(
                mine(c),
                format!("mine {c}"),
                FacilityKind::Mine,
                c,
                &self.supplier,
            );
            site(
                mine2(c),
                format!("mine 2 {c}"),
                FacilityKind::Mine,
                c,
                &self.supplier2,
            );
            site(
                recycling_site(c),
                format!("recycling {c}"),
                FacilityKind::Recycling,
                c,
                &self.recycler,
            );
            site(
                separation_site(c),
                format!("plant {c}"),
                FacilityKind::Separation,
                c,
                &self.plant,
            );
        }
        site(
            laboratory(),
            "laboratory".into(),
            FacilityKind::Laboratory,
            cc("FR"),
            &self.lab,
        );
        out.push(EventKind::CertificationGranted(CertificationGranted {
            facility: laboratory(),
            scheme: crate::registry::LAB_SCHEME.into(),
            certificate_id: "LAB-17025".into(),
            issuer: "COFRAC".into(),
            document_digest: Hash32([17; 32]),
            valid_from: UtcMicros::EARLIEST,
            valid_until: UtcMicros(4_102_444_800_000_000),
        }));
        out
    }
    /// Who would really submit `kind`: ore receipts the supplier, magnet intakes the recycler,
    /// registry events the administrator, attestations the auditor, the rest the plant operator.
    pub fn signer_for(&self, kind: &EventKind) -> &Member {
        match kind {
            EventKind::OreReceipt(o)
                if SITE_COUNTRIES.iter().any(|c| mine2(cc(c)) == o.facility) =>
            {
                &self.supplier2
            }
            EventKind::OreReceipt(_) => &self.supplier,
            EventKind::AssayRecorded(a) if a.facility.is_some() => &self.lab,
            EventKind::AssayRecorded(_) => &self.supplier,
            EventKind::MagnetIntake(_) => &self.recycler,
            EventKind::Attestation(_) => &self.auditor,
            k if k.is_registry() => &self.admin,
            _ => &self.plant,
        }
    }
    /// The body's bytes and [`Team::signer_for`]'s signature over them. Panics on a body the
    /// layout cannot hold: a test's mistake.
    pub fn sign(&self, body: &EventBody) -> (Vec<u8>, Signature) {
        let bytes = body.encode().expect("a test body fits the layout");
        let sig = self.signer_for(&body.kind).sign(&bytes);
        (bytes, sig)
    }
}
