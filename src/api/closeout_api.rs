//! `tipgrants.v1.CloseoutService`: each grant's closeout, the overdue ones, and
//! their completion.

use tonic::{Request, Response, Status};

use super::grant_api::record_obligation;
use super::paging;
use super::{ProtoEnum, StateChange, accept_list, accept_name, filter_code};
use crate::domain::closeout::{self, Closeout, CloseoutStatus};
use crate::domain::fiscal_year::FiscalCalendar;
use crate::domain::grant::{self, Transition};
use crate::domain::names::{
    ANY, CloseoutName, FundingAccountName, GrantName, OrganizationName, ResourceName,
};
use crate::error::{Error, Result};
use crate::pb::v1 as pb;
use crate::pb::v1::closeout_service_server::CloseoutService;
use crate::store::grants::GrantFilter;
use crate::store::{Page, Store, now};

/// Serves closeouts.
pub struct CloseoutApi {
    store: Store,
    calendar: FiscalCalendar,
}

impl CloseoutApi {
    pub fn new(store: Store, calendar: FiscalCalendar) -> Self {
        Self { store, calendar }
    }
}

code_enum! {
    /// The fields a filter of closeouts may name.
    pub enum CloseoutFilterField {
        Status => "status",
    }
}

named_requests!(pb::GetCloseoutRequest,);
list_requests!(pb::ListCloseoutsRequest);
list_responses!(pb::ListCloseoutsResponse => closeouts: pb::Closeout);
state_change_requests!(; with reason: pb::CompleteCloseoutRequest);

fn to_proto(closeout: &Closeout) -> pb::Closeout {
    let grant = &closeout.grant;
    pb::Closeout {
        name: CloseoutName::new(&grant.id).to_string(),
        grant: grant.resource_name(),
        award_number: grant.terms.award_number.clone(),
        grantee: OrganizationName::new(&grant.terms.organization_id).to_string(),
        period_end_date: grant.terms.end_date.to_string(),
        due_date: closeout.due_date.to_string(),
        status: closeout.status.to_proto(),
        missing_final_outcome_reports: closeout.facts.missing_outcome_reports.clone(),
        final_financial_report_accepted: closeout.facts.final_financial_report_accepted,
        open_payment_requests: i32::try_from(closeout.facts.open_payment_requests)
            .unwrap_or(i32::MAX),
        open_projects: i32::try_from(closeout.facts.open_projects).unwrap_or(i32::MAX),
        balances: closeout
            .balances
            .iter()
            .map(|balance| pb::CloseoutBalance {
                funding_account: FundingAccountName::new(&balance.account_code).to_string(),
                fiscal_year: balance.fiscal_year,
                obligated_amount: balance.obligated.0,
                paid_amount: balance.paid.0,
                unliquidated_amount: balance.unliquidated().0,
            })
            .collect(),
        unliquidated_amount: closeout.unliquidated().0,
        blockers: if closeout.status == CloseoutStatus::Closed {
            Vec::new()
        } else {
            closeout.blockers()
        },
    }
}

impl CloseoutApi {
    /// The closeouts of `grants` today, their facts read together.
    async fn closeouts_of(&self, grants: Vec<grant::Grant>) -> Result<Vec<Closeout>> {
        let ids: Vec<String> = grants.iter().map(|grant| grant.id.clone()).collect();
        let mut facts = self.store.closeout_facts(&ids).await?;
        let today = now().date_naive();
        Ok(grants
            .into_iter()
            .map(|grant| {
                let found = facts.remove(&grant.id).unwrap_or_default();
                Closeout::of(grant, found, today)
            })
            .collect())
    }
}

#[tonic::async_trait]
impl CloseoutService for CloseoutApi {
    async fn get_closeout(
        &self,
        request: Request<pb::GetCloseoutRequest>,
    ) -> Result<Response<pb::Closeout>, Status> {
        let (call, name) = accept_name::<_, CloseoutName>(request)?;
        let grant = self
            .store
            .get_grant(&call.actor.scope(), &GrantName::new(&name.grant))
            .await?;
        let closeouts = self.closeouts_of(vec![grant]).await?;
        Ok(Response::new(
            closeouts.first().map(to_proto).unwrap_or_default(),
        ))
    }

    async fn list_closeouts(
        &self,
        request: Request<pb::ListCloseoutsRequest>,
    ) -> Result<Response<pb::ListCloseoutsResponse>, Status> {
        let (call, request, page) = accept_list(request)?;
        let parent = GrantName::parse("parent", &request.parent)?;
        if parent.grant != ANY {
            return Err(Error::invalid(
                "parent",
                "must be grants/-: read one grant's closeout with GetCloseout",
            )
            .into());
        }
        let today = now().date_naive();
        let mut ended_before = today;
        for (field, value) in paging::parse_filter::<CloseoutFilterField>(&request.filter)? {
            match field {
                CloseoutFilterField::Status => {
                    match filter_code::<CloseoutStatus>(&value, "closeout status")? {
                        CloseoutStatus::Overdue => {
                            ended_before = closeout::overdue_if_ended_before(today)
                        }
                        CloseoutStatus::Open => {}
                        other => {
                            return Err(Error::invalid(
                                "filter",
                                format!(
                                    "lists closeouts in progress only: status OPEN or OVERDUE, not {other}"
                                ),
                            )
                            .into());
                        }
                    }
                }
            }
        }
        let filter = GrantFilter {
            open_and_ended_before: Some(ended_before),
            ..GrantFilter::default()
        };
        let grants = self
            .store
            .list_grants(&call.actor.scope(), &filter, &page.keyset)
            .await?;
        let closeouts = Page {
            items: self.closeouts_of(grants.items).await?,
            next_after: grants.next_after,
        };
        Ok(page.respond(closeouts, to_proto))
    }

    async fn complete_closeout(
        &self,
        request: Request<pb::CompleteCloseoutRequest>,
    ) -> Result<Response<pb::Closeout>, Status> {
        let change = StateChange::<CloseoutName>::parse(request)?;
        let scope = change.call.actor.scope();
        let grant_name = GrantName::new(&change.name.grant);
        let answer = change
            .write
            .run(&self.store, async |tx| {
                let (grant, mut existing) = tx
                    .grant_and_obligations_for_update(&scope, &grant_name, change.expected)
                    .await?;
                let today = now().date_naive();
                let facts = tx.closeout_facts(&grant.id).await?;
                let closing = Closeout::of(grant.clone(), facts, today);
                closing.check_ready()?;
                let mut current = grant;
                for deobligation in closing.deobligations(today) {
                    let (obligation, after) = record_obligation(
                        tx,
                        &self.calendar,
                        current,
                        existing.clone(),
                        deobligation,
                        "closeout",
                    )
                    .await?;
                    existing.push(obligation);
                    current = after;
                }
                let projects = tx.grant_project_facts(&current.id).await?;
                let reason = if change.reason.trim().is_empty() {
                    "closeout completed".to_string()
                } else {
                    change.reason.clone()
                };
                let closed =
                    grant::decide_transition(&current, Transition::Close, &reason, projects)?;
                let saved = tx.save_grant(current, closed).await?;
                let facts = tx.closeout_facts(&saved.id).await?;
                Ok(to_proto(&Closeout::of(saved, facts, today)))
            })
            .await?;
        Ok(Response::new(answer))
    }
}
