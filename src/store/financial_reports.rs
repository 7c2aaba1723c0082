//! Financial reports (SF-425). A grantee's scope is its own grants' reports.
//! Writes take the grant's row lock first, as every money change does.

use chrono::NaiveDate;
use sea_orm::{
    ActiveValue::{Set, Unchanged},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::financial_reports;
use super::grants::within_scope;
use super::{Keyset, Page, Stamped, Store, Tx, decode_code, new_id, now};
use crate::domain::access::Scope;
use crate::domain::financial_report::{
    Figures, FinancialReport, FinancialReportState, PreviousReport,
};
use crate::domain::money::Cents;
use crate::domain::names::{FinancialReportName, GrantName};
use crate::domain::outcome::ScheduledPeriod;
use crate::domain::payment::Spending;
use crate::domain::version::{self, Stamps};
use crate::error::{Error, Result};

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct FinancialReportFilter {
    /// One grant, or every visible grant.
    pub grant_id: Option<String>,
    pub state: Option<FinancialReportState>,
}

fn to_domain(row: financial_reports::Model) -> Result<FinancialReport> {
    Ok(FinancialReport {
        state: decode_code::<FinancialReportState>("financial_reports.state", &row.id, &row.state)?,
        stamps: row.stamps(),
        figures: Figures {
            cash_receipts: Cents(row.cash_receipts),
            cash_disbursements: Cents(row.cash_disbursements),
            federal_expenditures: Cents(row.federal_expenditures),
            federal_unliquidated_obligations: Cents(row.federal_unliquidated_obligations),
            recipient_share_required: Cents(row.recipient_share_required),
            recipient_share_expended: Cents(row.recipient_share_expended),
            indirect_rate_type: row.indirect_rate_type,
            indirect_rate_basis_points: row.indirect_rate_basis_points,
            indirect_base: Cents(row.indirect_base),
            indirect_amount: Cents(row.indirect_amount),
            expenditure_decrease_reason: row.expenditure_decrease_reason,
            remarks: row.remarks,
        },
        federal_funds_authorized: Cents(row.federal_funds_authorized),
        reviewer_comments: row.reviewer_comments,
        submitter: row.submitter,
        submitter_owner: row.submitter_owner,
        reviewer: row.reviewer,
        reviewer_owner: row.reviewer_owner,
        submit_time: row.submit_time,
        period: row.period,
        period_start_date: row.period_start_date,
        period_end_date: row.period_end_date,
        due_date: row.due_date,
        grant_id: row.grant_id,
        id: row.id,
    })
}

/// Every column that may change after creation, over `key`.
fn changing_columns(
    report: &FinancialReport,
    key: financial_reports::ActiveModel,
) -> financial_reports::ActiveModel {
    let figures = &report.figures;
    financial_reports::ActiveModel {
        state: Set(report.state.code().into()),
        cash_receipts: Set(figures.cash_receipts.0),
        cash_disbursements: Set(figures.cash_disbursements.0),
        federal_expenditures: Set(figures.federal_expenditures.0),
        federal_unliquidated_obligations: Set(figures.federal_unliquidated_obligations.0),
        recipient_share_required: Set(figures.recipient_share_required.0),
        recipient_share_expended: Set(figures.recipient_share_expended.0),
        indirect_rate_type: Set(figures.indirect_rate_type.clone()),
        indirect_rate_basis_points: Set(figures.indirect_rate_basis_points),
        indirect_base: Set(figures.indirect_base.0),
        indirect_amount: Set(figures.indirect_amount.0),
        expenditure_decrease_reason: Set(figures.expenditure_decrease_reason.clone()),
        remarks: Set(figures.remarks.clone()),
        federal_funds_authorized: Set(report.federal_funds_authorized.0),
        reviewer_comments: Set(report.reviewer_comments.clone()),
        submitter: Set(report.submitter.clone()),
        submitter_owner: Set(report.submitter_owner.clone()),
        reviewer: Set(report.reviewer.clone()),
        reviewer_owner: Set(report.reviewer_owner.clone()),
        submit_time: Set(report.submit_time),
        period_start_date: Set(report.period_start_date),
        period_end_date: Set(report.period_end_date),
        due_date: Set(report.due_date),
        ..key
    }
}

async fn find(
    conn: &impl ConnectionTrait,
    scope: &Scope,
    name: &FinancialReportName,
    lock: bool,
) -> Result<FinancialReport> {
    let mut select = within_scope(
        financial_reports::Entity::find_by_id(name.financial_report.as_str())
            .filter(financial_reports::Column::GrantId.eq(name.grant.as_str())),
        financial_reports::Column::GrantId,
        scope,
    );
    if lock {
        select = select.lock_exclusive();
    }
    select
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found(name))
        .and_then(to_domain)
}

