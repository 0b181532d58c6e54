//! Kinds 10-14: the participant registry's events, all on [`REGISTRY_LOT`].

use super::fields::{check_name, check_public_key, check_reason, read_country, read_participant};
use crate::codec::{Reader, Writer};
use crate::country::Country;
use crate::error::{DecodeError, FieldError};
use crate::ids::{Hash32, LotId, ParticipantId, REGISTRY_LOT};

code_enum!(
    /// What a participant may do (docs/format.md, "Participants and roles").
    Role {
        /// Registers participants, adds and revokes keys, issues tokens.
        Administrator = 1, "administrator";
        /// Receives ore lots from its mines; reads its own lots.
        Supplier = 2, "supplier";
        /// Delivers recycled magnet lots; reads its own lots.
        Recycler = 3, "recycler";
        /// Runs the separation plant: campaigns, charges, outputs, shipments, assays, adjustments.
        PlantOperator = 4, "plant_operator";
        /// Reads provenance and exports proof bundles.
        Customer = 5, "customer";
        /// Reads everything.
        Auditor = 6, "auditor";
        /// Records assays of lots, from a laboratory facility it operates (ISO/IEC 17025).
        Laboratory = 7, "laboratory";
    }
);

/// A participant joins the registry with its first key (and, optionally, a bearer token's
/// hash). The registry's first event registers an administrator, signed by that key itself.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ParticipantRegistered {
    pub participant: ParticipantId,
    pub name: String,
    pub role: Role,
    pub country: Country,
    /// ed25519 public key.
    pub public_key: [u8; 32],
    /// [`crate::registry::token_hash`] of the participant's bearer token; zero for none.
    pub token_hash: Hash32,
}

impl ParticipantRegistered {
    pub(super) fn lots(&self) -> Vec<LotId> {
        vec![REGISTRY_LOT]
    }
    pub(super) fn validate(&self) -> Result<(), FieldError> {
        check_name("name", &self.name)?;
        check_public_key("public_key", &self.public_key)
    }
    pub(super) fn encode(&self, w: &mut Writer) -> Result<(), FieldError> {
        w.raw(&self.participant.bytes());
        w.str("name", &self.name)?;
        w.u8(self.role as u8);
        w.raw(&self.country.bytes());
        w.raw(&self.public_key);
        w.raw(&self.token_hash.0);
        Ok(())
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(ParticipantRegistered {
            participant: read_participant(r)?,
            name: r.str()?,
            role: {
                let c = r.u8()?;
                Role::from_code(c).ok_or_else(|| r.err(format!("unknown role {c}")))?
            },
            country: read_country(r)?,
            public_key: r.array()?,
            token_hash: Hash32(r.array()?),
        })
    }
}

/// Another signing key for a participant (rotation: add the new key, then revoke the old).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct KeyAdded {
    pub participant: ParticipantId,
    pub public_key: [u8; 32],
}

impl KeyAdded {
    pub(super) fn lots(&self) -> Vec<LotId> {
        vec![REGISTRY_LOT]
    }
    pub(super) fn validate(&self) -> Result<(), FieldError> {
        check_public_key("public_key", &self.public_key)
    }
    pub(super) fn encode(&self, w: &mut Writer) -> Result<(), FieldError> {
        w.raw(&self.participant.bytes());
        w.raw(&self.public_key);
        Ok(())
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(KeyAdded {
            participant: read_participant(r)?,
            public_key: r.array()?,
        })
    }
}

/// A key stops being valid from this point in history on; what it signed before stays valid.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct KeyRevoked {
    pub participant: ParticipantId,
    pub public_key: [u8; 32],
    pub reason: String,
}

impl KeyRevoked {
    pub(super) fn lots(&self) -> Vec<LotId> {
        vec![REGISTRY_LOT]
    }
    pub(super) fn validate(&self) -> Result<(), FieldError> {
        check_reason("reason", &self.reason)
    }
    pub(super) fn encode(&self, w: &mut Writer) -> Result<(), FieldError> {
        w.raw(&self.participant.bytes());
        w.raw(&self.public_key);
        w.str("reason", &self.reason)?;
        Ok(())
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(KeyRevoked {
            participant: read_participant(r)?,
            public_key: r.array()?,
            reason: r.str()?,
        })
    }
}

/// A participant may no longer submit or read (its past events stay valid).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ParticipantSuspended {
    pub participant: ParticipantId,
    pub reason: String,
}

impl ParticipantSuspended {
    pub(super) fn lots(&self) -> Vec<LotId> {
        vec![REGISTRY_LOT]
    }
    pub(super) fn validate(&self) -> Result<(), FieldError> {
        check_reason("reason", &self.reason)
    }
    pub(super) fn encode(&self, w: &mut Writer) -> Result<(), FieldError> {
        w.raw(&self.participant.bytes());
        w.str("reason", &self.reason)?;
        Ok(())
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(ParticipantSuspended {
            participant: read_participant(r)?,
            reason: r.str()?,
        })
    }
}

/// Replaces a participant's bearer token (the hash; the token itself never reaches the ledger).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TokenIssued {
    pub participant: ParticipantId,
    pub token_hash: Hash32,
}

impl TokenIssued {
    pub(super) fn lots(&self) -> Vec<LotId> {
        vec![REGISTRY_LOT]
    }
    pub(super) fn validate(&self) -> Result<(), FieldError> {
        if self.token_hash == Hash32::ZERO {
            return Err(FieldError::new("token_hash", "must not be zero"));
        }
        Ok(())
    }
    pub(super) fn encode(&self, w: &mut Writer) -> Result<(), FieldError> {
        w.raw(&self.participant.bytes());
        w.raw(&self.token_hash.0);
        Ok(())
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(TokenIssued {
            participant: read_participant(r)?,
            token_hash: Hash32(r.array()?),
        })
    }
}
