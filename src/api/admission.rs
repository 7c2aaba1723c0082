//! Admission, in two gates. The global gate: at most `server.max_calls_in_flight`
//! calls are served at once, across all connections. It is the outermost layer,
//! before the deadline, the token check and the access log, and it never waits: a
//! call beyond the limit is refused at once with UNAVAILABLE (reason `SERVER_BUSY`,
//! with a `RetryInfo`), so under overload a refusal costs microseconds and the
//! admitted calls keep their latency instead of queueing for the database's
//! connections. Refusals are not one log line each (that would multiply the cost of
//! overload): they are counted in `tipgrants_calls_refused_total` and logged as a
//! count at most once a second.
//!
//! The principal gate ([`PrincipalAdmission`]), once the token is known, keeps each
//! caller to its share (`shares`): `server.max_calls_in_flight_per_token` per token,
//! `server.max_calls_in_flight_per_organization` per grantee organisation (its own
//! excess: RESOURCE_EXHAUSTED), and grantees together to the places not kept for
//! staff (`server.calls_in_flight_reserved_for_staff`; beyond: UNAVAILABLE,
//! `SERVER_BUSY`). So one grantee cannot take the places of another, nor staff's.
//!
//! A call holds its places until its client has taken the end of its answer (a
//! stream's last message, or a unary answer): an answer its client leaves unread
//! keeps counting against that caller, until `crate::connections` closes the
//! connection. Health and reflection are never refused and never counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tonic::body::Body;

use super::middleware::{Answer, Inner, Middleware, hold_until_answered};
use super::shares::{Refusal, ShareLimits, Shares};

use crate::error::Error;
use crate::settings::ServerSettings;
use crate::store::CallContext;

/// How long a client refused for a busy server should wait before it retries (the `RetryInfo` delay).
const RETRY_AFTER: Duration = Duration::from_millis(50);
/// How long a caller over its own share should wait: until one of its own calls ends.
const RETRY_OWN_SHARE_AFTER: Duration = Duration::from_secs(1);

/// Paths never refused: probes and tooling must work on a busy server.
const EXEMPT_PREFIXES: [&str; 2] = ["/grpc.health.v1.Health/", "/grpc.reflection."];

fn is_exempt(path: &str) -> bool {
    EXEMPT_PREFIXES
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// The shared limit across connections, and the count of refusals not yet logged.
#[derive(Clone)]
pub struct Admission {
    shared: Arc<Shared>,
}

struct Shared {
    permits: Arc<Semaphore>,
    limit: usize,
    started: Instant,
    refused: AtomicU64,
    /// Seconds since `started` of the last refusal log line.
    logged_at: AtomicU64,
}

impl Admission {
    pub fn new(max_calls_in_flight: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                permits: Arc::new(Semaphore::new(max_calls_in_flight)),
                limit: max_calls_in_flight,
                started: Instant::now(),
                refused: AtomicU64::new(0),
                logged_at: AtomicU64::new(0),
            }),
        }
    }
}

impl Shared {
    /// Counts a refusal; the first refusal of each second logs the count since the last line.
    fn count_refusal(&self) {
        crate::telemetry::metrics::count_refused_call();
        self.refused.fetch_add(1, Ordering::Relaxed);
        let now = self.started.elapsed().as_secs() + 1;
        let last = self.logged_at.load(Ordering::Relaxed);
        if now > last
            && self
                .logged_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let refused = self.refused.swap(0, Ordering::Relaxed);
            tracing::warn!(
                refused,
                max_calls_in_flight = self.limit,
                "server busy: calls refused with UNAVAILABLE since the last such line"
            );
        }
    }
}

/// The refusal of a busy server: UNAVAILABLE, retry after a short pause.
fn busy(message: &str) -> Error {
    Error::Overloaded {
        reason: "SERVER_BUSY",
        message: message.into(),
        retry_after: RETRY_AFTER,
    }
}