impl Store {
    /// One financial report the caller may see.
    pub async fn get_financial_report(
        &self,
        scope: &Scope,
        name: &FinancialReportName,
    ) -> Result<FinancialReport> {
        find(&self.db, scope, name, false).await
    }

    /// A page of the financial reports the caller may see, oldest first.
    pub async fn list_financial_reports(
        &self,
        scope: &Scope,
        filter: &FinancialReportFilter,
        page: &Keyset,
    ) -> Result<Page<FinancialReport>> {
        if let Some(grant) = &filter.grant_id {
            super::grants::require_visible(&self.db, scope, grant).await?;
        }
        let mut select = within_scope(
            financial_reports::Entity::find(),
            financial_reports::Column::GrantId,
            scope,
        );
        if let Some(grant) = &filter.grant_id {
            select = select.filter(financial_reports::Column::GrantId.eq(grant.as_str()));
        }
        if let Some(state) = filter.state {
            select = select.filter(financial_reports::Column::State.eq(state.code()));
        }
        page.fetch(&self.db, select, financial_reports::Column::Id, |row| {
            row.id.clone()
        })
        .await?
        .try_map(to_domain)
    }

    /// What the grant's two latest given (submitted or accepted) reports say it spent, latest
    /// first: the recent spending an advance is weighed against.
    pub async fn recent_spending(&self, grant_id: &str) -> Result<Vec<Spending>> {
        let rows: Vec<(NaiveDate, i64)> = financial_reports::Entity::find()
            .select_only()
            .column(financial_reports::Column::PeriodEndDate)
            .column(financial_reports::Column::FederalExpenditures)
            .filter(financial_reports::Column::GrantId.eq(grant_id))
            .filter(
                financial_reports::Column::State
                    .is_in(FinancialReportState::GIVEN.map(FinancialReportState::code)),
            )
            .order_by_desc(financial_reports::Column::PeriodEndDate)
            .limit(2)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(as_of, expenditures)| Spending {
                as_of,
                expenditures: Cents(expenditures),
            })
            .collect())
    }

    /// Every report (any state) of some grants, for their schedules.
    pub async fn financial_reports_of_grants(
        &self,
        grant_ids: &[String],
    ) -> Result<Vec<FinancialReport>> {
        if grant_ids.is_empty() {
            return Ok(Vec::new());
        }
        financial_reports::Entity::find()
            .filter(financial_reports::Column::GrantId.is_in(grant_ids.iter().map(String::as_str)))
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    /// The periods (labels) of `grant_id` that have a given (submitted or accepted) report.
    pub async fn given_financial_periods(&self, grant_id: &str) -> Result<Vec<String>> {
        Ok(financial_reports::Entity::find()
            .select_only()
            .column(financial_reports::Column::Period)
            .filter(financial_reports::Column::GrantId.eq(grant_id))
            .filter(
                financial_reports::Column::State
                    .is_in(FinancialReportState::GIVEN.map(FinancialReportState::code)),
            )
            .into_tuple()
            .all(&self.db)
            .await?)
    }
}

impl Tx {
    /// A report for a change, locked until commit; checks `etag` when given. Take the grant's
    /// lock first.
    pub async fn financial_report_for_update(
        &self,
        scope: &Scope,
        name: &FinancialReportName,
        etag: Option<i64>,
    ) -> Result<FinancialReport> {
        let report = find(&self.txn, scope, name, true).await?;
        version::check_etag(&report.resource_name(), report.stamps.revision, etag)?;
        Ok(report)
    }

