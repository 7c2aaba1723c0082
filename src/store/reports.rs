//! Reads for fiscal-year reports: the plain facts of the caller's portfolio,
//! all from ONE snapshot (a read-only REPEATABLE READ transaction on
//! PostgreSQL, a read transaction on SQLite's WAL), so a report never mixes
//! data from before and after a concurrent write. Outcomes, the one table
//! that grows to millions of rows, are never loaded whole: exports read them
//! in keyset chunks (by id) inside that snapshot, so the server holds one
//! chunk at a time; reports read them added up by the database, one row per
//! group of outcomes that every figure counts alike (report, so grant and
//! project, country, kind, fiscal year: the parts of the k rule), a chunk of
//! reports at a time, and a milestone's outcomes one by one (they count once,
//! in id order). No rule here: the domain (`domain::report`) decides what
//! each group counts in and what may be shown. Assistance cases are read without
//! any personal data (not even sealed): only year, referrer, country, amounts
//! and the consent to statistics.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, SelectStatement};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};

use super::entities::assistance_cases;
use super::entities::regions as region_rows;
use super::entities::{
    countries, funding_accounts, grants, obligations, organizations, outcome_reports, outcomes,
    project_countries, project_pillars, projects,
};
use super::grants::{grant_ids_where, within_scope};
use super::{Store, decode_code, now};
use crate::domain::access::Scope;
use crate::domain::case_statistics::CaseFact;
use crate::domain::grant::ObligationKind;
use crate::domain::money::Cents;
use crate::domain::names::OutcomeReportName;
use crate::domain::outcome::Outcome;
use crate::domain::outcome::OutcomeReportState;
use crate::domain::pillar::Pillar;
use crate::domain::report::{
    ExportFilter, GrantFact, ObligationFact, OutcomeFact, Portfolio, ProjectFact,
};
use crate::error::Result;

/// A portfolio, the display names of its groups, and the time its snapshot was taken.
#[derive(Debug, Clone)]
pub struct PortfolioSnapshot {
    pub portfolio: Portfolio,
    pub names: GroupNames,
    pub as_of: DateTime<Utc>,
}

/// Display names by code or id, from the same snapshot.
#[derive(Debug, Clone, Default)]
pub struct GroupNames {
    pub accounts: BTreeMap<String, String>,
    pub countries: BTreeMap<String, String>,
    pub regions: BTreeMap<String, String>,
    /// The grantees of the grants read.
    pub organizations: BTreeMap<String, String>,
}