/// A refusal as the answer of a call.
fn refused(error: Error) -> http::Response<Body> {
    tonic::Status::from(error).into_http()
}

impl Middleware for Admission {
    fn serve<S: Inner>(&self, mut inner: S, request: http::Request<Body>) -> Answer<S::Error> {
        if is_exempt(request.uri().path()) {
            return Box::pin(inner.call(request));
        }
        let Ok(permit) = self.shared.permits.clone().try_acquire_owned() else {
            self.shared.count_refusal();
            let answer = refused(busy("the server is busy; retry with backoff"));
            return Box::pin(std::future::ready(Ok(answer)));
        };
        Box::pin(async move {
            let response = inner.call(request).await?;
            Ok(hold_until_answered(response, permit))
        })
    }
}

/// The principal gate; see the module documentation. It runs after the token check, so it
/// knows the caller; calls without one (health, reflection while open) pass.
#[derive(Clone)]
pub struct PrincipalAdmission {
    shares: Shares,
}

impl PrincipalAdmission {
    /// The gate for the `[server]` settings (validated: fewer places kept for staff than there are).
    pub fn new(settings: &ServerSettings) -> Self {
        Self {
            shares: Shares::new(ShareLimits {
                total: None,
                grantees: settings
                    .max_calls_in_flight
                    .saturating_sub(settings.calls_in_flight_reserved_for_staff),
                per_organization: settings.max_calls_in_flight_per_organization,
                per_token: Some(settings.max_calls_in_flight_per_token),
            }),
        }
    }

    fn refusal(&self, refusal: Refusal) -> Error {
        let limits = self.shares.limits();
        match refusal {
            Refusal::Token => Error::ResourceExhausted {
                reason: "TOO_MANY_CALLS_FOR_TOKEN",
                message: format!(
                    "this token has {} calls in flight already, its share; retry when one ends",
                    limits.per_token.unwrap_or_default()
                ),
                retry_after: RETRY_OWN_SHARE_AFTER,
            },
            Refusal::Organization => Error::ResourceExhausted {
                reason: "TOO_MANY_CALLS_FOR_ORGANIZATION",
                message: format!(
                    "your organisation has {} calls in flight already, its share; retry when one ends",
                    limits.per_organization
                ),
                retry_after: RETRY_OWN_SHARE_AFTER,
            },
            Refusal::Grantees | Refusal::Total => {
                busy("the server is busy with other organisations' calls; retry with backoff")
            }
        }
    }
}

