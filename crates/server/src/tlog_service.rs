//! The `TransparencyLog` service: the latest checkpoint and proofs from the engine's tree.
//! Every authenticated participant may call it: it reveals hashes only.

use std::sync::Arc;

use ree_proto::v1 as pb;
use ree_tlog::{Hash, TreeError};
use tonic::{Request, Response, Status};

use crate::auth::caller;
use crate::checkpoints::Checkpointer;

#[derive(Clone)]
pub struct TransparencyLog {
    pub log: Arc<Checkpointer>,
    pub witnesses: Arc<crate::witnesses::Witnesses>,
}

fn hashes(v: Vec<Hash>) -> Vec<Vec<u8>> {
    v.into_iter().map(|h| h.0.to_vec()).collect()
}

fn latest_size(log: &Checkpointer) -> u64 {
    log.latest().map_or(0, |l| l.checkpoint.size)
}

/// A size the caller named must be within what is published.
fn check_size(field: &str, size: u64, published: u64) -> Result<(), Status> {
    if size > published {
        return Err(Status::out_of_range(format!(
            "{field}: {size} is beyond the log's {published} records"
        )));
    }
    Ok(())
}

fn tree_status(e: TreeError) -> Status {
    match e {
        TreeError::Read(r) => {
            tracing::error!("tree: {r}");
            Status::internal(format!("tree: {r}"))
        }
        other => Status::out_of_range(other.to_string()),
    }
}

#[tonic::async_trait]
impl pb::transparency_log_server::TransparencyLog for TransparencyLog {
    async fn get_checkpoint(
        &self,
        req: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::Checkpoint>, Status> {
        caller(&req)?;
        let l = self
            .log
            .latest()
            .ok_or_else(|| Status::unavailable("no checkpoint signed yet; retry in 1 s"))?;
        Ok(Response::new(pb::Checkpoint {
            note: String::from_utf8_lossy(&self.log.published(&l)).into_owned(),
            origin: l.checkpoint.origin.clone(),
            size: l.checkpoint.size,
            root: l.checkpoint.root.0.to_vec(),
        }))
    }

    async fn get_witnesses(
        &self,
        req: Request<pb::GetWitnessesRequest>,
    ) -> Result<Response<pb::WitnessList>, Status> {
        caller(&req)?;
        let witnesses = self
            .witnesses
            .status()
            .into_iter()
            .map(|w| pb::WitnessStatus {
                name: w.name,
                url: w.url,
                cosigned_size: w.cosigned_size,
                witness_size: w.witness_size,
                last_error: w.last_error,
                consecutive_failures: w.consecutive_failures,
                alarms: w.alarms,
            })
            .collect();
        Ok(Response::new(pb::WitnessList { witnesses }))
    }

    async fn get_inclusion_proof(
        &self,
        req: Request<pb::GetInclusionProofRequest>,
    ) -> Result<Response<pb::InclusionProof>, Status> {
        caller(&req)?;
        let r = req.into_inner();
        let published = self.log.engine().last_global_seq();
        let size = if r.tree_size == 0 {
            latest_size(&self.log)
        } else {
            r.tree_size
        };
        check_size("tree_size", size, published)?;
        if r.global_seq == 0 {
            return Err(Status::invalid_argument("global_seq: must be at least 1"));
        }
        if r.global_seq > size {
            return Err(Status::out_of_range(format!(
                "global_seq: {} is not in the tree of {size} records",
                r.global_seq
            )));
        }
        let log = self.log.clone();
        let (record, proof) = tokio::task::spawn_blocking(move || {
            let e = log.engine();
            let rec = e.records_from(r.global_seq, 1).map_err(|e| {
                tracing::error!("{e}");
                Status::internal(format!("store: {e}"))
            })?;
            let Some((_, bytes)) = rec.into_iter().next() else {
                return Err(Status::internal("record missing from the store"));
            };
            let proof = e
                .tree()
                .inclusion_proof(r.global_seq - 1, size)
                .map_err(tree_status)?;
            Ok((ree_core::record::record_hash(&bytes), proof))
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))??;
        Ok(Response::new(pb::InclusionProof {
            leaf_index: r.global_seq - 1,
            tree_size: size,
            record_hash: record.0.to_vec(),
            hashes: hashes(proof),
        }))
    }

    async fn get_consistency_proof(
        &self,
        req: Request<pb::GetConsistencyProofRequest>,
    ) -> Result<Response<pb::ConsistencyProof>, Status> {
        caller(&req)?;
        let r = req.into_inner();
        let published = self.log.engine().last_global_seq();
        let new = if r.new_size == 0 {
            latest_size(&self.log)
        } else {
            r.new_size
        };
        check_size("new_size", new, published)?;
        if r.old_size > new {
            return Err(Status::invalid_argument(format!(
                "old_size: {} is larger than new_size {new}",
                r.old_size
            )));
        }
        let proof = self
            .log
            .engine()
            .tree()
            .consistency_proof(r.old_size, new)
            .map_err(tree_status)?;
        Ok(Response::new(pb::ConsistencyProof {
            old_size: r.old_size,
            new_size: new,
            hashes: hashes(proof),
        }))
    }
}
