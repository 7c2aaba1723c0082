//! Browser clients: gRPC-Web (`tonic-web`) and CORS (`tower-http`), both off
//! by default. The gRPC-Web layer sits outside admission and the deadline and
//! auth layers, so a browser's call is translated to gRPC first and then meets
//! the same admission, token check, access log and deadlines as any other call.
//! CORS sits outside everything: a preflight (`OPTIONS`) carries no token and is
//! answered before authentication. A gRPC-Web request over HTTP/1.1 is read whole
//! before its call runs, but only once it is admitted and its token checked
//! (`api::web_bodies`); a call refused before that gets what is left of its body
//! read and dropped, briefly ([`DrainRefusedLayer`]). With no allowed origin there
//! is no CORS layer at all, so no response carries a CORS header and browsers on
//! other origins are refused.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::sync::oneshot;
use tonic::body::Body;
use tonic_web::GrpcWebLayer;
use tower::layer::util::{Identity, Stack};
use tower::util::{Either, option_layer};
use tower::{Layer, Service};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::settings::{GrpcWebSettings, parse_origin};

/// How long a browser may cache a preflight's answer (browsers cap it lower: Chrome at 2 hours).
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(3600);

/// The request headers a browser's gRPC-Web call may send: the protocol's own, the bearer token
/// and the request id.
const ALLOWED_REQUEST_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "x-grpc-web",
    "x-user-agent",
    "grpc-timeout",
    "x-request-id",
];

/// The response headers a browser's script may read: the status, its message and its rich
/// details (`google.rpc.Status`), which a trailers-only answer sends as headers.
const EXPOSED_RESPONSE_HEADERS: &[&str] =
    &["grpc-status", "grpc-message", "grpc-status-details-bin"];

/// The browser layers, outermost first: CORS (when origins are allowed), the drain of refused
/// bodies ([`DrainRefusedLayer`]), the gRPC-Web translation. `None` when `grpc_web.enabled` is off.
pub type BrowserLayer = Stack<Stack<GrpcWebLayer, DrainRefusedLayer>, Either<CorsLayer, Identity>>;

/// The layers of [`BrowserLayer`] for these settings, or `None` (plain gRPC only).
pub fn browser_layer(settings: &GrpcWebSettings) -> Option<BrowserLayer> {
    settings.enabled.then(|| {
        Stack::new(
            Stack::new(GrpcWebLayer::new(), DrainRefusedLayer),
            option_layer(cors_layer(settings)),
        )
    })
}

/// The most of a refused request's body read (and dropped) before its answer.
const DRAIN_BYTES: usize = 1024 * 1024;
/// The longest a refused request's answer waits for the rest of its body.
const DRAIN_TIME: Duration = Duration::from_secs(1);

/// Over HTTP/1.1, a call answered before its body was read (refused for its token, its share,
/// a busy server) has the rest of its body read and dropped, up to [`DRAIN_BYTES`] within
/// [`DRAIN_TIME`], before the answer goes: an answer sent while the body still arrives makes
/// hyper close the connection, and a client that reuses it (Node's agent, a browser) fails its
/// next call with a broken pipe. Nothing is kept; a body larger or slower than that is left, and
/// its connection is closed after the answer.
#[derive(Clone, Copy, Debug, Default)]
pub struct DrainRefusedLayer;

impl<S> Layer<S> for DrainRefusedLayer {
    type Service = DrainRefused<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DrainRefused { inner }
    }
}

/// See [`DrainRefusedLayer`].
#[derive(Clone, Debug)]
pub struct DrainRefused<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send + 'static>>;

impl<S> Service<http::Request<Body>> for DrainRefused<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The clone that was polled ready serves this call; a fresh clone stays behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if request.version() >= http::Version::HTTP_2 {
            return Box::pin(inner.call(request));
        }
        let (handed_back, mut left) = oneshot::channel();
        let request = request.map(|body| {
            Body::new(HandedBack {
                body: Some(body),
                back: Some(handed_back),
            })
        });
        Box::pin(async move {
            let response = inner.call(request).await;
            if let Ok(mut body) = left.try_recv() {
                let _drained = tokio::time::timeout(DRAIN_TIME, async {
                    let mut read = 0;
                    while read <= DRAIN_BYTES {
                        match body.frame().await {
                            Some(Ok(frame)) => {
                                read += frame.data_ref().map_or(0, |data| data.len());
                            }
                            Some(Err(_)) | None => break,
                        }
                    }
                })
                .await;
            }
            response
        })
    }
}

/// A request body that goes back to [`DrainRefused`] if it is dropped before its end.
struct HandedBack {
    body: Option<Body>,
    back: Option<oneshot::Sender<Body>>,
}

impl http_body::Body for HandedBack {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.body.as_mut() {
            Some(body) => Pin::new(body).poll_frame(context),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body
            .as_ref()
            .is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), http_body::Body::size_hint)
    }
}

impl Drop for HandedBack {
    fn drop(&mut self) {
        if let (Some(body), Some(back)) = (self.body.take(), self.back.take())
            && !http_body::Body::is_end_stream(&body)
        {
            let _sent = back.send(body);
        }
    }
}

/// The CORS layer for the allowed origins, or `None` (no CORS headers) when there are none.
/// The origins were validated with the settings (see [`parse_origin`]).
fn cors_layer(settings: &GrpcWebSettings) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = settings
        .allowed_origins()
        .filter_map(|origin| parse_origin(origin).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::POST])
            .allow_headers(
                ALLOWED_REQUEST_HEADERS
                    .iter()
                    .map(|name| HeaderName::from_static(name))
                    .collect::<Vec<_>>(),
            )
            .expose_headers(
                EXPOSED_RESPONSE_HEADERS
                    .iter()
                    .map(|name| HeaderName::from_static(name))
                    .collect::<Vec<_>>(),
            )
            .max_age(PREFLIGHT_MAX_AGE),
    )
}
