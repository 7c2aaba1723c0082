//! Payment requests: grantees ask, other staff decide, nothing is paid beyond
//! the obligation or while a report is overdue. Grants here run from today
//! (no report due yet) or from long ago (reports overdue), so the tests hold
//! whatever day they run on.

use chrono::{Days, NaiveDate, Utc};
use tonic::Code;

use crate::helpers::*;

/// An ACTIVE grant of a new grantee starting on `start` for two years, with `obligated` cents
/// of ESF money of `start`'s fiscal year; its project and the grantee's token.
pub struct Funded {
    pub grant: String,
    pub project: String,
    pub grantee: String,
    pub fiscal_year: i32,
}

pub fn fiscal_year_of(day: NaiveDate) -> i32 {
    tipgrants::domain::fiscal_year::FiscalCalendar::default().fiscal_year_of(day)
}

pub async fn funded(app: &TestApp, award: &str, start: NaiveDate, obligated: i64) -> Funded {
    funded_with_budget(app, award, start, obligated, Vec::new()).await
}

/// Like [`funded`], with an approved `budget` set while the grant was a draft.
pub async fn funded_with_budget(
    app: &TestApp,
    award: &str,
    start: NaiveDate,
    obligated: i64,
    budget: Vec<pb::BudgetLine>,
) -> Funded {
    let end = start.checked_add_days(Days::new(729)).unwrap();
    funded_until(app, award, start, end, obligated, budget).await
}

