//! The one wrapper of request and response bodies that the middleware watches: a [`Watch`]
//! holds only what it does with the frames (note the end of an answer, time a body, hand back
//! what is left), and [`watch`] makes it a body that passes everything else through. It sits
//! below every module that wraps a body (`api`, `connections`, `telemetry`, `web`) and names
//! none of them.

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body as _, Frame, SizeHint};
use tonic::body::Body;

/// What one poll of a body gives: a frame, an error, its end, or nothing yet.
pub type Polled = Poll<Option<Result<Frame<<Body as http_body::Body>::Data>, tonic::Status>>>;

/// What a watcher does around the body it wraps. Every method has the plain default, so a
/// watcher writes only what it adds.
pub trait Watch: Send + Unpin + 'static {
    /// The next frame of `body`: by default polled, shown to [`Watch::saw`], passed on.
    fn poll_frame(&mut self, body: &mut Body, context: &mut Context<'_>) -> Polled {
        let polled = Pin::new(&mut *body).poll_frame(context);
        self.saw(&polled, body);
        polled
    }

    /// `body` gave `polled` (see [`Watch::poll_frame`]).
    fn saw(&mut self, _polled: &Polled, _body: &Body) {}

    /// Whether the wrapped body has ended.
    fn is_end_stream(&self, body: &Body) -> bool {
        body.is_end_stream()
    }

    /// The wrapped body is dropped (read to its end or not), before the watcher and the body
    /// themselves are.
    fn dropped(&mut self, _body: &mut Body) {}
}

/// `body`, watched by `watcher`.
pub fn watch(body: Body, watcher: impl Watch) -> Body {
    Body::new(Watched { body, watcher })
}

/// A body and its watcher; see [`watch`].
struct Watched<W: Watch> {
    body: Body,
    watcher: W,
}

impl<W: Watch> http_body::Body for Watched<W> {
    type Data = <Body as http_body::Body>::Data;
    type Error = tonic::Status;

    fn poll_frame(self: Pin<&mut Self>, context: &mut Context<'_>) -> Polled {
        let this = self.get_mut();
        this.watcher.poll_frame(&mut this.body, context)
    }

    fn is_end_stream(&self) -> bool {
        self.watcher.is_end_stream(&self.body)
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl<W: Watch> Drop for Watched<W> {
    fn drop(&mut self) {
        self.watcher.dropped(&mut self.body);
    }
}
