//! `tipgrants report` and `tipgrants export outcomes`: staff who want a
//! spreadsheet or a picture read `StreamFiscalYearReport` and
//! `ExportOutcomes` like any client and print them as an aligned table, as
//! CSV, or (reports) as an SVG chart (`chart`). Rows are printed as
//! they arrive (the CSV of an export never holds more than one message in
//! memory); only the chart waits for the whole report.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;

use super::csv_cells;
use super::report_lines::line_of;
pub use super::report_lines::{GroupBy, Line, overlapping_years};
use super::upload::authorized;
use super::{Failure, ServerArgs};
use crate::domain::money::Cents;
use crate::pb::v1 as pb;
use crate::pb::v1::report_service_client::ReportServiceClient;
use crate::pb::v1::stream_fiscal_year_report_response::Part;

/// The client of the report service and the caller's `authorization` value.
pub(super) async fn connect(
    connection: &ServerArgs,
) -> Result<(ReportServiceClient<Channel>, AsciiMetadataValue), Failure> {
    let token = connection.authorization()?;
    Ok((ReportServiceClient::new(connection.channel().await?), token))
}

/// How a report is printed.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// Comma-separated values with a header line, for a spreadsheet.
    Csv,
    /// An SVG chart: stacked bars of obligations by fiscal year and group.
    Svg,
}

/// The flags of `report`.
#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// First fiscal year.
    #[arg(long, value_name = "YEAR")]
    pub from: i32,
    /// Last fiscal year.
    #[arg(long, value_name = "YEAR")]
    pub to: i32,
    /// How each year's rows are grouped.
    #[arg(long, value_enum, default_value = "account")]
    pub by: GroupBy,
    /// Only obligations from this funding account code (e.g. ESF).
    #[arg(long)]
    pub account: Option<String>,
    /// Only grants with a project in this country (ISO 3166 alpha-2).
    #[arg(long)]
    pub country: Option<String>,
    /// Only grants with a project in a country of this region.
    #[arg(long)]
    pub region: Option<String>,
    /// Only the grants of this grantee, organizations/{id}.
    #[arg(long)]
    pub grantee: Option<String>,
    /// table, csv or svg.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// A line the chart prints under its title, before the as-of time (e.g. "Synthetic demo data").
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    #[command(flatten)]
    pub connection: ServerArgs,
}

/// The flags of `export outcomes`.
#[derive(Args, Debug, Clone)]
pub struct ExportOutcomesArgs {
    /// Only this fiscal year (same as --from YEAR --to YEAR).
    #[arg(long, value_name = "YEAR", conflicts_with_all = ["from", "to"])]
    pub fiscal_year: Option<i32>,
    /// Only this fiscal year or later.
    #[arg(long, value_name = "YEAR")]
    pub from: Option<i32>,
    /// Only this fiscal year or earlier.
    #[arg(long, value_name = "YEAR")]
    pub to: Option<i32>,
    /// Only this country (ISO 3166 alpha-2).
    #[arg(long)]
    pub country: Option<String>,
    /// Only this region.
    #[arg(long)]
    pub region: Option<String>,
    /// Only this kind, e.g. VICTIMS_ASSISTED or officials-trained.
    #[arg(long)]
    pub kind: Option<String>,
    /// Only the grants of this grantee, organizations/{id}.
    #[arg(long)]
    pub grantee: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub connection: ServerArgs,
}

/// The server's refusal, or why the command could not try.
pub(super) fn refused(status: tonic::Status) -> Failure {
    match status.code() {
        Code::Unauthenticated | Code::Unavailable => {
            Failure::CouldNotTry(format!("{:?}: {}", status.code(), status.message()))
        }
        code => {
            let mut lines = vec![format!(
                "the server refused: {code:?}: {}",
                status.message()
            )];
            use tonic_types::StatusExt;
            if let Some(bad) = status.get_details_bad_request() {
                lines.extend(
                    bad.field_violations.iter().map(|violation| {
                        format!("  {}: {}", violation.field, violation.description)
                    }),
                );
            }
            Failure::Refused(lines)
        }
    }
}

