//! Outcome reports, their outcomes, and milestones. A report belongs to a
//! project and so to a grant: a grantee's scope is its own grants' reports.
//! A milestone is shared by every grantee that reports it: a grantee's scope
//! is the milestones its own live outcomes report, seen only through its own
//! outcomes and accepted ones (`scoped_milestones`, `seen_in_milestones`).
//! The store answers questions (the reports of some projects, the live
//! outcomes of a report, the accepted outcomes of an indicator) and the
//! domain decides.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{Set, Unchanged},
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Select,
};

use super::entities::{grants, indicators, milestones, outcome_reports, outcomes, projects};
use super::{Keyset, Page, Stamped, Store, Tx, decode_code, new_id, now, to_json_column};
use crate::domain::access::Scope;
use crate::domain::milestone::{Milestone, Sightings};
use crate::domain::names::{MilestoneName, OutcomeName, OutcomeReportName, ProjectName};
use crate::domain::outcome::{
    Outcome, OutcomeFields, OutcomeReport, OutcomeReportState, ScheduledPeriod,
};
use crate::domain::project::{Indicator, OutcomeKind, Project};
use crate::domain::version::{self, Stamps, Versioned};
use crate::error::{Error, Result};

/// Which reports to list.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    /// One project's reports; every visible project's when `None`.
    pub project: Option<ProjectName>,
    pub state: Option<OutcomeReportState>,
    pub period: Option<String>,
    /// Reports whose period is of this fiscal year (`2014`, `2014-Q3`, `2014-H1`).
    pub fiscal_year: Option<i32>,
    pub organization_id: Option<String>,
    pub program_officer: Option<String>,
}

/// Which outcomes of a report to list.
#[derive(Debug, Clone, Default)]
pub struct OutcomeFilter {
    pub kind: Option<OutcomeKind>,
    pub country_code: Option<String>,
    pub show_deleted: bool,
}

/// Which milestones to list.
#[derive(Debug, Clone, Default)]
pub struct MilestoneFilter {
    pub country_code: Option<String>,
    pub kind: Option<OutcomeKind>,
    pub fiscal_year: Option<i32>,
    pub accepted: Option<bool>,
}

/// A project as its reporting schedule needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSubject {
    pub project: Project,
    pub cadence: crate::domain::grant::ReportingCadence,
    pub program_officer: String,
}

/// Which projects' schedules to list.
#[derive(Debug, Clone, Default)]
pub struct ScheduleFilter {
    /// One project, or every visible project.
    pub project: Option<ProjectName>,
    pub grant_id: Option<String>,
    pub program_officer: Option<String>,
    pub country_code: Option<String>,
}

/// One accepted outcome counting toward an indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedActual {
    /// The report's period, e.g. `2014-Q3`.
    pub period: String,
    pub fiscal_year: Option<i32>,
    pub quantity: i64,
    pub milestone_id: Option<String>,
}

fn report_to_domain(row: outcome_reports::Model, outcome_count: i64) -> Result<OutcomeReport> {
    Ok(OutcomeReport {
        stamps: row.stamps(),
        state: decode_code("outcome_reports.state", &row.id, &row.state)?,
        grant_id: row.grant_id,
        project_id: row.project_id,
        period: row.period,
        period_start_date: row.period_start_date,
        period_end_date: row.period_end_date,
        due_date: row.due_date,
        narrative: row.narrative,
        reviewer_comments: row.reviewer_comments,
        submitter: row.submitter,
        submit_time: row.submit_time,
        reviewer: row.reviewer,
        review_time: row.review_time,
        submitter_owner: row.submitter_owner,
        reviewer_owner: row.reviewer_owner,
        outcome_count,
        id: row.id,
    })
}

pub(super) fn outcome_to_domain(
    row: outcomes::Model,
    report: &OutcomeReportName,
) -> Result<Outcome> {
    Ok(Outcome {
        stamps: row.stamps(),
        grant_id: report.grant.clone(),
        project_id: report.project.clone(),
        report_id: row.report_id,
        fields: OutcomeFields {
            kind: decode_code("outcomes.kind", &row.id, &row.kind)?,
            country_code: row.country_code,
            outcome_date: row.outcome_date,
            quantity: row.quantity,
            breakdown: serde_json::from_value(row.breakdown).map_err(|error| {
                Error::Internal(format!("outcomes.breakdown of {}: {error}", row.id))
            })?,
            first_for_country: row.first_for_country,
            description: row.description,
            evidence_uri: row.evidence_uri,
            indicator_id: row.indicator_id,
            milestone_id: row.milestone_id,
        },
        fiscal_year: row.fiscal_year,
        delete_time: row.delete_time,
        id: row.id,
    })
}

