//! Outcome reports: the reporting schedule of each cadence and overdue periods,
//! drafts and their outcomes, every check on an outcome, submission and review
//! by role, milestones counted once, client-streaming uploads, indicator
//! progress from accepted reports only, grantee isolation.

use tonic::{Code, Response, Status};

use crate::helpers::*;
use pb::OutcomeKind as Kind;
use pb::OutcomeReportState as State;
use pb::ReportingPeriodStatus as Period;

// ---------------------------------------------------------------------------
// Fixtures

/// The terms of a test grant and of its one project.
#[derive(Clone, Copy)]
struct Terms {
    cadence: pb::ReportingCadence,
    grant_period: (&'static str, &'static str),
    project_period: (&'static str, &'static str),
    countries: &'static [&'static str],
    program_officer: &'static str,
}

impl Default for Terms {
    /// A quarterly grant; a project from 2014-01-15 to 2014-06-30 in Haiti, so
    /// the periods `2014-Q2`, `2014-Q3` and `FINAL`, all long past due.
    fn default() -> Self {
        Terms {
            cadence: pb::ReportingCadence::Quarterly,
            grant_period: ("2013-10-01", "2016-09-30"),
            project_period: ("2014-01-15", "2014-06-30"),
            countries: &["HT"],
            program_officer: "jane.doe@state.example",
        }
    }
}

/// Terms whose periods are not due yet: a project from 2030-01-15 to 2030-06-30.
fn future_terms() -> Terms {
    Terms {
        grant_period: ("2029-10-01", "2031-09-30"),
        project_period: ("2030-01-15", "2030-06-30"),
        ..Terms::default()
    }
}

/// A grantee organisation with one grant, one project and a grantee token.
pub(crate) struct Grantee {
    pub(crate) organization: pb::Organization,
    pub(crate) grant: pb::Grant,
    pub(crate) project: pb::Project,
    pub(crate) token: String,
    pub(crate) token_name: String,
}

impl Grantee {
    pub(crate) fn auth(&self) -> Option<&str> {
        Some(&self.token)
    }
}

pub(crate) async fn a_grantee(app: &TestApp, award: &str) -> Grantee {
    grantee_with(app, award, Terms::default()).await
}

async fn grantee_with(app: &TestApp, award: &str, terms: Terms) -> Grantee {
    let organization = app
        .organization(&format!("{award} partner"), terms.countries[0])
        .await;
    let mut grant = new_grant(award, &organization.name);
    grant.reporting_cadence = terms.cadence as i32;
    grant.start_date = terms.grant_period.0.into();
    grant.end_date = terms.grant_period.1.into();
    grant.program_officer = terms.program_officer.into();
    let grant = app
        .grants(app.admin())
        .create_grant(pb::CreateGrantRequest {
            grant: Some(grant),
            request_id: String::new(),
        })
        .await
        .expect("the admin creates a grant")
        .into_inner();
    let mut project = new_project(&format!("{award} project"), terms.countries);
    project.start_date = terms.project_period.0.into();
    project.end_date = terms.project_period.1.into();
    let project = app.project(&grant.name, project).await;
    let (token_name, token) = app.token_named(pb::Role::Grantee, &organization.name).await;
    Grantee {
        organization,
        grant,
        project,
        token,
        token_name,
    }
}

/// A program officer's token: (resource name, secret).
async fn an_officer(app: &TestApp) -> (String, String) {
    app.token_named(pb::Role::ProgramOfficer, "").await
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|path| path.to_string()).collect(),
    })
}

// ---------------------------------------------------------------------------
// Outcomes to report

/// A complete outcome: `quantity` police officers trained in `country` on `date`.
pub(crate) fn trained(country: &str, date: &str, quantity: i64) -> pb::Outcome {
    pb::Outcome {
        kind: Kind::OfficialsTrained as i32,
        country_code: country.into(),
        outcome_date: date.into(),
        quantity,
        officials_trained: Some(pb::OfficialsTrained {
            police: quantity.max(0),
            ..Default::default()
        }),
        description: "Police officers trained in victim identification".into(),
        evidence_uri: "https://evidence.example/rosters/2014.pdf".into(),
        ..Default::default()
    }
}

/// A complete milestone outcome (a law, a commitment, ...) of quantity 1.
pub(crate) fn milestone_outcome(kind: Kind, country: &str, date: &str) -> pb::Outcome {
    pb::Outcome {
        kind: kind as i32,
        country_code: country.into(),
        outcome_date: date.into(),
        quantity: 1,
        description: format!("{kind:?} in {country} on {date}"),
        evidence_uri: "https://gazette.example/act.pdf".into(),
        ..Default::default()
    }
}

/// A draft outcome with nothing but its kind.
fn bare(kind: Kind) -> pb::Outcome {
    pb::Outcome {
        kind: kind as i32,
        description: "To be completed".into(),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------
// Calls

pub(crate) type Answer<T> = Result<Response<T>, Status>;

async fn create_report(
    app: &TestApp,
    token: Option<&str>,
    project: &str,
    period: &str,
    request_id: &str,
) -> Answer<pb::OutcomeReport> {
    app.outcome_reports(token)
        .create_outcome_report(pb::CreateOutcomeReportRequest {
            parent: project.into(),
            outcome_report: Some(pb::OutcomeReport {
                period: period.into(),
                narrative: format!("What happened in {period}"),
                ..Default::default()
            }),
            request_id: request_id.into(),
        })
        .await
}

/// Starts the report of `project` for `period`.
pub(crate) async fn report(
    app: &TestApp,
    token: Option<&str>,
    project: &str,
    period: &str,
) -> pb::OutcomeReport {
    create_report(app, token, project, period, "")
        .await
        .unwrap_or_else(|status| panic!("create the {period} report of {project}: {status:?}"))
        .into_inner()
}

/// Reads a report as admin.
pub(crate) async fn read_report(app: &TestApp, name: &str) -> pb::OutcomeReport {
    app.outcome_reports(app.admin())
        .get_outcome_report(pb::GetOutcomeReportRequest { name: name.into() })
        .await
        .unwrap_or_else(|status| panic!("read {name}: {status:?}"))
        .into_inner()
}

async fn update_narrative(
    app: &TestApp,
    token: Option<&str>,
    report: &pb::OutcomeReport,
    narrative: &str,
    paths: &[&str],
) -> Answer<pb::OutcomeReport> {
    app.outcome_reports(token)
        .update_outcome_report(pb::UpdateOutcomeReportRequest {
            outcome_report: Some(pb::OutcomeReport {
                name: report.name.clone(),
                etag: report.etag.clone(),
                narrative: narrative.into(),
                ..Default::default()
            }),
            update_mask: mask(paths),
        })
        .await
}

async fn create_outcome(
    app: &TestApp,
    token: Option<&str>,
    report: &str,
    outcome: pb::Outcome,
) -> Answer<pb::Outcome> {
    app.outcome_reports(token)
        .create_outcome(pb::CreateOutcomeRequest {
            parent: report.into(),
            outcome: Some(outcome),
            request_id: String::new(),
        })
        .await
}

/// Adds an outcome that must be accepted.
pub(crate) async fn add(
    app: &TestApp,
    token: Option<&str>,
    report: &str,
    outcome: pb::Outcome,
) -> pb::Outcome {
    create_outcome(app, token, report, outcome)
        .await
        .unwrap_or_else(|status| panic!("add an outcome to {report}: {status:?}"))
        .into_inner()
}

async fn update_outcome(
    app: &TestApp,
    token: Option<&str>,
    outcome: pb::Outcome,
    paths: &[&str],
) -> Answer<pb::Outcome> {
    app.outcome_reports(token)
        .update_outcome(pb::UpdateOutcomeRequest {
            outcome: Some(outcome),
            update_mask: mask(paths),
        })
        .await
}

pub(crate) async fn delete_outcome(
    app: &TestApp,
    token: Option<&str>,
    name: &str,
) -> Answer<pb::Outcome> {
    app.outcome_reports(token)
        .delete_outcome(pb::DeleteOutcomeRequest {
            name: name.into(),
            etag: String::new(),
        })
        .await
}

/// Every outcome of a report as admin, oldest first, page by page.
pub(crate) async fn outcomes_of(
    app: &TestApp,
    report: &str,
    show_deleted: bool,
) -> Vec<pb::Outcome> {
    outcomes_filtered(app, report, "", show_deleted).await
}

async fn outcomes_filtered(
    app: &TestApp,
    report: &str,
    filter: &str,
    show_deleted: bool,
) -> Vec<pb::Outcome> {
    let mut outcomes = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = app
            .outcome_reports(app.admin())
            .list_outcomes(pb::ListOutcomesRequest {
                parent: report.into(),
                page_size: 500,
                page_token,
                filter: filter.into(),
                show_deleted,
            })
            .await
            .unwrap_or_else(|status| panic!("list the outcomes of {report}: {status:?}"))
            .into_inner();
        outcomes.extend(page.outcomes);
        if page.next_page_token.is_empty() {
            return outcomes;
        }
        page_token = page.next_page_token;
    }
}

pub(crate) async fn submit(
    app: &TestApp,
    token: Option<&str>,
    report: &str,
    request_id: &str,
) -> Answer<pb::OutcomeReport> {
    app.outcome_reports(token)
        .submit_outcome_report(pb::SubmitOutcomeReportRequest {
            name: report.into(),
            etag: String::new(),
            request_id: request_id.into(),
        })
        .await
}

pub(crate) async fn accept(
    app: &TestApp,
    token: Option<&str>,
    report: &str,
    request_id: &str,
) -> Answer<pb::OutcomeReport> {
    app.outcome_reports(token)
        .accept_outcome_report(pb::AcceptOutcomeReportRequest {
            name: report.into(),
            etag: String::new(),
            request_id: request_id.into(),
        })
        .await
}

async fn send_back(
    app: &TestApp,
    token: Option<&str>,
    report: &str,
    reason: &str,
    request_id: &str,
) -> Answer<pb::OutcomeReport> {
    app.outcome_reports(token)
        .return_outcome_report(pb::ReturnOutcomeReportRequest {
            name: report.into(),
            etag: String::new(),
            request_id: request_id.into(),
            reason: reason.into(),
        })
        .await
}

async fn reopen(
    app: &TestApp,
    token: Option<&str>,
    report: &str,
    reason: &str,
    request_id: &str,
) -> Answer<pb::OutcomeReport> {
    app.outcome_reports(token)
        .reopen_outcome_report(pb::ReopenOutcomeReportRequest {
            name: report.into(),
            etag: String::new(),
            request_id: request_id.into(),
            reason: reason.into(),
        })
        .await
}

/// The code of a call's answer and the fields its violations name (in order).
fn refusal<T>(result: Answer<T>) -> (Code, Vec<String>) {
    match result {
        Ok(_) => (Code::Ok, Vec::new()),
        Err(status) => (status.code(), violated_fields(&status)),
    }
}

/// The code and message of a call's answer, to compare two answers.
type Reply = (Code, String);

fn answer<T>(result: Answer<T>) -> Reply {
    match result {
        Ok(_) => (Code::Ok, String::new()),
        Err(status) => (status.code(), status.message().to_string()),
    }
}

/// A name of the same shape as `name`, whose last id exists nowhere.
fn missing_sibling(name: &str) -> String {
    let (parent, _) = name.rsplit_once('/').expect("a resource name");
    format!("{parent}/{}", uuid::Uuid::now_v7())
}

/// The state of a call's answer, for one-line assertions.
fn state_of(answer: Answer<pb::OutcomeReport>) -> State {
    let report = answer
        .unwrap_or_else(|status| panic!("expected a report, got {status:?}"))
        .into_inner();
    State::try_from(report.state).unwrap_or(State::Unspecified)
}

/// Submits as the grantee, then accepts as a program officer.
pub(crate) async fn submit_and_accept(
    app: &TestApp,
    grantee: &Grantee,
    report: &str,
) -> pb::OutcomeReport {
    submit(app, grantee.auth(), report, "").await.unwrap();
    let (_, officer) = an_officer(app).await;
    accept(app, Some(&officer), report, "")
        .await
        .unwrap_or_else(|status| panic!("accept {report}: {status:?}"))
        .into_inner()
}

/// The reporting periods of `parent` (a project or `grants/-/projects/-`), two per page.
async fn periods_of(
    app: &TestApp,
    token: Option<&str>,
    parent: &str,
    filter: &str,
) -> Vec<pb::ReportingPeriod> {
    let mut periods = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = app
            .outcome_reports(token)
            .list_reporting_periods(pb::ListReportingPeriodsRequest {
                parent: parent.into(),
                page_size: 2,
                page_token,
                filter: filter.into(),
            })
            .await
            .unwrap_or_else(|status| panic!("reporting periods of {parent} ({filter}): {status:?}"))
            .into_inner();
        periods.extend(page.reporting_periods);
        if page.next_page_token.is_empty() {
            return periods;
        }
        page_token = page.next_page_token;
    }
}

/// One line of a schedule: period, start, end, due date, status.
type Row = (String, String, String, String, Period);

fn schedule(periods: &[pb::ReportingPeriod]) -> Vec<Row> {
    periods
        .iter()
        .map(|p| {
            (
                p.period.clone(),
                p.start_date.clone(),
                p.end_date.clone(),
                p.due_date.clone(),
                Period::try_from(p.status).unwrap_or(Period::Unspecified),
            )
        })
        .collect()
}

fn row(period: &str, start: &str, end: &str, due: &str, status: Period) -> Row {
    (period.into(), start.into(), end.into(), due.into(), status)
}

/// The status of each period of a project, in order.
async fn statuses(app: &TestApp, project: &str) -> Vec<(String, Period)> {
    periods_of(app, app.admin(), project, "")
        .await
        .into_iter()
        .map(|p| {
            (
                p.period,
                Period::try_from(p.status).unwrap_or(Period::Unspecified),
            )
        })
        .collect()
}

