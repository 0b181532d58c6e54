//! Acting as a participant: signing events, and the administrator's registry operations
//! (`ree participant ...`, the demo, the bench).

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use ree_core::event::{EventBody, EventKind, ParticipantRegistered, Role};
use ree_core::record::Signature;
use ree_core::registry::token_hash;
use ree_core::{Country, EventId, Hash32, ParticipantId};
use ree_proto::creds;
use ree_proto::v1 as pb;

use crate::client::{status, Client};

/// A signed wire submission of `body`, which the caller validated (or built itself): `validate`
/// refuses everything the layout cannot hold.
pub fn signed(secret: &[u8; 32], body: &EventBody) -> pb::Submission {
    let bytes = body.encode().expect("a validated body fits the layout");
    let s = Signature::sign(secret, &bytes);
    pb::Submission {
        body: None,
        canonical_body: bytes,
        signature: Some(pb::Signature {
            public_key: s.public_key.to_vec(),
            signature: s.signature.to_vec(),
        }),
    }
}

/// Submits one registry (or any) event signed by `secret`, as `client`'s participant.
pub async fn submit_one(client: &mut Client, secret: &[u8; 32], kind: EventKind) -> Result<()> {
    let body = EventBody {
        event_id: EventId::new_v7(),
        occurred_at: ree_proto::now_utc(),
        expected_head: None,
        kind,
    };
    body.validate(ree_proto::now_utc())
        .map_err(|e| anyhow!("{e}"))?;
    client
        .submit
        .submit(pb::SubmitRequest {
            submission: Some(signed(secret, &body)),
        })
        .await
        .map_err(status)?;
    Ok(())
}

/// The registration of a new participant, with a fresh token returned beside it.
pub struct Registration {
    pub kind: EventKind,
    pub id: ParticipantId,
    pub token: String,
}

/// Builds a registration; the token is fresh from the OS unless given.
pub fn registration(
    name: &str,
    role: Role,
    country: &str,
    public_key: [u8; 32],
    token: Option<String>,
    id: Option<ParticipantId>,
) -> Result<Registration> {
    let country = Country::parse(country).map_err(|e| anyhow!("country: {}", e.reason))?;
    let token = match token {
        Some(t) => t,
        None => creds::new_token()?,
    };
    let id = id.unwrap_or_else(|| ParticipantId(uuid::Uuid::now_v7()));
    Ok(Registration {
        kind: EventKind::ParticipantRegistered(ParticipantRegistered {
            participant: id,
            name: name.to_string(),
            role,
            country,
            public_key,
            token_hash: token_hash(&token),
        }),
        id,
        token,
    })
}

/// Reads a public key: a `.pub` file, or 64 hex digits.
pub fn public_key(arg: &str) -> Result<[u8; 32]> {
    let text = if Path::new(arg).exists() {
        std::fs::read_to_string(arg).with_context(|| format!("cannot read {arg}"))?
    } else {
        arg.to_string()
    };
    let h = Hash32::from_hex(text.trim()).map_err(|e| {
        anyhow!(
            "{arg}: not a public key file or 64 hex digits ({})",
            e.reason
        )
    })?;
    Ok(h.0)
}

/// Parses a role name.
pub fn role(s: &str) -> Result<Role> {
    Role::parse(s).ok_or_else(|| {
        anyhow!(
            "role {s:?}: expected one of {}",
            Role::ALL
                .iter()
                .map(|r| r.name())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// Writes NAME.token (owner-only); refuses to overwrite.
pub fn write_token(path: &Path, token: &str) -> Result<()> {
    if path.exists() {
        bail!("{} exists: not overwritten", path.display());
    }
    Ok(creds::write_secret(path, token)?)
}
