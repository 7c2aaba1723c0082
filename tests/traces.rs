//! Traces, in a test binary of its own: the telemetry layer is installed
//! globally here (with the SDK's in-memory exporter in place of OTLP), which
//! would otherwise reach every other test's server.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};

use helpers::*;

const METHOD: &str = "tipgrants.v1.OrganizationService/ListOrganizations";

fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a opentelemetry::Value> {
    span.attributes
        .iter()
        .find(|attribute| attribute.key.as_str() == key)
        .map(|attribute| &attribute.value)
}

/// Whether `span` descends from `ancestor` among `spans`.
fn descends_from(span: &SpanData, ancestor: SpanId, spans: &[SpanData]) -> bool {
    let mut parent = span.parent_span_id;
    for _ in 0..spans.len() {
        if parent == ancestor {
            return true;
        }
        match spans
            .iter()
            .find(|candidate| candidate.span_context.span_id() == parent)
        {
            Some(next) => parent = next.parent_span_id,
            None => return false,
        }
    }
    false
}

#[tokio::test]
async fn a_call_with_a_traceparent_continues_that_trace_with_a_server_span_and_its_query_spans() {
    let exporter = InMemorySpanExporter::default();
    let settings = tipgrants::settings::Settings::load_from(None, Vec::new())
        .expect("default settings")
        .telemetry;
    let telemetry = tipgrants::telemetry::init_with_span_exporter(&settings, exporter.clone());
    let app = spawn_app().await;
    let trace = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("hex");
    let caller = SpanId::from_hex("00f067aa0ba902b7").expect("hex");
    let mut request = tonic::Request::new(pb::ListOrganizationsRequest::default());
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace:032x}-{caller:016x}-01")
            .parse()
            .expect("ascii"),
    );

    app.organizations(app.admin())
        .list_organizations(request)
        .await
        .expect("listed");
    let untraced = app
        .organizations(app.admin())
        .list_organizations(pb::ListOrganizationsRequest::default())
        .await;
    let spans = eventually("both calls' server spans are exported", || async {
        telemetry.flush();
        let spans = exporter.get_finished_spans().unwrap_or_default();
        let servers = spans.iter().filter(|span| span.name == METHOD).count();
        (servers == 2).then_some(spans)
    })
    .await;

    for s in &spans {
        eprintln!(
            "SPAN {} {:?} trace={:032x} parent={:016x} attrs={:?}",
            s.name,
            s.span_kind,
            s.span_context.trace_id(),
            s.parent_span_id,
            s.attributes
                .iter()
                .map(|a| format!("{}={}", a.key, a.value))
                .collect::<Vec<_>>()
        );
    }
    assert!(untraced.is_ok());
    let in_trace: Vec<SpanData> = spans
        .iter()
        .filter(|span| span.span_context.trace_id() == trace)
        .cloned()
        .collect();
    let servers: Vec<&SpanData> = in_trace.iter().filter(|span| span.name == METHOD).collect();
    assert_eq!(servers.len(), 1, "one server span in the caller's trace");
    let server = servers[0];
    assert_eq!(server.span_kind, SpanKind::Server);
    assert_eq!(
        server.parent_span_id, caller,
        "the caller's span is its parent"
    );
    assert!(server.parent_span_is_remote);
    assert_eq!(
        attribute(server, "rpc.method").map(|value| value.as_str().into_owned()),
        Some("ListOrganizations".to_string())
    );
    assert_eq!(
        attribute(server, "rpc.grpc.status_code").map(|value| value.as_str().into_owned()),
        Some("0".to_string())
    );
    let queries: Vec<&SpanData> = in_trace
        .iter()
        .filter(|span| span.name.starts_with("sea_orm."))
        .collect();
    assert!(!queries.is_empty(), "the call's queries are in its trace");
    for query in &queries {
        assert!(
            descends_from(query, server.span_context.span_id(), &in_trace),
            "{} is a child of the server span",
            query.name
        );
        assert!(attribute(query, "db.system").is_some());
    }
    assert!(queries.iter().any(|query| {
        attribute(query, "db.statement")
            .is_some_and(|statement| statement.as_str().contains("organization"))
    }));
    let other_server = spans
        .iter()
        .find(|span| span.name == METHOD && span.span_context.trace_id() != trace)
        .expect("the call without a traceparent has a server span");
    assert_eq!(
        other_server.parent_span_id,
        SpanId::INVALID,
        "a call without a traceparent starts its own trace"
    );
}
