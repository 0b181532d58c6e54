//! The participant registry: who may sign what. It is itself a hash chain, the lot
//! [`REGISTRY_LOT`], whose events (registering participants, adding and revoking keys, suspending
//! participants, issuing tokens) are signed by administrators. Its state at any point in the
//! global order decides whether a record signed then was allowed, so the verifier re-checks every
//! signer offline exactly as the server did (docs/format.md, "Participants and roles").

mod facility;

pub use facility::{
    is_facility_event, operator_role, Certification, Facility, SiteUse, LAB_SCHEME,
};

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::country::Country;
use crate::event::{EventKind, KeyRevoked, ParticipantRegistered, ParticipantSuspended, Role};
use crate::ids::{Hash32, ParticipantId};

/// The registry's lot id; defined with the other ids so that event kinds name it without
/// depending on this module.
pub use crate::ids::REGISTRY_LOT;

/// blake3 derive-key context of bearer-token hashes.
pub const TOKEN_HASH_CONTEXT: &str = "ree-ledger 2026-11 bearer token v1";

/// The hash under which a bearer token is registered: only this reaches the ledger.
pub fn token_hash(token: &str) -> Hash32 {
    Hash32(blake3::derive_key(TOKEN_HASH_CONTEXT, token.as_bytes()))
}

/// A registered participant, as of some point in history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant {
    pub id: ParticipantId,
    pub name: Arc<str>,
    pub role: Role,
    pub country: Country,
    /// Global sequence number of the registration.
    pub registered_at: u64,
    /// Global sequence number of the suspension, if suspended.
    pub suspended_at: Option<u64>,
    /// Hash of the current bearer token (zero: none).
    pub token_hash: Hash32,
    /// Every key ever added, in order (revoked ones included).
    pub keys: Vec<[u8; 32]>,
}

/// One signing key's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyState {
    pub participant: ParticipantId,
    pub added_at: u64,
    pub revoked_at: Option<u64>,
    /// The key's signature checker, kept with its fixed-base table for the key's lifetime
    /// (`None` only for a key the registry refused, which never gets here).
    pub verifier: Option<crate::signature::Verifier>,
}

/// Every participant and key. Keys and token hashes belong to one participant forever.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registry {
    participants: BTreeMap<ParticipantId, Participant>,
    keys: HashMap<[u8; 32], KeyState>,
    tokens: HashMap<Hash32, ParticipantId>,
    facilities: facility::FacilityMap,
}

/// Why a signer may not sign (maps to UNAUTHENTICATED or PERMISSION_DENIED).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignerError {
    /// The key is not registered, or was revoked: the signature proves nothing.
    Unauthenticated(String),
    /// The participant is known but suspended.
    Suspended(String),
}

impl Registry {
    /// A participant by id.
    pub fn participant(&self, id: &ParticipantId) -> Option<&Participant> {
        self.participants.get(id)
    }
    /// Every participant, sorted by id.
    pub fn participants(&self) -> impl Iterator<Item = &Participant> {
        self.participants.values()
    }
    /// A key's history.
    pub fn key(&self, public_key: &[u8; 32]) -> Option<&KeyState> {
        self.keys.get(public_key)
    }
    /// The participant whose current bearer token hashes to `h`.
    pub fn by_token(&self, h: &Hash32) -> Option<&Participant> {
        let id = self.tokens.get(h)?;
        let p = self.participants.get(id)?;
        // Compared again in constant time: the map lookup is by hash, this pins the match.
        (constant_time_eq(&p.token_hash.0, &h.0)).then_some(p)
    }
    /// The active participant that `public_key` signs for, at this point in history.
    pub fn signer(&self, public_key: &[u8; 32]) -> Result<&Participant, SignerError> {
        let hex = Hash32(*public_key).to_hex();
        let k = self.keys.get(public_key).ok_or_else(|| {
            SignerError::Unauthenticated(format!("signing key {hex} is not registered"))
        })?;
        let p = self.participants.get(&k.participant).ok_or_else(|| {
            SignerError::Unauthenticated(format!("signing key {hex} has no participant"))
        })?;
        if let Some(at) = k.revoked_at {
            return Err(SignerError::Unauthenticated(format!(
                "signing key {hex} of {} was revoked at global sequence {at}",
                p.name
            )));
        }
        if let Some(at) = p.suspended_at {
            return Err(SignerError::Suspended(format!(
                "participant {} ({}) was suspended at global sequence {at}",
                p.name, p.id
            )));
        }
        Ok(p)
    }
    fn active_admin_keys(&self) -> usize {
        self.keys
            .values()
            .filter(|k| {
                k.revoked_at.is_none()
                    && self
                        .participants
                        .get(&k.participant)
                        .is_some_and(|p| p.role == Role::Administrator && p.suspended_at.is_none())
            })
            .count()
    }
    fn live(&self, id: &ParticipantId) -> Result<&Participant, String> {
        let p = self
            .participants
            .get(id)
            .ok_or_else(|| format!("participant {id} is not registered"))?;
        if p.suspended_at.is_some() {
            return Err(format!("participant {id} is suspended"));
        }
        Ok(p)
    }
    fn fresh_key(&self, k: &[u8; 32]) -> Result<(), String> {
        match self.keys.get(k) {
            Some(s) => Err(format!(
                "key {} is already registered (to participant {})",
                Hash32(*k).to_hex(),
                s.participant
            )),
            None => Ok(()),
        }
    }
    fn fresh_token(&self, h: &Hash32) -> Result<(), String> {
        if *h != Hash32::ZERO && self.tokens.contains_key(h) {
            return Err("this token hash is already in use".into());
        }
        Ok(())
    }

