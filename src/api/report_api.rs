//! `tipgrants.v1.ReportService`: fiscal-year reports and outcome exports, streamed through
//! `streaming::spawn_stream` (bounded channel, the stream's limits, a
//! client's leaving stops the producer). At most
//! `reports.max_concurrent_streams` reports run at once, shared as `shares` says: a grantee
//! organisation runs at most `reports.max_streams_per_organization`, and
//! `reports.streams_reserved_for_staff` slots are never given to grantees. The slot is taken
//! before the stream starts and kept by the stream's supervisor until the client has taken the
//! whole report, or the stream ended early (its client took nothing for the idle timeout, its
//! deadline passed), or the client left: never by an answer stuck in an unread connection. Beyond
//! a limit the call fails at once with RESOURCE_EXHAUSTED and a retry hint. Exports take the
//! same slots. Grantees get their own grants only: the store reads within the caller's scope.
//! Outcomes come from the store in chunks: a report's added up by the database (a row per
//! report, country, kind and fiscal year; a milestone's outcomes one by one), which it counts
//! and drops; an export's one by one, each sent as one message; so memory does not grow with
//! their number. The exports in
//! others' standards (IATI, HTCDS) take the same slots; their producers are in
//! `standards_export`.

use std::time::Duration;

use prost::Message;
use tonic::{Request, Response, Status};

use super::outcome_report_api::outcome_to_proto;
use super::permissions::lists_every_case;
use super::shares::{Refusal, Share, ShareLimits, Shares};
use super::standards_export::{self, IatiExportJob};
use super::streaming::{MessageStream, StreamBudget, spawn_stream};
use super::{ProtoEnum, accept, timestamp};
use crate::domain::access::{Actor, Scope};
use crate::domain::fiscal_year::FiscalCalendar;
use crate::domain::iati::Publisher;
use crate::domain::names::{FundingAccountName, OrganizationName, ResourceName};
use crate::domain::pillar::Pillar;
use crate::domain::project::OutcomeKind;
use crate::domain::reference::funding_account_code;
use crate::domain::report::{
    ExportFilter, Figures, Grouping, ReportBuilder, ReportFilters, ReportRequest, build_report,
    check_optional_years, check_year_range,
};
use crate::domain::statistics::Published;
use crate::domain::validate::{self, Violations, country_code, region_code};
use crate::error::FieldViolation;
use crate::error::{Error, Result};
use crate::pb::v1 as pb;
use crate::pb::v1::report_service_server::ReportService;
use crate::pb::v1::stream_fiscal_year_report_response::Part;
use crate::settings::{IatiSettings, ReportsSettings};
use crate::store::Store;
use crate::store::reports::{ExportedOutcome, GroupNames};

/// Messages of one report waiting in memory at most.
const STREAM_CAPACITY: usize = 16;
/// Outcomes read from the database at once and sent in one export message...
const EXPORT_CHUNK: u64 = 1_000;
/// ...unless they take more than this encoded: then in several.
const EXPORT_MESSAGE_BYTES: usize = 1024 * 1024;
/// Outcomes of milestones read at once while a report counts them (the others come added up).
const OUTCOME_CHUNK: u64 = 5_000;
/// The retry hint when every report slot is taken.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Serves fiscal-year reports.
pub struct ReportApi {
    store: Store,
    calendar: FiscalCalendar,
    streams: Shares,
    /// Counts of people below this are suppressed.
    suppression_threshold: i64,
    /// The office, as the IATI export names it.
    publisher: Publisher,
}

impl ReportApi {
    pub fn new(
        store: Store,
        calendar: FiscalCalendar,
        settings: &ReportsSettings,
        iati: &IatiSettings,
    ) -> Self {
        Self {
            store,
            calendar,
            streams: Shares::new(report_slots(settings)),
            suppression_threshold: i64::from(settings.suppression_threshold),
            publisher: standards_export::publisher(iati),
        }
    }
}

/// How the report slots are shared (validated: fewer kept for staff than there are).
fn report_slots(settings: &ReportsSettings) -> ShareLimits {
    let total = settings.max_concurrent_streams as usize;
    ShareLimits {
        total: Some(total),
        grantees: total.saturating_sub(settings.streams_reserved_for_staff as usize),
        per_organization: settings.max_streams_per_organization as usize,
        per_token: None,
    }
}

