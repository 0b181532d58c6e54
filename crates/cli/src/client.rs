//! Connecting to a server with a participant's bearer token, and turning gRPC failures into one
//! clear line.

use anyhow::{anyhow, bail, Context, Result};
use ree_proto::v1::queries_client::QueriesClient;
use ree_proto::v1::submissions_client::SubmissionsClient;
use ree_proto::v1::transparency_log_client::TransparencyLogClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

type Authed = InterceptedService<Channel, Bearer>;

/// A connected client for both services, acting as one participant.
#[derive(Clone)]
pub struct Client {
    channel: Channel,
    pub submit: SubmissionsClient<Authed>,
    pub query: QueriesClient<Authed>,
    /// The transparency log (issue 13): checkpoints and proofs.
    pub log: TransparencyLogClient<Authed>,
}

impl Client {
    /// The same connection, acting as the participant whose token this is.
    pub fn with_token(&self, token: Option<&str>) -> Result<Client> {
        let bearer = Bearer(
            token
                .map(|t| {
                    format!("Bearer {t}")
                        .parse::<MetadataValue<Ascii>>()
                        .map_err(|_| anyhow!("the bearer token is not printable ASCII"))
                })
                .transpose()?,
        );
        Ok(Client {
            channel: self.channel.clone(),
            submit: SubmissionsClient::with_interceptor(self.channel.clone(), bearer.clone())
                .max_decoding_message_size(256 << 20)
                .max_encoding_message_size(64 << 20),
            log: TransparencyLogClient::with_interceptor(self.channel.clone(), bearer.clone()),
            query: QueriesClient::with_interceptor(self.channel.clone(), bearer)
                .max_decoding_message_size(256 << 20),
        })
    }
}

/// Connects to `url` (e.g. http://127.0.0.1:50051) with `token` (None: calls will be refused
/// as UNAUTHENTICATED, with a message that says how to pass one).
pub async fn connect(
    url: &str,
    token: Option<&str>,
    tls: Option<tonic::transport::ClientTlsConfig>,
) -> Result<Client> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("--server {url}: give the scheme: http://{url} (or https://{url} with --ca-cert)");
    }
    let mut ep = Endpoint::from_shared(url.to_string())
        .with_context(|| format!("invalid server URL {url:?}"))?
        .connect_timeout(std::time::Duration::from_secs(5))
        .tcp_nodelay(true)
        // Large answers (event lists, bundles) would otherwise stall on HTTP/2's 64 KiB window.
        .initial_stream_window_size(Some(4 << 20))
        .initial_connection_window_size(Some(8 << 20));
    if let Some(t) = tls {
        ep = ep
            .tls_config(t)
            .map_err(|e| anyhow!("TLS settings for {url}: {e}"))?;
    }
    let channel = ep.connect().await.map_err(|e| connect_error(url, &e))?;
    let c = Client {
        query: QueriesClient::with_interceptor(channel.clone(), Bearer(None)),
        submit: SubmissionsClient::with_interceptor(channel.clone(), Bearer(None)),
        log: TransparencyLogClient::with_interceptor(channel.clone(), Bearer(None)),
        channel,
    };
    c.with_token(token)
}

/// One line saying what to do about a failed connection, from the error's whole source chain.
fn connect_error(url: &str, e: &tonic::transport::Error) -> anyhow::Error {
    let mut chain = format!("{e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        chain.push_str(&format!(": {s:?}"));
        source = s.source();
    }
    if chain.contains("HttpsUriWithoutTlsSupport") {
        anyhow!("cannot connect to {url}: an https:// server needs --ca-cert CA.pem (REE_CA_CERT), the CA that signed its certificate")
    } else if chain.contains("InvalidContentType") || chain.contains("InvalidMessage") {
        anyhow!("cannot connect to {url}: the server does not answer TLS; if it serves plaintext, use http://")
    } else if chain.contains("ConnectionRefused") {
        anyhow!("cannot connect to {url}: connection refused (is `ree serve` running there? set --server or REE_SERVER)")
    } else if chain.contains("InvalidCertificate") || chain.contains("UnknownIssuer") {
        anyhow!("cannot connect to {url}: the server's certificate is not signed by --ca-cert")
    } else {
        anyhow!("cannot connect to {url}: {e} (is `ree serve` running there? an https server needs https:// and --ca-cert)")
    }
}

/// A gRPC status as one line: code and message.
pub fn status(s: tonic::Status) -> anyhow::Error {
    anyhow!("{:?}: {}", s.code(), s.message())
}
