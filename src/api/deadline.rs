//! Deadlines per kind of method. A unary call ends with `CANCELLED` after
//! `server.request_timeout_seconds` (or the client's `grpc-timeout`, when
//! shorter). A streaming method is not bound by that: its call gets a
//! [`StreamBudget`] in its extensions (see `streaming`), and only the start
//! of its answer is bounded here, by that budget. Which methods stream is read
//! from the services' own descriptor sets, so a new stream needs no entry here.
//!
//! Request bodies have their own limits, so a client that sends headers and
//! then nothing cannot hold its admission places: the one message of a unary or
//! server-streaming call must arrive whole within `server.request_body_timeout_seconds`
//! of the call's start, and a client stream (`UploadOutcomes`) that sends nothing for
//! `server.stream_idle_timeout_seconds` is cut. Either way the handler reading the
//! body gets `DEADLINE_EXCEEDED` (reasons `REQUEST_BODY_TOO_SLOW`, `CLIENT_STREAM_IDLE`),
//! the call ends with it, and its places are free again.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::Body as _;
use prost::Message;
use tokio::time::{Instant, Sleep};
use tonic::body::Body;

use super::middleware::{Answer, Inner, Middleware};
use super::streaming::{StreamBudget, StreamLimits, parse_grpc_timeout};
use crate::body_watch::{Polled, Watch, watch};
use crate::error::Error;

/// A method of a served service, as its descriptor declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedMethod {
    /// The fully qualified service, e.g. `tipgrants.v1.GrantService`.
    pub service: String,
    /// The method, e.g. `GetGrant`.
    pub name: String,
    /// Whether it streams, in either direction.
    pub streams: bool,
    /// Whether its client streams (sends more than one message).
    pub client_streams: bool,
}

impl ServedMethod {
    /// Its request path, `/package.Service/Method`.
    pub fn path(&self) -> String {
        format!("/{}/{}", self.service, self.name)
    }
}

/// Every method among the encoded `FileDescriptorSet`s given.
pub fn served_methods(descriptor_sets: &[&[u8]]) -> Result<Vec<ServedMethod>, prost::DecodeError> {
    let mut methods = Vec::new();
    for encoded in descriptor_sets {
        let set = prost_types::FileDescriptorSet::decode(*encoded)?;
        for file in &set.file {
            for service in &file.service {
                let qualified = match file.package() {
                    "" => service.name().to_string(),
                    package => format!("{package}.{}", service.name()),
                };
                for method in &service.method {
                    methods.push(ServedMethod {
                        service: qualified.clone(),
                        name: method.name().to_string(),
                        streams: method.client_streaming() || method.server_streaming(),
                        client_streams: method.client_streaming(),
                    });
                }
            }
        }
    }
    Ok(methods)
}

/// The paths (`/package.Service/Method`) of the methods that stream, among the encoded
/// `FileDescriptorSet`s given.
#[derive(Debug, Clone, Default)]
pub struct StreamingMethods {
    /// Those that stream in either direction.
    pub either: HashSet<String>,
    /// Those whose client streams.
    pub client: HashSet<String>,
}

impl StreamingMethods {
    /// The methods that stream among `methods`.
    pub fn of(methods: &[ServedMethod]) -> StreamingMethods {
        let mut streaming = StreamingMethods::default();
        for method in methods {
            if method.client_streams {
                streaming.client.insert(method.path());
            }
            if method.streams {
                streaming.either.insert(method.path());
            }
        }
        streaming
    }
}

/// The methods that stream among the encoded `FileDescriptorSet`s given.
pub fn streaming_methods(
    descriptor_sets: &[&[u8]],
) -> Result<StreamingMethods, prost::DecodeError> {
    Ok(StreamingMethods::of(&served_methods(descriptor_sets)?))
}

/// The time limits of calls, from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct CallLimits {
    /// A unary call's whole time.
    pub unary_timeout: Duration,
    /// The time for the one request message of a unary or server-streaming call.
    pub request_body_timeout: Duration,
    /// Server streams' limits; a client stream's idle time too.
    pub stream_limits: StreamLimits,
}

/// The deadline middleware; see the module documentation.
#[derive(Clone)]
pub struct Deadlines {
    limits: CallLimits,
    streaming_methods: Arc<StreamingMethods>,
}

impl Deadlines {
    pub fn new(limits: CallLimits, streaming_methods: StreamingMethods) -> Deadlines {
        Deadlines {
            limits,
            streaming_methods: Arc::new(streaming_methods),
        }
    }
}

