//! P9: `StreamFiscalYearReport` by country over a range of fiscal years, timed from the call to
//! its last message (the whole report read and decoded), a few times in a row on one
//! connection. The database is the caller's: `scripts/bench.sh` fills it (the demo portfolio
//! and copies of its accepted outcomes) and times the yardstick, one SQL `GROUP BY` of the same
//! outcomes with psql, beside it.

use std::time::{Duration, Instant};

use tipgrants::pb::v1 as pb;
use tipgrants::pb::v1::report_service_client::ReportServiceClient;
use tonic::Request;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

/// What one P9 measure asks for.
#[derive(Debug, Clone, Copy)]
pub struct ReportRun {
    pub from_year: i32,
    pub to_year: i32,
    /// Reports read one after another; the median counts.
    pub runs: usize,
}

/// How the reports went: each one's time, and the rows of the last.
#[derive(Debug, Clone)]
pub struct ReportTimes {
    pub times: Vec<Duration>,
    pub rows: usize,
}

impl ReportTimes {
    /// The median time.
    pub fn median(&self) -> Duration {
        let mut times = self.times.clone();
        times.sort();
        times.get(times.len() / 2).copied().unwrap_or_default()
    }
}

/// Reads the report by country `run.runs` times over `channel` with the admin token.
pub async fn time_reports(
    channel: Channel,
    bearer: &MetadataValue<Ascii>,
    run: ReportRun,
) -> Result<ReportTimes, String> {
    let mut client = ReportServiceClient::new(channel);
    let mut times = Vec::with_capacity(run.runs);
    let mut rows = 0;
    for _ in 0..run.runs.max(1) {
        let mut request = Request::new(pb::StreamFiscalYearReportRequest {
            from_fiscal_year: run.from_year,
            to_fiscal_year: run.to_year,
            group_by: pb::ReportGrouping::Country as i32,
            ..Default::default()
        });
        request
            .metadata_mut()
            .insert("authorization", bearer.clone());
        let started = Instant::now();
        let mut stream = client
            .stream_fiscal_year_report(request)
            .await
            .map_err(|status| format!("the report: {:?}: {}", status.code(), status.message()))?
            .into_inner();
        rows = 0;
        let mut total = false;
        while let Some(message) = stream
            .message()
            .await
            .map_err(|status| format!("the report: {:?}: {}", status.code(), status.message()))?
        {
            match message.part {
                Some(pb::stream_fiscal_year_report_response::Part::Row(_)) => rows += 1,
                Some(pb::stream_fiscal_year_report_response::Part::GrandTotal(_)) => total = true,
                _ => {}
            }
        }
        times.push(started.elapsed());
        if !total {
            return Err("the report ended without its grand total".into());
        }
    }
    Ok(ReportTimes { times, rows })
}
