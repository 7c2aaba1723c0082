//! The availability of funds: appropriations, the obligations they allow, and
//! where each stands (available, expired, cancelled) on a day.

use tonic::Code;

use crate::assistance::expect_precondition;
use crate::helpers::*;
use pb::ObligationKind::{Deobligation, Increment, InitialAward};

/// Records `amount` cents of `account`'s money of `year`, available for `years` fiscal years.
async fn appropriation(
    app: &TestApp,
    account: &str,
    year: i32,
    amount: i64,
    years: i32,
) -> Result<tonic::Response<pb::Appropriation>, tonic::Status> {
    app.funds(app.admin())
        .create_appropriation(pb::CreateAppropriationRequest {
            parent: format!("fundingAccounts/{account}"),
            appropriation: Some(pb::Appropriation {
                fiscal_year: year,
                amount,
                availability_years: years,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
}

/// The appropriation as it stands on `day`.
async fn standing(app: &TestApp, name: &str, day: &str) -> pb::Appropriation {
    app.funds(app.admin())
        .get_appropriation(pb::GetAppropriationRequest {
            name: name.into(),
            as_of_date: day.into(),
        })
        .await
        .expect("the admin reads the appropriation")
        .into_inner()
}

/// A grant of a new grantee, ready for money.
async fn grant(app: &TestApp, award: &str) -> String {
    let grantee = app.organization(&format!("Grantee {award}"), "HT").await;
    app.grant(award, &grantee.name).await.name
}

/// Obligates as admin without recording an appropriation first.
async fn obligate(
    app: &TestApp,
    grant: &str,
    obligation: pb::Obligation,
) -> Result<tonic::Response<pb::Obligation>, tonic::Status> {
    app.grants(app.admin())
        .create_obligation(pb::CreateObligationRequest {
            parent: grant.into(),
            obligation: Some(obligation),
            request_id: String::new(),
        })
        .await
}

#[tokio::test]
async fn an_obligation_needs_a_recorded_appropriation_with_money_left_in_its_period() {
    let app = spawn_app().await;
    app.funding_account("ESF").await;
    let grant = grant(&app, "FUNDS-1").await;

    let unrecorded = obligate(
        &app,
        &grant,
        new_obligation(InitialAward, "ESF", 2014, 100, "2014-03-01"),
    )
    .await;
    let status = expect_code(unrecorded, Code::FailedPrecondition);
    assert_eq!(reason(&status), "APPROPRIATION_NOT_RECORDED");
    assert!(
        status.message().contains("CreateAppropriation"),
        "{status:?}"
    );

    appropriation(&app, "ESF", 2014, 1_000, 2).await.unwrap();
    obligate(
        &app,
        &grant,
        new_obligation(InitialAward, "ESF", 2014, 900, "2014-03-01"),
    )
    .await
    .expect("within the appropriation");
    let too_much = obligate(
        &app,
        &grant,
        new_obligation(Increment, "ESF", 2014, 101, "2015-09-30"),
    )
    .await;
    assert_eq!(
        reason(&expect_code(too_much, Code::FailedPrecondition)),
        "FUNDS_INSUFFICIENT"
    );
    let expired = obligate(
        &app,
        &grant,
        new_obligation(Increment, "ESF", 2014, 50, "2015-10-01"),
    )
    .await;
    let status = expect_code(expired, Code::FailedPrecondition);
    assert_eq!(reason(&status), "FUNDS_EXPIRED");
    assert!(
        status.message().contains("until the end of FY 2015"),
        "{status:?}"
    );
    let cancelled = obligate(
        &app,
        &grant,
        new_obligation(Increment, "ESF", 2014, 50, "2021-01-10"),
    )
    .await;
    assert_eq!(
        reason(&expect_code(cancelled, Code::FailedPrecondition)),
        "FUNDS_CANCELLED"
    );
    obligate(
        &app,
        &grant,
        new_obligation(Increment, "ESF", 2014, 100, "2015-09-30"),
    )
    .await
    .expect("the last 100 cents, on the last day of availability");

    let grant = app.read_grant(&grant).await;
    assert_eq!(grant.obligated_amount, 1_000);
}

#[tokio::test]
async fn money_deobligated_while_available_is_obligated_again_but_not_once_expired() {
    let app = spawn_app().await;
    app.funding_account("INCLE").await;
    let name = appropriation(&app, "INCLE", 2014, 1_000, 2)
        .await
        .unwrap()
        .into_inner()
        .name;
    let first = grant(&app, "FUNDS-2A").await;
    let second = grant(&app, "FUNDS-2B").await;
    obligate(
        &app,
        &first,
        new_obligation(InitialAward, "INCLE", 2014, 1_000, "2014-02-01"),
    )
    .await
    .unwrap();
    // Taken back in FY 2015, while the money is available: it may be obligated again.
    obligate(
        &app,
        &first,
        new_obligation(Deobligation, "INCLE", 2014, 300, "2015-05-01"),
    )
    .await
    .unwrap();
    obligate(
        &app,
        &second,
        new_obligation(InitialAward, "INCLE", 2014, 300, "2015-06-01"),
    )
    .await
    .expect("money deobligated while available is obligated again");
    // Taken back in FY 2016, after it expired: it lapses.
    obligate(
        &app,
        &first,
        new_obligation(Deobligation, "INCLE", 2014, 200, "2016-01-15"),
    )
    .await
    .unwrap();

    let in_2015 = standing(&app, &name, "2015-06-30").await;
    assert_eq!(in_2015.status, pb::FundsStatus::Available as i32);
    assert_eq!(in_2015.obligated_amount, 800);
    assert_eq!(in_2015.deobligated_amount, 500);
    assert_eq!(in_2015.available_amount, 0);
    assert_eq!(in_2015.last_obligation_fiscal_year, 2015);
    assert_eq!(in_2015.cancellation_fiscal_year, 2021);
    let in_2017 = standing(&app, &name, "2017-03-01").await;
    assert_eq!(in_2017.status, pb::FundsStatus::Expired as i32);
    assert_eq!(in_2017.available_amount, 0);
    assert_eq!(
        in_2017.expired_amount, 200,
        "the unobligated balance expired: 1,000 appropriated - 800 net obligated"
    );
    assert_eq!(
        in_2017.amount,
        in_2017.obligated_amount + in_2017.expired_amount
    );
    let in_2021 = standing(&app, &name, "2020-10-01").await;
    assert_eq!(in_2021.status, pb::FundsStatus::Cancelled as i32);
    assert_eq!((in_2021.expired_amount, in_2021.cancelled_amount), (0, 200));
    let before = standing(&app, &name, "2013-09-30").await;
    assert_eq!(before.status, pb::FundsStatus::NotYetAvailable as i32);
}

#[tokio::test]
async fn racing_obligations_from_many_grants_never_take_more_than_was_appropriated() {
    let app = spawn_app_with(|settings| settings.database.max_connections = 8).await;
    app.funding_account("ESF").await;
    appropriation(&app, "ESF", 2014, 1_000, 2).await.unwrap();
    let mut grants = Vec::new();
    for index in 0..20 {
        grants.push(grant(&app, &format!("RACE-FUNDS-{index}")).await);
    }

    let attempts: Vec<_> = grants
        .iter()
        .map(|grant| {
            let mut client = app.grants(app.admin());
            let parent = grant.clone();
            tokio::spawn(async move {
                client
                    .create_obligation(pb::CreateObligationRequest {
                        parent,
                        obligation: Some(new_obligation(
                            InitialAward,
                            "ESF",
                            2014,
                            100,
                            "2014-06-01",
                        )),
                        request_id: String::new(),
                    })
                    .await
            })
        })
        .collect();
    let mut accepted = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(status) => assert_eq!(reason(&status), "FUNDS_INSUFFICIENT", "{status:?}"),
        }
    }

    assert_eq!(accepted, 10, "exactly the 1,000 cents appropriated");
    let status = standing(
        &app,
        "fundingAccounts/ESF/appropriations/2014",
        "2014-07-01",
    )
    .await;
    assert_eq!(
        (status.obligated_amount, status.available_amount),
        (1_000, 0)
    );
}

#[tokio::test]
async fn an_appropriation_never_falls_below_what_is_obligated_from_it() {
    let app = spawn_app().await;
    app.funding_account("ESF").await;
    let created = appropriation(&app, "ESF", 2014, 1_000, 2)
        .await
        .unwrap()
        .into_inner();
    let grant = grant(&app, "FUNDS-4").await;
    obligate(
        &app,
        &grant,
        new_obligation(InitialAward, "ESF", 2014, 600, "2014-02-01"),
    )
    .await
    .unwrap();
    let update =
        |amount: i64, years: i32, etag: &str, paths: &[&str]| pb::UpdateAppropriationRequest {
            appropriation: Some(pb::Appropriation {
                name: created.name.clone(),
                amount,
                availability_years: years,
                etag: etag.into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|path| path.to_string()).collect(),
            }),
        };
    let mut funds = app.funds(app.admin());

    let below = funds
        .update_appropriation(update(599, 2, "", &["amount"]))
        .await;
    assert_eq!(
        reason(&expect_code(below, Code::FailedPrecondition)),
        "APPROPRIATION_BELOW_OBLIGATED"
    );
    let period = funds
        .update_appropriation(update(1_000, 3, "", &["availability_years"]))
        .await;
    assert_eq!(
        reason(&expect_code(period, Code::FailedPrecondition)),
        "APPROPRIATION_IN_USE"
    );
    let rescinded = funds
        .update_appropriation(update(600, 2, &created.etag, &["amount"]))
        .await
        .expect("a rescission down to what is obligated")
        .into_inner();
    assert_eq!((rescinded.amount, rescinded.obligated_amount), (600, 600));
    let stale = funds
        .update_appropriation(update(700, 2, &created.etag, &["amount"]))
        .await;
    expect_code(stale, Code::Aborted);
    let audited = app
        .audit(app.admin())
        .list_audit_events(pb::ListAuditEventsRequest {
            filter: format!("resource = \"{}\"", created.name),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(audited.audit_events.len(), 2, "created and rescinded");
}

#[tokio::test]
async fn bad_appropriations_are_refused_naming_the_field_and_change_nothing() {
    let app = spawn_app().await;
    app.funding_account("ESF").await;

    expect_invalid(
        appropriation(&app, "ESF", 2101, 0, 0).await,
        &["appropriation.fiscal_year"],
    );
    expect_invalid(
        appropriation(&app, "ESF", 2014, 0, 11).await,
        &["appropriation.amount", "appropriation.availability_years"],
    );
    expect_invalid(appropriation(&app, "-", 2014, 100, 2).await, &["parent"]);
    expect_invalid(appropriation(&app, "NOPE", 2014, 100, 2).await, &["parent"]);
    appropriation(&app, "ESF", 2014, 100, 2).await.unwrap();
    let again = appropriation(&app, "ESF", 2014, 100, 2).await;
    expect_code(again, Code::AlreadyExists);
    let missing = app
        .funds(app.admin())
        .get_appropriation(pb::GetAppropriationRequest {
            name: "fundingAccounts/ESF/appropriations/2015".into(),
            as_of_date: String::new(),
        })
        .await;
    expect_code(missing, Code::NotFound);
    let bad_day = app
        .funds(app.admin())
        .get_appropriation(pb::GetAppropriationRequest {
            name: "fundingAccounts/ESF/appropriations/2014".into(),
            as_of_date: "yesterday".into(),
        })
        .await;
    expect_invalid(bad_day, &["as_of_date"]);

    let listed = app
        .funds(app.admin())
        .list_appropriations(pb::ListAppropriationsRequest {
            parent: "fundingAccounts/-".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.appropriations.len(), 1);
}

#[tokio::test]
async fn the_funds_status_lists_every_account_and_year_and_adds_up() {
    let app = spawn_app().await;
    for account in ["ESF", "INCLE"] {
        app.funding_account(account).await;
        for year in [2013, 2014] {
            appropriation(&app, account, year, 10_000, 2).await.unwrap();
        }
    }
    let grant = grant(&app, "FUNDS-6").await;
    obligate(
        &app,
        &grant,
        new_obligation(InitialAward, "INCLE", 2014, 2_500, "2014-02-01"),
    )
    .await
    .unwrap();
    let mut funds = app.funds(Some(&app.token(pb::Role::Auditor, "").await));

    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = funds
            .list_appropriations(pb::ListAppropriationsRequest {
                parent: "fundingAccounts/-".into(),
                page_size: 3,
                page_token: page_token.clone(),
                as_of_date: "2014-06-30".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.appropriations);
        page_token = page.next_page_token;
        if page_token.is_empty() {
            break;
        }
    }
    let names: Vec<&str> = seen.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "fundingAccounts/ESF/appropriations/2013",
            "fundingAccounts/ESF/appropriations/2014",
            "fundingAccounts/INCLE/appropriations/2013",
            "fundingAccounts/INCLE/appropriations/2014",
        ]
    );
    for appropriation in &seen {
        assert_eq!(
            appropriation.amount,
            appropriation.obligated_amount
                + appropriation.available_amount
                + appropriation.expired_amount
                + appropriation.cancelled_amount,
            "{appropriation:?}"
        );
    }
    assert_eq!(seen[3].obligated_amount, 2_500);
    let one_year = funds
        .list_appropriations(pb::ListAppropriationsRequest {
            parent: "fundingAccounts/INCLE".into(),
            filter: "fiscal_year = 2013".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one_year.appropriations.len(), 1);
    let organization = app.organization("Reader", "HT").await;
    let grantee = app.token(pb::Role::Grantee, &organization.name).await;
    let refused = app
        .funds(Some(&grantee))
        .list_appropriations(pb::ListAppropriationsRequest {
            parent: "fundingAccounts/-".into(),
            ..Default::default()
        })
        .await;
    expect_code(refused, Code::PermissionDenied);
}

/// An allocation to the emergency fund as admin.
async fn allocate(
    app: &TestApp,
    account: &str,
    year: i32,
    amount: i64,
    day: &str,
) -> Result<tonic::Response<pb::FundAllocation>, tonic::Status> {
    app.assistance(app.admin())
        .create_fund_allocation(pb::CreateFundAllocationRequest {
            fund_allocation: Some(pb::FundAllocation {
                fiscal_year: year,
                funding_account: account.into(),
                amount,
                allocation_date: day.into(),
                note: if amount < 0 { "rescission" } else { "" }.into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
}

#[tokio::test]
async fn the_emergency_fund_draws_on_the_same_appropriations_as_the_grants() {
    let app = spawn_app().await;
    app.funding_account("INCLE").await;
    app.funding_account("ESF").await;
    let name = "fundingAccounts/INCLE/appropriations/2014";

    let unnamed = allocate(&app, "", 2014, 100, "2014-03-01").await;
    expect_invalid(unnamed, &["fund_allocation.funding_account"]);
    let early = allocate(&app, "INCLE", 2014, 100, "2013-09-30").await;
    expect_invalid(early, &["fund_allocation.fiscal_year"]);
    let unrecorded = allocate(&app, "INCLE", 2014, 100, "2014-03-01").await;
    expect_precondition(unrecorded, "APPROPRIATION_NOT_RECORDED");

    // One appropriation of $10,000: a grant takes $7,000 of it, the fund what is left.
    appropriation(&app, "INCLE", 2014, 1_000_000, 2)
        .await
        .unwrap();
    let grant = grant(&app, "LEDGER-1").await;
    obligate(
        &app,
        &grant,
        new_obligation(InitialAward, "INCLE", 2014, 700_000, "2014-03-01"),
    )
    .await
    .unwrap();
    let too_much = allocate(&app, "fundingAccounts/INCLE", 2014, 300_001, "2014-04-01").await;
    expect_precondition(too_much, "FUNDS_INSUFFICIENT");
    let allocated = allocate(&app, "fundingAccounts/INCLE", 2014, 300_000, "2014-04-01")
        .await
        .expect("the rest of the appropriation")
        .into_inner();
    assert_eq!(
        (
            allocated.funding_account.as_str(),
            allocated.allocation_date.as_str()
        ),
        ("fundingAccounts/INCLE", "2014-04-01")
    );
    let full = standing(&app, name, "2014-05-01").await;
    assert_eq!(
        (full.obligated_amount, full.available_amount),
        (1_000_000, 0)
    );
    let no_more = obligate(
        &app,
        &grant,
        new_obligation(Increment, "INCLE", 2014, 1, "2014-05-01"),
    )
    .await;
    expect_precondition(no_more, "FUNDS_INSUFFICIENT");

    // The year's fund draws on one account, so each payment traces to one appropriation.
    appropriation(&app, "ESF", 2014, 1_000_000, 2)
        .await
        .unwrap();
    let other_account = allocate(&app, "ESF", 2014, 100, "2014-04-01").await;
    expect_precondition(other_account, "FUND_ACCOUNT_MISMATCH");
    let balance = app
        .assistance(app.admin())
        .get_fund_balance(pb::GetFundBalanceRequest { fiscal_year: 2014 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            balance.allocated,
            balance.funding_account.as_str(),
            balance.appropriation.as_str()
        ),
        (300_000, "fundingAccounts/INCLE", name)
    );

    // A reduction while the money is available gives it back to new obligations.
    allocate(&app, "INCLE", 2014, -100_000, "2015-06-01")
        .await
        .expect("the fund gives back $1,000");
    let after = standing(&app, name, "2015-07-01").await;
    assert_eq!(
        (
            after.obligated_amount,
            after.deobligated_amount,
            after.available_amount
        ),
        (900_000, 100_000, 100_000)
    );
    obligate(
        &app,
        &grant,
        new_obligation(Increment, "INCLE", 2014, 100_000, "2015-07-01"),
    )
    .await
    .expect("the grant takes what the fund gave back");

    // Expired money takes no new allocation; a reduction after expiry lapses.
    let expired = allocate(&app, "INCLE", 2014, 1, "2015-10-01").await;
    expect_precondition(expired, "FUNDS_EXPIRED");
    allocate(&app, "INCLE", 2014, -50_000, "2016-01-04")
        .await
        .expect("a reduction of expired money");
    let lapsed = standing(&app, name, "2016-02-01").await;
    assert_eq!(
        (
            lapsed.status,
            lapsed.available_amount,
            lapsed.expired_amount
        ),
        (pb::FundsStatus::Expired as i32, 0, 50_000)
    );
}