/// The milestone record as created (before any caller's view of it).
fn milestone_to_domain(row: milestones::Model) -> Result<Milestone> {
    Ok(Milestone {
        kind: decode_code("milestones.kind", &row.id, &row.kind)?,
        country_code: row.country_code,
        milestone_date: row.milestone_date,
        fiscal_year: row.fiscal_year,
        description: row.description,
        create_time: row.create_time,
        outcome_count: 0,
        accepted: false,
        id: row.id,
    })
}

/// The reports of the grants `scope` may see.
fn scoped(scope: &Scope) -> Select<outcome_reports::Entity> {
    super::grants::within_scope(
        outcome_reports::Entity::find(),
        outcome_reports::Column::GrantId,
        scope,
    )
}

/// The ids of the reports `scope` may see, for an `IN (...)`.
fn scoped_report_ids(scope: &Scope) -> SelectStatement {
    scoped(scope)
        .select_only()
        .column(outcome_reports::Column::Id)
        .into_query()
}

/// The milestones `scope` may see: staff every one; a grantee those its own live outcomes report.
fn scoped_milestones(scope: &Scope) -> Select<milestones::Entity> {
    let select = milestones::Entity::find();
    match scope {
        Scope::All => select,
        Scope::Organization(_) => select.filter(
            milestones::Column::Id.in_subquery(
                Query::select()
                    .column(outcomes::Column::MilestoneId)
                    .from(outcomes::Entity)
                    .and_where(outcomes::Column::MilestoneId.is_not_null())
                    .and_where(outcomes::Column::DeleteTime.is_null())
                    .and_where(outcomes::Column::ReportId.in_subquery(scoped_report_ids(scope)))
                    .to_owned(),
            ),
        ),
    }
}

/// The outcomes (joined with their reports) whose facts `scope` may see in a milestone: staff
/// every one; a grantee its own, and of other grantees only those in accepted reports.
fn seen_in_milestones(scope: &Scope) -> Condition {
    match scope {
        Scope::All => Condition::all(),
        Scope::Organization(_) => Condition::any()
            .add(outcomes::Column::ReportId.in_subquery(scoped_report_ids(scope)))
            .add(outcome_reports::Column::State.eq(OutcomeReportState::Accepted.code())),
    }
}

/// Live outcomes per report, for the reports of a page.
async fn outcome_counts(
    conn: &impl ConnectionTrait,
    report_ids: &[String],
) -> Result<std::collections::HashMap<String, i64>> {
    if report_ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(String, i64)> = outcomes::Entity::find()
        .select_only()
        .column(outcomes::Column::ReportId)
        .column_as(outcomes::Column::Id.count(), "count")
        .filter(outcomes::Column::ReportId.is_in(report_ids.iter().map(String::as_str)))
        .filter(outcomes::Column::DeleteTime.is_null())
        .group_by(outcomes::Column::ReportId)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Reports with their outcome counts.
async fn with_counts(
    conn: &impl ConnectionTrait,
    rows: Vec<outcome_reports::Model>,
) -> Result<Vec<OutcomeReport>> {
    let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
    let counts = outcome_counts(conn, &ids).await?;
    rows.into_iter()
        .map(|row| {
            let count = counts.get(&row.id).copied().unwrap_or_default();
            report_to_domain(row, count)
        })
        .collect()
}

async fn find_report(
    conn: &impl ConnectionTrait,
    scope: &Scope,
    name: &OutcomeReportName,
    lock: bool,
) -> Result<OutcomeReport> {
    let mut select = scoped(scope)
        .filter(outcome_reports::Column::Id.eq(name.report.as_str()))
        .filter(outcome_reports::Column::ProjectId.eq(name.project.as_str()))
        .filter(outcome_reports::Column::GrantId.eq(name.grant.as_str()));
    if lock {
        select = select.lock_exclusive();
    }
    let row = select
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found(name))?;
    with_counts(conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| Error::not_found(name))
}