fn named(pairs: &[(&str, Period)]) -> Vec<(String, Period)> {
    pairs
        .iter()
        .map(|(period, status)| (period.to_string(), *status))
        .collect()
}

/// `(project, period)` of each period, sorted.
fn keys(periods: &[pb::ReportingPeriod]) -> Vec<(String, String)> {
    let mut keys: Vec<_> = periods
        .iter()
        .map(|p| (p.project.clone(), p.period.clone()))
        .collect();
    keys.sort();
    keys
}

fn keys_of(project: &pb::Project, periods: &[&str]) -> Vec<(String, String)> {
    periods
        .iter()
        .map(|period| (project.name.clone(), period.to_string()))
        .collect()
}

/// The names of the reports `token` lists under `parent` with `filter`, sorted.
async fn reports_listed(
    app: &TestApp,
    token: Option<&str>,
    parent: &str,
    filter: &str,
) -> Vec<String> {
    let mut names = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = app
            .outcome_reports(token)
            .list_outcome_reports(pb::ListOutcomeReportsRequest {
                parent: parent.into(),
                page_size: 2,
                page_token,
                filter: filter.into(),
            })
            .await
            .unwrap_or_else(|status| panic!("list reports of {parent} ({filter}): {status:?}"))
            .into_inner();
        names.extend(page.outcome_reports.into_iter().map(|r| r.name));
        if page.next_page_token.is_empty() {
            names.sort();
            return names;
        }
        page_token = page.next_page_token;
    }
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    names.sort();
    names
}

pub(crate) async fn milestones(app: &TestApp, filter: &str) -> Vec<pb::Milestone> {
    app.outcome_reports(app.admin())
        .list_milestones(pb::ListMilestonesRequest {
            page_size: 500,
            page_token: String::new(),
            filter: filter.into(),
        })
        .await
        .unwrap_or_else(|status| panic!("list milestones ({filter}): {status:?}"))
        .into_inner()
        .milestones
}

pub(crate) fn header(report: &str, request_id: &str) -> pb::UploadOutcomesRequest {
    pb::UploadOutcomesRequest {
        item: Some(pb::upload_outcomes_request::Item::Header(
            pb::UploadOutcomesHeader {
                outcome_report: report.into(),
                request_id: request_id.into(),
            },
        )),
    }
}

pub(crate) fn item(outcome: pb::Outcome) -> pb::UploadOutcomesRequest {
    pb::UploadOutcomesRequest {
        item: Some(pb::upload_outcomes_request::Item::Outcome(outcome)),
    }
}

/// Streams `messages` through UploadOutcomes.
async fn upload_messages(
    app: &TestApp,
    token: Option<&str>,
    messages: Vec<pb::UploadOutcomesRequest>,
) -> Answer<pb::UploadOutcomesResponse> {
    app.outcome_reports(token)
        .upload_outcomes(tokio_stream::iter(messages))
        .await
}

/// Uploads `outcomes` to `report` behind a header.
async fn upload(
    app: &TestApp,
    token: Option<&str>,
    report: &str,
    request_id: &str,
    outcomes: Vec<pb::Outcome>,
) -> Answer<pb::UploadOutcomesResponse> {
    let mut messages = vec![header(report, request_id)];
    messages.extend(outcomes.into_iter().map(item));
    upload_messages(app, token, messages).await
}

/// `count` complete outcomes in Haiti in 2014-Q3, quantities 1, 2, ... 50, 1, ...
fn many_trained(count: usize) -> Vec<pb::Outcome> {
    (0..count)
        .map(|index| trained("HT", "2014-05-15", (index % 50) as i64 + 1))
        .collect()
}

// ---------------------------------------------------------------------------
// The reporting schedule

#[tokio::test]
async fn a_quarterly_grant_schedules_each_quarter_the_project_overlaps_clipped_to_it_and_a_final_report()
 {
    let app = spawn_app().await;
    let grantee = grantee_with(
        &app,
        "QUARTERLY-1",
        Terms {
            project_period: ("2014-01-15", "2015-02-10"),
            ..Terms::default()
        },
    )
    .await;

    let periods = periods_of(&app, app.admin(), &grantee.project.name, "").await;

    assert_eq!(
        schedule(&periods),
        vec![
            row(
                "2014-Q2",
                "2014-01-15",
                "2014-03-31",
                "2014-04-30",
                Period::Overdue
            ),
            row(
                "2014-Q3",
                "2014-04-01",
                "2014-06-30",
                "2014-07-30",
                Period::Overdue
            ),
            row(
                "2014-Q4",
                "2014-07-01",
                "2014-09-30",
                "2014-10-30",
                Period::Overdue
            ),
            row(
                "2015-Q1",
                "2014-10-01",
                "2014-12-31",
                "2015-01-30",
                Period::Overdue
            ),
            row(
                "2015-Q2",
                "2015-01-01",
                "2015-02-10",
                "2015-03-12",
                Period::Overdue
            ),
            row(
                "FINAL",
                "2014-01-15",
                "2015-02-10",
                "2015-05-11",
                Period::Overdue
            ),
        ]
    );
    for period in &periods {
        assert_eq!(period.project, grantee.project.name);
        assert_eq!(period.outcome_report, "");
        assert_eq!(period.program_officer, "jane.doe@state.example");
    }
}

#[tokio::test]
async fn the_example_project_of_january_to_june_2014_has_two_quarters_and_a_final_report_all_overdue()
 {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "EXAMPLE-1").await;

    let periods = periods_of(&app, grantee.auth(), &grantee.project.name, "").await;

    assert_eq!(
        schedule(&periods),
        vec![
            row(
                "2014-Q2",
                "2014-01-15",
                "2014-03-31",
                "2014-04-30",
                Period::Overdue
            ),
            row(
                "2014-Q3",
                "2014-04-01",
                "2014-06-30",
                "2014-07-30",
                Period::Overdue
            ),
            row(
                "FINAL",
                "2014-01-15",
                "2014-06-30",
                "2014-09-28",
                Period::Overdue
            ),
        ]
    );
}

#[tokio::test]
async fn a_semi_annual_grant_schedules_halves_of_the_fiscal_year() {
    let app = spawn_app().await;
    let grantee = grantee_with(
        &app,
        "SEMI-1",
        Terms {
            cadence: pb::ReportingCadence::SemiAnnual,
            project_period: ("2014-01-15", "2015-06-30"),
            ..Terms::default()
        },
    )
    .await;

    let periods = periods_of(&app, app.admin(), &grantee.project.name, "").await;

    assert_eq!(
        schedule(&periods),
        vec![
            row(
                "2014-H1",
                "2014-01-15",
                "2014-03-31",
                "2014-04-30",
                Period::Overdue
            ),
            row(
                "2014-H2",
                "2014-04-01",
                "2014-09-30",
                "2014-10-30",
                Period::Overdue
            ),
            row(
                "2015-H1",
                "2014-10-01",
                "2015-03-31",
                "2015-04-30",
                Period::Overdue
            ),
            row(
                "2015-H2",
                "2015-04-01",
                "2015-06-30",
                "2015-07-30",
                Period::Overdue
            ),
            row(
                "FINAL",
                "2014-01-15",
                "2015-06-30",
                "2015-09-28",
                Period::Overdue
            ),
        ]
    );
}

#[tokio::test]
async fn an_annual_grant_schedules_one_report_per_fiscal_year() {
    let app = spawn_app().await;
    let grantee = grantee_with(
        &app,
        "ANNUAL-1",
        Terms {
            cadence: pb::ReportingCadence::Annual,
            project_period: ("2014-01-15", "2015-06-30"),
            ..Terms::default()
        },
    )
    .await;

    let periods = periods_of(&app, app.admin(), &grantee.project.name, "").await;

    assert_eq!(
        schedule(&periods),
        vec![
            row(
                "2014",
                "2014-01-15",
                "2014-09-30",
                "2014-10-30",
                Period::Overdue
            ),
            row(
                "2015",
                "2014-10-01",
                "2015-06-30",
                "2015-07-30",
                Period::Overdue
            ),
            row(
                "FINAL",
                "2014-01-15",
                "2015-06-30",
                "2015-09-28",
                Period::Overdue
            ),
        ]
    );
}

#[tokio::test]
async fn due_dates_follow_the_configured_days_after_each_period_and_after_the_project() {
    let app = spawn_app_with(|settings| {
        settings.reporting.due_days = 45;
        settings.reporting.final_due_days = 60;
    })
    .await;
    let grantee = a_grantee(&app, "DUE-1").await;

    let periods = periods_of(&app, app.admin(), &grantee.project.name, "").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;

    assert_eq!(
        schedule(&periods),
        vec![
            row(
                "2014-Q2",
                "2014-01-15",
                "2014-03-31",
                "2014-05-15",
                Period::Overdue
            ),
            row(
                "2014-Q3",
                "2014-04-01",
                "2014-06-30",
                "2014-08-14",
                Period::Overdue
            ),
            row(
                "FINAL",
                "2014-01-15",
                "2014-06-30",
                "2014-08-29",
                Period::Overdue
            ),
        ]
    );
    assert_eq!(created.due_date, "2014-08-14");
}

#[tokio::test]
async fn a_fiscal_year_starting_in_january_moves_the_quarters() {
    let app = spawn_app_with(|settings| settings.fiscal_year.first_month = 1).await;
    let grantee = a_grantee(&app, "CALENDAR-1").await;

    let periods = periods_of(&app, app.admin(), &grantee.project.name, "").await;

    assert_eq!(
        schedule(&periods),
        vec![
            row(
                "2014-Q1",
                "2014-01-15",
                "2014-03-31",
                "2014-04-30",
                Period::Overdue
            ),
            row(
                "2014-Q2",
                "2014-04-01",
                "2014-06-30",
                "2014-07-30",
                Period::Overdue
            ),
            row(
                "FINAL",
                "2014-01-15",
                "2014-06-30",
                "2014-09-28",
                Period::Overdue
            ),
        ]
    );
}

#[tokio::test]
async fn periods_not_yet_due_follow_their_reports_from_not_started_to_accepted() {
    let app = spawn_app().await;
    let grantee = grantee_with(&app, "FUTURE-1", future_terms()).await;
    let project = grantee.project.name.clone();
    let (_, officer) = an_officer(&app).await;

    let untouched = periods_of(&app, app.admin(), &project, "").await;
    let draft = report(&app, grantee.auth(), &project, "2030-Q2").await;
    let returned = report(&app, grantee.auth(), &project, "2030-Q3").await;
    let final_report = report(&app, grantee.auth(), &project, "FINAL").await;
    submit(&app, grantee.auth(), &returned.name, "")
        .await
        .unwrap();
    submit(&app, grantee.auth(), &final_report.name, "")
        .await
        .unwrap();
    let while_submitted = statuses(&app, &project).await;
    send_back(&app, Some(&officer), &returned.name, "Add rosters", "")
        .await
        .unwrap();
    accept(&app, Some(&officer), &final_report.name, "")
        .await
        .unwrap();
    let reviewed = periods_of(&app, app.admin(), &project, "").await;

    assert_eq!(
        schedule(&untouched),
        vec![
            row(
                "2030-Q2",
                "2030-01-15",
                "2030-03-31",
                "2030-04-30",
                Period::NotStarted
            ),
            row(
                "2030-Q3",
                "2030-04-01",
                "2030-06-30",
                "2030-07-30",
                Period::NotStarted
            ),
            row(
                "FINAL",
                "2030-01-15",
                "2030-06-30",
                "2030-09-28",
                Period::NotStarted
            ),
        ]
    );
    assert_eq!(
        while_submitted,
        named(&[
            ("2030-Q2", Period::Draft),
            ("2030-Q3", Period::Submitted),
            ("FINAL", Period::Submitted),
        ])
    );
    assert_eq!(
        schedule(&reviewed)
            .into_iter()
            .map(|row| (row.0, row.4))
            .collect::<Vec<_>>(),
        named(&[
            ("2030-Q2", Period::Draft),
            ("2030-Q3", Period::Returned),
            ("FINAL", Period::Accepted),
        ])
    );
    assert_eq!(
        reviewed
            .iter()
            .map(|p| p.outcome_report.as_str())
            .collect::<Vec<_>>(),
        vec![
            draft.name.as_str(),
            returned.name.as_str(),
            final_report.name.as_str()
        ]
    );
}

#[tokio::test]
async fn a_past_due_period_stays_overdue_until_a_report_is_submitted_or_accepted() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "LATE-1").await;
    let project = grantee.project.name.clone();
    let (_, officer) = an_officer(&app).await;

    let draft = report(&app, grantee.auth(), &project, "2014-Q2").await;
    let returned = report(&app, grantee.auth(), &project, "2014-Q3").await;
    let final_report = report(&app, grantee.auth(), &project, "FINAL").await;
    let with_drafts = statuses(&app, &project).await;
    submit(&app, grantee.auth(), &returned.name, "")
        .await
        .unwrap();
    submit(&app, grantee.auth(), &final_report.name, "")
        .await
        .unwrap();
    let submitted = statuses(&app, &project).await;
    send_back(&app, Some(&officer), &returned.name, "Incomplete", "")
        .await
        .unwrap();
    accept(&app, Some(&officer), &final_report.name, "")
        .await
        .unwrap();
    let reviewed = statuses(&app, &project).await;

    assert_eq!(
        with_drafts,
        named(&[
            ("2014-Q2", Period::Overdue),
            ("2014-Q3", Period::Overdue),
            ("FINAL", Period::Overdue),
        ])
    );
    assert_eq!(
        submitted,
        named(&[
            ("2014-Q2", Period::Overdue),
            ("2014-Q3", Period::Submitted),
            ("FINAL", Period::Submitted),
        ])
    );
    assert_eq!(
        reviewed,
        named(&[
            ("2014-Q2", Period::Overdue),
            ("2014-Q3", Period::Overdue),
            ("FINAL", Period::Accepted),
        ])
    );
    assert_eq!(
        read_report(&app, &draft.name).await.state,
        State::Draft as i32
    );
}

