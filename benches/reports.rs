//! Benchmark of `ExportOutcomes` and `StreamFiscalYearReport` over 100,000
//! and 1,000,000 accepted outcomes on PostgreSQL, in one run: the export's
//! rows per second beside psql's `COPY (...) TO STDOUT` of the same rows
//! (outcome columns and the grant's grantee, in id order), the server's peak
//! memory (`VmHWM` of a fresh server process per size) after the exports and
//! after the reports, and how long a report by account and by country takes.
//! Measured, never asserted. Goals: at least a third of psql's rows per
//! second; the 1,000,000-row peak within 10 MiB of the 100,000-row one.
//!
//! ```sh
//! scripts/with-postgres.sh bash -c 'BENCH_DATABASE_URL=$TEST_DATABASE_URL cargo bench --bench reports'
//! ```
//!
//! The database (empty; the benchmark migrates it) gets the demo portfolio
//! (`tipgrants seed-demo`), then copies of its accepted outcomes spread over
//! its 115 accepted reports, inserted with one SQL statement per size.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tipgrants::pb::v1 as pb;
use tipgrants::pb::v1::report_service_client::ReportServiceClient;
use tokio::process::Command;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

mod common;
use common::{Server, load_average, median, psql_path};

const SIZES: [u64; 2] = [100_000, 1_000_000];
const RUNS: usize = 3;

/// The rows psql copies: what an export sends.
const COPY_SQL: &str = "COPY (SELECT o.id, o.report_id, r.grant_id, r.project_id, g.organization_id, \
     o.kind, o.country_code, o.outcome_date, o.fiscal_year, o.quantity, o.breakdown, \
     o.first_for_country, o.description, o.evidence_uri, o.indicator_id, o.milestone_id, \
     o.create_time, o.update_time, o.revision FROM outcomes o \
     JOIN outcome_reports r ON r.id = o.report_id JOIN grants g ON g.id = r.grant_id \
     WHERE r.state = 'ACCEPTED' AND o.delete_time IS NULL ORDER BY o.id) TO STDOUT";

/// Runs one psql command, its output thrown away; how long it took (start and connection included).
async fn psql(url: &str, sql: &str) -> Duration {
    let started = Instant::now();
    let status = Command::new(psql_path())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .stdout(Stdio::null())
        .status()
        .await
        .expect("run psql (set PSQL to its path)");
    assert!(status.success(), "psql failed on {sql}");
    started.elapsed()
}

/// Adds copies of the demo's accepted outcomes until there are `to` copies.
async fn fill(url: &str, from: u64, to: u64) -> Duration {
    psql(
        url,
        &format!(
            "WITH model AS (SELECT row_number() OVER (ORDER BY o.id) - 1 AS k, o.* FROM outcomes o \
             JOIN outcome_reports r ON r.id = o.report_id \
             WHERE r.state = 'ACCEPTED' AND o.milestone_id IS NULL AND o.id NOT LIKE 'bench-%'), \
             n AS (SELECT count(*) AS models FROM model) \
             INSERT INTO outcomes (id, report_id, kind, country_code, outcome_date, fiscal_year, \
             quantity, breakdown, first_for_country, description, evidence_uri, indicator_id, \
             milestone_id, create_time, update_time, delete_time, revision) \
             SELECT 'bench-' || lpad(g::text, 8, '0'), m.report_id, m.kind, m.country_code, \
             m.outcome_date, m.fiscal_year, m.quantity, m.breakdown, false, m.description, \
             m.evidence_uri, m.indicator_id, NULL, m.create_time, m.update_time, NULL, 1 \
             FROM generate_series({}, {to}) g, n, model m WHERE m.k = g % n.models; ANALYZE outcomes",
            from + 1
        ),
    )
    .await
}

impl Server {
    fn client(&self) -> ReportServiceClient<Channel> {
        ReportServiceClient::new(self.channel.clone())
    }

    /// Exports every outcome; (rows, time).
    async fn export_all(&self) -> (u64, Duration) {
        let started = Instant::now();
        let mut stream = self
            .client()
            .export_outcomes(self.authorized(pb::ExportOutcomesRequest::default()))
            .await
            .expect("the export starts")
            .into_inner();
        let mut rows = 0;
        while let Some(message) = stream.next().await {
            rows += message.expect("the export streams").outcomes.len() as u64;
        }
        (rows, started.elapsed())
    }

    /// Reads a whole report; its time.
    async fn report(&self, group_by: pb::ReportGrouping) -> Duration {
        let started = Instant::now();
        let mut stream = self
            .client()
            .stream_fiscal_year_report(self.authorized(pb::StreamFiscalYearReportRequest {
                from_fiscal_year: 2009,
                to_fiscal_year: 2016,
                group_by: group_by as i32,
                ..Default::default()
            }))
            .await
            .expect("the report starts")
            .into_inner();
        while let Some(message) = stream.next().await {
            message.expect("the report streams");
        }
        started.elapsed()
    }
}

#[tokio::main]
async fn main() {
    let Some(url) = std::env::var("BENCH_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
    else {
        eprintln!(
            "reports bench: set BENCH_DATABASE_URL (see docs/benchmarks.md); nothing measured"
        );
        return;
    };
    let directory = tempfile::tempdir().expect("a directory");
    println!("load average at the start: {}", load_average());
    let seeded = Command::new(env!("CARGO_BIN_EXE_tipgrants"))
        .arg("seed-demo")
        .env("TIPGRANTS__DATABASE__URL", &url)
        .env("TIPGRANTS__TELEMETRY__FILTER", "warn")
        .output()
        .await
        .expect("run seed-demo");
    assert!(
        seeded.status.success(),
        "seed-demo: {}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    println!(
        "| accepted outcomes | ExportOutcomes (rows/s) | psql COPY (rows/s) | export / psql | server peak after exports (MiB) | report by account | report by country | server peak after reports (MiB) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut filled = 0;
    for size in SIZES {
        let took = fill(&url, filled, size).await;
        filled = size;
        eprintln!("filled to {size} copies in {took:?}");
        let server = Server::start(&[("TIPGRANTS__DATABASE__URL", &url)], directory.path()).await;
        let mut exports = Vec::new();
        let mut copies = Vec::new();
        let mut rows = 0;
        for _ in 0..RUNS {
            let (count, elapsed) = server.export_all().await;
            rows = count;
            exports.push(elapsed);
            copies.push(psql(&url, COPY_SQL).await);
        }
        let after_exports = server.peak_kib();
        let by_account = server.report(pb::ReportGrouping::Account).await;
        let by_country = server.report(pb::ReportGrouping::Country).await;
        let after_reports = server.peak_kib();
        let export_rate = rows as f64 / median(exports).as_secs_f64();
        let copy_rate = rows as f64 / median(copies).as_secs_f64();
        println!(
            "| {rows} | {export_rate:.0} | {copy_rate:.0} | {:.2} | {:.1} | {:.2} s | {:.2} s | {:.1} |",
            export_rate / copy_rate,
            after_exports as f64 / 1024.0,
            by_account.as_secs_f64(),
            by_country.as_secs_f64(),
            after_reports as f64 / 1024.0,
        );
        drop(server);
    }
    println!("load average at the end: {}", load_average());
}
