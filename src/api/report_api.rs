//! `tipgrants.v1.ReportService`: fiscal-year reports, streamed through
//! `streaming::spawn_stream` (bounded channel, the stream's limits, a
//! client's leaving stops the producer). At most
//! `reports.max_concurrent_streams` reports run at once: the permit is taken
//! before the stream starts and is shared by its producer and the stream the
//! client reads, so it is released once both are gone (the report is read to
//! its end, or the client cancelled and the producer was stopped); beyond the
//! limit the call fails at once with RESOURCE_EXHAUSTED and a retry hint. Grantees get their
//! own grants only: the store reads within the caller's scope.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::streaming::{StreamBudget, spawn_stream};
use super::{ProtoEnum, accept, timestamp};
use crate::domain::access::Scope;
use crate::domain::fiscal_year::FiscalCalendar;
use crate::domain::names::{OrganizationName, ResourceName};
use crate::domain::pillar::Pillar;
use crate::domain::report::{
    Count, Figures, Grouping, ReportFilters, ReportRequest, build_report, check_year_range,
};
use crate::domain::validate::Violations;
use crate::error::{Error, Result};
use crate::pb::v1 as pb;
use crate::pb::v1::report_service_server::ReportService;
use crate::pb::v1::stream_fiscal_year_report_response::Part;
use crate::settings::ReportsSettings;
use crate::store::Store;
use crate::store::reports::GroupNames;

/// Messages of one report waiting in memory at most.
const STREAM_CAPACITY: usize = 16;
/// The retry hint when every report slot is taken.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Serves fiscal-year reports.
pub struct ReportApi {
    store: Store,
    calendar: FiscalCalendar,
    streams: Arc<Semaphore>,
    /// Counts of people below this are suppressed.
    suppression_threshold: i64,
}

impl ReportApi {
    pub fn new(store: Store, calendar: FiscalCalendar, settings: &ReportsSettings) -> Self {
        Self {
            store,
            calendar,
            streams: Arc::new(Semaphore::new(settings.max_concurrent_streams as usize)),
            suppression_threshold: i64::from(settings.suppression_threshold),
        }
    }
}