    /// The grant's latest given report of a period that ends before `before`.
    pub async fn previous_financial_report(
        &self,
        grant_id: &str,
        before: NaiveDate,
    ) -> Result<Option<PreviousReport>> {
        Ok(financial_reports::Entity::find()
            .filter(financial_reports::Column::GrantId.eq(grant_id))
            .filter(financial_reports::Column::PeriodEndDate.lt(before))
            .filter(
                financial_reports::Column::State
                    .is_in(FinancialReportState::GIVEN.map(FinancialReportState::code)),
            )
            .order_by_desc(financial_reports::Column::PeriodEndDate)
            .one(&self.txn)
            .await?
            .map(|row| PreviousReport {
                period: row.period,
                federal_expenditures: Cents(row.federal_expenditures),
            }))
    }

    /// Starts the report of `period` of grant `grant_id`, in DRAFT; ALREADY_EXISTS when the
    /// period has one.
    pub async fn create_financial_report(
        &mut self,
        grant_id: &str,
        period: &ScheduledPeriod,
        figures: Figures,
        authorized: Cents,
    ) -> Result<FinancialReport> {
        let label = period.period.to_string();
        if let Some(existing) = financial_reports::Entity::find()
            .filter(financial_reports::Column::GrantId.eq(grant_id))
            .filter(financial_reports::Column::Period.eq(label.as_str()))
            .one(&self.txn)
            .await?
        {
            let name = FinancialReportName::new(grant_id, existing.id);
            return Err(Error::AlreadyExists {
                resource: name.to_string(),
                message: format!(
                    "{} already has the {label} financial report {name}",
                    GrantName::new(grant_id)
                ),
            });
        }
        let report = FinancialReport {
            id: new_id(),
            grant_id: grant_id.to_string(),
            period: label,
            period_start_date: period.start_date,
            period_end_date: period.end_date,
            due_date: period.due_date,
            state: FinancialReportState::Draft,
            figures,
            federal_funds_authorized: authorized,
            reviewer_comments: String::new(),
            submitter: String::new(),
            submitter_owner: String::new(),
            reviewer: String::new(),
            reviewer_owner: String::new(),
            submit_time: None,
            stamps: Stamps::new(now()),
        };
        let key = financial_reports::ActiveModel {
            id: Set(report.id.clone()),
            grant_id: Set(report.grant_id.clone()),
            period: Set(report.period.clone()),
            period_start_date: Set(report.period_start_date),
            period_end_date: Set(report.period_end_date),
            due_date: Set(report.due_date),
            ..Stamped::created(report.stamps)
        };
        self.insert_audited(changing_columns(&report, key), to_domain, |created| {
            (created.resource_name(), created)
        })
        .await
    }

    /// Saves `after` (as the domain decided) over `current`.
    /// The grant's reports still open to change (DRAFT or RETURNED), locked until commit.
    pub async fn open_financial_reports(&self, grant_id: &str) -> Result<Vec<FinancialReport>> {
        financial_reports::Entity::find()
            .filter(financial_reports::Column::GrantId.eq(grant_id))
            .filter(
                financial_reports::Column::State.is_in(
                    [FinancialReportState::Draft, FinancialReportState::Returned]
                        .map(FinancialReportState::code),
                ),
            )
            .lock_exclusive()
            .all(&self.txn)
            .await?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    pub async fn save_financial_report(
        &mut self,
        current: FinancialReport,
        mut after: FinancialReport,
    ) -> Result<FinancialReport> {
        after.stamps = current.stamps.next(now());
        let key = financial_reports::ActiveModel {
            id: Unchanged(current.id.clone()),
            ..Stamped::revised(after.stamps)
        };
        self.update_audited(
            changing_columns(&after, key),
            &current,
            to_domain,
            |report| report,
        )
        .await
    }
}