/// The milestones of a page as `scope` sees them: through the live outcomes that report them
/// and that `scope` may see ([`seen_in_milestones`]). Counted and picked in the database, so a
/// milestone reported by 100,000 outcomes costs a few rows, not 100,000 descriptions.
async fn milestones_as_seen(
    conn: &impl ConnectionTrait,
    scope: &Scope,
    rows: Vec<milestones::Model>,
) -> Result<Vec<Milestone>> {
    let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
    let seen = || {
        outcomes::Entity::find()
            .join(
                sea_orm::JoinType::InnerJoin,
                outcomes::Entity::belongs_to_report(),
            )
            .filter(outcomes::Column::MilestoneId.is_in(ids.iter().copied()))
            .filter(outcomes::Column::DeleteTime.is_null())
            .filter(seen_in_milestones(scope))
            .select_only()
            .column(outcomes::Column::MilestoneId)
            .group_by(outcomes::Column::MilestoneId)
    };
    // Per milestone: how many, the first (ids are time-ordered), how many accepted.
    let counted: Vec<(String, i64, String)> = seen()
        .column_as(outcomes::Column::Id.count(), "count")
        .column_as(outcomes::Column::Id.min(), "first")
        .into_tuple()
        .all(conn)
        .await?;
    let accepted: Vec<(String, i64)> = seen()
        .column_as(outcomes::Column::Id.count(), "count")
        .filter(outcome_reports::Column::State.eq(OutcomeReportState::Accepted.code()))
        .into_tuple()
        .all(conn)
        .await?;
    let firsts: Vec<(String, String, DateTime<Utc>)> = outcomes::Entity::find()
        .select_only()
        .column(outcomes::Column::Id)
        .column(outcomes::Column::Description)
        .column(outcomes::Column::CreateTime)
        .filter(outcomes::Column::Id.is_in(counted.iter().map(|(_, _, first)| first.as_str())))
        .into_tuple()
        .all(conn)
        .await?;
    rows.into_iter()
        .map(|row| {
            let mut sightings = Sightings::default();
            if let Some((_, count, first)) = counted.iter().find(|(id, ..)| *id == row.id) {
                sightings.count = *count;
                sightings.first = firsts
                    .iter()
                    .find(|(id, ..)| id == first)
                    .map(|(_, description, time)| (description.clone(), *time));
            }
            sightings.accepted = accepted.iter().any(|(id, _)| *id == row.id);
            Ok(milestone_to_domain(row)?.as_seen(&sightings))
        })
        .collect()
}

impl outcomes::Entity {
    /// outcomes.report_id -> outcome_reports.id, for joins.
    pub(super) fn belongs_to_report() -> sea_orm::RelationDef {
        outcomes::Entity::belongs_to(outcome_reports::Entity)
            .from(outcomes::Column::ReportId)
            .to(outcome_reports::Column::Id)
            .into()
    }
}

impl Store {
    /// One report the caller may see.
    pub async fn get_outcome_report(
        &self,
        scope: &Scope,
        name: &OutcomeReportName,
    ) -> Result<OutcomeReport> {
        find_report(&self.db, scope, name, false).await
    }

    /// A page of the reports the caller may see, oldest first.
    pub async fn list_outcome_reports(
        &self,
        scope: &Scope,
        filter: &ReportFilter,
        page: &Keyset,
    ) -> Result<Page<OutcomeReport>> {
        let mut select = scoped(scope);
        if let Some(project) = &filter.project {
            select = select
                .filter(outcome_reports::Column::GrantId.eq(project.grant.as_str()))
                .filter(outcome_reports::Column::ProjectId.eq(project.project.as_str()));
        }
        if let Some(state) = filter.state {
            select = select.filter(outcome_reports::Column::State.eq(state.code()));
        }
        if let Some(period) = &filter.period {
            select = select.filter(outcome_reports::Column::Period.eq(period.as_str()));
        }
        if let Some(year) = filter.fiscal_year {
            select = select.filter(outcome_reports::Column::Period.starts_with(year.to_string()));
        }
        if filter.organization_id.is_some() || filter.program_officer.is_some() {
            let of_grants = Condition::all()
                .add_option(
                    (filter.organization_id.as_ref())
                        .map(|organization| grants::Column::OrganizationId.eq(organization)),
                )
                .add_option(
                    (filter.program_officer.as_ref())
                        .map(|officer| grants::Column::ProgramOfficer.eq(officer)),
                );
            select = select.filter(
                outcome_reports::Column::GrantId
                    .in_subquery(super::grants::grant_ids_where(of_grants)),
            );
        }
        page.fetch(&self.db, select, outcome_reports::Column::Id, |row| {
            row.id.clone()
        })
        .await?
        .try_map_all(async |rows| with_counts(&self.db, rows).await)
        .await
    }

