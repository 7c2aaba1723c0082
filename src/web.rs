//! Browser clients: gRPC-Web (`tonic-web`) and CORS (`tower-http`), both off
//! by default. The gRPC-Web layer sits outside admission and the deadline and
//! auth layers, so a browser's call is translated to gRPC first and then meets
//! the same admission, token check, access log and deadlines as any other call.
//! CORS sits outside everything: a preflight (`OPTIONS`) carries no token and is
//! answered before authentication. A gRPC-Web request over HTTP/1.1 is read whole
//! before its call runs, but only once it is admitted and its token checked
//! (`api::web_bodies`); a call refused before that gets what is left of its body
//! read and dropped, briefly ([`DrainRefused`]). With no allowed origin there
//! is no CORS layer at all, so no response carries a CORS header and browsers on
//! other origins are refused.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use http_body_util::BodyExt;
use tokio::sync::oneshot;
use tonic::body::Body;
use tonic_web::GrpcWebLayer;
use tower::layer::util::{Identity, Stack};
use tower::util::{Either, option_layer};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::api::middleware::{Answer, Around, Inner, Middleware};
use crate::body_watch::{Watch, watch};
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
/// bodies ([`DrainRefused`]), the gRPC-Web translation. `None` when `grpc_web.enabled` is off.
pub type BrowserLayer = Stack<Stack<GrpcWebLayer, DrainRefusedLayer>, Either<CorsLayer, Identity>>;

/// The layers of [`BrowserLayer`] for these settings, or `None` (plain gRPC only).
pub fn browser_layer(settings: &GrpcWebSettings) -> Option<BrowserLayer> {
    settings.enabled.then(|| {
        Stack::new(
            Stack::new(GrpcWebLayer::new(), Around(DrainRefused)),
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
pub struct DrainRefused;

/// [`DrainRefused`] as a tower layer.
pub type DrainRefusedLayer = Around<DrainRefused>;

impl Middleware for DrainRefused {
    fn serve<S: Inner>(&self, mut inner: S, request: http::Request<Body>) -> Answer<S::Error> {
        if request.version() >= http::Version::HTTP_2 {
            return Box::pin(inner.call(request));
        }
        let (handed_back, mut left) = oneshot::channel();
        let request = request.map(|body| {
            watch(
                body,
                HandBack {
                    back: Some(handed_back),
                },
            )
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

/// Hands the request body it watches back to [`DrainRefused`] if it is dropped before its end.
struct HandBack {
    back: Option<oneshot::Sender<Body>>,
}

impl Watch for HandBack {
    fn dropped(&mut self, body: &mut Body) {
        if let Some(back) = self.back.take()
            && !http_body::Body::is_end_stream(body)
        {
            let _sent = back.send(std::mem::take(body));
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
