//! Reads for the exports in others' standards (IATI activity files, HTCDS case records), each
//! from ONE snapshot (as `reports.rs` takes it) and in keyset chunks, so an export holds one chunk
//! at a time: grants with everything an IATI activity says of them, and cases' pseudonymous
//! profiles (never their personal data, sealed or not, nor their case numbers or dates). No
//! decision here: `domain::iati` and `domain::htcds` decide what is written.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::{
    assistance_cases, countries, financial_reports, grants, indicators, obligations, organizations,
    outcome_reports, outcomes, payment_requests, project_countries, project_pillars, projects,
    regions,
};
use super::{Store, decode_code, now};
use crate::domain::access::Scope;
use crate::domain::assistance::Need;
use crate::domain::financial_report::FinancialReportState;
use crate::domain::htcds::CaseProfileFact;
use crate::domain::iati::{
    ActivityFacts, CountryFact, EvidenceLink, ExpenditureEntry, GranteeFact, IndicatorFact,
    ObligationEntry, PaymentEntry, ResultActual,
};
use crate::domain::money::Cents;
use crate::domain::outcome::OutcomeReportState;
use crate::domain::payment::PaymentRequestState;
use crate::domain::project::OutcomeKind;
use crate::error::{Error, Result};

/// The grants of an IATI export being read: one snapshot, grants in id order, a chunk at a time.
/// Dropping it ends the snapshot.
pub struct IatiActivities {
    snapshot: DatabaseTransaction,
    scope: Scope,
    /// Only grants whose period of performance overlaps these days.
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    after: Option<String>,
    done: bool,
    /// The region (code, name) of every country, read once.
    regions: BTreeMap<String, (String, String)>,
    /// When the snapshot was taken.
    pub as_of: DateTime<Utc>,
}

