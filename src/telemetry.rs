//! The tracing subscriber: pretty lines for people, JSON for collectors.
//! `RUST_LOG` overrides the configured filter. SQL statements are logged only
//! when `database.log_statements` is on (see `store::connect`); SeaORM's query
//! spans are for traces and never reach the log. Traces (OpenTelemetry, off by
//! default) are in `traces`, Prometheus metrics in `metrics`.
//!
//! And the end of the access log's line: a call's final status is the one in
//! its trailers, so a stream is logged when its body ends (or when the client
//! leaves, as `CANCELLED`), with the code it ended with and its whole latency.
//! The call's metrics and its trace span are finished in the same place.

pub mod metrics;
pub mod traces;

use std::task::Poll;
use std::time::Instant;

use http_body::Body as _;
use tonic::Code;
use tonic::body::Body;
use tracing::Span;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry};

use crate::body_watch::{Polled, Watch, watch};
use crate::settings::{LogFormat, TelemetrySettings};

/// What [`init`] installed. Keep it while the program runs; [`Telemetry::shutdown`] at the
/// end sends the last spans.
#[must_use = "dropping it loses nothing, but shutdown sends the last spans"]
pub struct Telemetry {
    traces: Option<traces::Traces>,
}

impl Telemetry {
    /// Exports the spans that have ended so far (tests).
    pub fn flush(&self) {
        if let Some(traces) = &self.traces {
            traces.flush();
        }
    }

    /// Exports what is left.
    pub fn shutdown(self) {
        if let Some(traces) = &self.traces {
            traces.shutdown();
        }
    }
}

/// Installs the global subscriber once (later calls, in tests, change nothing), with the
/// OTLP trace exporter when `telemetry.traces` is on: call it inside the Tokio runtime then.
pub fn init(settings: &TelemetrySettings) -> Result<Telemetry, String> {
    let traces = match settings.traces {
        true => Some(traces::Traces::otlp(settings)?),
        false => None,
    };
    Ok(install(settings, traces))
}

/// Like [`init`], with traces on and sent to `exporter` whatever the settings say (tests).
pub fn init_with_span_exporter(
    settings: &TelemetrySettings,
    exporter: impl opentelemetry_sdk::trace::SpanExporter + 'static,
) -> Telemetry {
    install(
        settings,
        Some(traces::Traces::with_exporter(settings, exporter)),
    )
}

fn install(settings: &TelemetrySettings, traces: Option<traces::Traces>) -> Telemetry {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Query spans go to traces only: SQL reaches the log through database.log_statements alone.
    let not_a_query_span = tracing_subscriber::filter::filter_fn(|metadata| {
        !(metadata.is_span() && metadata.target().starts_with("sea_orm"))
    });
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let log: Box<dyn Layer<Registry> + Send + Sync> = match settings.format {
        LogFormat::Pretty => lines
            .with_filter(tracing_subscriber::filter::FilterExt::and(
                filter,
                not_a_query_span,
            ))
            .boxed(),
        LogFormat::Json => lines
            .json()
            .flatten_event(true)
            .with_filter(tracing_subscriber::filter::FilterExt::and(
                filter,
                not_a_query_span,
            ))
            .boxed(),
    };
    let mut layers = vec![log];
    if let Some(traces) = &traces {
        layers.push(traces.layer().boxed());
    }
    let installed = tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .is_ok();
    let traces = traces.filter(|_| installed);
    if let Some(traces) = &traces {
        traces.activate();
    }
    Telemetry { traces }
}

/// Records `code` and `latency_ms` in the call's `span` and logs "rpc finished",
/// and finishes the call's metrics `record` and trace span, once the call's final
/// status is known (see [`on_final_status`]).
pub fn log_when_finished(
    response: http::Response<Body>,
    span: Span,
    started: Instant,
    record: metrics::CallRecord,
) -> http::Response<Body> {
    on_final_status(response, move |code| {
        record.finish(code);
        span.record("latency_ms", started.elapsed().as_secs_f64() * 1000.0);
        span.record("code", format!("{code:?}"));
        traces::record_status(&span, code);
        span.in_scope(|| tracing::info!("rpc finished"));
    })
}

