//! The one tower shape of the gRPC middleware (admission, deadlines, auth):
//! each is a [`Middleware`] that holds only its own logic, and [`Around`]
//! makes it a tower `Layer` whose `Service` hands every call to it. A call is in
//! flight until its client has taken the end of its answer: [`hold_until_answered`]
//! keeps what a middleware gave the call (an admission place) that long.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::Body as _;
use tonic::body::Body;
use tower::{Layer, Service};

use crate::body_watch::{Polled, Watch, watch};

/// A boxed future that can move between threads.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The future of a call's answer, or of the inner service's error.
pub type Answer<E> = BoxFuture<Result<http::Response<Body>, E>>;

/// The service a middleware calls: the next middleware, or tonic's routes.
pub trait Inner:
    Service<
        http::Request<Body>,
        Response = http::Response<Body>,
        Future: Send + 'static,
        Error: Send + 'static,
    > + Send
    + 'static
{
}

impl<S> Inner for S
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
}

/// What a middleware does around one call: it gets the request and the inner
/// service, polled ready, and answers the call.
pub trait Middleware: Clone + Send + Sync + 'static {
    fn serve<S: Inner>(&self, inner: S, request: http::Request<Body>) -> Answer<S::Error>;
}

/// A [`Middleware`] as a tower layer: `.layer(Around(Admission::new(100)))`.
#[derive(Clone)]
pub struct Around<M>(pub M);

impl<M: Clone, S> Layer<S> for Around<M> {
    type Service = AroundService<M, S>;

    fn layer(&self, inner: S) -> Self::Service {
        AroundService {
            middleware: self.0.clone(),
            inner,
        }
    }
}

/// The service of [`Around`]: the inner service with the middleware in front.
#[derive(Clone)]
pub struct AroundService<M, S> {
    middleware: M,
    inner: S,
}

impl<M, S> Service<http::Request<Body>> for AroundService<M, S>
where
    M: Middleware,
    S: Inner + Clone,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Answer<S::Error>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The clone that was polled ready serves this call; a fresh clone stays behind.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        self.middleware.serve(inner, request)
    }
}

/// `response`, keeping `held` until its client has taken the end of its body (or the body is
/// dropped: the client left, or its connection was closed). A trailers-only answer ends at once.
pub fn hold_until_answered<H: Send + 'static>(
    response: http::Response<Body>,
    held: H,
) -> http::Response<Body> {
    if response.body().is_end_stream() {
        return response;
    }
    response.map(|body| {
        watch(
            body,
            Holding {
                held: Some(Box::new(held)),
            },
        )
    })
}

/// What a call holds while its answer is taken; see [`hold_until_answered`].
struct Holding {
    held: Option<Box<dyn Any + Send>>,
}

impl Watch for Holding {
    fn saw(&mut self, polled: &Polled, body: &Body) {
        let ended = match polled {
            Poll::Ready(Some(Ok(frame))) => frame.is_trailers() || body.is_end_stream(),
            Poll::Ready(Some(Err(_)) | None) => true,
            Poll::Pending => false,
        };
        if ended {
            self.held = None;
        }
    }
}