impl Store {
    /// Starts reading the grants `scope` may see whose period overlaps `from`..=`to`.
    pub async fn iati_activities(
        &self,
        scope: &Scope,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<IatiActivities> {
        let snapshot = self.long_read_snapshot().await?;
        let region_names: BTreeMap<String, String> = regions::Entity::find()
            .all(&snapshot)
            .await?
            .into_iter()
            .map(|region| (region.code, region.display_name))
            .collect();
        let regions = countries::Entity::find()
            .select_only()
            .columns([countries::Column::Alpha2, countries::Column::RegionCode])
            .into_tuple::<(String, String)>()
            .all(&snapshot)
            .await?
            .into_iter()
            .map(|(country, region)| {
                let name = region_names.get(&region).cloned().unwrap_or_default();
                (country, (region, name))
            })
            .collect();
        Ok(IatiActivities {
            snapshot,
            scope: scope.clone(),
            from,
            to,
            after: None,
            done: false,
            regions,
            as_of: now(),
        })
    }
}

/// An accepted outcome of some project: id, kind, indicator, project, its report's period,
/// fiscal year, date, country, quantity, milestone, evidence link, description.
type OutcomeRow = (
    String,
    String,
    String,
    String,
    String,
    Option<i32>,
    Option<NaiveDate>,
    String,
    i64,
    Option<String>,
    String,
    String,
);

/// By grant: its indicators with their actuals, and its evidence links.
type GrantResults = (
    BTreeMap<String, Vec<IndicatorFact>>,
    BTreeMap<String, Vec<EvidenceLink>>,
);

impl IatiActivities {
    /// The next grants (at most `limit`) as activities; `None` after the last.
    pub async fn next_chunk(&mut self, limit: u64) -> Result<Option<Vec<ActivityFacts>>> {
        if self.done {
            return Ok(None);
        }
        let mut select = super::grants::scoped(&self.scope);
        if let Some(from) = self.from {
            select = select.filter(grants::Column::EndDate.gte(from));
        }
        if let Some(to) = self.to {
            select = select.filter(grants::Column::StartDate.lte(to));
        }
        if let Some(after) = &self.after {
            select = select.filter(grants::Column::Id.gt(after.as_str()));
        }
        let grant_rows = select
            .order_by_asc(grants::Column::Id)
            .limit(limit)
            .all(&self.snapshot)
            .await?;
        if (grant_rows.len() as u64) < limit {
            self.done = true;
        }
        let Some(last) = grant_rows.last() else {
            return Ok(None);
        };
        self.after = Some(last.id.clone());
        let db = &self.snapshot;
        let grant_ids: Vec<&str> = grant_rows.iter().map(|grant| grant.id.as_str()).collect();
        let grantee_ids: BTreeSet<&str> = grant_rows
            .iter()
            .map(|grant| grant.organization_id.as_str())
            .collect();
        let mut grantees = BTreeMap::new();
        for row in organizations::Entity::find()
            .filter(organizations::Column::Id.is_in(grantee_ids))
            .all(db)
            .await?
        {
            let kind = decode_code("organizations.kind", &row.id, &row.kind)?;
            grantees.insert(
                row.id,
                GranteeFact {
                    name: row.display_name,
                    kind,
                    country_code: row.country_code,
                },
            );
        }
        let mut obligations_of: BTreeMap<String, Vec<ObligationEntry>> = BTreeMap::new();
        for row in obligations::Entity::find()
            .filter(obligations::Column::GrantId.is_in(grant_ids.clone()))
            .order_by_asc(obligations::Column::ObligationDate)
            .order_by_asc(obligations::Column::Id)
            .all(db)
            .await?
        {
            obligations_of
                .entry(row.grant_id.clone())
                .or_default()
                .push(ObligationEntry {
                    kind: decode_code("obligations.kind", &row.id, &row.kind)?,
                    fiscal_year: row.fiscal_year,
                    date: row.obligation_date,
                    amount: Cents(row.amount_cents),
                });
        }
        let mut payments_of: BTreeMap<String, Vec<PaymentEntry>> = BTreeMap::new();
        for row in payment_requests::Entity::find()
            .filter(payment_requests::Column::GrantId.is_in(grant_ids.clone()))
            .filter(payment_requests::Column::State.eq(PaymentRequestState::Paid.code()))
            .order_by_asc(payment_requests::Column::PaymentDate)
            .order_by_asc(payment_requests::Column::Id)
            .all(db)
            .await?
        {
            let Some(date) = row.payment_date else {
                continue;
            };
            payments_of
                .entry(row.grant_id.clone())
                .or_default()
                .push(PaymentEntry {
                    fiscal_year: row.fiscal_year,
                    date,
                    amount: Cents(row.amount_cents),
                });
        }
        let mut expenditures_of: BTreeMap<String, Vec<ExpenditureEntry>> = BTreeMap::new();
        for row in financial_reports::Entity::find()
            .filter(financial_reports::Column::GrantId.is_in(grant_ids.clone()))
            .filter(financial_reports::Column::State.eq(FinancialReportState::Accepted.code()))
            .order_by_asc(financial_reports::Column::PeriodEndDate)
            .order_by_asc(financial_reports::Column::Id)
            .all(db)
            .await?
        {
            expenditures_of
                .entry(row.grant_id.clone())
                .or_default()
                .push(ExpenditureEntry {
                    period: row.period,
                    period_end: row.period_end_date,
                    cumulative: Cents(row.federal_expenditures),
                });
        }
        let project_rows = projects::Entity::find()
            .filter(projects::Column::GrantId.is_in(grant_ids.clone()))
            .order_by_asc(projects::Column::Id)
            .all(db)
            .await?;
        let project_ids: Vec<&str> = project_rows.iter().map(|row| row.id.as_str()).collect();
        let grant_of: BTreeMap<&str, &str> = project_rows
            .iter()
            .map(|row| (row.id.as_str(), row.grant_id.as_str()))
            .collect();
        let mut countries_of: BTreeMap<String, BTreeSet<CountryFact>> = BTreeMap::new();
        for row in project_countries::Entity::find()
            .filter(project_countries::Column::ProjectId.is_in(project_ids.clone()))
            .all(db)
            .await?
        {
            let Some(grant) = grant_of.get(row.project_id.as_str()) else {
                continue;
            };
            let (region_code, region_name) = self
                .regions
                .get(&row.country_code)
                .cloned()
                .unwrap_or_default();
            countries_of
                .entry(grant.to_string())
                .or_default()
                .insert(CountryFact {
                    code: row.country_code,
                    region_code,
                    region_name,
                });
        }
        let mut pillars_of: BTreeMap<String, BTreeSet<crate::domain::pillar::Pillar>> =
            BTreeMap::new();
        for row in project_pillars::Entity::find()
            .filter(project_pillars::Column::ProjectId.is_in(project_ids.clone()))
            .all(db)
            .await?
        {
            let Some(grant) = grant_of.get(row.project_id.as_str()) else {
                continue;
            };
            let pillar = decode_code("project_pillars.pillar", &row.project_id, &row.pillar)?;
            pillars_of
                .entry(grant.to_string())
                .or_default()
                .insert(pillar);
        }
        let (mut indicators_of, mut evidence_of) =
            self.results(&grant_of, &project_rows, &project_ids).await?;
        let mut projects_of: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for row in &project_rows {
            projects_of
                .entry(row.grant_id.clone())
                .or_default()
                .push((row.title.clone(), row.summary.clone()));
        }
        let mut chunk = Vec::with_capacity(grant_rows.len());
        for grant in grant_rows {
            let grantee = grantees
                .get(&grant.organization_id)
                .cloned()
                .ok_or_else(|| {
                    Error::Internal(format!("grant {} has no organisation", grant.id))
                })?;
            chunk.push(ActivityFacts {
                state: decode_code("grants.state", &grant.id, &grant.state)?,
                award_number: grant.award_number,
                title: grant.title,
                start: grant.start_date,
                end: grant.end_date,
                last_updated: grant.update_time,
                grantee,
                projects: projects_of.remove(&grant.id).unwrap_or_default(),
                countries: countries_of
                    .remove(&grant.id)
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
                pillars: pillars_of
                    .remove(&grant.id)
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
                obligations: obligations_of.remove(&grant.id).unwrap_or_default(),
                payments: payments_of.remove(&grant.id).unwrap_or_default(),
                expenditures: expenditures_of.remove(&grant.id).unwrap_or_default(),
                indicators: indicators_of.remove(&grant.id).unwrap_or_default(),
                evidence: evidence_of.remove(&grant.id).unwrap_or_default(),
            });
        }
        Ok(Some(chunk))
    }