    /// One outcome of a report the caller may see, deleted or not.
    pub async fn get_outcome(&self, scope: &Scope, name: &OutcomeName) -> Result<Outcome> {
        let report = name.report();
        find_report(&self.db, scope, &report, false).await?;
        outcomes::Entity::find_by_id(name.outcome.as_str())
            .filter(outcomes::Column::ReportId.eq(name.report.as_str()))
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::not_found(name))
            .and_then(|row| outcome_to_domain(row, &report))
    }

    /// A page of a report's outcomes, oldest first.
    pub async fn list_outcomes(
        &self,
        scope: &Scope,
        report: &OutcomeReportName,
        filter: &OutcomeFilter,
        page: &Keyset,
    ) -> Result<Page<Outcome>> {
        find_report(&self.db, scope, report, false).await?;
        let mut select =
            outcomes::Entity::find().filter(outcomes::Column::ReportId.eq(report.report.as_str()));
        if !filter.show_deleted {
            select = select.filter(outcomes::Column::DeleteTime.is_null());
        }
        if let Some(kind) = filter.kind {
            select = select.filter(outcomes::Column::Kind.eq(kind.code()));
        }
        if let Some(country) = &filter.country_code {
            select = select.filter(outcomes::Column::CountryCode.eq(country.as_str()));
        }
        page.fetch(&self.db, select, outcomes::Column::Id, |row| row.id.clone())
            .await?
            .try_map(|row| outcome_to_domain(row, report))
    }

    /// A page of the milestones `scope` may see, as it sees them, by id.
    pub async fn list_milestones(
        &self,
        scope: &Scope,
        filter: &MilestoneFilter,
        page: &Keyset,
    ) -> Result<Page<Milestone>> {
        let mut select = scoped_milestones(scope);
        if let Some(country) = &filter.country_code {
            select = select.filter(milestones::Column::CountryCode.eq(country.as_str()));
        }
        if let Some(kind) = filter.kind {
            select = select.filter(milestones::Column::Kind.eq(kind.code()));
        }
        if let Some(year) = filter.fiscal_year {
            select = select.filter(milestones::Column::FiscalYear.eq(year));
        }
        if let Some(accepted) = filter.accepted {
            let with_accepted = Query::select()
                .column(outcomes::Column::MilestoneId)
                .from(outcomes::Entity)
                .and_where(outcomes::Column::DeleteTime.is_null())
                .and_where(
                    outcomes::Column::ReportId.in_subquery(
                        Query::select()
                            .column(outcome_reports::Column::Id)
                            .from(outcome_reports::Entity)
                            .and_where(
                                outcome_reports::Column::State
                                    .eq(OutcomeReportState::Accepted.code()),
                            )
                            .to_owned(),
                    ),
                )
                .and_where(outcomes::Column::MilestoneId.is_not_null())
                .to_owned();
            select = if accepted {
                select.filter(milestones::Column::Id.in_subquery(with_accepted))
            } else {
                select.filter(milestones::Column::Id.not_in_subquery(with_accepted))
            };
        }
        page.fetch(&self.db, select, milestones::Column::Id, |row| {
            row.id.clone()
        })
        .await?
        .try_map_all(async |rows| milestones_as_seen(&self.db, scope, rows).await)
        .await
    }

    /// One milestone `scope` may see, as it sees it.
    pub async fn get_milestone(&self, scope: &Scope, name: &MilestoneName) -> Result<Milestone> {
        find_milestone(&self.db, scope, name).await
    }

    /// The accepted outcomes that count toward an indicator, with their reports' periods.
    pub async fn accepted_actuals(&self, indicator: &Indicator) -> Result<Vec<AcceptedActual>> {
        let rows: Vec<(String, Option<i32>, i64, Option<String>)> = outcomes::Entity::find()
            .select_only()
            .column(outcome_reports::Column::Period)
            .column(outcomes::Column::FiscalYear)
            .column(outcomes::Column::Quantity)
            .column(outcomes::Column::MilestoneId)
            .join(
                sea_orm::JoinType::InnerJoin,
                outcomes::Entity::belongs_to_report(),
            )
            .filter(outcomes::Column::IndicatorId.eq(indicator.id.as_str()))
            .filter(outcome_reports::Column::ProjectId.eq(indicator.project_id.as_str()))
            .filter(outcome_reports::Column::State.eq(OutcomeReportState::Accepted.code()))
            .filter(outcomes::Column::DeleteTime.is_null())
            .order_by_asc(outcomes::Column::Id)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(
                |(period, fiscal_year, quantity, milestone_id)| AcceptedActual {
                    period,
                    fiscal_year,
                    quantity,
                    milestone_id,
                },
            )
            .collect())
    }

    /// The projects (in id order, from `from`) whose schedules a list shows,
    /// with their grants' cadence and officer. `from` is (id, whether that id itself is included).
    pub async fn schedule_subjects(
        &self,
        scope: &Scope,
        filter: &ScheduleFilter,
        from: Option<(&str, bool)>,
        limit: u64,
    ) -> Result<Vec<ScheduleSubject>> {
        let mut select = super::projects::scoped(scope);
        if let Some(project) = &filter.project {
            select = select
                .filter(projects::Column::GrantId.eq(project.grant.as_str()))
                .filter(projects::Column::Id.eq(project.project.as_str()));
        }
        if let Some(grant_id) = &filter.grant_id {
            select = select.filter(projects::Column::GrantId.eq(grant_id.as_str()));
        }
        if let Some(officer) = &filter.program_officer {
            select = select.filter(projects::Column::GrantId.in_subquery(
                super::grants::grant_ids_where(grants::Column::ProgramOfficer.eq(officer.as_str())),
            ));
        }
        if let Some(country) = &filter.country_code {
            select = select.filter(
                projects::Column::Id.in_subquery(
                    Query::select()
                        .column(super::entities::project_countries::Column::ProjectId)
                        .from(super::entities::project_countries::Entity)
                        .and_where(
                            super::entities::project_countries::Column::CountryCode
                                .eq(country.as_str()),
                        )
                        .to_owned(),
                ),
            );
        }
        match from {
            Some((id, true)) => select = select.filter(projects::Column::Id.gte(id)),
            Some((id, false)) => select = select.filter(projects::Column::Id.gt(id)),
            None => {}
        }
        let rows = select
            .order_by_asc(projects::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        let grant_ids: Vec<String> = rows.iter().map(|row| row.grant_id.clone()).collect();
        let grants: Vec<grants::Model> = grants::Entity::find()
            .filter(grants::Column::Id.is_in(grant_ids.iter().map(String::as_str)))
            .all(&self.db)
            .await?;
        let projects = super::projects::with_children(&self.db, rows).await?;
        projects
            .into_iter()
            .map(|project| {
                let grant = grants
                    .iter()
                    .find(|grant| grant.id == project.grant_id)
                    .ok_or_else(|| {
                        Error::Internal(format!("grant of {} is missing", project.id))
                    })?;
                Ok(ScheduleSubject {
                    cadence: decode_code(
                        "grants.reporting_cadence",
                        &grant.id,
                        &grant.reporting_cadence,
                    )?,
                    program_officer: grant.program_officer.clone(),
                    project,
                })
            })
            .collect()
    }

    /// The reports of some projects (every state), for their schedules.
    pub async fn reports_of_projects(&self, project_ids: &[String]) -> Result<Vec<OutcomeReport>> {
        if project_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = outcome_reports::Entity::find()
            .filter(
                outcome_reports::Column::ProjectId.is_in(project_ids.iter().map(String::as_str)),
            )
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|row| report_to_domain(row, 0))
            .collect()
    }
}

