//! Admission: at most `server.max_calls_in_flight` calls are served at once,
//! across all connections. The check is the outermost layer, before the
//! deadline, the token check and the access log, and it never waits: a call
//! beyond the limit is refused at once with UNAVAILABLE (reason `SERVER_BUSY`,
//! with a `RetryInfo`), so under overload a refusal costs microseconds and
//! the admitted calls keep their latency instead of queueing for the
//! database's connections. Health and reflection are never refused. Refusals
//! are not one log line each (that would multiply the cost of overload): they
//! are counted in `tipgrants_calls_refused_total` and logged as a count at
//! most once a second. A server stream holds its
//! place only until its handler answers; report streams have their own limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tonic_types::{ErrorDetails, StatusExt};

use super::middleware::{Answer, Inner, Middleware};

use crate::error::ERROR_DOMAIN;

/// How long a refused client should wait before it retries (the `RetryInfo` delay).
const RETRY_AFTER: Duration = Duration::from_millis(50);

/// Paths never refused: probes and tooling must work on a busy server.
const EXEMPT_PREFIXES: [&str; 2] = ["/grpc.health.v1.Health/", "/grpc.reflection."];

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

/// The refusal: UNAVAILABLE, retry after a short pause.
fn busy() -> tonic::Status {
    let mut details = ErrorDetails::new();
    details.set_error_info("SERVER_BUSY", ERROR_DOMAIN, []);
    details.set_retry_info(Some(RETRY_AFTER));
    tonic::Status::with_error_details(
        tonic::Code::Unavailable,
        "the server is busy; retry with backoff",
        details,
    )
}

impl Middleware for Admission {
    fn serve<S: Inner<B>, B: Send + 'static>(
        &self,
        mut inner: S,
        request: http::Request<B>,
    ) -> Answer<S::Error> {
        let path = request.uri().path();
        if EXEMPT_PREFIXES
            .iter()
            .any(|prefix| path.starts_with(prefix))
        {
            return Box::pin(inner.call(request));
        }
        let Ok(permit) = self.shared.permits.clone().try_acquire_owned() else {
            self.shared.count_refusal();
            return Box::pin(std::future::ready(Ok(busy().into_http())));
        };
        Box::pin(async move {
            let response = inner.call(request).await;
            drop(permit);
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tokio::sync::oneshot;
    use tonic::body::Body;
    use tower::{Layer, Service, ServiceExt};

    use super::super::middleware::{Around, BoxFuture};
    use super::*;

    /// A service that answers each call when its `release` side is dropped or fired.
    fn held_service(
        calls: tokio::sync::mpsc::UnboundedSender<oneshot::Sender<()>>,
    ) -> impl Service<
        http::Request<()>,
        Response = http::Response<Body>,
        Error = Infallible,
        Future = BoxFuture<Result<http::Response<Body>, Infallible>>,
    > + Clone {
        tower::service_fn(move |_request: http::Request<()>| {
            let (release, released) = oneshot::channel();
            let _sent = calls.send(release);
            Box::pin(async move {
                let _released = released.await;
                Ok(http::Response::new(Body::empty()))
            }) as BoxFuture<_>
        })
    }

    fn call_to(path: &str) -> http::Request<()> {
        http::Request::builder()
            .uri(path)
            .body(())
            .expect("a valid request")
    }

    fn get_organization() -> http::Request<()> {
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