/// Reads a report request: every bad field at once.
fn parse_request(request: &pb::StreamFiscalYearReportRequest) -> Result<ReportRequest> {
    let mut violations = Violations::new();
    let years = match check_year_range(request.from_fiscal_year, request.to_fiscal_year) {
        Ok(years) => Some(years),
        Err(Error::InvalidArgument(found)) => {
            found
                .into_iter()
                .for_each(|violation| violations.push(violation));
            None
        }
        Err(other) => return Err(other),
    };
    let group_by = Grouping::from_proto(request.group_by);
    if group_by.is_none() {
        violations.add(
            "group_by",
            "must be one of ACCOUNT, COUNTRY, REGION, PILLAR, GRANTEE, NONE",
        );
    }
    let pillar = match request.pillar {
        0 => None,
        value => {
            let pillar = Pillar::from_proto(value);
            if pillar.is_none() {
                violations.add("pillar", "is not a pillar");
            }
            pillar
        }
    };
    let grantee = match request.grantee.trim() {
        "" => None,
        text => {
            violations.check(OrganizationName::parse("grantee", text).map(|name| name.organization))
        }
    };
    let code = |text: &str| {
        let text = text.trim().to_ascii_uppercase();
        (!text.is_empty()).then_some(text)
    };
    violations.finish()?;
    let (Some((from_year, to_year)), Some(group_by)) = (years, group_by) else {
        return Err(Error::invalid("group_by", "is required"));
    };
    Ok(ReportRequest {
        from_year,
        to_year,
        filters: ReportFilters {
            account: code(&request.account_code),
            country: code(&request.country_code),
            region: code(&request.region_code),
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
    let group = match grouping {
        Grouping::Grantee if !figures.group.is_empty() => {
            OrganizationName::new(figures.group).to_string()
        }
        _ => figures.group,
    };
    let count = |count: Count| match count {
        Count::Shown(value) => (value, false),
        Count::Suppressed => (0, true),
    };
    let emergency_fund = figures.emergency.map(|emergency| {
        let (cases, cases_suppressed) = count(emergency.cases);
        let (victims_helped, victims_helped_suppressed) = count(emergency.victims_helped);
        pb::EmergencyFundFigures {
            cases,
            cases_suppressed,
            approved_cents: emergency.approved_cents,
            paid_cents: emergency.paid_cents,
            victims_helped,
            victims_helped_suppressed,
        }
    });
    pb::ReportFigures {
        emergency_fund,
        fiscal_year: figures.fiscal_year,
        group,
        group_display_name,
        obligated_cents: figures.obligated_cents,
        obligated_thousands: figures.obligated_thousands,
        grants_active: figures.grants_active,
        projects_active: figures.projects_active,
        outcomes: figures
            .outcomes
            .into_iter()
            .map(|(kind, tally)| pb::OutcomeTally {
                kind: kind.to_proto(),
                count: tally.count,
                quantity: tally.quantity,
            })
            .collect(),
    }
}

/// The stream a client reads, holding its share of the report's permit.
pub struct ReportStream {
    messages: ReceiverStream<Result<pb::StreamFiscalYearReportResponse, Status>>,
    _permit: Arc<OwnedSemaphorePermit>,
}

impl Stream for ReportStream {
    type Item = Result<pb::StreamFiscalYearReportResponse, Status>;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.messages).poll_next(context)
    }
}

fn message(part: Part) -> pb::StreamFiscalYearReportResponse {
    pb::StreamFiscalYearReportResponse { part: Some(part) }
}

#[tonic::async_trait]
impl ReportService for ReportApi {
    type StreamFiscalYearReportStream = ReportStream;

    async fn stream_fiscal_year_report(
        &self,
        request: Request<pb::StreamFiscalYearReportRequest>,
    ) -> Result<Response<Self::StreamFiscalYearReportStream>, Status> {
        let budget = StreamBudget::of(&request);
        let (call, request) = accept(request)?;
        let asked = parse_request(&request)?;
        let permit =
            self.streams
                .clone()
                .try_acquire_owned()
                .map_err(|_| Error::ResourceExhausted {
                    reason: "TOO_MANY_REPORT_STREAMS",
                    message: "every report slot is taken; retry later".into(),
                    retry_after: RETRY_AFTER,
                })?;
        let permit = Arc::new(permit);
        let producer_permit = permit.clone();
        let scope = call.actor.scope();
        let own_grants_only = matches!(scope, Scope::Organization(_));
        let store = self.store.clone();
        let calendar = self.calendar;
        let k = self.suppression_threshold;
        let messages = spawn_stream(budget, STREAM_CAPACITY, move |sender| async move {
            // Held until the producer ends or is dropped (the client left, the deadline passed).
            let _permit = producer_permit;
            let started = crate::store::now();
            let snapshot = store.portfolio(&scope).await?;
            let header = pb::ReportHeader {
                request: Some(request),
                create_time: Some(timestamp(started)),
                as_of_time: Some(timestamp(snapshot.as_of)),
                fiscal_year_first_month: calendar.first_month() as i32,
                own_grants_only,
                suppression_threshold: k as i32,
            };
            sender.send(message(Part::Header(header))).await?;
            let report = build_report(&asked, calendar, &snapshot.portfolio, k);
            for year in report.years {
                for row in year.rows {
                    sender
                        .send(message(Part::Row(figures_to_proto(
                            row,
                            asked.group_by,
                            &snapshot.names,
                        ))))
                        .await?;
                }
                sender
                    .send(message(Part::Subtotal(figures_to_proto(
                        year.subtotal,
                        asked.group_by,
                        &snapshot.names,
                    ))))
                    .await?;
            }
            sender
                .send(message(Part::GrandTotal(figures_to_proto(
                    report.grand_total,
                    asked.group_by,
                    &snapshot.names,
                ))))
                .await?;
            Ok(())
        });
        Ok(Response::new(ReportStream {
            messages,
            _permit: permit,
        }))
    }

    async fn get_portfolio_summary(
        &self,
        request: Request<pb::GetPortfolioSummaryRequest>,
    ) -> Result<Response<pb::PortfolioSummary>, Status> {
        let (call, request) = accept(request)?;
        let (from_year, to_year) =
            check_year_range(request.from_fiscal_year, request.to_fiscal_year)?;
        let snapshot = self.store.portfolio(&call.actor.scope()).await?;
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
            obligated_cents: total.obligated_cents,
            grants_active: total.grants_active,
            projects_active: total.projects_active,
            as_of_time: Some(timestamp(snapshot.as_of)),
        }))
    }
}