#[tokio::test]
async fn reporting_periods_of_every_project_filter_by_status_grant_program_officer_and_country() {
    let app = spawn_app().await;
    let late = a_grantee(&app, "LATE-1").await;
    let early = grantee_with(
        &app,
        "EARLY-1",
        Terms {
            countries: &["PE"],
            program_officer: "John Smith",
            ..future_terms()
        },
    )
    .await;
    let all = "grants/-/projects/-";
    let late_keys = keys_of(&late.project, &["2014-Q2", "2014-Q3", "FINAL"]);
    let early_keys = keys_of(&early.project, &["2030-Q2", "2030-Q3", "FINAL"]);
    let both = {
        let mut both = late_keys.clone();
        both.extend(early_keys.clone());
        both.sort();
        both
    };

    let everything = periods_of(&app, app.admin(), all, "").await;
    let overdue = periods_of(&app, app.admin(), all, "status = OVERDUE").await;
    let not_started = periods_of(&app, app.admin(), all, "status = NOT_STARTED").await;
    let by_grant = periods_of(
        &app,
        app.admin(),
        all,
        &format!("grant = {}", early.grant.name),
    )
    .await;
    let by_officer = periods_of(&app, app.admin(), all, "program_officer = \"John Smith\"").await;
    let by_country = periods_of(&app, app.admin(), all, "country = HT").await;
    let none = periods_of(&app, app.admin(), all, "status = OVERDUE AND country = PE").await;
    let as_grantee = periods_of(&app, late.auth(), all, "").await;

    assert_eq!(keys(&everything), both);
    let late_order: Vec<_> = everything
        .iter()
        .filter(|p| p.project == late.project.name)
        .map(|p| p.period.as_str())
        .collect();
    assert_eq!(late_order, vec!["2014-Q2", "2014-Q3", "FINAL"]);
    assert_eq!(keys(&overdue), late_keys);
    assert_eq!(keys(&not_started), early_keys);
    assert_eq!(keys(&by_grant), early_keys);
    assert_eq!(keys(&by_officer), early_keys);
    assert!(by_officer.iter().all(|p| p.program_officer == "John Smith"));
    assert_eq!(keys(&by_country), late_keys);
    assert!(none.is_empty());
    assert_eq!(keys(&as_grantee), late_keys);
}

#[tokio::test]
async fn a_submitted_report_keeps_its_due_date_when_the_project_period_changes_and_a_draft_follows()
{
    let app = spawn_app().await;
    let grantee = grantee_with(
        &app,
        "MOVED-1",
        Terms {
            project_period: ("2030-01-01", "2030-12-31"),
            ..future_terms()
        },
    )
    .await;
    let project = grantee.project.name.clone();
    let final_report = report(&app, grantee.auth(), &project, "FINAL").await;
    let submitted = submit(&app, grantee.auth(), &final_report.name, "")
        .await
        .unwrap()
        .into_inner();
    let draft = report(&app, grantee.auth(), &project, "2031-Q1").await;

    app.projects(app.admin())
        .update_project(pb::UpdateProjectRequest {
            project: Some(pb::Project {
                name: project.clone(),
                end_date: "2030-11-30".into(),
                ..Default::default()
            }),
            update_mask: mask(&["end_date"]),
        })
        .await
        .unwrap();
    let periods = periods_of(&app, app.admin(), &project, "").await;
    let due = |period: &str| {
        periods
            .iter()
            .find(|p| p.period == period)
            .map(|p| p.due_date.clone())
            .unwrap_or_else(|| panic!("no period {period} in {periods:?}"))
    };

    assert_eq!(submitted.due_date, "2031-03-31");
    assert_eq!(draft.due_date, "2031-01-30");
    assert_eq!(
        due("FINAL"),
        "2031-03-31",
        "submitted against the old period"
    );
    assert_eq!(
        read_report(&app, &final_report.name).await.due_date,
        "2031-03-31"
    );
    assert_eq!(
        due("2031-Q1"),
        "2030-12-30",
        "a draft follows the new period"
    );
    let moved = read_report(&app, &draft.name).await;
    assert_eq!(
        (moved.period_end_date.as_str(), moved.due_date.as_str()),
        ("2030-11-30", "2030-12-30")
    );
}

// ---------------------------------------------------------------------------
// Reports

#[tokio::test]
async fn a_grantee_starts_a_draft_report_for_one_of_its_projects_periods() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "DRAFT-1").await;

    let created = create_report(&app, grantee.auth(), &grantee.project.name, "2014-Q3", "")
        .await
        .unwrap()
        .into_inner();
    let read = app
        .outcome_reports(grantee.auth())
        .get_outcome_report(pb::GetOutcomeReportRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let listed = reports_listed(&app, grantee.auth(), &grantee.project.name, "").await;

    assert!(
        created
            .name
            .starts_with(&format!("{}/outcomeReports/", grantee.project.name)),
        "{}",
        created.name
    );
    assert_eq!(created.state, State::Draft as i32);
    assert_eq!(created.period, "2014-Q3");
    assert_eq!(
        (
            created.period_start_date.as_str(),
            created.period_end_date.as_str(),
            created.due_date.as_str()
        ),
        ("2014-04-01", "2014-06-30", "2014-07-30")
    );
    assert_eq!(created.narrative, "What happened in 2014-Q3");
    assert_eq!(created.outcome_count, 0);
    assert_eq!(created.submitter, "");
    assert!(created.submit_time.is_none());
    assert!(created.create_time.is_some());
    assert!(!created.etag.is_empty());
    assert_eq!(read, created);
    assert_eq!(listed, vec![created.name]);
}

#[tokio::test]
async fn a_report_for_a_period_the_project_does_not_have_is_refused() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "PERIODS-1").await;

    for period in [
        "",
        "2014-Q1",
        "2014-Q4",
        "2014-Q5",
        "2014-H1",
        "2014",
        "FINAL-2014",
    ] {
        let result = create_report(&app, grantee.auth(), &grantee.project.name, period, "").await;
        expect_invalid(result, &["outcome_report.period"]);
    }
    let listed = reports_listed(&app, app.admin(), &grantee.project.name, "").await;

    assert!(listed.is_empty(), "{listed:?}");
}

#[tokio::test]
async fn a_second_report_for_the_same_project_and_period_already_exists() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "TWICE-1").await;
    let first = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;

    let second = create_report(&app, app.admin(), &grantee.project.name, "2014-Q3", "").await;
    let other_period =
        create_report(&app, grantee.auth(), &grantee.project.name, "2014-Q2", "").await;

    expect_code(second, Code::AlreadyExists);
    assert!(other_period.is_ok(), "{other_period:?}");
    let listed = reports_listed(&app, app.admin(), &grantee.project.name, "period = 2014-Q3").await;
    assert_eq!(listed, vec![first.name]);
}

#[tokio::test]
async fn creating_a_report_with_the_same_request_id_twice_creates_one() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "RETRY-1").await;

    let first = create_report(
        &app,
        grantee.auth(),
        &grantee.project.name,
        "2014-Q3",
        "report-once",
    )
    .await
    .unwrap()
    .into_inner();
    let second = create_report(
        &app,
        grantee.auth(),
        &grantee.project.name,
        "2014-Q3",
        "report-once",
    )
    .await
    .unwrap()
    .into_inner();
    let listed = reports_listed(&app, app.admin(), &grantee.project.name, "").await;
    let events = app.audit_events_of(&first.name).await;

    assert_eq!(first, second);
    assert_eq!(listed, vec![first.name.clone()]);
    assert_eq!(events.len(), 1, "{events:?}");
}

#[tokio::test]
async fn the_narrative_of_a_draft_changes_through_its_mask_and_nothing_else_does() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "NARRATIVE-1").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;

    let updated = update_narrative(
        &app,
        grantee.auth(),
        &created,
        "Forty officers trained",
        &["narrative"],
    )
    .await
    .unwrap()
    .into_inner();
    let period = update_narrative(&app, grantee.auth(), &updated, "x", &["period"]).await;
    let state =
        update_narrative(&app, grantee.auth(), &updated, "x", &["narrative", "state"]).await;
    let stale = update_narrative(&app, grantee.auth(), &created, "stale", &["narrative"]).await;
    let read = read_report(&app, &created.name).await;

    assert_eq!(updated.narrative, "Forty officers trained");
    assert_eq!(updated.period, created.period);
    assert_ne!(updated.etag, created.etag);
    expect_invalid(period, &["update_mask"]);
    expect_invalid(state, &["update_mask"]);
    assert_eq!(reason(&expect_code(stale, Code::Aborted)), "ETAG_MISMATCH");
    assert_eq!(read, updated);
}

#[tokio::test]
async fn a_submitted_or_accepted_report_and_its_outcomes_are_locked() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "LOCKED-1").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    let outcome = add(
        &app,
        grantee.auth(),
        &created.name,
        trained("HT", "2014-05-15", 40),
    )
    .await;
    submit(&app, grantee.auth(), &created.name, "")
        .await
        .unwrap();
    let (_, officer) = an_officer(&app).await;

    for (stage, token) in [("submitted", grantee.auth()), ("accepted", app.admin())] {
        if stage == "accepted" {
            accept(&app, Some(&officer), &created.name, "")
                .await
                .unwrap();
        }
        let before = read_report(&app, &created.name).await;
        let narrative = update_narrative(&app, token, &before, "Changed", &["narrative"]).await;
        let added =
            create_outcome(&app, token, &created.name, trained("HT", "2014-05-16", 5)).await;
        let changed = update_outcome(
            &app,
            token,
            pb::Outcome {
                name: outcome.name.clone(),
                quantity: 41,
                ..Default::default()
            },
            &["quantity"],
        )
        .await;
        let deleted = delete_outcome(&app, token, &outcome.name).await;
        let uploaded = upload(&app, token, &created.name, "", many_trained(3)).await;

        for (what, status) in [
            (
                "update the narrative",
                expect_code(narrative, Code::FailedPrecondition),
            ),
            (
                "add an outcome",
                expect_code(added, Code::FailedPrecondition),
            ),
            (
                "change an outcome",
                expect_code(changed, Code::FailedPrecondition),
            ),
            (
                "delete an outcome",
                expect_code(deleted, Code::FailedPrecondition),
            ),
            (
                "upload outcomes",
                expect_code(uploaded, Code::FailedPrecondition),
            ),
        ] {
            assert_eq!(
                reason(&status),
                "OUTCOME_REPORT_LOCKED",
                "{what} when {stage}"
            );
        }
        assert_eq!(read_report(&app, &created.name).await, before, "{stage}");
        assert_eq!(
            outcomes_of(&app, &created.name, true).await,
            vec![outcome.clone()]
        );
    }
}

#[tokio::test]
async fn reports_filter_by_state_period_fiscal_year_grantee_and_program_officer() {
    let app = spawn_app().await;
    let mine = a_grantee(&app, "MINE-1").await;
    let theirs = grantee_with(
        &app,
        "THEIRS-1",
        Terms {
            program_officer: "John Smith",
            ..Terms::default()
        },
    )
    .await;
    let mine_q2 = report(&app, mine.auth(), &mine.project.name, "2014-Q2").await;
    let mine_q3 = report(&app, mine.auth(), &mine.project.name, "2014-Q3").await;
    let theirs_q3 = report(&app, theirs.auth(), &theirs.project.name, "2014-Q3").await;
    submit(&app, mine.auth(), &mine_q2.name, "").await.unwrap();
    let all = "grants/-/projects/-";
    let list = |filter: String| {
        let app = &app;
        async move { reports_listed(app, app.admin(), all, &filter).await }
    };

    assert_eq!(
        list(String::new()).await,
        sorted(&[&mine_q2.name, &mine_q3.name, &theirs_q3.name])
    );
    assert_eq!(
        list("state = SUBMITTED".into()).await,
        sorted(&[&mine_q2.name])
    );
    assert_eq!(
        list("period = 2014-Q3".into()).await,
        sorted(&[&mine_q3.name, &theirs_q3.name])
    );
    assert_eq!(list("fiscal_year = 2014".into()).await.len(), 3);
    assert!(list("fiscal_year = 2015".into()).await.is_empty());
    assert_eq!(
        list(format!("grantee = {}", mine.organization.name)).await,
        sorted(&[&mine_q2.name, &mine_q3.name])
    );
    assert_eq!(
        list("program_officer = \"John Smith\"".into()).await,
        sorted(&[&theirs_q3.name])
    );
    assert_eq!(
        list("state = DRAFT AND period = 2014-Q3".into()).await,
        sorted(&[&mine_q3.name, &theirs_q3.name])
    );
    assert_eq!(
        reports_listed(&app, mine.auth(), all, "").await,
        sorted(&[&mine_q2.name, &mine_q3.name])
    );
    assert_eq!(
        reports_listed(&app, app.admin(), &theirs.project.name, "").await,
        sorted(&[&theirs_q3.name])
    );
}

// ---------------------------------------------------------------------------
// Outcomes

