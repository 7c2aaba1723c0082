//! `tipgrants.v1.AmendmentService`: amendments of awards, requested and signed.

use tonic::{Request, Response, Status};

use super::grant_api::{budget_input, budget_to_proto, record_obligation};
use super::paging;
use super::{
    ProtoEnum, StateChange, accept_list, accept_name, accept_write, etag, filter_code, required,
    timestamp,
};
use super::{financial_report_api, project_api};
use crate::domain::access::Actor;
use crate::domain::amendment::{
    self, Amendment, AmendmentInput, AmendmentKind, AmendmentState, Decision,
};
use crate::domain::grant::Grant;
use crate::domain::names::{
    ANY, AmendmentName, FundingAccountName, GrantName, ObligationName, ResourceName,
};
use crate::domain::outcome::ReportingRules;
use crate::error::Result;
use crate::pb::v1 as pb;
use crate::pb::v1::amendment_service_server::AmendmentService;
use crate::store::amendments::AmendmentFilter;
use crate::store::{Store, Tx, now};

/// Serves amendments.
pub struct AmendmentApi {
    store: Store,
    rules: ReportingRules,
}

impl AmendmentApi {
    pub fn new(store: Store, rules: ReportingRules) -> Self {
        Self { store, rules }
    }
}

code_enum! {
    /// The fields a filter of amendments may name.
    pub enum AmendmentFilterField {
        State => "state",
        Kind => "kind",
    }
}

named_requests!(pb::GetAmendmentRequest,);
write_requests!(pb::CreateAmendmentRequest,);
list_requests!(pb::ListAmendmentsRequest);
list_responses!(pb::ListAmendmentsResponse => amendments: pb::Amendment);
state_change_requests!(; with reason:
    pb::ApproveAmendmentRequest,
    pb::RefuseAmendmentRequest
);

/// The proto form of an amendment, as `viewer` may see it (grantees never see staff token ids).
fn to_proto(amendment: &Amendment, viewer: &Actor) -> pb::Amendment {
    let terms = &amendment.terms;
    let money = terms.money.as_ref();
    pb::Amendment {
        name: amendment.resource_name(),
        kind: terms.kind.to_proto(),
        justification: terms.justification.clone(),
        end_date: terms
            .end_date
            .map(|date| date.to_string())
            .unwrap_or_default(),
        funding_account: money
            .map(|money| FundingAccountName::new(&money.account_code).to_string())
            .unwrap_or_default(),
        fiscal_year: money.map(|money| money.fiscal_year).unwrap_or_default(),
        amount: money.map(|money| money.amount.0).unwrap_or_default(),
        obligation_date: money
            .and_then(|money| money.obligation_date)
            .map(|date| date.to_string())
            .unwrap_or_default(),
        budget_changes: budget_to_proto(
            terms
                .budget_changes
                .0
                .iter()
                .map(|(category, amount)| (category, amount)),
        ),
        moved_amount: amendment.moved.0,
        prior_approval_required: amendment.prior_approval_required,
        state: amendment.state.to_proto(),
        state_reason: amendment.state_reason.clone(),
        requester: viewer.sees_actor(&amendment.requester),
        decider: viewer.sees_actor(&amendment.decider),
        obligation: if amendment.obligation_id.is_empty() {
            String::new()
        } else {
            ObligationName::new(&amendment.grant_id, &amendment.obligation_id).to_string()
        },
        grant_revision: amendment.grant_revision,
        create_time: Some(timestamp(amendment.stamps.create_time)),
        update_time: Some(timestamp(amendment.stamps.update_time)),
        etag: etag(amendment.stamps.revision),
    }
}

impl AmendmentApi {
    /// Puts `amendment` into effect on the locked `grant`, whose obligations so far are
    /// `existing`: its new end date (and the open projects that ended with the grant), its
    /// budget, and for a supplement or de-obligation its obligation, all in one new revision of
    /// the grant. Answers the amendment with what it made.
    async fn take_effect(
        &self,
        tx: &mut Tx,
        grant: Grant,
        existing: Vec<crate::domain::grant::Obligation>,
        mut amendment: Amendment,
    ) -> Result<Amendment> {
        let prefix = "amendment";
        let changed = amendment::check_effect(&grant, &amendment.terms, prefix)?;
        if changed.terms.end_date != grant.terms.end_date {
            let old_end = grant.terms.end_date;
            let cadence = grant.terms.reporting_cadence;
            for project in tx.open_projects_ending_on(&grant.id, old_end).await? {
                let mut extended = project.clone();
                extended.fields.end_date = changed.terms.end_date;
                let extended = tx.save_project(project, extended).await?;
                project_api::reschedule_open_reports(tx, &self.rules, cadence, &extended).await?;
            }
            financial_report_api::reschedule_open_reports(tx, &self.rules, &changed).await?;
        }
        let today = now().date_naive();
        let saved = match amendment::obligation_of(&amendment, today) {
            Some(new) => {
                let (obligation, saved) =
                    record_obligation(tx, &self.rules.calendar, changed, existing, new, prefix)
                        .await?;
                amendment.obligation_id = obligation.id;
                saved
            }
            None => tx.save_grant(grant, changed).await?,
        };
        amendment.grant_revision = saved.stamps.revision;
        Ok(amendment)
    }

