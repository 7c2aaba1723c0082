//! `tipgrants.v1.OutcomeReportService`: grantees report what their projects
//! achieved, program officers review, milestones count once.

use tonic::{Request, Response, Status, Streaming};

use super::paging;
use super::{
    ProtoEnum, StateChange, accept_delete, accept_list, accept_name, accept_update, accept_write,
    call_context, etag, filter_code, filter_number, required, timestamp,
};
use crate::domain::access::Actor;
use crate::domain::milestone::{self, Milestone};
use crate::domain::names::{
    GrantName, IndicatorName, MilestoneName, OrganizationName, OutcomeName, OutcomeReportName,
    ProjectName, ResourceName, excerpt, parse_parent,
};
use crate::domain::outcome::{
    self, Actual, OfficialsTrained, Outcome, OutcomeContext, OutcomeFields, OutcomeInput,
    OutcomeReport, OutcomeReportState, ReportingRules, ReportingStatus, Victims,
};
use crate::domain::outcome_report::{self, ReportFacts, ReportTransition};
use crate::domain::project::{OutcomeKind, Project};
use crate::domain::{validate, version};
use crate::error::{Error, Result};
use crate::pb::v1 as pb;
use crate::pb::v1::outcome_report_service_server::OutcomeReportService;
use crate::settings::UploadsSettings;
use crate::store::outcomes::{MilestoneFilter, OutcomeFilter, ReportFilter, ScheduleFilter};
use crate::store::{CallContext, Store, Tx, now};

use super::upload_limits::Uploads;

/// Serves outcome reports, outcomes and milestones.
pub struct OutcomeReportApi {
    pub(super) store: Store,
    rules: ReportingRules,
    /// The limits and slots of `UploadOutcomes` (`outcome_upload`).
    pub(super) uploads: Uploads,
}

impl OutcomeReportApi {
    pub fn new(store: Store, rules: ReportingRules, uploads: &UploadsSettings) -> Self {
        Self {
            store,
            rules,
            uploads: Uploads::new(uploads),
        }
    }
}

code_enum! {
    /// The fields of a report an update may change (the paths of its mask).
    pub enum ReportField {
        Narrative => "narrative",
    }
}

code_enum! {
    /// The fields of an outcome an update may change (the paths of its mask).
    pub enum OutcomeField {
        Kind => "kind",
        CountryCode => "country_code",
        OutcomeDate => "outcome_date",
        Quantity => "quantity",
        OfficialsTrained => "officials_trained",
        Victims => "victims",
        FirstForCountry => "first_for_country",
        Description => "description",
        EvidenceUri => "evidence_uri",
        Indicator => "indicator",
        Milestone => "milestone",
    }
}

code_enum! {
    /// The fields a filter of reporting periods may name.
    pub enum ScheduleFilterField {
        Status => "status",
        Grant => "grant",
        ProgramOfficer => "program_officer",
        Country => "country",
    }
}

code_enum! {
    /// The fields a filter of outcome reports may name.
    pub enum ReportFilterField {
        State => "state",
        Period => "period",
        FiscalYear => "fiscal_year",
        Grantee => "grantee",
        ProgramOfficer => "program_officer",
    }
}

code_enum! {
    /// The fields a filter of outcomes may name.
    pub enum OutcomeFilterField {
        Kind => "kind",
        Country => "country",
    }
}

code_enum! {
    /// The fields a filter of milestones may name.
    pub enum MilestoneFilterField {
        Country => "country",
        Kind => "kind",
        FiscalYear => "fiscal_year",
        Accepted => "accepted",
    }
}

named_requests!(
    pb::GetOutcomeReportRequest,
    pb::GetOutcomeRequest,
    pb::GetMilestoneRequest;
    with etag: pb::DeleteOutcomeRequest
);
write_requests!(pb::CreateOutcomeReportRequest, pb::CreateOutcomeRequest,);
list_requests!(
    pb::ListReportingPeriodsRequest,
    pb::ListOutcomeReportsRequest,
    pb::ListOutcomesRequest,
    pb::ListMilestonesRequest,
);
list_responses!(
    pb::ListOutcomeReportsResponse => outcome_reports: pb::OutcomeReport,
    pb::ListOutcomesResponse => outcomes: pb::Outcome,
    pb::ListMilestonesResponse => milestones: pb::Milestone,
);
update_requests!(
    pb::UpdateOutcomeReportRequest => outcome_report: pb::OutcomeReport [OutcomeReportName, ReportField],
    pb::UpdateOutcomeRequest => outcome: pb::Outcome [OutcomeName, OutcomeField],
);

