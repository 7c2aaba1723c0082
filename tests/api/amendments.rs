//! Amendments of awards: each kind takes effect as a new revision of the grant
//! once a grants officer other than the requester signs; a realignment within
//! 10% of the budget needs no signature; a supplement draws on available
//! funds only; a de-obligation gives money back to its appropriation.

use chrono::{Days, Utc};
use tonic::Code;

use crate::helpers::*;
use crate::payments::{Funded, funded, funded_with_budget};

fn line(category: pb::BudgetCategory, amount: i64) -> pb::BudgetLine {
    pb::BudgetLine {
        category: category as i32,
        amount,
    }
}

/// $1,000.00 of personnel, $500.00 of travel, $500.00 of supplies: $2,000.00 in all.
fn a_budget() -> Vec<pb::BudgetLine> {
    vec![
        line(pb::BudgetCategory::Personnel, 100_000),
        line(pb::BudgetCategory::Travel, 50_000),
        line(pb::BudgetCategory::Supplies, 50_000),
    ]
}

fn realignment(from: pb::BudgetCategory, to: pb::BudgetCategory, cents: i64) -> pb::Amendment {
    pb::Amendment {
        kind: pb::AmendmentKind::BudgetRealignment as i32,
        justification: "Trainers cost more than planned".into(),
        budget_changes: vec![line(from, -cents), line(to, cents)],
        ..Default::default()
    }
}

