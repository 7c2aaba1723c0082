//! `tipgrants.v1.FinancialReportService`: Federal Financial Reports (SF-425) and their review.

use tonic::{Request, Response, Status};

use super::paging;
use super::{
    ProtoEnum, StateChange, StateChangeRequest, accept_list, accept_name, accept_update,
    accept_write, etag, filter_code, required, timestamp,
};
use crate::domain::access::Actor;
use crate::domain::financial_report::{
    self, FiguresInput, FinancialReport, FinancialReportState, Review,
};
use crate::domain::names::{ANY, FinancialReportName, GrantName, ResourceName};
use crate::domain::outcome::{ReportingRules, ReportingStatus};
use crate::error::{Error, Result};
use crate::pb::v1 as pb;
use crate::pb::v1::financial_report_service_server::FinancialReportService;
use crate::store::financial_reports::FinancialReportFilter;
use crate::store::grants::GrantFilter;
use crate::store::{Keyset, Store, Tx, now};

/// Serves financial reports.
pub struct FinancialReportApi {
    store: Store,
    rules: ReportingRules,
}

/// After `grant`'s period of performance changed (an extension): its open financial reports
/// follow the new schedule; submitted and accepted ones keep theirs.
pub(super) async fn reschedule_open_reports(
    tx: &mut Tx,
    rules: &ReportingRules,
    grant: &crate::domain::grant::Grant,
) -> Result<()> {
    let schedule = financial_report::financial_schedule(
        rules,
        grant.terms.reporting_cadence,
        grant.terms.start_date,
        grant.terms.end_date,
    );
    for report in tx.open_financial_reports(&grant.id).await? {
        if let Some(after) = financial_report::rescheduled(&report, &schedule) {
            tx.save_financial_report(report, after).await?;
        }
    }
    Ok(())
}

impl FinancialReportApi {
    /// A page of the financial reporting periods of the grants `filter` selects, in grant id
    /// order, each grant's in schedule order; `status` keeps only the periods in that status.
    /// A page may end inside a grant: its token is `{grant}|{period}`, and the next page goes on
    /// from that grant, after that period.
    async fn financial_periods(
        &self,
        actor: &Actor,
        filter: GrantFilter,
        status: Option<ReportingStatus>,
        page: &paging::PageRequest,
    ) -> Result<(Vec<pb::FinancialReportingPeriod>, Option<String>)> {
        let limit = page.keyset.limit as usize;
        let today = now().date_naive();
        let scope = actor.scope();
        let (resume, mut skip_through) = match page.keyset.after.as_deref() {
            None => (None, None),
            Some(after) => match after.split_once('|') {
                Some((grant, period)) => (
                    Some(grant.to_string()),
                    Some((grant.to_string(), period.to_string())),
                ),
                None => {
                    return Err(Error::invalid(
                        "page_token",
                        "is not a page token of this list",
                    ));
                }
            },
        };
        let mut rows: Vec<(String, pb::FinancialReportingPeriod)> = Vec::new();
        let mut after = resume.clone();
        let mut pending = Vec::new();
        if let Some(grant) = &resume {
            // The grant the previous page ended in, when it is still listed.
            let first = Keyset {
                after: None,
                limit: 1,
            };
            let mut only = filter.clone();
            only.grant_id = Some(grant.clone());
            pending = self.store.list_grants(&scope, &only, &first).await?.items;
        }
        loop {
            if pending.is_empty() {
                let batch = Keyset {
                    after: after.clone(),
                    limit: 100,
                };
                pending = self.store.list_grants(&scope, &filter, &batch).await?.items;
                if pending.is_empty() {
                    break;
                }
            }
            let grants = std::mem::take(&mut pending);
            after = grants.last().map(|grant| grant.id.clone());
            let ids: Vec<String> = grants.iter().map(|grant| grant.id.clone()).collect();
            let reports = self.store.financial_reports_of_grants(&ids).await?;
            for grant in &grants {
                let schedule = financial_report::financial_schedule(
                    &self.rules,
                    grant.terms.reporting_cadence,
                    grant.terms.start_date,
                    grant.terms.end_date,
                );
                for period in schedule {
                    let label = period.period.to_string();
                    if let Some((skip_grant, skip_period)) = &skip_through
                        && *skip_grant == grant.id
                    {
                        if label == *skip_period {
                            skip_through = None;
                        }
                        continue;
                    }
                    let report = reports
                        .iter()
                        .find(|report| report.grant_id == grant.id && report.period == label);
                    let due = report.map_or(period.due_date, |report| report.due_date);
                    let row_status = financial_report::period_status(
                        report.map(|report| report.state),
                        due,
                        today,
                    );
                    if status.is_some_and(|wanted| wanted != row_status) {
                        continue;
                    }
                    rows.push((
                        format!("{}|{label}", grant.id),
                        pb::FinancialReportingPeriod {
                            grant: grant.resource_name(),
                            award_number: grant.terms.award_number.clone(),
                            period: label,
                            start_date: period.start_date.to_string(),
                            end_date: period.end_date.to_string(),
                            due_date: due.to_string(),
                            financial_report: report
                                .map(|report| report.resource_name())
                                .unwrap_or_default(),
                            status: row_status.to_proto(),
                            program_officer: grant.terms.program_officer.clone(),
                        },
                    ));
                    if rows.len() > limit {
                        rows.truncate(limit);
                        let next = rows.last().map(|(key, _)| key.clone());
                        return Ok((rows.into_iter().map(|(_, row)| row).collect(), next));
                    }
                }
            }
            skip_through = None;
        }
        Ok((rows.into_iter().map(|(_, row)| row).collect(), None))
    }