/// Reads a report request: every bad field at once.
fn parse_request(request: &pb::StreamFiscalYearReportRequest) -> Result<ReportRequest> {
    let mut violations = Violations::new();
    let years = with_violations(
        &mut violations,
        check_year_range(request.from_fiscal_year, request.to_fiscal_year),
    )?;
    let group_by = Grouping::from_proto(request.group_by);
    if group_by.is_none() {
        violations.add(
            "group_by",
            format!("is required: one of {}", validate::choices::<Grouping>()),
        );
    }
    let pillar = enum_filter::<Pillar>(&mut violations, "pillar", request.pillar, "a pillar");
    let grantee = grantee_filter(&mut violations, &request.grantee);
    let account = code_filter(
        &mut violations,
        "account_code",
        &request.account_code,
        funding_account_code,
    );
    let (country, region) =
        place_filters(&mut violations, &request.country_code, &request.region_code);
    violations.finish()?;
    let (Some((from_year, to_year)), Some(group_by)) = (years, group_by) else {
        return Err(Error::invalid("group_by", "is required"));
    };
    Ok(ReportRequest {
        from_year,
        to_year,
        filters: ReportFilters {
            account,
            country,
            region,
            pillar,
            grantee,
        },
        group_by,
    })
}

/// The proto figures; a grantee group becomes its organisation's resource name.
fn figures_to_proto(figures: Figures, grouping: Grouping, names: &GroupNames) -> pb::ReportFigures {
    let names_of = match grouping {
        Grouping::Account => Some(&names.accounts),
        Grouping::Country => Some(&names.countries),
        Grouping::Region => Some(&names.regions),
        Grouping::Grantee => Some(&names.organizations),
        Grouping::Pillar | Grouping::None => None,
    };
    let group_display_name = names_of
        .and_then(|names| names.get(&figures.group))
        .cloned()
        .unwrap_or_default();
    let unliquidated = figures.unliquidated();
    let group = match grouping {
        Grouping::Grantee if !figures.group.is_empty() => {
            OrganizationName::new(figures.group).to_string()
        }
        _ => figures.group,
    };
    // Withheld figures go out as 0 with their flags set (every figure of the fund together).
    let emergency_fund = figures.emergency.map(|emergency| match emergency {
        Published::Shown(fund) => pb::EmergencyFundFigures {
            cases: fund.cases,
            cases_suppressed: false,
            approved_cents: fund.approved_cents,
            paid_cents: fund.paid_cents,
            victims_helped: fund.victims_helped,
            victims_helped_suppressed: false,
        },
        Published::Suppressed => pb::EmergencyFundFigures {
            cases_suppressed: true,
            victims_helped_suppressed: true,
            ..Default::default()
        },
    });
    pb::ReportFigures {
        emergency_fund,
        fiscal_year: figures.fiscal_year,
        group,
        group_display_name,
        obligated_cents: figures.obligated.0,
        obligated_thousands: figures.obligated_thousands,
        deobligated_cents: figures.deobligated.0,
        expended_cents: figures.expended.0,
        paid_cents: figures.paid.0,
        unliquidated_cents: unliquidated.0,
        grants_active: figures.grants_active,
        projects_active: figures.projects_active,
        outcomes: figures
            .outcomes
            .into_iter()
            .map(|(kind, tally)| pb::OutcomeTally {
                kind: kind.to_proto(),
                count: tally.count,
                quantity: tally.quantity,
                quantity_suppressed: tally.quantity_suppressed,
            })
            .collect(),
    }
}

/// A fiscal-year report as the client reads it.
pub type ReportStream = MessageStream<pb::StreamFiscalYearReportResponse>;

