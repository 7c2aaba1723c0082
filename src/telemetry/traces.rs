//! OpenTelemetry traces, off by default (`telemetry.traces`). When on, the
//! spans of `tracing` become OpenTelemetry spans (`tracing-opentelemetry`)
//! and go in batches over OTLP/gRPC to `telemetry.otlp_endpoint`: each call's
//! `rpc` span is a server span that continues the caller's W3C `traceparent`,
//! and SeaORM's query spans (`sea_orm.query_one`, `sea_orm.execute`, ...,
//! with their parameterised SQL and never its values) are its children.
//! Query spans outside a call (migrations, the health probe) are not traced,
//! and the log never shows query spans (see `telemetry::init`).

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanExporter};
use tonic::Code;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

use super::metrics::Method;
use crate::settings::TelemetrySettings;

/// Whether the installed subscriber exports traces (set once, by `telemetry::init`).
static ON: AtomicBool = AtomicBool::new(false);

/// The tracer provider: spans batched to an exporter, sampled by the settings' ratio.
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// Traces exported over OTLP/gRPC to `settings.otlp_endpoint`. Call inside the Tokio
    /// runtime: the exporter's channel runs on it.
    pub fn otlp(settings: &TelemetrySettings) -> Result<Traces, String> {
        use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
        let mut builder = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(settings.otlp_endpoint.as_str());
        if settings.otlp_endpoint.starts_with("https://") {
            // The system's certificate authorities, as for `tipgrants outcomes upload`.
            builder = builder
                .with_tls_config(tonic::transport::ClientTlsConfig::new().with_native_roots());
        }
        let exporter = builder
            .build()
            .map_err(|error| format!("telemetry.otlp_endpoint: {error}"))?;
        Ok(Traces::with_exporter(settings, exporter))
    }

    /// Traces sent to `exporter` (tests use the SDK's in-memory exporter).
    pub fn with_exporter(
        settings: &TelemetrySettings,
        exporter: impl SpanExporter + 'static,
    ) -> Traces {
        // A caller's sampling decision stands; a trace that starts here is kept at the ratio.
        let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            settings.trace_sampling_ratio,
        )));
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(settings.service_name.clone())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(sampler)
            .with_resource(resource)
            .build();
        Traces { provider }
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans: info and above, and
    /// query spans only inside another span (a call).
    pub(super) fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
    {
        let filter = tracing_subscriber::filter::dynamic_filter_fn(|metadata, context| {
            metadata.level() <= &tracing::Level::INFO
                && (!metadata.target().starts_with("sea_orm") || context.lookup_current().is_some())
        });
        // No source locations, thread names or busy/idle times: cost on every span, little use.
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer("tipgrants"))
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_filter(filter)
    }

    /// Marks traces as on (the layer is installed) and continues W3C trace contexts.
    pub(super) fn activate(&self) {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        ON.store(true, Ordering::Release);
    }

    /// Exports the spans that have ended so far.
    pub fn flush(&self) {
        if let Err(error) = self.provider.force_flush() {
            tracing::warn!(%error, "traces: flush failed");
        }
    }

    /// Exports what is left and stops.
    pub fn shutdown(&self) {
        if let Err(error) = self.provider.shutdown() {
            tracing::warn!(%error, "traces: shutdown failed");
        }
    }
}

/// Makes the call's `span` a server span named after its `method`, child of the caller's
/// trace when its `headers` carry a `traceparent`. Nothing when traces are off.
pub fn continue_trace(span: &Span, headers: &http::HeaderMap, method: Method<'_>) {
    if !ON.load(Ordering::Acquire) {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    // Fails only when the span is disabled (filtered out): then there is nothing to continue.
    let _continued = span.set_parent(parent);
    span.record(
        "otel.name",
        tracing::field::display(format_args!("{}/{}", method.service(), method.name())),
    );
    span.record("otel.kind", "server");
    span.set_attribute("rpc.system", "grpc");
    span.set_attribute("rpc.service", method.service().to_string());
    span.set_attribute("rpc.method", method.name().to_string());
}

/// Records the call's final `code` on its span; a server-side failure marks it as an error.
pub fn record_status(span: &Span, code: Code) {
    if !ON.load(Ordering::Acquire) {
        return;
    }
    span.set_attribute("rpc.grpc.status_code", code as i64);
    // The server's own failures, as OpenTelemetry's semantic conventions for gRPC servers count them.
    if matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    ) {
        span.set_status(opentelemetry::trace::Status::error(format!("{code:?}")));
    }
}