async fn find_milestone(
    conn: &impl ConnectionTrait,
    scope: &Scope,
    name: &MilestoneName,
) -> Result<Milestone> {
    let row = scoped_milestones(scope)
        .filter(milestones::Column::Id.eq(name.milestone.as_str()))
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found(name))?;
    milestones_as_seen(conn, scope, vec![row])
        .await?
        .pop()
        .ok_or_else(|| Error::not_found(name))
}

/// The columns of a new outcome row.
fn outcome_row(
    report: &OutcomeReport,
    id: String,
    fields: &OutcomeFields,
    fiscal_year: Option<i32>,
) -> Result<outcomes::ActiveModel> {
    Ok(outcomes::ActiveModel {
        id: Set(id),
        report_id: Set(report.id.clone()),
        kind: Set(fields.kind.code().to_string()),
        country_code: Set(fields.country_code.clone()),
        outcome_date: Set(fields.outcome_date),
        fiscal_year: Set(fiscal_year),
        quantity: Set(fields.quantity),
        breakdown: Set(to_json_column(&fields.breakdown)?),
        first_for_country: Set(fields.first_for_country),
        description: Set(fields.description.clone()),
        evidence_uri: Set(fields.evidence_uri.clone()),
        indicator_id: Set(fields.indicator_id.clone()),
        milestone_id: Set(fields.milestone_id.clone()),
        ..Stamped::created(Stamps::new(now()))
    })
}

