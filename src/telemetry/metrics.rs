//! Prometheus metrics, served at `GET /metrics` on the plaintext ops listener
//! (`server.health_listen_address`), never on the API port. The `metrics`
//! facade records; `metrics-exporter-prometheus` keeps the numbers and writes
//! the text format. Every name is a constant here, and the Grafana dashboard
//! (`deploy/grafana/tipgrants.json`) queries only these names (a test checks).
//!
//! Labels stay bounded: a method is one of the methods the server serves
//! (handed over at start-up, [`KnownMethods`]) or `unknown`; a code is one of the 17 gRPC
//! codes. A call's counter and histogram handles are registered once per
//! method and code and kept, so recording a call allocates nothing.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ::metrics::{Counter, Gauge, Histogram, Label};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tonic::Code;

use crate::store::Store;

/// Calls finished, by `service`, `method` and `code`.
pub const RPC_CALLS: &str = "tipgrants_rpc_calls_total";
/// How long calls took, from arrival to their final status (a stream's end), in seconds.
pub const RPC_DURATION: &str = "tipgrants_rpc_duration_seconds";
/// Calls running now, by `service` and `method` (streams included, until they end).
pub const RPC_IN_FLIGHT: &str = "tipgrants_rpc_in_flight";
/// Server streams whose producer runs now (`api::streaming`).
pub const STREAMS_RUNNING: &str = "tipgrants_streams_running";
/// Messages (report rows, ...) sent on server streams.
pub const STREAM_MESSAGES_SENT: &str = "tipgrants_stream_messages_sent_total";
/// Retries answered with the stored first answer of their `request_id`.
pub const IDEMPOTENT_REPLAYS: &str = "tipgrants_idempotent_replays_total";
/// Calls refused at admission, beyond `server.max_calls_in_flight` (UNAVAILABLE, `SERVER_BUSY`).
pub const CALLS_REFUSED: &str = "tipgrants_calls_refused_total";
/// Calls that waited `database.acquire_timeout_ms` for a pooled connection in vain (UNAVAILABLE).
pub const DB_ACQUIRE_TIMEOUTS: &str = "tipgrants_db_acquire_timeouts_total";
/// Connections of each pool (`pool` = `read` or `write`), by `state` (`idle`, `in_use`).
pub const DB_POOL_CONNECTIONS: &str = "tipgrants_db_pool_connections";
/// The most connections each pool may open.
pub const DB_POOL_MAX_CONNECTIONS: &str = "tipgrants_db_pool_max_connections";
/// Events in the audit chain (the head's sequence), read at each scrape.
pub const AUDIT_CHAIN_LENGTH: &str = "tipgrants_audit_chain_length";
/// Connections open on the API port now (`crate::connections`).
pub const CONNECTIONS_OPEN: &str = "tipgrants_connections_open";
/// Connections the server closed, by `reason`: `limit` (beyond `server.max_connections`, at
/// once), `idle` (no call), `unread` (an answer its client did not take).
pub const CONNECTIONS_CLOSED: &str = "tipgrants_connections_closed_total";

/// Every metric name this module exports (the dashboard test checks its queries against it).
pub const NAMES: [&str; 13] = [
    RPC_CALLS,
    RPC_DURATION,
    RPC_IN_FLIGHT,
    STREAMS_RUNNING,
    STREAM_MESSAGES_SENT,
    IDEMPOTENT_REPLAYS,
    CALLS_REFUSED,
    DB_ACQUIRE_TIMEOUTS,
    DB_POOL_CONNECTIONS,
    DB_POOL_MAX_CONNECTIONS,
    AUDIT_CHAIN_LENGTH,
    CONNECTIONS_OPEN,
    CONNECTIONS_CLOSED,
];

/// Latency buckets in seconds: sub-millisecond reads up to a 15-minute stream.
const DURATION_BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0, 300.0,
    900.0,
];

/// How often histogram samples are folded in when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Installs the process-wide Prometheus recorder on first use and returns its handle.
fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        let recorder = match builder.set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(RPC_DURATION.to_string()),
            &DURATION_BUCKETS,
        ) {
            Ok(builder) => builder.build_recorder(),
            Err(_) => PrometheusBuilder::new().build_recorder(),
        };
        let handle = recorder.handle();
        if ::metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics shows none of its numbers");
        }
        describe();
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "no metrics upkeep thread: histograms are folded in at each scrape only");
        }
        handle
    })
}

