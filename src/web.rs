//! Browser clients: gRPC-Web (`tonic-web`) and CORS (`tower-http`), both off
//! by default. The gRPC-Web layer sits outside the deadline and auth layers,
//! so a browser's call is translated to gRPC first and then meets the same
//! token check, access log and deadlines as any other call. CORS sits outside
//! everything: a preflight (`OPTIONS`) carries no token and is answered before
//! authentication. A gRPC-Web request over HTTP/1.1 is read whole before its call runs
//! ([`ReadWholeBodyLayer`]). With no allowed origin there is no CORS layer at all, so no
//! response carries a CORS header and browsers on other origins are refused.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use tonic::body::Body;
use tonic_web::GrpcWebLayer;
use tower::layer::util::{Identity, Stack};
use tower::util::{Either, option_layer};
use tower::{Layer, Service};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::settings::GrpcWebSettings;

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

/// The browser layers, outermost first: CORS (when origins are allowed), the whole request body
/// read before the call (see [`ReadWholeBodyLayer`]), the gRPC-Web translation. `None` when
/// `grpc_web.enabled` is off.
pub type BrowserLayer = Stack<Stack<GrpcWebLayer, ReadWholeBodyLayer>, Either<CorsLayer, Identity>>;

/// The layers of [`BrowserLayer`] for these settings, or `None` (plain gRPC only).
pub fn browser_layer(settings: &GrpcWebSettings) -> Option<BrowserLayer> {
    settings.enabled.then(|| {
        Stack::new(
            Stack::new(GrpcWebLayer::new(), ReadWholeBodyLayer),
            option_layer(cors_layer(settings)),
        )
    })
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

/// The largest gRPC-Web request body read (base64 `grpc-web-text` of tonic's 4 MiB message limit,
/// with room to spare); a larger one is refused with `RESOURCE_EXHAUSTED`.
const MAX_WEB_REQUEST_BYTES: usize = 8 * 1024 * 1024;

/// Reads the whole body of a gRPC-Web request over HTTP/1.1 before the call runs. A call refused
/// before its handler reads the body (no token, a deadline) would otherwise be answered while
/// the body is still arriving; the server then has to close the connection, and a client that
/// reuses it (Node's agent, a browser) fails its next call with a broken pipe. gRPC-Web has no
/// client streams, so its request is always one message: reading it first costs nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadWholeBodyLayer;

impl<S> Layer<S> for ReadWholeBodyLayer {
    type Service = ReadWholeBody<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ReadWholeBody { inner }
    }
}

/// See [`ReadWholeBodyLayer`].
#[derive(Clone, Debug)]
pub struct ReadWholeBody<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send + 'static>>;

impl<S> Service<http::Request<Body>> for ReadWholeBody<S>
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
        let is_web_over_http1 = request.version() < http::Version::HTTP_2
            && request
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .is_some_and(|value| value.starts_with("application/grpc-web"));
        if !is_web_over_http1 {
            return Box::pin(inner.call(request));
        }
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            match Limited::new(body, MAX_WEB_REQUEST_BYTES).collect().await {
                Ok(collected) => {
                    let body = Body::new(Full::new(collected.to_bytes()));
                    inner.call(http::Request::from_parts(parts, body)).await
                }
                Err(error) if error.is::<LengthLimitError>() => {
                    Ok(tonic::Status::resource_exhausted(format!(
                        "a gRPC-Web request may be at most {MAX_WEB_REQUEST_BYTES} bytes"
                    ))
                    .into_http())
                }
                Err(error) => Ok(tonic::Status::cancelled(format!(
                    "the request body could not be read: {error}"
                ))
                .into_http()),
            }
        })
    }
}

