//! Traces leave the real binary over OTLP/gRPC: a collector in the test
//! (the OpenTelemetry protocol's own `TraceService`) receives the spans of a
//! call made with a `traceparent`, sent at the latest when the server stops.

use tokio::sync::mpsc;
use tonic::transport::server::TcpIncoming;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use crate::end_to_end::Server;
use crate::helpers::*;

/// Keeps every export it receives.
struct Collector(mpsc::UnboundedSender<ExportTraceServiceRequest>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let _kept = self.0.send(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// (trace id, span id, parent span id, name) of every span in `exports`.
fn spans_of(exports: &[ExportTraceServiceRequest]) -> Vec<(String, String, String, String)> {
    exports
        .iter()
        .flat_map(|export| &export.resource_spans)
        .flat_map(|resource| &resource.scope_spans)
        .flat_map(|scope| &scope.spans)
        .map(|span| {
            (
                hex::encode(&span.trace_id),
                hex::encode(&span.span_id),
                hex::encode(&span.parent_span_id),
                span.name.clone(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_traces_on_the_binary_sends_a_calls_server_and_query_spans_to_the_otlp_collector() {
    let (received, mut exports) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port for the collector");
    let collector = listener.local_addr().expect("its address");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Collector(received)))
            .serve_with_incoming(TcpIncoming::from(listener)),
    );
    let endpoint = format!("http://{collector}");
    let server = tokio::task::spawn_blocking(move || {
        Server::start_with(&[
            ("TIPGRANTS__TELEMETRY__TRACES", "true"),
            ("TIPGRANTS__TELEMETRY__OTLP_ENDPOINT", &endpoint),
            ("TIPGRANTS__TELEMETRY__SERVICE_NAME", "tipgrants-under-test"),
        ])
    })
    .await
    .expect("the server starts");
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let caller = "b7ad6b7169203331";
    let token = server.admin_token();
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.address))
        .expect("uri")
        .connect()
        .await
        .expect("connected");
    let mut request = tonic::Request::new(pb::ListOrganizationsRequest::default());
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii"),
    );
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace}-{caller}-01").parse().expect("ascii"),
    );

    let listed = pb::organization_service_client::OrganizationServiceClient::new(channel)
        .list_organizations(request)
        .await;
    let stopped = tokio::task::spawn_blocking(move || server.stop())
        .await
        .expect("the server stops");
    let mut received = Vec::new();
    let spans = eventually("the collector receives the call's server span", || {
        while let Ok(export) = exports.try_recv() {
            received.push(export);
        }
        let spans = spans_of(&received);
        let found = spans.iter().any(|(trace_id, ..)| trace_id == trace);
        std::future::ready(found.then_some(spans))
    })
    .await;

    assert!(listed.is_ok());
    assert!(stopped.success());
    let in_trace: Vec<_> = spans.iter().filter(|(id, ..)| id == trace).collect();
    let server_span = in_trace
        .iter()
        .find(|(.., name)| name == "tipgrants.v1.OrganizationService/ListOrganizations")
        .expect("the server span, named after the method");
    assert_eq!(server_span.2, caller, "its parent is the caller's span");
    assert!(
        in_trace
            .iter()
            .any(|(_, _, parent, name)| name.starts_with("sea_orm.") && *parent == server_span.1),
        "its queries are its children: {in_trace:?}"
    );
    let service_names: Vec<String> = received
        .iter()
        .flat_map(|export| &export.resource_spans)
        .filter_map(|resource| resource.resource.as_ref())
        .flat_map(|resource| &resource.attributes)
        .filter(|attribute| attribute.key == "service.name")
        .filter_map(|attribute| attribute.value.as_ref())
        .map(|value| format!("{:?}", value.value))
        .collect();
    assert!(
        service_names
            .iter()
            .all(|name| name.contains("tipgrants-under-test")),
        "{service_names:?}"
    );
}
