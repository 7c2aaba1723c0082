//! `tipgrants.v1.PaymentService`: payment requests, their decisions and payments.

use tonic::{Request, Response, Status};

use super::paging;
use super::{
    ProtoEnum, StateChange, accept_list, accept_name, accept_write, etag, filter_code, parse_etag,
    required, timestamp,
};
use crate::domain::access::{Actor, Scope};
use crate::domain::financial_report;
use crate::domain::funds::FundsPosition;
use crate::domain::grant::Grant;
use crate::domain::names::{ANY, FundingAccountName, GrantName, PaymentRequestName, ResourceName};
use crate::domain::outcome::{self, OverduePeriod, ReportingRules};
use crate::domain::payment::{
    self, Decision, PaymentInput, PaymentKind, PaymentRequest, PaymentRequestState,
};
use crate::error::Result;
use crate::pb::v1 as pb;
use crate::pb::v1::payment_service_server::PaymentService;
use crate::store::outcomes::ScheduleFilter;
use crate::store::payments::PaymentRequestFilter;
use crate::store::{Store, Tx, now};

/// Serves payment requests.
pub struct PaymentApi {
    store: Store,
    rules: ReportingRules,
}

impl PaymentApi {
    pub fn new(store: Store, rules: ReportingRules) -> Self {
        Self { store, rules }
    }
}

code_enum! {
    /// The fields a filter of payment requests may name.
    pub enum PaymentRequestFilterField {
        State => "state",
    }
}

named_requests!(pb::GetPaymentRequestRequest,);
write_requests!(pb::CreatePaymentRequestRequest, pb::RecordPaymentRequest,);
list_requests!(pb::ListPaymentRequestsRequest);
list_responses!(pb::ListPaymentRequestsResponse => payment_requests: pb::PaymentRequest);
state_change_requests!(; with reason:
    pb::ApprovePaymentRequestRequest,
    pb::RefusePaymentRequestRequest
);

/// The proto form of a request, as `viewer` may see it (grantees never see staff token ids).
fn to_proto(request: &PaymentRequest, viewer: &Actor) -> pb::PaymentRequest {
    pb::PaymentRequest {
        name: request.resource_name(),
        kind: request.terms.kind.to_proto(),
        funding_account: FundingAccountName::new(&request.terms.account_code).to_string(),
        fiscal_year: request.terms.fiscal_year,
        amount: request.terms.amount.0,
        period_start_date: request.terms.period_start_date.to_string(),
        period_end_date: request.terms.period_end_date.to_string(),
        description: request.terms.description.clone(),
        state: request.state.to_proto(),
        state_reason: request.state_reason.clone(),
        requester: viewer.sees_actor(&request.requester),
        decider: viewer.sees_actor(&request.decider),
        payment_date: request
            .payment_date
            .map(|date| date.to_string())
            .unwrap_or_default(),
        payment_reference: request.payment_reference.clone(),
        excess_cash: !request.excess_cash_note.is_empty(),
        excess_cash_note: request.excess_cash_note.clone(),
        create_time: Some(timestamp(request.stamps.create_time)),
        update_time: Some(timestamp(request.stamps.update_time)),
        etag: etag(request.stamps.revision),
    }
}

impl PaymentApi {
    /// The first overdue report of `grant` today, if any: an outcome report of one of its live
    /// projects, else one of its financial reports. NOT_FOUND when the grant does not exist.
    async fn overdue_report(&self, grant: &GrantName) -> Result<Option<OverduePeriod>> {
        if let Some(overdue) = self.overdue_outcome_report(grant).await? {
            return Ok(Some(overdue));
        }
        let found = self.store.get_grant(&Scope::All, grant).await?;
        let given = self.store.given_financial_periods(&found.id).await?;
        let today = now().date_naive();
        Ok(financial_report::first_overdue(
            &self.rules,
            &found,
            &given,
            today,
        ))
    }