impl Store {
    /// The grants `scope` may see, with their projects and obligations, and
    /// the outcomes of their accepted reports to read in chunks, all from one snapshot.
    pub async fn portfolio(&self, scope: &Scope) -> Result<(PortfolioSnapshot, AcceptedOutcomes)> {
        let snapshot = self.snapshot().await?;
        let grant_rows = super::grants::scoped(scope).order_by_asc(grants::Column::Id);
        let obligation_rows = within_scope(
            obligations::Entity::find().order_by_asc(obligations::Column::Id),
            obligations::Column::GrantId,
            scope,
        );
        let project_rows = within_scope(
            projects::Entity::find().order_by_asc(projects::Column::Id),
            projects::Column::GrantId,
            scope,
        );
        // Accepted reports: (grant, project) by report id; their outcomes are read later, in chunks.
        let report_rows = within_scope(
            outcome_reports::Entity::find()
                .select_only()
                .columns([
                    outcome_reports::Column::Id,
                    outcome_reports::Column::GrantId,
                    outcome_reports::Column::ProjectId,
                ])
                .filter(outcome_reports::Column::State.eq(OutcomeReportState::Accepted.code())),
            outcome_reports::Column::GrantId,
            scope,
        );
        let grant_rows = grant_rows.all(&snapshot).await?;
        let as_of = now();
        let obligation_rows = obligation_rows.all(&snapshot).await?;
        let project_rows = project_rows.all(&snapshot).await?;
        let accepted: BTreeMap<String, (String, String)> = report_rows
            .into_tuple::<(String, String, String)>()
            .all(&snapshot)
            .await?
            .into_iter()
            .map(|(id, grant, project)| (id, (grant, project)))
            .collect();
        let project_ids: BTreeSet<&str> = project_rows.iter().map(|p| p.id.as_str()).collect();
        let mut names = GroupNames::default();
        let mut regions: BTreeMap<String, String> = BTreeMap::new();
        for country in countries::Entity::find().all(&snapshot).await? {
            names
                .countries
                .insert(country.alpha2.clone(), country.display_name);
            regions.insert(country.alpha2, country.region_code);
        }
        names.regions = region_rows::Entity::find()
            .all(&snapshot)
            .await?
            .into_iter()
            .map(|region| (region.code, region.display_name))
            .collect();
        names.accounts = funding_accounts::Entity::find()
            .all(&snapshot)
            .await?
            .into_iter()
            .map(|account| (account.code, account.display_name))
            .collect();
        let grantees: BTreeSet<&str> = grant_rows
            .iter()
            .map(|grant| grant.organization_id.as_str())
            .collect();
        names.organizations = organizations::Entity::find()
            .all(&snapshot)
            .await?
            .into_iter()
            .filter(|organization| grantees.contains(organization.id.as_str()))
            .map(|organization| (organization.id, organization.display_name))
            .collect();
        let mut countries_of: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for row in project_countries::Entity::find()
            .order_by_asc(project_countries::Column::CountryCode)
            .all(&snapshot)
            .await?
        {
            if project_ids.contains(row.project_id.as_str()) {
                let region = regions.get(&row.country_code).cloned().unwrap_or_default();
                countries_of
                    .entry(row.project_id)
                    .or_default()
                    .push((row.country_code, region));
            }
        }
        let mut pillars_of: BTreeMap<String, Vec<Pillar>> = BTreeMap::new();
        for row in project_pillars::Entity::find().all(&snapshot).await? {
            if project_ids.contains(row.project_id.as_str()) {
                let pillar = decode_code("project_pillars.pillar", &row.project_id, &row.pillar)?;
                pillars_of.entry(row.project_id).or_default().push(pillar);
            }
        }
        let mut cases = assistance_cases::Entity::find()
            .select_only()
            .columns([
                assistance_cases::Column::FiscalYear,
                assistance_cases::Column::ReferringOrganizationId,
                assistance_cases::Column::CountryCode,
                assistance_cases::Column::RequestedAmount,
                assistance_cases::Column::ApprovedAmount,
                assistance_cases::Column::PaidAmount,
                assistance_cases::Column::ConsentToStatistics,
            ])
            .order_by_asc(assistance_cases::Column::Id);
        if let Scope::Organization(organization) = scope {
            cases = cases.filter(
                assistance_cases::Column::ReferringOrganizationId.eq(organization.as_str()),
            );
        }
        let case_facts = cases
            .into_tuple::<(i32, String, String, i64, i64, i64, bool)>()
            .all(&snapshot)
            .await?
            .into_iter()
            .map(
                |(
                    fiscal_year,
                    referring_organization_id,
                    country_code,
                    requested,
                    approved,
                    paid,
                    consent,
                )| {
                    CaseFact {
                        fiscal_year,
                        referring_organization_id,
                        region_code: regions.get(&country_code).cloned().unwrap_or_default(),
                        country_code,
                        requested_cents: requested,
                        approved_cents: approved,
                        paid_cents: paid,
                        consent_to_statistics: consent,
                    }
                },
            )
            .collect();

        let mut projects_of: BTreeMap<String, Vec<ProjectFact>> = BTreeMap::new();
        for project in project_rows {
            projects_of
                .entry(project.grant_id)
                .or_default()
                .push(ProjectFact {
                    countries: countries_of.remove(&project.id).unwrap_or_default(),
                    pillars: pillars_of.remove(&project.id).unwrap_or_default(),
                    id: project.id,
                    start: project.start_date,
                    end: project.end_date,
                });
        }
        let grants = grant_rows
            .into_iter()
            .map(|grant| GrantFact {
                projects: projects_of.remove(&grant.id).unwrap_or_default(),
                id: grant.id,
                organization_id: grant.organization_id,
                start: grant.start_date,
                end: grant.end_date,
            })
            .collect();
        // Stored amounts are positive whatever the kind: a de-obligation counts negative.
        let deobligation = ObligationKind::Deobligation.code();
        let obligations = obligation_rows
            .into_iter()
            .map(|row| ObligationFact {
                amount: Cents(if row.kind == deobligation {
                    -row.amount_cents
                } else {
                    row.amount_cents
                }),
                grant_id: row.grant_id,
                account_code: row.account_code,
                fiscal_year: row.fiscal_year,
            })
            .collect();
        let outcomes = AcceptedOutcomes {
            snapshot,
            accepted_reports: accepted_reports(scope, None),
            accepted,
            regions,
            after_report: None,
            groups_done: false,
            after: None,
            done: false,
        };
        Ok((
            PortfolioSnapshot {
                portfolio: Portfolio {
                    grants,
                    obligations,
                    outcomes: Vec::new(),
                    cases: case_facts,
                },
                names,
                as_of,
            },
            outcomes,
        ))
    }
}

