//! The demo's money after the award written through the API services, as
//! the office and its grantees would: amendments requested by the program
//! officer and signed by a grants officer; every reporting period's outcome
//! and financial (SF-425) report filed before any payment is approved (the
//! payment gate); reimbursements requested by the grantee, approved by other
//! staff on the day they were decided and paid; and the closeout completed by
//! the grants officer, which de-obligates what was never paid. Each step has
//! its fixed request id, as every demo write does.

use chrono::NaiveDate;

use super::money::{PlannedPayment, Settlement};
use super::plan::PlannedGrant;
use super::steps::Steps;
use crate::api::amendment_api::AmendmentApi;
use crate::api::closeout_api::CloseoutApi;
use crate::api::financial_report_api::FinancialReportApi;
use crate::api::outcome_report_api::OutcomeReportApi;
use crate::api::payment_api::PaymentApi;
use crate::domain::grant::ReportingCadence;
use crate::domain::outcome::{ReportPeriod, ReportingRules, ScheduledPeriod};
use crate::domain::{financial_report, outcome};
use crate::pb::v1 as pb;
use crate::pb::v1::amendment_service_server::AmendmentService;
use crate::pb::v1::closeout_service_server::CloseoutService;
use crate::pb::v1::financial_report_service_server::FinancialReportService;
use crate::pb::v1::outcome_report_service_server::OutcomeReportService;
use crate::pb::v1::payment_service_server::PaymentService;

/// The API services the money after the award is written through.
pub(super) struct Settler {
    pub reports: OutcomeReportApi,
    pub amendments: AmendmentApi,
    pub financial: FinancialReportApi,
    pub payments: PaymentApi,
    pub closeouts: CloseoutApi,
    /// The reporting schedules' rules, as the server's.
    pub reporting: ReportingRules,
}

/// The callers of one grant, each with the grant's steps: the program officer who records,
/// the reviewer who decides, the grants officer who signs, and the grantee.
pub(super) struct Cast<'a> {
    pub officer: Steps<'a>,
    pub reviewer: Steps<'a>,
    pub signer: Steps<'a>,
    pub grantee: Steps<'a>,
}

/// What one grant's money after the award wrote.
#[derive(Debug, Default)]
pub(super) struct Settled {
    pub extensions: usize,
    pub supplements: usize,
    pub financial_reports: usize,
    pub payments: usize,
    pub paid_cents: i64,
    pub closed_out: bool,
}

/// `cents` spread over the days of `start..=end` up to `day`, to the cent.
fn pro_rata(cents: i64, start: NaiveDate, end: NaiveDate, day: NaiveDate) -> i64 {
    let total = (end - start).num_days() + 1;
    let elapsed = ((day.min(end) - start).num_days() + 1).clamp(0, total);
    (i128::from(cents) * i128::from(elapsed) / i128::from(total.max(1))) as i64
}

/// The SF-425 figures of `grant` cumulative to `until` (its final report when `final_report`):
/// what it spent by then, pro rata, and the cash it had received; the federal cash it received
/// is all disbursed. Synthetic figures, with a 10% de minimis indirect rate.
fn figures(
    grant: &PlannedGrant,
    period: &str,
    until: NaiveDate,
    final_report: bool,
) -> pb::FinancialReport {
    let money = &grant.money;
    let spent = if final_report {
        money.expended_cents
    } else {
        pro_rata(money.expended_cents, grant.start, grant.final_end(), until)
    };
    let received: i64 = money
        .payments
        .iter()
        .filter(|payment| final_report || payment.paid <= until)
        .map(|payment| payment.amount_cents)
        .sum();
    // Direct costs are 10/11 of the spending; indirect costs 10% of them.
    let base = spent * 10 / 11;
    pb::FinancialReport {
        period: period.to_string(),
        cash_receipts: received,
        cash_disbursements: received,
        federal_expenditures: spent,
        federal_unliquidated_obligations: 0,
        indirect_rate_type: if spent > 0 {
            "DE_MINIMIS".into()
        } else {
            String::new()
        },
        indirect_rate_basis_points: if spent > 0 { 1_000 } else { 0 },
        indirect_base: base,
        indirect_amount: base / 10,
        remarks: "Synthetic demo figures".into(),
        ..Default::default()
    }
}

impl Settler {
    /// The grant's schedule of outcome reports (of its one project, which runs with it) or
    /// of financial reports, after any extension.
    fn schedule(&self, grant: &PlannedGrant, financial: bool) -> Vec<ScheduledPeriod> {
        let (cadence, start, end) = (ReportingCadence::Annual, grant.start, grant.final_end());
        if financial {
            financial_report::financial_schedule(&self.reporting, cadence, start, end)
        } else {
            outcome::schedule(&self.reporting, cadence, start, end)
        }
    }