pub(super) fn write_failed(error: impl std::fmt::Display) -> Failure {
    Failure::CouldNotTry(format!("cannot write the output: {error}"))
}

/// Standard output, or the file of `--output`.
pub(super) fn output(path: Option<&PathBuf>) -> Result<Box<dyn Write>, Failure> {
    Ok(match path {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|error| {
                Failure::CouldNotTry(format!("cannot create {}: {error}", path.display()))
            })?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    })
}

/// The short name of an outcome kind, e.g. `VICTIMS_ASSISTED`.
pub fn kind_code(kind: pb::OutcomeKind) -> &'static str {
    kind.as_str_name()
        .strip_prefix("OUTCOME_KIND_")
        .unwrap_or_default()
}

/// Every outcome kind, in the order of the columns.
pub fn outcome_kinds() -> impl Iterator<Item = pb::OutcomeKind> {
    (1..).map_while(|value| pb::OutcomeKind::try_from(value).ok())
}

/// The columns of a report's CSV: each line's identity, then its money
/// (obligated, de-obligated, expended, paid and unliquidated, in cents) and
/// activity, then the emergency fund, then outcomes by kind. The two counts
/// of victims are named apart: `fund_victims_helped` (victims the emergency
/// fund paid for) and `victims_assisted_quantity` (what grantees reported).
pub fn report_columns() -> Vec<String> {
    let mut columns: Vec<String> = [
        "part",
        "fiscal_year",
        "group",
        "group_name",
        "obligated_cents",
        "obligated_thousands",
        "deobligated_cents",
        "expended_cents",
        "paid_cents",
        "unliquidated_cents",
        "rows_overlap",
        "grants_active",
        "projects_active",
        "fund_cases",
        "fund_cases_suppressed",
        "fund_approved_cents",
        "fund_paid_cents",
        "fund_victims_helped",
        "fund_victims_helped_suppressed",
    ]
    .map(String::from)
    .to_vec();
    for kind in outcome_kinds() {
        let code = kind_code(kind).to_ascii_lowercase();
        columns.push(format!("{code}_count"));
        columns.push(format!("{code}_quantity"));
        columns.push(format!("{code}_quantity_suppressed"));
    }
    columns
}

/// Whether a grouping's rows carry outcome figures: outcomes belong to
/// projects, not to the accounts that fund a grant, so rows by account have
/// none (their cells stay empty, never 0).
fn rows_count_outcomes(by: GroupBy) -> bool {
    by != GroupBy::Account
}

/// The lines of a report's CSV, written as they arrive: it follows each
/// year's rows to say, on its subtotal, whether they overlap (add up to more
/// than the year, a grant counting in several rows).
pub struct ReportCsv {
    by: GroupBy,
    /// Cents of the current year's rows so far.
    rows_cents: i128,
    /// Whether any year's rows overlapped.
    any_overlap: bool,
}

impl ReportCsv {
    pub fn new(by: GroupBy) -> Self {
        Self {
            by,
            rows_cents: 0,
            any_overlap: false,
        }
    }

    /// The CSV line of one part of the report.
    pub fn record(&mut self, part: &str, figures: &pb::ReportFigures) -> Vec<String> {
        let overlap = match part {
            "row" => {
                self.rows_cents += i128::from(figures.obligated_cents);
                String::new()
            }
            "subtotal" => {
                let overlap = self.rows_cents > i128::from(figures.obligated_cents);
                self.any_overlap |= overlap;
                self.rows_cents = 0;
                yes_no(overlap)
            }
            _ => yes_no(self.any_overlap),
        };
        let fiscal_year = match part {
            // The total spans every year: no year to name.
            "total" => String::new(),
            _ => figures.fiscal_year.to_string(),
        };
        let mut record = vec![
            part.to_string(),
            fiscal_year,
            figures.group.clone(),
            figures.group_display_name.clone(),
            figures.obligated_cents.to_string(),
            figures.obligated_thousands.to_string(),
            figures.deobligated_cents.to_string(),
            figures.expended_cents.to_string(),
            figures.paid_cents.to_string(),
            figures.unliquidated_cents.to_string(),
            overlap,
            figures.grants_active.to_string(),
            figures.projects_active.to_string(),
        ];
        // A line without fund figures (not counted for it) leaves their cells empty.
        match figures.emergency_fund {
            Some(fund) => record.extend([
                fund.cases.to_string(),
                fund.cases_suppressed.to_string(),
                fund.approved_cents.to_string(),
                fund.paid_cents.to_string(),
                fund.victims_helped.to_string(),
                fund.victims_helped_suppressed.to_string(),
            ]),
            None => record.extend(std::iter::repeat_n(String::new(), 6)),
        }
        let counted = part != "row" || rows_count_outcomes(self.by);
        for kind in outcome_kinds() {
            if !counted {
                record.extend(std::iter::repeat_n(String::new(), 3));
                continue;
            }
            let tally = figures
                .outcomes
                .iter()
                .find(|tally| tally.kind == kind as i32)
                .copied()
                .unwrap_or_default();
            record.push(tally.count.to_string());
            record.push(tally.quantity.to_string());
            record.push(tally.quantity_suppressed.to_string());
        }
        record
    }
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_string()
}