#[tokio::test]
async fn a_grantee_adds_a_complete_outcome_toward_an_indicator_and_reads_it_back() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "OUTCOME-1").await;
    let indicator = app
        .indicator(&grantee.project.name, new_indicator(300))
        .await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    let outcome = pb::Outcome {
        indicator: indicator.name.clone(),
        officials_trained: Some(pb::OfficialsTrained {
            police: 20,
            prosecutors: 10,
            judges: 5,
            labour_inspectors: 2,
            social_workers: 2,
            other: 1,
        }),
        ..trained("HT", "2014-05-15", 40)
    };

    let added = add(&app, grantee.auth(), &created.name, outcome.clone()).await;
    let read = app
        .outcome_reports(grantee.auth())
        .get_outcome(pb::GetOutcomeRequest {
            name: added.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let listed = outcomes_of(&app, &created.name, false).await;

    assert!(
        added
            .name
            .starts_with(&format!("{}/outcomes/", created.name)),
        "{}",
        added.name
    );
    assert_eq!(added.kind, Kind::OfficialsTrained as i32);
    assert_eq!(
        (
            added.country_code.as_str(),
            added.outcome_date.as_str(),
            added.fiscal_year,
            added.quantity
        ),
        ("HT", "2014-05-15", 2014, 40)
    );
    assert_eq!(added.officials_trained, outcome.officials_trained);
    assert_eq!(added.description, outcome.description);
    assert_eq!(added.evidence_uri, outcome.evidence_uri);
    assert_eq!(added.indicator, indicator.name);
    assert_eq!(added.milestone, "", "officials trained are no milestone");
    assert!(added.create_time.is_some());
    assert!(added.delete_time.is_none());
    assert!(!added.etag.is_empty());
    assert_eq!(read, added);
    assert_eq!(listed, vec![added]);
    assert_eq!(read_report(&app, &created.name).await.outcome_count, 1);
}

#[tokio::test]
async fn an_outcome_on_30_september_falls_in_the_old_fiscal_year_and_on_1_october_in_the_new() {
    let app = spawn_app().await;
    let grantee = grantee_with(
        &app,
        "BOUNDARY-1",
        Terms {
            project_period: ("2014-07-01", "2014-12-31"),
            ..Terms::default()
        },
    )
    .await;
    let project = grantee.project.name.clone();
    let final_report = report(&app, grantee.auth(), &project, "FINAL").await;
    let fourth_quarter = report(&app, grantee.auth(), &project, "2014-Q4").await;
    let first_quarter = report(&app, grantee.auth(), &project, "2015-Q1").await;

    let september = add(
        &app,
        grantee.auth(),
        &final_report.name,
        trained("HT", "2014-09-30", 1),
    )
    .await;
    let october = add(
        &app,
        grantee.auth(),
        &final_report.name,
        trained("HT", "2014-10-01", 1),
    )
    .await;
    let last_day_in_q4 = create_outcome(
        &app,
        grantee.auth(),
        &fourth_quarter.name,
        trained("HT", "2014-09-30", 1),
    )
    .await;
    let october_in_q4 = create_outcome(
        &app,
        grantee.auth(),
        &fourth_quarter.name,
        trained("HT", "2014-10-01", 1),
    )
    .await;
    let september_in_q1 = create_outcome(
        &app,
        grantee.auth(),
        &first_quarter.name,
        trained("HT", "2014-09-30", 1),
    )
    .await;
    let first_day_in_q1 = create_outcome(
        &app,
        grantee.auth(),
        &first_quarter.name,
        trained("HT", "2014-10-01", 1),
    )
    .await;

    assert_eq!(september.fiscal_year, 2014);
    assert_eq!(october.fiscal_year, 2015);
    assert_eq!(last_day_in_q4.unwrap().into_inner().fiscal_year, 2014);
    expect_invalid(october_in_q4, &["outcome.outcome_date"]);
    expect_invalid(september_in_q1, &["outcome.outcome_date"]);
    assert_eq!(first_day_in_q1.unwrap().into_inner().fiscal_year, 2015);
}

#[tokio::test]
async fn each_bad_outcome_field_is_named_and_the_report_is_unchanged() {
    let app = spawn_app().await;
    let grantee = grantee_with(
        &app,
        "BAD-1",
        Terms {
            countries: &["HT", "DO"],
            ..Terms::default()
        },
    )
    .await;
    let other = a_grantee(&app, "OTHER-1").await;
    let foreign_indicator = app.indicator(&other.project.name, new_indicator(10)).await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    let before = read_report(&app, &created.name).await;
    let good = || trained("HT", "2014-05-15", 40);
    let victims = |breakdown: pb::VictimBreakdown| pb::Outcome {
        kind: Kind::VictimsAssisted as i32,
        officials_trained: None,
        victims: Some(breakdown),
        ..good()
    };
    let cases: Vec<(&str, pb::Outcome, &str)> = vec![
        ("no kind", pb::Outcome { kind: 0, ..good() }, "outcome.kind"),
        (
            "unknown kind",
            pb::Outcome { kind: 99, ..good() },
            "outcome.kind",
        ),
        (
            "country not in the project",
            pb::Outcome {
                country_code: "LR".into(),
                ..good()
            },
            "outcome.country_code",
        ),
        (
            "unknown country",
            pb::Outcome {
                country_code: "XX".into(),
                ..good()
            },
            "outcome.country_code",
        ),
        (
            "date before the period",
            pb::Outcome {
                outcome_date: "2014-03-31".into(),
                ..good()
            },
            "outcome.outcome_date",
        ),
        (
            "date after the period",
            pb::Outcome {
                outcome_date: "2014-07-01".into(),
                ..good()
            },
            "outcome.outcome_date",
        ),
        (
            "no such date",
            pb::Outcome {
                outcome_date: "2014-06-31".into(),
                ..good()
            },
            "outcome.outcome_date",
        ),
        (
            "not a date",
            pb::Outcome {
                outcome_date: "15/05/2014".into(),
                ..good()
            },
            "outcome.outcome_date",
        ),
        (
            "negative quantity",
            pb::Outcome {
                quantity: -1,
                officials_trained: None,
                ..good()
            },
            "outcome.quantity",
        ),
        (
            "officials by role exceed the total",
            pb::Outcome {
                officials_trained: Some(pb::OfficialsTrained {
                    police: 30,
                    judges: 11,
                    ..Default::default()
                }),
                ..good()
            },
            "outcome.officials_trained",
        ),
        (
            "victims by sex exceed the total",
            victims(pb::VictimBreakdown {
                female: 20,
                male: 20,
                other_sex: 1,
                ..Default::default()
            }),
            "outcome.victims",
        ),
        (
            "victims by age exceed the total",
            victims(pb::VictimBreakdown {
                children: 30,
                adults: 11,
                ..Default::default()
            }),
            "outcome.victims",
        ),
        (
            "evidence not on the web",
            pb::Outcome {
                evidence_uri: "ftp://evidence.example/roster.pdf".into(),
                ..good()
            },
            "outcome.evidence_uri",
        ),
        (
            "evidence not a link",
            pb::Outcome {
                evidence_uri: "roster.pdf".into(),
                ..good()
            },
            "outcome.evidence_uri",
        ),
        (
            "indicator of another project",
            pb::Outcome {
                indicator: foreign_indicator.name.clone(),
                ..good()
            },
            "outcome.indicator",
        ),
        (
            "unknown indicator",
            pb::Outcome {
                indicator: format!("{}/indicators/missing", grantee.project.name),
                ..good()
            },
            "outcome.indicator",
        ),
    ];

    let mut failures = Vec::new();
    for (case, outcome, field) in cases {
        let result = create_outcome(&app, grantee.auth(), &created.name, outcome).await;
        let (code, fields) = refusal(result);
        if (code, fields.as_slice()) != (Code::InvalidArgument, &[field.to_string()][..]) {
            failures.push(format!(
                "{case}: {code:?} naming {fields:?}, expected {field}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let exact = create_outcome(
        &app,
        grantee.auth(),
        &created.name,
        victims(pb::VictimBreakdown {
            female: 20,
            male: 19,
            other_sex: 1,
            children: 30,
            adults: 10,
        }),
    )
    .await;

    assert_eq!(
        outcomes_of(&app, &created.name, true).await.len(),
        1,
        "only the last, valid outcome was added"
    );
    assert!(
        exact.is_ok(),
        "parts that add up to the total are fine: {exact:?}"
    );
    let after = read_report(&app, &created.name).await;
    assert_eq!(
        (after.state, after.narrative),
        (before.state, before.narrative)
    );
}

#[tokio::test]
async fn every_bad_outcome_field_is_named_at_once() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "BAD-2").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;

    let result = create_outcome(
        &app,
        grantee.auth(),
        &created.name,
        pb::Outcome {
            country_code: "LR".into(),
            outcome_date: "2015-01-01".into(),
            quantity: -3,
            officials_trained: None,
            evidence_uri: "mailto:someone@example.org".into(),
            ..trained("HT", "2014-05-15", 1)
        },
    )
    .await;

    expect_invalid(
        result,
        &[
            "outcome.country_code",
            "outcome.outcome_date",
            "outcome.quantity",
            "outcome.evidence_uri",
        ],
    );
    assert!(outcomes_of(&app, &created.name, true).await.is_empty());
}

#[tokio::test]
async fn a_draft_outcome_may_leave_out_country_date_and_quantity_but_not_its_kind() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "INCOMPLETE-1").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;

    let incomplete = add(
        &app,
        grantee.auth(),
        &created.name,
        bare(Kind::VictimsIdentified),
    )
    .await;
    let kindless = create_outcome(
        &app,
        grantee.auth(),
        &created.name,
        pb::Outcome {
            kind: 0,
            ..bare(Kind::Other)
        },
    )
    .await;

    assert_eq!(
        (
            incomplete.country_code.as_str(),
            incomplete.outcome_date.as_str(),
            incomplete.quantity,
            incomplete.fiscal_year
        ),
        ("", "", 0, 0)
    );
    expect_invalid(kindless, &["outcome.kind"]);
    assert_eq!(outcomes_of(&app, &created.name, false).await.len(), 1);
}

#[tokio::test]
async fn creating_an_outcome_with_the_same_request_id_twice_creates_one() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "RETRY-2").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    let request = pb::CreateOutcomeRequest {
        parent: created.name.clone(),
        outcome: Some(trained("HT", "2014-05-15", 12)),
        request_id: "outcome-once".into(),
    };

    let first = app
        .outcome_reports(grantee.auth())
        .create_outcome(request.clone())
        .await
        .unwrap()
        .into_inner();
    let second = app
        .outcome_reports(grantee.auth())
        .create_outcome(request)
        .await
        .unwrap()
        .into_inner();

    assert_eq!(first, second);
    assert_eq!(outcomes_of(&app, &created.name, true).await, vec![first]);
}

#[tokio::test]
async fn an_outcome_changes_the_fields_of_its_mask_and_each_change_is_checked() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "CHANGE-1").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    let draft = add(
        &app,
        grantee.auth(),
        &created.name,
        bare(Kind::OfficialsTrained),
    )
    .await;

    let completed = update_outcome(
        &app,
        grantee.auth(),
        pb::Outcome {
            name: draft.name.clone(),
            etag: draft.etag.clone(),
            country_code: "HT".into(),
            outcome_date: "2014-04-10".into(),
            quantity: 25,
            description: "ignored: not in the mask".into(),
            ..Default::default()
        },
        &["country_code", "outcome_date", "quantity"],
    )
    .await
    .unwrap()
    .into_inner();
    let bad_country = update_outcome(
        &app,
        grantee.auth(),
        pb::Outcome {
            name: draft.name.clone(),
            country_code: "PE".into(),
            ..Default::default()
        },
        &["country_code"],
    )
    .await;
    let bad_path = update_outcome(
        &app,
        grantee.auth(),
        pb::Outcome {
            name: draft.name.clone(),
            fiscal_year: 2020,
            ..Default::default()
        },
        &["fiscal_year"],
    )
    .await;
    let stale = update_outcome(
        &app,
        grantee.auth(),
        pb::Outcome {
            name: draft.name.clone(),
            etag: draft.etag.clone(),
            quantity: 1,
            ..Default::default()
        },
        &["quantity"],
    )
    .await;
    let read = outcomes_of(&app, &created.name, false).await;

    assert_eq!(
        (
            completed.country_code.as_str(),
            completed.outcome_date.as_str(),
            completed.fiscal_year,
            completed.quantity
        ),
        ("HT", "2014-04-10", 2014, 25)
    );
    assert_eq!(completed.description, draft.description);
    assert_eq!(completed.kind, draft.kind);
    assert_ne!(completed.etag, draft.etag);
    expect_invalid(bad_country, &["outcome.country_code"]);
    expect_invalid(bad_path, &["update_mask"]);
    assert_eq!(reason(&expect_code(stale, Code::Aborted)), "ETAG_MISMATCH");
    assert_eq!(read, vec![completed]);
}

#[tokio::test]
async fn a_deleted_outcome_is_hidden_unless_deleted_ones_are_asked_for() {
    let app = spawn_app().await;
    let grantee = grantee_with(
        &app,
        "DELETE-1",
        Terms {
            countries: &["HT", "DO"],
            ..Terms::default()
        },
    )
    .await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    let kept = add(
        &app,
        grantee.auth(),
        &created.name,
        trained("HT", "2014-05-15", 3),
    )
    .await;
    let law = add(
        &app,
        grantee.auth(),
        &created.name,
        milestone_outcome(Kind::LawDrafted, "DO", "2014-06-01"),
    )
    .await;
    let gone = add(
        &app,
        grantee.auth(),
        &created.name,
        trained("DO", "2014-05-16", 4),
    )
    .await;

    let deleted = delete_outcome(&app, grantee.auth(), &gone.name)
        .await
        .unwrap()
        .into_inner();
    let live = outcomes_of(&app, &created.name, false).await;
    let all = outcomes_of(&app, &created.name, true).await;
    let in_dominican_republic = outcomes_filtered(&app, &created.name, "country = DO", false).await;
    let laws = outcomes_filtered(&app, &created.name, "kind = LAW_DRAFTED", false).await;

    assert!(deleted.delete_time.is_some());
    assert_eq!(live, vec![kept.clone(), law.clone()]);
    assert_eq!(
        all.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
        vec![kept.name.as_str(), law.name.as_str(), gone.name.as_str()]
    );
    assert!(all[2].delete_time.is_some());
    assert_eq!(in_dominican_republic, vec![law.clone()]);
    assert_eq!(laws, vec![law]);
    assert_eq!(read_report(&app, &created.name).await.outcome_count, 2);
}