/// The ids of the accepted outcome reports of `scope` (and of `grantee`'s grants, when given).
fn accepted_reports(scope: &Scope, grantee: Option<&str>) -> SelectStatement {
    let mut accepted = within_scope(
        outcome_reports::Entity::find()
            .select_only()
            .column(outcome_reports::Column::Id)
            .filter(outcome_reports::Column::State.eq(OutcomeReportState::Accepted.code())),
        outcome_reports::Column::GrantId,
        scope,
    );
    if let Some(grantee) = grantee {
        accepted = accepted.filter(
            outcome_reports::Column::GrantId
                .in_subquery(grant_ids_where(grants::Column::OrganizationId.eq(grantee))),
        );
    }
    accepted.into_query()
}

/// The outcomes of a portfolio's accepted reports, from the portfolio's snapshot: first the
/// outcomes of no milestone, counted by the database in groups that every figure of a report
/// counts alike, a chunk of reports at a time (a report reads a row per group, not per
/// outcome); then the outcomes of milestones one by one in keyset chunks (by id), since of one
/// milestone's outcomes in a figure the first counts. Memory holds one chunk at a time.
/// Dropping it ends the snapshot.
pub struct AcceptedOutcomes {
    snapshot: DatabaseTransaction,
    accepted_reports: SelectStatement,
    /// (grant, project) by accepted report id.
    accepted: BTreeMap<String, (String, String)>,
    /// The region of every country.
    regions: BTreeMap<String, String>,
    /// The last report whose groups were read.
    after_report: Option<String>,
    groups_done: bool,
    /// The id of the last milestone's outcome read.
    after: Option<String>,
    done: bool,
}

/// Accepted reports whose outcomes are added up in one query: a chunk holds their groups (a
/// report's outcomes fall in a few countries, kinds and fiscal years).
const REPORTS_PER_CHUNK: usize = 1_000;

/// A quantity is added up in SQL as its millions and its units below a million, apart: neither
/// sum can overflow 64 bits, and they are put together saturating, as the domain adds outcomes.
const MILLION: i64 = 1_000_000;

/// The outcomes of one report (none of a milestone) with the same kind, country and fiscal year
/// (or date, when the year is not recorded), added up.
#[derive(Debug, FromQueryResult)]
struct OutcomeGroup {
    report_id: String,
    kind: String,
    country_code: String,
    fiscal_year: Option<i32>,
    /// The date, only when the fiscal year is not recorded (the domain computes it then).
    undated_year_day: Option<chrono::NaiveDate>,
    outcomes: i64,
    quantity_millions: i64,
    quantity_units: i64,
}