/// Rows per multi-row INSERT: 17 columns, well under PostgreSQL's 65,535 bind parameters.
const INSERT_BATCH: usize = 1000;

impl Tx {
    /// Reads a report for a change and locks it until commit; checks `etag` when given.
    pub async fn report_for_update(
        &self,
        scope: &Scope,
        name: &OutcomeReportName,
        etag: Option<i64>,
    ) -> Result<OutcomeReport> {
        let report = find_report(&self.txn, scope, name, true).await?;
        version::check_etag(&report.resource_name(), report.stamps.revision, etag)?;
        Ok(report)
    }

    /// The report a project already has for `period`, if any.
    pub async fn report_for_period(
        &self,
        project: &Project,
        period: &str,
    ) -> Result<Option<OutcomeReportName>> {
        Ok(outcome_reports::Entity::find()
            .filter(outcome_reports::Column::ProjectId.eq(project.id.as_str()))
            .filter(outcome_reports::Column::Period.eq(period))
            .one(&self.txn)
            .await?
            .map(|row| OutcomeReportName::new(row.grant_id, row.project_id, row.id)))
    }

    /// Starts a DRAFT report of `project` for `period`.
    pub async fn create_outcome_report(
        &mut self,
        project: &Project,
        period: &ScheduledPeriod,
        narrative: String,
    ) -> Result<OutcomeReport> {
        let row = outcome_reports::ActiveModel {
            id: Set(new_id()),
            grant_id: Set(project.grant_id.clone()),
            project_id: Set(project.id.clone()),
            period: Set(period.period.to_string()),
            period_start_date: Set(period.start_date),
            period_end_date: Set(period.end_date),
            due_date: Set(None),
            state: Set(OutcomeReportState::Draft.code().to_string()),
            narrative: Set(narrative),
            reviewer_comments: Set(String::new()),
            submitter: Set(String::new()),
            submit_time: Set(None),
            reviewer: Set(String::new()),
            review_time: Set(None),
            submitter_owner: Set(String::new()),
            reviewer_owner: Set(String::new()),
            ..Stamped::created(Stamps::new(now()))
        };
        self.insert_audited(
            row,
            |row| report_to_domain(row, 0),
            |created| (created.resource_name(), created),
        )
        .await
    }

    /// Saves `after` over `current` (narrative, state, review fields), moving the revision.
    pub async fn save_outcome_report(
        &mut self,
        current: &OutcomeReport,
        mut after: OutcomeReport,
    ) -> Result<OutcomeReport> {
        after.stamps = current.stamps.next(now());
        outcome_reports::ActiveModel {
            id: Unchanged(current.id.clone()),
            period_start_date: Set(after.period_start_date),
            period_end_date: Set(after.period_end_date),
            due_date: Set(after.due_date),
            state: Set(after.state.code().to_string()),
            narrative: Set(after.narrative.clone()),
            reviewer_comments: Set(after.reviewer_comments.clone()),
            submitter: Set(after.submitter.clone()),
            submit_time: Set(after.submit_time),
            reviewer: Set(after.reviewer.clone()),
            review_time: Set(after.review_time),
            submitter_owner: Set(after.submitter_owner.clone()),
            reviewer_owner: Set(after.reviewer_owner.clone()),
            ..Stamped::revised(after.stamps)
        }
        .update(&self.txn)
        .await?;
        self.audit(&after.resource_name(), Some(current), Some(&after))?;
        Ok(after)
    }