impl ReportApi {
    /// Refuses a filter naming an account, country or region that does not exist: a typo
    /// (`--country XX`) would otherwise answer a report of zeros.
    async fn check_known(
        &self,
        account: Option<&str>,
        country: Option<&str>,
        region: Option<&str>,
    ) -> Result<()> {
        if let Some(code) = account {
            let found = self
                .store
                .get_funding_account(&FundingAccountName::new(code))
                .await;
            match found {
                Err(Error::NotFound { .. }) => {
                    return Err(Error::invalid(
                        "account_code",
                        format!(
                            "account {} is not a funding account of this server",
                            crate::domain::names::excerpt(code)
                        ),
                    ));
                }
                Err(other) => return Err(other),
                Ok(_) => {}
            }
        }
        super::check_places(
            &self.store,
            country.map(|code| ("country_code", code)),
            region.map(|code| ("region_code", code)),
        )
        .await
    }

    /// A report slot for `actor`, or RESOURCE_EXHAUSTED with a retry hint: its organisation
    /// runs its share already, or every slot it may take is taken.
    fn take_slot(&self, actor: &Actor) -> Result<Share> {
        self.streams.try_take(actor).map_err(|refusal| match refusal {
            Refusal::Organization => Error::ResourceExhausted {
                reason: "TOO_MANY_REPORT_STREAMS_FOR_ORGANIZATION",
                message: format!(
                    "your organisation runs {} report streams already, its share; retry when one ends",
                    self.streams.limits().per_organization
                ),
                retry_after: RETRY_AFTER,
            },
            Refusal::Token | Refusal::Grantees | Refusal::Total => Error::ResourceExhausted {
                reason: "TOO_MANY_REPORT_STREAMS",
                message: "every report slot is taken; retry later".into(),
                retry_after: RETRY_AFTER,
            },
        })
    }
}

/// Reads an export request: every bad field at once.
fn parse_export(request: &pb::ExportOutcomesRequest) -> Result<ExportFilter> {
    let mut violations = Violations::new();
    let years = with_violations(
        &mut violations,
        check_optional_years(request.from_fiscal_year, request.to_fiscal_year),
    )?;
    let kind = enum_filter::<OutcomeKind>(&mut violations, "kind", request.kind, "an outcome kind");
    let grantee = grantee_filter(&mut violations, &request.grantee);
    let (country, region) =
        place_filters(&mut violations, &request.country_code, &request.region_code);
    violations.finish()?;
    let (from_year, to_year) = years.unwrap_or_default();
    Ok(ExportFilter {
        from_year,
        to_year,
        country,
        region,
        kind,
        grantee,
    })
}

