//! The ceiling of the gRPC layer: a `ree.v1.Submissions` server that decodes each request and
//! answers at once (no signature check, no validation, no hashing, no storage), with the same
//! tonic settings as `ree serve`. `bench/compare.sh` drives it with `ree bench --no-setup`.
//!
//! `cargo run --release -p ree-server --example noop_server -- 127.0.0.1:50061`

use ree_proto::v1 as pb;
use tonic::{Request, Response, Status};

struct Noop;

#[tonic::async_trait]
impl pb::submissions_server::Submissions for Noop {
    async fn submit(
        &self,
        req: Request<pb::SubmitRequest>,
    ) -> Result<Response<pb::SubmitResponse>, Status> {
        let r = req.into_inner();
        Ok(Response::new(pb::SubmitResponse {
            seq: r.submission.map_or(0, |s| s.canonical_body.len() as u64),
            ..Default::default()
        }))
    }

    async fn submit_batch(
        &self,
        req: Request<pb::SubmitBatchRequest>,
    ) -> Result<Response<pb::SubmitBatchResponse>, Status> {
        let n = req.into_inner().submissions.len();
        Ok(Response::new(pb::SubmitBatchResponse {
            results: (0..n)
                .map(|_| pb::EventResult {
                    result: Some(pb::event_result::Result::Ok(pb::SubmitResponse::default())),
                })
                .collect(),
        }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: std::net::SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:50061".into())
        .parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    let incoming = tokio_stream::StreamExt::map(
        tokio_stream::wrappers::TcpListenerStream::new(listener),
        |s| {
            if let Ok(s) = &s {
                let _ = s.set_nodelay(true);
            }
            s
        },
    );
    tonic::transport::Server::builder()
        .concurrency_limit_per_connection(ree_server::CONCURRENCY_PER_CONNECTION)
        .initial_stream_window_size(Some(4 << 20))
        .initial_connection_window_size(Some(8 << 20))
        .add_service(
            pb::submissions_server::SubmissionsServer::new(Noop)
                .max_decoding_message_size(ree_server::MAX_REQUEST_BYTES),
        )
        .serve_with_incoming(incoming)
        .await?;
    Ok(())
}