state_change_requests!(
    pb::SubmitOutcomeReportRequest,
    pb::AcceptOutcomeReportRequest;
    with reason: pb::ReturnOutcomeReportRequest,
    pb::ReopenOutcomeReportRequest
);

/// The proto form of a report, as `viewer` may see it.
fn report_to_proto(
    report: &OutcomeReport,
    rules: &ReportingRules,
    viewer: &Actor,
) -> pb::OutcomeReport {
    pb::OutcomeReport {
        name: report.resource_name(),
        period: report.period.clone(),
        period_start_date: report.period_start_date.to_string(),
        period_end_date: report.period_end_date.to_string(),
        due_date: report.due_date_under(rules).to_string(),
        state: report.state.to_proto(),
        narrative: report.narrative.clone(),
        reviewer_comments: report.reviewer_comments.clone(),
        submitter: report.submitter.clone(),
        submit_time: report.submit_time.map(timestamp),
        reviewer: viewer.sees_actor(&report.reviewer),
        review_time: report.review_time.map(timestamp),
        outcome_count: report.outcome_count,
        create_time: Some(timestamp(report.stamps.create_time)),
        update_time: Some(timestamp(report.stamps.update_time)),
        etag: etag(report.stamps.revision),
    }
}

/// The proto of an outcome (also of each row of an export).
pub(super) fn outcome_to_proto(outcome: &Outcome) -> pb::Outcome {
    let fields = &outcome.fields;
    let officials = fields.breakdown.officials_trained;
    let victims = fields.breakdown.victims;
    pb::Outcome {
        name: outcome.resource_name(),
        kind: fields.kind.to_proto(),
        country_code: fields.country_code.clone(),
        outcome_date: fields
            .outcome_date
            .map(|date| date.to_string())
            .unwrap_or_default(),
        fiscal_year: outcome.fiscal_year.unwrap_or_default(),
        quantity: fields.quantity,
        officials_trained: Some(pb::OfficialsTrained {
            police: officials.police,
            prosecutors: officials.prosecutors,
            judges: officials.judges,
            labour_inspectors: officials.labour_inspectors,
            social_workers: officials.social_workers,
            other: officials.other,
        }),
        victims: Some(pb::VictimBreakdown {
            female: victims.female,
            male: victims.male,
            other_sex: victims.other_sex,
            children: victims.children,
            adults: victims.adults,
        }),
        first_for_country: fields.first_for_country,
        description: fields.description.clone(),
        evidence_uri: fields.evidence_uri.clone(),
        indicator: match fields.indicator_id.as_str() {
            "" => String::new(),
            id => IndicatorName::new(&outcome.grant_id, &outcome.project_id, id).to_string(),
        },
        milestone: fields
            .milestone_id
            .as_ref()
            .map(|id| MilestoneName::new(id).to_string())
            .unwrap_or_default(),
        create_time: Some(timestamp(outcome.stamps.create_time)),
        update_time: Some(timestamp(outcome.stamps.update_time)),
        delete_time: outcome.delete_time.map(timestamp),
        etag: etag(outcome.stamps.revision),
    }
}

fn milestone_to_proto(milestone: &Milestone) -> pb::Milestone {
    pb::Milestone {
        name: milestone.resource_name(),
        kind: milestone.kind.to_proto(),
        country_code: milestone.country_code.clone(),
        milestone_date: milestone.milestone_date.to_string(),
        fiscal_year: milestone.fiscal_year,
        description: milestone.description.clone(),
        outcome_count: milestone.outcome_count,
        accepted: milestone.accepted,
        create_time: Some(timestamp(milestone.create_time)),
    }
}

