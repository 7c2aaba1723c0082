//! Metrics: `GET /metrics` on the ops listener, scraped over plain HTTP/1.1
//! as Prometheus does, moves with calls (by method and final code, a stream
//! counted when it ends, an idempotent replay), keeps its labels bounded, and
//! the Grafana dashboard queries only metrics the server exports.
//!
//! The recorder is process-wide and other servers of this binary may record
//! too: counters are compared as "grew by at least", never as exact values.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::helpers::*;
use tipgrants::telemetry::metrics as names;

/// One scrape: every sample, by its series (`name{labels}` as written).
pub(crate) struct Scrape {
    text: String,
    samples: Vec<(String, HashMap<String, String>, f64)>,
}

impl Scrape {
    /// The sum of the samples of `name` whose labels include every pair of `labels`.
    pub(crate) fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(sample, found, _)| {
                sample == name
                    && labels
                        .iter()
                        .all(|(key, value)| found.get(*key).map(String::as_str) == Some(*value))
            })
            .map(|(_, _, value)| value)
            .sum()
    }

    fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.samples.iter().any(|(sample, found, _)| {
            sample == name
                && labels
                    .iter()
                    .all(|(key, value)| found.get(*key).map(String::as_str) == Some(*value))
        })
    }
}

/// `GET /metrics` over HTTP/1.1 on a connection of its own.
pub(crate) async fn scrape(address: SocketAddr) -> Scrape {
    let mut connection = tokio::net::TcpStream::connect(address)
        .await
        .expect("the ops listener accepts");
    connection
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: tipgrants\r\nConnection: close\r\n\r\n")
        .await
        .expect("request sent");
    let mut answer = String::new();
    connection
        .read_to_string(&mut answer)
        .await
        .expect("an answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("headers, then a body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    let samples = body
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(parse_sample)
        .collect();
    Scrape {
        text: body.to_string(),
        samples,
    }
}

/// `name{key="value",...} number` (label values here hold no quotes or commas).
fn parse_sample(line: &str) -> (String, HashMap<String, String>, f64) {
    let (series, value) = line.rsplit_once(' ').expect("a series and its value");
    let value = value.parse().expect("a number");
    match series.split_once('{') {
        None => (series.to_string(), HashMap::new(), value),
        Some((name, labels)) => {
            let labels = labels
                .trim_end_matches('}')
                .split(',')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').expect("key=value");
                    (key.to_string(), value.trim_matches('"').to_string())
                })
                .collect();
            (name.to_string(), labels, value)
        }
    }
}

const ORGANIZATIONS: &str = "tipgrants.v1.OrganizationService";
const REPORTS: &str = "tipgrants.v1.ReportService";