/// Checks one allowed origin as a browser sends it in `Origin`: `http` or `https`, a host, an
/// optional port, nothing else (no path, not even `/`; no wildcard). The error says what is wrong.
pub fn parse_origin(origin: &str) -> Result<HeaderValue, String> {
    let refuse = |why: &str| {
        Err(format!(
            "{origin:?} is not an origin such as https://staff.example.org: {why}"
        ))
    };
    if origin.contains('*') {
        return refuse("wildcards are not allowed; list each origin");
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return refuse("it needs a scheme, http:// or https://");
    };
    if scheme != "http" && scheme != "https" {
        return refuse("the scheme must be http or https");
    }
    if rest.is_empty() {
        return refuse("it has no host");
    }
    if rest.contains(['/', '?', '#', '@']) || rest.chars().any(char::is_whitespace) {
        return refuse(
            "an origin is a scheme, a host and an optional port, without a path or a trailing /",
        );
    }
    let uri: http::Uri = origin
        .parse()
        .map_err(|error| format!("{origin:?} is not an origin: {error}"))?;
    if uri.host().is_none_or(str::is_empty) {
        return refuse("it has no host");
    }
    HeaderValue::from_str(origin).map_err(|error| format!("{origin:?}: {error}"))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use http_body::Body as _;
    use http_body_util::StreamBody;

    use super::*;

    /// A request whose body arrives in two frames, as one from the network does.
    fn request(version: http::Version, content_type: &str, body: &[u8]) -> http::Request<Body> {
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
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Body::new(StreamBody::new(tokio_stream::iter(frames))))
            .expect("a request")
    }

    /// Calls the layer over a service that records the exact size its body announces.
    async fn exact_size_seen_by_the_call(
        request: http::Request<Body>,
    ) -> (Option<Option<u64>>, http::Response<Body>) {
        let seen = Arc::new(Mutex::new(None));
        let record = seen.clone();
        let mut service =
            ReadWholeBodyLayer.layer(tower::service_fn(move |request: http::Request<Body>| {
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

    #[tokio::test]
    async fn a_grpc_web_request_over_http1_reaches_its_call_whole_and_others_stream_through() {
        let body = b"\x00\x00\x00\x00\x05hello";

        let (web, _) = exact_size_seen_by_the_call(request(
            http::Version::HTTP_11,
            "application/grpc-web+proto",
            body,
        ))
        .await;
        let (grpc, _) =
            exact_size_seen_by_the_call(request(http::Version::HTTP_2, "application/grpc", body))
                .await;

        assert_eq!(web, Some(Some(body.len() as u64)), "read whole first");
        assert_eq!(grpc, Some(None), "a gRPC body still streams");
    }

    #[tokio::test]
    async fn a_grpc_web_request_over_the_size_limit_never_reaches_its_call() {
        let body = vec![0_u8; MAX_WEB_REQUEST_BYTES + 1];

        let (seen, response) = exact_size_seen_by_the_call(request(
            http::Version::HTTP_11,
            "application/grpc-web-text",
            &body,
        ))
        .await;

        assert_eq!(seen, None);
        assert_eq!(
            response
                .headers()
                .get("grpc-status")
                .map(|value| value.as_bytes()),
            Some(b"8".as_slice()),
            "RESOURCE_EXHAUSTED"
        );
    }

    #[test]
    fn origins_as_browsers_send_them_are_accepted() {
        for origin in [
            "https://staff.example.org",
            "http://localhost:5173",
            "http://127.0.0.1:8080",
            "https://[::1]:8443",
        ] {
            assert!(parse_origin(origin).is_ok(), "{origin}");
        }
    }

    #[test]
    fn wildcards_paths_and_other_schemes_are_refused_with_the_reason() {
        let cases = [
            ("*", "wildcards"),
            ("https://*.example.org", "wildcards"),
            ("https://staff.example.org/", "trailing /"),
            ("https://staff.example.org/app", "without a path"),
            ("staff.example.org", "needs a scheme"),
            ("ftp://staff.example.org", "http or https"),
            ("https://", "no host"),
            ("https://user@staff.example.org", "without a path"),
        ];
        for (origin, reason) in cases {
            let error = parse_origin(origin).expect_err(origin);
            assert!(error.contains(reason), "{origin}: {error}");
        }
    }
}