    /// The first overdue outcome report of `grant`'s live projects today, if any.
    async fn overdue_outcome_report(&self, grant: &GrantName) -> Result<Option<OverduePeriod>> {
        let filter = ScheduleFilter {
            grant_id: Some(grant.grant.clone()),
            ..ScheduleFilter::default()
        };
        let today = now().date_naive();
        let mut from: Option<String> = None;
        loop {
            let subjects = self
                .store
                .schedule_subjects(
                    &Scope::All,
                    &filter,
                    from.as_deref().map(|id| (id, false)),
                    100,
                )
                .await?;
            let Some(last) = subjects.last() else {
                return Ok(None);
            };
            from = Some(last.project.id.clone());
            let ids: Vec<String> = subjects.iter().map(|s| s.project.id.clone()).collect();
            let reports = self.store.reports_of_projects(&ids).await?;
            let projects: Vec<_> = subjects
                .iter()
                .map(|subject| (&subject.project, subject.cadence))
                .collect();
            if let Some(overdue) = outcome::first_overdue(&self.rules, &projects, &reports, today) {
                return Ok(Some(overdue));
            }
        }
    }

    /// The checks of money moving out (an approval or a payment on `day`), under the grant's
    /// lock: an ACTIVE grant, no `overdue` report (read before the transaction, so a
    /// transaction never waits for a second connection), payable funds, and (for an
    /// approval) room in the obligation.
    async fn check_payable(
        &self,
        tx: &Tx,
        grant: &Grant,
        request: &PaymentRequest,
        overdue: Option<&OverduePeriod>,
        day: chrono::NaiveDate,
        approving: bool,
    ) -> Result<()> {
        let resource = request.resource_name();
        payment::check_grant_active(grant)?;
        payment::check_no_overdue_report(overdue, &resource)?;
        let funds = tx
            .appropriation_read(&request.terms.account_code, request.terms.fiscal_year)
            .await?
            .map(|(appropriation, drawn)| {
                FundsPosition::new(appropriation, &drawn, day, &self.rules.calendar).status
            });
        payment::check_funds_payable(funds, &request.terms, &resource)?;
        if approving {
            let committed = tx
                .committed_payments(
                    &grant.id,
                    Some((&request.terms.account_code, request.terms.fiscal_year)),
                )
                .await?;
            payment::check_within_obligation(grant, committed, &request.terms, &resource)?;
        }
        Ok(())
    }

    /// The one path of both decisions; an approval's funds are judged on `decision_date`
    /// (`YYYY-MM-DD`, default today).
    async fn decide(
        &self,
        change: StateChange<PaymentRequestName>,
        decision: Decision,
        decision_date: &str,
    ) -> Result<pb::PaymentRequest> {
        let today = now().date_naive();
        let day = payment::decision_day(decision_date, today)?;
        let actor = change.call.actor.clone();
        let scope = actor.scope();
        let grant_name = GrantName::new(&change.name.grant);
        let overdue = match decision {
            Decision::Approve => self.overdue_report(&grant_name).await?,
            Decision::Refuse => None,
        };
        change
            .write
            .run(&self.store, async |tx| {
                let grant = tx.grant_for_update(&scope, &grant_name, None).await?;
                let current = tx
                    .payment_request_for_update(&scope, &change.name, change.expected)
                    .await?;
                let mut after = payment::decide(&current, decision, &actor, &change.reason)?;
                if decision == Decision::Approve {
                    self.check_payable(tx, &grant, &current, overdue.as_ref(), day, true)
                        .await?;
                    payment::state_decision_day(&mut after, day, today);
                }
                let saved = tx.save_payment_request(current, after).await?;
                Ok(to_proto(&saved, &actor))
            })
            .await
    }
}

