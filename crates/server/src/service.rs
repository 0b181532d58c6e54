//! The `Submissions` and `Queries` services.

use std::pin::Pin;
use std::sync::Arc;

use ree_core::event::Role;
use ree_core::{Country, FieldError, LotId, LotState, RuleError};
use ree_engine::{Engine, EngineError, Outcome, Submission, SubmitError};
use ree_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tonic::{Code, Request, Response, Status};

use crate::auth::{caller, Caller};
use crate::limits::Guards;
use crate::watch::Hub;
use ree_proto::convert;

#[derive(Clone)]
pub struct Ledger {
    pub engine: Arc<Engine>,
    pub hub: Hub,
    /// Flips to true when the server begins shutting down: open watch streams end then, so the
    /// graceful drain does not wait on streams that never finish.
    pub closing: tokio::sync::watch::Receiver<bool>,
    /// Rates, export slots and watcher places (see `limits`).
    pub guards: Arc<Guards>,
    /// The transparency log: exports carry its checkpoint and inclusion proofs.
    pub log: Arc<crate::checkpoints::Checkpointer>,
}

/// The status a submission error maps to. Never INTERNAL for a caller's mistake.
pub fn status_of(e: &SubmitError) -> Status {
    match e {
        SubmitError::Decode(d) => Status::invalid_argument(format!("canonical_body: {d}")),
        // The field path also travels as a google.rpc.BadRequest detail for programs to read.
        SubmitError::Invalid(f) => {
            use tonic_types::{ErrorDetails, StatusExt};
            Status::with_error_details(
                Code::InvalidArgument,
                f.to_string(),
                ErrorDetails::with_bad_request_violation(f.field.clone(), f.reason.clone()),
            )
        }
        SubmitError::Rule(RuleError::UnknownLot(_)) => Status::not_found(e.to_string()),
        SubmitError::Rule(RuleError::LotExists(_)) => Status::already_exists(e.to_string()),
        SubmitError::Rule(RuleError::Unauthenticated(_)) => Status::unauthenticated(e.to_string()),
        SubmitError::Rule(RuleError::Forbidden(_)) => Status::permission_denied(e.to_string()),
        SubmitError::Rule(_) => Status::failed_precondition(e.to_string()),
        SubmitError::Conflict(_) => Status::already_exists(e.to_string()),
        SubmitError::BadSignature(_) | SubmitError::Unauthenticated(_) => {
            Status::unauthenticated(e.to_string())
        }
        SubmitError::PermissionDenied(_) => Status::permission_denied(e.to_string()),
        SubmitError::Aborted { .. } => Status::aborted(e.to_string()),
        SubmitError::Overloaded(_) => Status::resource_exhausted(e.to_string()),
        SubmitError::Unavailable(_) => Status::unavailable(e.to_string()),
    }
}

fn invalid(f: FieldError) -> Status {
    status_of(&SubmitError::Invalid(f))
}

fn internal(e: EngineError) -> Status {
    tracing::error!("{e}");
    Status::internal(format!("store: {e}"))
}

/// Runs store work off the async threads and maps its failures to a status.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, EngineError> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(internal)
}

fn prefix(e: FieldError, p: &str) -> FieldError {
    e.at(p)
}

/// A wire submission to the engine's form: canonical bytes plus signature, from `caller`.
fn submission(s: &pb::Submission, path: &str, caller: &Caller) -> Result<Submission, FieldError> {
    let body = match (&s.body, s.canonical_body.is_empty()) {
        (Some(b), true) => {
            let d = convert::body_from_pb(b).map_err(|e| prefix(e, &format!("{path}.body")))?;
            // Strings past the layout's limits are caught here, before encoding.
            d.validate(ree_engine::now_utc())
                .map_err(|e| prefix(e, &format!("{path}.body")))?;
            d.encode().map_err(|e| prefix(e, &format!("{path}.body")))?
        }
        (None, false) => s.canonical_body.clone(),
        (Some(_), false) => {
            return Err(FieldError::new(
                path,
                "set either body or canonical_body, not both",
            ))
        }
        (None, true) => return Err(FieldError::new(path, "body or canonical_body is required")),
    };
    let signature = match &s.signature {
        None => None,
        Some(sig) => Some(ree_core::record::Signature {
            public_key: sig.public_key.as_slice().try_into().map_err(|_| {
                FieldError::new(format!("{path}.signature.public_key"), "must be 32 bytes")
            })?,
            signature: sig.signature.as_slice().try_into().map_err(|_| {
                FieldError::new(format!("{path}.signature.signature"), "must be 64 bytes")
            })?,
        }),
    };
    Ok(Submission {
        body,
        signature,
        caller: Some(caller.id),
    })
}

