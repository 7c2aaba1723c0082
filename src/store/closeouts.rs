//! What a grant's closeout needs to know: its live projects' final outcome
//! reports, its final financial report, its open payment requests and what
//! was paid from each obligation. Read on the caller's connection, so a
//! closeout completed in a transaction is decided on what that transaction
//! sees (the grant's row lock is taken first).

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};

use super::entities::{financial_reports, outcome_reports, payment_requests, projects};
use super::{Store, Tx};
use crate::domain::closeout::CloseoutFacts;
use crate::domain::financial_report::FinancialReportState;
use crate::domain::money::Cents;
use crate::domain::names::ProjectName;
use crate::domain::outcome::{OutcomeReportState, ReportPeriod};
use crate::domain::payment::PaymentRequestState;
use crate::domain::project::ProjectState;
use crate::error::Result;

async fn facts(conn: &impl ConnectionTrait, grant_id: &str) -> Result<CloseoutFacts> {
    let final_period = ReportPeriod::Final.to_string();
    let live: Vec<(String, String)> = projects::Entity::find()
        .select_only()
        .column(projects::Column::Id)
        .column(projects::Column::State)
        .filter(projects::Column::GrantId.eq(grant_id))
        .filter(projects::Column::State.ne(ProjectState::Cancelled.code()))
        .into_tuple()
        .all(conn)
        .await?;
    let reported: Vec<String> = outcome_reports::Entity::find()
        .select_only()
        .column(outcome_reports::Column::ProjectId)
        .filter(outcome_reports::Column::ProjectId.is_in(live.iter().map(|(id, _)| id.as_str())))
        .filter(outcome_reports::Column::Period.eq(final_period.as_str()))
        .filter(outcome_reports::Column::State.eq(OutcomeReportState::Accepted.code()))
        .into_tuple()
        .all(conn)
        .await?;
    let open_project_states = [ProjectState::Planned, ProjectState::Active].map(ProjectState::code);
    let final_financial = financial_reports::Entity::find()
        .filter(financial_reports::Column::GrantId.eq(grant_id))
        .filter(financial_reports::Column::Period.eq(final_period.as_str()))
        .filter(financial_reports::Column::State.eq(FinancialReportState::Accepted.code()))
        .count(conn)
        .await?;
    let open_payment_requests = payment_requests::Entity::find()
        .filter(payment_requests::Column::GrantId.eq(grant_id))
        .filter(
            payment_requests::Column::State.is_in(
                [
                    PaymentRequestState::Submitted,
                    PaymentRequestState::Approved,
                ]
                .map(PaymentRequestState::code),
            ),
        )
        .count(conn)
        .await?;
    let paid: Vec<(String, i32, Option<i64>)> = payment_requests::Entity::find()
        .select_only()
        .column(payment_requests::Column::AccountCode)
        .column(payment_requests::Column::FiscalYear)
        .column_as(Expr::cust("CAST(SUM(amount_cents) AS BIGINT)"), "paid")
        .filter(payment_requests::Column::GrantId.eq(grant_id))
        .filter(payment_requests::Column::State.eq(PaymentRequestState::Paid.code()))
        .group_by(payment_requests::Column::AccountCode)
        .group_by(payment_requests::Column::FiscalYear)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(CloseoutFacts {
        missing_outcome_reports: live
            .iter()
            .filter(|(id, _)| !reported.contains(id))
            .map(|(id, _)| ProjectName::new(grant_id, id).to_string())
            .collect(),
        final_financial_report_accepted: final_financial > 0,
        open_payment_requests,
        open_projects: live
            .iter()
            .filter(|(_, state)| open_project_states.contains(&state.as_str()))
            .count() as u64,
        paid: paid
            .into_iter()
            .map(|(account, year, paid)| (account, year, Cents(paid.unwrap_or(0))))
            .collect(),
    })
}

impl Store {
    /// What the closeout of grant `grant_id` needs to know (the caller checked it may see it).
    pub async fn closeout_facts(&self, grant_id: &str) -> Result<CloseoutFacts> {
        facts(&self.db, grant_id).await
    }
}

impl Tx {
    /// Like [`Store::closeout_facts`], in this transaction (after the grant's lock).
    pub async fn closeout_facts(&self, grant_id: &str) -> Result<CloseoutFacts> {
        facts(&self.txn, grant_id).await
    }
}
