//! Federal Financial Reports (SF-425): figures that add up, checked against
//! the grant's obligation and earlier reports, reviewed by other staff.

use chrono::{Days, Utc};
use tonic::Code;

use crate::helpers::*;
use crate::payments::{Funded, funded};

/// A grant that started 400 days ago (so its first annual period is over) with 10,000 cents.
async fn grant(app: &TestApp, award: &str) -> Funded {
    let start = Utc::now()
        .date_naive()
        .checked_sub_days(Days::new(400))
        .unwrap();
    funded(app, award, start, 10_000).await
}

/// The first period of the grant's financial schedule: its fiscal year of start.
fn first_period(funded: &Funded) -> String {
    funded.fiscal_year.to_string()
}

fn figures(expenditures: i64, unliquidated: i64) -> pb::FinancialReport {
    pb::FinancialReport {
        cash_receipts: 5_000,
        cash_disbursements: 4_000,
        federal_expenditures: expenditures,
        federal_unliquidated_obligations: unliquidated,
        indirect_rate_type: "PREDETERMINED".into(),
        indirect_rate_basis_points: 1_000,
        indirect_base: 3_000,
        indirect_amount: 300,
        ..Default::default()
    }
}

async fn start(
    app: &TestApp,
    token: &str,
    funded: &Funded,
    period: &str,
    report: pb::FinancialReport,
) -> Result<tonic::Response<pb::FinancialReport>, tonic::Status> {
    app.financial_reports(Some(token))
        .create_financial_report(pb::CreateFinancialReportRequest {
            parent: funded.grant.clone(),
            financial_report: Some(pb::FinancialReport {
                period: period.into(),
                ..report
            }),
            request_id: String::new(),
        })
        .await
}

async fn submit(
    app: &TestApp,
    token: &str,
    name: &str,
) -> Result<tonic::Response<pb::FinancialReport>, tonic::Status> {
    app.financial_reports(Some(token))
        .submit_financial_report(pb::SubmitFinancialReportRequest {
            name: name.into(),
            ..Default::default()
        })
        .await
}

#[tokio::test]
async fn a_grantee_reports_figures_that_add_up_and_other_staff_accept_them() {
    let app = spawn_app().await;
    let funded = grant(&app, "FFR-1").await;
    let officer = app.token(pb::Role::ProgramOfficer, "").await;

    let draft = start(
        &app,
        &funded.grantee,
        &funded,
        &first_period(&funded),
        figures(3_500, 500),
    )
    .await
    .expect("the grantee starts its report")
    .into_inner();
    assert_eq!(draft.state, pb::FinancialReportState::Draft as i32);
    assert_eq!(draft.cash_on_hand, 1_000, "10c = 10a - 10b");
    assert_eq!(
        draft.federal_funds_authorized, 10_000,
        "10d: the net obligation"
    );
    assert_eq!(draft.total_federal_share, 4_000, "10g = 10e + 10f");
    assert_eq!(draft.unobligated_balance, 6_000, "10h = 10d - 10g");
    let submitted = submit(&app, &funded.grantee, &draft.name)
        .await
        .expect("figures that add up are submitted")
        .into_inner();
    let again = start(
        &app,
        &funded.grantee,
        &funded,
        &first_period(&funded),
        figures(1, 0),
    )
    .await;
    expect_code(again, Code::AlreadyExists);
    let frozen = app
        .financial_reports(Some(&funded.grantee))
        .update_financial_report(pb::UpdateFinancialReportRequest {
            financial_report: Some(pb::FinancialReport {
                name: submitted.name.clone(),
                remarks: "late change".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["remarks".into()],
            }),
        })
        .await;
    assert_eq!(
        reason(&expect_code(frozen, Code::FailedPrecondition)),
        "FINANCIAL_REPORT_NOT_EDITABLE"
    );
    let accepted = app
        .financial_reports(Some(&officer))
        .accept_financial_report(pb::AcceptFinancialReportRequest {
            name: submitted.name.clone(),
            ..Default::default()
        })
        .await
        .expect("staff accept it")
        .into_inner();
    assert_eq!(accepted.state, pb::FinancialReportState::Accepted as i32);
}