async fn request(
    app: &TestApp,
    token: &str,
    grant: &str,
    amendment: pb::Amendment,
) -> Result<pb::Amendment, tonic::Status> {
    app.amendments(Some(token))
        .create_amendment(pb::CreateAmendmentRequest {
            parent: grant.into(),
            amendment: Some(amendment),
            request_id: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn approve(app: &TestApp, token: &str, name: &str) -> Result<pb::Amendment, tonic::Status> {
    app.amendments(Some(token))
        .approve_amendment(pb::ApproveAmendmentRequest {
            name: name.into(),
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn grant(app: &TestApp, name: &str) -> pb::Grant {
    app.grants(app.admin())
        .get_grant(pb::GetGrantRequest { name: name.into() })
        .await
        .expect("the grant reads")
        .into_inner()
}

fn amount_of(grant: &pb::Grant, category: pb::BudgetCategory) -> i64 {
    grant
        .budget
        .iter()
        .find(|line| line.category == category as i32)
        .map(|line| line.amount)
        .unwrap_or(0)
}

async fn budgeted(app: &TestApp, award: &str) -> Funded {
    funded_with_budget(app, award, Utc::now().date_naive(), 200_000, a_budget()).await
}

#[tokio::test]
async fn a_realignment_within_ten_percent_takes_effect_at_once_and_one_over_waits_for_a_grants_officer()
 {
    let app = spawn_app().await;
    let funded = budgeted(&app, "AMD-1").await;
    let officer = app.token(pb::Role::GrantsOfficer, "").await;

    // $200.00 of $2,000.00 is exactly 10%: no prior approval.
    let small = request(
        &app,
        &funded.grantee,
        &funded.grant,
        realignment(
            pb::BudgetCategory::Travel,
            pb::BudgetCategory::Personnel,
            20_000,
        ),
    )
    .await
    .expect("the grantee realigns 10%");
    let after_small = grant(&app, &funded.grant).await;
    // $200.01 more is over 10%: it waits.
    let large = request(
        &app,
        &funded.grantee,
        &funded.grant,
        realignment(
            pb::BudgetCategory::Supplies,
            pb::BudgetCategory::Personnel,
            20_001,
        ),
    )
    .await
    .expect("the grantee asks to realign more");
    let still = grant(&app, &funded.grant).await;
    let signed = approve(&app, &officer, &large.name)
        .await
        .expect("the grants officer signs");
    let after_large = grant(&app, &funded.grant).await;

    assert_eq!(small.state, pb::AmendmentState::Approved as i32);
    assert!(!small.prior_approval_required);
    assert_eq!(small.moved_amount, 20_000);
    assert_eq!(small.decider, "");
    assert_eq!(small.grant_revision, after_small.revision);
    assert_eq!(amount_of(&after_small, pb::BudgetCategory::Travel), 30_000);
    assert_eq!(
        amount_of(&after_small, pb::BudgetCategory::Personnel),
        120_000
    );
    assert_eq!(large.state, pb::AmendmentState::Requested as i32);
    assert!(large.prior_approval_required);
    assert_eq!(
        still.budget, after_small.budget,
        "nothing moves before the signature"
    );
    assert_eq!(signed.state, pb::AmendmentState::Approved as i32);
    assert_eq!(signed.grant_revision, after_large.revision);
    assert_eq!(
        amount_of(&after_large, pb::BudgetCategory::Supplies),
        29_999
    );
    assert_eq!(
        amount_of(&after_large, pb::BudgetCategory::Personnel),
        140_001
    );
    assert_eq!(after_large.budget_total, 200_000);
}

#[tokio::test]
async fn the_grant_as_of_before_an_amendment_still_has_its_old_budget() {
    let app = spawn_app().await;
    let funded = budgeted(&app, "AMD-2").await;
    let before = grant(&app, &funded.grant).await;
    let between = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    request(
        &app,
        &funded.grantee,
        &funded.grant,
        realignment(
            pb::BudgetCategory::Travel,
            pb::BudgetCategory::Personnel,
            1_000,
        ),
    )
    .await
    .expect("realigned");

    let as_of = app
        .grants(app.admin())
        .list_grant_revisions(pb::ListGrantRevisionsRequest {
            parent: funded.grant.clone(),
            as_of_time: Some(prost_types::Timestamp {
                seconds: between.timestamp(),
                nanos: between.timestamp_subsec_nanos() as i32,
            }),
            ..Default::default()
        })
        .await
        .expect("revisions as of")
        .into_inner();

    let old = as_of.revisions[0].grant.as_ref().expect("the grant then");
    assert_eq!(old.budget, before.budget);
    assert_eq!(
        amount_of(
            &grant(&app, &funded.grant).await,
            pb::BudgetCategory::Travel
        ),
        49_000
    );
}

#[tokio::test]
async fn an_extension_moves_the_end_of_the_grant_and_of_the_projects_that_ended_with_it() {
    let app = spawn_app().await;
    let funded = funded(&app, "AMD-3", Utc::now().date_naive(), 100_000).await;
    let officer = app.token(pb::Role::GrantsOfficer, "").await;
    let old_end = grant(&app, &funded.grant).await.end_date;
    let new_end = chrono::NaiveDate::parse_from_str(&old_end, "%Y-%m-%d")
        .unwrap()
        .checked_add_days(Days::new(365))
        .unwrap()
        .to_string();
    let periods_before = periods(&app, &funded.project).await;
    // Drafts of the final reports, started before the extension.
    let final_outcome = app
        .outcome_reports(Some(&funded.grantee))
        .create_outcome_report(pb::CreateOutcomeReportRequest {
            parent: funded.project.clone(),
            outcome_report: Some(pb::OutcomeReport {
                period: "FINAL".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("a draft final outcome report")
        .into_inner();
    let final_financial = app
        .financial_reports(Some(&funded.grantee))
        .create_financial_report(pb::CreateFinancialReportRequest {
            parent: funded.grant.clone(),
            financial_report: Some(pb::FinancialReport {
                period: "FINAL".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("a draft final financial report")
        .into_inner();

    let asked = request(
        &app,
        &funded.grantee,
        &funded.grant,
        pb::Amendment {
            kind: pb::AmendmentKind::NoCostExtension as i32,
            justification: "Elections delayed the trainings".into(),
            end_date: new_end.clone(),
            ..Default::default()
        },
    )
    .await
    .expect("the grantee asks for more time");
    let unchanged = grant(&app, &funded.grant).await;
    approve(&app, &officer, &asked.name)
        .await
        .expect("the grants officer signs");
    let extended = grant(&app, &funded.grant).await;
    let project = app
        .projects(app.admin())
        .get_project(pb::GetProjectRequest {
            name: funded.project.clone(),
        })
        .await
        .expect("the project reads")
        .into_inner();
    let periods_after = periods(&app, &funded.project).await;
    let outcome_after = app
        .outcome_reports(Some(&funded.grantee))
        .get_outcome_report(pb::GetOutcomeReportRequest {
            name: final_outcome.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let financial_after = app
        .financial_reports(Some(&funded.grantee))
        .get_financial_report(pb::GetFinancialReportRequest {
            name: final_financial.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(asked.state, pb::AmendmentState::Requested as i32);
    assert_eq!(unchanged.end_date, old_end);
    assert_eq!(extended.end_date, new_end);
    assert_eq!(
        project.end_date, new_end,
        "the project ended with the grant"
    );
    assert!(
        periods_after.len() > periods_before.len(),
        "the reporting schedule follows: {periods_before:?} then {periods_after:?}"
    );
    assert_eq!(
        periods_after.last().map(|p| p.end_date.clone()),
        Some(new_end.clone())
    );
    assert_eq!(final_outcome.period_end_date, old_end);
    assert_eq!(outcome_after.period_end_date, new_end, "the draft follows");
    assert_eq!(final_financial.period_end_date, old_end);
    assert_eq!(
        financial_after.period_end_date, new_end,
        "the draft follows"
    );
    assert!(financial_after.due_date > final_financial.due_date);
}

async fn periods(app: &TestApp, project: &str) -> Vec<pb::ReportingPeriod> {
    app.outcome_reports(app.admin())
        .list_reporting_periods(pb::ListReportingPeriodsRequest {
            parent: project.into(),
            page_size: 500,
            ..Default::default()
        })
        .await
        .expect("the schedule reads")
        .into_inner()
        .reporting_periods
}

/// What FY `fiscal_year` ESF money may still take today.
pub(crate) async fn available(app: &TestApp, fiscal_year: i32) -> i64 {
    app.funds(app.admin())
        .get_appropriation(pb::GetAppropriationRequest {
            name: format!("fundingAccounts/ESF/appropriations/{fiscal_year}"),
            as_of_date: String::new(),
        })
        .await
        .expect("the appropriation reads")
        .into_inner()
        .available_amount
}

fn money(kind: pb::AmendmentKind, fiscal_year: i32, amount: i64) -> pb::Amendment {
    pb::Amendment {
        kind: kind as i32,
        justification: "Needs changed".into(),
        funding_account: "fundingAccounts/ESF".into(),
        fiscal_year,
        amount,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_supplement_obligates_available_money_and_a_deobligation_gives_it_back() {
    let app = spawn_app().await;
    let funded = funded(&app, "AMD-4", Utc::now().date_naive(), 100_000).await;
    let officer = app.token(pb::Role::GrantsOfficer, "").await;
    let program = app.token(pb::Role::ProgramOfficer, "").await;
    let year = funded.fiscal_year;
    let at_first = available(&app, year).await;

    let supplement = request(
        &app,
        &program,
        &funded.grant,
        money(pb::AmendmentKind::Supplement, year, 40_000),
    )
    .await
    .expect("requested");
    let supplemented = approve(&app, &officer, &supplement.name)
        .await
        .expect("signed");
    let after_supplement = (
        grant(&app, &funded.grant).await,
        available(&app, year).await,
    );
    let deobligation = request(
        &app,
        &program,
        &funded.grant,
        money(pb::AmendmentKind::Deobligation, year, 25_000),
    )
    .await
    .expect("requested");
    approve(&app, &officer, &deobligation.name)
        .await
        .expect("signed");
    let after_deobligation = (
        grant(&app, &funded.grant).await,
        available(&app, year).await,
    );
    let obligation = app
        .grants(app.admin())
        .get_obligation(pb::GetObligationRequest {
            name: supplemented.obligation.clone(),
        })
        .await
        .expect("the supplement's obligation reads")
        .into_inner();

    assert_eq!(obligation.kind, pb::ObligationKind::Increment as i32);
    assert_eq!(obligation.amount, 40_000);
    assert_eq!(after_supplement.0.obligated_amount, 140_000);
    assert_eq!(after_supplement.1, at_first - 40_000);
    assert_eq!(after_deobligation.0.obligated_amount, 115_000);
    assert_eq!(
        after_deobligation.1,
        at_first - 15_000,
        "the de-obligated unexpired money is available again"
    );
}

#[tokio::test]
async fn a_supplement_from_expired_money_is_refused_when_signed_and_changes_nothing() {
    let app = spawn_app().await;
    let funded = funded(&app, "AMD-5", Utc::now().date_naive(), 100_000).await;
    let officer = app.token(pb::Role::GrantsOfficer, "").await;
    // Two-year money of three years ago: expired, not yet cancelled.
    let expired = funded.fiscal_year - 3;
    app.appropriate("ESF", expired).await.expect("old money");
    let asked = request(
        &app,
        &funded.grantee,
        &funded.grant,
        money(pb::AmendmentKind::Supplement, expired, 10_000),
    )
    .await
    .expect("requested");

    let refused = approve(&app, &officer, &asked.name)
        .await
        .expect_err("expired money takes no new obligation");

    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "FUNDS_EXPIRED");
    assert_eq!(grant(&app, &funded.grant).await.obligated_amount, 100_000);
    let still = app
        .amendments(app.admin())
        .get_amendment(pb::GetAmendmentRequest {
            name: asked.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(still.state, pb::AmendmentState::Requested as i32);
}

#[tokio::test]
async fn only_a_grants_officer_who_did_not_ask_signs_and_a_stale_etag_or_a_retry_changes_nothing() {
    let app = spawn_app().await;
    let funded = budgeted(&app, "AMD-6").await;
    let owner = "gina.officer@state.example";
    let (_, first) = app.token_owned_by(pb::Role::GrantsOfficer, "", owner).await;
    let (_, second) = app.token_owned_by(pb::Role::GrantsOfficer, "", owner).await;
    let other = app.token(pb::Role::GrantsOfficer, "").await;
    let program = app.token(pb::Role::ProgramOfficer, "").await;
    let asked = request(
        &app,
        &first,
        &funded.grant,
        realignment(
            pb::BudgetCategory::Personnel,
            pb::BudgetCategory::Travel,
            50_000,
        ),
    )
    .await
    .expect("a grants officer asks");

    let own = approve(&app, &second, &asked.name)
        .await
        .expect_err("the same person, another token");
    let by_program = approve(&app, &program, &asked.name)
        .await
        .expect_err("program officers do not sign");
    let stale = app
        .amendments(Some(&other))
        .approve_amendment(pb::ApproveAmendmentRequest {
            name: asked.name.clone(),
            etag: "\"999\"".into(),
            ..Default::default()
        })
        .await
        .expect_err("a stale etag");
    let signing = pb::ApproveAmendmentRequest {
        name: asked.name.clone(),
        request_id: "sign-once".into(),
        ..Default::default()
    };
    let signed = app
        .amendments(Some(&other))
        .approve_amendment(signing.clone())
        .await
        .expect("another grants officer signs")
        .into_inner();
    let replayed = app
        .amendments(Some(&other))
        .approve_amendment(signing)
        .await
        .expect("the retry replays")
        .into_inner();
    let twice = approve(&app, &other, &asked.name)
        .await
        .expect_err("signed already");

    assert_eq!(own.code(), Code::FailedPrecondition);
    assert_eq!(reason(&own), "AMENDMENT_FOUR_EYES");
    assert_eq!(by_program.code(), Code::PermissionDenied);
    assert_eq!(stale.code(), Code::Aborted);
    assert_eq!(replayed, signed);
    assert_eq!(reason(&twice), "AMENDMENT_STATE_TRANSITION_NOT_ALLOWED");
    let after = grant(&app, &funded.grant).await;
    assert_eq!(amount_of(&after, pb::BudgetCategory::Travel), 100_000);
}

#[tokio::test]
async fn another_grantees_grant_is_not_found_and_bad_amendments_name_their_fields() {
    let app = spawn_app().await;
    let funded = budgeted(&app, "AMD-7").await;
    let stranger = budgeted(&app, "AMD-8").await;

    let foreign = request(
        &app,
        &stranger.grantee,
        &funded.grant,
        realignment(
            pb::BudgetCategory::Travel,
            pb::BudgetCategory::Personnel,
            100,
        ),
    )
    .await
    .expect_err("not its grant");
    let mixed = request(
        &app,
        &funded.grantee,
        &funded.grant,
        pb::Amendment {
            kind: pb::AmendmentKind::NoCostExtension as i32,
            justification: String::new(),
            end_date: "2001-01-01".into(),
            amount: 5,
            budget_changes: vec![line(pb::BudgetCategory::Travel, 1)],
            ..Default::default()
        },
    )
    .await
    .expect_err("fields of other kinds");
    let unbalanced = request(
        &app,
        &funded.grantee,
        &funded.grant,
        pb::Amendment {
            budget_changes: vec![
                line(pb::BudgetCategory::Travel, -100),
                line(pb::BudgetCategory::Personnel, 99),
            ],
            ..realignment(pb::BudgetCategory::Travel, pb::BudgetCategory::Personnel, 0)
        },
    )
    .await
    .expect_err("a realignment adds up to 0");
    let below_zero = request(
        &app,
        &funded.grantee,
        &funded.grant,
        realignment(
            pb::BudgetCategory::Equipment,
            pb::BudgetCategory::Personnel,
            100,
        ),
    )
    .await
    .expect_err("no equipment to move");
    let earlier = request(
        &app,
        &funded.grantee,
        &funded.grant,
        pb::Amendment {
            kind: pb::AmendmentKind::NoCostExtension as i32,
            justification: "Shorter".into(),
            end_date: "2001-01-01".into(),
            ..Default::default()
        },
    )
    .await
    .expect_err("an extension ends later");
    let period_by_update = app
        .grants(app.admin())
        .update_grant(pb::UpdateGrantRequest {
            grant: Some(pb::Grant {
                name: funded.grant.clone(),
                end_date: "2099-12-31".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["end_date".into()],
            }),
        })
        .await
        .expect_err("an awarded period ends later by amendment");
    let budget_by_update = app
        .grants(app.admin())
        .update_grant(pb::UpdateGrantRequest {
            grant: Some(pb::Grant {
                name: funded.grant.clone(),
                budget: vec![line(pb::BudgetCategory::Travel, 1)],
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["budget".into()],
            }),
        })
        .await
        .expect_err("an awarded budget changes by amendment");

    assert_eq!(foreign.code(), Code::NotFound);
    assert_eq!(mixed.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&mixed),
        vec![
            "amendment.justification",
            "amendment.amount",
            "amendment.budget_changes"
        ]
    );
    assert_eq!(
        violated_fields(&unbalanced),
        vec!["amendment.budget_changes"]
    );
    assert_eq!(
        violated_fields(&below_zero),
        vec!["amendment.budget_changes[0].amount"]
    );
    assert_eq!(violated_fields(&earlier), vec!["amendment.end_date"]);
    assert_eq!(budget_by_update.code(), Code::FailedPrecondition);
    assert_eq!(reason(&budget_by_update), "BUDGET_CHANGES_BY_AMENDMENT");
    assert_eq!(reason(&period_by_update), "PERIOD_CHANGES_BY_AMENDMENT");
    assert_eq!(grant(&app, &funded.grant).await.budget, a_budget());
}
