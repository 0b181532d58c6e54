//! Transport authentication: every call but health and reflection carries a participant's bearer
//! token (`authorization: Bearer <token>`). The token is hashed and looked up in the participant
//! registry; only its hash is ever stored. The caller found is attached to the request, and the
//! services decide what it may do with it.

use std::sync::Arc;

use ree_core::event::Role;
use ree_core::registry::token_hash;
use ree_core::ParticipantId;
use ree_engine::Engine;
use tonic::metadata::MetadataMap;
use tonic::{Request, Status};

/// The authenticated participant behind a call.
#[derive(Clone, Debug)]
pub struct Caller {
    pub id: ParticipantId,
    pub role: Role,
    pub name: Arc<str>,
}

impl Caller {
    /// Suppliers and recyclers see only the lots they created.
    pub fn reads_own_lots_only(&self) -> bool {
        matches!(self.role, Role::Supplier | Role::Recycler)
    }
}

/// Finds the participant whose token the metadata carries. The token itself is never logged.
pub fn authenticate(engine: &Engine, md: &MetadataMap) -> Result<Caller, Status> {
    let v = md.get("authorization").ok_or_else(|| {
        Status::unauthenticated(
            "missing credential: send the metadata `authorization: Bearer <token>` (ree: --token-file, --token, REE_TOKEN_FILE or REE_TOKEN)",
        )
    })?;
    let s = v
        .to_str()
        .map_err(|_| Status::unauthenticated("authorization: not printable ASCII"))?;
    let token = s
        .strip_prefix("Bearer ")
        .ok_or_else(|| Status::unauthenticated("authorization: expected `Bearer <token>`"))?
        .trim();
    let reg = engine
        .registry()
        .ok_or_else(|| Status::unauthenticated("the ledger has no participants yet"))?;
    let p = reg
        .by_token(&token_hash(token))
        .ok_or_else(|| Status::unauthenticated("unknown or superseded bearer token"))?;
    if let Some(at) = p.suspended_at {
        return Err(Status::permission_denied(format!(
            "participant {} ({}) was suspended at global sequence {at}",
            p.name, p.id
        )));
    }
    Ok(Caller {
        id: p.id,
        role: p.role,
        name: p.name.clone(),
    })
}

/// The caller an interceptor attached to the request.
pub fn caller<T>(req: &Request<T>) -> Result<Caller, Status> {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no credential"))
}

/// The interceptor: authenticates and attaches the [`Caller`].
pub fn interceptor(
    engine: Arc<Engine>,
) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone {
    move |mut req: Request<()>| {
        let c = authenticate(&engine, req.metadata())?;
        req.extensions_mut().insert(c);
        Ok(req)
    }
}