impl AcceptedOutcomes {
    /// The next outcomes: groups of a chunk of at most [`REPORTS_PER_CHUNK`] reports, then at
    /// most `limit` outcomes of milestones; `None` after the last.
    pub async fn next_chunk(&mut self, limit: u64) -> Result<Option<Vec<OutcomeFact>>> {
        if !self.groups_done {
            let after = match &self.after_report {
                Some(report) => Bound::Excluded(report.as_str()),
                None => Bound::Unbounded,
            };
            let reports: Vec<&str> = self
                .accepted
                .range::<str, _>((after, Bound::Unbounded))
                .take(REPORTS_PER_CHUNK)
                .map(|(report, _)| report.as_str())
                .collect();
            if let Some(last) = reports.last() {
                self.after_report = Some(last.to_string());
                return self.groups_of(reports).await.map(Some);
            }
            self.groups_done = true;
        }
        if self.done || self.accepted.is_empty() {
            return Ok(None);
        }
        let mut select = outcomes::Entity::find()
            .filter(outcomes::Column::DeleteTime.is_null())
            .filter(outcomes::Column::MilestoneId.is_not_null())
            .filter(outcomes::Column::ReportId.in_subquery(self.accepted_reports.clone()));
        if let Some(after) = &self.after {
            select = select.filter(outcomes::Column::Id.gt(after.as_str()));
        }
        let rows = select
            .select_only()
            .columns([
                outcomes::Column::Id,
                outcomes::Column::ReportId,
                outcomes::Column::Kind,
                outcomes::Column::CountryCode,
                outcomes::Column::FiscalYear,
                outcomes::Column::OutcomeDate,
                outcomes::Column::Quantity,
                outcomes::Column::MilestoneId,
            ])
            .order_by_asc(outcomes::Column::Id)
            .limit(limit)
            .into_tuple::<(
                String,
                String,
                String,
                String,
                Option<i32>,
                Option<chrono::NaiveDate>,
                i64,
                Option<String>,
            )>()
            .all(&self.snapshot)
            .await?;
        if (rows.len() as u64) < limit {
            self.done = true;
        }
        let Some(last) = rows.last() else {
            return Ok(None);
        };
        self.after = Some(last.0.clone());
        let mut facts = Vec::with_capacity(rows.len());
        for (id, report_id, kind, country_code, fiscal_year, date, quantity, milestone_id) in rows {
            // Read in the same snapshot as `accepted`, so every row's report is there.
            let Some((grant_id, project_id)) = self.accepted.get(&report_id) else {
                continue;
            };
            facts.push(OutcomeFact {
                grant_id: grant_id.clone(),
                project_id: project_id.clone(),
                kind: decode_code("outcomes.kind", &id, &kind)?,
                region_code: self.regions.get(&country_code).cloned().unwrap_or_default(),
                country_code,
                fiscal_year,
                date,
                quantity,
                count: 1,
                milestone_id,
            });
        }
        Ok(Some(facts))
    }

    /// The outcomes of no milestone of `reports`, added up by report, kind, country and fiscal
    /// year.
    async fn groups_of(&self, reports: Vec<&str>) -> Result<Vec<OutcomeFact>> {
        let column = |column: outcomes::Column| Expr::col((outcomes::Entity, column));
        let undated_year_day: Expr = Expr::case(
            column(outcomes::Column::FiscalYear).is_null(),
            column(outcomes::Column::OutcomeDate),
        )
        .into();
        let sum = |expr: Expr| -> Expr { Func::cast_as(Func::sum(expr), "BIGINT").into() };
        let groups = outcomes::Entity::find()
            .select_only()
            .filter(outcomes::Column::DeleteTime.is_null())
            .filter(outcomes::Column::MilestoneId.is_null())
            .filter(outcomes::Column::ReportId.is_in(reports))
            .columns([
                outcomes::Column::ReportId,
                outcomes::Column::Kind,
                outcomes::Column::CountryCode,
                outcomes::Column::FiscalYear,
            ])
            .column_as(undated_year_day.clone(), "undated_year_day")
            .column_as(outcomes::Column::Id.count(), "outcomes")
            .column_as(
                sum(column(outcomes::Column::Quantity).div(MILLION)),
                "quantity_millions",
            )
            .column_as(
                sum(column(outcomes::Column::Quantity).modulo(MILLION)),
                "quantity_units",
            )
            .group_by(outcomes::Column::ReportId)
            .group_by(outcomes::Column::Kind)
            .group_by(outcomes::Column::CountryCode)
            .group_by(outcomes::Column::FiscalYear)
            .group_by(undated_year_day)
            .into_model::<OutcomeGroup>()
            .all(&self.snapshot)
            .await?;
        let mut facts = Vec::with_capacity(groups.len());
        for group in groups {
            let Some((grant_id, project_id)) = self.accepted.get(&group.report_id) else {
                continue;
            };
            facts.push(OutcomeFact {
                grant_id: grant_id.clone(),
                project_id: project_id.clone(),
                kind: decode_code("outcomes.kind", &group.report_id, &group.kind)?,
                region_code: self
                    .regions
                    .get(&group.country_code)
                    .cloned()
                    .unwrap_or_default(),
                country_code: group.country_code,
                fiscal_year: group.fiscal_year,
                date: group.undated_year_day,
                quantity: group
                    .quantity_millions
                    .saturating_mul(MILLION)
                    .saturating_add(group.quantity_units),
                count: group.outcomes,
                milestone_id: None,
            });
        }
        Ok(facts)
    }
}

