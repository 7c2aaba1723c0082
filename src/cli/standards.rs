//! `tipgrants export iati` and `tipgrants export htcds`: the portfolio as an IATI 2.03 activity
//! file and the emergency fund's cases as HTCDS records (the Human Trafficking Case Data Standard
//! by IOM, CC BY 4.0; no endorsement by IOM is implied), read from `ExportIatiActivities` and
//! `ExportHtcdsCaseRecords` with the connection, token and output plumbing of `export outcomes`.
//! Each message is written as it arrives: the XML document and the CSV are never held whole.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use tokio_stream::StreamExt;

use super::report::{connect, output, refused, write_failed};
use super::upload::authorized;
use super::{Failure, ServerArgs, csv_cells};
use crate::domain::htcds::COLUMNS;
use crate::pb::v1 as pb;
use crate::pb::v1::export_htcds_case_records_response::Part;

/// The fiscal years of an export: both optional.
#[derive(Args, Debug, Clone)]
pub struct ExportYears {
    /// Only this fiscal year or later.
    #[arg(long, value_name = "FY")]
    pub from: Option<i32>,
    /// Only this fiscal year or earlier.
    #[arg(long, value_name = "FY")]
    pub to: Option<i32>,
}

/// The flags of `export iati`.
#[derive(Args, Debug, Clone)]
pub struct ExportIatiArgs {
    #[command(flatten)]
    pub years: ExportYears,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub connection: ServerArgs,
}

/// The flags of `export htcds`.
#[derive(Args, Debug, Clone)]
pub struct ExportHtcdsArgs {
    #[command(flatten)]
    pub years: ExportYears,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub connection: ServerArgs,
}

/// Runs `export iati`; the line for standard error.
pub async fn export_iati(args: ExportIatiArgs) -> Result<String, Failure> {
    let (mut client, token) = connect(&args.connection).await?;
    let request = pb::ExportIatiActivitiesRequest {
        from_fiscal_year: args.years.from.unwrap_or(0),
        to_fiscal_year: args.years.to.unwrap_or(0),
    };
    let mut stream = client
        .export_iati_activities(authorized(&token, request))
        .await
        .map_err(refused)?
        .into_inner();
    let mut out = output(args.output.as_ref())?;
    let mut activities: i64 = 0;
    while let Some(message) = stream.next().await {
        let message = message.map_err(refused)?;
        out.write_all(&message.xml).map_err(write_failed)?;
        activities += i64::from(message.activity_count);
    }
    out.flush().map_err(write_failed)?;
    Ok(format!("exported {activities} IATI activity(ies)"))
}

/// One CSV line of an HTCDS record; lists are separated by `;`, an unreleased year is empty.
pub fn htcds_line(record: &pb::HtcdsCaseRecord) -> Vec<String> {
    vec![
        record.gender.clone(),
        record.age_band.clone(),
        record.nationality.clone(),
        record.types_of_exploitation.join(";"),
        match record.year_of_registration {
            0 => String::new(),
            year => year.to_string(),
        },
        record.services_received.join(";"),
    ]
}

/// Runs `export htcds`: the header line, then one line per released record; the line for
/// standard error says how many were released and withheld.
pub async fn export_htcds(args: ExportHtcdsArgs) -> Result<String, Failure> {
    let (mut client, token) = connect(&args.connection).await?;
    let request = pb::ExportHtcdsCaseRecordsRequest {
        from_fiscal_year: args.years.from.unwrap_or(0),
        to_fiscal_year: args.years.to.unwrap_or(0),
    };
    let mut stream = client
        .export_htcds_case_records(authorized(&token, request))
        .await
        .map_err(refused)?
        .into_inner();
    let mut csv = csv_cells::writer(output(args.output.as_ref())?);
    csv.write_record(COLUMNS).map_err(write_failed)?;
    let mut header = None;
    let mut written: i64 = 0;
    while let Some(message) = stream.next().await {
        match message.map_err(refused)?.part {
            Some(Part::Header(first)) => header = Some(first),
            Some(Part::Records(group)) => {
                let line = htcds_line(&group.record.unwrap_or_default());
                for _ in 0..group.record_count {
                    csv.write_record(&line).map_err(write_failed)?;
                    written += 1;
                }
            }
            None => {}
        }
    }
    csv.flush().map_err(write_failed)?;
    let header = header.unwrap_or_default();
    let generalised = match header.generalized_fields.as_slice() {
        [] => "none".to_string(),
        fields => fields.join(", "),
    };
    Ok(format!(
        "exported {written} HTCDS record(s), k-anonymous with k = {}; withheld {} record(s); \
         generalised: {generalised}. HTCDS by IOM, CC BY 4.0",
        header.k_anonymity, header.records_withheld
    ))
}