fn response(o: &Outcome) -> pb::SubmitResponse {
    pb::SubmitResponse {
        event_id: o.event_id.to_string(),
        records: o
            .records
            .iter()
            .map(|r| pb::RecordRef {
                lot_id: r.lot.to_string(),
                seq: r.seq,
                global_seq: r.global_seq,
                hash: r.hash.to_hex(),
            })
            .collect(),
        replayed: o.replayed,
        head: o
            .records
            .first()
            .map(|r| r.hash.to_hex())
            .unwrap_or_default(),
        seq: o.records.first().map_or(0, |r| r.seq),
    }
}

impl Ledger {
    async fn run(&self, subs: Vec<Submission>, atomic: bool) -> Vec<Result<Outcome, SubmitError>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let n = subs.len();
        self.engine.submit(
            subs,
            atomic,
            ree_engine::now_utc(),
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.await
            .unwrap_or_else(|_| vec![Err(SubmitError::Unavailable("committer stopped".into())); n])
    }

    fn lot_id(s: &str) -> Result<LotId, Status> {
        convert::lot_id(s, "lot_id").map_err(invalid)
    }

    /// The lot id of a request, which must name an existing lot the caller may read.
    fn existing(&self, s: &str, c: &Caller) -> Result<LotId, Status> {
        let id = Self::lot_id(s)?;
        self.readable(id, c).map(|_| id)
    }

    /// The lot, if it exists and the caller may read it. A lot a scoped caller may not read
    /// answers exactly like one that does not exist: no status or message tells a supplier
    /// which lot ids are in use.
    fn readable(&self, id: LotId, c: &Caller) -> Result<LotState, Status> {
        match self.engine.lot(id) {
            Some(l) if !c.reads_own_lots_only() || l.owner == c.id => Ok(l),
            _ => Err(no_lot(id)),
        }
    }

    /// A submission's error as `c` may see it.
    fn status_for(c: &Caller, e: &SubmitError) -> Status {
        match (c.reads_own_lots_only(), e) {
            (true, SubmitError::Rule(RuleError::Forbidden(m))) => {
                foreign_lot(m).map(no_lot).unwrap_or_else(|| status_of(e))
            }
            _ => status_of(e),
        }
    }
}

/// What every lookup of a missing, or hidden, lot answers.
fn no_lot(id: LotId) -> Status {
    status_of(&SubmitError::Rule(RuleError::UnknownLot(id)))
}

/// The lot of a "lot X belongs to another participant" refusal.
fn foreign_lot(m: &str) -> Option<LotId> {
    let rest = m.strip_prefix("lot ")?;
    let (id, tail) = rest.split_once(' ')?;
    tail.starts_with("belongs to another participant")
        .then(|| convert::lot_id(id, "lot").ok())
        .flatten()
}

#[tonic::async_trait]
impl pb::submissions_server::Submissions for Ledger {
    async fn submit(
        &self,
        req: Request<pb::SubmitRequest>,
    ) -> Result<Response<pb::SubmitResponse>, Status> {
        let c = caller(&req)?;
        let s = req
            .into_inner()
            .submission
            .ok_or_else(|| Status::invalid_argument("submission: is required"))?;
        let sub = submission(&s, "submission", &c).map_err(invalid)?;
        self.guards
            .submits
            .take(c.id, 1.0, std::time::Instant::now())?;
        match self.run(vec![sub], false).await.pop() {
            Some(Ok(o)) => Ok(Response::new(response(&o))),
            Some(Err(e)) => Err(Self::status_for(&c, &e)),
            None => Err(Status::unavailable("no answer from the committer")),
        }
    }