impl Middleware for PrincipalAdmission {
    fn serve<S: Inner>(&self, mut inner: S, request: http::Request<Body>) -> Answer<S::Error> {
        let taken = match request.extensions().get::<CallContext>() {
            Some(call) if !is_exempt(request.uri().path()) => {
                self.shares.try_take(&call.actor).map(Some)
            }
            _ => Ok(None),
        };
        match taken {
            Err(refusal) => Box::pin(std::future::ready(Ok(refused(self.refusal(refusal))))),
            Ok(None) => Box::pin(inner.call(request)),
            Ok(Some(share)) => Box::pin(async move {
                let response = inner.call(request).await?;
                Ok(hold_until_answered(response, share))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tokio::sync::oneshot;
    use tonic_types::StatusExt;
    use tower::{Layer, Service, ServiceExt};

    use super::super::middleware::{Around, BoxFuture};
    use super::*;

    /// A service that answers each call when its `release` side is dropped or fired.
    fn held_service(
        calls: tokio::sync::mpsc::UnboundedSender<oneshot::Sender<()>>,
    ) -> impl Service<
        http::Request<Body>,
        Response = http::Response<Body>,
        Error = Infallible,
        Future = BoxFuture<Result<http::Response<Body>, Infallible>>,
    > + Clone {
        tower::service_fn(move |_request: http::Request<Body>| {
            let (release, released) = oneshot::channel();
            let _sent = calls.send(release);
            Box::pin(async move {
                let _released = released.await;
                Ok(http::Response::new(Body::empty()))
            }) as BoxFuture<_>
        })
    }

    fn call_to(path: &str) -> http::Request<Body> {
        http::Request::builder()
            .uri(path)
            .body(Body::empty())
            .expect("a valid request")
    }

    fn get_organization() -> http::Request<Body> {
        call_to("/tipgrants.v1.OrganizationService/GetOrganization")
    }

    fn code_of(response: &http::Response<Body>) -> tonic::Code {
        tonic::Status::from_header_map(response.headers())
            .map(|status| status.code())
            .unwrap_or(tonic::Code::Ok)
    }

    #[tokio::test]
    async fn a_call_beyond_the_limit_is_refused_at_once_as_unavailable_with_a_retry_delay_and_counted()
     {
        let refused = || {
            crate::telemetry::metrics::rendered()
                .lines()
                .find_map(|line| line.strip_prefix("tipgrants_calls_refused_total "))
                .and_then(|value| value.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let refused_before = refused();
        let (calls, mut held) = tokio::sync::mpsc::unbounded_channel();
        let service = Around(Admission::new(1)).layer(held_service(calls.clone()));
        let first = tokio::spawn(service.clone().oneshot(get_organization()));
        let release_first = held.recv().await.expect("the first call is served");

        let second = service.clone().oneshot(get_organization()).await;
        let _released = release_first.send(());
        let first = first.await.expect("joined");

        let second = second.expect("infallible");
        assert_eq!(code_of(&second), tonic::Code::Unavailable);
        let status = tonic::Status::from_header_map(second.headers()).expect("a status");
        assert_eq!(status.message(), "the server is busy; retry with backoff");
        assert_eq!(
            status.get_details_error_info().expect("error info").reason,
            "SERVER_BUSY"
        );
        assert_eq!(
            status
                .get_details_retry_info()
                .expect("retry info")
                .retry_delay,
            Some(RETRY_AFTER)
        );
        assert_eq!(code_of(&first.expect("infallible")), tonic::Code::Ok);
        // Other tests of this binary may be refused at the same time: at least ours.
        assert!(
            refused() - refused_before >= 1.0,
            "the refusal is in /metrics"
        );
    }

    #[tokio::test]
    async fn a_place_is_free_again_once_its_call_has_answered() {
        let (calls, mut held) = tokio::sync::mpsc::unbounded_channel();
        let service = Around(Admission::new(1)).layer(held_service(calls.clone()));
        let first = tokio::spawn(service.clone().oneshot(get_organization()));
        let _released = held.recv().await.expect("served").send(());
        assert_eq!(
            code_of(&first.await.expect("joined").expect("infallible")),
            tonic::Code::Ok
        );

        let second = tokio::spawn(service.clone().oneshot(get_organization()));
        let _released = held.recv().await.expect("served again").send(());

        assert_eq!(
            code_of(&second.await.expect("joined").expect("infallible")),
            tonic::Code::Ok
        );
    }

    #[tokio::test]
    async fn health_and_reflection_are_never_refused() {
        let (calls, mut held) = tokio::sync::mpsc::unbounded_channel();
        let service = Around(Admission::new(1)).layer(held_service(calls.clone()));
        let first = tokio::spawn(service.clone().oneshot(get_organization()));
        let release_first = held.recv().await.expect("the first call is served");

        let mut exempt = Vec::new();
        for path in [
            "/grpc.health.v1.Health/Check",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            let call = tokio::spawn(service.clone().oneshot(call_to(path)));
            let _released = held.recv().await.expect("served beyond the limit").send(());
            exempt.push(call);
        }
        let _released = release_first.send(());

        for call in exempt {
            assert_eq!(
                code_of(&call.await.expect("joined").expect("infallible")),
                tonic::Code::Ok
            );
        }
        assert_eq!(
            code_of(&first.await.expect("joined").expect("infallible")),
            tonic::Code::Ok
        );
    }
}
