//! Deterministic participants for tests and benches (feature `testkit`): an administrator and one
//! participant per role, with keys and tokens derived from a seed, and the registry events that
//! register them. Never for production: anyone who knows the seed holds the keys.

use crate::country::Country;
use crate::event::{EventBody, EventKind, ParticipantRegistered, Role};
use crate::ids::{EventId, ParticipantId};
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
        }
    }
    /// Every member, the administrator first.
    pub fn members(&self) -> [&Member; 7] {
        [
            &self.admin,
            &self.supplier,
            &self.supplier2,
            &self.recycler,
            &self.plant,
            &self.customer,
            &self.auditor,
        ]
    }
    /// The registry events that register the team, each signed by the administrator (the first
    /// registers the administrator itself): submit them first, in order.
    pub fn registry_events(&self, at: UtcMicros) -> Vec<(Vec<u8>, Signature)> {
        self.members()
            .iter()
            .enumerate()
            .map(|(i, m)| {
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
                    kind: m.registration(),
                };
                let bytes = body.encode().expect("a registration fits the layout");
                let sig = self.admin.sign(&bytes);
                (bytes, sig)
            })
            .collect()
    }
    /// Who would really submit `kind`: ore receipts the supplier, magnet intakes the recycler,
    /// registry events the administrator, attestations the auditor, the rest the plant operator.
    pub fn signer_for(&self, kind: &EventKind) -> &Member {
        match kind {
            EventKind::OreReceipt(_) => &self.supplier,
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
