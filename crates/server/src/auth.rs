//! Transport authentication: every call but health and reflection carries a participant's bearer
//! token (`authorization: Bearer <token>`). The token is hashed and looked up in the participant
//! registry; only its hash is ever stored. The caller found is attached to the request, and the
//! services decide what it may do with it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// The interceptor: authenticates and attaches the [`Caller`]; a refusal is logged (throttled,
/// with the peer address and the reason, never the token).
pub fn interceptor(
    engine: Arc<Engine>,
) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone {
    let log = Arc::new(FailureLog::default());
    move |mut req: Request<()>| {
        let c = match authenticate(&engine, req.metadata()) {
            Ok(c) => c,
            Err(st) => {
                log.refused(req.remote_addr(), st.message(), Instant::now());
                return Err(st);
            }
        };
        if let Some(slot) = req.extensions().get::<crate::edge::CallerSlot>() {
            let _ = slot.0.set(format!("{} ({})", c.name, c.id));
        }
        req.extensions_mut().insert(c);
        Ok(req)
    }
}

/// Authentication failures: one WARN line per reason per second at most, with how many were
/// held back since the last line, so a flood of bad tokens cannot flood the log.
#[derive(Default)]
pub struct FailureLog {
    last: Mutex<HashMap<String, (Instant, u64)>>,
}

impl FailureLog {
    /// Records a refusal; returns whether a line was written.
    pub fn refused(&self, peer: Option<SocketAddr>, reason: &str, now: Instant) -> bool {
        let mut m = self.last.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: reasons are the server's own fixed messages, plus suspended participants.
        if m.len() > 1024 {
            m.clear();
        }
        let e = m.entry(reason.to_string()).or_insert((now, 0));
        if e.1 > 0 && now.duration_since(e.0) < Duration::from_secs(1) {
            e.1 += 1;
            return false;
        }
        let suppressed = e.1.saturating_sub(1);
        *e = (now, 1);
        let peer = peer.map_or_else(|| "unknown".to_string(), |p| p.to_string());
        tracing::warn!(%peer, suppressed, "authentication failed: {reason}");
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_log_writes_one_line_per_reason_per_second() {
        let log = FailureLog::default();
        let t0 = Instant::now();
        let peer = Some(SocketAddr::from(([127, 0, 0, 1], 9)));
        assert!(log.refused(peer, "unknown token", t0));
        assert!(!log.refused(peer, "unknown token", t0 + Duration::from_millis(10)));
        assert!(
            log.refused(peer, "missing credential", t0),
            "own reason, own budget"
        );
        assert!(log.refused(peer, "unknown token", t0 + Duration::from_secs(1)));
    }
}