    pub fn new(store: Store, rules: ReportingRules) -> Self {
        Self { store, rules }
    }
}

code_enum! {
    /// The fields of a financial report an update may change (the paths of its mask).
    pub enum FinancialReportField {
        CashReceipts => "cash_receipts",
        CashDisbursements => "cash_disbursements",
        FederalExpenditures => "federal_expenditures",
        FederalUnliquidatedObligations => "federal_unliquidated_obligations",
        RecipientShareRequired => "recipient_share_required",
        RecipientShareExpended => "recipient_share_expended",
        IndirectRateType => "indirect_rate_type",
        IndirectRateBasisPoints => "indirect_rate_basis_points",
        IndirectBase => "indirect_base",
        IndirectAmount => "indirect_amount",
        ExpenditureDecreaseReason => "expenditure_decrease_reason",
        Remarks => "remarks",
    }
}

code_enum! {
    /// The fields a filter of financial reporting periods may name.
    pub enum FinancialPeriodFilterField {
        Status => "status",
        ProgramOfficer => "program_officer",
    }
}

code_enum! {
    /// The fields a filter of financial reports may name.
    pub enum FinancialReportFilterField {
        State => "state",
    }
}

named_requests!(pb::GetFinancialReportRequest,);
write_requests!(pb::CreateFinancialReportRequest,);
list_requests!(
    pb::ListFinancialReportsRequest,
    pb::ListFinancialReportingPeriodsRequest
);
list_responses!(pb::ListFinancialReportsResponse => financial_reports: pb::FinancialReport);
update_requests!(pb::UpdateFinancialReportRequest => financial_report: pb::FinancialReport [FinancialReportName, FinancialReportField]);
state_change_requests!(pb::SubmitFinancialReportRequest; with reason:
    pb::AcceptFinancialReportRequest,
    pb::ReturnFinancialReportRequest
);

/// The proto form of a report, as `viewer` may see it (grantees never see staff token ids).
fn to_proto(report: &FinancialReport, viewer: &Actor) -> pb::FinancialReport {
    let figures = &report.figures;
    pb::FinancialReport {
        name: report.resource_name(),
        period: report.period.clone(),
        period_start_date: report.period_start_date.to_string(),
        period_end_date: report.period_end_date.to_string(),
        due_date: report.due_date.to_string(),
        state: report.state.to_proto(),
        cash_receipts: figures.cash_receipts.0,
        cash_disbursements: figures.cash_disbursements.0,
        cash_on_hand: figures.cash_on_hand().0,
        federal_funds_authorized: report.federal_funds_authorized.0,
        federal_expenditures: figures.federal_expenditures.0,
        federal_unliquidated_obligations: figures.federal_unliquidated_obligations.0,
        total_federal_share: figures.total_federal_share().0,
        unobligated_balance: report.unobligated_balance().0,
        recipient_share_required: figures.recipient_share_required.0,
        recipient_share_expended: figures.recipient_share_expended.0,
        recipient_share_remaining: figures.recipient_share_remaining().0,
        indirect_rate_type: figures.indirect_rate_type.clone(),
        indirect_rate_basis_points: figures.indirect_rate_basis_points,
        indirect_base: figures.indirect_base.0,
        indirect_amount: figures.indirect_amount.0,
        expenditure_decrease_reason: figures.expenditure_decrease_reason.clone(),
        remarks: figures.remarks.clone(),
        reviewer_comments: report.reviewer_comments.clone(),
        submitter: viewer.sees_actor(&report.submitter),
        reviewer: viewer.sees_actor(&report.reviewer),
        create_time: Some(timestamp(report.stamps.create_time)),
        update_time: Some(timestamp(report.stamps.update_time)),
        etag: etag(report.stamps.revision),
    }
}