fn describe() {
    use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        RPC_CALLS,
        "gRPC calls finished, by method and final status code"
    );
    describe_histogram!(
        RPC_DURATION,
        Unit::Seconds,
        "gRPC call latency until the final status (a stream's end)"
    );
    describe_gauge!(RPC_IN_FLIGHT, "gRPC calls running now");
    describe_gauge!(STREAMS_RUNNING, "server streams whose producer runs now");
    describe_counter!(STREAM_MESSAGES_SENT, "messages sent on server streams");
    describe_counter!(
        IDEMPOTENT_REPLAYS,
        "retries answered with the stored answer of their request_id"
    );
    describe_counter!(
        CALLS_REFUSED,
        "calls refused at once because max_calls_in_flight were running (UNAVAILABLE, SERVER_BUSY)"
    );
    describe_counter!(
        DB_ACQUIRE_TIMEOUTS,
        "calls that found no pooled database connection in time (UNAVAILABLE)"
    );
    describe_gauge!(DB_POOL_CONNECTIONS, "database pool connections by state");
    describe_gauge!(DB_POOL_MAX_CONNECTIONS, "database pool size limit");
    describe_gauge!(AUDIT_CHAIN_LENGTH, "events in the audit chain");
    describe_gauge!(CONNECTIONS_OPEN, "connections open on the API port");
    describe_counter!(
        crate::store::standby::REPORT_READS,
        "long reads (reports, exports) by the database that served them (standby, primary) and why"
    );
    describe_counter!(
        CONNECTIONS_CLOSED,
        "connections the server closed, by reason (limit, idle, unread)"
    );
    // Exported at zero from the start: a dashboard shows 0, not "no data".
    ::metrics::gauge!(STREAMS_RUNNING).increment(0.0);
    ::metrics::gauge!(CONNECTIONS_OPEN).increment(0.0);
    for reason in CLOSE_REASONS {
        ::metrics::counter!(CONNECTIONS_CLOSED, "reason" => reason).increment(0);
    }
    for counter in [
        STREAM_MESSAGES_SENT,
        IDEMPOTENT_REPLAYS,
        CALLS_REFUSED,
        DB_ACQUIRE_TIMEOUTS,
    ] {
        ::metrics::counter!(counter).increment(0);
    }
}

/// The methods the server serves, handed over at start-up (`startup` reads them from the
/// services' descriptor sets): a method label is one of them, or `unknown` for any other path.
pub struct KnownMethods {
    /// `(service, method)`, e.g. `("tipgrants.v1.GrantService", "GetGrant")`; the last is unknown.
    names: Vec<(String, String)>,
    by_path: HashMap<String, usize>,
}

impl KnownMethods {
    /// The methods given as `(service, method)`, e.g. `("tipgrants.v1.GrantService", "GetGrant")`.
    pub fn new(served: impl IntoIterator<Item = (String, String)>) -> KnownMethods {
        let mut names = Vec::new();
        let mut by_path = HashMap::new();
        for (service, method) in served {
            by_path.insert(format!("/{service}/{method}"), names.len());
            names.push((service, method));
        }
        names.push(("unknown".to_string(), "unknown".to_string()));
        KnownMethods { names, by_path }
    }

    /// The method of a request path (`/package.Service/Method`); `unknown` for any other path.
    pub fn of(&self, path: &str) -> Method<'_> {
        let index = self
            .by_path
            .get(path)
            .copied()
            .unwrap_or(self.names.len() - 1);
        let (service, name) = &self.names[index];
        Method {
            index,
            service,
            name,
        }
    }

    fn count(&self) -> usize {
        self.names.len()
    }
}

/// A gRPC method the server serves, or the one `unknown` method every other path counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method<'a> {
    index: usize,
    service: &'a str,
    name: &'a str,
}

impl<'a> Method<'a> {
    /// The fully qualified service, e.g. `tipgrants.v1.GrantService` (or `unknown`).
    pub fn service(self) -> &'a str {
        self.service
    }

    /// The method's own name, e.g. `GetGrant` (or `unknown`).
    pub fn name(self) -> &'a str {
        self.name
    }
}