    /// The reports of a project, every state.
    pub async fn reports_of_project(&self, project: &Project) -> Result<Vec<OutcomeReport>> {
        outcome_reports::Entity::find()
            .filter(outcome_reports::Column::ProjectId.eq(project.id.as_str()))
            .order_by_asc(outcome_reports::Column::Id)
            .all(&self.txn)
            .await?
            .into_iter()
            .map(|row| report_to_domain(row, 0))
            .collect()
    }

    /// The live outcomes of a report, oldest first.
    pub async fn live_outcomes(&self, report: &OutcomeReport) -> Result<Vec<Outcome>> {
        let name = report.name();
        outcomes::Entity::find()
            .filter(outcomes::Column::ReportId.eq(report.id.as_str()))
            .filter(outcomes::Column::DeleteTime.is_null())
            .order_by_asc(outcomes::Column::Id)
            .all(&self.txn)
            .await?
            .into_iter()
            .map(|row| outcome_to_domain(row, &name))
            .collect()
    }

    /// The live indicators of a project.
    pub async fn live_indicators(&self, project: &Project) -> Result<Vec<Indicator>> {
        indicators::Entity::find()
            .filter(indicators::Column::ProjectId.eq(project.id.as_str()))
            .filter(indicators::Column::DeleteTime.is_null())
            .order_by_asc(indicators::Column::Id)
            .all(&self.txn)
            .await?
            .into_iter()
            .map(|row| super::projects::indicator_to_domain(row, &project.grant_id))
            .collect()
    }

    /// One milestone `scope` may see, inside the transaction.
    pub async fn milestone(&self, scope: &Scope, name: &MilestoneName) -> Result<Milestone> {
        find_milestone(&self.txn, scope, name).await
    }