#[tonic::async_trait]
impl PaymentService for PaymentApi {
    async fn create_payment_request(
        &self,
        request: Request<pb::CreatePaymentRequestRequest>,
    ) -> Result<Response<pb::PaymentRequest>, Status> {
        let (call, write, request) = accept_write(request)?;
        let parent = GrantName::parse("parent", &request.parent)?;
        let asked = required("payment_request", &request.payment_request)?;
        let terms = PaymentInput {
            kind: PaymentKind::from_proto(asked.kind),
            funding_account: &asked.funding_account,
            fiscal_year: asked.fiscal_year,
            amount: asked.amount,
            period_start_date: &asked.period_start_date,
            period_end_date: &asked.period_end_date,
            description: &asked.description,
        }
        .validate("payment_request")?;
        // Read before the transaction, as the overdue gate is: a transaction never waits for a
        // second connection.
        let spending = match terms.kind {
            PaymentKind::Advance => self.store.recent_spending(&parent.grant).await?,
            PaymentKind::Reimbursement => Vec::new(),
        };
        let answer = write
            .run(&self.store, async |tx| {
                let grant = tx
                    .grant_for_update(&call.actor.scope(), &parent, None)
                    .await?;
                payment::check_grant_active(&grant)?;
                let committed = tx
                    .committed_payments(&grant.id, Some((&terms.account_code, terms.fiscal_year)))
                    .await?;
                payment::check_within_obligation(&grant, committed, &terms, &parent.to_string())?;
                let held = tx.committed_payments(&grant.id, None).await?;
                let note = payment::excess_cash(
                    &terms,
                    held,
                    &spending,
                    grant.terms.start_date,
                    self.rules.advance_cash_days,
                );
                let created = tx.create_payment_request(&grant.id, terms, note).await?;
                Ok(to_proto(&created, &call.actor))
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn get_payment_request(
        &self,
        request: Request<pb::GetPaymentRequestRequest>,
    ) -> Result<Response<pb::PaymentRequest>, Status> {
        let (call, name) = accept_name::<_, PaymentRequestName>(request)?;
        let found = self
            .store
            .get_payment_request(&call.actor.scope(), &name)
            .await?;
        Ok(Response::new(to_proto(&found, &call.actor)))
    }

    async fn list_payment_requests(
        &self,
        request: Request<pb::ListPaymentRequestsRequest>,
    ) -> Result<Response<pb::ListPaymentRequestsResponse>, Status> {
        let (call, request, page) = accept_list(request)?;
        let parent = GrantName::parse("parent", &request.parent)?;
        let mut filter = PaymentRequestFilter {
            grant_id: (parent.grant != ANY).then(|| parent.grant.clone()),
            state: None,
        };
        for (field, value) in paging::parse_filter::<PaymentRequestFilterField>(&request.filter)? {
            match field {
                PaymentRequestFilterField::State => {
                    filter.state = Some(filter_code::<PaymentRequestState>(
                        &value,
                        "payment request state",
                    )?)
                }
            }
        }
        let found = self
            .store
            .list_payment_requests(&call.actor.scope(), &filter, &page.keyset)
            .await?;
        Ok(page.respond(found, |request| to_proto(request, &call.actor)))
    }

    async fn approve_payment_request(
        &self,
        request: Request<pb::ApprovePaymentRequestRequest>,
    ) -> Result<Response<pb::PaymentRequest>, Status> {
        let decision_date = request.get_ref().decision_date.clone();
        let change = StateChange::parse(request)?;
        Ok(Response::new(
            self.decide(change, Decision::Approve, &decision_date)
                .await?,
        ))
    }

    async fn refuse_payment_request(
        &self,
        request: Request<pb::RefusePaymentRequestRequest>,
    ) -> Result<Response<pb::PaymentRequest>, Status> {
        let change = StateChange::parse(request)?;
        Ok(Response::new(
            self.decide(change, Decision::Refuse, "").await?,
        ))
    }

    async fn record_payment(
        &self,
        request: Request<pb::RecordPaymentRequest>,
    ) -> Result<Response<pb::PaymentRequest>, Status> {
        let (call, write, request) = accept_write(request)?;
        let name = PaymentRequestName::parse("name", &request.name)?;
        let expected = parse_etag("etag", &request.etag)?;
        let scope = call.actor.scope();
        let grant_name = GrantName::new(&name.grant);
        let overdue = self.overdue_report(&grant_name).await?;
        let answer = write
            .run(&self.store, async |tx| {
                let grant = tx.grant_for_update(&scope, &grant_name, None).await?;
                let current = tx
                    .payment_request_for_update(&scope, &name, expected)
                    .await?;
                let today = now().date_naive();
                let after = payment::pay(
                    &current,
                    &request.payment_date,
                    &request.payment_reference,
                    today,
                )?;
                let day = after.payment_date.unwrap_or(today);
                self.check_payable(tx, &grant, &current, overdue.as_ref(), day, false)
                    .await?;
                let saved = tx.save_payment_request(current, after).await?;
                Ok(to_proto(&saved, &call.actor))
            })
            .await?;
        Ok(Response::new(answer))
    }
}