/// Calls `finish` once with the final status of a gRPC `response`: at once for a
/// trailers-only answer (the status is in its headers), otherwise when its body
/// yields the trailers, or with `CANCELLED` when the body is dropped before its end.
pub fn on_final_status(
    response: http::Response<Body>,
    finish: impl FnOnce(Code) + Send + 'static,
) -> http::Response<Body> {
    let in_headers = grpc_status(response.headers());
    if in_headers.is_some() || response.body().is_end_stream() {
        finish(in_headers.unwrap_or(Code::Ok));
        return response;
    }
    response.map(|body| {
        watch(
            body,
            FinalStatus {
                finish: Some(Box::new(finish)),
            },
        )
    })
}

fn grpc_status(headers: &http::HeaderMap) -> Option<Code> {
    headers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<i32>().ok())
        .map(Code::from_i32)
}

/// Reports the final status of the response body it watches; see [`on_final_status`].
struct FinalStatus {
    finish: Option<Box<dyn FnOnce(Code) + Send>>,
}

impl FinalStatus {
    fn finish(&mut self, code: Code) {
        if let Some(finish) = self.finish.take() {
            finish(code);
        }
    }
}

impl Watch for FinalStatus {
    fn saw(&mut self, polled: &Polled, _body: &Body) {
        match polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    // Trailers without a status are a broken answer: the client sees UNKNOWN.
                    self.finish(grpc_status(trailers).unwrap_or(Code::Unknown));
                }
            }
            Poll::Ready(Some(Err(status))) => self.finish(status.code()),
            Poll::Ready(None) => self.finish(Code::Ok),
            Poll::Pending => {}
        }
    }

    fn dropped(&mut self, _body: &mut Body) {
        // Dropped before its end: the client went away (or reset the stream).
        self.finish(Code::Cancelled);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use http_body::Frame;
    use http_body_util::BodyExt;

    use super::*;

    type Recorded = Arc<Mutex<Vec<Code>>>;

    fn recorder() -> (Recorded, impl FnOnce(Code) + Send + 'static) {
        let recorded = Recorded::default();
        let sink = recorded.clone();
        (recorded, move |code| {
            if let Ok(mut codes) = sink.lock() {
                codes.push(code);
            }
        })
    }

    fn codes(recorded: &Recorded) -> Vec<Code> {
        recorded
            .lock()
            .map(|codes| codes.clone())
            .unwrap_or_default()
    }

    /// A streaming answer: two messages in the body, then `status` in the trailers.
    fn stream_ending_with(status: Code) -> http::Response<Body> {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", (status as i32).into());
        let frames = vec![
            Ok::<_, tonic::Status>(Frame::data(bytes_of("first"))),
            Ok(Frame::data(bytes_of("second"))),
            Ok(Frame::trailers(trailers)),
        ];
        http::Response::new(Body::new(http_body_util::StreamBody::new(
            tokio_stream::iter(frames),
        )))
    }

    fn bytes_of(text: &'static str) -> <Body as http_body::Body>::Data {
        text.as_bytes().to_vec().into()
    }

    #[tokio::test]
    async fn a_stream_is_recorded_with_the_status_of_its_trailers_when_its_body_ends() {
        let (recorded, finish) = recorder();

        let response = on_final_status(stream_ending_with(Code::Internal), finish);
        let before_the_body = codes(&recorded);
        let collected = response.into_body().collect().await;

        assert!(
            before_the_body.is_empty(),
            "nothing is known before the end"
        );
        assert!(collected.is_ok());
        assert_eq!(codes(&recorded), vec![Code::Internal]);
    }

    #[tokio::test]
    async fn a_stream_dropped_before_its_end_is_recorded_as_cancelled() {
        let (recorded, finish) = recorder();

        let mut body = on_final_status(stream_ending_with(Code::Ok), finish).into_body();
        let first = body.frame().await;
        drop(body);

        assert!(first.is_some_and(|frame| frame.is_ok()));
        assert_eq!(codes(&recorded), vec![Code::Cancelled]);
    }

    #[test]
    fn a_trailers_only_answer_is_recorded_from_its_headers_at_once() {
        let (recorded, finish) = recorder();

        let response = on_final_status(tonic::Status::not_found("gone").into_http(), finish);

        assert_eq!(codes(&recorded), vec![Code::NotFound]);
        drop(response);
        assert_eq!(codes(&recorded), vec![Code::NotFound], "recorded once");
    }
}