    async fn submit_batch(
        &self,
        req: Request<pb::SubmitBatchRequest>,
    ) -> Result<Response<pb::SubmitBatchResponse>, Status> {
        let c = caller(&req)?;
        let req = req.into_inner();
        if req.submissions.len() > ree_proto::MAX_BATCH {
            return Err(Status::invalid_argument(format!(
                "submissions: {} events, at most {} per batch",
                req.submissions.len(),
                ree_proto::MAX_BATCH
            )));
        }
        if req.submissions.is_empty() {
            return Err(Status::invalid_argument(
                "submissions: at least one event is required",
            ));
        }
        self.guards.submits.take(
            c.id,
            req.submissions.len() as f64,
            std::time::Instant::now(),
        )?;
        // Malformed entries are answered per event; in an atomic batch they abort the rest.
        let mut subs = Vec::with_capacity(req.submissions.len());
        let mut early: Vec<Option<SubmitError>> = Vec::with_capacity(req.submissions.len());
        for (i, s) in req.submissions.iter().enumerate() {
            match submission(s, &format!("submissions[{i}]"), &c) {
                Ok(s) => {
                    subs.push(s);
                    early.push(None);
                }
                Err(e) => early.push(Some(SubmitError::Invalid(e))),
            }
        }
        let results: Vec<Result<Outcome, SubmitError>> =
            if let (true, Some(bad)) = (req.atomic, early.iter().position(Option::is_some)) {
                early
                    .into_iter()
                    .map(|e| Err(e.unwrap_or(SubmitError::Aborted { failed: bad })))
                    .collect()
            } else {
                let mut engine_results = self.run(subs, req.atomic).await.into_iter();
                early
                    .into_iter()
                    .map(|e| match e {
                        Some(e) => Err(e),
                        None => engine_results
                            .next()
                            .unwrap_or(Err(SubmitError::Unavailable("missing result".into()))),
                    })
                    .collect()
            };
        if let Some(Err(e @ (SubmitError::Overloaded(_) | SubmitError::Unavailable(_)))) =
            results.first()
        {
            if results.iter().all(|r| r.is_err()) {
                return Err(status_of(e));
            }
        }
        Ok(Response::new(pb::SubmitBatchResponse {
            results: results
                .iter()
                .map(|r| pb::EventResult {
                    result: Some(match r {
                        Ok(o) => pb::event_result::Result::Ok(response(o)),
                        Err(e) => {
                            let s = Self::status_for(&c, e);
                            pb::event_result::Result::Error(pb::EventError {
                                code: s.code() as i32,
                                message: s.message().to_string(),
                            })
                        }
                    }),
                })
                .collect(),
        }))
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send>>;

#[tonic::async_trait]
impl pb::queries_server::Queries for Ledger {
    async fn get_lot(&self, req: Request<pb::GetLotRequest>) -> Result<Response<pb::Lot>, Status> {
        let c = caller(&req)?;
        let id = Self::lot_id(&req.into_inner().lot_id)?;
        let l = self.readable(id, &c)?;
        Ok(Response::new(convert::lot_pb(&l)))
    }

    async fn list_lots(
        &self,
        req: Request<pb::ListLotsRequest>,
    ) -> Result<Response<pb::ListLotsResponse>, Status> {
        let c = caller(&req)?;
        let req = req.into_inner();
        let kind = convert::kind_from_pb(req.kind).map_err(invalid)?;
        let size = match req.page_size {
            0 => 1000,
            n => n.min(10_000),
        } as usize;
        let after = if req.page_token.is_empty() {
            None
        } else {
            Some(convert::lot_id(&req.page_token, "page_token").map_err(invalid)?)
        };
        let mut lots = self.engine.lots(kind);
        if c.reads_own_lots_only() {
            lots.retain(|l| l.owner == c.id);
        }
        let start = after.map_or(0, |a| lots.partition_point(|l| l.id <= a));
        let page: Vec<pb::Lot> = lots[start..]
            .iter()
            .take(size)
            .map(convert::lot_pb)
            .collect();
        let next = if start + page.len() < lots.len() {
            page.last().map(|l| l.lot_id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListLotsResponse {
            lots: page,
            next_page_token: next,
        }))
    }

    async fn list_events(
        &self,
        req: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let c = caller(&req)?;
        let req = req.into_inner();
        let id = self.existing(&req.lot_id, &c)?;
        let limit = match req.limit {
            0 => 1000,
            n => n.min(10_000),
        } as usize;
        let engine = self.engine.clone();
        let recs = blocking(move || engine.lot_records(id, req.from_seq, limit)).await?;
        Ok(Response::new(pb::ListEventsResponse {
            events: recs
                .iter()
                .map(|r| convert::event_pb(&r.record, &r.bytes, r.hash))
                .collect(),
        }))
    }

    async fn get_provenance(
        &self,
        req: Request<pb::GetProvenanceRequest>,
    ) -> Result<Response<pb::Provenance>, Status> {
        let c = caller(&req)?;
        let req = req.into_inner();
        let id = self.existing(&req.lot_id, &c)?;
        let denied: Vec<Country> = if req.denied_countries.is_empty() {
            vec![Country::parse("CN").map_err(invalid)?]
        } else {
            req.denied_countries
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    Country::parse(c).map_err(|e| e.at(&format!("denied_countries[{i}]")))
                })
                .collect::<Result<_, _>>()
                .map_err(invalid)?
        };
        let engine = self.engine.clone();
        let (state, heads) = blocking(move || engine.provenance_upstream(id))
            .await?
            .ok_or_else(|| Status::not_found(format!("lot {id} does not exist")))?;
        // The provenance of the exact state the upstream heads were taken at.
        let prov = ree_core::provenance::Provenance::of(&state);
        let mut sources: Vec<LotState> = Vec::new();
        let upstream = heads
            .into_iter()
            .map(|(lot, (seq, head))| {
                let l = self.engine.lot(lot);
                let reassay_flags = crate::crma::reassay_flags(l.as_ref(), seq);
                sources.extend(l.clone().filter(|l| l.source().is_some()));
                let src = l.as_ref().and_then(|l| l.source());
                let (adjustments, attestations) = l
                    .as_ref()
                    .map(|l| convert::audit_pb(l, seq))
                    .unwrap_or_default();
                pb::UpstreamLot {
                    adjustments,
                    attestations,
                    lot_id: lot.to_string(),
                    kind: l.as_ref().map_or(0, |l| convert::kind_pb(l.kind()) as i32),
                    seq,
                    head: head.to_hex(),
                    country: src
                        .map(|s| s.country.to_string())
                        .or_else(|| {
                            l.as_ref()
                                .and_then(|l| l.campaign())
                                .map(|c| c.country.to_string())
                        })
                        .unwrap_or_default(),
                    feed: src.map(|s| s.feed.name().to_string()).unwrap_or_default(),
                    reassay_flags,
                }
            })
            .collect();
        let mut answer = convert::provenance_pb(&prov, &denied, upstream);
        answer.crma = crate::crma::crma_pb(&self.engine, &prov, &state, &sources);
        Ok(Response::new(answer))
    }

