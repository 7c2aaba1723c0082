//! Deadlines per kind of method. A unary call ends with `CANCELLED` after
//! `server.request_timeout_seconds` (or the client's `grpc-timeout`, when
//! shorter). A streaming method is not bound by that: its call gets a
//! [`StreamBudget`] in its extensions (see `streaming`), and only the start
//! of its answer is bounded here, by that budget. Which methods stream is read
//! from the services' own descriptor sets, so a new stream needs no entry here.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;

use super::middleware::{Answer, Inner, Middleware};
use super::streaming::{StreamBudget, StreamLimits, parse_grpc_timeout};

/// A method of a served service, as its descriptor declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedMethod {
    /// The fully qualified service, e.g. `tipgrants.v1.GrantService`.
    pub service: String,
    /// The method, e.g. `GetGrant`.
    pub name: String,
    /// Whether it streams, in either direction.
    pub streams: bool,
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
                    });
                }
            }
        }
    }
    Ok(methods)
}

/// The paths (`/package.Service/Method`) of every method that streams, in
/// either direction, among the encoded `FileDescriptorSet`s given.
pub fn streaming_methods(descriptor_sets: &[&[u8]]) -> Result<HashSet<String>, prost::DecodeError> {
    Ok(served_methods(descriptor_sets)?
        .into_iter()
        .filter(|method| method.streams)
        .map(|method| method.path())
        .collect())
}

/// The deadline middleware; see the module documentation.
#[derive(Clone)]
pub struct Deadlines {
    unary_timeout: Duration,
    stream_limits: StreamLimits,
    streaming_methods: Arc<HashSet<String>>,
}

impl Deadlines {
    pub fn new(
        unary_timeout: Duration,
        stream_limits: StreamLimits,
        streaming_methods: HashSet<String>,
    ) -> Deadlines {
        Deadlines {
            unary_timeout,
            stream_limits,
            streaming_methods: Arc::new(streaming_methods),
        }
    }
}

impl Middleware for Deadlines {
    fn serve<S: Inner<B>, B: Send + 'static>(
        &self,
        mut inner: S,
        mut request: http::Request<B>,
    ) -> Answer<S::Error> {
        let client_timeout = request
            .headers()
            .get("grpc-timeout")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_grpc_timeout);
        let timeout = if self.streaming_methods.contains(request.uri().path()) {
            let budget = StreamBudget::starting_now(self.stream_limits, client_timeout);
            request.extensions_mut().insert(budget);
            budget.remaining()
        } else {
            client_timeout.map_or(self.unary_timeout, |client| client.min(self.unary_timeout))
        };
        Box::pin(async move {
            match tokio::time::timeout(timeout, inner.call(request)).await {
                Ok(response) => response,
                // What tonic's own timeout answers, so clients see no change.
                Err(_elapsed) => Ok(tonic::Status::cancelled("Timeout expired").into_http()),
            }
        })
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

        assert!(methods.contains("/grpc.health.v1.Health/Watch"));
        assert!(methods.contains("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"));
        assert!(!methods.contains("/grpc.health.v1.Health/Check"));
        assert!(!methods.contains("/tipgrants.v1.OrganizationService/GetOrganization"));
    }
}