/// The unchecked fields of an outcome as it came in.
pub(super) fn outcome_input(outcome: &pb::Outcome) -> OutcomeInput<'_> {
    OutcomeInput {
        kind: OutcomeKind::from_proto(outcome.kind),
        country_code: &outcome.country_code,
        outcome_date: &outcome.outcome_date,
        quantity: outcome.quantity,
        officials_trained: outcome.officials_trained.map(|o| OfficialsTrained {
            police: o.police,
            prosecutors: o.prosecutors,
            judges: o.judges,
            labour_inspectors: o.labour_inspectors,
            social_workers: o.social_workers,
            other: o.other,
        }),
        victims: outcome.victims.map(|v| Victims {
            female: v.female,
            male: v.male,
            other_sex: v.other_sex,
            children: v.children,
            adults: v.adults,
        }),
        first_for_country: outcome.first_for_country,
        description: &outcome.description,
        evidence_uri: &outcome.evidence_uri,
        indicator: &outcome.indicator,
        milestone: &outcome.milestone,
    }
}

impl OutcomeReportApi {
    /// The locked report of a change (which must be editable when `editable`) and its project.
    pub(super) async fn report_and_project(
        tx: &Tx,
        call: &CallContext,
        name: &OutcomeReportName,
        expected: Option<i64>,
    ) -> Result<(OutcomeReport, Project)> {
        let scope = call.actor.scope();
        let report = tx.report_for_update(&scope, name, expected).await?;
        let project = tx.project_for_update(&scope, &name.project(), None).await?;
        Ok((report, project))
    }

    /// Checks the facts an outcome refers to (its indicator is live) and links
    /// its milestone: the one the client named, or the one of its country, kind and date.
    pub(super) async fn link(
        &self,
        tx: &mut Tx,
        live_indicators: &[String],
        fields: &mut OutcomeFields,
        prefix: &str,
    ) -> Result<Option<i32>> {
        if !fields.indicator_id.is_empty() && !live_indicators.contains(&fields.indicator_id) {
            return Err(Error::invalid(
                format!("{prefix}.indicator"),
                "does not exist or is deleted",
            ));
        }
        let fiscal_year = fields
            .outcome_date
            .map(|date| self.rules.calendar.fiscal_year_of(date));
        if let Some(id) = &fields.milestone_id {
            let field = format!("{prefix}.milestone");
            // A grantee names only a milestone it sees; any other answers like a missing one.
            let scope = tx.actor().scope();
            let milestone = tx
                .milestone(&scope, &MilestoneName::new(id))
                .await
                .map_err(|error| match error {
                    Error::NotFound { resource } => {
                        Error::invalid(&field, format!("{resource} does not exist"))
                    }
                    other => other,
                })?;
            milestone::check_named_milestone(&field, fields, &milestone)?;
        } else if let (Some((country, kind, date)), Some(year)) =
            (milestone::milestone_key(fields), fiscal_year)
        {
            let id = tx
                .milestone_for(&country, kind, date, year, &fields.description)
                .await?;
            fields.milestone_id = Some(id);
        }
        Ok(fiscal_year)
    }

    /// The one path of every review transition.
    async fn change_state(
        &self,
        request: Request<impl super::StateChangeRequest>,
        transition: ReportTransition,
    ) -> Result<Response<pb::OutcomeReport>, Status> {
        let change = StateChange::<OutcomeReportName>::parse(request)?;
        let actor = change.call.actor.clone();
        let answer = change
            .write
            .run(&self.store, async |tx| {
                let scope = actor.scope();
                let grant = tx
                    .grant_for_update(&scope, &change.name.project().grant(), None)
                    .await?;
                let (report, project) =
                    Self::report_and_project(tx, &change.call, &change.name, change.expected)
                        .await?;
                let facts = match transition {
                    ReportTransition::Submit => {
                        let schedule = outcome::schedule(
                            &self.rules,
                            grant.terms.reporting_cadence,
                            project.fields.start_date,
                            project.fields.end_date,
                        );
                        ReportFacts {
                            outcomes: tx
                                .live_outcomes(&report)
                                .await?
                                .into_iter()
                                .map(|outcome| outcome.fields)
                                .collect(),
                            due_date: Some(report.due_date_in(&schedule, &self.rules)),
                            ..ReportFacts::default()
                        }
                    }
                    ReportTransition::Accept => ReportFacts {
                        indicators: tx.live_indicators(&project).await?,
                        ..ReportFacts::default()
                    },
                    ReportTransition::Return | ReportTransition::Reopen => ReportFacts::default(),
                };
                let after = outcome_report::decide_report_transition(
                    &report,
                    transition,
                    &actor,
                    &change.reason,
                    &facts,
                    now(),
                )?;
                let saved = tx.save_outcome_report(&report, after).await?;
                Ok(report_to_proto(&saved, &self.rules, &actor))
            })
            .await?;
        Ok(Response::new(answer))
    }