// ---------------------------------------------------------------------------
// Submission

#[tokio::test]
async fn a_grantee_submits_its_draft_and_the_submitter_time_and_due_date_are_recorded() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "SUBMIT-1").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    add(
        &app,
        grantee.auth(),
        &created.name,
        trained("HT", "2014-05-15", 40),
    )
    .await;

    let submitted = submit(&app, grantee.auth(), &created.name, "")
        .await
        .unwrap()
        .into_inner();

    assert_eq!(submitted.state, State::Submitted as i32);
    assert_eq!(submitted.submitter, grantee.token_name);
    assert!(submitted.submit_time.is_some());
    assert_eq!(submitted.due_date, "2014-07-30");
    assert_eq!(submitted.outcome_count, 1);
    assert_eq!(read_report(&app, &created.name).await, submitted);
}

#[tokio::test]
async fn grantees_program_officers_and_admins_submit_while_auditors_and_case_workers_may_not() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "SUBMIT-2").await;
    let project = grantee.project.name.clone();
    let (officer_name, officer) = an_officer(&app).await;
    let auditor = app.token(pb::Role::Auditor, "").await;
    let case_worker = app.token(pb::Role::CaseWorker, "").await;
    let by_grantee = report(&app, grantee.auth(), &project, "2014-Q2").await;
    let by_officer = report(&app, Some(&officer), &project, "2014-Q3").await;
    let by_admin = report(&app, app.admin(), &project, "FINAL").await;

    let auditor_submit = submit(&app, Some(&auditor), &by_grantee.name, "").await;
    let case_worker_submit = submit(&app, Some(&case_worker), &by_grantee.name, "").await;
    let grantee_submit = submit(&app, grantee.auth(), &by_grantee.name, "")
        .await
        .unwrap()
        .into_inner();
    let officer_submit = submit(&app, Some(&officer), &by_officer.name, "")
        .await
        .unwrap()
        .into_inner();
    let admin_submit = submit(&app, app.admin(), &by_admin.name, "")
        .await
        .unwrap()
        .into_inner();

    expect_code(auditor_submit, Code::PermissionDenied);
    expect_code(case_worker_submit, Code::PermissionDenied);
    assert_eq!(grantee_submit.state, State::Submitted as i32);
    assert_eq!(grantee_submit.submitter, grantee.token_name);
    assert_eq!(officer_submit.state, State::Submitted as i32);
    assert_eq!(officer_submit.submitter, officer_name);
    assert_eq!(admin_submit.state, State::Submitted as i32);
    assert!(
        admin_submit.submitter.starts_with("apiTokens/"),
        "{}",
        admin_submit.submitter
    );
}

#[tokio::test]
async fn submitting_names_each_incomplete_outcome_by_its_position_among_the_live_ones() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "POSITIONS-1").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    add(
        &app,
        grantee.auth(),
        &created.name,
        trained("HT", "2014-05-15", 10),
    )
    .await;
    let deleted = add(&app, grantee.auth(), &created.name, bare(Kind::Other)).await;
    add(
        &app,
        grantee.auth(),
        &created.name,
        pb::Outcome {
            country_code: String::new(),
            ..trained("HT", "2014-05-16", 10)
        },
    )
    .await;
    add(
        &app,
        grantee.auth(),
        &created.name,
        pb::Outcome {
            outcome_date: String::new(),
            quantity: 0,
            officials_trained: None,
            ..trained("HT", "2014-05-17", 0)
        },
    )
    .await;
    delete_outcome(&app, grantee.auth(), &deleted.name)
        .await
        .unwrap();
    let before = read_report(&app, &created.name).await;

    let result = submit(&app, grantee.auth(), &created.name, "").await;

    expect_invalid(
        result,
        &[
            "outcomes[1].country_code",
            "outcomes[2].outcome_date",
            "outcomes[2].quantity",
        ],
    );
    let after = read_report(&app, &created.name).await;
    assert_eq!(after, before);
    assert_eq!(after.state, State::Draft as i32);
}

#[tokio::test]
async fn a_report_without_outcomes_may_be_submitted() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "EMPTY-1").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;

    let submitted = submit(&app, grantee.auth(), &created.name, "").await;

    assert_eq!(state_of(submitted), State::Submitted);
}

#[tokio::test]
async fn a_submitted_or_accepted_report_cannot_be_submitted_again() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "RESUBMIT-1").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    submit(&app, grantee.auth(), &created.name, "")
        .await
        .unwrap();

    let submitted = read_report(&app, &created.name).await;
    let while_submitted = submit(&app, grantee.auth(), &created.name, "").await;
    let unchanged_submitted = read_report(&app, &created.name).await;
    let (_, officer) = an_officer(&app).await;
    accept(&app, Some(&officer), &created.name, "")
        .await
        .unwrap();
    let accepted = read_report(&app, &created.name).await;
    let events = app.audit_events_of(&created.name).await.len();
    let while_accepted = submit(&app, grantee.auth(), &created.name, "").await;

    assert_eq!(
        reason(&expect_code(while_submitted, Code::FailedPrecondition)),
        "OUTCOME_REPORT_STATE_TRANSITION_NOT_ALLOWED"
    );
    assert_eq!(unchanged_submitted, submitted);
    assert_eq!(
        reason(&expect_code(while_accepted, Code::FailedPrecondition)),
        "OUTCOME_REPORT_STATE_TRANSITION_NOT_ALLOWED"
    );
    assert_eq!(read_report(&app, &created.name).await, accepted);
    assert_eq!(app.audit_events_of(&created.name).await.len(), events);
}

#[tokio::test]
async fn submitting_with_the_same_request_id_twice_submits_once() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "RETRY-3").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;

    let first = submit(&app, grantee.auth(), &created.name, "submit-once")
        .await
        .unwrap()
        .into_inner();
    let events = app.audit_events_of(&created.name).await.len();
    let second = submit(&app, grantee.auth(), &created.name, "submit-once")
        .await
        .unwrap()
        .into_inner();
    let fresh = submit(&app, grantee.auth(), &created.name, "submit-again").await;

    assert_eq!(first.state, State::Submitted as i32);
    assert_eq!(second, first);
    assert_eq!(events, 2, "create and submit");
    assert_eq!(app.audit_events_of(&created.name).await.len(), events);
    expect_code(fresh, Code::FailedPrecondition);
}

#[tokio::test]
async fn a_grantee_cannot_submit_another_organisations_report() {
    let app = spawn_app().await;
    let mine = a_grantee(&app, "MINE-1").await;
    let theirs = a_grantee(&app, "THEIRS-1").await;
    let their_report = report(&app, theirs.auth(), &theirs.project.name, "2014-Q3").await;

    let foreign = submit(&app, mine.auth(), &their_report.name, "").await;
    let missing = submit(&app, mine.auth(), &missing_sibling(&their_report.name), "").await;

    let foreign = answer(foreign);
    assert_eq!(foreign.0, Code::NotFound, "{foreign:?}");
    assert_eq!(
        foreign,
        answer(missing),
        "the same answer as for a missing report"
    );
    assert_eq!(read_report(&app, &their_report.name).await, their_report);
}

// ---------------------------------------------------------------------------
// Review

#[tokio::test]
async fn a_program_officer_accepts_a_submitted_report_and_grantees_see_the_program_office_as_reviewer()
 {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "ACCEPT-1").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    add(
        &app,
        grantee.auth(),
        &created.name,
        trained("HT", "2014-05-15", 40),
    )
    .await;
    submit(&app, grantee.auth(), &created.name, "")
        .await
        .unwrap();
    let (officer_name, officer) = an_officer(&app).await;

    let accepted = accept(&app, Some(&officer), &created.name, "")
        .await
        .unwrap()
        .into_inner();
    let seen_by_grantee = app
        .outcome_reports(grantee.auth())
        .get_outcome_report(pb::GetOutcomeReportRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(accepted.state, State::Accepted as i32);
    assert_eq!(accepted.reviewer, officer_name);
    assert!(accepted.review_time.is_some());
    assert_eq!(accepted.submitter, grantee.token_name);
    assert_eq!(seen_by_grantee.reviewer, "program office");
    assert_eq!(seen_by_grantee.state, State::Accepted as i32);
}

#[tokio::test]
async fn an_admin_accepts_and_returns_reports_too() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "ADMIN-1").await;
    let to_accept = report(&app, grantee.auth(), &grantee.project.name, "2014-Q2").await;
    let to_return = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    submit(&app, grantee.auth(), &to_accept.name, "")
        .await
        .unwrap();
    submit(&app, grantee.auth(), &to_return.name, "")
        .await
        .unwrap();

    let accepted = accept(&app, app.admin(), &to_accept.name, "").await;
    let returned = send_back(&app, app.admin(), &to_return.name, "Add the rosters", "").await;

    assert_eq!(state_of(accepted), State::Accepted);
    assert_eq!(state_of(returned), State::Returned);
}

#[tokio::test]
async fn grantees_auditors_and_case_workers_can_neither_accept_nor_return_a_report() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "REVIEW-1").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    let submitted = submit(&app, grantee.auth(), &created.name, "")
        .await
        .unwrap()
        .into_inner();
    let auditor = app.token(pb::Role::Auditor, "").await;
    let case_worker = app.token(pb::Role::CaseWorker, "").await;

    for (who, token) in [
        ("grantee", grantee.auth()),
        ("auditor", Some(auditor.as_str())),
        ("case worker", Some(case_worker.as_str())),
    ] {
        let accepted = accept(&app, token, &created.name, "").await;
        let returned = send_back(&app, token, &created.name, "Not good enough", "").await;
        assert_eq!(
            expect_code(accepted, Code::PermissionDenied).code(),
            Code::PermissionDenied,
            "{who}"
        );
        assert_eq!(
            expect_code(returned, Code::PermissionDenied).code(),
            Code::PermissionDenied,
            "{who}"
        );
    }
    assert_eq!(read_report(&app, &created.name).await, submitted);
}

#[tokio::test]
async fn the_token_that_submitted_a_report_cannot_accept_it() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "OWN-1").await;
    let (_, officer) = an_officer(&app).await;
    let (_, colleague) = an_officer(&app).await;
    let by_officer = report(&app, Some(&officer), &grantee.project.name, "2014-Q2").await;
    let by_admin = report(&app, app.admin(), &grantee.project.name, "2014-Q3").await;
    submit(&app, Some(&officer), &by_officer.name, "")
        .await
        .unwrap();
    submit(&app, app.admin(), &by_admin.name, "").await.unwrap();

    let own = accept(&app, Some(&officer), &by_officer.name, "").await;
    let own_admin = accept(&app, app.admin(), &by_admin.name, "").await;
    let unchanged = read_report(&app, &by_officer.name).await;
    let by_colleague = accept(&app, Some(&colleague), &by_officer.name, "").await;

    assert_eq!(
        reason(&expect_code(own, Code::FailedPrecondition)),
        "OUTCOME_REPORT_OWN_SUBMISSION"
    );
    assert_eq!(
        reason(&expect_code(own_admin, Code::FailedPrecondition)),
        "OUTCOME_REPORT_OWN_SUBMISSION"
    );
    assert_eq!(unchanged.state, State::Submitted as i32);
    assert_eq!(state_of(by_colleague), State::Accepted);
}

#[tokio::test]
async fn a_report_is_accepted_only_when_every_indicator_has_a_target_for_its_period() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "TARGETS-1").await;
    let project = grantee.project.name.clone();
    let third_quarter_only = app
        .indicator(
            &project,
            pb::Indicator {
                display_name: "Officials trained".into(),
                targets: vec![pb::IndicatorTarget {
                    fiscal_year: 2014,
                    period: "Q3".into(),
                    value: 50,
                }],
                ..new_indicator(0)
            },
        )
        .await;
    let untargeted = app
        .indicator(
            &project,
            pb::Indicator {
                display_name: "Victims referred".into(),
                unit: "victims".into(),
                outcome_kind: Kind::VictimsReferred as i32,
                ..new_indicator(0)
            },
        )
        .await;
    let second = report(&app, grantee.auth(), &project, "2014-Q2").await;
    let third = report(&app, grantee.auth(), &project, "2014-Q3").await;
    let final_report = report(&app, grantee.auth(), &project, "FINAL").await;
    for name in [&second.name, &third.name, &final_report.name] {
        submit(&app, grantee.auth(), name, "").await.unwrap();
    }
    let (_, officer) = an_officer(&app).await;
    let names = |status: &Status, indicator: &pb::Indicator| {
        status.message().contains(&indicator.name)
            || status.message().contains(&indicator.display_name)
    };

    let second_refused = expect_code(
        accept(&app, Some(&officer), &second.name, "").await,
        Code::FailedPrecondition,
    );
    let third_refused = expect_code(
        accept(&app, Some(&officer), &third.name, "").await,
        Code::FailedPrecondition,
    );
    let final_refused = expect_code(
        accept(&app, Some(&officer), &final_report.name, "").await,
        Code::FailedPrecondition,
    );
    app.projects(app.admin())
        .update_indicator(pb::UpdateIndicatorRequest {
            indicator: Some(pb::Indicator {
                name: untargeted.name.clone(),
                targets: vec![pb::IndicatorTarget {
                    fiscal_year: 2014,
                    period: String::new(),
                    value: 20,
                }],
                ..Default::default()
            }),
            update_mask: mask(&["targets"]),
        })
        .await
        .unwrap();
    let third_accepted = accept(&app, Some(&officer), &third.name, "").await;
    let final_accepted = accept(&app, Some(&officer), &final_report.name, "").await;
    let second_still_refused = expect_code(
        accept(&app, Some(&officer), &second.name, "").await,
        Code::FailedPrecondition,
    );

    for status in [
        &second_refused,
        &third_refused,
        &final_refused,
        &second_still_refused,
    ] {
        assert_eq!(reason(status), "INDICATOR_TARGET_MISSING", "{status:?}");
    }
    assert!(
        names(&second_refused, &third_quarter_only),
        "{second_refused:?}"
    );
    assert!(names(&second_refused, &untargeted), "{second_refused:?}");
    assert!(
        !names(&third_refused, &third_quarter_only),
        "{third_refused:?}"
    );
    assert!(names(&third_refused, &untargeted), "{third_refused:?}");
    assert!(names(&final_refused, &untargeted), "{final_refused:?}");
    assert_eq!(
        state_of(third_accepted),
        State::Accepted,
        "a whole-year target counts"
    );
    assert_eq!(
        state_of(final_accepted),
        State::Accepted,
        "any target counts for FINAL"
    );
    assert!(names(&second_still_refused, &third_quarter_only));
    assert!(!names(&second_still_refused, &untargeted));
    assert_eq!(
        read_report(&app, &second.name).await.state,
        State::Submitted as i32
    );
}

