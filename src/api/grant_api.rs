//! `tipgrants.v1.GrantService`: grants, obligations, revisions.

use tonic::{Request, Response, Status};

use super::funds_api::draw_funds;
use super::paging;
use super::{
    ProtoEnum, StateChange, StateChangeRequest, accept_list, accept_name, accept_update,
    accept_write, etag, filter_code, filter_number, from_timestamp, required, timestamp,
};
use crate::domain::access::Actor;
use crate::domain::budget::{Budget, BudgetCategory, LineInput};
use crate::domain::closeout::Closeout;
use crate::domain::fiscal_year::FiscalCalendar;
use crate::domain::grant::{
    self, Grant, GrantApproach, GrantInput, GrantInstrument, GrantRevision, GrantState,
    NewObligation, Obligation, ObligationInput, ObligationKind, ReportingCadence, Transition,
};
use crate::domain::money::Cents;
use crate::domain::names::{
    FundingAccountName, GrantName, GrantRevisionName, ObligationName, OrganizationName,
    ResourceName,
};
use crate::domain::payment;
use crate::domain::pillar::Pillar;
use crate::domain::validate::CheckAll;
use crate::domain::version;
use crate::error::{Error, Result};
use crate::pb::v1 as pb;
use crate::pb::v1::grant_service_server::GrantService;
use crate::store::grants::{GrantFilter, ObligationFilter};
use crate::store::{Store, Tx, now};

/// Serves grants.
pub struct GrantApi {
    store: Store,
    calendar: FiscalCalendar,
}

impl GrantApi {
    pub fn new(store: Store, calendar: FiscalCalendar) -> Self {
        Self { store, calendar }
    }
}

code_enum! {
    /// The fields of a grant an update may change (the paths of its mask).
    pub enum GrantField {
        Title => "title",
        Instrument => "instrument",
        Approach => "approach",
        StartDate => "start_date",
        EndDate => "end_date",
        ReportingCadence => "reporting_cadence",
        ProgramOfficer => "program_officer",
        Budget => "budget",
    }
}

code_enum! {
    /// The fields a filter of grants may name.
    pub enum GrantFilterField {
        Grantee => "grantee",
        FundingAccount => "funding_account",
        FiscalYear => "fiscal_year",
        PerformanceFiscalYear => "performance_fiscal_year",
        State => "state",
        Country => "country",
        Region => "region",
        Pillar => "pillar",
    }
}

code_enum! {
    /// The fields a filter of obligations may name.
    pub enum ObligationFilterField {
        FundingAccount => "funding_account",
        FiscalYear => "fiscal_year",
        Kind => "kind",
    }
}

named_requests!(pb::GetGrantRequest, pb::GetObligationRequest,);
write_requests!(pb::CreateGrantRequest, pb::CreateObligationRequest,);
list_requests!(
    pb::ListGrantsRequest,
    pb::ListObligationsRequest;
    without filter: pb::ListGrantRevisionsRequest
);
list_responses!(
    pb::ListGrantsResponse => grants: pb::Grant,
    pb::ListObligationsResponse => obligations: pb::Obligation,
    pb::ListGrantRevisionsResponse => revisions: pb::GrantRevision,
);
update_requests!(pb::UpdateGrantRequest => grant: pb::Grant [GrantName, GrantField]);

state_change_requests!(; with reason:
    pb::ActivateGrantRequest,
    pb::SuspendGrantRequest,
    pb::CloseGrantRequest,
    pb::TerminateGrantRequest
);

/// The proto form of a grant.
pub fn to_proto(grant: &Grant) -> pb::Grant {
    pb::Grant {
        name: grant.resource_name(),
        award_number: grant.terms.award_number.clone(),
        title: grant.terms.title.clone(),
        grantee: OrganizationName::new(&grant.terms.organization_id).to_string(),
        instrument: grant.terms.instrument.to_proto(),
        approach: grant.terms.approach.to_proto(),
        start_date: grant.terms.start_date.to_string(),
        end_date: grant.terms.end_date.to_string(),
        reporting_cadence: grant.terms.reporting_cadence.to_proto(),
        program_officer: grant.terms.program_officer.clone(),
        state: grant.state.to_proto(),
        state_reason: grant.state_reason.clone(),
        obligated_amount: grant.obligated().0,
        obligation_totals: grant
            .totals
            .iter()
            .map(|total| pb::ObligationTotal {
                funding_account: FundingAccountName::new(&total.account_code).to_string(),
                fiscal_year: total.fiscal_year,
                amount: total.amount.0,
            })
            .collect(),
        create_time: Some(timestamp(grant.stamps.create_time)),
        update_time: Some(timestamp(grant.stamps.update_time)),
        etag: etag(grant.stamps.revision),
        revision: grant.stamps.revision,
        budget: budget_to_proto(&grant.budget.0),
        budget_total: grant.budget.total().0,
    }
}