    /// Gives `participant` the (fresh) key `public_key` from `global_seq` on.
    fn add_key(&mut self, participant: ParticipantId, public_key: [u8; 32], global_seq: u64) {
        self.keys.insert(
            public_key,
            KeyState {
                participant,
                added_at: global_seq,
                revoked_at: None,
                verifier: crate::signature::registrable_key(&public_key).ok(),
            },
        );
        if let Some(p) = self.participants.get_mut(&participant) {
            p.keys.push(public_key);
        }
    }

    /// Applies a registry event recorded at `global_seq`; the caller checked the signer.
    pub fn apply(&mut self, kind: &EventKind, global_seq: u64) -> Result<(), String> {
        match kind {
            EventKind::ParticipantRegistered(e) => self.register(e, global_seq),
            EventKind::KeyAdded(e) => {
                self.live(&e.participant)?;
                self.fresh_key(&e.public_key)?;
                self.add_key(e.participant, e.public_key, global_seq);
                Ok(())
            }
            EventKind::KeyRevoked(e) => self.revoke(e, global_seq),
            EventKind::ParticipantSuspended(e) => self.suspend(e, global_seq),
            EventKind::TokenIssued(e) => {
                let old = self.live(&e.participant)?.token_hash;
                self.fresh_token(&e.token_hash)?;
                self.tokens.remove(&old);
                self.tokens.insert(e.token_hash, e.participant);
                if let Some(p) = self.participants.get_mut(&e.participant) {
                    p.token_hash = e.token_hash;
                }
                Ok(())
            }
            _ => Err(format!("{} is not a registry event", kind.name())),
        }
    }

    /// A new participant, with a key and a token hash no one else holds.
    fn register(&mut self, e: &ParticipantRegistered, global_seq: u64) -> Result<(), String> {
        if self.participants.contains_key(&e.participant) {
            return Err(format!(
                "participant {} is already registered",
                e.participant
            ));
        }
        self.fresh_key(&e.public_key)?;
        self.fresh_token(&e.token_hash)?;
        if e.token_hash != Hash32::ZERO {
            self.tokens.insert(e.token_hash, e.participant);
        }
        self.participants.insert(
            e.participant,
            Participant {
                id: e.participant,
                name: e.name.as_str().into(),
                role: e.role,
                country: e.country,
                registered_at: global_seq,
                suspended_at: None,
                token_hash: e.token_hash,
                keys: vec![],
            },
        );
        self.add_key(e.participant, e.public_key, global_seq);
        Ok(())
    }

    /// The participant's own, unrevoked key, unless it is the last active administrator key.
    fn revoke(&mut self, e: &KeyRevoked, global_seq: u64) -> Result<(), String> {
        let hex = Hash32(e.public_key).to_hex();
        let k = self
            .keys
            .get(&e.public_key)
            .ok_or_else(|| format!("key {hex} is not registered"))?;
        if k.participant != e.participant {
            return Err(format!(
                "key {hex} belongs to participant {}, not {}",
                k.participant, e.participant
            ));
        }
        if k.revoked_at.is_some() {
            return Err(format!("key {hex} is already revoked"));
        }
        let was_admin = self
            .participants
            .get(&e.participant)
            .is_some_and(|p| p.role == Role::Administrator && p.suspended_at.is_none());
        if was_admin && self.active_admin_keys() <= 1 {
            return Err("this is the last active administrator key: add another first".into());
        }
        if let Some(k) = self.keys.get_mut(&e.public_key) {
            k.revoked_at = Some(global_seq);
        }
        Ok(())
    }

    /// A live participant, unless it is the last active administrator.
    fn suspend(&mut self, e: &ParticipantSuspended, global_seq: u64) -> Result<(), String> {
        let p = self.live(&e.participant)?;
        if p.role == Role::Administrator {
            let own_active = p
                .keys
                .iter()
                .filter(|k| self.keys.get(*k).is_some_and(|s| s.revoked_at.is_none()))
                .count();
            if self.active_admin_keys() <= own_active {
                return Err("this is the last active administrator".into());
            }
        }
        if let Some(p) = self.participants.get_mut(&e.participant) {
            p.suspended_at = Some(global_seq);
        }
        Ok(())
    }
}