impl Middleware for Deadlines {
    fn serve<S: Inner>(&self, mut inner: S, mut request: http::Request<Body>) -> Answer<S::Error> {
        let limits = self.limits;
        let client_timeout = request
            .headers()
            .get("grpc-timeout")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_grpc_timeout);
        let path = request.uri().path();
        let body_limit = if self.streaming_methods.client.contains(path) {
            BodyLimit::Idle(limits.stream_limits.idle)
        } else {
            BodyLimit::Whole(limits.request_body_timeout)
        };
        let timeout = if self.streaming_methods.either.contains(path) {
            let budget = StreamBudget::starting_now(limits.stream_limits, client_timeout);
            request.extensions_mut().insert(budget);
            budget.remaining()
        } else {
            client_timeout.map_or(limits.unary_timeout, |client| {
                client.min(limits.unary_timeout)
            })
        };
        let request = request.map(|body| BodyTimer::wrap(body, body_limit));
        Box::pin(async move {
            match tokio::time::timeout(timeout, inner.call(request)).await {
                Ok(response) => response,
                // What tonic's own timeout answers, so clients see no change.
                Err(_elapsed) => Ok(tonic::Status::from(Error::Cancelled {
                    reason: "REQUEST_TIMEOUT",
                    message: "Timeout expired".into(),
                })
                .into_http()),
            }
        })
    }
}

/// How long a request body may take.
#[derive(Debug, Clone, Copy)]
enum BodyLimit {
    /// All of it, from the call's start.
    Whole(Duration),
    /// Each frame, while the handler waits for it.
    Idle(Duration),
}

/// Cuts the request body it watches with `DEADLINE_EXCEEDED` when it breaks its [`BodyLimit`].
struct BodyTimer {
    limit: BodyLimit,
    timer: Pin<Box<Sleep>>,
    /// Whether `timer` runs: always for `Whole`, while waiting for a frame for `Idle`.
    armed: bool,
    cut: bool,
}

impl BodyTimer {
    fn wrap(body: Body, limit: BodyLimit) -> Body {
        let (duration, armed) = match limit {
            BodyLimit::Whole(duration) => (duration, true),
            BodyLimit::Idle(duration) => (duration, false),
        };
        watch(
            body,
            BodyTimer {
                limit,
                timer: Box::pin(tokio::time::sleep(duration)),
                armed,
                cut: false,
            },
        )
    }

    fn too_slow(&self) -> tonic::Status {
        let error = match self.limit {
            BodyLimit::Whole(limit) => Error::DeadlineExceeded {
                reason: "REQUEST_BODY_TOO_SLOW",
                message: format!(
                    "the request did not arrive whole within {} s",
                    limit.as_secs_f64()
                ),
            },
            BodyLimit::Idle(limit) => Error::DeadlineExceeded {
                reason: "CLIENT_STREAM_IDLE",
                message: format!(
                    "the client stream sent nothing for {} s",
                    limit.as_secs_f64()
                ),
            },
        };
        error.into()
    }
}

impl Watch for BodyTimer {
    fn poll_frame(&mut self, body: &mut Body, context: &mut Context<'_>) -> Polled {
        if self.cut {
            return Poll::Ready(None);
        }
        match Pin::new(body).poll_frame(context) {
            Poll::Ready(frame) => {
                if let BodyLimit::Idle(_) = self.limit {
                    self.armed = false;
                }
                Poll::Ready(frame)
            }
            Poll::Pending => {
                if let BodyLimit::Idle(idle) = self.limit
                    && !self.armed
                {
                    self.armed = true;
                    self.timer.as_mut().reset(Instant::now() + idle);
                }
                if self.timer.as_mut().poll(context).is_ready() {
                    self.cut = true;
                    return Poll::Ready(Some(Err(self.too_slow())));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self, body: &Body) -> bool {
        self.cut || body.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streaming_methods_are_read_from_the_descriptors() {
        let methods = streaming_methods(&[
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            crate::pb::FILE_DESCRIPTOR_SET,
        ])
        .expect("valid descriptor sets");

        assert!(methods.either.contains("/grpc.health.v1.Health/Watch"));
        assert!(!methods.client.contains("/grpc.health.v1.Health/Watch"));
        assert!(
            methods
                .client
                .contains("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
        );
        assert!(
            methods
                .client
                .contains("/tipgrants.v1.OutcomeReportService/UploadOutcomes")
        );
        assert!(!methods.either.contains("/grpc.health.v1.Health/Check"));
        assert!(
            !methods
                .either
                .contains("/tipgrants.v1.OrganizationService/GetOrganization")
        );
    }
}