#[tokio::test]
async fn figures_that_do_not_add_up_are_refused_at_submission_naming_each_line() {
    let app = spawn_app().await;
    let funded = grant(&app, "FFR-2").await;
    let bad = pb::FinancialReport {
        cash_receipts: 100,
        cash_disbursements: 200,
        federal_expenditures: 9_000,
        federal_unliquidated_obligations: 2_000,
        indirect_rate_basis_points: 1_000,
        indirect_base: 3_000,
        indirect_amount: 900,
        ..Default::default()
    };
    let draft = start(&app, &funded.grantee, &funded, &first_period(&funded), bad)
        .await
        .expect("a draft may be incomplete or wrong")
        .into_inner();

    let refused = submit(&app, &funded.grantee, &draft.name).await;
    expect_invalid(
        refused,
        &[
            "financial_report.cash_disbursements",
            "financial_report.federal_expenditures",
            "financial_report.indirect_amount",
        ],
    );
    let unknown_period = start(&app, &funded.grantee, &funded, "1999-Q1", figures(0, 0)).await;
    expect_invalid(unknown_period, &["financial_report.period"]);
    let negative = start(
        &app,
        &funded.grantee,
        &funded,
        "FINAL",
        pb::FinancialReport {
            cash_receipts: -1,
            indirect_rate_basis_points: 10_001,
            ..Default::default()
        },
    )
    .await;
    expect_invalid(
        negative,
        &[
            "financial_report.cash_receipts",
            "financial_report.indirect_rate_basis_points",
        ],
    );
}

