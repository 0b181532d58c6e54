//! The one HTTP call the log makes: `POST <witness>/add-checkpoint` over HTTP/1.1 (hyper's
//! client, already in the tree through tonic), one connection per request, bounded in time and
//! in the size of the answer it reads.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// Largest answer read from a witness (a few cosignature lines, or a size).
const MAX_ANSWER: usize = 64 * 1024;

/// A witness's address: `http://host:port[/prefix]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessUrl {
    /// `host:port`, as given.
    pub authority: String,
    /// The prefix before `/add-checkpoint`, without a trailing slash (may be empty).
    pub prefix: String,
}

impl WitnessUrl {
    /// Parses `http://host:port[/prefix]`; https is not supported (run the witness behind a
    /// local TLS terminator, or on a trusted network: cosignatures are verified anyway).
    pub fn parse(s: &str) -> Result<WitnessUrl, String> {
        let rest = s
            .strip_prefix("http://")
            .ok_or("must start with http:// (https is not supported)")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let port_ok = authority
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
        if !port_ok {
            return Err("needs host:port after http://".into());
        }
        Ok(WitnessUrl {
            authority: authority.to_owned(),
            prefix: path.trim_end_matches('/').to_owned(),
        })
    }
}

impl std::fmt::Display for WitnessUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}{}", self.authority, self.prefix)
    }
}

/// Posts `body` to `URL/add-checkpoint`; returns (status, body) or a one-line reason.
pub async fn add_checkpoint(
    url: &WitnessUrl,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<(u16, String), String> {
    tokio::time::timeout(timeout, post(url, body))
        .await
        .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
}

async fn post(url: &WitnessUrl, body: Vec<u8>) -> Result<(u16, String), String> {
    let stream = tokio::net::TcpStream::connect(url.authority.as_str())
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = hyper::Request::post(format!("{}/add-checkpoint", url.prefix))
        .header(hyper::header::HOST, url.authority.as_str())
        .header(hyper::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("request: {e}"))?;
    let answer = async {
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("send: {e}"))?;
        let status = resp.status().as_u16();
        let bytes = Limited::new(resp.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| format!("answer: {e}"))?
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }
    .await;
    driver.abort();
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = WitnessUrl::parse("http://127.0.0.1:8080/w/").unwrap();
        assert_eq!(
            (u.authority.as_str(), u.prefix.as_str()),
            ("127.0.0.1:8080", "/w")
        );
        assert_eq!(u.to_string(), "http://127.0.0.1:8080/w");
        assert!(WitnessUrl::parse("https://w:1").is_err());
        assert!(WitnessUrl::parse("http://w").is_err());
        assert!(WitnessUrl::parse("http://:80").is_err());
    }
}