/// The value of a check whose field violations join `violations` (`None`
/// then); any other error ends the request.
fn with_violations<T>(violations: &mut Violations, checked: Result<T>) -> Result<Option<T>> {
    match checked {
        Ok(value) => Ok(Some(value)),
        Err(Error::InvalidArgument(found)) => {
            found
                .into_iter()
                .for_each(|violation| violations.push(violation));
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

/// An optional enum filter: `None` when unset (0), a violation when unknown.
fn enum_filter<T: ProtoEnum>(
    violations: &mut Violations,
    field: &str,
    value: i32,
    what: &str,
) -> Option<T> {
    if value == 0 {
        return None;
    }
    let found = T::from_proto(value);
    if found.is_none() {
        violations.add(
            field,
            format!("is not {what}: one of {}", validate::choices::<T>()),
        );
    }
    found
}

/// The optional `grantee` filter: an organisation's name, read as its id.
fn grantee_filter(violations: &mut Violations, text: &str) -> Option<String> {
    match text.trim() {
        "" => None,
        text => {
            violations.check(OrganizationName::parse("grantee", text).map(|name| name.organization))
        }
    }
}

/// An optional code filter in `field`, in shape (`check`) and upper case; `None` when empty.
fn code_filter(
    violations: &mut Violations,
    field: &str,
    text: &str,
    check: fn(&str, &str) -> std::result::Result<String, FieldViolation>,
) -> Option<String> {
    if text.trim().is_empty() {
        return None;
    }
    violations.check(check(field, text))
}

/// The optional `country_code` and `region_code` filters of a report or an export.
fn place_filters(
    violations: &mut Violations,
    country: &str,
    region: &str,
) -> (Option<String>, Option<String>) {
    (
        code_filter(violations, "country_code", country, country_code),
        code_filter(violations, "region_code", region, region_code),
    )
}

fn exported_to_proto(row: &ExportedOutcome) -> pb::ExportedOutcome {
    pb::ExportedOutcome {
        outcome: Some(outcome_to_proto(&row.outcome)),
        grantee: OrganizationName::new(&row.grantee_id).to_string(),
        region_code: row.region_code.clone(),
        grantee_display_name: row.grantee_display_name.clone(),
        award_number: row.award_number.clone(),
        project_title: row.project_title.clone(),
    }
}

fn message(part: Part) -> pb::StreamFiscalYearReportResponse {
    pb::StreamFiscalYearReportResponse { part: Some(part) }
}

#[tonic::async_trait]
impl ReportService for ReportApi {
    type StreamFiscalYearReportStream = ReportStream;
    type ExportOutcomesStream = MessageStream<pb::ExportOutcomesResponse>;
    type ExportIatiActivitiesStream = MessageStream<pb::ExportIatiActivitiesResponse>;
    type ExportHtcdsCaseRecordsStream = MessageStream<pb::ExportHtcdsCaseRecordsResponse>;

    async fn export_iati_activities(
        &self,
        request: Request<pb::ExportIatiActivitiesRequest>,
    ) -> Result<Response<Self::ExportIatiActivitiesStream>, Status> {
        let budget = StreamBudget::of(&request);
        let (call, request) = accept(request)?;
        let years =
            standards_export::parse_years(request.from_fiscal_year, request.to_fiscal_year)?;
        let slot = self.take_slot(&call.actor)?;
        let job = IatiExportJob {
            store: self.store.clone(),
            scope: call.actor.scope(),
            publisher: self.publisher.clone(),
            calendar: self.calendar,
            years,
            k: self.suppression_threshold,
        };
        Ok(Response::new(standards_export::stream_iati(
            job, budget, slot,
        )))
    }

    async fn export_htcds_case_records(
        &self,
        request: Request<pb::ExportHtcdsCaseRecordsRequest>,
    ) -> Result<Response<Self::ExportHtcdsCaseRecordsStream>, Status> {
        let budget = StreamBudget::of(&request);
        let (call, request) = accept(request)?;
        // Records of every case: only for a caller who may list every case (the permission
        // table says so already; a scoped token of such a role is refused here too).
        if !lists_every_case(&call.actor) {
            return Err(Error::PermissionDenied {
                role: call.actor.role.code().to_string(),
                method: call.method.clone(),
            }
            .into());
        }
        let years =
            standards_export::parse_years(request.from_fiscal_year, request.to_fiscal_year)?;
        let slot = self.take_slot(&call.actor)?;
        // Recorded before any record leaves, in its own transaction, as a personal-data read is.
        let mut audit = self.store.begin(&call).await?;
        audit.record_case_records_export(years.from, years.to, standards_export::audited_fields());
        audit.commit().await?;
        Ok(Response::new(standards_export::stream_htcds(
            self.store.clone(),
            years,
            self.suppression_threshold,
            budget,
            slot,
        )))
    }

    async fn export_outcomes(
        &self,
        request: Request<pb::ExportOutcomesRequest>,
    ) -> Result<Response<Self::ExportOutcomesStream>, Status> {
        let budget = StreamBudget::of(&request);
        let (call, request) = accept(request)?;
        let filter = parse_export(&request)?;
        self.check_known(None, filter.country.as_deref(), filter.region.as_deref())
            .await?;
        let slot = self.take_slot(&call.actor)?;
        let scope = call.actor.scope();
        let store = self.store.clone();
        let messages = spawn_stream(budget, STREAM_CAPACITY, slot, move |sender| async move {
            let mut export = store.export_outcomes(&scope, filter).await?;
            while let Some(chunk) = export.next_chunk(EXPORT_CHUNK).await? {
                // Split by size too: long descriptions must not make a message that clients
                // refuse (tonic and grpcurl decode at most 4 MiB by default).
                let mut outcomes = Vec::new();
                let mut bytes = 0;
                for row in &chunk {
                    let row = exported_to_proto(row);
                    let size = row.encoded_len() + 8;
                    if !outcomes.is_empty() && bytes + size > EXPORT_MESSAGE_BYTES {
                        let full = std::mem::take(&mut outcomes);
                        sender
                            .send(pb::ExportOutcomesResponse { outcomes: full })
                            .await?;
                        bytes = 0;
                    }
                    bytes += size;
                    outcomes.push(row);
                }
                if !outcomes.is_empty() {
                    sender.send(pb::ExportOutcomesResponse { outcomes }).await?;
                }
            }
            Ok(())
        });
        Ok(Response::new(messages))
    }

    async fn stream_fiscal_year_report(
        &self,
        request: Request<pb::StreamFiscalYearReportRequest>,
    ) -> Result<Response<Self::StreamFiscalYearReportStream>, Status> {
        let budget = StreamBudget::of(&request);
        let (call, request) = accept(request)?;
        let asked = parse_request(&request)?;
        self.check_known(
            asked.filters.account.as_deref(),
            asked.filters.country.as_deref(),
            asked.filters.region.as_deref(),
        )
        .await?;
        let slot = self.take_slot(&call.actor)?;
        let scope = call.actor.scope();
        let own_grants_only = matches!(scope, Scope::Organization(_));
        let store = self.store.clone();
        let calendar = self.calendar;
        let k = self.suppression_threshold;
        let messages = spawn_stream(budget, STREAM_CAPACITY, slot, move |sender| async move {
            let started = crate::store::now();
            let (snapshot, mut outcomes) = store.portfolio(&scope).await?;
            let header = pb::ReportHeader {
                request: Some(request),
                create_time: Some(timestamp(started)),
                as_of_time: Some(timestamp(snapshot.as_of)),
                fiscal_year_first_month: calendar.first_month() as i32,
                own_grants_only,
                suppression_threshold: k as i32,
            };
            sender.send(message(Part::Header(header))).await?;
            let mut builder = ReportBuilder::new(&asked, calendar, &snapshot.portfolio, k);
            while let Some(chunk) = outcomes.next_chunk(OUTCOME_CHUNK).await? {
                chunk
                    .iter()
                    .for_each(|outcome| builder.add_outcome(outcome));
            }
            // The snapshot ends here, before the rows are sent.
            drop(outcomes);
            let report = builder.finish();
            // Rows, subtotals and the grand total differ only by their part.
            let part = |kind: fn(pb::ReportFigures) -> Part, figures| {
                message(kind(figures_to_proto(
                    figures,
                    asked.group_by,
                    &snapshot.names,
                )))
            };
            for year in report.years {
                for row in year.rows {
                    sender.send(part(Part::Row, row)).await?;
                }
                sender.send(part(Part::Subtotal, year.subtotal)).await?;
            }
            sender
                .send(part(Part::GrandTotal, report.grand_total))
                .await?;
            Ok(())
        });
        Ok(Response::new(messages))
    }

    async fn get_portfolio_summary(
        &self,
        request: Request<pb::GetPortfolioSummaryRequest>,
    ) -> Result<Response<pb::PortfolioSummary>, Status> {
        let (call, request) = accept(request)?;
        let (from_year, to_year) =
            check_year_range(request.from_fiscal_year, request.to_fiscal_year)?;
        // The headline needs no outcomes: they are never read.
        let (snapshot, _outcomes) = self.store.portfolio(&call.actor.scope()).await?;
        let asked = ReportRequest {
            from_year,
            to_year,
            filters: ReportFilters::default(),
            group_by: Grouping::None,
        };
        let total = build_report(
            &asked,
            self.calendar,
            &snapshot.portfolio,
            self.suppression_threshold,
        )
        .grand_total;
        Ok(Response::new(pb::PortfolioSummary {
            from_fiscal_year: from_year,
            to_fiscal_year: to_year,
            obligated_cents: total.obligated.0,
            grants_active: total.grants_active,
            projects_active: total.projects_active,
            as_of_time: Some(timestamp(snapshot.as_of)),
            expended_cents: total.expended.0,
            paid_cents: total.paid.0,
            unliquidated_cents: total.unliquidated().0,
        }))
    }
}