/// Equality whose time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut d = 0u8;
    for i in 0..32 {
        d |= a[i] ^ b[i];
    }
    std::hint::black_box(d) == 0
}

/// Which role may submit an event kind. A supplier's or recycler's assay must be of its own lot
/// (the caller checks that); a laboratory's must name its certified laboratory (the assay rule).
pub fn role_may_submit(role: Role, kind: &EventKind) -> bool {
    match kind {
        EventKind::OreReceipt(_) => role == Role::Supplier,
        EventKind::MagnetIntake(_) => role == Role::Recycler,
        // A declaration by the lot's owner, or a laboratory's assay; the plant, which gains from
        // a high assay, records none.
        EventKind::AssayRecorded(_) => {
            matches!(role, Role::Laboratory | Role::Supplier | Role::Recycler)
        }
        EventKind::CampaignOpened(_)
        | EventKind::InputCharged(_)
        | EventKind::OutputProduced(_)
        | EventKind::CampaignClosed(_)
        | EventKind::Shipment(_)
        | EventKind::Adjustment(_) => role == Role::PlantOperator,
        EventKind::ParticipantRegistered(_)
        | EventKind::KeyAdded(_)
        | EventKind::KeyRevoked(_)
        | EventKind::ParticipantSuspended(_)
        | EventKind::TokenIssued(_)
        | EventKind::FacilityRegistered(_)
        | EventKind::CertificationGranted(_)
        | EventKind::CertificationSuspended(_)
        | EventKind::CertificationWithdrawn(_)
        | EventKind::FacilityClosed(_) => role == Role::Administrator,
        EventKind::Attestation(_) => role == Role::Auditor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{KeyRevoked, ParticipantRegistered, ParticipantSuspended, TokenIssued};

    fn reg(id: u128, role: Role, key: u8, token: &str) -> EventKind {
        EventKind::ParticipantRegistered(ParticipantRegistered {
            participant: ParticipantId(uuid::Uuid::from_u128(id)),
            name: format!("p{id}"),
            role,
            country: Country::parse("FR").unwrap(),
            public_key: [key; 32],
            token_hash: token_hash(token),
        })
    }

    #[test]
    fn keys_tokens_and_the_last_administrator_are_protected() {
        let mut r = Registry::default();
        r.apply(&reg(1, Role::Administrator, 1, "a"), 1).unwrap();
        r.apply(&reg(2, Role::Supplier, 2, "s"), 2).unwrap();
        // A key or a token belongs to one participant only.
        assert!(r.apply(&reg(3, Role::Supplier, 2, "x"), 3).is_err());
        assert!(r.apply(&reg(3, Role::Supplier, 3, "s"), 3).is_err());
        assert_eq!(r.by_token(&token_hash("s")).unwrap().role, Role::Supplier);
        assert!(r.by_token(&token_hash("nope")).is_none());
        let admin = ParticipantId(uuid::Uuid::from_u128(1));
        let revoke = EventKind::KeyRevoked(KeyRevoked {
            participant: admin,
            public_key: [1; 32],
            reason: "lost".into(),
        });
        assert!(r.apply(&revoke, 4).unwrap_err().contains("last active"));
        let suspend = EventKind::ParticipantSuspended(ParticipantSuspended {
            participant: admin,
            reason: "x".into(),
        });
        assert!(r.apply(&suspend, 4).unwrap_err().contains("last active"));
        // Rotating a token retires the old one.
        let sup = ParticipantId(uuid::Uuid::from_u128(2));
        r.apply(
            &EventKind::TokenIssued(TokenIssued {
                participant: sup,
                token_hash: token_hash("s2"),
            }),
            5,
        )
        .unwrap();
        assert!(r.by_token(&token_hash("s")).is_none());
        assert_eq!(r.by_token(&token_hash("s2")).unwrap().id, sup);
        // A revoked key no longer signs; the registry says when it was revoked.
        r.apply(
            &EventKind::KeyRevoked(KeyRevoked {
                participant: sup,
                public_key: [2; 32],
                reason: "rotated".into(),
            }),
            6,
        )
        .unwrap();
        match r.signer(&[2; 32]) {
            Err(SignerError::Unauthenticated(m)) => {
                assert!(m.contains("revoked at global sequence 6"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            r.signer(&[9; 32]),
            Err(SignerError::Unauthenticated(_))
        ));
        assert_eq!(r.signer(&[1; 32]).unwrap().role, Role::Administrator);
    }

    #[test]
    fn constant_time_eq_is_eq() {
        assert!(constant_time_eq(&[3; 32], &[3; 32]));
        let mut b = [3; 32];
        b[31] = 4;
        assert!(!constant_time_eq(&[3; 32], &b));
    }
}
