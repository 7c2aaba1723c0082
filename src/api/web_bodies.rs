//! gRPC-Web request bodies over HTTP/1.1, read whole before their call runs, and only once the
//! call is admitted and its token checked: this layer sits after admission, the deadline layer
//! and the principal gate, so a caller without a token, or beyond its share, is answered from
//! its headers and no byte of its body is kept. (hyper then reads what is left of a refused
//! body if it has arrived, or closes the connection, saying so in the answer's headers.)
//!
//! Why read it whole at all: a call answered while its body is still arriving over HTTP/1.1
//! forces the server to close the connection, and a client that reuses it (Node's agent, a
//! browser) fails its next call. gRPC-Web has no client streams, so a request is one message.
//!
//! The read is bounded three ways: its time (the deadline layer cuts a body that has not
//! arrived whole within `server.request_body_timeout_seconds`, `DEADLINE_EXCEEDED`); its size
//! (one message of at most tonic's 4 MiB, `RESOURCE_EXHAUSTED`); and the bytes held across all
//! connections (`grpc_web.max_buffered_mib`; a call that would go beyond is refused with
//! `UNAVAILABLE`, `WEB_REQUEST_BUFFER_FULL`, and its bytes are let go at once). The bytes of a
//! body count until its call has answered.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::body::Body;

use super::middleware::{Answer, Inner, Middleware};
use crate::error::Error;

/// The largest gRPC-Web request body read: one message of tonic's default 4 MiB limit and its
/// 5-byte frame header (the body arrives here decoded from `grpc-web-text`'s base64).
pub const MAX_WEB_REQUEST_BYTES: usize = 4 * 1024 * 1024 + 5;

/// How long a client refused for a full buffer should wait before it retries.
const RETRY_AFTER: Duration = Duration::from_millis(200);

/// The middleware; see the module documentation.
#[derive(Clone)]
pub struct ReadWebBodies {
    /// One permit per byte held.
    budget: Arc<Semaphore>,
}

impl ReadWebBodies {
    pub fn new(max_buffered_mib: u64) -> ReadWebBodies {
        let bytes = usize::try_from(max_buffered_mib.saturating_mul(1024 * 1024))
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        ReadWebBodies {
            budget: Arc::new(Semaphore::new(bytes)),
        }
    }
}