    /// The indicators of the chunk's projects with their accepted actuals, and the evidence links
    /// of accepted outcomes, by grant.
    async fn results(
        &self,
        grant_of: &BTreeMap<&str, &str>,
        project_rows: &[projects::Model],
        project_ids: &[&str],
    ) -> Result<GrantResults> {
        let db = &self.snapshot;
        let rows: Vec<OutcomeRow> = outcomes::Entity::find()
            .select_only()
            .column(outcomes::Column::Id)
            .column(outcomes::Column::Kind)
            .column(outcomes::Column::IndicatorId)
            .column(outcome_reports::Column::ProjectId)
            .column(outcome_reports::Column::Period)
            .column(outcomes::Column::FiscalYear)
            .column(outcomes::Column::OutcomeDate)
            .column(outcomes::Column::CountryCode)
            .column(outcomes::Column::Quantity)
            .column(outcomes::Column::MilestoneId)
            .column(outcomes::Column::EvidenceUri)
            .column(outcomes::Column::Description)
            .join(
                sea_orm::JoinType::InnerJoin,
                outcomes::Entity::belongs_to_report(),
            )
            .filter(outcome_reports::Column::ProjectId.is_in(project_ids.iter().copied()))
            .filter(outcome_reports::Column::State.eq(OutcomeReportState::Accepted.code()))
            .filter(outcomes::Column::DeleteTime.is_null())
            .order_by_asc(outcomes::Column::Id)
            .into_tuple()
            .all(db)
            .await?;
        let mut actuals_of: BTreeMap<String, Vec<ResultActual>> = BTreeMap::new();
        let mut evidence_of: BTreeMap<String, Vec<EvidenceLink>> = BTreeMap::new();
        for row in rows {
            let (id, kind, indicator, project, period, fiscal_year, date, country, quantity) = (
                row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8,
            );
            let (milestone, uri, text) = (row.9, row.10, row.11);
            let kind: OutcomeKind = decode_code("outcomes.kind", &id, &kind)?;
            if !uri.trim().is_empty()
                && let Some(grant) = grant_of.get(project.as_str())
            {
                evidence_of
                    .entry(grant.to_string())
                    .or_default()
                    .push(EvidenceLink {
                        uri,
                        description: text,
                        counts_victims: kind.counts_victims(),
                        fiscal_year,
                        date,
                    });
            }
            if !indicator.is_empty() {
                actuals_of.entry(indicator).or_default().push(ResultActual {
                    period,
                    fiscal_year,
                    date,
                    country_code: country,
                    quantity,
                    milestone_id: milestone,
                });
            }
        }
        let starts: BTreeMap<&str, NaiveDate> = project_rows
            .iter()
            .map(|row| (row.id.as_str(), row.start_date))
            .collect();
        let mut indicators_of: BTreeMap<String, Vec<IndicatorFact>> = BTreeMap::new();
        for row in indicators::Entity::find()
            .filter(indicators::Column::ProjectId.is_in(project_ids.iter().copied()))
            .filter(indicators::Column::DeleteTime.is_null())
            .order_by_asc(indicators::Column::Id)
            .all(db)
            .await?
        {
            let Some(grant) = grant_of
                .get(row.project_id.as_str())
                .map(|id| id.to_string())
            else {
                continue;
            };
            let project_start = starts
                .get(row.project_id.as_str())
                .copied()
                .unwrap_or_default();
            let actuals = actuals_of.remove(&row.id).unwrap_or_default();
            let indicator = super::projects::indicator_to_domain(row, &grant)?;
            indicators_of.entry(grant).or_default().push(IndicatorFact {
                indicator,
                project_start,
                actuals,
            });
        }
        Ok((indicators_of, evidence_of))
    }
}

/// The cases of an HTCDS export being read: one snapshot, in id order, a chunk at a time.
pub struct CaseProfiles {
    snapshot: DatabaseTransaction,
    from_year: Option<i32>,
    to_year: Option<i32>,
    after: Option<String>,
    done: bool,
}

impl Store {
    /// Starts reading the profiles of the cases referred in `from_year..=to_year` (each bound
    /// optional). Staff who read every case only: no scope is applied.
    pub async fn case_profiles(
        &self,
        from_year: Option<i32>,
        to_year: Option<i32>,
    ) -> Result<CaseProfiles> {
        Ok(CaseProfiles {
            snapshot: self.long_read_snapshot().await?,
            from_year,
            to_year,
            after: None,
            done: false,
        })
    }
}

impl CaseProfiles {
    /// The next profiles (at most `limit`); `None` after the last.
    pub async fn next_chunk(&mut self, limit: u64) -> Result<Option<Vec<CaseProfileFact>>> {
        if self.done {
            return Ok(None);
        }
        let mut select = assistance_cases::Entity::find().select_only().columns([
            assistance_cases::Column::Id,
            assistance_cases::Column::VictimSex,
            assistance_cases::Column::VictimAgeGroup,
            assistance_cases::Column::VictimNationality,
            assistance_cases::Column::TraffickingForm,
            assistance_cases::Column::FiscalYear,
            assistance_cases::Column::Needs,
            assistance_cases::Column::ConsentToStatistics,
        ]);
        if let Some(from) = self.from_year {
            select = select.filter(assistance_cases::Column::FiscalYear.gte(from));
        }
        if let Some(to) = self.to_year {
            select = select.filter(assistance_cases::Column::FiscalYear.lte(to));
        }
        if let Some(after) = &self.after {
            select = select.filter(assistance_cases::Column::Id.gt(after.as_str()));
        }
        let rows = select
            .order_by_asc(assistance_cases::Column::Id)
            .limit(limit)
            .into_tuple::<(
                String,
                String,
                String,
                String,
                String,
                i32,
                sea_orm::prelude::Json,
                bool,
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
        let mut chunk = Vec::with_capacity(rows.len());
        for (id, sex, age, nationality, form, fiscal_year, needs, consent) in rows {
            let needs: Vec<Need> = serde_json::from_value(needs)
                .map_err(|error| Error::Internal(format!("needs of case {id}: {error}")))?;
            chunk.push(CaseProfileFact {
                sex: decode_code("assistance_cases.victim_sex", &id, &sex)?,
                age_group: decode_code("assistance_cases.victim_age_group", &id, &age)?,
                nationality,
                trafficking_form: decode_code("assistance_cases.trafficking_form", &id, &form)?,
                fiscal_year,
                services: needs
                    .iter()
                    .filter(|need| need.paid.0 > 0)
                    .map(|need| need.kind)
                    .collect(),
                consent_to_statistics: consent,
            });
        }
        Ok(Some(chunk))
    }
}