    /// The milestone of (country, kind, date), created when new. Two
    /// transactions creating the same one meet at its unique key: the
    /// second finds the first's row.
    pub async fn milestone_for(
        &mut self,
        country_code: &str,
        kind: OutcomeKind,
        date: NaiveDate,
        fiscal_year: i32,
        description: &str,
    ) -> Result<String> {
        let find = || {
            milestones::Entity::find()
                .filter(milestones::Column::CountryCode.eq(country_code))
                .filter(milestones::Column::Kind.eq(kind.code()))
                .filter(milestones::Column::MilestoneDate.eq(date))
        };
        if let Some(row) = find().one(&self.txn).await? {
            return Ok(row.id);
        }
        let row = milestones::ActiveModel {
            // Random, not time-ordered: a milestone is shared, and its id must not tell another
            // grantee when (in whose draft) it was first reported.
            id: Set(uuid::Uuid::new_v4().to_string()),
            kind: Set(kind.code().to_string()),
            country_code: Set(country_code.to_string()),
            milestone_date: Set(date),
            fiscal_year: Set(fiscal_year),
            description: Set(description.to_string()),
            create_time: Set(now()),
        };
        let inserted = milestones::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    milestones::Column::CountryCode,
                    milestones::Column::Kind,
                    milestones::Column::MilestoneDate,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&self.txn)
            .await?;
        let row = find()
            .one(&self.txn)
            .await?
            .ok_or_else(|| Error::Internal("a milestone just written is missing".into()))?;
        if inserted > 0 {
            let milestone = milestone_to_domain(row.clone())?;
            self.audit(&milestone.resource_name(), None, Some(&milestone))?;
        }
        Ok(row.id)
    }

    /// Adds one outcome to `report`.
    pub async fn create_outcome(
        &mut self,
        report: &OutcomeReport,
        fields: OutcomeFields,
        fiscal_year: Option<i32>,
    ) -> Result<Outcome> {
        let row = outcome_row(report, new_id(), &fields, fiscal_year)?;
        let created = self
            .insert_audited(
                row,
                |row| outcome_to_domain(row, &report.name()),
                |created| (created.resource_name(), &created.fields),
            )
            .await?;
        self.touch_report(report).await?;
        Ok(created)
    }

    /// Adds a batch of outcomes to `report` in multi-row INSERTs (no audit event of their own:
    /// an upload records one for all its batches, `record_upload`). Returns how many.
    pub async fn insert_outcomes(
        &mut self,
        report: &OutcomeReport,
        outcomes: Vec<(OutcomeFields, Option<i32>)>,
    ) -> Result<u64> {
        let count = outcomes.len() as u64;
        for chunk in outcomes.chunks(INSERT_BATCH) {
            let rows = chunk
                .iter()
                .map(|(fields, fiscal_year)| outcome_row(report, new_id(), fields, *fiscal_year))
                .collect::<Result<Vec<_>>>()?;
            outcomes::Entity::insert_many(rows)
                .exec_without_returning(&self.txn)
                .await?;
        }
        Ok(count)
    }

    /// Records an upload of `count` outcomes into `report`: one audit event, and the report's
    /// new revision.
    pub async fn record_upload(&mut self, report: &OutcomeReport, count: u64) -> Result<()> {
        self.audit_with_diff(
            &report.resource_name(),
            serde_json::json!({"outcomes_uploaded": {"before": null, "after": count}}),
        );
        self.touch_report(report).await
    }

    /// Moves the report's revision: its content changed, so its etag does.
    async fn touch_report(&self, report: &OutcomeReport) -> Result<()> {
        outcome_reports::Entity::update_many()
            .col_expr(
                outcome_reports::Column::Revision,
                Expr::col(outcome_reports::Column::Revision).add(1),
            )
            .col_expr(outcome_reports::Column::UpdateTime, Expr::value(now()))
            .filter(outcome_reports::Column::Id.eq(report.id.as_str()))
            .exec(&self.txn)
            .await?;
        Ok(())
    }

    /// Reads an outcome of `report` for a change; it must be live and at `etag` when one is given.
    pub async fn outcome_for_update(
        &self,
        report: &OutcomeReport,
        id: &str,
        etag: Option<i64>,
    ) -> Result<Outcome> {
        let name = report.name();
        let outcome = outcomes::Entity::find_by_id(id)
            .filter(outcomes::Column::ReportId.eq(report.id.as_str()))
            .one(&self.txn)
            .await?
            .ok_or_else(|| {
                Error::not_found(OutcomeName::new(
                    &name.grant,
                    &name.project,
                    &name.report,
                    id,
                ))
            })
            .and_then(|row| outcome_to_domain(row, &name))?;
        outcome.writable(etag)
    }

    /// Saves new fields over `current`; `delete` soft-deletes it instead.
    pub async fn save_outcome(
        &mut self,
        report: &OutcomeReport,
        current: Outcome,
        fields: OutcomeFields,
        fiscal_year: Option<i32>,
        delete: bool,
    ) -> Result<Outcome> {
        let mut saved = current.clone();
        saved.fields = fields;
        saved.fiscal_year = fiscal_year;
        saved.stamps = current.stamps.next(now());
        let time = saved.stamps.update_time;
        if delete {
            saved.delete_time = Some(time);
        }
        outcomes::ActiveModel {
            id: Unchanged(current.id.clone()),
            kind: Set(saved.fields.kind.code().to_string()),
            country_code: Set(saved.fields.country_code.clone()),
            outcome_date: Set(saved.fields.outcome_date),
            fiscal_year: Set(saved.fiscal_year),
            quantity: Set(saved.fields.quantity),
            breakdown: Set(to_json_column(&saved.fields.breakdown)?),
            first_for_country: Set(saved.fields.first_for_country),
            description: Set(saved.fields.description.clone()),
            evidence_uri: Set(saved.fields.evidence_uri.clone()),
            indicator_id: Set(saved.fields.indicator_id.clone()),
            milestone_id: Set(saved.fields.milestone_id.clone()),
            delete_time: Set(saved.delete_time),
            ..Stamped::revised(saved.stamps)
        }
        .update(&self.txn)
        .await?;
        self.audit_save(
            &saved.resource_name(),
            &current.fields,
            &saved.fields,
            delete.then_some(time),
        )?;
        self.touch_report(report).await?;
        Ok(saved)
    }
}
