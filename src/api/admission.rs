//! Admission: at most `server.max_calls_in_flight` authenticated calls are
//! served at once, across all connections. A call that finds them all taken
//! waits at most `server.admission_wait_ms` for one to finish, then is
//! refused with UNAVAILABLE (reason `SERVER_BUSY`, with a `RetryInfo`), which
//! clients retry with backoff. Without it, calls beyond what the database can
//! serve queue for its connections and time out after
//! `database.acquire_timeout_ms`, seconds later, taking the admitted calls'
//! latency with them. Calls without a token (health, reflection) are never
//! refused. A server stream holds its place only until its handler answers.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::body::Body;
use tonic_types::{ErrorDetails, StatusExt};
use tower::{Layer, Service};

use crate::error::ERROR_DOMAIN;
use crate::store::CallContext;

/// The shared limit: permits for calls in flight, and how long a call may wait for one.
#[derive(Clone)]
pub struct AdmissionLayer {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl AdmissionLayer {
    pub fn new(max_calls_in_flight: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_calls_in_flight)),
            wait,
        }
    }

    /// A place for one call: at once when one is free, else within `wait`, else `None`.
    async fn admit(permits: Arc<Semaphore>, wait: Duration) -> Option<OwnedSemaphorePermit> {
        match permits.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) if wait.is_zero() => None,
            Err(_) => tokio::time::timeout(wait, permits.acquire_owned())
                .await
                .ok()?
                .ok(),
        }
    }
}

impl<S> Layer<S> for AdmissionLayer {
    type Service = AdmissionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AdmissionService {
            inner,
            permits: self.permits.clone(),
            wait: self.wait,
        }
    }
}

/// See [`AdmissionLayer`].
#[derive(Clone)]
pub struct AdmissionService<S> {
    inner: S,
    permits: Arc<Semaphore>,
    wait: Duration,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send + 'static>>;

/// The refusal: UNAVAILABLE, retry after a short pause.
fn busy(wait: Duration) -> tonic::Status {
    let mut details = ErrorDetails::new();
    details.set_error_info("SERVER_BUSY", ERROR_DOMAIN, []);
    details.set_retry_info(Some(wait.max(Duration::from_millis(10)) * 2));
    tonic::Status::with_error_details(
        tonic::Code::Unavailable,
        "the server is busy; retry with backoff",
        details,
    )
}

impl<S, B> Service<http::Request<B>> for AdmissionService<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The clone that was polled ready serves this call; a fresh clone stays behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if request.extensions().get::<CallContext>().is_none() {
            return Box::pin(inner.call(request));
        }
        let (permits, wait) = (self.permits.clone(), self.wait);
        Box::pin(async move {
            let Some(_permit) = AdmissionLayer::admit(permits, wait).await else {
                return Ok(busy(wait).into_http());
            };
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tokio::sync::oneshot;
    use tower::ServiceExt;

    use super::*;
    use crate::domain::access::Actor;

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

    fn authenticated() -> http::Request<()> {
        let mut request = http::Request::new(());
        request.extensions_mut().insert(CallContext {
            actor: Actor::system(),
            method: "/tipgrants.v1.OrganizationService/GetOrganization".into(),
            request_id: String::new(),
        });
        request
    }

    fn code_of(response: &http::Response<Body>) -> tonic::Code {
        tonic::Status::from_header_map(response.headers())
            .map(|status| status.code())
            .unwrap_or(tonic::Code::Ok)
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_beyond_the_limit_is_refused_as_unavailable_when_none_finishes_in_time() {
        let (calls, mut held) = tokio::sync::mpsc::unbounded_channel();
        let service =
            AdmissionLayer::new(1, Duration::from_millis(5)).layer(held_service(calls.clone()));
        let first = tokio::spawn(service.clone().oneshot(authenticated()));
        let release_first = held.recv().await.expect("the first call is served");

        let second = service.clone().oneshot(authenticated()).await;
        let _released = release_first.send(());
        let first = first.await.expect("joined");

        let second = second.expect("infallible");
        assert_eq!(code_of(&second), tonic::Code::Unavailable);
        assert_eq!(
            second.headers().get("grpc-message").map(|v| v.as_bytes()),
            Some(&b"the%20server%20is%20busy;%20retry%20with%20backoff"[..])
        );
        let details = tonic::Status::from_header_map(second.headers())
            .expect("a status")
            .get_details_error_info()
            .expect("error info");
        assert_eq!(details.reason, "SERVER_BUSY");
        assert_eq!(code_of(&first.expect("infallible")), tonic::Code::Ok);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_call_is_served_when_a_place_frees_within_the_wait() {
        let (calls, mut held) = tokio::sync::mpsc::unbounded_channel();
        let service =
            AdmissionLayer::new(1, Duration::from_millis(50)).layer(held_service(calls.clone()));
        let first = tokio::spawn(service.clone().oneshot(authenticated()));
        let release_first = held.recv().await.expect("the first call is served");

        let second = tokio::spawn(service.clone().oneshot(authenticated()));
        tokio::task::yield_now().await;
        let _released = release_first.send(());
        let release_second = held.recv().await.expect("the second call is served");
        let _released = release_second.send(());

        assert_eq!(
            code_of(&first.await.expect("joined").expect("infallible")),
            tonic::Code::Ok
        );
        assert_eq!(
            code_of(&second.await.expect("joined").expect("infallible")),
            tonic::Code::Ok
        );
    }

    #[tokio::test(start_paused = true)]
    async fn calls_without_a_token_are_never_refused() {
        let (calls, mut held) = tokio::sync::mpsc::unbounded_channel();
        let service = AdmissionLayer::new(1, Duration::ZERO).layer(held_service(calls.clone()));
        let first = tokio::spawn(service.clone().oneshot(authenticated()));
        let release_first = held.recv().await.expect("the first call is served");

        let health = tokio::spawn(service.clone().oneshot(http::Request::new(())));
        let release_health = held
            .recv()
            .await
            .expect("health is served beyond the limit");
        let _released = release_health.send(());
        let _released = release_first.send(());

        assert_eq!(
            code_of(&health.await.expect("joined").expect("infallible")),
            tonic::Code::Ok
        );
        assert_eq!(
            code_of(&first.await.expect("joined").expect("infallible")),
            tonic::Code::Ok
        );
    }
}