#[tokio::test]
async fn a_returned_report_carries_the_reason_and_is_edited_and_resubmitted() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "RETURN-1").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    let outcome = add(
        &app,
        grantee.auth(),
        &created.name,
        trained("HT", "2014-05-15", 40),
    )
    .await;
    submit(&app, grantee.auth(), &created.name, "")
        .await
        .unwrap();
    let (officer_name, officer) = an_officer(&app).await;

    let returned = send_back(
        &app,
        Some(&officer),
        &created.name,
        "Attach the training rosters",
        "",
    )
    .await
    .unwrap()
    .into_inner();
    let seen_by_grantee = app
        .outcome_reports(grantee.auth())
        .get_outcome_report(pb::GetOutcomeReportRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let edited = update_outcome(
        &app,
        grantee.auth(),
        pb::Outcome {
            name: outcome.name.clone(),
            evidence_uri: "https://evidence.example/rosters/q3.pdf".into(),
            ..Default::default()
        },
        &["evidence_uri"],
    )
    .await;
    let added = create_outcome(
        &app,
        grantee.auth(),
        &created.name,
        trained("HT", "2014-06-02", 5),
    )
    .await;
    let current = read_report(&app, &created.name).await;
    let narrative = update_narrative(
        &app,
        grantee.auth(),
        &current,
        "Rosters attached",
        &["narrative"],
    )
    .await;
    let resubmitted = submit(&app, grantee.auth(), &created.name, "")
        .await
        .unwrap()
        .into_inner();

    assert_eq!(returned.state, State::Returned as i32);
    assert_eq!(returned.reviewer_comments, "Attach the training rosters");
    assert_eq!(returned.reviewer, officer_name);
    assert!(returned.review_time.is_some());
    assert_eq!(seen_by_grantee.reviewer, "program office");
    assert_eq!(
        seen_by_grantee.reviewer_comments,
        "Attach the training rosters"
    );
    assert!(edited.is_ok(), "{edited:?}");
    assert!(added.is_ok(), "{added:?}");
    assert!(narrative.is_ok(), "{narrative:?}");
    assert_eq!(resubmitted.state, State::Submitted as i32);
    assert_eq!(resubmitted.outcome_count, 2);
    assert_eq!(resubmitted.narrative, "Rosters attached");
}

#[tokio::test]
async fn returning_a_report_needs_a_reason() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "RETURN-2").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    let submitted = submit(&app, grantee.auth(), &created.name, "")
        .await
        .unwrap()
        .into_inner();
    let (_, officer) = an_officer(&app).await;

    let empty = send_back(&app, Some(&officer), &created.name, "", "").await;
    let blank = send_back(&app, Some(&officer), &created.name, "   ", "").await;

    expect_invalid(empty, &["reason"]);
    expect_invalid(blank, &["reason"]);
    assert_eq!(read_report(&app, &created.name).await, submitted);
}

#[tokio::test]
async fn a_draft_can_be_neither_accepted_returned_nor_reopened() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "DRAFT-2").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;

    let accepted = accept(&app, app.admin(), &created.name, "").await;
    let returned = send_back(&app, app.admin(), &created.name, "Why", "").await;
    let reopened = reopen(&app, app.admin(), &created.name, "Why", "").await;

    for status in [
        expect_code(accepted, Code::FailedPrecondition),
        expect_code(returned, Code::FailedPrecondition),
        expect_code(reopened, Code::FailedPrecondition),
    ] {
        assert_eq!(
            reason(&status),
            "OUTCOME_REPORT_STATE_TRANSITION_NOT_ALLOWED"
        );
    }
    assert_eq!(read_report(&app, &created.name).await, created);
}

#[tokio::test]
async fn only_an_admin_reopens_an_accepted_report_with_a_reason_and_it_is_audited() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "REOPEN-1").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    let submitted_only = report(&app, grantee.auth(), &grantee.project.name, "2014-Q2").await;
    submit(&app, grantee.auth(), &submitted_only.name, "")
        .await
        .unwrap();
    let accepted = submit_and_accept(&app, &grantee, &created.name).await;
    let (_, officer) = an_officer(&app).await;
    let events = app.audit_events_of(&created.name).await.len();

    let by_officer = reopen(&app, Some(&officer), &created.name, "Figures wrong", "").await;
    let by_grantee = reopen(&app, grantee.auth(), &created.name, "Figures wrong", "").await;
    let without_reason = reopen(&app, app.admin(), &created.name, "", "").await;
    let not_accepted = reopen(&app, app.admin(), &submitted_only.name, "Figures wrong", "").await;
    let unchanged = read_report(&app, &created.name).await;
    let reopened = reopen(&app, app.admin(), &created.name, "Figures wrong", "")
        .await
        .unwrap()
        .into_inner();
    let audit = app.audit_events_of(&created.name).await;
    let editable =
        update_narrative(&app, grantee.auth(), &reopened, "Corrected", &["narrative"]).await;

    expect_code(by_officer, Code::PermissionDenied);
    expect_code(by_grantee, Code::PermissionDenied);
    expect_invalid(without_reason, &["reason"]);
    assert_eq!(
        reason(&expect_code(not_accepted, Code::FailedPrecondition)),
        "OUTCOME_REPORT_STATE_TRANSITION_NOT_ALLOWED"
    );
    assert_eq!(unchanged, accepted);
    assert_eq!(reopened.state, State::Returned as i32);
    assert_eq!(audit.len(), events + 1);
    let last = audit.last().unwrap();
    assert!(
        last.method.ends_with("/ReopenOutcomeReport"),
        "{}",
        last.method
    );
    assert_eq!(last.actor_role, pb::Role::Admin as i32);
    assert!(
        last.diff.as_ref().unwrap().fields.contains_key("state"),
        "{:?}",
        last.diff
    );
    assert!(
        format!("{:?}", last.diff).contains("Figures wrong"),
        "the reason is recorded: {:?}",
        last.diff
    );
    assert!(editable.is_ok(), "{editable:?}");
}

#[tokio::test]
async fn each_transition_writes_exactly_one_audit_event_and_retries_write_none() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "AUDIT-1").await;
    let (_, officer) = an_officer(&app).await;
    let created = create_report(
        &app,
        grantee.auth(),
        &grantee.project.name,
        "2014-Q3",
        "create-1",
    )
    .await
    .unwrap()
    .into_inner();
    let count = || async { app.audit_events_of(&created.name).await.len() };
    let mut counts = vec![count().await];

    for _ in 0..2 {
        submit(&app, grantee.auth(), &created.name, "submit-1")
            .await
            .unwrap();
        counts.push(count().await);
    }
    for _ in 0..2 {
        send_back(
            &app,
            Some(&officer),
            &created.name,
            "More detail",
            "return-1",
        )
        .await
        .unwrap();
        counts.push(count().await);
    }
    for _ in 0..2 {
        submit(&app, grantee.auth(), &created.name, "submit-2")
            .await
            .unwrap();
        counts.push(count().await);
    }
    for _ in 0..2 {
        accept(&app, Some(&officer), &created.name, "accept-1")
            .await
            .unwrap();
        counts.push(count().await);
    }
    for _ in 0..2 {
        reopen(&app, app.admin(), &created.name, "Recount", "reopen-1")
            .await
            .unwrap();
        counts.push(count().await);
    }
    let audit = app.audit_events_of(&created.name).await;

    assert_eq!(counts, vec![1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]);
    let methods: Vec<_> = audit
        .iter()
        .map(|event| {
            event
                .method
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(
        methods,
        vec![
            "CreateOutcomeReport",
            "SubmitOutcomeReport",
            "ReturnOutcomeReport",
            "SubmitOutcomeReport",
            "AcceptOutcomeReport",
            "ReopenOutcomeReport"
        ]
    );
    assert_eq!(audit[1].request_id, "submit-1");
}

// ---------------------------------------------------------------------------
// Milestones

#[tokio::test]
async fn two_grantees_reporting_the_same_law_in_one_country_report_one_milestone() {
    let app = spawn_app().await;
    let first = a_grantee(&app, "HAITI-1").await;
    let second = a_grantee(&app, "HAITI-2").await;
    let first_report = report(&app, first.auth(), &first.project.name, "2014-Q3").await;
    let second_report = report(&app, second.auth(), &second.project.name, "2014-Q3").await;
    let law = || milestone_outcome(Kind::LawEnacted, "HT", "2014-06-01");

    let first_outcome = add(&app, first.auth(), &first_report.name, law()).await;
    let second_outcome = add(
        &app,
        second.auth(),
        &second_report.name,
        pb::Outcome {
            description: "Haiti's Parliament passed the anti-trafficking law".into(),
            ..law()
        },
    )
    .await;
    let listed = milestones(&app, "country = HT").await;
    let read = app
        .outcome_reports(second.auth())
        .get_milestone(pb::GetMilestoneRequest {
            name: first_outcome.milestone.clone(),
        })
        .await
        .unwrap()
        .into_inner();

    assert!(
        first_outcome.milestone.starts_with("milestones/"),
        "{first_outcome:?}"
    );
    assert_eq!(second_outcome.milestone, first_outcome.milestone);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let milestone = &listed[0];
    assert_eq!(milestone.name, first_outcome.milestone);
    assert_eq!(milestone.kind, Kind::LawEnacted as i32);
    assert_eq!(
        (
            milestone.country_code.as_str(),
            milestone.milestone_date.as_str(),
            milestone.fiscal_year
        ),
        ("HT", "2014-06-01", 2014)
    );
    assert_eq!(milestone.description, first_outcome.description);
    assert_eq!(milestone.outcome_count, 2);
    assert!(!milestone.accepted);
    assert!(milestone.create_time.is_some());
    // The second grantee sees the milestone through its own outcome only: the first's is a draft.
    assert_eq!(
        read,
        pb::Milestone {
            description: second_outcome.description.clone(),
            outcome_count: 1,
            create_time: second_outcome.create_time,
            ..milestone.clone()
        }
    );
    // Once the first's report is accepted, its outcome is shared with every grantee that reports the law.
    submit_and_accept(&app, &first, &first_report.name).await;
    let after_acceptance = app
        .outcome_reports(second.auth())
        .get_milestone(pb::GetMilestoneRequest {
            name: first_outcome.milestone.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            after_acceptance.description.as_str(),
            after_acceptance.outcome_count,
            after_acceptance.accepted
        ),
        (first_outcome.description.as_str(), 2, true)
    );
}

#[tokio::test]
async fn a_milestone_counts_as_accepted_only_once_one_of_its_reports_is_accepted() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "ACCEPTED-1").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    let outcome = add(
        &app,
        grantee.auth(),
        &created.name,
        milestone_outcome(Kind::LawEnacted, "HT", "2014-06-01"),
    )
    .await;

    let in_draft = milestones(&app, "accepted = false").await;
    submit(&app, grantee.auth(), &created.name, "")
        .await
        .unwrap();
    let when_submitted = milestones(&app, "accepted = true").await;
    let (_, officer) = an_officer(&app).await;
    accept(&app, Some(&officer), &created.name, "")
        .await
        .unwrap();
    let when_accepted = milestones(&app, "accepted = true").await;
    let not_accepted = milestones(&app, "accepted = false").await;

    assert_eq!(
        in_draft.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        vec![outcome.milestone.as_str()]
    );
    assert!(when_submitted.is_empty(), "{when_submitted:?}");
    assert_eq!(when_accepted.len(), 1);
    assert_eq!(when_accepted[0].name, outcome.milestone);
    assert!(when_accepted[0].accepted);
    assert!(not_accepted.is_empty(), "{not_accepted:?}");
}