/// Runs `report`.
pub async fn report(args: ReportArgs) -> Result<(), Failure> {
    let (mut client, token) = connect(&args.connection).await?;
    let request = pb::StreamFiscalYearReportRequest {
        from_fiscal_year: args.from,
        to_fiscal_year: args.to,
        account_code: args.account.clone().unwrap_or_default(),
        country_code: args.country.clone().unwrap_or_default(),
        region_code: args.region.clone().unwrap_or_default(),
        pillar: 0,
        grantee: args.grantee.clone().unwrap_or_default(),
        group_by: args.by.to_proto() as i32,
    };
    let mut stream = client
        .stream_fiscal_year_report(authorized(&token, request))
        .await
        .map_err(refused)?
        .into_inner();
    let out = output(args.output.as_ref())?;
    if args.format == Format::Csv {
        // Written as the lines arrive.
        let mut csv = csv_cells::writer(out);
        csv.write_record(report_columns()).map_err(write_failed)?;
        let mut lines = ReportCsv::new(args.by);
        while let Some(message) = stream.next().await {
            if let Some((part, figures)) = message.map_err(refused)?.part.and_then(line_of) {
                csv.write_record(lines.record(part, &figures))
                    .map_err(write_failed)?;
            }
        }
        return csv.flush().map_err(write_failed);
    }
    let mut lines = Vec::new();
    let mut as_of = None;
    while let Some(message) = stream.next().await {
        match message.map_err(refused)?.part {
            Some(Part::Header(header)) => as_of = header.as_of_time,
            part => lines.extend(part.and_then(line_of)),
        }
    }
    let text = match args.format {
        Format::Svg => super::chart::chart(
            &lines,
            args.by,
            (args.from, args.to),
            &chart_subtitle(&args, as_of),
        )?,
        _ => table(&lines, args.by),
    };
    let mut out = out;
    out.write_all(text.as_bytes()).map_err(write_failed)?;
    out.flush().map_err(write_failed)
}

/// The line under a chart's title: the user's note, what the figures are, the filters, as of when.
fn chart_subtitle(args: &ReportArgs, as_of: Option<prost_types::Timestamp>) -> String {
    let mut parts: Vec<String> = args.note.iter().cloned().collect();
    parts.push("US dollars obligated, by fiscal year of the funds".into());
    let filters: Vec<String> = [
        ("account", &args.account),
        ("country", &args.country),
        ("region", &args.region),
        ("grantee", &args.grantee),
    ]
    .into_iter()
    .filter_map(|(what, value)| value.as_ref().map(|value| format!("{what} {value}")))
    .collect();
    if !filters.is_empty() {
        parts.push(format!("only {}", filters.join(", ")));
    }
    let as_of = as_of
        .and_then(|time| chrono::DateTime::from_timestamp(time.seconds, 0))
        .map(|time| time.format("%Y-%m-%d %H:%M UTC").to_string());
    if let Some(as_of) = as_of {
        parts.push(format!("as of {as_of}"));
    }
    parts.join("; ")
}

/// A count of people as printed: the number, or `withheld`.
fn people(count: i64, suppressed: bool) -> String {
    if suppressed {
        "withheld".into()
    } else {
        count.to_string()
    }
}