fn figures_input(report: &pb::FinancialReport) -> FiguresInput<'_> {
    FiguresInput {
        cash_receipts: report.cash_receipts,
        cash_disbursements: report.cash_disbursements,
        federal_expenditures: report.federal_expenditures,
        federal_unliquidated_obligations: report.federal_unliquidated_obligations,
        recipient_share_required: report.recipient_share_required,
        recipient_share_expended: report.recipient_share_expended,
        indirect_rate_type: &report.indirect_rate_type,
        indirect_rate_basis_points: report.indirect_rate_basis_points,
        indirect_base: report.indirect_base,
        indirect_amount: report.indirect_amount,
        expenditure_decrease_reason: &report.expenditure_decrease_reason,
        remarks: &report.remarks,
    }
}

impl FinancialReportApi {
    /// The one path of the three review steps.
    async fn review(
        &self,
        request: Request<impl StateChangeRequest>,
        review: Review,
    ) -> Result<Response<pb::FinancialReport>, Status> {
        let change = StateChange::<FinancialReportName>::parse(request)?;
        let actor = change.call.actor.clone();
        let scope = actor.scope();
        let answer = change
            .write
            .run(&self.store, async |tx| {
                let grant = tx
                    .grant_for_update(&scope, &GrantName::new(&change.name.grant), None)
                    .await?;
                let current = tx
                    .financial_report_for_update(&scope, &change.name, change.expected)
                    .await?;
                let mut after = financial_report::decide_review(
                    &current,
                    review,
                    &actor,
                    &change.reason,
                    now(),
                )?;
                if review == Review::Submit {
                    let previous = tx
                        .previous_financial_report(&grant.id, current.period_end_date)
                        .await?;
                    after.federal_funds_authorized = grant.obligated();
                    financial_report::check_submission(
                        &after.figures,
                        after.federal_funds_authorized,
                        previous.as_ref(),
                    )?;
                }
                let saved = tx.save_financial_report(current, after).await?;
                Ok(to_proto(&saved, &actor))
            })
            .await?;
        Ok(Response::new(answer))
    }
}

#[tonic::async_trait]
impl FinancialReportService for FinancialReportApi {
    async fn list_financial_reporting_periods(
        &self,
        request: Request<pb::ListFinancialReportingPeriodsRequest>,
    ) -> Result<Response<pb::ListFinancialReportingPeriodsResponse>, Status> {
        let (call, request, page) = accept_list(request)?;
        let parent = GrantName::parse("parent", &request.parent)?;
        // Across grants: those still under way; one grant's schedule whatever its state.
        let mut filter = GrantFilter {
            grant_id: (parent.grant != ANY).then(|| parent.grant.clone()),
            open: parent.grant == ANY,
            ..GrantFilter::default()
        };
        if filter.grant_id.is_some() {
            // NOT_FOUND for a grant the caller may not see, rather than an empty list.
            self.store.get_grant(&call.actor.scope(), &parent).await?;
        }
        let mut status = None;
        for (field, value) in paging::parse_filter::<FinancialPeriodFilterField>(&request.filter)? {
            match field {
                FinancialPeriodFilterField::Status => {
                    status = Some(filter_code::<ReportingStatus>(&value, "reporting status")?)
                }
                FinancialPeriodFilterField::ProgramOfficer => filter.program_officer = Some(value),
            }
        }
        let (financial_reporting_periods, next_after) = self
            .financial_periods(&call.actor, filter, status, &page)
            .await?;
        Ok(Response::new(pb::ListFinancialReportingPeriodsResponse {
            financial_reporting_periods,
            next_page_token: page.next_token(next_after),
        }))
    }

