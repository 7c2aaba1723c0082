//! The one tower shape of the gRPC middleware (admission, deadlines, auth):
//! each is a [`Middleware`] that holds only its own logic, and [`Around`]
//! makes it a tower `Layer` whose `Service` hands every call to it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::body::Body;
use tower::{Layer, Service};

/// A boxed future that can move between threads.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The future of a call's answer, or of the inner service's error.
pub type Answer<E> = BoxFuture<Result<http::Response<Body>, E>>;

/// The service a middleware calls: the next middleware, or tonic's routes.
pub trait Inner<B>:
    Service<
        http::Request<B>,
        Response = http::Response<Body>,
        Future: Send + 'static,
        Error: Send + 'static,
    > + Send
    + 'static
{
}

impl<S, B> Inner<B> for S where
    S: Service<
            http::Request<B>,
            Response = http::Response<Body>,
            Future: Send + 'static,
            Error: Send + 'static,
        > + Send
        + 'static
{
}

/// What a middleware does around one call: it gets the request and the inner
/// service, polled ready, and answers the call.
pub trait Middleware: Clone + Send + Sync + 'static {
    fn serve<S: Inner<B>, B: Send + 'static>(
        &self,
        inner: S,
        request: http::Request<B>,
    ) -> Answer<S::Error>;
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

impl<M, S, B> Service<http::Request<B>> for AroundService<M, S>
where
    M: Middleware,
    S: Inner<B> + Clone,
    B: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Answer<S::Error>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The clone that was polled ready serves this call; a fresh clone stays behind.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        self.middleware.serve(inner, request)
    }
}