/// The gRPC code's canonical name, as a label.
fn code_label(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

const CODES: usize = 17;

/// The handles of one method, registered on first use.
#[derive(Default)]
struct MethodHandles {
    in_flight: OnceLock<Gauge>,
    by_code: [OnceLock<(Counter, Histogram)>; CODES],
}

/// Per-call metrics of one server: calls, latency and calls in flight, by method and code.
/// Disabled, it records nothing and costs a branch.
pub struct RpcMetrics {
    methods: KnownMethods,
    handles: Option<Vec<MethodHandles>>,
}

impl RpcMetrics {
    /// Records calls of `methods` (any other is `unknown`) into the Prometheus recorder when
    /// `enabled` (installing it if need be).
    pub fn new(enabled: bool, methods: KnownMethods) -> Arc<RpcMetrics> {
        let handles = enabled.then(|| {
            recorder();
            (0..methods.count())
                .map(|_| MethodHandles::default())
                .collect()
        });
        Arc::new(RpcMetrics { methods, handles })
    }

    /// The method of a request path (`/package.Service/Method`); `unknown` for any other path.
    pub fn method(&self, path: &str) -> Method<'_> {
        self.methods.of(path)
    }

    /// A call of `method` has arrived: it counts as in flight until the returned record
    /// is finished or dropped.
    pub fn start(self: &Arc<Self>, method: Method<'_>, started: Instant) -> CallRecord {
        if let Some(handles) = &self.handles {
            in_flight(&handles[method.index], method).increment(1.0);
        }
        CallRecord {
            metrics: self.clone(),
            method: method.index,
            started,
            finished: false,
        }
    }
}

fn in_flight<'a>(handles: &'a MethodHandles, method: Method<'_>) -> &'a Gauge {
    handles.in_flight.get_or_init(|| {
        ::metrics::gauge!(
            RPC_IN_FLIGHT,
            "service" => method.service().to_string(),
            "method" => method.name().to_string()
        )
    })
}

/// One call in flight; see [`RpcMetrics::start`].
pub struct CallRecord {
    metrics: Arc<RpcMetrics>,
    /// The index of its method among [`KnownMethods`].
    method: usize,
    started: Instant,
    finished: bool,
}

impl CallRecord {
    /// The call ended with `code`: counted, its latency observed, no longer in flight.
    pub fn finish(mut self, code: Code) {
        self.record(code);
    }