    async fn create_financial_report(
        &self,
        request: Request<pb::CreateFinancialReportRequest>,
    ) -> Result<Response<pb::FinancialReport>, Status> {
        let (call, write, request) = accept_write(request)?;
        let parent = GrantName::parse("parent", &request.parent)?;
        let report = required("financial_report", &request.financial_report)?;
        let figures = figures_input(report).validate("financial_report")?;
        let period = report.period.trim().to_ascii_uppercase();
        let answer = write
            .run(&self.store, async |tx| {
                let grant = tx
                    .grant_for_update(&call.actor.scope(), &parent, None)
                    .await?;
                let schedule = financial_report::financial_schedule(
                    &self.rules,
                    grant.terms.reporting_cadence,
                    grant.terms.start_date,
                    grant.terms.end_date,
                );
                let labels: Vec<String> = schedule.iter().map(|p| p.period.to_string()).collect();
                let scheduled = schedule
                    .iter()
                    .find(|scheduled| scheduled.period.to_string() == period)
                    .ok_or_else(|| {
                        Error::invalid(
                            "financial_report.period",
                            format!(
                                "{} is not a reporting period of the grant; its periods are {}",
                                crate::domain::names::excerpt(&period),
                                labels.join(", ")
                            ),
                        )
                    })?;
                let created = tx
                    .create_financial_report(&grant.id, scheduled, figures, grant.obligated())
                    .await?;
                Ok(to_proto(&created, &call.actor))
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn get_financial_report(
        &self,
        request: Request<pb::GetFinancialReportRequest>,
    ) -> Result<Response<pb::FinancialReport>, Status> {
        let (call, name) = accept_name::<_, FinancialReportName>(request)?;
        let found = self
            .store
            .get_financial_report(&call.actor.scope(), &name)
            .await?;
        Ok(Response::new(to_proto(&found, &call.actor)))
    }

    async fn list_financial_reports(
        &self,
        request: Request<pb::ListFinancialReportsRequest>,
    ) -> Result<Response<pb::ListFinancialReportsResponse>, Status> {
        let (call, request, page) = accept_list(request)?;
        let parent = GrantName::parse("parent", &request.parent)?;
        let mut filter = FinancialReportFilter {
            grant_id: (parent.grant != ANY).then(|| parent.grant.clone()),
            state: None,
        };
        for (field, value) in paging::parse_filter::<FinancialReportFilterField>(&request.filter)? {
            match field {
                FinancialReportFilterField::State => {
                    filter.state = Some(filter_code::<FinancialReportState>(
                        &value,
                        "financial report state",
                    )?)
                }
            }
        }
        let found = self
            .store
            .list_financial_reports(&call.actor.scope(), &filter, &page.keyset)
            .await?;
        Ok(page.respond(found, |report| to_proto(report, &call.actor)))
    }

    async fn update_financial_report(
        &self,
        request: Request<pb::UpdateFinancialReportRequest>,
    ) -> Result<Response<pb::FinancialReport>, Status> {
        let update = accept_update(request)?;
        let scope = update.call.actor.scope();
        let mut tx = self.store.begin(&update.call).await?;
        tx.grant_for_update(&scope, &GrantName::new(&update.name.grant), None)
            .await?;
        let current = tx
            .financial_report_for_update(&scope, &update.name, update.expected)
            .await?;
        if !current.state.is_editable() {
            return Err(Error::precondition(
                "FINANCIAL_REPORT_NOT_EDITABLE",
                current.resource_name(),
                format!(
                    "the report is {}: its figures change only in DRAFT or RETURNED",
                    current.state
                ),
            )
            .into());
        }
        let mut merged = to_proto(&current, &update.call.actor);
        let changes = &update.changes;
        for field in update.fields {
            use FinancialReportField as F;
            match field {
                F::CashReceipts => merged.cash_receipts = changes.cash_receipts,
                F::CashDisbursements => merged.cash_disbursements = changes.cash_disbursements,
                F::FederalExpenditures => {
                    merged.federal_expenditures = changes.federal_expenditures
                }
                F::FederalUnliquidatedObligations => {
                    merged.federal_unliquidated_obligations =
                        changes.federal_unliquidated_obligations
                }
                F::RecipientShareRequired => {
                    merged.recipient_share_required = changes.recipient_share_required
                }
                F::RecipientShareExpended => {
                    merged.recipient_share_expended = changes.recipient_share_expended
                }
                F::IndirectRateType => {
                    merged.indirect_rate_type = changes.indirect_rate_type.clone()
                }
                F::IndirectRateBasisPoints => {
                    merged.indirect_rate_basis_points = changes.indirect_rate_basis_points
                }
                F::IndirectBase => merged.indirect_base = changes.indirect_base,
                F::IndirectAmount => merged.indirect_amount = changes.indirect_amount,
                F::ExpenditureDecreaseReason => {
                    merged.expenditure_decrease_reason = changes.expenditure_decrease_reason.clone()
                }
                F::Remarks => merged.remarks = changes.remarks.clone(),
            }
        }
        let mut after = current.clone();
        after.figures = figures_input(&merged).validate("financial_report")?;
        let saved = tx.save_financial_report(current, after).await?;
        tx.commit().await?;
        Ok(Response::new(to_proto(&saved, &update.call.actor)))
    }

    async fn submit_financial_report(
        &self,
        request: Request<pb::SubmitFinancialReportRequest>,
    ) -> Result<Response<pb::FinancialReport>, Status> {
        self.review(request, Review::Submit).await
    }

    async fn accept_financial_report(
        &self,
        request: Request<pb::AcceptFinancialReportRequest>,
    ) -> Result<Response<pb::FinancialReport>, Status> {
        self.review(request, Review::Accept).await
    }

    async fn return_financial_report(
        &self,
        request: Request<pb::ReturnFinancialReportRequest>,
    ) -> Result<Response<pb::FinancialReport>, Status> {
        self.review(request, Review::Return).await
    }
}
