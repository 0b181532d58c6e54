//! A tower layer around every call: one DEBUG line per RPC (method, caller, status, duration),
//! and undecodable request bytes answered INVALID_ARGUMENT instead of tonic's INTERNAL, which is
//! the code operators page on.

use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use tonic::codegen::http::{HeaderValue, Request, Response};
use tonic::codegen::{BoxFuture, Service};
use tonic::Code;

/// What tonic's prost codec says of bytes that are not the request message.
const DECODE_ERROR: &str = "failed to decode Protobuf message";

/// Where the authentication interceptor leaves the caller's name for the log line.
#[derive(Clone, Default)]
pub struct CallerSlot(pub Arc<OnceLock<String>>);

/// The layer's service.
#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
}

/// The layer, for `Server::builder().layer(..)`.
pub fn layer<S>() -> impl tower::Layer<S, Service = Edge<S>> + Clone {
    tower::layer::layer_fn(|inner| Edge { inner })
}

impl<S, B, R> Service<Request<B>> for Edge<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let slot = CallerSlot::default();
        req.extensions_mut().insert(slot.clone());
        let method = req.uri().path().to_string();
        let start = Instant::now();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let mut resp = fut.await?;
            let code = fix_decode_status(&mut resp);
            tracing::debug!(
                method = %method,
                caller = slot.0.get().map_or("-", String::as_str),
                status = ?code,
                duration_us = start.elapsed().as_micros() as u64,
                "rpc"
            );
            Ok(resp)
        })
    }
}

/// The status of a trailers-only answer (errors before any message), corrected when it is a
/// decode failure; `Code::Ok` when the status comes later in trailers (success, streams).
fn fix_decode_status<R>(resp: &mut Response<R>) -> Code {
    let h = resp.headers_mut();
    let code = h
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map_or(Code::Ok, Code::from_i32);
    if code != Code::Internal {
        return code;
    }
    let is_decode = h
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|m| percent_decoded(m).starts_with(DECODE_ERROR));
    if !is_decode {
        return code;
    }
    h.insert("grpc-status", HeaderValue::from_static("3"));
    h.insert(
        "grpc-message",
        HeaderValue::from_static("request: not a valid protobuf message of this method's type"),
    );
    Code::InvalidArgument
}

/// grpc-message is percent-encoded; spaces are all this check needs decoded.
fn percent_decoded(m: &str) -> String {
    m.replace("%20", " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: &str, msg: &str) -> Response<()> {
        let mut r = Response::new(());
        r.headers_mut()
            .insert("grpc-status", HeaderValue::from_str(status).unwrap());
        r.headers_mut()
            .insert("grpc-message", HeaderValue::from_str(msg).unwrap());
        r
    }

    #[test]
    fn decode_failures_become_invalid_argument() {
        let mut r = resp(
            "13",
            "failed%20to%20decode%20Protobuf%20message:%20invalid%20wire%20type",
        );
        assert_eq!(fix_decode_status(&mut r), Code::InvalidArgument);
        assert_eq!(r.headers()["grpc-status"], "3");
    }

    #[test]
    fn real_internal_errors_stay_internal() {
        let mut r = resp("13", "store:%20disk%20failed");
        assert_eq!(fix_decode_status(&mut r), Code::Internal);
        assert_eq!(r.headers()["grpc-status"], "13");
        let mut ok = Response::new(());
        assert_eq!(fix_decode_status(&mut ok), Code::Ok);
    }
}