/// One accepted outcome of an export, with its grantee and region.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedOutcome {
    pub outcome: Outcome,
    /// The grantee of its grant (organisation id).
    pub grantee_id: String,
    pub region_code: String,
    /// What a spreadsheet reader needs beside the ids: the grantee's name, the grant's award
    /// number and the project's title.
    pub grantee_display_name: String,
    pub award_number: String,
    pub project_title: String,
}

/// An export being read: one snapshot, read in keyset chunks (by outcome id)
/// so memory holds one chunk whatever the number of rows. Dropping it ends
/// the snapshot.
pub struct OutcomeExport {
    snapshot: DatabaseTransaction,
    scope: Scope,
    filter: ExportFilter,
    /// The id of the last outcome read.
    after: Option<String>,
    done: bool,
    /// The region of every country, read once.
    regions: BTreeMap<String, String>,
}

impl Store {
    /// Starts an export of the accepted outcomes `scope` may see that match `filter`.
    pub async fn export_outcomes(
        &self,
        scope: &Scope,
        filter: ExportFilter,
    ) -> Result<OutcomeExport> {
        let snapshot = self.snapshot().await?;
        let regions = countries::Entity::find()
            .select_only()
            .columns([countries::Column::Alpha2, countries::Column::RegionCode])
            .into_tuple::<(String, String)>()
            .all(&snapshot)
            .await?
            .into_iter()
            .collect();
        Ok(OutcomeExport {
            snapshot,
            scope: scope.clone(),
            filter,
            after: None,
            done: false,
            regions,
        })
    }
}