    /// The one path of both decisions.
    async fn decide(
        &self,
        change: StateChange<AmendmentName>,
        decision: Decision,
    ) -> Result<pb::Amendment> {
        let actor = change.call.actor.clone();
        let scope = actor.scope();
        let grant_name = GrantName::new(&change.name.grant);
        change
            .write
            .run(&self.store, async |tx| {
                let (grant, existing) = tx
                    .grant_and_obligations_for_update(&scope, &grant_name, None)
                    .await?;
                let current = tx
                    .amendment_for_update(&scope, &change.name, change.expected)
                    .await?;
                let mut after = amendment::decide(&current, decision, &actor, &change.reason)?;
                if decision == Decision::Approve {
                    grant.check_open()?;
                    after = self.take_effect(tx, grant, existing, after).await?;
                }
                let saved = tx.save_amendment(current, after).await?;
                Ok(to_proto(&saved, &actor))
            })
            .await
    }
}

#[tonic::async_trait]
impl AmendmentService for AmendmentApi {
    async fn create_amendment(
        &self,
        request: Request<pb::CreateAmendmentRequest>,
    ) -> Result<Response<pb::Amendment>, Status> {
        let (call, write, request) = accept_write(request)?;
        let parent = GrantName::parse("parent", &request.parent)?;
        let asked = required("amendment", &request.amendment)?;
        let changes = budget_input(&asked.budget_changes);
        let terms = AmendmentInput {
            kind: AmendmentKind::from_proto(asked.kind),
            justification: &asked.justification,
            end_date: &asked.end_date,
            funding_account: &asked.funding_account,
            fiscal_year: asked.fiscal_year,
            amount: asked.amount,
            obligation_date: &asked.obligation_date,
            budget_changes: &changes,
        }
        .validate("amendment")?;
        let answer = write
            .run(&self.store, async |tx| {
                let grant = tx
                    .grant_for_update(&call.actor.scope(), &parent, None)
                    .await?;
                let (moved, prior_approval) = amendment::request(&grant, &terms, "amendment")?;
                if prior_approval {
                    let created = tx
                        .create_amendment(
                            &grant.id,
                            terms,
                            moved,
                            true,
                            AmendmentState::Requested,
                            0,
                        )
                        .await?;
                    return Ok(to_proto(&created, &call.actor));
                }
                // Within 10% of the budget: in effect at once, with no signature (2 CFR 200.308).
                let changed = amendment::check_effect(&grant, &terms, "amendment")?;
                let saved = tx.save_grant(grant, changed).await?;
                let created = tx
                    .create_amendment(
                        &saved.id,
                        terms,
                        moved,
                        false,
                        AmendmentState::Approved,
                        saved.stamps.revision,
                    )
                    .await?;
                Ok(to_proto(&created, &call.actor))
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn get_amendment(
        &self,
        request: Request<pb::GetAmendmentRequest>,
    ) -> Result<Response<pb::Amendment>, Status> {
        let (call, name) = accept_name::<_, AmendmentName>(request)?;
        let found = self.store.get_amendment(&call.actor.scope(), &name).await?;
        Ok(Response::new(to_proto(&found, &call.actor)))
    }

    async fn list_amendments(
        &self,
        request: Request<pb::ListAmendmentsRequest>,
    ) -> Result<Response<pb::ListAmendmentsResponse>, Status> {
        let (call, request, page) = accept_list(request)?;
        let parent = GrantName::parse("parent", &request.parent)?;
        let mut filter = AmendmentFilter {
            grant_id: (parent.grant != ANY).then(|| parent.grant.clone()),
            ..AmendmentFilter::default()
        };
        for (field, value) in paging::parse_filter::<AmendmentFilterField>(&request.filter)? {
            match field {
                AmendmentFilterField::State => {
                    filter.state = Some(filter_code::<AmendmentState>(&value, "amendment state")?)
                }
                AmendmentFilterField::Kind => {
                    filter.kind = Some(filter_code::<AmendmentKind>(&value, "amendment kind")?)
                }
            }
        }
        let found = self
            .store
            .list_amendments(&call.actor.scope(), &filter, &page.keyset)
            .await?;
        Ok(page.respond(found, |amendment| to_proto(amendment, &call.actor)))
    }

    async fn approve_amendment(
        &self,
        request: Request<pb::ApproveAmendmentRequest>,
    ) -> Result<Response<pb::Amendment>, Status> {
        let change = StateChange::parse(request)?;
        Ok(Response::new(self.decide(change, Decision::Approve).await?))
    }

    async fn refuse_amendment(
        &self,
        request: Request<pb::RefuseAmendmentRequest>,
    ) -> Result<Response<pb::Amendment>, Status> {
        let change = StateChange::parse(request)?;
        Ok(Response::new(self.decide(change, Decision::Refuse).await?))
    }
}
