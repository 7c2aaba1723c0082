//! What a grant's closeout needs to know: its live projects' final outcome
//! reports, its final financial report, its open payment requests and what
//! was paid from each obligation. Read on the caller's connection, so a
//! closeout completed in a transaction is decided on what that transaction
//! sees (the grant's row lock is taken first).

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

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

/// The closeout facts of each of `grant_ids`, in a fixed number of queries however many
/// grants there are (a page of closeouts reads them all at once).
async fn facts_of(
    conn: &impl ConnectionTrait,
    grant_ids: &[String],
) -> Result<HashMap<String, CloseoutFacts>> {
    let mut facts: HashMap<String, CloseoutFacts> = grant_ids
        .iter()
        .map(|id| (id.clone(), CloseoutFacts::default()))
        .collect();
    if grant_ids.is_empty() {
        return Ok(facts);
    }
    let ids = || grant_ids.iter().map(String::as_str);
    let final_period = ReportPeriod::Final.to_string();
    let live: Vec<(String, String, String)> = projects::Entity::find()
        .select_only()
        .column(projects::Column::GrantId)
        .column(projects::Column::Id)
        .column(projects::Column::State)
        .filter(projects::Column::GrantId.is_in(ids()))
        .filter(projects::Column::State.ne(ProjectState::Cancelled.code()))
        .into_tuple()
        .all(conn)
        .await?;
    let reported: HashSet<String> = outcome_reports::Entity::find()
        .select_only()
        .column(outcome_reports::Column::ProjectId)
        .filter(outcome_reports::Column::ProjectId.is_in(live.iter().map(|(_, id, _)| id.as_str())))
        .filter(outcome_reports::Column::Period.eq(final_period.as_str()))
        .filter(outcome_reports::Column::State.eq(OutcomeReportState::Accepted.code()))
        .into_tuple::<String>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let open_project_states = [ProjectState::Planned, ProjectState::Active].map(ProjectState::code);
    for (grant_id, project_id, state) in &live {
        let Some(grant) = facts.get_mut(grant_id) else {
            continue;
        };
        if !reported.contains(project_id) {
            grant
                .missing_outcome_reports
                .push(ProjectName::new(grant_id, project_id).to_string());
        }
        if open_project_states.contains(&state.as_str()) {
            grant.open_projects += 1;
        }
    }
    let accepted_finals: Vec<String> = financial_reports::Entity::find()
        .select_only()
        .column(financial_reports::Column::GrantId)
        .filter(financial_reports::Column::GrantId.is_in(ids()))
        .filter(financial_reports::Column::Period.eq(final_period.as_str()))
        .filter(financial_reports::Column::State.eq(FinancialReportState::Accepted.code()))
        .into_tuple()
        .all(conn)
        .await?;
    for grant_id in accepted_finals {
        if let Some(grant) = facts.get_mut(&grant_id) {
            grant.final_financial_report_accepted = true;
        }
    }
    let payments: Vec<(String, String, String, i32, Option<i64>, i64)> =
        payment_requests::Entity::find()
            .select_only()
            .column(payment_requests::Column::GrantId)
            .column(payment_requests::Column::State)
            .column(payment_requests::Column::AccountCode)
            .column(payment_requests::Column::FiscalYear)
            .column_as(Expr::cust("CAST(SUM(amount_cents) AS BIGINT)"), "amount")
            .column_as(Expr::cust("COUNT(*)"), "requests")
            .filter(payment_requests::Column::GrantId.is_in(ids()))
            .filter(
                payment_requests::Column::State.is_in(
                    [
                        PaymentRequestState::Submitted,
                        PaymentRequestState::Approved,
                        PaymentRequestState::Paid,
                    ]
                    .map(PaymentRequestState::code),
                ),
            )
            .group_by(payment_requests::Column::GrantId)
            .group_by(payment_requests::Column::State)
            .group_by(payment_requests::Column::AccountCode)
            .group_by(payment_requests::Column::FiscalYear)
            .into_tuple()
            .all(conn)
            .await?;
    for (grant_id, state, account, year, amount, requests) in payments {
        let Some(grant) = facts.get_mut(&grant_id) else {
            continue;
        };
        if state == PaymentRequestState::Paid.code() {
            grant.paid.push((account, year, Cents(amount.unwrap_or(0))));
        } else {
            grant.open_payment_requests += u64::try_from(requests).unwrap_or(0);
        }
    }
    Ok(facts)
}

async fn facts(conn: &impl ConnectionTrait, grant_id: &str) -> Result<CloseoutFacts> {
    Ok(facts_of(conn, &[grant_id.to_string()])
        .await?
        .remove(grant_id)
        .unwrap_or_default())
}

impl Store {
    /// What the closeouts of `grant_ids` need to know (the caller checked it may see them).
    pub async fn closeout_facts(
        &self,
        grant_ids: &[String],
    ) -> Result<HashMap<String, CloseoutFacts>> {
        facts_of(&self.db, grant_ids).await
    }
}

impl Tx {
    /// Like [`Store::closeout_facts`], in this transaction (after the grant's lock).
    pub async fn closeout_facts(&self, grant_id: &str) -> Result<CloseoutFacts> {
        facts(&self.txn, grant_id).await
    }
}