    type WatchStream = EventStream;

    async fn watch(
        &self,
        req: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let c = caller(&req)?;
        let req = req.into_inner();
        let id = self.existing(&req.lot_id, &c)?;
        let permit = self.guards.watchers.acquire(c.id)?;
        // Subscribe before reading history, so nothing committed in between is missed.
        let live = self.hub.subscribe();
        let (tx, rx) = mpsc::channel::<Result<pb::Event, Status>>(64);
        let w = crate::watch::Watch {
            engine: self.engine.clone(),
            closing: self.closing.clone(),
            live,
            tx,
            lot: id,
            next: req.from_seq,
            _permit: permit,
        };
        tokio::spawn(w.run());
        Ok(Response::new(
            Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)) as EventStream,
        ))
    }

    type BackupStream = Pin<Box<dyn Stream<Item = Result<pb::BackupChunk, Status>> + Send>>;

    async fn backup(
        &self,
        req: Request<pb::BackupRequest>,
    ) -> Result<Response<Self::BackupStream>, Status> {
        let c = caller(&req)?;
        if c.role != Role::Administrator {
            return Err(Status::permission_denied(format!(
                "a backup holds every record: only administrators may take one, {} is a {}",
                c.name,
                c.role.name()
            )));
        }
        let engine = self.engine.clone();
        let total = engine.last_global_seq();
        let (tx, rx) = mpsc::channel::<Result<pb::BackupChunk, Status>>(4);
        tokio::spawn(async move {
            let mut next = 1u64;
            while next <= total {
                let e2 = engine.clone();
                let page = match blocking(move || e2.records_from(next, 4096)).await {
                    Ok(p) => p,
                    Err(st) => {
                        let _ = tx.send(Err(st)).await;
                        return;
                    }
                };
                let records: Vec<Vec<u8>> = page
                    .into_iter()
                    .take_while(|(g, _)| *g <= total)
                    .map(|(_, b)| b)
                    .collect();
                if records.is_empty() {
                    let _ = tx
                        .send(Err(Status::internal(format!(
                            "record {next} missing from the store"
                        ))))
                        .await;
                    return;
                }
                next += records.len() as u64;
                if tx
                    .send(Ok(pb::BackupChunk { total, records }))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            if total == 0 {
                let _ = tx
                    .send(Ok(pb::BackupChunk {
                        total: 0,
                        records: vec![],
                    }))
                    .await;
            }
        });
        Ok(Response::new(
            Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)) as Self::BackupStream,
        ))
    }

    async fn export_bundle(
        &self,
        req: Request<pb::ExportBundleRequest>,
    ) -> Result<Response<pb::ExportBundleResponse>, Status> {
        let c = caller(&req)?;
        let id = self.existing(&req.into_inner().lot_id, &c)?;
        self.guards
            .exports
            .take(c.id, 1.0, std::time::Instant::now())?;
        // A few exports at once, server-wide; each built off the async threads.
        let _slot = self.guards.export_slots.acquire().await?;
        let (engine, log) = (self.engine.clone(), self.log.clone());
        let (up, bytes, records) = tokio::task::spawn_blocking(move || {
            let Some(up) = engine.upstream(id).map_err(internal)? else {
                return Ok(None);
            };
            let b = up.bundle();
            let n = b.records.len() as u64;
            let bytes = crate::checkpoints::with_log_section(&log, &b)?;
            Ok::<_, Status>(Some((up.head, bytes, n)))
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))??
        .ok_or_else(|| no_lot(id))?;
        if bytes.len() > crate::MAX_RESPONSE_BYTES {
            return Err(Status::resource_exhausted(format!(
                "bundle of {} bytes exceeds the export limit of {}",
                bytes.len(),
                crate::MAX_RESPONSE_BYTES
            )));
        }
        Ok(Response::new(pb::ExportBundleResponse {
            bundle: bytes,
            head: up.to_hex(),
            records,
        }))
    }

    async fn list_participants(
        &self,
        req: Request<pb::ListParticipantsRequest>,
    ) -> Result<Response<pb::ListParticipantsResponse>, Status> {
        let c = caller(&req)?;
        let reg = self
            .engine
            .registry()
            .ok_or_else(|| Status::unavailable("the ledger has no registry yet"))?;
        let head = self.engine.lot(ree_core::registry::REGISTRY_LOT);
        Ok(Response::new(pb::ListParticipantsResponse {
            participants: reg
                .participants()
                .filter(|p| !c.reads_own_lots_only() || p.id == c.id)
                .map(|p| convert::participant_pb(p, &reg))
                .collect(),
            registry_head: head.as_ref().map(|h| h.head.to_hex()).unwrap_or_default(),
            registry_head_seq: head.map_or(0, |h| h.head_seq()),
            facilities: reg
                .facilities()
                .filter(|f| !c.reads_own_lots_only() || f.operator == c.id)
                .map(|f| convert::facility_pb(f, ree_engine::now_utc()))
                .collect(),
        }))
    }

    async fn who_am_i(
        &self,
        req: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::Participant>, Status> {
        let c = caller(&req)?;
        let reg = self
            .engine
            .registry()
            .ok_or_else(|| Status::unavailable("the ledger has no registry yet"))?;
        let p = reg
            .participant(&c.id)
            .ok_or_else(|| Status::unauthenticated("participant vanished"))?;
        Ok(Response::new(convert::participant_pb(p, &reg)))
    }
}