#[tokio::test]
async fn only_milestone_kinds_with_a_country_and_a_date_link_to_a_milestone() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "KINDS-1").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    let on = |kind: Kind, date: &str| milestone_outcome(kind, "HT", date);
    let mut linked = Vec::new();
    for outcome in [
        on(Kind::LawEnacted, "2014-06-01"),
        on(Kind::LawEnacted, "2014-06-02"),
        on(Kind::LawDrafted, "2014-06-01"),
        on(Kind::ReferralMechanismEstablished, "2014-06-01"),
        on(Kind::GovernmentCommitment, "2014-06-01"),
        pb::Outcome {
            first_for_country: true,
            ..on(Kind::ConvictionSecured, "2014-06-01")
        },
    ] {
        linked.push(
            add(&app, grantee.auth(), &created.name, outcome)
                .await
                .milestone,
        );
    }
    let trained = add(
        &app,
        grantee.auth(),
        &created.name,
        trained("HT", "2014-06-01", 9),
    )
    .await;
    let conviction = add(
        &app,
        grantee.auth(),
        &created.name,
        on(Kind::ConvictionSecured, "2014-06-01"),
    )
    .await;
    let undated = add(
        &app,
        grantee.auth(),
        &created.name,
        pb::Outcome {
            outcome_date: String::new(),
            ..on(Kind::LawEnacted, "2014-06-01")
        },
    )
    .await;
    let dated = update_outcome(
        &app,
        grantee.auth(),
        pb::Outcome {
            name: undated.name.clone(),
            outcome_date: "2014-06-01".into(),
            ..Default::default()
        },
        &["outcome_date"],
    )
    .await
    .unwrap()
    .into_inner();
    let listed = milestones(&app, "").await;

    assert!(
        linked.iter().all(|name| name.starts_with("milestones/")),
        "{linked:?}"
    );
    let mut distinct = linked.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        6,
        "each (country, kind, date) is its own milestone: {linked:?}"
    );
    assert_eq!(trained.milestone, "");
    assert_eq!(
        conviction.milestone, "",
        "only a first conviction is a milestone"
    );
    assert_eq!(undated.milestone, "", "no date, no milestone yet");
    assert_eq!(dated.milestone, linked[0], "the same law on the same day");
    assert_eq!(listed.len(), 6);
}

#[tokio::test]
async fn milestones_filter_by_country_kind_and_fiscal_year() {
    let app = spawn_app().await;
    let grantee = grantee_with(
        &app,
        "FILTERS-1",
        Terms {
            project_period: ("2014-07-01", "2014-12-31"),
            countries: &["HT", "DO"],
            ..Terms::default()
        },
    )
    .await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "FINAL").await;
    let enacted = add(
        &app,
        grantee.auth(),
        &created.name,
        milestone_outcome(Kind::LawEnacted, "HT", "2014-09-30"),
    )
    .await;
    let drafted = add(
        &app,
        grantee.auth(),
        &created.name,
        milestone_outcome(Kind::LawDrafted, "HT", "2014-10-01"),
    )
    .await;
    let committed = add(
        &app,
        grantee.auth(),
        &created.name,
        milestone_outcome(Kind::GovernmentCommitment, "DO", "2014-10-01"),
    )
    .await;
    let names = |found: Vec<pb::Milestone>| {
        let mut names: Vec<String> = found.into_iter().map(|m| m.name).collect();
        names.sort();
        names
    };

    assert_eq!(
        names(milestones(&app, "country = HT").await),
        sorted(&[&enacted.milestone, &drafted.milestone])
    );
    assert_eq!(
        names(milestones(&app, "kind = LAW_DRAFTED").await),
        sorted(&[&drafted.milestone])
    );
    assert_eq!(
        names(milestones(&app, "fiscal_year = 2015").await),
        sorted(&[&drafted.milestone, &committed.milestone])
    );
    assert_eq!(
        names(milestones(&app, "fiscal_year = 2014").await),
        sorted(&[&enacted.milestone])
    );
    assert_eq!(
        names(milestones(&app, "country = DO AND kind = GOVERNMENT_COMMITMENT").await),
        sorted(&[&committed.milestone])
    );
    assert!(milestones(&app, "country = PE").await.is_empty());
}

#[tokio::test]
async fn a_client_may_name_an_existing_milestone_of_the_same_country_and_kind_only() {
    let app = spawn_app().await;
    let grantee = grantee_with(
        &app,
        "NAMED-1",
        Terms {
            countries: &["HT", "DO"],
            ..Terms::default()
        },
    )
    .await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    let first = add(
        &app,
        grantee.auth(),
        &created.name,
        milestone_outcome(Kind::LawEnacted, "HT", "2014-06-01"),
    )
    .await;
    let naming = |kind: Kind, country: &str, milestone: &str| pb::Outcome {
        milestone: milestone.into(),
        ..milestone_outcome(kind, country, "2014-06-20")
    };

    let same = add(
        &app,
        grantee.auth(),
        &created.name,
        naming(Kind::LawEnacted, "HT", &first.milestone),
    )
    .await;
    let other_kind = create_outcome(
        &app,
        grantee.auth(),
        &created.name,
        naming(Kind::LawDrafted, "HT", &first.milestone),
    )
    .await;
    let other_country = create_outcome(
        &app,
        grantee.auth(),
        &created.name,
        naming(Kind::LawEnacted, "DO", &first.milestone),
    )
    .await;
    let missing = create_outcome(
        &app,
        grantee.auth(),
        &created.name,
        naming(Kind::LawEnacted, "HT", "milestones/missing"),
    )
    .await;
    let listed = milestones(&app, "").await;

    assert_eq!(same.milestone, first.milestone);
    expect_invalid(other_kind, &["outcome.milestone"]);
    expect_invalid(other_country, &["outcome.milestone"]);
    expect_invalid(missing, &["outcome.milestone"]);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].outcome_count, 2);
    assert_eq!(outcomes_of(&app, &created.name, true).await.len(), 2);
}

// ---------------------------------------------------------------------------
// Uploads

#[tokio::test]
async fn a_grantee_uploads_fifteen_hundred_outcomes_in_one_stream() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "UPLOAD-1").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    let mut outcomes = vec![milestone_outcome(Kind::LawEnacted, "HT", "2014-06-01")];
    outcomes.extend(many_trained(1_499));
    let quantities: Vec<i64> = outcomes.iter().map(|o| o.quantity).collect();

    let response = upload(&app, grantee.auth(), &created.name, "upload-1", outcomes)
        .await
        .unwrap()
        .into_inner();
    let read = read_report(&app, &created.name).await;
    let listed = outcomes_of(&app, &created.name, false).await;
    let law = milestones(&app, "kind = LAW_ENACTED").await;

    assert_eq!(response.outcome_report, created.name);
    assert_eq!(response.outcome_count, 1_500);
    assert_eq!(read.outcome_count, 1_500);
    assert_eq!(listed.len(), 1_500);
    assert_eq!(
        listed.iter().map(|o| o.quantity).collect::<Vec<_>>(),
        quantities,
        "listed oldest first, in the order uploaded"
    );
    assert!(
        listed[1..]
            .iter()
            .all(|o| o.fiscal_year == 2014 && o.milestone.is_empty())
    );
    assert_eq!(law.len(), 1);
    assert_eq!(response.milestones, vec![law[0].name.clone()]);
    assert_eq!(listed[0].milestone, law[0].name);
}

#[tokio::test]
async fn an_upload_with_one_bad_item_writes_nothing_and_names_its_position_and_field() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "UPLOAD-2").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    let before = read_report(&app, &created.name).await;
    let spoiled = |position: usize, bad: pb::Outcome| {
        let mut outcomes = many_trained(1_500);
        outcomes[position] = bad;
        outcomes
    };
    let cases = [
        (
            spoiled(1_234, trained("LR", "2014-05-15", 3)),
            "outcomes[1234].country_code",
        ),
        (
            spoiled(
                0,
                pb::Outcome {
                    kind: 0,
                    ..trained("HT", "2014-05-15", 3)
                },
            ),
            "outcomes[0].kind",
        ),
        (
            spoiled(1_499, trained("HT", "2014-07-01", 3)),
            "outcomes[1499].outcome_date",
        ),
        (
            spoiled(
                700,
                pb::Outcome {
                    quantity: -5,
                    officials_trained: None,
                    ..trained("HT", "2014-05-15", 3)
                },
            ),
            "outcomes[700].quantity",
        ),
        (
            spoiled(
                3,
                pb::Outcome {
                    officials_trained: Some(pb::OfficialsTrained {
                        judges: 4,
                        ..Default::default()
                    }),
                    ..trained("HT", "2014-05-15", 3)
                },
            ),
            "outcomes[3].officials_trained",
        ),
    ];

    let mut failures = Vec::new();
    for (outcomes, field) in cases {
        let result = upload(&app, grantee.auth(), &created.name, "", outcomes).await;
        let (code, fields) = refusal(result);
        if (code, fields.as_slice()) != (Code::InvalidArgument, &[field.to_string()][..]) {
            failures.push(format!("{code:?} naming {fields:?}, expected {field}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    assert!(outcomes_of(&app, &created.name, true).await.is_empty());
    assert_eq!(read_report(&app, &created.name).await, before);
    assert!(milestones(&app, "").await.is_empty());
}

#[tokio::test]
async fn an_upload_starts_with_exactly_one_header() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "UPLOAD-3").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    let outcome = || item(trained("HT", "2014-05-15", 3));

    let headless = upload_messages(&app, grantee.auth(), vec![outcome(), outcome()]).await;
    let two_headers = upload_messages(
        &app,
        grantee.auth(),
        vec![header(&created.name, ""), header(&created.name, "")],
    )
    .await;
    let late_header = upload_messages(
        &app,
        grantee.auth(),
        vec![
            header(&created.name, ""),
            outcome(),
            header(&created.name, ""),
            outcome(),
        ],
    )
    .await;
    let empty_item = upload_messages(
        &app,
        grantee.auth(),
        vec![pb::UploadOutcomesRequest { item: None }, outcome()],
    )
    .await;

    expect_invalid(headless, &["header"]);
    expect_invalid(two_headers, &["header"]);
    expect_invalid(late_header, &["header"]);
    expect_invalid(empty_item, &["header"]);
    assert!(outcomes_of(&app, &created.name, true).await.is_empty());
}

#[tokio::test]
async fn retrying_an_upload_with_the_same_request_id_answers_the_first_result_and_adds_nothing() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "UPLOAD-4").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;

    let first = upload(
        &app,
        grantee.auth(),
        &created.name,
        "upload-once",
        many_trained(20),
    )
    .await
    .unwrap()
    .into_inner();
    let retry = upload(
        &app,
        grantee.auth(),
        &created.name,
        "upload-once",
        many_trained(20),
    )
    .await
    .unwrap()
    .into_inner();
    let another = upload(
        &app,
        grantee.auth(),
        &created.name,
        "upload-twice",
        many_trained(5),
    )
    .await
    .unwrap()
    .into_inner();

    assert_eq!(first.outcome_count, 20);
    assert_eq!(retry, first);
    assert_eq!(another.outcome_count, 5);
    assert_eq!(outcomes_of(&app, &created.name, true).await.len(), 25);
    assert_eq!(read_report(&app, &created.name).await.outcome_count, 25);
}

// ---------------------------------------------------------------------------
// Indicator progress

