//! What grants spent and were paid, by the account and fiscal year of their
//! money: the fiscal-year report's money columns, the portfolio summary and
//! the funds status, each on the same ledger.

use chrono::Utc;
use tokio_stream::StreamExt;

use crate::helpers::*;
use crate::payments::{Funded, funded};
use tipgrants::pb::v1::stream_fiscal_year_report_response::Part;

use pb::ObligationKind::{Deobligation, Increment};

/// Money figures of a report line: (group, obligated, de-obligated, expended, paid, unliquidated).
type Money = (String, i64, i64, i64, i64, i64);

fn money(group: &str, figures: &pb::ReportFigures) -> Money {
    (
        group.to_string(),
        figures.obligated_cents,
        figures.deobligated_cents,
        figures.expended_cents,
        figures.paid_cents,
        figures.unliquidated_cents,
    )
}

/// The rows and the grand total of one fiscal year's report by account, as `token` reads it.
async fn by_account(app: &TestApp, token: Option<&str>, year: i32) -> Vec<Money> {
    let mut stream = app
        .reports(token)
        .stream_fiscal_year_report(pb::StreamFiscalYearReportRequest {
            from_fiscal_year: year,
            to_fiscal_year: year,
            group_by: pb::ReportGrouping::Account as i32,
            ..Default::default()
        })
        .await
        .expect("the report starts")
        .into_inner();
    let mut lines = Vec::new();
    while let Some(message) = stream.next().await {
        match message.expect("the report streams").part {
            Some(Part::Row(row)) => lines.push(money(&row.group, &row)),
            Some(Part::GrandTotal(total)) => lines.push(money("TOTAL", &total)),
            _ => {}
        }
    }
    lines
}

/// The funds status of `account`'s money of `year`.
async fn funds_status(app: &TestApp, account: &str, year: i32) -> pb::Appropriation {
    app.funds(app.admin())
        .get_appropriation(pb::GetAppropriationRequest {
            name: format!("fundingAccounts/{account}/appropriations/{year}"),
            ..Default::default()
        })
        .await
        .expect("the funds status reads")
        .into_inner()
}