    /// The project a list's `parent` names, or `None` for `grants/-/projects/-`.
    /// A named project must be visible to the caller: NOT_FOUND like any other read.
    async fn parent_project(
        &self,
        call: &CallContext,
        parent: &str,
    ) -> Result<Option<ProjectName>> {
        let project = parse_parent::<ProjectName>("parent", parent)?;
        if let Some(project) = &project {
            self.store.get_project(&call.actor.scope(), project).await?;
        }
        Ok(project)
    }

    /// The schedule rows of a page of `ListReportingPeriods`.
    async fn reporting_periods(
        &self,
        actor: &Actor,
        filter: &ScheduleFilter,
        status: Option<ReportingStatus>,
        page: &paging::PageRequest,
    ) -> Result<(Vec<pb::ReportingPeriod>, Option<String>)> {
        let limit = page.keyset.limit as usize;
        let today = now().date_naive();
        // A page ends inside a project: the next one starts at that project (included), after that period.
        let (mut from, mut skip_through) = match page.keyset.after.as_deref() {
            Some(after) => match after.split_once('|') {
                Some((project, period)) => (
                    Some((project.to_string(), true)),
                    Some((project.to_string(), period.to_string())),
                ),
                None => {
                    return Err(Error::invalid(
                        "page_token",
                        "is not a page token of this list",
                    ));
                }
            },
            None => (None, None),
        };
        let mut rows: Vec<(String, pb::ReportingPeriod)> = Vec::new();
        loop {
            let subjects = self
                .store
                .schedule_subjects(
                    &actor.scope(),
                    filter,
                    from.as_ref().map(|(id, included)| (id.as_str(), *included)),
                    100,
                )
                .await?;
            let Some(last) = subjects.last() else { break };
            from = Some((last.project.id.clone(), false));
            let ids: Vec<String> = subjects.iter().map(|s| s.project.id.clone()).collect();
            let reports = self.store.reports_of_projects(&ids).await?;
            for subject in &subjects {
                let project = &subject.project;
                let schedule = outcome::schedule(
                    &self.rules,
                    subject.cadence,
                    project.fields.start_date,
                    project.fields.end_date,
                );
                for period in schedule {
                    let label = period.period.to_string();
                    if let Some((skip_project, skip_period)) = &skip_through
                        && *skip_project == project.id
                    {
                        if label == *skip_period {
                            skip_through = None;
                        }
                        continue;
                    }
                    let report = reports
                        .iter()
                        .find(|report| report.project_id == project.id && report.period == label);
                    let due = report
                        .and_then(|report| report.due_date)
                        .unwrap_or(period.due_date);
                    let row_status =
                        outcome::period_status(report.map(|report| report.state), due, today);
                    if status.is_some_and(|wanted| wanted != row_status) {
                        continue;
                    }
                    rows.push((
                        format!("{}|{label}", project.id),
                        pb::ReportingPeriod {
                            project: project.resource_name(),
                            period: label,
                            start_date: period.start_date.to_string(),
                            end_date: period.end_date.to_string(),
                            due_date: due.to_string(),
                            outcome_report: report
                                .map(|report| report.resource_name())
                                .unwrap_or_default(),
                            status: row_status.to_proto(),
                            program_officer: subject.program_officer.clone(),
                        },
                    ));
                    if rows.len() > limit {
                        let next = rows[limit - 1].0.clone();
                        rows.truncate(limit);
                        return Ok((rows.into_iter().map(|(_, row)| row).collect(), Some(next)));
                    }
                }
                // A token's project with no period left to skip: nothing more of it.
                skip_through = None;
            }
        }
        Ok((rows.into_iter().map(|(_, row)| row).collect(), None))
    }
}

