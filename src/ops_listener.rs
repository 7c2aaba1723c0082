//! The ops listener (`server.health_listen_address`), plaintext and never the
//! API: what probes and people use, with real status codes. It serves `grpc.health.v1.Health` with
//! reflection of that service alone (so grpcurl needs no `.proto` file),
//! `GET /healthz` (the process answers: 200), `GET /readyz` (200 while the
//! server is SERVING, 503 otherwise), `GET /metrics` when metrics are on, and
//! 404 for any other path (a gRPC call to another method hears UNIMPLEMENTED).
//! Readiness is read from the same health reporter the gRPC service answers
//! from, so the two never disagree.

use std::sync::Arc;

use axum::response::IntoResponse;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_server::Health;
use tonic_health::server::{HealthReporter, HealthService};
use tonic_reflection::server as reflection;

use crate::telemetry::metrics::Scrape;

/// The listener's routes; `scrape` adds `GET /metrics`.
pub fn routes<S>(
    health: S,
    reporter: HealthReporter,
    scrape: Option<Scrape>,
) -> Result<tonic::service::Routes, reflection::Error>
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    // Reflection of health alone: the ops listener must not describe the API.
    let configure = || {
        reflection::Builder::configure()
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let grpc = tonic::service::Routes::new(health)
        .add_service(configure().build_v1()?)
        .add_service(configure().build_v1alpha()?);
    let readiness = Arc::new(HealthService::from_health_reporter(reporter));
    let mut router = grpc
        .into_axum_router()
        .route("/healthz", axum::routing::get(|| async { "live\n" }))
        .route(
            "/readyz",
            axum::routing::get(move || {
                let readiness = readiness.clone();
                async move { ready(&readiness).await }
            }),
        )
        .fallback(not_found);
    if let Some(scrape) = scrape {
        router = router.route("/metrics", scrape.handler());
    }
    Ok(router.into())
}

/// 200 while the server as a whole (health service "") is SERVING, 503 otherwise.
async fn ready(health: &HealthService) -> axum::response::Response {
    let request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    let serving = health.check(request).await.is_ok_and(|answer| {
        answer.into_inner().status()
            == tonic_health::pb::health_check_response::ServingStatus::Serving
    });
    if serving {
        (http::StatusCode::OK, "serving\n").into_response()
    } else {
        (http::StatusCode::SERVICE_UNAVAILABLE, "not serving\n").into_response()
    }
}

/// Any other path: 404 for HTTP, UNIMPLEMENTED for a gRPC call (what a gRPC client expects).
async fn not_found(request: http::Request<axum::body::Body>) -> axum::response::Response {
    let grpc = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/grpc"));
    if grpc {
        return tonic::Status::unimplemented("the ops listener serves only grpc.health.v1.Health")
            .into_http::<axum::body::Body>()
            .into_response();
    }
    (
        http::StatusCode::NOT_FOUND,
        "not found: the ops listener serves GET /healthz, GET /readyz, GET /metrics and grpc.health.v1.Health\n",
    )
        .into_response()
}