/// Budget lines (or changes) in their proto form, by category.
pub(super) fn budget_to_proto<'a>(
    lines: impl IntoIterator<Item = (&'a BudgetCategory, &'a Cents)>,
) -> Vec<pb::BudgetLine> {
    lines
        .into_iter()
        .map(|(category, amount)| pb::BudgetLine {
            category: category.to_proto(),
            amount: amount.0,
        })
        .collect()
}

/// Budget lines (or changes) as they came in.
pub(super) fn budget_input(lines: &[pb::BudgetLine]) -> Vec<LineInput> {
    lines
        .iter()
        .map(|line| LineInput {
            category: BudgetCategory::from_proto(line.category),
            amount: line.amount,
        })
        .collect()
}

fn obligation_to_proto(obligation: &Obligation) -> pb::Obligation {
    pb::Obligation {
        name: obligation.resource_name(),
        kind: obligation.fields.kind.to_proto(),
        funding_account: FundingAccountName::new(&obligation.fields.account_code).to_string(),
        fiscal_year: obligation.fields.fiscal_year,
        amount: obligation.fields.amount.0,
        obligation_date: obligation.fields.obligation_date.to_string(),
        note: obligation.fields.note.clone(),
        create_time: Some(timestamp(obligation.create_time)),
    }
}

/// The proto form of a revision, as `viewer` may see it (grantees never see staff token ids).
fn revision_to_proto(revision: &GrantRevision, viewer: &Actor) -> pb::GrantRevision {
    pb::GrantRevision {
        name: GrantRevisionName::new(&revision.grant_id, revision.revision.to_string()).to_string(),
        revision: revision.revision,
        revision_time: Some(timestamp(revision.revision_time)),
        actor: viewer.sees_actor(&revision.actor),
        method: revision.method.clone(),
        grant: Some(to_proto(&revision.grant)),
    }
}

fn input(grant: &pb::Grant) -> GrantInput<'_> {
    GrantInput {
        award_number: &grant.award_number,
        title: &grant.title,
        grantee: &grant.grantee,
        instrument: GrantInstrument::from_proto(grant.instrument),
        approach: GrantApproach::from_proto(grant.approach),
        start_date: &grant.start_date,
        end_date: &grant.end_date,
        reporting_cadence: ReportingCadence::from_proto(grant.reporting_cadence),
        program_officer: &grant.program_officer,
    }
}

/// Records `new` on the locked `grant` (whose obligations so far are `existing`) after every
/// check an obligation passes, wherever it comes from (CreateObligation, an amendment): the
/// grant's own rule, a live funding account, the appropriation's availability and balance
/// (under its row lock), and for a de-obligation, what is approved or paid. `grant` may carry
/// an amendment's new terms or budget: they are saved in the same revision.
pub(super) async fn record_obligation(
    tx: &mut Tx,
    calendar: &FiscalCalendar,
    grant: Grant,
    existing: Vec<Obligation>,
    new: NewObligation,
    prefix: &str,
) -> Result<(Obligation, Grant)> {
    grant::check_obligation(&grant, &existing, &new, prefix)?;
    draw_funds(
        tx,
        calendar,
        &new.draw(),
        &format!("{prefix}.funding_account"),
    )
    .await?;
    if new.kind == ObligationKind::Deobligation {
        let committed = tx
            .committed_payments(&grant.id, Some((&new.account_code, new.fiscal_year)))
            .await?;
        payment::check_deobligation_spares_payments(&grant, committed, &new)?;
    }
    tx.create_obligation(grant, existing, new).await
}

/// A funding account filter value: `ESF` or `fundingAccounts/ESF`.
fn account_code(value: &str) -> String {
    value
        .trim()
        .trim_start_matches("fundingAccounts/")
        .to_ascii_uppercase()
}