impl OutcomeExport {
    /// The next rows (at most `limit`), in outcome id order; `None` after the last.
    pub async fn next_chunk(&mut self, limit: u64) -> Result<Option<Vec<ExportedOutcome>>> {
        if self.done {
            return Ok(None);
        }
        let filter = &self.filter;
        let accepted = accepted_reports(&self.scope, filter.grantee.as_deref());
        // A grantee filtering on another grantee gets nothing (never someone else's rows).
        let foreign = matches!((&self.scope, &filter.grantee),
            (Scope::Organization(own), Some(grantee)) if own.as_str() != grantee);
        let mut select = outcomes::Entity::find()
            .filter(outcomes::Column::DeleteTime.is_null())
            .filter(outcomes::Column::ReportId.in_subquery(accepted));
        if let Some(from) = filter.from_year {
            select = select.filter(outcomes::Column::FiscalYear.gte(from));
        }
        if let Some(to) = filter.to_year {
            select = select.filter(outcomes::Column::FiscalYear.lte(to));
        }
        if let Some(country) = &filter.country {
            select = select.filter(outcomes::Column::CountryCode.eq(country.as_str()));
        }
        if let Some(region) = &filter.region {
            let countries: Vec<&str> = self
                .regions
                .iter()
                .filter(|(_, code)| *code == region)
                .map(|(country, _)| country.as_str())
                .collect();
            select = select.filter(outcomes::Column::CountryCode.is_in(countries));
        }
        if let Some(kind) = filter.kind {
            select = select.filter(outcomes::Column::Kind.eq(kind.code()));
        }
        if let Some(after) = &self.after {
            select = select.filter(outcomes::Column::Id.gt(after.as_str()));
        }
        let rows = if foreign {
            Vec::new()
        } else {
            select
                .order_by_asc(outcomes::Column::Id)
                .limit(limit)
                .all(&self.snapshot)
                .await?
        };
        if (rows.len() as u64) < limit {
            self.done = true;
        }
        let Some(last) = rows.last() else {
            return Ok(None);
        };
        self.after = Some(last.id.clone());
        // The chunk's reports and grants: where each row belongs.
        let report_ids: BTreeSet<&str> = rows.iter().map(|row| row.report_id.as_str()).collect();
        let reports: BTreeMap<String, (String, String)> = outcome_reports::Entity::find()
            .select_only()
            .columns([
                outcome_reports::Column::Id,
                outcome_reports::Column::GrantId,
                outcome_reports::Column::ProjectId,
            ])
            .filter(outcome_reports::Column::Id.is_in(report_ids))
            .into_tuple::<(String, String, String)>()
            .all(&self.snapshot)
            .await?
            .into_iter()
            .map(|(id, grant, project)| (id, (grant, project)))
            .collect();
        let grant_ids: BTreeSet<&str> = reports.values().map(|(grant, _)| grant.as_str()).collect();
        let project_ids: BTreeSet<&str> = reports
            .values()
            .map(|(_, project)| project.as_str())
            .collect();
        // grant id -> (grantee id, award number)
        let grant_rows: BTreeMap<String, (String, String)> = grants::Entity::find()
            .select_only()
            .columns([
                grants::Column::Id,
                grants::Column::OrganizationId,
                grants::Column::AwardNumber,
            ])
            .filter(grants::Column::Id.is_in(grant_ids))
            .into_tuple::<(String, String, String)>()
            .all(&self.snapshot)
            .await?
            .into_iter()
            .map(|(id, organization, award)| (id, (organization, award)))
            .collect();
        let organization_ids: BTreeSet<&str> = grant_rows
            .values()
            .map(|(organization, _)| organization.as_str())
            .collect();
        let organization_names: BTreeMap<String, String> = organizations::Entity::find()
            .select_only()
            .columns([
                organizations::Column::Id,
                organizations::Column::DisplayName,
            ])
            .filter(organizations::Column::Id.is_in(organization_ids))
            .into_tuple::<(String, String)>()
            .all(&self.snapshot)
            .await?
            .into_iter()
            .collect();
        let project_titles: BTreeMap<String, String> = projects::Entity::find()
            .select_only()
            .columns([projects::Column::Id, projects::Column::Title])
            .filter(projects::Column::Id.is_in(project_ids))
            .into_tuple::<(String, String)>()
            .all(&self.snapshot)
            .await?
            .into_iter()
            .collect();
        let mut chunk = Vec::with_capacity(rows.len());
        for row in rows {
            let (grant, project) = reports.get(&row.report_id).cloned().unwrap_or_default();
            let (grantee_id, award_number) = grant_rows.get(&grant).cloned().unwrap_or_default();
            let grantee_display_name = organization_names
                .get(&grantee_id)
                .cloned()
                .unwrap_or_default();
            let project_title = project_titles.get(&project).cloned().unwrap_or_default();
            let region_code = self
                .regions
                .get(&row.country_code)
                .cloned()
                .unwrap_or_default();
            let report = OutcomeReportName::new(&grant, &project, &row.report_id);
            chunk.push(ExportedOutcome {
                outcome: super::outcomes::outcome_to_domain(row, &report)?,
                grantee_id,
                region_code,
                grantee_display_name,
                award_number,
                project_title,
            });
        }
        Ok(Some(chunk))
    }
}