#[tokio::test]
async fn a_scrape_after_some_calls_counts_them_by_method_and_final_code_with_streams_and_replays() {
    let app = spawn_app_with(|settings| {
        settings.server.health_listen_address = "127.0.0.1:0".into();
    })
    .await;
    let ops = app.health_address.expect("the ops listener is bound");
    let before = scrape(ops).await;
    let created = |code: &'static str| {
        [
            ("service", ORGANIZATIONS),
            ("method", "CreateOrganization"),
            ("code", code),
        ]
    };
    let missing = [
        ("service", ORGANIZATIONS),
        ("method", "GetOrganization"),
        ("code", "NOT_FOUND"),
    ];
    let reported = [
        ("service", REPORTS),
        ("method", "StreamFiscalYearReport"),
        ("code", "OK"),
    ];

    // An error, an idempotent write and its replay, a stream read to its end, an unknown path.
    let not_found = app
        .organizations(app.admin())
        .get_organization(pb::GetOrganizationRequest {
            name: "organizations/00000000-0000-7000-8000-000000000000".into(),
        })
        .await;
    let request = pb::CreateOrganizationRequest {
        organization: Some(new_organization("Counted Once", "HT")),
        request_id: "metrics-replay-1".into(),
    };
    for _ in 0..2 {
        app.organizations(app.admin())
            .create_organization(request.clone())
            .await
            .expect("created, then replayed");
    }
    let messages: Vec<_> = app
        .reports(app.admin())
        .stream_fiscal_year_report(pb::StreamFiscalYearReportRequest {
            from_fiscal_year: 2014,
            to_fiscal_year: 2014,
            group_by: pb::ReportGrouping::None as i32,
            ..Default::default()
        })
        .await
        .expect("the report starts")
        .into_inner()
        .collect()
        .await;
    let mut raw = tonic::client::Grpc::new(app.channel());
    raw.ready().await.expect("the channel is ready");
    let unknown = raw
        .unary::<(), (), tonic_prost::ProstCodec<(), ()>>(
            tonic::Request::new(()),
            http::uri::PathAndQuery::from_static("/no.such.Service/Anything"),
            tonic_prost::ProstCodec::default(),
        )
        .await;
    let health = HealthClient::new(
        tonic::transport::Channel::from_shared(format!("http://{ops}"))
            .expect("uri")
            .connect_lazy(),
    )
    .check(HealthCheckRequest {
        service: String::new(),
    })
    .await;
    let after = eventually("the stream is counted once it has ended", || async {
        let after = scrape(ops).await;
        (after.sum(names::RPC_CALLS, &reported) > before.sum(names::RPC_CALLS, &reported))
            .then_some(after)
    })
    .await;

    expect_code(not_found, Code::NotFound);
    assert!(messages.len() >= 2, "a header and a total at least");
    assert!(messages.iter().all(Result::is_ok));
    assert!(unknown.is_err());
    assert!(
        health.is_ok(),
        "gRPC health still answers on the ops listener"
    );
    let grew =
        |name: &str, labels: &[(&str, &str)]| after.sum(name, labels) - before.sum(name, labels);
    assert!(grew(names::RPC_CALLS, &missing) >= 1.0);
    assert!(grew(&format!("{}_count", names::RPC_DURATION), &missing) >= 1.0);
    assert!(grew(names::RPC_CALLS, &created("OK")) >= 2.0);
    assert!(grew(names::IDEMPOTENT_REPLAYS, &[]) >= 1.0);
    assert!(grew(names::STREAM_MESSAGES_SENT, &[]) >= messages.len() as f64);
    assert!(after.has(
        names::RPC_CALLS,
        &[("service", "unknown"), ("method", "unknown")]
    ));
    assert!(
        !after.text.contains("no.such"),
        "an unknown path never becomes a label"
    );
    assert!(after.has(
        &format!("{}_bucket", names::RPC_DURATION),
        &[("method", "GetOrganization"), ("le", "+Inf")]
    ));
    assert!(after.has(
        names::RPC_IN_FLIGHT,
        &[("service", REPORTS), ("method", "StreamFiscalYearReport")]
    ));
    assert!(after.has(
        names::DB_POOL_CONNECTIONS,
        &[("pool", "read"), ("state", "idle")]
    ));
    assert!(after.sum(names::DB_POOL_MAX_CONNECTIONS, &[("pool", "read")]) >= 1.0);
    assert!(
        after.sum(names::AUDIT_CHAIN_LENGTH, &[]) >= 1.0,
        "the creation is in the chain"
    );
    for name in names::NAMES {
        assert!(
            after.text.contains(&format!("# TYPE {name} ")),
            "{name} is exported"
        );
    }
}

/// The metric names a PromQL expression uses: `tipgrants_...` words, histogram series
/// (`_bucket`, `_sum`, `_count`) named after their histogram.
fn metrics_queried(expression: &str) -> BTreeSet<String> {
    expression
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("tipgrants_"))
        .map(|word| {
            let histogram = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| word.strip_suffix(suffix))
                .filter(|base| names::NAMES.contains(base));
            histogram.unwrap_or(word).to_string()
        })
        .collect()
}

fn expressions(value: &serde_json::Value, found: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(fields) => {
            for (key, field) in fields {
                match (key.as_str(), field) {
                    ("expr" | "query", serde_json::Value::String(expression)) => {
                        found.push(expression.clone())
                    }
                    _ => expressions(field, found),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| expressions(item, found)),
        _ => {}
    }
}

#[test]
fn the_grafana_dashboard_parses_and_queries_only_exported_metrics_and_all_of_them() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana/tipgrants.json");
    let text = std::fs::read_to_string(path).expect("deploy/grafana/tipgrants.json exists");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut found = Vec::new();
    expressions(&dashboard, &mut found);
    let queried: BTreeSet<String> = found.iter().flat_map(|e| metrics_queried(e)).collect();
    let exported: BTreeSet<String> = names::NAMES.iter().map(|name| name.to_string()).collect();

    assert!(
        dashboard["panels"]
            .as_array()
            .is_some_and(|panels| !panels.is_empty())
    );
    assert_eq!(
        queried.difference(&exported).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "the dashboard queries metrics the server does not export"
    );
    assert_eq!(
        exported.difference(&queried).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "exported metrics missing from the dashboard"
    );
}