/// The grantee reports `expended` cents spent (cumulative, for the grant's first period) and
/// `officer` accepts the report.
async fn report_spending(app: &TestApp, funded: &Funded, officer: &str, expended: i64) {
    let draft = app
        .financial_reports(Some(&funded.grantee))
        .create_financial_report(pb::CreateFinancialReportRequest {
            parent: funded.grant.clone(),
            financial_report: Some(pb::FinancialReport {
                period: funded.fiscal_year.to_string(),
                cash_receipts: 4_000,
                cash_disbursements: 4_000,
                federal_expenditures: expended,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("the grantee writes its SF-425")
        .into_inner();
    app.financial_reports(Some(&funded.grantee))
        .submit_financial_report(pb::SubmitFinancialReportRequest {
            name: draft.name.clone(),
            ..Default::default()
        })
        .await
        .expect("and submits it");
    app.financial_reports(Some(officer))
        .accept_financial_report(pb::AcceptFinancialReportRequest {
            name: draft.name,
            ..Default::default()
        })
        .await
        .expect("staff accept it");
}

/// The grantee asks to be reimbursed `amount` cents of `account`'s money; `officer` approves
/// and records the payment.
async fn pay(app: &TestApp, funded: &Funded, officer: &str, account: &str, amount: i64) {
    let today = Utc::now().date_naive().to_string();
    let asked = app
        .payments(Some(&funded.grantee))
        .create_payment_request(pb::CreatePaymentRequestRequest {
            parent: funded.grant.clone(),
            payment_request: Some(pb::PaymentRequest {
                kind: pb::PaymentKind::Reimbursement as i32,
                funding_account: format!("fundingAccounts/{account}"),
                fiscal_year: funded.fiscal_year,
                amount,
                period_start_date: today.clone(),
                period_end_date: today.clone(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("the grantee asks")
        .into_inner();
    app.payments(Some(officer))
        .approve_payment_request(pb::ApprovePaymentRequestRequest {
            name: asked.name.clone(),
            ..Default::default()
        })
        .await
        .expect("staff approve");
    app.payments(Some(officer))
        .record_payment(pb::RecordPaymentRequest {
            name: asked.name,
            payment_date: today,
            ..Default::default()
        })
        .await
        .expect("and record the payment");
}

#[tokio::test]
async fn the_report_and_the_funds_status_show_what_was_expended_paid_and_is_still_unliquidated() {
    let app = spawn_app().await;
    let today = Utc::now().date_naive();
    // ESF money of this fiscal year: 10,000 obligated, 1,000 of it taken back; INCLE: 5,000.
    let funded = funded(&app, "SPEND-1", today, 10_000).await;
    let year = funded.fiscal_year;
    app.funding_account("INCLE").await;
    for (kind, account, amount) in [(Increment, "INCLE", 5_000), (Deobligation, "ESF", 1_000)] {
        app.obligate(
            &funded.grant,
            new_obligation(kind, account, year, amount, &today.to_string()),
        )
        .await
        .expect("the admin obligates");
    }
    let officer = app.token(pb::Role::ProgramOfficer, "").await;
    // Spent 11,000: the oldest money first, then by account: ESF's 9,000, then 2,000 of INCLE's.
    report_spending(&app, &funded, &officer, 11_000).await;
    pay(&app, &funded, &officer, "ESF", 4_000).await;
    // Another grantee's money, which that grantee's report shows and this one's never does.
    let other = funded_other(&app).await;

    let staff = by_account(&app, app.admin(), year).await;
    let grantee = by_account(&app, Some(&funded.grantee), year).await;
    let other_grantee = by_account(&app, Some(&other.grantee), year).await;
    let summary = app
        .reports(app.admin())
        .get_portfolio_summary(pb::GetPortfolioSummaryRequest {
            from_fiscal_year: year,
            to_fiscal_year: year,
        })
        .await
        .expect("the summary")
        .into_inner();
    let esf = funds_status(&app, "ESF", year).await;
    let incle = funds_status(&app, "INCLE", year).await;

    let line = |group: &str, numbers: [i64; 5]| -> Money {
        let [obligated, deobligated, expended, paid, unliquidated] = numbers;
        (
            group.to_string(),
            obligated,
            deobligated,
            expended,
            paid,
            unliquidated,
        )
    };
    assert_eq!(
        grantee,
        [
            line("ESF", [9_000, 1_000, 9_000, 4_000, 5_000]),
            line("INCLE", [5_000, 0, 2_000, 0, 5_000]),
            line("TOTAL", [14_000, 1_000, 11_000, 4_000, 10_000]),
        ]
    );
    assert_eq!(
        staff,
        [
            line("ESF", [9_700, 1_000, 9_000, 4_000, 5_700]),
            line("INCLE", [5_000, 0, 2_000, 0, 5_000]),
            line("TOTAL", [14_700, 1_000, 11_000, 4_000, 10_700]),
        ]
    );
    assert_eq!(
        other_grantee,
        [
            line("ESF", [700, 0, 0, 0, 700]),
            line("TOTAL", [700, 0, 0, 0, 700]),
        ]
    );
    assert_eq!(
        (
            summary.obligated_cents,
            summary.expended_cents,
            summary.paid_cents,
            summary.unliquidated_cents
        ),
        (14_700, 11_000, 4_000, 10_700)
    );
    assert_eq!(
        (
            esf.obligated_amount,
            esf.deobligated_amount,
            esf.expended_amount,
            esf.paid_amount,
            esf.unliquidated_amount
        ),
        (9_700, 1_000, 9_000, 4_000, 5_700)
    );
    assert_eq!(
        (
            incle.obligated_amount,
            incle.expended_amount,
            incle.paid_amount,
            incle.unliquidated_amount
        ),
        (5_000, 2_000, 0, 5_000)
    );
}

/// A second grantee's grant of 700 cents of this year's ESF money.
async fn funded_other(app: &TestApp) -> Funded {
    funded(app, "SPEND-2", Utc::now().date_naive(), 700).await
}