    /// The grant's no-cost extension and supplement, if planned: requested by the program
    /// officer, signed by the grants officer.
    pub(super) async fn amendments(
        &self,
        cast: &Cast<'_>,
        grant: &PlannedGrant,
        grant_name: &str,
        settled: &mut Settled,
    ) -> Result<(), String> {
        let money = &grant.money;
        let mut asked = Vec::new();
        if let Some(end) = money.extended_end {
            asked.push((
                "extension",
                pb::Amendment {
                    kind: pb::AmendmentKind::NoCostExtension as i32,
                    justification: "Synthetic demo: activities delayed, six more months at no cost"
                        .into(),
                    end_date: end.to_string(),
                    ..Default::default()
                },
            ));
            settled.extensions += 1;
        }
        if let Some(supplement) = &money.supplement {
            asked.push((
                "supplement",
                pb::Amendment {
                    kind: pb::AmendmentKind::Supplement as i32,
                    justification: "Synthetic demo: more victims referred than planned".into(),
                    funding_account: format!("fundingAccounts/{}", grant.account),
                    fiscal_year: grant.fiscal_year,
                    amount: supplement.amount_cents,
                    obligation_date: supplement.obligation_date.to_string(),
                    ..Default::default()
                },
            ));
            settled.supplements += 1;
        }
        for (step, amendment) in asked {
            let requested = cast
                .officer
                .send(
                    "AmendmentService/CreateAmendment",
                    step,
                    |request_id| pb::CreateAmendmentRequest {
                        parent: grant_name.to_string(),
                        amendment: Some(amendment),
                        request_id,
                    },
                    |request| self.amendments.create_amendment(request),
                )
                .await?;
            cast.signer
                .send(
                    "AmendmentService/ApproveAmendment",
                    &format!("sign-{step}"),
                    |request_id| pb::ApproveAmendmentRequest {
                        name: requested.name.clone(),
                        reason: "Synthetic demo: signed".into(),
                        request_id,
                        ..Default::default()
                    },
                    |request| self.amendments.approve_amendment(request),
                )
                .await?;
        }
        Ok(())
    }

    /// Every fiscal-year outcome report of the project and SF-425 of the grant, written and
    /// submitted by the grantee (a submitted report is never overdue, so payments may be
    /// approved), unless the grant filed nothing.
    pub(super) async fn interim_reports(
        &self,
        cast: &Cast<'_>,
        grant: &PlannedGrant,
        grant_name: &str,
        project_name: &str,
        settled: &mut Settled,
    ) -> Result<(), String> {
        if grant.money.settlement == Settlement::NothingFiled {
            return Ok(());
        }
        for period in self.schedule(grant, false) {
            if period.period == ReportPeriod::Final {
                continue;
            }
            let label = period.period.to_string();
            let report = cast
                .grantee
                .send(
                    "OutcomeReportService/CreateOutcomeReport",
                    &format!("report-{label}"),
                    |request_id| pb::CreateOutcomeReportRequest {
                        parent: project_name.to_string(),
                        outcome_report: Some(pb::OutcomeReport {
                            period: label.clone(),
                            narrative: "Synthetic demo: progress of the year".into(),
                            ..Default::default()
                        }),
                        request_id,
                    },
                    |request| self.reports.create_outcome_report(request),
                )
                .await?;
            cast.grantee
                .change(
                    "OutcomeReportService/SubmitOutcomeReport",
                    &format!("submit-{label}"),
                    &report.name,
                    |request| self.reports.submit_outcome_report(request),
                )
                .await?;
        }
        for period in self.schedule(grant, true) {
            if period.period == ReportPeriod::Final {
                continue;
            }
            let label = period.period.to_string();
            self.financial_report(cast, grant, grant_name, &label, period.end_date, false)
                .await?;
            settled.financial_reports += 1;
        }
        Ok(())
    }

    /// One SF-425 written and submitted by the grantee; its name.
    async fn financial_report(
        &self,
        cast: &Cast<'_>,
        grant: &PlannedGrant,
        grant_name: &str,
        label: &str,
        until: NaiveDate,
        final_report: bool,
    ) -> Result<String, String> {
        let report = cast
            .grantee
            .send(
                "FinancialReportService/CreateFinancialReport",
                &format!("sf425-{label}"),
                |request_id| pb::CreateFinancialReportRequest {
                    parent: grant_name.to_string(),
                    financial_report: Some(figures(grant, label, until, final_report)),
                    request_id,
                },
                |request| self.financial.create_financial_report(request),
            )
            .await?;
        cast.grantee
            .change(
                "FinancialReportService/SubmitFinancialReport",
                &format!("submit-sf425-{label}"),
                &report.name,
                |request| self.financial.submit_financial_report(request),
            )
            .await?;
        Ok(report.name)
    }