/// The ids of a project's live indicators (what an outcome may count toward).
pub(super) async fn live_indicator_ids(tx: &Tx, project: &Project) -> Result<Vec<String>> {
    Ok(tx
        .live_indicators(project)
        .await?
        .into_iter()
        .map(|indicator| indicator.id)
        .collect())
}

fn parse_schedule_filter(filter: &str) -> Result<(ScheduleFilter, Option<ReportingStatus>)> {
    let mut parsed = ScheduleFilter::default();
    let mut status = None;
    for (field, value) in paging::parse_filter::<ScheduleFilterField>(filter)? {
        match field {
            ScheduleFilterField::Status => {
                status = Some(filter_code::<ReportingStatus>(&value, "reporting status")?)
            }
            ScheduleFilterField::Grant => {
                parsed.grant_id = Some(GrantName::parse("filter", &value)?.grant)
            }
            ScheduleFilterField::ProgramOfficer => parsed.program_officer = Some(value),
            ScheduleFilterField::Country => parsed.country_code = Some(value.to_ascii_uppercase()),
        }
    }
    Ok((parsed, status))
}

fn parse_report_filter(filter: &str) -> Result<ReportFilter> {
    let mut parsed = ReportFilter::default();
    for (field, value) in paging::parse_filter::<ReportFilterField>(filter)? {
        match field {
            ReportFilterField::State => {
                parsed.state = Some(filter_code::<OutcomeReportState>(&value, "report state")?)
            }
            ReportFilterField::Period => {
                let period: outcome::ReportPeriod = value
                    .parse()
                    .map_err(|message: String| Error::invalid("filter", message))?;
                parsed.period = Some(period.to_string());
            }
            ReportFilterField::FiscalYear => {
                parsed.fiscal_year = Some(filter_number("fiscal_year", &value)?)
            }
            ReportFilterField::Grantee => {
                parsed.organization_id =
                    Some(OrganizationName::parse("filter", &value)?.organization)
            }
            ReportFilterField::ProgramOfficer => parsed.program_officer = Some(value),
        }
    }
    Ok(parsed)
}

#[tonic::async_trait]
impl OutcomeReportService for OutcomeReportApi {
    async fn list_reporting_periods(
        &self,
        request: Request<pb::ListReportingPeriodsRequest>,
    ) -> Result<Response<pb::ListReportingPeriodsResponse>, Status> {
        let (call, request, page) = accept_list(request)?;
        let (mut filter, status) = parse_schedule_filter(&request.filter)?;
        filter.project = self.parent_project(&call, &request.parent).await?;
        let (reporting_periods, next_after) = self
            .reporting_periods(&call.actor, &filter, status, &page)
            .await?;
        Ok(Response::new(pb::ListReportingPeriodsResponse {
            reporting_periods,
            next_page_token: page.next_token(next_after),
        }))
    }