impl Middleware for ReadWebBodies {
    fn serve<S: Inner>(&self, mut inner: S, request: http::Request<Body>) -> Answer<S::Error> {
        // Only gRPC-Web reaches the calls over HTTP/1.x (tonic-web answers anything else itself).
        if request.version() >= http::Version::HTTP_2 {
            return Box::pin(inner.call(request));
        }
        let budget = self.budget.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            match read_whole(body, &budget).await {
                Ok((whole, _held)) => {
                    let body = Body::new(Full::new(whole.into()));
                    inner.call(http::Request::from_parts(parts, body)).await
                }
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}

/// The body's bytes and their share of the budget, or the status that ends the call.
async fn read_whole(
    mut body: Body,
    budget: &Arc<Semaphore>,
) -> Result<(Vec<u8>, Option<OwnedSemaphorePermit>), tonic::Status> {
    let mut whole = Vec::new();
    let mut held: Option<OwnedSemaphorePermit> = None;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            // The deadline layer's own status when the body is too slow.
            Err(status) if status.code() == tonic::Code::DeadlineExceeded => return Err(status),
            Err(error) => {
                return Err(Error::Cancelled {
                    reason: "REQUEST_BODY_UNREADABLE",
                    message: format!("the request body could not be read: {}", error.message()),
                }
                .into());
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if whole.len() + data.len() > MAX_WEB_REQUEST_BYTES {
            return Err(Error::ResourceExhausted {
                reason: "REQUEST_TOO_LARGE",
                message: format!("a gRPC-Web request may be at most {MAX_WEB_REQUEST_BYTES} bytes"),
                retry_after: Duration::ZERO,
            }
            .into());
        }
        let size = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let Ok(permit) = budget.clone().try_acquire_many_owned(size) else {
            return Err(Error::Overloaded {
                reason: "WEB_REQUEST_BUFFER_FULL",
                message: "the server holds as many gRPC-Web requests as it may; retry with backoff"
                    .into(),
                retry_after: RETRY_AFTER,
            }
            .into());
        };
        match held.as_mut() {
            Some(held) => held.merge(permit),
            None => held = Some(permit),
        }
        whole.extend_from_slice(&data);
    }
    Ok((whole, held))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use http_body::Body as _;
    use http_body_util::StreamBody;
    use tower::{Layer, Service};

    use super::super::middleware::Around;
    use super::*;

    /// A request whose body arrives in two frames, as one from the network does.
    fn request(version: http::Version, body: &[u8]) -> http::Request<Body> {
        let (first, second) = body.split_at(body.len() / 2);
        let frames = vec![
            Ok::<_, tonic::Status>(http_body::Frame::data(
                <Body as http_body::Body>::Data::from(first.to_vec()),
            )),
            Ok(http_body::Frame::data(
                <Body as http_body::Body>::Data::from(second.to_vec()),
            )),
        ];
        http::Request::builder()
            .version(version)
            .header(http::header::CONTENT_TYPE, "application/grpc")
            .body(Body::new(StreamBody::new(tokio_stream::iter(frames))))
            .expect("a request")
    }

    /// Calls the layer over a service that records the exact size its body announces.
    async fn exact_size_seen_by_the_call(
        layer: &ReadWebBodies,
        request: http::Request<Body>,
    ) -> (Option<Option<u64>>, http::Response<Body>) {
        let seen = Arc::new(Mutex::new(None));
        let record = seen.clone();
        let mut service =
            Around(layer.clone()).layer(tower::service_fn(move |request: http::Request<Body>| {
                let record = record.clone();
                async move {
                    if let Ok(mut seen) = record.lock() {
                        *seen = Some(request.body().size_hint().exact());
                    }
                    Ok::<_, std::convert::Infallible>(http::Response::new(Body::empty()))
                }
            }));
        let response = service.call(request).await.expect("infallible");
        let seen = seen.lock().map(|seen| *seen).unwrap_or_default();
        (seen, response)
    }

    fn status_of(response: &http::Response<Body>) -> Option<(tonic::Code, String)> {
        use tonic_types::StatusExt;
        tonic::Status::from_header_map(response.headers()).map(|status| {
            let reason = status
                .get_details_error_info()
                .map(|info| info.reason)
                .unwrap_or_default();
            (status.code(), reason)
        })
    }

    #[tokio::test]
    async fn a_request_over_http1_reaches_its_call_whole_and_others_stream_through() {
        let body = b"\x00\x00\x00\x00\x05hello";
        let layer = ReadWebBodies::new(64);

        let (web, _) =
            exact_size_seen_by_the_call(&layer, request(http::Version::HTTP_11, body)).await;
        let (grpc, _) =
            exact_size_seen_by_the_call(&layer, request(http::Version::HTTP_2, body)).await;

        assert_eq!(web, Some(Some(body.len() as u64)), "read whole first");
        assert_eq!(grpc, Some(None), "a gRPC body still streams");
        assert_eq!(
            layer.budget.available_permits(),
            64 * 1024 * 1024,
            "given back"
        );
    }

    #[tokio::test]
    async fn a_request_over_the_size_limit_never_reaches_its_call() {
        let body = vec![0_u8; MAX_WEB_REQUEST_BYTES + 1];

        let (seen, response) = exact_size_seen_by_the_call(
            &ReadWebBodies::new(64),
            request(http::Version::HTTP_11, &body),
        )
        .await;

        assert_eq!(seen, None);
        assert_eq!(
            status_of(&response),
            Some((tonic::Code::ResourceExhausted, "REQUEST_TOO_LARGE".into()))
        );
    }

    #[tokio::test]
    async fn a_request_beyond_the_bytes_held_across_connections_is_refused_as_unavailable() {
        let layer = ReadWebBodies::new(5);
        let _others = layer
            .budget
            .clone()
            .try_acquire_many_owned(5 * 1024 * 1024 - 10)
            .expect("the budget");

        let (seen, response) =
            exact_size_seen_by_the_call(&layer, request(http::Version::HTTP_11, &[0; 64])).await;

        assert_eq!(seen, None);
        assert_eq!(
            status_of(&response),
            Some((tonic::Code::Unavailable, "WEB_REQUEST_BUFFER_FULL".into()))
        );
        assert_eq!(layer.budget.available_permits(), 10, "its own bytes let go");
    }
}