/// Like [`funded_with_budget`], for a period of performance from `start` to `end`.
pub async fn funded_until(
    app: &TestApp,
    award: &str,
    start: NaiveDate,
    end: NaiveDate,
    obligated: i64,
    budget: Vec<pb::BudgetLine>,
) -> Funded {
    // The account may exist already (a second funded grant of the same test).
    let _ = app
        .reference_data(app.admin())
        .create_funding_account(pb::CreateFundingAccountRequest {
            funding_account_id: "ESF".into(),
            funding_account: Some(pb::FundingAccount {
                display_name: "Economic Support Fund".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await;
    let organization = app.organization(&format!("Grantee {award}"), "HT").await;
    let grant = app
        .grants(app.admin())
        .create_grant(pb::CreateGrantRequest {
            grant: Some(pb::Grant {
                start_date: start.to_string(),
                end_date: end.to_string(),
                reporting_cadence: pb::ReportingCadence::Annual as i32,
                budget,
                ..new_grant(award, &organization.name)
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let fiscal_year = fiscal_year_of(start);
    app.obligate(
        &grant.name,
        new_obligation(
            pb::ObligationKind::InitialAward,
            "ESF",
            fiscal_year,
            obligated,
            &start.to_string(),
        ),
    )
    .await
    .expect("the admin obligates");
    let project = app
        .project(
            &grant.name,
            pb::Project {
                start_date: start.to_string(),
                end_date: end.to_string(),
                ..new_project("Shelters", &["HT"])
            },
        )
        .await;
    let mut indicator = new_indicator(10);
    for target in &mut indicator.targets {
        target.fiscal_year = fiscal_year;
    }
    app.indicator(&project.name, indicator).await;
    app.activate(&grant.name).await.expect("activated");
    app.projects(app.admin())
        .start_project(pb::StartProjectRequest {
            name: project.name.clone(),
            ..Default::default()
        })
        .await
        .expect("started");
    Funded {
        grant: grant.name,
        project: project.name,
        grantee: app.token(pb::Role::Grantee, &organization.name).await,
        fiscal_year,
    }
}

fn asked(fiscal_year: i32, amount: i64) -> pb::PaymentRequest {
    let today = Utc::now().date_naive();
    pb::PaymentRequest {
        kind: pb::PaymentKind::Reimbursement as i32,
        funding_account: "fundingAccounts/ESF".into(),
        fiscal_year,
        amount,
        period_start_date: today.to_string(),
        period_end_date: today.to_string(),
        description: "Shelter rent".into(),
        ..Default::default()
    }
}

async fn request(
    app: &TestApp,
    token: &str,
    funded: &Funded,
    amount: i64,
) -> Result<tonic::Response<pb::PaymentRequest>, tonic::Status> {
    app.payments(Some(token))
        .create_payment_request(pb::CreatePaymentRequestRequest {
            parent: funded.grant.clone(),
            payment_request: Some(asked(funded.fiscal_year, amount)),
            request_id: String::new(),
        })
        .await
}

fn approval(name: &str) -> pb::ApprovePaymentRequestRequest {
    pb::ApprovePaymentRequestRequest {
        name: name.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_grantee_asks_other_staff_approve_and_the_payment_is_recorded() {
    let app = spawn_app().await;
    let funded = funded(&app, "PAY-1", Utc::now().date_naive(), 10_000).await;
    let officer = app.token(pb::Role::ProgramOfficer, "").await;

    let asked = request(&app, &funded.grantee, &funded, 4_000)
        .await
        .expect("the grantee asks on its own grant")
        .into_inner();
    assert_eq!(asked.state, pb::PaymentRequestState::Submitted as i32);
    let own = app
        .payments(Some(&funded.grantee))
        .approve_payment_request(approval(&asked.name))
        .await;
    expect_code(own, Code::PermissionDenied);
    let refused_reasonless = app
        .payments(Some(&officer))
        .refuse_payment_request(pb::RefusePaymentRequestRequest {
            name: asked.name.clone(),
            ..Default::default()
        })
        .await;
    expect_invalid(refused_reasonless, &["reason"]);
    let approved = app
        .payments(Some(&officer))
        .approve_payment_request(approval(&asked.name))
        .await
        .expect("other staff approve")
        .into_inner();
    assert_eq!(approved.state, pb::PaymentRequestState::Approved as i32);
    let tomorrow = Utc::now()
        .date_naive()
        .checked_add_days(Days::new(2))
        .unwrap();
    let future = app
        .payments(Some(&officer))
        .record_payment(pb::RecordPaymentRequest {
            name: asked.name.clone(),
            payment_date: tomorrow.to_string(),
            ..Default::default()
        })
        .await;
    expect_invalid(future, &["payment_date"]);
    let paid = app
        .payments(Some(&officer))
        .record_payment(pb::RecordPaymentRequest {
            name: asked.name.clone(),
            payment_date: Utc::now().date_naive().to_string(),
            payment_reference: "PMS-0001".into(),
            request_id: "pay-once".into(),
            ..Default::default()
        })
        .await
        .expect("paid")
        .into_inner();
    assert_eq!(paid.state, pb::PaymentRequestState::Paid as i32);
    let replay = app
        .payments(Some(&officer))
        .record_payment(pb::RecordPaymentRequest {
            name: asked.name.clone(),
            payment_date: Utc::now().date_naive().to_string(),
            payment_reference: "PMS-0001".into(),
            request_id: "pay-once".into(),
            ..Default::default()
        })
        .await
        .expect("a retry replays")
        .into_inner();
    assert_eq!(replay, paid);

    let seen = app
        .payments(Some(&funded.grantee))
        .get_payment_request(pb::GetPaymentRequestRequest {
            name: asked.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        seen.decider, "program office",
        "a grantee never sees staff token ids"
    );
    let too_much = request(&app, &funded.grantee, &funded, 6_001).await;
    assert_eq!(
        reason(&expect_code(too_much, Code::FailedPrecondition)),
        "PAYMENT_EXCEEDS_OBLIGATION"
    );
    let taking_back_the_paid = app
        .obligate(
            &funded.grant,
            new_obligation(
                pb::ObligationKind::Deobligation,
                "ESF",
                funded.fiscal_year,
                6_001,
                &Utc::now().date_naive().to_string(),
            ),
        )
        .await;
    assert_eq!(
        reason(&expect_code(
            taking_back_the_paid.map(tonic::Response::new),
            Code::FailedPrecondition
        )),
        "DEOBLIGATION_BELOW_PAYMENTS"
    );
}

#[tokio::test]
async fn the_person_who_asked_never_decides_with_any_of_their_tokens() {
    let app = spawn_app().await;
    let funded = funded(&app, "PAY-2", Utc::now().date_naive(), 10_000).await;
    let owner = "sam.staff@state.example";
    let first = app
        .token_owned_by(pb::Role::ProgramOfficer, "", owner)
        .await
        .1;
    let second = app
        .token_owned_by(pb::Role::ProgramOfficer, "", owner)
        .await
        .1;

    let asked = request(&app, &first, &funded, 100)
        .await
        .unwrap()
        .into_inner();
    let same_person = app
        .payments(Some(&second))
        .approve_payment_request(approval(&asked.name))
        .await;

    assert_eq!(
        reason(&expect_code(same_person, Code::FailedPrecondition)),
        "PAYMENT_REQUEST_FOUR_EYES"
    );
}

#[tokio::test]
async fn fifty_racing_approvals_never_pay_more_than_was_obligated() {
    let app = spawn_app_with(|settings| settings.database.max_connections = 8).await;
    let funded = funded(&app, "PAY-3", Utc::now().date_naive(), 5_000).await;
    let officer = app.token(pb::Role::ProgramOfficer, "").await;
    let mut names = Vec::new();
    for _ in 0..60 {
        names.push(
            request(&app, &funded.grantee, &funded, 100)
                .await
                .expect("each request alone fits")
                .into_inner()
                .name,
        );
    }

    let approvals: Vec<_> = names
        .iter()
        .map(|name| {
            let mut client = app.payments(Some(&officer));
            let request = approval(name);
            // A client retries UNAVAILABLE (AIP-194): sixty approvals queue on one grant's lock
            // and a pool of eight connections, so some wait longer than the pool's timeout.
            tokio::spawn(async move {
                loop {
                    match client.approve_payment_request(request.clone()).await {
                        Err(status) if status.code() == Code::Unavailable => {
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await
                        }
                        answer => return answer,
                    }
                }
            })
        })
        .collect();
    let mut approved = 0;
    for approval in approvals {
        match approval.await.unwrap() {
            Ok(_) => approved += 1,
            Err(status) => assert_eq!(reason(&status), "PAYMENT_EXCEEDS_OBLIGATION", "{status:?}"),
        }
    }

    assert_eq!(approved, 50, "exactly the 5,000 cents obligated");
}

#[tokio::test]
async fn no_payment_is_approved_while_an_outcome_or_financial_report_is_overdue_and_it_is_once_submitted()
 {
    let app = spawn_app().await;
    let long_ago = Utc::now()
        .date_naive()
        .checked_sub_days(Days::new(500))
        .unwrap();
    let funded = funded(&app, "PAY-4", long_ago, 10_000).await;
    let officer = app.token(pb::Role::ProgramOfficer, "").await;
    let asked = request(&app, &funded.grantee, &funded, 1_000)
        .await
        .unwrap()
        .into_inner();

    let blocked = app
        .payments(Some(&officer))
        .approve_payment_request(approval(&asked.name))
        .await;
    let status = expect_code(blocked, Code::FailedPrecondition);
    assert_eq!(reason(&status), "PAYMENT_BLOCKED_BY_OVERDUE_REPORT");
    assert!(status.message().contains(&funded.project), "{status:?}");

    let overdue = app
        .outcome_reports(Some(&funded.grantee))
        .list_reporting_periods(pb::ListReportingPeriodsRequest {
            parent: funded.project.clone(),
            filter: "status = OVERDUE".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .reporting_periods;
    assert!(!overdue.is_empty());
    for period in overdue {
        let report = app
            .outcome_reports(Some(&funded.grantee))
            .create_outcome_report(pb::CreateOutcomeReportRequest {
                parent: funded.project.clone(),
                outcome_report: Some(pb::OutcomeReport {
                    period: period.period.clone(),
                    narrative: "Late, but here".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        app.outcome_reports(Some(&funded.grantee))
            .submit_outcome_report(pb::SubmitOutcomeReportRequest {
                name: report.name.clone(),
                ..Default::default()
            })
            .await
            .expect("the grantee submits the late report");
    }
    let still = app
        .payments(Some(&officer))
        .approve_payment_request(approval(&asked.name))
        .await;
    let status = expect_code(still, Code::FailedPrecondition);
    assert_eq!(reason(&status), "PAYMENT_BLOCKED_BY_OVERDUE_REPORT");
    assert!(
        status.message().contains("financial report of grants/"),
        "{status:?}"
    );
    let mut given = 0;
    loop {
        let blocked = app
            .payments(Some(&officer))
            .approve_payment_request(approval(&asked.name))
            .await;
        let Err(status) = blocked else { break };
        assert_eq!(
            reason(&status),
            "PAYMENT_BLOCKED_BY_OVERDUE_REPORT",
            "{status:?}"
        );
        let period = status
            .message()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string();
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
            .expect("the grantee starts the late financial report")
            .into_inner();
        app.financial_reports(Some(&funded.grantee))
            .submit_financial_report(pb::SubmitFinancialReportRequest {
                name: report.name,
                ..Default::default()
            })
            .await
            .expect("and submits it");
        given += 1;
        assert!(given < 10, "the gate keeps naming reports");
    }
    assert!(given >= 1);
    let approved = app
        .payments(Some(&officer))
        .get_payment_request(pb::GetPaymentRequestRequest {
            name: asked.name.clone(),
        })
        .await
        .expect("no report is overdue any more")
        .into_inner();
    assert_eq!(approved.state, pb::PaymentRequestState::Approved as i32);
}

#[tokio::test]
async fn a_request_on_another_grantees_grant_is_not_found_and_bad_terms_name_their_fields() {
    let app = spawn_app().await;
    let funded = funded(&app, "PAY-5", Utc::now().date_naive(), 10_000).await;
    let stranger_org = app.organization("Stranger", "PE").await;
    let stranger = app.token(pb::Role::Grantee, &stranger_org.name).await;

    let foreign = request(&app, &stranger, &funded, 100).await;
    expect_code(foreign, Code::NotFound);
    let bad = app
        .payments(Some(&funded.grantee))
        .create_payment_request(pb::CreatePaymentRequestRequest {
            parent: funded.grant.clone(),
            payment_request: Some(pb::PaymentRequest {
                kind: 0,
                funding_account: String::new(),
                fiscal_year: 1800,
                amount: -5,
                period_start_date: "2026-02-01".into(),
                period_end_date: "2026-01-01".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await;
    expect_invalid(
        bad,
        &[
            "payment_request.kind",
            "payment_request.funding_account",
            "payment_request.fiscal_year",
            "payment_request.amount",
            "payment_request.period_end_date",
        ],
    );
    let listed = app
        .payments(Some(&stranger))
        .list_payment_requests(pb::ListPaymentRequestsRequest {
            parent: "grants/-".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.payment_requests.is_empty());
}

#[tokio::test]
async fn an_advance_beyond_thirty_days_of_recent_spending_is_flagged_and_a_reimbursement_never() {
    let app = spawn_app().await;
    let today = Utc::now().date_naive();
    // From the first day of last fiscal year: its first annual period is 364 days long.
    let last_year = fiscal_year_of(today) - 1;
    let start = NaiveDate::from_ymd_opt(last_year - 1, 10, 1).unwrap();
    let end = start.checked_add_days(Days::new(729)).unwrap();
    let funded = funded_until(&app, "PAY-ADV", start, end, 100_000, Vec::new()).await;
    let ask = |kind: pb::PaymentKind, amount: i64| {
        let grant = funded.grant.clone();
        let token = funded.grantee.clone();
        let app = &app;
        async move {
            app.payments(Some(&token))
                .create_payment_request(pb::CreatePaymentRequestRequest {
                    parent: grant,
                    payment_request: Some(pb::PaymentRequest {
                        kind: kind as i32,
                        ..asked(last_year, amount)
                    }),
                    request_id: String::new(),
                })
                .await
                .expect("requested")
                .into_inner()
        }
    };

    let before_any_report = ask(pb::PaymentKind::Advance, 1_000).await;
    let report = app
        .financial_reports(Some(&funded.grantee))
        .create_financial_report(pb::CreateFinancialReportRequest {
            parent: funded.grant.clone(),
            financial_report: Some(pb::FinancialReport {
                period: last_year.to_string(),
                cash_receipts: 36_400,
                cash_disbursements: 36_400,
                // 100 cents a day over the period's 364 days.
                federal_expenditures: 36_400,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("the grantee reports its spending")
        .into_inner();
    app.financial_reports(Some(&funded.grantee))
        .submit_financial_report(pb::SubmitFinancialReportRequest {
            name: report.name,
            ..Default::default()
        })
        .await
        .expect("and submits it");
    // Cash on hand after an advance of 39,400: 3,000, exactly 30 days of spending.
    let within = ask(pb::PaymentKind::Advance, 39_400).await;
    let reimbursement = ask(pb::PaymentKind::Reimbursement, 50_000).await;
    let beyond = ask(pb::PaymentKind::Advance, 39_401).await;

    assert!(before_any_report.excess_cash);
    assert!(
        before_any_report
            .excess_cash_note
            .contains("no expenditure is reported yet"),
        "{before_any_report:?}"
    );
    assert!(!within.excess_cash, "{within:?}");
    assert_eq!(within.excess_cash_note, "");
    assert!(!reimbursement.excess_cash);
    assert!(beyond.excess_cash, "{beyond:?}");
    assert!(
        beyond.excess_cash_note.contains("more than 30 days"),
        "{beyond:?}"
    );
}

#[tokio::test]
async fn an_approval_recorded_after_the_fact_is_judged_on_its_decision_date_and_says_so() {
    let app = spawn_app().await;
    // FY 2012 two-year money: available until FY 2013, cancelled from FY 2019.
    let (start, end) = (
        NaiveDate::from_ymd_opt(2011, 10, 1).unwrap(),
        NaiveDate::from_ymd_opt(2012, 9, 30).unwrap(),
    );
    let funded = funded_until(&app, "PAY-HISTORY", start, end, 10_000, Vec::new()).await;
    let officer = app.token(pb::Role::ProgramOfficer, "").await;
    let reviewer = app.token(pb::Role::ProgramOfficer, "").await;
    crate::closeouts::settle_reports(&app, &funded, (start, end), &reviewer).await;
    let asked = request(&app, &funded.grantee, &funded, 4_000)
        .await
        .expect("the grantee asks")
        .into_inner();
    let approve_on = |day: &str| pb::ApprovePaymentRequestRequest {
        decision_date: day.into(),
        reason: "Invoices checked".into(),
        ..approval(&asked.name)
    };
    let tomorrow = Utc::now()
        .date_naive()
        .checked_add_days(Days::new(2))
        .unwrap();

    let today = app
        .payments(Some(&officer))
        .approve_payment_request(approval(&asked.name))
        .await;
    let cancelled_by_then = app
        .payments(Some(&officer))
        .approve_payment_request(approve_on("2019-10-01"))
        .await;
    let future = app
        .payments(Some(&officer))
        .approve_payment_request(approve_on(&tomorrow.to_string()))
        .await;
    let malformed = app
        .payments(Some(&officer))
        .approve_payment_request(approve_on("June 2012"))
        .await;
    let approved = app
        .payments(Some(&officer))
        .approve_payment_request(approve_on("2012-10-15"))
        .await
        .expect("approved on a day the money was payable")
        .into_inner();
    let paid = app
        .payments(Some(&officer))
        .record_payment(pb::RecordPaymentRequest {
            name: asked.name.clone(),
            payment_date: "2012-10-20".into(),
            ..Default::default()
        })
        .await
        .expect("paid on a day the money was payable")
        .into_inner();

    for refused in [today, cancelled_by_then] {
        let status = expect_code(refused, Code::FailedPrecondition);
        assert_eq!(reason(&status), "FUNDS_CANCELLED", "{status:?}");
    }
    expect_invalid(future, &["decision_date"]);
    expect_invalid(malformed, &["decision_date"]);
    assert_eq!(approved.state, pb::PaymentRequestState::Approved as i32);
    assert_eq!(
        approved.state_reason,
        "Invoices checked (decided on 2012-10-15)"
    );
    assert_eq!(paid.state, pb::PaymentRequestState::Paid as i32);
    assert_eq!(paid.payment_date, "2012-10-20");
}