    /// The final SF-425, the payments, and the review of the final SF-425, as the grant's
    /// settlement says.
    pub(super) async fn final_money(
        &self,
        cast: &Cast<'_>,
        grant: &PlannedGrant,
        grant_name: &str,
        settled: &mut Settled,
    ) -> Result<(), String> {
        let money = &grant.money;
        if money.settlement == Settlement::NothingFiled {
            return Ok(());
        }
        let label = ReportPeriod::Final.to_string();
        let final_report = self
            .financial_report(cast, grant, grant_name, &label, grant.final_end(), true)
            .await?;
        settled.financial_reports += 1;
        for (index, payment) in money.payments.iter().enumerate() {
            self.payment(cast, grant, grant_name, index, payment)
                .await?;
            settled.payments += 1;
            settled.paid_cents += payment.amount_cents;
        }
        if money.settlement != Settlement::FinalReportInReview {
            cast.reviewer
                .change(
                    "FinancialReportService/AcceptFinancialReport",
                    "accept-sf425-FINAL",
                    &final_report,
                    |request| self.financial.accept_financial_report(request),
                )
                .await?;
        }
        Ok(())
    }

    /// One reimbursement: asked by the grantee, approved by the reviewer on the day it was
    /// decided (history recorded after the fact), paid by the program officer.
    async fn payment(
        &self,
        cast: &Cast<'_>,
        grant: &PlannedGrant,
        grant_name: &str,
        index: usize,
        payment: &PlannedPayment,
    ) -> Result<(), String> {
        let asked = cast
            .grantee
            .send(
                "PaymentService/CreatePaymentRequest",
                &format!("payment-{index}"),
                |request_id| pb::CreatePaymentRequestRequest {
                    parent: grant_name.to_string(),
                    payment_request: Some(pb::PaymentRequest {
                        kind: pb::PaymentKind::Reimbursement as i32,
                        funding_account: format!("fundingAccounts/{}", grant.account),
                        fiscal_year: grant.fiscal_year,
                        amount: payment.amount_cents,
                        period_start_date: payment.costs_from.to_string(),
                        period_end_date: payment.costs_to.to_string(),
                        description: "Synthetic demo: costs paid in the period".into(),
                        ..Default::default()
                    }),
                    request_id,
                },
                |request| self.payments.create_payment_request(request),
            )
            .await?;
        cast.reviewer
            .send(
                "PaymentService/ApprovePaymentRequest",
                &format!("approve-payment-{index}"),
                |request_id| pb::ApprovePaymentRequestRequest {
                    name: asked.name.clone(),
                    reason: "Synthetic demo: costs checked against the budget".into(),
                    decision_date: payment.decided.to_string(),
                    request_id,
                    ..Default::default()
                },
                |request| self.payments.approve_payment_request(request),
            )
            .await?;
        cast.officer
            .send(
                "PaymentService/RecordPayment",
                &format!("pay-{index}"),
                |request_id| pb::RecordPaymentRequest {
                    name: asked.name.clone(),
                    payment_date: payment.paid.to_string(),
                    payment_reference: format!("DEMO-PMS-{}-{}", grant.award_number, index + 1),
                    request_id,
                    ..Default::default()
                },
                |request| self.payments.record_payment(request),
            )
            .await?;
        Ok(())
    }

    /// The closeout of a grant of FY 2009-2012, completed by the grants officer: what was
    /// not paid is de-obligated and the grant closed.
    pub(super) async fn closeout(
        &self,
        cast: &Cast<'_>,
        grant: &PlannedGrant,
        grant_name: &str,
        settled: &mut Settled,
    ) -> Result<(), String> {
        if grant.money.settlement != Settlement::ClosedOut {
            return Ok(());
        }
        cast.signer
            .send(
                "CloseoutService/CompleteCloseout",
                "closeout",
                |request_id| pb::CompleteCloseoutRequest {
                    name: format!("{grant_name}/closeout"),
                    reason: "Synthetic demo: closeout completed".into(),
                    request_id,
                    ..Default::default()
                },
                |request| self.closeouts.complete_closeout(request),
            )
            .await?;
        settled.closed_out = true;
        Ok(())
    }
}
