//! Grants, obligations and revisions: terms, money rules, the state machine,
//! fiscal-year boundaries, "as of" answers, grantee isolation, filters.

use tonic::Code;

use crate::helpers::*;
use pb::ObligationKind::{Deobligation, Increment, InitialAward};

async fn grantee(app: &TestApp) -> pb::Organization {
    app.organization("Haiti Child Protection Network", "HT")
        .await
}

fn obligation(
    kind: pb::ObligationKind,
    account: &str,
    fiscal_year: i32,
    amount: i64,
) -> pb::Obligation {
    new_obligation(kind, account, fiscal_year, amount, "2014-06-30")
}

#[tokio::test]
async fn a_program_officer_creates_a_draft_grant_and_reads_it_back() {
    let app = spawn_app().await;
    let organization = grantee(&app).await;
    let officer = app.token(pb::Role::ProgramOfficer, "").await;

    let created = app
        .grants(Some(&officer))
        .create_grant(pb::CreateGrantRequest {
            grant: Some(new_grant("sgtip14gr0012", &organization.name)),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let read = app.read_grant(&created.name).await;

    assert!(created.name.starts_with("grants/"));
    assert_eq!(read, created);
    assert_eq!(read.award_number, "SGTIP14GR0012");
    assert_eq!(read.state, pb::GrantState::Draft as i32);
    assert_eq!(read.grantee, organization.name);
    assert_eq!(read.obligated_amount, 0);
    assert_eq!((read.revision, read.etag.as_str()), (1, "1"));
}

#[tokio::test]
async fn every_invalid_grant_field_is_named_at_once() {
    let app = spawn_app().await;
    let grant = pb::Grant {
        award_number: "a b".into(),
        title: "".into(),
        grantee: "ngos/1".into(),
        start_date: "2014-02-30".into(),
        end_date: "soon".into(),
        program_officer: " ".into(),
        ..Default::default()
    };
    let result = app
        .grants(app.admin())
        .create_grant(pb::CreateGrantRequest {
            grant: Some(grant),
            request_id: String::new(),
        })
        .await;
    expect_invalid(
        result,
        &[
            "grant.award_number",
            "grant.title",
            "grant.grantee",
            "grant.instrument",
            "grant.approach",
            "grant.start_date",
            "grant.end_date",
            "grant.reporting_cadence",
            "grant.program_officer",
        ],
    );
}

#[tokio::test]
async fn a_missing_or_unknown_enum_names_its_values_as_a_client_types_them() {
    let app = spawn_app().await;
    let organization = grantee(&app).await;
    let mut grant = new_grant("G-ENUM", &organization.name);
    // Missing (0) and unknown (a number no value has) hear the same hint.
    grant.instrument = 0;
    grant.approach = 999;
    let result = app
        .grants(app.admin())
        .create_grant(pb::CreateGrantRequest {
            grant: Some(grant),
            request_id: String::new(),
        })
        .await;

    let status = expect_code(result, Code::InvalidArgument);
    let hints = violation_descriptions(&status);
    assert_eq!(
        hints,
        vec![
            (
                "grant.instrument".to_string(),
                "is required: one of GRANT_INSTRUMENT_GRANT, GRANT_INSTRUMENT_COOPERATIVE_AGREEMENT, \
                 GRANT_INSTRUMENT_INTER_AGENCY_AGREEMENT"
                    .to_string()
            ),
            (
                "grant.approach".to_string(),
                "is required: one of GRANT_APPROACH_SHORT_TERM_TECHNICAL_ASSISTANCE, \
                 GRANT_APPROACH_COMPREHENSIVE_MULTI_YEAR"
                    .to_string()
            ),
        ]
    );
}

#[tokio::test]
async fn a_period_that_ends_before_it_starts_is_refused() {
    let app = spawn_app().await;
    let organization = grantee(&app).await;
    let mut grant = new_grant("G-1", &organization.name);
    grant.start_date = "2015-01-01".into();
    grant.end_date = "2014-12-31".into();
    let result = app
        .grants(app.admin())
        .create_grant(pb::CreateGrantRequest {
            grant: Some(grant),
            request_id: String::new(),
        })
        .await;
    expect_invalid(result, &["grant.end_date"]);
}

#[tokio::test]
async fn an_unknown_or_deleted_grantee_is_refused() {
    let app = spawn_app().await;
    let unknown = app
        .grants(app.admin())
        .create_grant(pb::CreateGrantRequest {
            grant: Some(new_grant("G-1", "organizations/missing")),
            request_id: String::new(),
        })
        .await;
    expect_invalid(unknown, &["grant.grantee"]);

    let organization = grantee(&app).await;
    app.organizations(app.admin())
        .delete_organization(pb::DeleteOrganizationRequest {
            name: organization.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();
    let deleted = app
        .grants(app.admin())
        .create_grant(pb::CreateGrantRequest {
            grant: Some(new_grant("G-2", &organization.name)),
            request_id: String::new(),
        })
        .await;
    expect_invalid(deleted, &["grant.grantee"]);
}

#[tokio::test]
async fn a_duplicate_award_number_already_exists() {
    let app = spawn_app().await;
    let organization = grantee(&app).await;
    app.grant("SGTIP14GR0012", &organization.name).await;
    let duplicate = app
        .grants(app.admin())
        .create_grant(pb::CreateGrantRequest {
            grant: Some(new_grant("sgtip14gr0012", &organization.name)),
            request_id: String::new(),
        })
        .await;
    expect_code(duplicate, Code::AlreadyExists);
}

#[tokio::test]
async fn obligations_from_two_accounts_in_two_fiscal_years_add_up_exactly() {
    let app = spawn_app().await;
    app.funding_account("ESF").await;
    app.funding_account("INCLE").await;
    let grant = app.grant("G-1", &grantee(&app).await.name).await;

    app.obligate(
        &grant.name,
        new_obligation(InitialAward, "ESF", 2014, 75_000_000, "2014-03-01"),
    )
    .await
    .unwrap();
    app.obligate(
        &grant.name,
        new_obligation(Increment, "INCLE", 2015, 25_000_001, "2014-11-15"),
    )
    .await
    .unwrap();
    app.obligate(
        &grant.name,
        new_obligation(Deobligation, "ESF", 2014, 1_000_000, "2015-01-10"),
    )
    .await
    .unwrap();
    let read = app.read_grant(&grant.name).await;
    let listed = app
        .grants(app.admin())
        .list_obligations(pb::ListObligationsRequest {
            parent: grant.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(read.obligated_amount, 75_000_000 + 25_000_001 - 1_000_000);
    let totals: Vec<_> = read
        .obligation_totals
        .iter()
        .map(|t| (t.funding_account.as_str(), t.fiscal_year, t.amount))
        .collect();
    assert_eq!(
        totals,
        vec![
            ("fundingAccounts/ESF", 2014, 74_000_000),
            ("fundingAccounts/INCLE", 2015, 25_000_001)
        ]
    );
    assert_eq!(
        read.revision, 4,
        "each obligation is a revision of the grant"
    );
    assert_eq!(listed.obligations.len(), 3);
    assert_eq!(listed.obligations[2].kind, Deobligation as i32);
}

#[tokio::test]
async fn bad_obligation_fields_are_named_and_nothing_is_written() {
    let app = spawn_app().await;
    app.funding_account("ESF").await;
    let grant = app.grant("G-1", &grantee(&app).await.name).await;
    let cases: Vec<(pb::Obligation, &str)> = vec![
        (
            obligation(InitialAward, "ESF", 2014, 0),
            "obligation.amount",
        ),
        (
            obligation(InitialAward, "ESF", 2014, -5),
            "obligation.amount",
        ),
        (
            obligation(InitialAward, "ESF", 2014, 100_000_000_000_001),
            "obligation.amount",
        ),
        (
            obligation(InitialAward, "ESF", 1989, 100),
            "obligation.fiscal_year",
        ),
        (
            new_obligation(InitialAward, "ESF", 2101, 100, "2100-12-01"),
            "obligation.fiscal_year",
        ),
        (
            obligation(InitialAward, "NOPE", 2014, 100),
            "obligation.funding_account",
        ),
        (
            obligation(pb::ObligationKind::Unspecified, "ESF", 2014, 100),
            "obligation.kind",
        ),
        (
            new_obligation(InitialAward, "ESF", 2014, 100, "30/06/2014"),
            "obligation.obligation_date",
        ),
    ];
    for (bad, field) in cases {
        let result = app
            .obligate(&grant.name, bad.clone())
            .await
            .map(tonic::Response::new);
        expect_invalid(result, &[field]);
    }
    let read = app.read_grant(&grant.name).await;
    assert_eq!((read.obligated_amount, read.revision), (0, 1));
}

#[tokio::test]
async fn a_deleted_funding_account_takes_no_new_obligation() {
    let app = spawn_app().await;
    app.funding_account("ESF").await;
    app.reference_data(app.admin())
        .delete_funding_account(pb::DeleteFundingAccountRequest {
            name: "fundingAccounts/ESF".into(),
            etag: String::new(),
        })
        .await
        .unwrap();
    let grant = app.grant("G-1", &grantee(&app).await.name).await;
    let result = app
        .obligate(&grant.name, obligation(InitialAward, "ESF", 2014, 100))
        .await
        .map(tonic::Response::new);
    expect_invalid(result, &["obligation.funding_account"]);
}

#[tokio::test]
async fn a_deobligation_may_not_exceed_what_that_account_and_year_hold() {
    let app = spawn_app().await;
    app.funding_account("ESF").await;
    app.funding_account("INCLE").await;
    let grant = app.grant("G-1", &grantee(&app).await.name).await;
    app.obligate(&grant.name, obligation(InitialAward, "ESF", 2014, 500))
        .await
        .unwrap();
    app.obligate(&grant.name, obligation(Increment, "INCLE", 2014, 10_000))
        .await
        .unwrap();

    let too_much = app
        .obligate(&grant.name, obligation(Deobligation, "ESF", 2014, 501))
        .await
        .map(tonic::Response::new);
    let other_year = app
        .obligate(&grant.name, obligation(Deobligation, "INCLE", 2013, 1))
        .await
        .map(tonic::Response::new);
    let exact = app
        .obligate(&grant.name, obligation(Deobligation, "ESF", 2014, 500))
        .await;

    expect_invalid(too_much, &["obligation.amount"]);
    expect_invalid(other_year, &["obligation.amount"]);
    assert!(exact.is_ok(), "{exact:?}");
    let read = app.read_grant(&grant.name).await;
    assert_eq!(read.obligated_amount, 10_000);
}

#[tokio::test]
async fn a_grant_has_only_one_initial_award() {
    let app = spawn_app().await;
    app.funding_account("ESF").await;
    let grant = app.grant("G-1", &grantee(&app).await.name).await;
    app.obligate(&grant.name, obligation(InitialAward, "ESF", 2014, 500))
        .await
        .unwrap();
    let second = app
        .obligate(&grant.name, obligation(InitialAward, "ESF", 2014, 500))
        .await
        .map(tonic::Response::new);
    assert_eq!(
        reason(&expect_code(second, Code::FailedPrecondition)),
        "INITIAL_AWARD_EXISTS"
    );
}

#[tokio::test]
async fn funds_of_a_fiscal_year_can_be_obligated_from_its_first_of_october_not_before() {
    let app = spawn_app().await;
    app.funding_account("ESF").await;
    let grant = app.grant("G-1", &grantee(&app).await.name).await;

    let on_30_september = app
        .obligate(
            &grant.name,
            new_obligation(InitialAward, "ESF", 2015, 100, "2014-09-30"),
        )
        .await;
    let on_1_october = app
        .obligate(
            &grant.name,
            new_obligation(InitialAward, "ESF", 2015, 100, "2014-10-01"),
        )
        .await;
    let older_funds = app
        .obligate(
            &grant.name,
            new_obligation(Increment, "ESF", 2013, 100, "2014-09-30"),
        )
        .await;

    expect_invalid(
        on_30_september.map(tonic::Response::new),
        &["obligation.fiscal_year"],
    );
    assert!(on_1_october.is_ok(), "{on_1_october:?}");
    assert!(
        older_funds.is_ok(),
        "multi-year funds of an earlier year may be obligated later: {older_funds:?}"
    );
}

#[tokio::test]
async fn a_fiscal_year_starting_in_january_moves_the_boundary() {
    let app = spawn_app_with(|settings| settings.fiscal_year.first_month = 1).await;
    app.funding_account("ESF").await;
    let grant = app.grant("G-1", &grantee(&app).await.name).await;
    let october = app
        .obligate(
            &grant.name,
            new_obligation(InitialAward, "ESF", 2015, 100, "2014-10-01"),
        )
        .await;
    let january = app
        .obligate(
            &grant.name,
            new_obligation(InitialAward, "ESF", 2015, 100, "2015-01-01"),
        )
        .await;
    expect_invalid(
        october.map(tonic::Response::new),
        &["obligation.fiscal_year"],
    );
    assert!(january.is_ok(), "{january:?}");
}

async fn change(
    app: &TestApp,
    grant: &str,
    transition: &str,
    reason: &str,
) -> Result<pb::Grant, tonic::Status> {
    let mut client = app.grants(app.admin());
    let (name, etag, reason, request_id) = (
        grant.to_string(),
        String::new(),
        reason.to_string(),
        String::new(),
    );
    let result = match transition {
        "activate" => {
            client
                .activate_grant(pb::ActivateGrantRequest {
                    name,
                    etag,
                    reason,
                    request_id,
                })
                .await
        }
        "suspend" => {
            client
                .suspend_grant(pb::SuspendGrantRequest {
                    name,
                    etag,
                    reason,
                    request_id,
                })
                .await
        }
        "close" => {
            client
                .close_grant(pb::CloseGrantRequest {
                    name,
                    etag,
                    reason,
                    request_id,
                })
                .await
        }
        _ => {
            client
                .terminate_grant(pb::TerminateGrantRequest {
                    name,
                    etag,
                    reason,
                    request_id,
                })
                .await
        }
    };
    result.map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_grant_without_an_indicator_target_cannot_be_activated() {
    let app = spawn_app().await;
    let grant = app.grant("G-1", &grantee(&app).await.name).await;
    let status = change(&app, &grant.name, "activate", "").await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "GRANT_HAS_NO_INDICATOR_TARGET");
    assert_eq!(
        app.read_grant(&grant.name).await.state,
        pb::GrantState::Draft as i32
    );
}

#[tokio::test]
async fn refused_transitions_from_draft_name_the_rule() {
    let app = spawn_app().await;
    let grant = app.grant("G-1", &grantee(&app).await.name).await;
    for transition in ["suspend", "close"] {
        let status = change(&app, &grant.name, transition, "because")
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::FailedPrecondition, "{transition}");
        assert_eq!(reason(&status), "GRANT_STATE_TRANSITION_NOT_ALLOWED");
    }
}

#[tokio::test]
async fn suspension_and_termination_need_a_reason() {
    let app = spawn_app().await;
    let grant = app.grant("G-1", &grantee(&app).await.name).await;
    for transition in ["suspend", "terminate"] {
        let status = change(&app, &grant.name, transition, " ")
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{transition}");
        assert_eq!(violated_fields(&status), vec!["reason"]);
    }
}

#[tokio::test]
async fn a_terminated_grant_takes_no_money_no_changes_and_no_way_back() {
    let app = spawn_app().await;
    app.funding_account("ESF").await;
    let grant = app.grant("G-1", &grantee(&app).await.name).await;
    let terminated = change(&app, &grant.name, "terminate", "grantee dissolved")
        .await
        .unwrap();

    let money = app
        .obligate(&grant.name, obligation(InitialAward, "ESF", 2014, 100))
        .await
        .map(tonic::Response::new);
    let update = app
        .grants(app.admin())
        .update_grant(pb::UpdateGrantRequest {
            grant: Some(pb::Grant {
                name: grant.name.clone(),
                title: "New".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["title".into()],
            }),
        })
        .await;
    let back = change(&app, &grant.name, "activate", "").await.unwrap_err();

    assert_eq!(terminated.state, pb::GrantState::Terminated as i32);
    assert_eq!(terminated.state_reason, "grantee dissolved");
    assert_eq!(
        reason(&expect_code(money, Code::FailedPrecondition)),
        "GRANT_CLOSED"
    );
    assert_eq!(
        reason(&expect_code(update, Code::FailedPrecondition)),
        "GRANT_CLOSED"
    );
    assert_eq!(reason(&back), "GRANT_STATE_TRANSITION_NOT_ALLOWED");
}

#[tokio::test]
async fn an_update_with_a_stale_etag_is_aborted() {
    let app = spawn_app().await;
    let grant = app.grant("G-1", &grantee(&app).await.name).await;
    let update = |title: &str| pb::UpdateGrantRequest {
        grant: Some(pb::Grant {
            name: grant.name.clone(),
            title: title.into(),
            etag: grant.etag.clone(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["title".into()],
        }),
    };
    let first = app
        .grants(app.admin())
        .update_grant(update("First"))
        .await
        .unwrap()
        .into_inner();
    let stale = app.grants(app.admin()).update_grant(update("Second")).await;
    assert_eq!(first.title, "First");
    assert_eq!(reason(&expect_code(stale, Code::Aborted)), "ETAG_MISMATCH");
}

#[tokio::test]
async fn revisions_answer_what_the_terms_were_on_a_given_date() {
    let app = spawn_app().await;
    app.funding_account("ESF").await;
    let grant = app.grant("G-1", &grantee(&app).await.name).await;
    let after_creation = grant.create_time.unwrap();
    wait_until_the_clock_passes(after_creation).await;
    app.grants(app.admin())
        .update_grant(pb::UpdateGrantRequest {
            grant: Some(pb::Grant {
                name: grant.name.clone(),
                end_date: "2017-09-30".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["end_date".into()],
            }),
        })
        .await
        .unwrap();
    app.obligate(&grant.name, obligation(InitialAward, "ESF", 2014, 1_000))
        .await
        .unwrap();
    let as_of = |time: prost_types::Timestamp| pb::ListGrantRevisionsRequest {
        parent: grant.name.clone(),
        as_of_time: Some(time),
        ..Default::default()
    };

    let all = app
        .grants(app.admin())
        .list_grant_revisions(pb::ListGrantRevisionsRequest {
            parent: grant.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .revisions;
    let then = app
        .grants(app.admin())
        .list_grant_revisions(as_of(after_creation))
        .await
        .unwrap()
        .into_inner()
        .revisions;
    let now = app
        .grants(app.admin())
        .list_grant_revisions(as_of(prost_types::Timestamp {
            seconds: 4_102_444_800,
            nanos: 0,
        }))
        .await
        .unwrap()
        .into_inner()
        .revisions;
    let before = app
        .grants(app.admin())
        .list_grant_revisions(as_of(prost_types::Timestamp {
            seconds: 0,
            nanos: 0,
        }))
        .await
        .unwrap()
        .into_inner()
        .revisions;

    assert_eq!(
        all.iter().map(|r| r.revision).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(
        all[1].method.ends_with("/UpdateGrant") && all[2].method.ends_with("/CreateObligation")
    );
    assert_eq!(then.len(), 1);
    let original = then[0].grant.as_ref().unwrap();
    assert_eq!(
        (
            then[0].revision,
            original.end_date.as_str(),
            original.obligated_amount
        ),
        (1, "2016-09-30", 0)
    );
    let latest = now[0].grant.as_ref().unwrap();
    assert_eq!(
        (
            now[0].revision,
            latest.end_date.as_str(),
            latest.obligated_amount
        ),
        (3, "2017-09-30", 1_000)
    );
    assert!(before.is_empty(), "the grant did not exist yet");
}

#[tokio::test]
async fn a_grantee_sees_only_its_own_grants_and_their_money() {
    let app = spawn_app().await;
    app.funding_account("ESF").await;
    let mine = app.organization("Mine", "HT").await;
    let theirs = app.organization("Theirs", "LR").await;
    let my_grant = app.grant("MINE-1", &mine.name).await;
    let their_grant = app.grant("THEIRS-1", &theirs.name).await;
    let their_obligation = app
        .obligate(
            &their_grant.name,
            obligation(InitialAward, "ESF", 2014, 100),
        )
        .await
        .unwrap();
    let token = app.token(pb::Role::Grantee, &mine.name).await;
    let mut client = app.grants(Some(&token));

    let listed = client
        .list_grants(pb::ListGrantsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let foreign = client
        .get_grant(pb::GetGrantRequest {
            name: their_grant.name.clone(),
        })
        .await;
    let foreign_money = client
        .list_obligations(pb::ListObligationsRequest {
            parent: their_grant.name.clone(),
            ..Default::default()
        })
        .await;
    let foreign_obligation = client
        .get_obligation(pb::GetObligationRequest {
            name: their_obligation.name.clone(),
        })
        .await;
    let foreign_history = client
        .list_grant_revisions(pb::ListGrantRevisionsRequest {
            parent: their_grant.name.clone(),
            ..Default::default()
        })
        .await;
    let write = client
        .create_obligation(pb::CreateObligationRequest {
            parent: my_grant.name.clone(),
            obligation: Some(obligation(Increment, "ESF", 2014, 1)),
            request_id: String::new(),
        })
        .await;

    assert_eq!(
        listed
            .grants
            .iter()
            .map(|g| g.name.clone())
            .collect::<Vec<_>>(),
        vec![my_grant.name.clone()]
    );
    expect_code(foreign, Code::NotFound);
    expect_code(foreign_money, Code::NotFound);
    expect_code(foreign_obligation, Code::NotFound);
    expect_code(foreign_history, Code::NotFound);
    expect_code(write, Code::PermissionDenied);
}

#[tokio::test]
async fn grants_filter_by_fiscal_year_account_state_and_performance_year_across_pages() {
    let app = spawn_app().await;
    app.funding_account("ESF").await;
    app.funding_account("INCLE").await;
    let organization = grantee(&app).await;
    let mut fy2014 = Vec::new();
    for index in 0..5 {
        let grant = app.grant(&format!("G-{index}"), &organization.name).await;
        let (account, year) = if index % 2 == 0 {
            ("ESF", 2014)
        } else {
            ("INCLE", 2015)
        };
        app.obligate(
            &grant.name,
            new_obligation(InitialAward, account, year, 100, "2015-01-01"),
        )
        .await
        .unwrap();
        if year == 2014 {
            fy2014.push(grant.name.clone());
        }
    }
    let mut late = new_grant("LATE-1", &organization.name);
    late.start_date = "2019-10-01".into();
    late.end_date = "2020-09-30".into();
    let late = app
        .grants(app.admin())
        .create_grant(pb::CreateGrantRequest {
            grant: Some(late),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    change(&app, &late.name, "terminate", "not needed")
        .await
        .unwrap();

    let pages = |filter: &'static str| {
        let app = &app;
        async move {
            let mut names = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = app
                    .grants(app.admin())
                    .list_grants(pb::ListGrantsRequest {
                        page_size: 2,
                        page_token,
                        filter: filter.into(),
                    })
                    .await
                    .unwrap()
                    .into_inner();
                names.extend(page.grants.into_iter().map(|g| g.name));
                if page.next_page_token.is_empty() {
                    return names;
                }
                page_token = page.next_page_token;
            }
        }
    };

    assert_eq!(pages("fiscal_year = 2014").await, fy2014);
    assert_eq!(
        pages("funding_account = ESF AND fiscal_year = 2014").await,
        fy2014
    );
    assert!(
        pages("funding_account = INCLE AND fiscal_year = 2014")
            .await
            .is_empty()
    );
    assert_eq!(pages("state = TERMINATED").await, vec![late.name.clone()]);
    assert_eq!(
        pages("performance_fiscal_year = 2020").await,
        vec![late.name.clone()]
    );
    assert_eq!(pages("performance_fiscal_year = 2014").await.len(), 5);
    assert_eq!(pages(r#"grantee = "organizations/none""#).await.len(), 0);
    let bad = app
        .grants(app.admin())
        .list_grants(pb::ListGrantsRequest {
            filter: "state = SLEEPING".into(),
            ..Default::default()
        })
        .await;
    expect_invalid(bad, &["filter"]);
}

#[tokio::test]
async fn creating_a_grant_with_the_same_request_id_twice_creates_one() {
    let app = spawn_app().await;
    let organization = grantee(&app).await;
    let request = pb::CreateGrantRequest {
        grant: Some(new_grant("G-1", &organization.name)),
        request_id: "grant-once".into(),
    };
    let first = app
        .grants(app.admin())
        .create_grant(request.clone())
        .await
        .unwrap()
        .into_inner();
    let second = app
        .grants(app.admin())
        .create_grant(request)
        .await
        .unwrap()
        .into_inner();
    let listed = app
        .grants(app.admin())
        .list_grants(pb::ListGrantsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, second);
    assert_eq!(listed.grants.len(), 1);
}

#[tokio::test]
async fn each_grant_change_leaves_exactly_one_audit_event() {
    let app = spawn_app().await;
    app.funding_account("ESF").await;
    let grant = app.grant("G-1", &grantee(&app).await.name).await;
    let created = app
        .obligate(&grant.name, obligation(InitialAward, "ESF", 2014, 100))
        .await
        .unwrap();
    change(&app, &grant.name, "terminate", "done")
        .await
        .unwrap();
    let grant_events = app.audit_events_of(&grant.name).await;
    let obligation_events = app.audit_events_of(&created.name).await;
    assert_eq!(grant_events.len(), 2, "create and terminate");
    assert!(
        grant_events[1]
            .diff
            .as_ref()
            .unwrap()
            .fields
            .contains_key("state")
    );
    assert_eq!(obligation_events.len(), 1);
    assert!(
        obligation_events[0]
            .diff
            .as_ref()
            .unwrap()
            .fields
            .contains_key("grant_obligated_amount")
    );
}

#[tokio::test]
async fn an_organisation_with_grants_under_way_cannot_be_deleted() {
    let app = spawn_app().await;
    let organization = grantee(&app).await;
    let grant = app.grant("G-1", &organization.name).await;
    let delete = || pb::DeleteOrganizationRequest {
        name: organization.name.clone(),
        etag: String::new(),
    };

    let refused = app
        .organizations(app.admin())
        .delete_organization(delete())
        .await;
    change(&app, &grant.name, "terminate", "ended")
        .await
        .unwrap();
    let deleted = app
        .organizations(app.admin())
        .delete_organization(delete())
        .await;

    assert_eq!(
        reason(&expect_code(refused, Code::FailedPrecondition)),
        "ORGANIZATION_HAS_OPEN_GRANTS"
    );
    assert!(deleted.is_ok(), "{deleted:?}");
}
