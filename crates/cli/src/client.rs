//! Connecting to a server and turning gRPC failures into one clear line.

use anyhow::{anyhow, Context, Result};
use ree_ledger::v1::queries_client::QueriesClient;
use ree_ledger::v1::submissions_client::SubmissionsClient;
use tonic::transport::{Channel, Endpoint};

/// A connected client for both services.
#[derive(Clone)]
pub struct Client {
    pub submit: SubmissionsClient<Channel>,
    pub query: QueriesClient<Channel>,
}

/// Connects to `url` (e.g. http://127.0.0.1:50051).
pub async fn connect(url: &str) -> Result<Client> {
    let ep = Endpoint::from_shared(url.to_string())
        .with_context(|| format!("invalid server URL {url:?}"))?
        .connect_timeout(std::time::Duration::from_secs(5))
        .tcp_nodelay(true)
        // Large answers (event lists, bundles) would otherwise stall on HTTP/2's 64 KiB window.
        .initial_stream_window_size(Some(4 << 20))
        .initial_connection_window_size(Some(8 << 20));
    let ch = ep.connect().await.map_err(|e| {
        anyhow!("cannot connect to {url}: {e} (is `ree serve` running? set --server or REE_SERVER)")
    })?;
    Ok(Client {
        submit: SubmissionsClient::new(ch.clone())
            .max_decoding_message_size(256 << 20)
            .max_encoding_message_size(64 << 20),
        query: QueriesClient::new(ch).max_decoding_message_size(256 << 20),
    })
}

/// A gRPC status as one line: code and message.
pub fn status(s: tonic::Status) -> anyhow::Error {
    anyhow!("{:?}: {}", s.code(), s.message())
}
