//! Closeout: a grant whose period of performance ended has a closeout with a
//! 120-day clock; it lists what is missing, staff find the overdue ones, and a
//! grants officer completes it once the final reports are accepted and the
//! payments settled, which de-obligates the unpaid balance (available again
//! from the appropriation) and closes the grant.

use chrono::{Days, NaiveDate, Utc};
use tonic::Code;

use crate::amendments::available;
use crate::helpers::*;
use crate::payments::{Funded, fiscal_year_of, funded, funded_until};

async fn closeout(app: &TestApp, token: &str, grant: &str) -> pb::Closeout {
    app.closeouts(Some(token))
        .get_closeout(pb::GetCloseoutRequest {
            name: format!("{grant}/closeout"),
        })
        .await
        .expect("the closeout reads")
        .into_inner()
}

async fn overdue_closeouts(app: &TestApp) -> Vec<String> {
    app.closeouts(app.admin())
        .list_closeouts(pb::ListCloseoutsRequest {
            parent: "grants/-".into(),
            filter: "status = OVERDUE".into(),
            page_size: 500,
            ..Default::default()
        })
        .await
        .expect("the overdue closeouts list")
        .into_inner()
        .closeouts
        .into_iter()
        .map(|closeout| closeout.grant)
        .collect()
}

/// Every outcome report of the project and every financial report of the grant, written and
/// submitted by the grantee and accepted by `officer`.
pub(crate) async fn settle_reports(
    app: &TestApp,
    funded: &Funded,
    (start, end): (NaiveDate, NaiveDate),
    officer: &str,
) {
    let periods = app
        .outcome_reports(Some(&funded.grantee))
        .list_reporting_periods(pb::ListReportingPeriodsRequest {
            parent: funded.project.clone(),
            page_size: 500,
            ..Default::default()
        })
        .await
        .expect("the schedule")
        .into_inner()
        .reporting_periods;
    for period in periods {
        let report = app
            .outcome_reports(Some(&funded.grantee))
            .create_outcome_report(pb::CreateOutcomeReportRequest {
                parent: funded.project.clone(),
                outcome_report: Some(pb::OutcomeReport {
                    period: period.period.clone(),
                    narrative: "Done".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("the grantee writes the report")
            .into_inner();
        app.outcome_reports(Some(&funded.grantee))
            .submit_outcome_report(pb::SubmitOutcomeReportRequest {
                name: report.name.clone(),
                ..Default::default()
            })
            .await
            .expect("and submits it");
        app.outcome_reports(Some(officer))
            .accept_outcome_report(pb::AcceptOutcomeReportRequest {
                name: report.name,
                ..Default::default()
            })
            .await
            .expect("the officer accepts it");
    }
    let mut financial: Vec<String> = (fiscal_year_of(start)..=fiscal_year_of(end))
        .map(|year| year.to_string())
        .collect();
    financial.push("FINAL".into());
    for period in financial {
        let report = app
            .financial_reports(Some(&funded.grantee))
            .create_financial_report(pb::CreateFinancialReportRequest {
                parent: funded.grant.clone(),
                financial_report: Some(pb::FinancialReport {
                    period,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("the grantee starts the financial report")
            .into_inner();
        app.financial_reports(Some(&funded.grantee))
            .submit_financial_report(pb::SubmitFinancialReportRequest {
                name: report.name.clone(),
                ..Default::default()
            })
            .await
            .expect("and submits it");
        app.financial_reports(Some(officer))
            .accept_financial_report(pb::AcceptFinancialReportRequest {
                name: report.name,
                ..Default::default()
            })
            .await
            .expect("the officer accepts it");
    }
}

#[tokio::test]
async fn a_closeout_opens_when_the_period_ends_and_completing_it_gives_the_balance_back_and_closes_the_grant()
 {
    let app = spawn_app().await;
    let today = Utc::now().date_naive();
    // Six months from the start of the last fiscal year: ended more than 120 days ago, so the
    // closeout is overdue; within one fiscal year, so one annual report and the final one.
    let last_year = fiscal_year_of(today) - 1;
    let start = NaiveDate::from_ymd_opt(last_year - 1, 10, 1).unwrap();
    let end = start.checked_add_days(Days::new(180)).unwrap();
    create_esf(&app).await;
    // Five-year money: still available when the closeout gives the balance back.
    app.funds(app.admin())
        .create_appropriation(pb::CreateAppropriationRequest {
            parent: "fundingAccounts/ESF".into(),
            appropriation: Some(pb::Appropriation {
                fiscal_year: fiscal_year_of(start),
                amount: 1_000_000,
                availability_years: 5,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("five-year money");
    let ended = funded_until(&app, "CLO-1", start, end, 100_000, Vec::new()).await;
    let running = funded(&app, "CLO-2", today, 100_000).await;
    let officer = app.token(pb::Role::ProgramOfficer, "").await;
    let signer = app.token(pb::Role::GrantsOfficer, "").await;

    let at_first = closeout(&app, &ended.grantee, &ended.grant).await;
    let not_yet = closeout(&app, app.admin().unwrap(), &running.grant).await;
    let overdue = overdue_closeouts(&app).await;
    let bare_too_early = app
        .grants(app.admin())
        .close_grant(pb::CloseGrantRequest {
            name: ended.grant.clone(),
            ..Default::default()
        })
        .await
        .expect_err("reports are missing");
    let too_early = app
        .closeouts(Some(&signer))
        .complete_closeout(pb::CompleteCloseoutRequest {
            name: format!("{}/closeout", ended.grant),
            ..Default::default()
        })
        .await
        .expect_err("reports are missing");

    settle_reports(&app, &ended, (start, end), &officer).await;
    let asked = app
        .payments(Some(&ended.grantee))
        .create_payment_request(pb::CreatePaymentRequestRequest {
            parent: ended.grant.clone(),
            payment_request: Some(pb::PaymentRequest {
                kind: pb::PaymentKind::Reimbursement as i32,
                funding_account: "fundingAccounts/ESF".into(),
                fiscal_year: ended.fiscal_year,
                amount: 60_000,
                period_start_date: start.to_string(),
                period_end_date: start.to_string(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("the final request")
        .into_inner();
    let unpaid = closeout(&app, &signer, &ended.grant).await;
    app.payments(Some(&officer))
        .approve_payment_request(pb::ApprovePaymentRequestRequest {
            name: asked.name.clone(),
            ..Default::default()
        })
        .await
        .expect("approved once the reports are in");
    app.payments(Some(&officer))
        .record_payment(pb::RecordPaymentRequest {
            name: asked.name.clone(),
            payment_date: today.to_string(),
            ..Default::default()
        })
        .await
        .expect("paid");
    app.projects(app.admin())
        .complete_project(pb::CompleteProjectRequest {
            name: ended.project.clone(),
            ..Default::default()
        })
        .await
        .expect("the project is complete");
    let ready = closeout(&app, &signer, &ended.grant).await;
    // A bare close never leaves money open on a closed grant: the closeout settles it.
    let bare_close = app
        .grants(app.admin())
        .close_grant(pb::CloseGrantRequest {
            name: ended.grant.clone(),
            ..Default::default()
        })
        .await
        .expect_err("40,000 is not paid");
    let before = available(&app, ended.fiscal_year).await;
    let completed = app
        .closeouts(Some(&signer))
        .complete_closeout(pb::CompleteCloseoutRequest {
            name: format!("{}/closeout", ended.grant),
            request_id: "close-once".into(),
            ..Default::default()
        })
        .await
        .expect("the grants officer completes the closeout")
        .into_inner();
    let grant = app
        .grants(app.admin())
        .get_grant(pb::GetGrantRequest {
            name: ended.grant.clone(),
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(at_first.status, pb::CloseoutStatus::Overdue as i32);
    assert_eq!(
        at_first.missing_final_outcome_reports,
        vec![ended.project.clone()]
    );
    assert!(!at_first.final_financial_report_accepted);
    assert_eq!(at_first.unliquidated_amount, 100_000);
    assert_eq!(not_yet.status, pb::CloseoutStatus::NotStarted as i32);
    assert!(overdue.contains(&ended.grant), "{overdue:?}");
    assert!(!overdue.contains(&running.grant), "{overdue:?}");
    assert_eq!(too_early.code(), Code::FailedPrecondition);
    assert_eq!(reason(&too_early), "CLOSEOUT_NOT_READY");
    assert!(
        too_early.message().contains("FINAL financial report"),
        "{too_early:?}"
    );
    assert_eq!(reason(&bare_too_early), "CLOSEOUT_NOT_READY");
    assert!(
        bare_too_early.message().contains("FINAL financial report"),
        "{bare_too_early:?}"
    );
    assert_eq!(reason(&bare_close), "CLOSEOUT_NOT_READY");
    assert!(
        bare_close.message().contains("$400.00")
            && bare_close.message().contains("CompleteCloseout"),
        "{bare_close:?}"
    );
    assert_eq!(unpaid.open_payment_requests, 1);
    assert_eq!(ready.blockers, Vec::<String>::new(), "{ready:?}");
    assert_eq!(ready.unliquidated_amount, 40_000);
    assert_eq!(completed.status, pb::CloseoutStatus::Closed as i32);
    assert_eq!(completed.unliquidated_amount, 0);
    assert_eq!(grant.state, pb::GrantState::Closed as i32);
    assert_eq!(grant.obligated_amount, 60_000);
    assert_eq!(
        available(&app, ended.fiscal_year).await,
        before + 40_000,
        "the balance is available again"
    );
    assert!(!overdue_closeouts(&app).await.contains(&ended.grant));
}

#[tokio::test]
async fn only_a_grants_officer_completes_a_closeout_and_a_bad_name_says_how_it_should_read() {
    let app = spawn_app().await;
    let funded = funded(&app, "CLO-3", Utc::now().date_naive(), 1_000).await;
    let officer = app.token(pb::Role::ProgramOfficer, "").await;

    let by_officer = app
        .closeouts(Some(&officer))
        .complete_closeout(pb::CompleteCloseoutRequest {
            name: format!("{}/closeout", funded.grant),
            ..Default::default()
        })
        .await
        .expect_err("program officers do not sign closeouts");
    let bad_name = app
        .closeouts(app.admin())
        .get_closeout(pb::GetCloseoutRequest {
            name: funded.grant.clone(),
        })
        .await
        .expect_err("a grant is not its closeout");
    let foreign = app
        .closeouts(Some(&funded.grantee))
        .get_closeout(pb::GetCloseoutRequest {
            name: "grants/0190a0a0-0000-7000-8000-000000000000/closeout".into(),
        })
        .await
        .expect_err("no such grant");

    assert_eq!(by_officer.code(), Code::PermissionDenied);
    assert_eq!(bad_name.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&bad_name), vec!["name"]);
    assert_eq!(foreign.code(), Code::NotFound);
}

async fn create_esf(app: &TestApp) {
    app.reference_data(app.admin())
        .create_funding_account(pb::CreateFundingAccountRequest {
            funding_account_id: "ESF".into(),
            funding_account: Some(pb::FundingAccount {
                display_name: "Economic Support Fund".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("the account");
}