/// Thousands with a separator every three digits (`domain::money`'s grouping).
fn grouped(value: i64) -> String {
    let text = crate::domain::money::group_digits(value.unsigned_abs());
    if value < 0 { format!("-{text}") } else { text }
}

/// The quantity of one outcome kind, as printed (`withheld` when suppressed).
fn outcome_quantity(figures: &pb::ReportFigures, kind: pb::OutcomeKind) -> String {
    let tally = figures
        .outcomes
        .iter()
        .find(|tally| tally.kind == kind as i32)
        .copied()
        .unwrap_or_default();
    people(tally.quantity, tally.quantity_suppressed)
}

/// The report as aligned columns, with a note under it when rows overlap.
/// "fund helped" (victims the emergency fund paid for) and "victims
/// assisted" (what grantees reported in outcomes) are two different counts.
pub fn table(lines: &[Line], by: GroupBy) -> String {
    let overlapping = overlapping_years(lines);
    let mut rows = vec![
        [
            "fiscal year",
            "group",
            "name",
            "$ thousands",
            "expended",
            "unliquidated",
            "grants",
            "projects",
            "fund helped",
            "victims assisted",
        ]
        .map(String::from),
    ];
    for (part, figures) in lines {
        let year = match *part {
            "total" => "all".to_string(),
            _ => format!("FY {}", figures.fiscal_year),
        };
        let (group, name) = match *part {
            "row" => (figures.group.clone(), figures.group_display_name.clone()),
            "subtotal" if overlapping.contains(&figures.fiscal_year) => {
                ("subtotal".into(), "(each grant once; rows overlap)".into())
            }
            "subtotal" => ("subtotal".into(), String::new()),
            _ => ("total".into(), figures.group_display_name.clone()),
        };
        let helped = figures
            .emergency_fund
            .map(|fund| people(fund.victims_helped, fund.victims_helped_suppressed))
            .unwrap_or_default();
        let assisted = if *part == "row" && !rows_count_outcomes(by) {
            String::new()
        } else {
            outcome_quantity(figures, pb::OutcomeKind::VictimsAssisted)
        };
        rows.push([
            year,
            group,
            name,
            grouped(figures.obligated_thousands),
            grouped(Cents(figures.expended_cents).thousands_of_dollars()),
            grouped(Cents(figures.unliquidated_cents).thousands_of_dollars()),
            figures.grants_active.to_string(),
            figures.projects_active.to_string(),
            helped,
            assisted,
        ]);
    }
    let mut widths = [0; 10];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(column, (cell, width))| {
                // Text left, numbers right.
                if column < 3 {
                    format!("{cell:<width$}")
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    if !overlapping.is_empty() {
        let years: Vec<String> = overlapping
            .iter()
            .map(|year| format!("FY {year}"))
            .collect();
        text.push_str(&format!(
            "\nRows overlap in {}: a grant in several groups counts in each of them, so the rows \
             add up to more than the subtotal, which counts it once.\n",
            years.join(", ")
        ));
    }
    text.push_str(
        "\"expended\": what grantees reported spent (accepted SF-425s); \"unliquidated\": \
         obligated and not yet paid; both in $ thousands, each rounded on its own.\n",
    );
    text.push_str(
        "\"fund helped\": victims the emergency fund paid for. \"victims assisted\": victims \
         grantees reported assisting (outcomes), a different count.\n",
    );
    if !rows_count_outcomes(by) {
        text.push_str(
            "Outcomes are counted by project, not by account: rows by account have none.\n",
        );
    }
    text
}

/// The columns of an export's CSV: the outcome's name and the grantee's, then
/// the names a reader knows it by (grantee, award number, project title).
pub const EXPORT_COLUMNS: [&str; 30] = [
    "name",
    "grantee",
    "grantee_name",
    "award_number",
    "project_title",
    "kind",
    "country_code",
    "region_code",
    "outcome_date",
    "fiscal_year",
    "quantity",
    "police",
    "prosecutors",
    "judges",
    "labour_inspectors",
    "social_workers",
    "other_officials",
    "female",
    "male",
    "other_sex",
    "children",
    "adults",
    "first_for_country",
    "milestone",
    "indicator",
    "description",
    "evidence_uri",
    "create_time",
    "update_time",
    "etag",
];

fn rfc3339(time: Option<prost_types::Timestamp>) -> String {
    time.and_then(|time| {
        chrono::DateTime::from_timestamp(time.seconds, u32::try_from(time.nanos).unwrap_or(0))
    })
    .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
    .unwrap_or_default()
}

/// One line of an export's CSV.
pub fn export_record(row: pb::ExportedOutcome) -> Vec<String> {
    let outcome = row.outcome.unwrap_or_default();
    let officials = outcome.officials_trained.unwrap_or_default();
    let victims = outcome.victims.unwrap_or_default();
    let kind = pb::OutcomeKind::try_from(outcome.kind).unwrap_or(pb::OutcomeKind::Unspecified);
    vec![
        outcome.name,
        row.grantee,
        row.grantee_display_name,
        row.award_number,
        row.project_title,
        kind_code(kind).to_string(),
        outcome.country_code,
        row.region_code,
        outcome.outcome_date,
        outcome.fiscal_year.to_string(),
        outcome.quantity.to_string(),
        officials.police.to_string(),
        officials.prosecutors.to_string(),
        officials.judges.to_string(),
        officials.labour_inspectors.to_string(),
        officials.social_workers.to_string(),
        officials.other.to_string(),
        victims.female.to_string(),
        victims.male.to_string(),
        victims.other_sex.to_string(),
        victims.children.to_string(),
        victims.adults.to_string(),
        outcome.first_for_country.to_string(),
        outcome.milestone,
        outcome.indicator,
        outcome.description,
        outcome.evidence_uri,
        rfc3339(outcome.create_time),
        rfc3339(outcome.update_time),
        outcome.etag,
    ]
}

/// Runs `export outcomes`.
pub async fn export_outcomes(args: ExportOutcomesArgs) -> Result<u64, Failure> {
    let kind = match &args.kind {
        None => pb::OutcomeKind::Unspecified,
        Some(text) => {
            let code = format!(
                "OUTCOME_KIND_{}",
                text.trim().to_ascii_uppercase().replace('-', "_")
            );
            pb::OutcomeKind::from_str_name(&code).ok_or_else(|| {
                Failure::CouldNotTry(format!(
                    "--kind {text:?}: use one of {}",
                    outcome_kinds()
                        .map(kind_code)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?
        }
    };
    let (from, to) = match args.fiscal_year {
        Some(year) => (year, year),
        None => (args.from.unwrap_or(0), args.to.unwrap_or(0)),
    };
    let (mut client, token) = connect(&args.connection).await?;
    let request = pb::ExportOutcomesRequest {
        from_fiscal_year: from,
        to_fiscal_year: to,
        country_code: args.country.clone().unwrap_or_default(),
        region_code: args.region.clone().unwrap_or_default(),
        kind: kind as i32,
        grantee: args.grantee.clone().unwrap_or_default(),
    };
    let mut stream = client
        .export_outcomes(authorized(&token, request))
        .await
        .map_err(refused)?
        .into_inner();
    let mut csv = csv_cells::writer(output(args.output.as_ref())?);
    csv.write_record(EXPORT_COLUMNS).map_err(write_failed)?;
    let mut written = 0;
    while let Some(message) = stream.next().await {
        for row in message.map_err(refused)?.outcomes {
            csv.write_record(export_record(row)).map_err(write_failed)?;
            written += 1;
        }
    }
    csv.flush().map_err(write_failed)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped_by_three_digits() {
        assert_eq!(grouped(97_300), "97,300");
        assert_eq!(grouped(-1_234_567), "-1,234,567");
        assert_eq!(grouped(0), "0");
    }

    #[test]
    fn every_outcome_kind_has_its_three_columns() {
        assert_eq!(outcome_kinds().count(), 12);
        assert_eq!(report_columns().len(), 19 + 36);
        assert_eq!(
            kind_code(pb::OutcomeKind::VictimsAssisted),
            "VICTIMS_ASSISTED"
        );
    }
}