impl GrantApi {
    fn parse_filter(&self, filter: &str) -> Result<GrantFilter> {
        let mut parsed = GrantFilter::default();
        for (field, value) in paging::parse_filter::<GrantFilterField>(filter)? {
            match field {
                GrantFilterField::Grantee => {
                    parsed.organization_id =
                        Some(OrganizationName::parse("filter", &value)?.organization)
                }
                GrantFilterField::FundingAccount => {
                    parsed.account_code = Some(account_code(&value))
                }
                GrantFilterField::FiscalYear => {
                    parsed.fiscal_year = Some(filter_number("fiscal_year", &value)?)
                }
                GrantFilterField::PerformanceFiscalYear => {
                    let year = filter_number("performance_fiscal_year", &value)?;
                    crate::domain::fiscal_year::check_fiscal_year(year)
                        .map_err(|description| Error::invalid("filter", description))?;
                    parsed.performance_period = self.calendar.bounds(year);
                }
                GrantFilterField::State => {
                    parsed.state = Some(filter_code::<GrantState>(&value, "grant state")?)
                }
                GrantFilterField::Country => parsed.country_code = Some(value.to_ascii_uppercase()),
                GrantFilterField::Region => {
                    parsed.region_code = Some(paging::region_filter(&value))
                }
                GrantFilterField::Pillar => {
                    parsed.pillar = Some(filter_code::<Pillar>(&value, "pillar")?)
                }
            }
        }
        Ok(parsed)
    }

    /// The one path of every grant state change: they differ only by `transition`.
    async fn change_state(
        &self,
        request: Request<impl StateChangeRequest>,
        transition: Transition,
    ) -> Result<Response<pb::Grant>, Status> {
        let change = StateChange::<GrantName>::parse(request)?;
        let scope = change.call.actor.scope();
        let answer = change
            .write
            .run(&self.store, async |tx| {
                let current = tx
                    .grant_for_update(&scope, &change.name, change.expected)
                    .await?;
                if transition == Transition::Close {
                    let facts = tx.closeout_facts(&current.id).await?;
                    Closeout::of(current.clone(), facts, now().date_naive()).check_bare_close()?;
                }
                let facts = tx.grant_project_facts(&current.id).await?;
                let after = grant::decide_transition(&current, transition, &change.reason, facts)?;
                let changed = tx.save_grant(current, after).await?;
                Ok(to_proto(&changed))
            })
            .await?;
        Ok(Response::new(answer))
    }
}

#[tonic::async_trait]
impl GrantService for GrantApi {
    async fn get_grant(
        &self,
        request: Request<pb::GetGrantRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        let (call, name) = accept_name::<_, GrantName>(request)?;
        let grant = self.store.get_grant(&call.actor.scope(), &name).await?;
        Ok(Response::new(to_proto(&grant)))
    }

    async fn list_grants(
        &self,
        request: Request<pb::ListGrantsRequest>,
    ) -> Result<Response<pb::ListGrantsResponse>, Status> {
        let (call, request, page) = accept_list(request)?;
        let filter = self.parse_filter(&request.filter)?;
        super::check_filter_places(
            &self.store,
            filter.country_code.as_deref(),
            filter.region_code.as_deref(),
        )
        .await?;
        let found = self
            .store
            .list_grants(&call.actor.scope(), &filter, &page.keyset)
            .await?;
        Ok(page.respond(found, to_proto))
    }