#[tokio::test]
async fn cumulative_expenditures_fall_only_with_a_reason_and_staff_return_with_comments() {
    let app = spawn_app().await;
    let funded = grant(&app, "FFR-3").await;
    let officer = app.token(pb::Role::ProgramOfficer, "").await;
    let first = start(
        &app,
        &funded.grantee,
        &funded,
        &first_period(&funded),
        figures(3_000, 0),
    )
    .await
    .unwrap()
    .into_inner();
    submit(&app, &funded.grantee, &first.name).await.unwrap();

    let lower = start(&app, &funded.grantee, &funded, "FINAL", figures(2_000, 0))
        .await
        .unwrap()
        .into_inner();
    let refused = submit(&app, &funded.grantee, &lower.name).await;
    expect_invalid(refused, &["financial_report.expenditure_decrease_reason"]);
    app.financial_reports(Some(&funded.grantee))
        .update_financial_report(pb::UpdateFinancialReportRequest {
            financial_report: Some(pb::FinancialReport {
                name: lower.name.clone(),
                expenditure_decrease_reason: "A refund of travel costs".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["expenditure_decrease_reason".into()],
            }),
        })
        .await
        .expect("the reason is given");
    submit(&app, &funded.grantee, &lower.name)
        .await
        .expect("a fall with a reason is submitted");
    let reasonless = app
        .financial_reports(Some(&officer))
        .return_financial_report(pb::ReturnFinancialReportRequest {
            name: lower.name.clone(),
            ..Default::default()
        })
        .await;
    expect_invalid(reasonless, &["reason"]);
    let returned = app
        .financial_reports(Some(&officer))
        .return_financial_report(pb::ReturnFinancialReportRequest {
            name: lower.name.clone(),
            reason: "Attach the refund's receipt".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(returned.state, pb::FinancialReportState::Returned as i32);
    assert_eq!(returned.reviewer_comments, "Attach the refund's receipt");
    assert!(
        returned.reviewer.starts_with("apiTokens/"),
        "staff see the token"
    );
    let seen_by_grantee = app
        .financial_reports(Some(&funded.grantee))
        .get_financial_report(pb::GetFinancialReportRequest {
            name: lower.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen_by_grantee.reviewer, "program office");
}

#[tokio::test]
async fn the_submitter_never_accepts_and_another_grantee_never_sees_the_report() {
    let app = spawn_app().await;
    let funded = grant(&app, "FFR-4").await;
    let (_, officer) = app.token_named(pb::Role::ProgramOfficer, "").await;
    let draft = start(
        &app,
        &officer,
        &funded,
        &first_period(&funded),
        figures(100, 0),
    )
    .await
    .unwrap()
    .into_inner();
    submit(&app, &officer, &draft.name).await.unwrap();

    let own = app
        .financial_reports(Some(&officer))
        .accept_financial_report(pb::AcceptFinancialReportRequest {
            name: draft.name.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(
        reason(&expect_code(own, Code::FailedPrecondition)),
        "FINANCIAL_REPORT_FOUR_EYES"
    );
    let stranger_org = app.organization("Stranger", "PE").await;
    let stranger = app.token(pb::Role::Grantee, &stranger_org.name).await;
    let hidden = app
        .financial_reports(Some(&stranger))
        .get_financial_report(pb::GetFinancialReportRequest {
            name: draft.name.clone(),
        })
        .await;
    expect_code(hidden, Code::NotFound);
    let listed = app
        .financial_reports(Some(&stranger))
        .list_financial_reports(pb::ListFinancialReportsRequest {
            parent: "grants/-".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.financial_reports.is_empty());
    let foreign = start(&app, &stranger, &funded, "FINAL", figures(0, 0)).await;
    expect_code(foreign, Code::NotFound);
}

async fn financial_periods(
    app: &TestApp,
    token: &str,
    parent: &str,
    filter: &str,
    page_size: i32,
) -> Vec<pb::FinancialReportingPeriod> {
    let mut periods = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = app
            .financial_reports(Some(token))
            .list_financial_reporting_periods(pb::ListFinancialReportingPeriodsRequest {
                parent: parent.into(),
                page_size,
                page_token,
                filter: filter.into(),
            })
            .await
            .expect("the schedule lists")
            .into_inner();
        periods.extend(page.financial_reporting_periods);
        if page.next_page_token.is_empty() {
            return periods;
        }
        page_token = page.next_page_token;
    }
}

#[tokio::test]
async fn staff_list_the_overdue_financial_reports_and_a_submitted_one_is_no_longer_overdue() {
    let app = spawn_app().await;
    let late = grant(&app, "FIN-LIST-1").await;
    let fresh = funded(&app, "FIN-LIST-2", Utc::now().date_naive(), 10_000).await;
    let officer = app.token(pb::Role::ProgramOfficer, "").await;
    let keys = |periods: &[pb::FinancialReportingPeriod]| -> Vec<(String, String)> {
        periods
            .iter()
            .map(|period| (period.grant.clone(), period.period.clone()))
            .collect()
    };

    let overdue = financial_periods(&app, &officer, "grants/-", "status = OVERDUE", 50).await;
    let whole = financial_periods(&app, &officer, &late.grant, "", 50).await;
    let one_by_one = financial_periods(&app, &officer, "grants/-", "", 1).await;
    let all = financial_periods(&app, &officer, "grants/-", "", 500).await;
    let own = financial_periods(&app, &fresh.grantee, "grants/-", "", 50).await;
    let report = start(
        &app,
        &late.grantee,
        &late,
        &first_period(&late),
        figures(0, 0),
    )
    .await
    .unwrap()
    .into_inner();
    submit(&app, &late.grantee, &report.name).await.unwrap();
    let after = financial_periods(&app, &officer, "grants/-", "status = OVERDUE", 50).await;

    assert_eq!(
        keys(&overdue),
        vec![(late.grant.clone(), first_period(&late))],
        "only the late grant's first year is overdue: {overdue:?}"
    );
    assert_eq!(overdue[0].status, pb::ReportingPeriodStatus::Overdue as i32);
    assert_eq!(whole.last().map(|p| p.period.as_str()), Some("FINAL"));
    assert!(whole.iter().all(|period| period.grant == late.grant));
    assert_eq!(
        keys(&one_by_one),
        keys(&all),
        "pages of one add up to the whole list"
    );
    assert!(own.iter().all(|period| period.grant == fresh.grant));
    assert!(!own.is_empty());
    assert!(after.is_empty(), "{after:?}");
}