    async fn create_outcome_report(
        &self,
        request: Request<pb::CreateOutcomeReportRequest>,
    ) -> Result<Response<pb::OutcomeReport>, Status> {
        let (call, write, request) = accept_write(request)?;
        let parent = ProjectName::parse("parent", &request.parent)?;
        let report = required("outcome_report", &request.outcome_report)?;
        let narrative = validate::optional_text(
            "outcome_report.narrative",
            &report.narrative,
            outcome::MAX_NARRATIVE,
        )?;
        let answer = write
            .run(&self.store, async |tx| {
                let scope = call.actor.scope();
                let grant = tx.grant_for_update(&scope, &parent.grant(), None).await?;
                let project = tx.project_for_update(&scope, &parent, None).await?;
                let schedule = outcome::schedule(
                    &self.rules,
                    grant.terms.reporting_cadence,
                    project.fields.start_date,
                    project.fields.end_date,
                );
                let period =
                    outcome::new_report_period("outcome_report.period", &report.period, &schedule)?;
                let taken = tx
                    .report_for_period(&project, &period.period.to_string())
                    .await?;
                version::check_unique(
                    taken.map(|name| name.to_string()),
                    &format!(
                        "the {} report of {}",
                        period.period,
                        project.resource_name()
                    ),
                )?;
                let created = tx
                    .create_outcome_report(&project, &period, narrative)
                    .await?;
                Ok(report_to_proto(&created, &self.rules, &call.actor))
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn get_outcome_report(
        &self,
        request: Request<pb::GetOutcomeReportRequest>,
    ) -> Result<Response<pb::OutcomeReport>, Status> {
        let (call, name) = accept_name::<_, OutcomeReportName>(request)?;
        let report = self
            .store
            .get_outcome_report(&call.actor.scope(), &name)
            .await?;
        Ok(Response::new(report_to_proto(
            &report,
            &self.rules,
            &call.actor,
        )))
    }

    async fn list_outcome_reports(
        &self,
        request: Request<pb::ListOutcomeReportsRequest>,
    ) -> Result<Response<pb::ListOutcomeReportsResponse>, Status> {
        let (call, request, page) = accept_list(request)?;
        let mut filter = parse_report_filter(&request.filter)?;
        filter.project = self.parent_project(&call, &request.parent).await?;
        let found = self
            .store
            .list_outcome_reports(&call.actor.scope(), &filter, &page.keyset)
            .await?;
        Ok(page.respond(found, |report| {
            report_to_proto(report, &self.rules, &call.actor)
        }))
    }

    async fn update_outcome_report(
        &self,
        request: Request<pb::UpdateOutcomeReportRequest>,
    ) -> Result<Response<pb::OutcomeReport>, Status> {
        let update = accept_update(request)?;
        let mut tx = self.store.begin(&update.call).await?;
        let current = tx
            .report_for_update(&update.call.actor.scope(), &update.name, update.expected)
            .await?;
        current.check_editable()?;
        let mut after = current.clone();
        for field in update.fields {
            match field {
                ReportField::Narrative => {
                    after.narrative = validate::optional_text(
                        "outcome_report.narrative",
                        &update.changes.narrative,
                        outcome::MAX_NARRATIVE,
                    )?
                }
            }
        }
        let saved = tx.save_outcome_report(&current, after).await?;
        tx.commit().await?;
        Ok(Response::new(report_to_proto(
            &saved,
            &self.rules,
            &update.call.actor,
        )))
    }

    async fn submit_outcome_report(
        &self,
        request: Request<pb::SubmitOutcomeReportRequest>,
    ) -> Result<Response<pb::OutcomeReport>, Status> {
        self.change_state(request, ReportTransition::Submit).await
    }

    async fn accept_outcome_report(
        &self,
        request: Request<pb::AcceptOutcomeReportRequest>,
    ) -> Result<Response<pb::OutcomeReport>, Status> {
        self.change_state(request, ReportTransition::Accept).await
    }

    async fn return_outcome_report(
        &self,
        request: Request<pb::ReturnOutcomeReportRequest>,
    ) -> Result<Response<pb::OutcomeReport>, Status> {
        self.change_state(request, ReportTransition::Return).await
    }

    async fn reopen_outcome_report(
        &self,
        request: Request<pb::ReopenOutcomeReportRequest>,
    ) -> Result<Response<pb::OutcomeReport>, Status> {
        self.change_state(request, ReportTransition::Reopen).await
    }

    async fn create_outcome(
        &self,
        request: Request<pb::CreateOutcomeRequest>,
    ) -> Result<Response<pb::Outcome>, Status> {
        let (call, write, request) = accept_write(request)?;
        let parent = OutcomeReportName::parse("parent", &request.parent)?;
        let outcome = required("outcome", &request.outcome)?;
        let answer = write
            .run(&self.store, async |tx| {
                let (report, project) = Self::report_and_project(tx, &call, &parent, None).await?;
                report.check_editable()?;
                let context = OutcomeContext {
                    report: &report,
                    project: &project,
                };
                let mut fields = outcome_input(outcome).validate("outcome", &context)?;
                let live = live_indicator_ids(tx, &project).await?;
                let fiscal_year = self.link(tx, &live, &mut fields, "outcome").await?;
                let created = tx.create_outcome(&report, fields, fiscal_year).await?;
                Ok(outcome_to_proto(&created))
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn get_outcome(
        &self,
        request: Request<pb::GetOutcomeRequest>,
    ) -> Result<Response<pb::Outcome>, Status> {
        let (call, name) = accept_name::<_, OutcomeName>(request)?;
        let outcome = self.store.get_outcome(&call.actor.scope(), &name).await?;
        Ok(Response::new(outcome_to_proto(&outcome)))
    }

    async fn list_outcomes(
        &self,
        request: Request<pb::ListOutcomesRequest>,
    ) -> Result<Response<pb::ListOutcomesResponse>, Status> {
        let (call, request, page) = accept_list(request)?;
        let parent = OutcomeReportName::parse("parent", &request.parent)?;
        let mut filter = OutcomeFilter {
            show_deleted: request.show_deleted,
            ..Default::default()
        };
        for (field, value) in paging::parse_filter::<OutcomeFilterField>(&request.filter)? {
            match field {
                OutcomeFilterField::Kind => {
                    filter.kind = Some(filter_code::<OutcomeKind>(&value, "outcome kind")?)
                }
                OutcomeFilterField::Country => {
                    filter.country_code = Some(value.to_ascii_uppercase())
                }
            }
        }
        let found = self
            .store
            .list_outcomes(&call.actor.scope(), &parent, &filter, &page.keyset)
            .await?;
        Ok(page.respond(found, outcome_to_proto))
    }

    async fn update_outcome(
        &self,
        request: Request<pb::UpdateOutcomeRequest>,
    ) -> Result<Response<pb::Outcome>, Status> {
        let update = accept_update(request)?;
        let mut tx = self.store.begin(&update.call).await?;
        let (report, project) =
            Self::report_and_project(&tx, &update.call, &update.name.report(), None).await?;
        report.check_editable()?;
        let current = tx
            .outcome_for_update(&report, &update.name.outcome, update.expected)
            .await?;
        let mut merged = outcome_to_proto(&current);
        let mut relink = false;
        for field in &update.fields {
            match field {
                OutcomeField::Kind => merged.kind = update.changes.kind,
                OutcomeField::CountryCode => {
                    merged.country_code = update.changes.country_code.clone()
                }
                OutcomeField::OutcomeDate => {
                    merged.outcome_date = update.changes.outcome_date.clone()
                }
                OutcomeField::Quantity => merged.quantity = update.changes.quantity,
                OutcomeField::OfficialsTrained => {
                    merged.officials_trained = update.changes.officials_trained
                }
                OutcomeField::Victims => merged.victims = update.changes.victims,
                OutcomeField::FirstForCountry => {
                    merged.first_for_country = update.changes.first_for_country
                }
                OutcomeField::Description => {
                    merged.description = update.changes.description.clone()
                }
                OutcomeField::EvidenceUri => {
                    merged.evidence_uri = update.changes.evidence_uri.clone()
                }
                OutcomeField::Indicator => merged.indicator = update.changes.indicator.clone(),
                OutcomeField::Milestone => merged.milestone = update.changes.milestone.clone(),
            }
            relink |= matches!(
                field,
                OutcomeField::Kind
                    | OutcomeField::CountryCode
                    | OutcomeField::OutcomeDate
                    | OutcomeField::FirstForCountry
            );
        }
        // A changed country, kind or date is another milestone, unless the client names one.
        if relink && !update.fields.contains(&OutcomeField::Milestone) {
            merged.milestone.clear();
        }
        let context = OutcomeContext {
            report: &report,
            project: &project,
        };
        let mut new_fields = outcome_input(&merged).validate("outcome", &context)?;
        let live = live_indicator_ids(&tx, &project).await?;
        let fiscal_year = self
            .link(&mut tx, &live, &mut new_fields, "outcome")
            .await?;
        let saved = tx
            .save_outcome(&report, current, new_fields, fiscal_year, false)
            .await?;
        tx.commit().await?;
        Ok(Response::new(outcome_to_proto(&saved)))
    }

    async fn delete_outcome(
        &self,
        request: Request<pb::DeleteOutcomeRequest>,
    ) -> Result<Response<pb::Outcome>, Status> {
        let (call, name, expected) = accept_delete::<_, OutcomeName>(request)?;
        let mut tx = self.store.begin(&call).await?;
        let (report, _project) = Self::report_and_project(&tx, &call, &name.report(), None).await?;
        report.check_editable()?;
        let current = tx
            .outcome_for_update(&report, &name.outcome, expected)
            .await?;
        let fields = current.fields.clone();
        let fiscal_year = current.fiscal_year;
        let deleted = tx
            .save_outcome(&report, current, fields, fiscal_year, true)
            .await?;
        tx.commit().await?;
        Ok(Response::new(outcome_to_proto(&deleted)))
    }

    async fn upload_outcomes(
        &self,
        request: Request<Streaming<pb::UploadOutcomesRequest>>,
    ) -> Result<Response<pb::UploadOutcomesResponse>, Status> {
        self.upload(request).await.map(Response::new)
    }

    async fn list_milestones(
        &self,
        request: Request<pb::ListMilestonesRequest>,
    ) -> Result<Response<pb::ListMilestonesResponse>, Status> {
        let (call, request, page) = accept_list(request)?;
        let mut filter = MilestoneFilter::default();
        for (field, value) in paging::parse_filter::<MilestoneFilterField>(&request.filter)? {
            match field {
                MilestoneFilterField::Country => {
                    filter.country_code = Some(value.to_ascii_uppercase())
                }
                MilestoneFilterField::Kind => {
                    filter.kind = Some(filter_code::<OutcomeKind>(&value, "outcome kind")?)
                }
                MilestoneFilterField::FiscalYear => {
                    filter.fiscal_year = Some(filter_number("fiscal_year", &value)?)
                }
                MilestoneFilterField::Accepted => {
                    filter.accepted = Some(match value.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(Error::invalid(
                                "filter",
                                format!("accepted {} is not true or false", excerpt(&value)),
                            )
                            .into());
                        }
                    })
                }
            }
        }
        let found = self
            .store
            .list_milestones(&call.actor.scope(), &filter, &page.keyset)
            .await?;
        Ok(page.respond(found, milestone_to_proto))
    }

    async fn get_milestone(
        &self,
        request: Request<pb::GetMilestoneRequest>,
    ) -> Result<Response<pb::Milestone>, Status> {
        let (call, name) = accept_name::<_, MilestoneName>(request)?;
        let milestone = self.store.get_milestone(&call.actor.scope(), &name).await?;
        Ok(Response::new(milestone_to_proto(&milestone)))
    }

    async fn get_indicator_progress(
        &self,
        request: Request<pb::GetIndicatorProgressRequest>,
    ) -> Result<Response<pb::IndicatorProgress>, Status> {
        let call = call_context(&request)?;
        let name = IndicatorName::parse("indicator", &request.get_ref().indicator)?;
        let indicator = self.store.get_indicator(&call.actor.scope(), &name).await?;
        let actuals: Vec<Actual> = self
            .store
            .accepted_actuals(&indicator)
            .await?
            .into_iter()
            .map(|row| Actual {
                period: row.period,
                fiscal_year: row.fiscal_year,
                quantity: row.quantity,
                milestone_id: row.milestone_id,
            })
            .collect();
        let (periods, total_actual, total_target) =
            outcome::indicator_progress(&indicator, &actuals);
        Ok(Response::new(pb::IndicatorProgress {
            indicator: name.to_string(),
            outcome_kind: indicator.fields.outcome_kind.to_proto(),
            baseline: indicator.fields.baseline,
            periods: periods
                .into_iter()
                .map(|period| pb::IndicatorPeriodProgress {
                    fiscal_year: period.fiscal_year,
                    period: period.part.code(),
                    target: period.target,
                    actual: period.actual,
                })
                .collect(),
            total_actual,
            total_target,
        }))
    }
}