#[tokio::test]
async fn indicator_progress_counts_only_outcomes_of_accepted_reports_by_quarter() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "PROGRESS-1").await;
    let project = grantee.project.name.clone();
    let target = |period: &str, value: i64| pb::IndicatorTarget {
        fiscal_year: 2014,
        period: period.into(),
        value,
    };
    let indicator = app
        .indicator(
            &project,
            pb::Indicator {
                baseline: 10,
                targets: vec![target("Q2", 100), target("Q3", 50)],
                ..new_indicator(0)
            },
        )
        .await;
    let toward = |quantity: i64, date: &str| pb::Outcome {
        indicator: indicator.name.clone(),
        ..trained("HT", date, quantity)
    };
    let accepted = report(&app, grantee.auth(), &project, "2014-Q3").await;
    add(
        &app,
        grantee.auth(),
        &accepted.name,
        toward(40, "2014-05-15"),
    )
    .await;
    add(
        &app,
        grantee.auth(),
        &accepted.name,
        toward(20, "2014-06-15"),
    )
    .await;
    add(
        &app,
        grantee.auth(),
        &accepted.name,
        trained("HT", "2014-05-20", 7),
    )
    .await;
    let submitted = report(&app, grantee.auth(), &project, "2014-Q2").await;
    add(
        &app,
        grantee.auth(),
        &submitted.name,
        toward(30, "2014-02-15"),
    )
    .await;
    submit(&app, grantee.auth(), &submitted.name, "")
        .await
        .unwrap();
    let draft = report(&app, grantee.auth(), &project, "FINAL").await;
    add(&app, grantee.auth(), &draft.name, toward(99, "2014-02-15")).await;
    submit_and_accept(&app, &grantee, &accepted.name).await;

    let progress = app
        .outcome_reports(grantee.auth())
        .get_indicator_progress(pb::GetIndicatorProgressRequest {
            indicator: indicator.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(progress.indicator, indicator.name);
    assert_eq!(progress.outcome_kind, Kind::OfficialsTrained as i32);
    assert_eq!(progress.baseline, 10);
    assert_eq!(
        progress
            .periods
            .iter()
            .map(|p| (p.fiscal_year, p.period.as_str(), p.target, p.actual))
            .collect::<Vec<_>>(),
        vec![(2014, "Q2", 100, 0), (2014, "Q3", 50, 60)]
    );
    assert_eq!(progress.total_actual, 60);
    assert_eq!(progress.total_target, 150);
}

#[tokio::test]
async fn indicator_progress_of_an_annual_grant_counts_whole_fiscal_years() {
    let app = spawn_app().await;
    let grantee = grantee_with(
        &app,
        "PROGRESS-2",
        Terms {
            cadence: pb::ReportingCadence::Annual,
            project_period: ("2014-01-15", "2015-06-30"),
            ..Terms::default()
        },
    )
    .await;
    let project = grantee.project.name.clone();
    let indicator = app
        .indicator(
            &project,
            pb::Indicator {
                targets: vec![
                    pb::IndicatorTarget {
                        fiscal_year: 2014,
                        period: String::new(),
                        value: 100,
                    },
                    pb::IndicatorTarget {
                        fiscal_year: 2015,
                        period: String::new(),
                        value: 200,
                    },
                ],
                ..new_indicator(0)
            },
        )
        .await;
    let first_year = report(&app, grantee.auth(), &project, "2014").await;
    add(
        &app,
        grantee.auth(),
        &first_year.name,
        pb::Outcome {
            indicator: indicator.name.clone(),
            ..trained("HT", "2014-08-01", 70)
        },
    )
    .await;
    submit_and_accept(&app, &grantee, &first_year.name).await;

    let progress = app
        .outcome_reports(app.admin())
        .get_indicator_progress(pb::GetIndicatorProgressRequest {
            indicator: indicator.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(
        progress
            .periods
            .iter()
            .map(|p| (p.fiscal_year, p.period.as_str(), p.target, p.actual))
            .collect::<Vec<_>>(),
        vec![(2014, "", 100, 70), (2015, "", 200, 0)]
    );
    assert_eq!((progress.total_actual, progress.total_target), (70, 300));
}

// ---------------------------------------------------------------------------
// Who may do what

#[tokio::test]
async fn a_grantee_neither_sees_nor_writes_another_organisations_reports() {
    let app = spawn_app().await;
    let mine = a_grantee(&app, "MINE-1").await;
    let theirs = a_grantee(&app, "THEIRS-1").await;
    let my_report = report(&app, mine.auth(), &mine.project.name, "2014-Q3").await;
    let their_report = report(&app, theirs.auth(), &theirs.project.name, "2014-Q3").await;
    let their_outcome = add(
        &app,
        theirs.auth(),
        &their_report.name,
        trained("HT", "2014-05-15", 4),
    )
    .await;
    let their_indicator = app.indicator(&theirs.project.name, new_indicator(10)).await;
    // Adding the outcome moved the report's etag and count: this is how it stands now.
    let their_report = read_report(&app, &their_report.name).await;
    let me = mine.auth();
    let client = || app.outcome_reports(me);
    // Each call on their record, then the same call on a record of the same shape that does not exist.
    let report_name = their_report.name.clone();
    let missing_report = missing_sibling(&report_name);
    let outcome_name = their_outcome.name.clone();
    let missing_outcome = missing_sibling(&outcome_name);
    let project_name = theirs.project.name.clone();
    let missing_project = missing_sibling(&project_name);
    let indicator_name = their_indicator.name.clone();
    let missing_indicator = missing_sibling(&indicator_name);
    let mut answers: Vec<(&str, Reply, Reply)> = Vec::new();
    let get = |name: String| async move {
        answer(
            client()
                .get_outcome_report(pb::GetOutcomeReportRequest { name })
                .await,
        )
    };
    answers.push((
        "GetOutcomeReport",
        get(report_name.clone()).await,
        get(missing_report.clone()).await,
    ));
    let update = |name: &str| pb::OutcomeReport {
        name: name.into(),
        ..their_report.clone()
    };
    answers.push((
        "UpdateOutcomeReport",
        answer(update_narrative(&app, me, &update(&report_name), "Mine now", &["narrative"]).await),
        answer(
            update_narrative(
                &app,
                me,
                &update(&missing_report),
                "Mine now",
                &["narrative"],
            )
            .await,
        ),
    ));
    answers.push((
        "SubmitOutcomeReport",
        answer(submit(&app, me, &report_name, "").await),
        answer(submit(&app, me, &missing_report, "").await),
    ));
    answers.push((
        "CreateOutcome",
        answer(create_outcome(&app, me, &report_name, trained("HT", "2014-05-15", 1)).await),
        answer(create_outcome(&app, me, &missing_report, trained("HT", "2014-05-15", 1)).await),
    ));
    answers.push((
        "UploadOutcomes",
        answer(upload(&app, me, &report_name, "", many_trained(2)).await),
        answer(upload(&app, me, &missing_report, "", many_trained(2)).await),
    ));
    let list_outcomes = |parent: String| async move {
        answer(
            client()
                .list_outcomes(pb::ListOutcomesRequest {
                    parent,
                    ..Default::default()
                })
                .await,
        )
    };
    answers.push((
        "ListOutcomes",
        list_outcomes(report_name.clone()).await,
        list_outcomes(missing_report.clone()).await,
    ));
    let get_outcome = |name: String| async move {
        answer(client().get_outcome(pb::GetOutcomeRequest { name }).await)
    };
    answers.push((
        "GetOutcome",
        get_outcome(outcome_name.clone()).await,
        get_outcome(missing_outcome.clone()).await,
    ));
    let change = |name: &str| pb::Outcome {
        name: name.into(),
        quantity: 1,
        ..Default::default()
    };
    answers.push((
        "UpdateOutcome",
        answer(update_outcome(&app, me, change(&outcome_name), &["quantity"]).await),
        answer(update_outcome(&app, me, change(&missing_outcome), &["quantity"]).await),
    ));
    answers.push((
        "DeleteOutcome",
        answer(delete_outcome(&app, me, &outcome_name).await),
        answer(delete_outcome(&app, me, &missing_outcome).await),
    ));
    answers.push((
        "CreateOutcomeReport",
        answer(create_report(&app, me, &project_name, "2014-Q2", "").await),
        answer(create_report(&app, me, &missing_project, "2014-Q2", "").await),
    ));
    let periods = |parent: String| async move {
        answer(
            client()
                .list_reporting_periods(pb::ListReportingPeriodsRequest {
                    parent,
                    ..Default::default()
                })
                .await,
        )
    };
    answers.push((
        "ListReportingPeriods",
        periods(project_name.clone()).await,
        periods(missing_project.clone()).await,
    ));
    let reports = |parent: String| async move {
        answer(
            client()
                .list_outcome_reports(pb::ListOutcomeReportsRequest {
                    parent,
                    ..Default::default()
                })
                .await,
        )
    };
    answers.push((
        "ListOutcomeReports",
        reports(project_name.clone()).await,
        reports(missing_project.clone()).await,
    ));
    let progress = |indicator: String| async move {
        answer(
            client()
                .get_indicator_progress(pb::GetIndicatorProgressRequest { indicator })
                .await,
        )
    };
    answers.push((
        "GetIndicatorProgress",
        progress(indicator_name.clone()).await,
        progress(missing_indicator.clone()).await,
    ));
    let all_reports = reports_listed(&app, me, "grants/-/projects/-", "").await;
    let all_periods = periods_of(&app, me, "grants/-/projects/-", "").await;

    // A message names what was asked for: compare the two with that name taken out.
    let mut failures = Vec::new();
    for (what, foreign, missing) in &answers {
        let (asked, asked_missing) = match *what {
            "GetOutcome" | "UpdateOutcome" | "DeleteOutcome" => (&outcome_name, &missing_outcome),
            "CreateOutcomeReport" | "ListReportingPeriods" | "ListOutcomeReports" => {
                (&project_name, &missing_project)
            }
            "GetIndicatorProgress" => (&indicator_name, &missing_indicator),
            _ => (&report_name, &missing_report),
        };
        let same = foreign.0 == missing.0
            && foreign.1.replace(asked.as_str(), "{name}")
                == missing.1.replace(asked_missing.as_str(), "{name}");
        if foreign.0 != Code::NotFound || !same {
            failures.push(format!(
                "{what}: their record answers {foreign:?}, a missing one {missing:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "not NOT_FOUND exactly like a missing record:\n{}",
        failures.join("\n")
    );
    assert_eq!(all_reports, vec![my_report.name]);
    assert!(all_periods.iter().all(|p| p.project == mine.project.name));
    assert_eq!(all_periods.len(), 3);
    assert_eq!(read_report(&app, &their_report.name).await, their_report);
    assert_eq!(
        outcomes_of(&app, &their_report.name, true).await,
        vec![their_outcome]
    );
}

#[tokio::test]
async fn an_auditor_reads_every_report_but_writes_none() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "AUDITED-1").await;
    let created = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    let outcome = add(
        &app,
        grantee.auth(),
        &created.name,
        milestone_outcome(Kind::LawEnacted, "HT", "2014-06-01"),
    )
    .await;
    let auditor = app.token(pb::Role::Auditor, "").await;
    let mut client = app.outcome_reports(Some(&auditor));

    let read = client
        .get_outcome_report(pb::GetOutcomeReportRequest {
            name: created.name.clone(),
        })
        .await;
    let outcomes = client
        .list_outcomes(pb::ListOutcomesRequest {
            parent: created.name.clone(),
            ..Default::default()
        })
        .await;
    let milestone = client
        .get_milestone(pb::GetMilestoneRequest {
            name: outcome.milestone.clone(),
        })
        .await;
    let periods = periods_of(&app, Some(&auditor), "grants/-/projects/-", "").await;
    let create = create_report(&app, Some(&auditor), &grantee.project.name, "2014-Q2", "").await;
    let added = create_outcome(
        &app,
        Some(&auditor),
        &created.name,
        trained("HT", "2014-05-15", 1),
    )
    .await;
    let uploaded = upload(&app, Some(&auditor), &created.name, "", many_trained(1)).await;

    assert!(read.is_ok(), "{read:?}");
    assert_eq!(outcomes.unwrap().into_inner().outcomes, vec![outcome]);
    assert!(milestone.is_ok(), "{milestone:?}");
    assert_eq!(periods.len(), 3);
    expect_code(create, Code::PermissionDenied);
    expect_code(added, Code::PermissionDenied);
    expect_code(uploaded, Code::PermissionDenied);
}

/// Who may call each RPC of the service (the server's table is in `src/api/permissions.rs`).
const ROLES: &[(&str, &[&str])] = &[
    (
        "ListReportingPeriods",
        &["ADMIN", "PROGRAM_OFFICER", "AUDITOR", "GRANTEE"],
    ),
    (
        "CreateOutcomeReport",
        &["ADMIN", "PROGRAM_OFFICER", "GRANTEE"],
    ),
    (
        "GetOutcomeReport",
        &["ADMIN", "PROGRAM_OFFICER", "AUDITOR", "GRANTEE"],
    ),
    (
        "ListOutcomeReports",
        &["ADMIN", "PROGRAM_OFFICER", "AUDITOR", "GRANTEE"],
    ),
    (
        "UpdateOutcomeReport",
        &["ADMIN", "PROGRAM_OFFICER", "GRANTEE"],
    ),
    (
        "SubmitOutcomeReport",
        &["ADMIN", "PROGRAM_OFFICER", "GRANTEE"],
    ),
    ("AcceptOutcomeReport", &["ADMIN", "PROGRAM_OFFICER"]),
    ("ReturnOutcomeReport", &["ADMIN", "PROGRAM_OFFICER"]),
    ("ReopenOutcomeReport", &["ADMIN"]),
    ("CreateOutcome", &["ADMIN", "PROGRAM_OFFICER", "GRANTEE"]),
    (
        "GetOutcome",
        &["ADMIN", "PROGRAM_OFFICER", "AUDITOR", "GRANTEE"],
    ),
    (
        "ListOutcomes",
        &["ADMIN", "PROGRAM_OFFICER", "AUDITOR", "GRANTEE"],
    ),
    ("UpdateOutcome", &["ADMIN", "PROGRAM_OFFICER", "GRANTEE"]),
    ("DeleteOutcome", &["ADMIN", "PROGRAM_OFFICER", "GRANTEE"]),
    ("UploadOutcomes", &["ADMIN", "PROGRAM_OFFICER", "GRANTEE"]),
    (
        "ListMilestones",
        &["ADMIN", "PROGRAM_OFFICER", "AUDITOR", "GRANTEE"],
    ),
    (
        "GetMilestone",
        &["ADMIN", "PROGRAM_OFFICER", "AUDITOR", "GRANTEE"],
    ),
    (
        "GetIndicatorProgress",
        &["ADMIN", "PROGRAM_OFFICER", "AUDITOR", "GRANTEE"],
    ),
];

/// Calls `/tipgrants.v1.OutcomeReportService/{rpc}` with one empty message; returns the code.
async fn call_empty(app: &TestApp, rpc: &str, token: &str) -> Code {
    let mut grpc = tonic::client::Grpc::new(app.channel());
    grpc.ready().await.expect("channel ready");
    let mut request = tonic::Request::new(());
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii"),
    );
    let path =
        http::uri::PathAndQuery::try_from(format!("/tipgrants.v1.OutcomeReportService/{rpc}"))
            .expect("path");
    let codec: tonic_prost::ProstCodec<(), ()> = tonic_prost::ProstCodec::default();
    match grpc.unary(request, path, codec).await {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

#[tokio::test]
async fn each_role_calls_exactly_the_outcome_report_rpcs_it_is_granted_and_case_workers_none() {
    let app = spawn_app().await;
    let organization = app.organization("Roles NGO", "HT").await;
    let mut tokens = vec![("ADMIN", app.admin_token.clone())];
    for (code, role) in [
        ("PROGRAM_OFFICER", pb::Role::ProgramOfficer),
        ("CASE_WORKER", pb::Role::CaseWorker),
        ("AUDITOR", pb::Role::Auditor),
    ] {
        tokens.push((code, app.token(role, "").await));
    }
    tokens.push((
        "GRANTEE",
        app.token(pb::Role::Grantee, &organization.name).await,
    ));

    let mut failures = Vec::new();
    for (rpc, allowed) in ROLES {
        for (role, token) in &tokens {
            let code = call_empty(&app, rpc, token).await;
            let ok = if allowed.contains(role) {
                !matches!(
                    code,
                    Code::PermissionDenied
                        | Code::Unauthenticated
                        | Code::Unimplemented
                        | Code::Internal
                )
            } else {
                code == Code::PermissionDenied
            };
            if !ok {
                failures.push(format!("{rpc} as {role}: {code:?}"));
            }
        }
    }

    assert!(
        failures.is_empty(),
        "permission failures:\n{}",
        failures.join("\n")
    );
}