    fn record(&mut self, code: Code) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let Some(handles) = &self.metrics.handles else {
            return;
        };
        let (service, name) = &self.metrics.methods.names[self.method];
        let method = Method {
            index: self.method,
            service,
            name,
        };
        let handles = &handles[method.index];
        in_flight(handles, method).decrement(1.0);
        let slot = (code as usize).min(CODES - 1);
        let (calls, duration) = handles.by_code[slot].get_or_init(|| {
            let labels = vec![
                Label::new("service", service.clone()),
                Label::new("method", name.clone()),
                Label::from_static_parts("code", code_label(code)),
            ];
            (
                ::metrics::counter!(RPC_CALLS, labels.clone()),
                ::metrics::histogram!(RPC_DURATION, labels),
            )
        });
        calls.increment(1);
        duration.record(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for CallRecord {
    /// Dropped unfinished: the call was abandoned (the client left, or its deadline cut it).
    fn drop(&mut self) {
        self.record(Code::Cancelled);
    }
}

/// Counts a server stream while its producer runs; see `api::streaming`.
pub struct StreamRunning;

impl StreamRunning {
    pub fn start() -> StreamRunning {
        ::metrics::gauge!(STREAMS_RUNNING).increment(1.0);
        StreamRunning
    }
}

impl Drop for StreamRunning {
    fn drop(&mut self) {
        ::metrics::gauge!(STREAMS_RUNNING).decrement(1.0);
    }
}

/// Why the server closes a connection (the `reason` label of [`CONNECTIONS_CLOSED`]).
const CLOSE_REASONS: [&str; 3] = ["limit", "idle", "unread"];

/// One open connection on the API port, counted while it lives.
pub struct ConnectionOpen;

impl ConnectionOpen {
    pub fn start() -> ConnectionOpen {
        ::metrics::gauge!(CONNECTIONS_OPEN).increment(1.0);
        ConnectionOpen
    }
}

impl Drop for ConnectionOpen {
    fn drop(&mut self) {
        ::metrics::gauge!(CONNECTIONS_OPEN).decrement(1.0);
    }
}

/// Counts a connection the server closed for `reason` (one of `limit`, `idle`, `unread`).
pub fn count_closed_connection(reason: &'static str) {
    if CLOSE_REASONS.contains(&reason) {
        ::metrics::counter!(CONNECTIONS_CLOSED, "reason" => reason).increment(1);
    }
}

/// The counter of messages sent on streams (a handle: register once per stream).
pub fn stream_messages_sent() -> Counter {
    ::metrics::counter!(STREAM_MESSAGES_SENT)
}

/// A retry was answered with its stored first answer.
pub fn count_idempotent_replay() {
    ::metrics::counter!(IDEMPOTENT_REPLAYS).increment(1);
}

/// The metrics as `/metrics` shows them, without the values read at a scrape (unit tests).
#[cfg(test)]
pub(crate) fn rendered() -> String {
    recorder().render()
}

/// A call was refused at admission (the server was busy).
pub fn count_refused_call() {
    ::metrics::counter!(CALLS_REFUSED).increment(1);
}

/// What `GET /metrics` answers from: the recorder, and the store whose pools, acquire timeouts
/// and audit chain are read at each scrape (the store reports them; telemetry reads).
#[derive(Clone)]
pub struct Scrape {
    handle: &'static PrometheusHandle,
    store: Store,
    /// How long a scrape waits for the audit head before it answers without it.
    database_timeout: Duration,
}

impl Scrape {
    /// Installs the recorder (once per process) and scrapes `store`.
    pub fn new(store: Store, database_timeout: Duration) -> Scrape {
        Scrape {
            handle: recorder(),
            store,
            database_timeout,
        }
    }

    /// The metrics in Prometheus' text format, with the pools and audit chain read now.
    pub async fn render(&self) -> String {
        ::metrics::counter!(DB_ACQUIRE_TIMEOUTS).absolute(crate::store::acquire_timeouts());
        for pool in self.store.pool_stats() {
            let in_use = pool.size.saturating_sub(pool.idle);
            ::metrics::gauge!(DB_POOL_CONNECTIONS, "pool" => pool.name, "state" => "idle")
                .set(f64::from(pool.idle));
            ::metrics::gauge!(DB_POOL_CONNECTIONS, "pool" => pool.name, "state" => "in_use")
                .set(f64::from(in_use));
            ::metrics::gauge!(DB_POOL_MAX_CONNECTIONS, "pool" => pool.name)
                .set(f64::from(pool.max));
        }
        match tokio::time::timeout(self.database_timeout, self.store.audit_head()).await {
            Ok(Ok((sequence, _hash))) => {
                ::metrics::gauge!(AUDIT_CHAIN_LENGTH).set(sequence as f64);
            }
            Ok(Err(error)) => tracing::debug!(%error, "scrape: the audit head is not readable"),
            Err(_elapsed) => tracing::debug!("scrape: the audit head did not answer in time"),
        }
        self.handle.render()
    }

    /// The handler of `GET /metrics` (the ops listener routes it: `ops_listener`).
    pub fn handler(self) -> axum::routing::MethodRouter {
        axum::routing::get(move || {
            let scrape = self.clone();
            async move {
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    scrape.render().await,
                )
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_methods_are_known_and_any_other_path_is_unknown() {
        let known = KnownMethods::new([
            (
                "tipgrants.v1.OrganizationService".to_string(),
                "GetOrganization".to_string(),
            ),
            ("grpc.health.v1.Health".to_string(), "Check".to_string()),
        ]);

        let get = known.of("/tipgrants.v1.OrganizationService/GetOrganization");
        let health = known.of("/grpc.health.v1.Health/Check");
        let other = known.of("/no.such.Service/Anything");

        assert_eq!(
            (get.service(), get.name()),
            ("tipgrants.v1.OrganizationService", "GetOrganization")
        );
        assert_eq!(
            (health.service(), health.name()),
            ("grpc.health.v1.Health", "Check")
        );
        assert_eq!((other.service(), other.name()), ("unknown", "unknown"));
        assert_eq!(other, known.of("/x"));
    }

    #[test]
    fn every_code_has_its_canonical_label_and_its_own_slot() {
        let codes: Vec<Code> = (0..CODES as i32).map(Code::from_i32).collect();
        let labels: std::collections::HashSet<_> = codes.iter().map(|c| code_label(*c)).collect();

        assert_eq!(labels.len(), CODES);
        assert!(codes.iter().all(|code| (*code as usize) < CODES));
        assert_eq!(code_label(Code::NotFound), "NOT_FOUND");
    }
}