    async fn create_grant(
        &self,
        request: Request<pb::CreateGrantRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        let (_, write, request) = accept_write(request)?;
        let grant = required("grant", &request.grant)?;
        let (terms, budget) = (
            input(grant).validate("grant"),
            Budget::parse("grant.budget", &budget_input(&grant.budget)),
        )
            .all()?;

        let answer = write
            .run(&self.store, async |tx| {
                tx.organization_presence(&terms.organization_id)
                    .await?
                    .require_live(
                        "grant.grantee",
                        &OrganizationName::new(&terms.organization_id),
                    )?;
                let taken = tx.grant_with_award_number(&terms.award_number).await?;
                version::check_unique(
                    taken.map(|name| name.to_string()),
                    &format!("award number {}", terms.award_number),
                )?;
                let created = tx.create_grant(terms, budget).await?;
                Ok(to_proto(&created))
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn update_grant(
        &self,
        request: Request<pb::UpdateGrantRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        let update = accept_update(request)?;

        let mut tx = self.store.begin(&update.call).await?;
        let current = tx
            .grant_for_update(&update.call.actor.scope(), &update.name, update.expected)
            .await?;
        current.check_open()?;
        let mut merged = to_proto(&current);
        for field in update.fields {
            match field {
                GrantField::Title => merged.title = update.changes.title.clone(),
                GrantField::Instrument => merged.instrument = update.changes.instrument,
                GrantField::Approach => merged.approach = update.changes.approach,
                GrantField::StartDate => {
                    if update.changes.start_date.trim() != merged.start_date {
                        grant::check_period_changeable(&current)?;
                    }
                    merged.start_date = update.changes.start_date.clone()
                }
                GrantField::EndDate => {
                    if update.changes.end_date.trim() != merged.end_date {
                        grant::check_period_changeable(&current)?;
                    }
                    merged.end_date = update.changes.end_date.clone()
                }
                GrantField::ReportingCadence => {
                    merged.reporting_cadence = update.changes.reporting_cadence
                }
                GrantField::ProgramOfficer => {
                    merged.program_officer = update.changes.program_officer.clone()
                }
                GrantField::Budget => {
                    grant::check_budget_changeable(&current)?;
                    merged.budget = update.changes.budget.clone()
                }
            }
        }
        let (terms, budget) = (
            input(&merged).validate("grant"),
            Budget::parse("grant.budget", &budget_input(&merged.budget)),
        )
            .all()?;
        let outside = tx
            .project_outside(&current.id, terms.start_date, terms.end_date)
            .await?;
        grant::check_projects_fit(&terms, outside)?;
        let updated = tx.update_grant(current, terms, budget).await?;
        tx.commit().await?;
        Ok(Response::new(to_proto(&updated)))
    }

    async fn activate_grant(
        &self,
        request: Request<pb::ActivateGrantRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        self.change_state(request, Transition::Activate).await
    }

    async fn suspend_grant(
        &self,
        request: Request<pb::SuspendGrantRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        self.change_state(request, Transition::Suspend).await
    }

    async fn close_grant(
        &self,
        request: Request<pb::CloseGrantRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        self.change_state(request, Transition::Close).await
    }

    async fn terminate_grant(
        &self,
        request: Request<pb::TerminateGrantRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        self.change_state(request, Transition::Terminate).await
    }

    async fn create_obligation(
        &self,
        request: Request<pb::CreateObligationRequest>,
    ) -> Result<Response<pb::Obligation>, Status> {
        let (call, write, request) = accept_write(request)?;
        let parent = GrantName::parse("parent", &request.parent)?;
        let obligation = required("obligation", &request.obligation)?;
        let new = ObligationInput {
            kind: ObligationKind::from_proto(obligation.kind),
            funding_account: &obligation.funding_account,
            fiscal_year: obligation.fiscal_year,
            amount: obligation.amount,
            obligation_date: &obligation.obligation_date,
            note: &obligation.note,
        }
        .validate("obligation", &self.calendar)?;

        let answer = write
            .run(&self.store, async |tx| {
                let (grant, existing) = tx
                    .grant_and_obligations_for_update(&call.actor.scope(), &parent, None)
                    .await?;
                let (created, _grant) =
                    record_obligation(tx, &self.calendar, grant, existing, new, "obligation")
                        .await?;
                Ok(obligation_to_proto(&created))
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn get_obligation(
        &self,
        request: Request<pb::GetObligationRequest>,
    ) -> Result<Response<pb::Obligation>, Status> {
        let (call, name) = accept_name::<_, ObligationName>(request)?;
        let obligation = self
            .store
            .get_obligation(&call.actor.scope(), &name)
            .await?;
        Ok(Response::new(obligation_to_proto(&obligation)))
    }

    async fn list_obligations(
        &self,
        request: Request<pb::ListObligationsRequest>,
    ) -> Result<Response<pb::ListObligationsResponse>, Status> {
        let (call, request, page) = accept_list(request)?;
        let parent = GrantName::parse("parent", &request.parent)?;
        let mut filter = ObligationFilter::default();
        for (field, value) in paging::parse_filter::<ObligationFilterField>(&request.filter)? {
            match field {
                ObligationFilterField::FundingAccount => {
                    filter.account_code = Some(account_code(&value))
                }
                ObligationFilterField::FiscalYear => {
                    filter.fiscal_year = Some(filter_number("fiscal_year", &value)?)
                }
                ObligationFilterField::Kind => {
                    filter.kind = Some(filter_code::<ObligationKind>(&value, "obligation kind")?)
                }
            }
        }
        let found = self
            .store
            .list_obligations(&call.actor.scope(), &parent.grant, &filter, &page.keyset)
            .await?;
        Ok(page.respond(found, obligation_to_proto))
    }

    async fn list_grant_revisions(
        &self,
        request: Request<pb::ListGrantRevisionsRequest>,
    ) -> Result<Response<pb::ListGrantRevisionsResponse>, Status> {
        let (call, request, page) = accept_list(request)?;
        let parent = GrantName::parse("parent", &request.parent)?;
        let as_of = request
            .as_of_time
            .as_ref()
            .map(|time| from_timestamp("as_of_time", time))
            .transpose()?;
        let found = self
            .store
            .list_grant_revisions(&call.actor.scope(), &parent.grant, as_of, &page.keyset)
            .await?;
        Ok(page.respond(found, |revision| revision_to_proto(revision, &call.actor)))
    }
}
