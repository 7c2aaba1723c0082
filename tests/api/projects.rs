//! Projects and indicators: regional projects, periods inside the grant's,
//! TIP Report recommendations, the activation rule, filters, isolation.

use tonic::Code;

use crate::helpers::*;

async fn draft_grant(app: &TestApp) -> pb::Grant {
    let organization = app
        .organization("Regional Anti-Trafficking Partnership", "BW")
        .await;
    app.grant("SADC-1", &organization.name).await
}

async fn recommendation(app: &TestApp, country: &str) -> pb::TipRecommendation {
    app.tip_report(app.admin())
        .create_tip_recommendation(pb::CreateTipRecommendationRequest {
            parent: format!("countries/{country}"),
            tip_recommendation: Some(pb::TipRecommendation {
                report_year: 2014,
                pillar: pb::Pillar::Prosecution as i32,
                text: "Enact legislation criminalising all forms of trafficking".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
}

fn create(grant: &str, project: pb::Project) -> pb::CreateProjectRequest {
    pb::CreateProjectRequest {
        parent: grant.into(),
        project: Some(project),
        request_id: String::new(),
    }
}

#[tokio::test]
async fn a_program_officer_sets_up_a_regional_grant_with_grpc_alone_and_activates_it() {
    let app = spawn_app().await;
    app.funding_account("ESF").await;
    app.funding_account("INCLE").await;
    let officer = app.token(pb::Role::ProgramOfficer, "").await;
    let grantee = app
        .organizations(Some(&officer))
        .create_organization(pb::CreateOrganizationRequest {
            organization: Some(new_organization("SADC Partner", "BW")),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut grants = app.grants(Some(&officer));
    let mut projects = app.projects(Some(&officer));
    let grant = grants
        .create_grant(pb::CreateGrantRequest {
            grant: Some(new_grant("SADC-2014", &grantee.name)),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    for (kind, account, year, date) in [
        (pb::ObligationKind::InitialAward, "ESF", 2014, "2014-03-01"),
        (pb::ObligationKind::Increment, "INCLE", 2015, "2014-12-01"),
    ] {
        app.appropriate(account, year)
            .await
            .expect("the admin records the appropriation");
        grants
            .create_obligation(pb::CreateObligationRequest {
                parent: grant.name.clone(),
                obligation: Some(new_obligation(kind, account, year, 50_000_000, date)),
                request_id: String::new(),
            })
            .await
            .unwrap();
    }
    let project = projects
        .create_project(create(
            &grant.name,
            new_project("SADC legal frameworks", &["BW", "NA", "ZW"]),
        ))
        .await
        .unwrap()
        .into_inner();
    projects
        .create_indicator(pb::CreateIndicatorRequest {
            parent: project.name.clone(),
            indicator: Some(new_indicator(300)),
            request_id: String::new(),
        })
        .await
        .unwrap();

    let active = grants
        .activate_grant(pb::ActivateGrantRequest {
            name: grant.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let by_year = grants
        .list_grants(pb::ListGrantsRequest {
            filter: "fiscal_year = 2015".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let by_country = grants
        .list_grants(pb::ListGrantsRequest {
            filter: "country = NA".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let elsewhere = grants
        .list_grants(pb::ListGrantsRequest {
            filter: "country = HT".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let by_region = grants
        .list_grants(pb::ListGrantsRequest {
            filter: "region = AF AND pillar = PROTECTION".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(project.country_codes, vec!["BW", "NA", "ZW"]);
    assert_eq!(project.state, pb::ProjectState::Planned as i32);
    assert_eq!(active.state, pb::GrantState::Active as i32);
    assert_eq!(active.obligated_amount, 100_000_000);
    assert_eq!(by_year.grants.len(), 1);
    assert_eq!(by_country.grants.len(), 1);
    assert!(elsewhere.grants.is_empty());
    assert_eq!(by_region.grants.len(), 1);
}

#[tokio::test]
async fn every_invalid_project_field_is_named_at_once() {
    let app = spawn_app().await;
    let grant = draft_grant(&app).await;
    let project = pb::Project {
        title: "".into(),
        country_codes: vec!["BW".into(), "bw".into(), "Botswana".into()],
        pillars: vec![0],
        activity_kinds: vec![],
        start_date: "2014-13-01".into(),
        end_date: "2015-01-01".into(),
        tip_recommendations: vec!["recommendations/1".into()],
        ..Default::default()
    };
    let result = app
        .projects(app.admin())
        .create_project(create(&grant.name, project))
        .await;
    expect_invalid(
        result,
        &[
            "project.title",
            "project.country_codes[1]",
            "project.country_codes[2]",
            "project.pillars[0]",
            "project.activity_kinds",
            "project.start_date",
            "project.tip_recommendations[0]",
        ],
    );
}

#[tokio::test]
async fn a_project_needs_a_country_and_known_countries() {
    let app = spawn_app().await;
    let grant = draft_grant(&app).await;
    let none = app
        .projects(app.admin())
        .create_project(create(&grant.name, new_project("None", &[])))
        .await;
    let unknown = app
        .projects(app.admin())
        .create_project(create(&grant.name, new_project("Unknown", &["BW", "XX"])))
        .await;
    expect_invalid(none, &["project.country_codes"]);
    expect_invalid(unknown, &["project.country_codes[1]"]);
}

#[tokio::test]
async fn a_project_period_outside_its_grants_period_is_refused() {
    let app = spawn_app().await;
    let grant = draft_grant(&app).await;
    let mut early = new_project("Early", &["BW"]);
    early.start_date = "2013-09-30".into();
    let mut late = new_project("Late", &["BW"]);
    late.end_date = "2016-10-01".into();
    let mut backwards = new_project("Backwards", &["BW"]);
    backwards.end_date = "2013-12-31".into();

    expect_invalid(
        app.projects(app.admin())
            .create_project(create(&grant.name, early))
            .await,
        &["project.start_date"],
    );
    expect_invalid(
        app.projects(app.admin())
            .create_project(create(&grant.name, late))
            .await,
        &["project.end_date"],
    );
    expect_invalid(
        app.projects(app.admin())
            .create_project(create(&grant.name, backwards))
            .await,
        &["project.end_date"],
    );
}

#[tokio::test]
async fn a_project_answers_recommendations_of_its_own_countries_only() {
    let app = spawn_app().await;
    let grant = draft_grant(&app).await;
    let botswana = recommendation(&app, "BW").await;
    let haiti = recommendation(&app, "HT").await;
    let deleted = recommendation(&app, "NA").await;
    app.tip_report(app.admin())
        .delete_tip_recommendation(pb::DeleteTipRecommendationRequest {
            name: deleted.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();
    let with = |names: Vec<String>| {
        let mut project = new_project("Recommended", &["BW", "NA"]);
        project.tip_recommendations = names;
        project
    };

    let answered = app
        .projects(app.admin())
        .create_project(create(&grant.name, with(vec![botswana.name.clone()])))
        .await
        .unwrap()
        .into_inner();
    let foreign = app
        .projects(app.admin())
        .create_project(create(&grant.name, with(vec![haiti.name.clone()])))
        .await;
    let gone = app
        .projects(app.admin())
        .create_project(create(&grant.name, with(vec![deleted.name.clone()])))
        .await;
    let misfiled = app
        .projects(app.admin())
        .create_project(create(
            &grant.name,
            with(vec![botswana.name.replace("countries/BW", "countries/NA")]),
        ))
        .await;
    let read = app
        .projects(app.admin())
        .get_project(pb::GetProjectRequest {
            name: answered.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(answered.tip_recommendations, vec![botswana.name.clone()]);
    assert_eq!(read.tip_recommendations, vec![botswana.name.clone()]);
    expect_invalid(foreign, &["project.tip_recommendations[0]"]);
    expect_invalid(gone, &["project.tip_recommendations[0]"]);
    expect_invalid(misfiled, &["project.tip_recommendations[0]"]);
}

#[tokio::test]
async fn only_a_live_project_indicator_with_a_target_allows_activation() {
    let app = spawn_app().await;
    let grant = draft_grant(&app).await;
    let cancelled = app
        .project(&grant.name, new_project("Cancelled", &["BW"]))
        .await;
    app.indicator(&cancelled.name, new_indicator(10)).await;
    app.projects(app.admin())
        .cancel_project(pb::CancelProjectRequest {
            name: cancelled.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let live = app.project(&grant.name, new_project("Live", &["BW"])).await;
    app.indicator(&live.name, new_indicator(0)).await;
    let deleted = app.indicator(&live.name, new_indicator(5)).await;
    app.projects(app.admin())
        .delete_indicator(pb::DeleteIndicatorRequest {
            name: deleted.name.clone(),
            etag: deleted.etag.clone(),
        })
        .await
        .unwrap();

    let refused = app.activate(&grant.name).await.unwrap_err();
    app.indicator(&live.name, new_indicator(300)).await;
    let active = app.activate(&grant.name).await.unwrap();

    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "GRANT_HAS_NO_INDICATOR_TARGET");
    assert_eq!(active.state, pb::GrantState::Active as i32);
}

#[tokio::test]
async fn each_grant_state_transition_is_allowed_or_refused_as_the_lifecycle_says() {
    let app = spawn_app().await;
    let grant = draft_grant(&app).await;
    let project = app
        .project(&grant.name, new_project("Targets", &["BW"]))
        .await;
    app.indicator(&project.name, new_indicator(100)).await;
    let mut client = app.grants(app.admin());
    let name = grant.name.clone();
    let suspend = |reason: &str| pb::SuspendGrantRequest {
        name: name.clone(),
        reason: reason.into(),
        ..Default::default()
    };

    app.activate(&grant.name).await.unwrap();
    let twice = app.activate(&grant.name).await.unwrap_err();
    let suspended = client
        .suspend_grant(suspend("audit finding"))
        .await
        .unwrap()
        .into_inner();
    let resumed = app.activate(&grant.name).await.unwrap();
    client.suspend_grant(suspend("again")).await.unwrap();
    app.projects(app.admin())
        .cancel_project(pb::CancelProjectRequest {
            name: project.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let closed = client
        .close_grant(pb::CloseGrantRequest {
            name: grant.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let after_close = client
        .terminate_grant(pb::TerminateGrantRequest {
            name: grant.name.clone(),
            reason: "x".into(),
            ..Default::default()
        })
        .await;

    assert_eq!(reason(&twice), "GRANT_STATE_TRANSITION_NOT_ALLOWED");
    assert_eq!(
        (suspended.state, suspended.state_reason.as_str()),
        (pb::GrantState::Suspended as i32, "audit finding")
    );
    assert_eq!(resumed.state, pb::GrantState::Active as i32);
    assert_eq!(closed.state, pb::GrantState::Closed as i32);
    assert_eq!(
        reason(&expect_code(after_close, Code::FailedPrecondition)),
        "GRANT_STATE_TRANSITION_NOT_ALLOWED"
    );
}

#[tokio::test]
async fn a_project_starts_only_under_an_active_grant_and_finished_projects_stay_finished() {
    let app = spawn_app().await;
    let grant = draft_grant(&app).await;
    let project = app
        .project(&grant.name, new_project("Lifecycle", &["BW"]))
        .await;
    app.indicator(&project.name, new_indicator(1)).await;
    let mut client = app.projects(app.admin());
    let start = || pb::StartProjectRequest {
        name: project.name.clone(),
        ..Default::default()
    };

    let too_early = client.start_project(start()).await;
    let not_started = client
        .complete_project(pb::CompleteProjectRequest {
            name: project.name.clone(),
            ..Default::default()
        })
        .await;
    app.activate(&grant.name).await.unwrap();
    let started = client.start_project(start()).await.unwrap().into_inner();
    let completed = client
        .complete_project(pb::CompleteProjectRequest {
            name: project.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let cancel = client
        .cancel_project(pb::CancelProjectRequest {
            name: project.name.clone(),
            ..Default::default()
        })
        .await;
    let update = client
        .update_project(pb::UpdateProjectRequest {
            project: Some(pb::Project {
                name: project.name.clone(),
                title: "Renamed".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["title".into()],
            }),
        })
        .await;

    assert_eq!(
        reason(&expect_code(too_early, Code::FailedPrecondition)),
        "GRANT_NOT_ACTIVE"
    );
    assert_eq!(
        reason(&expect_code(not_started, Code::FailedPrecondition)),
        "PROJECT_STATE_TRANSITION_NOT_ALLOWED"
    );
    assert_eq!(started.state, pb::ProjectState::Active as i32);
    assert_eq!(completed.state, pb::ProjectState::Completed as i32);
    assert_eq!(
        reason(&expect_code(cancel, Code::FailedPrecondition)),
        "PROJECT_STATE_TRANSITION_NOT_ALLOWED"
    );
    assert_eq!(
        reason(&expect_code(update, Code::FailedPrecondition)),
        "PROJECT_FINISHED"
    );
}

#[tokio::test]
async fn a_grant_period_cannot_shrink_past_its_projects() {
    let app = spawn_app().await;
    let grant = draft_grant(&app).await;
    app.project(&grant.name, new_project("Long", &["BW"])).await;
    let shrink = app
        .grants(app.admin())
        .update_grant(pb::UpdateGrantRequest {
            grant: Some(pb::Grant {
                name: grant.name.clone(),
                end_date: "2015-06-30".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["end_date".into()],
            }),
        })
        .await;
    assert_eq!(
        reason(&expect_code(shrink, Code::FailedPrecondition)),
        "PROJECT_OUTSIDE_GRANT_PERIOD"
    );
    assert_eq!(app.read_grant(&grant.name).await.end_date, "2016-09-30");
}

#[tokio::test]
async fn an_update_replaces_the_masked_fields_and_a_stale_etag_is_aborted() {
    let app = spawn_app().await;
    let grant = draft_grant(&app).await;
    let project = app
        .project(&grant.name, new_project("Two countries", &["BW", "NA"]))
        .await;
    let update = |countries: Vec<String>, etag: &str| pb::UpdateProjectRequest {
        project: Some(pb::Project {
            name: project.name.clone(),
            country_codes: countries,
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["country_codes".into()],
        }),
    };
    let updated = app
        .projects(app.admin())
        .update_project(update(
            vec!["ZW".into(), "MW".into(), "BW".into()],
            &project.etag,
        ))
        .await
        .unwrap()
        .into_inner();
    let stale = app
        .projects(app.admin())
        .update_project(update(vec!["BW".into()], &project.etag))
        .await;

    assert_eq!(updated.country_codes, vec!["BW", "MW", "ZW"]);
    assert_eq!(updated.title, project.title);
    assert_eq!(reason(&expect_code(stale, Code::Aborted)), "ETAG_MISMATCH");
}

#[tokio::test]
async fn projects_filter_by_country_region_pillar_and_state_across_pages_and_grants() {
    let app = spawn_app().await;
    let grant = draft_grant(&app).await;
    let other = app
        .grant("OTHER-1", &app.organization("Other", "PE").await.name)
        .await;
    let mut african = Vec::new();
    for index in 0..3 {
        african.push(
            app.project(
                &grant.name,
                new_project(&format!("Africa {index}"), &["BW", "MW"]),
            )
            .await
            .name,
        );
    }
    let mut peru = new_project("Peru", &["PE"]);
    peru.pillars = vec![pb::Pillar::Prevention as i32];
    let peru = app.project(&other.name, peru).await.name;

    let pages = |parent: &'static str, filter: &'static str| {
        let app = &app;
        let parent = if parent.is_empty() {
            grant.name.clone()
        } else {
            parent.to_string()
        };
        async move {
            let mut names = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = app
                    .projects(app.admin())
                    .list_projects(pb::ListProjectsRequest {
                        parent: parent.clone(),
                        page_size: 2,
                        page_token,
                        filter: filter.into(),
                    })
                    .await
                    .unwrap()
                    .into_inner();
                names.extend(page.projects.into_iter().map(|p| p.name));
                if page.next_page_token.is_empty() {
                    return names;
                }
                page_token = page.next_page_token;
            }
        }
    };

    assert_eq!(pages("", "").await, african);
    assert_eq!(pages("grants/-", "country = MW").await, african);
    assert_eq!(pages("grants/-", "region = WHA").await, vec![peru.clone()]);
    assert_eq!(
        pages("grants/-", "pillar = PREVENTION").await,
        vec![peru.clone()]
    );
    assert_eq!(pages("grants/-", "state = PLANNED").await.len(), 4);
    assert!(pages("grants/-", "state = ACTIVE").await.is_empty());
    let missing = app
        .projects(app.admin())
        .list_projects(pb::ListProjectsRequest {
            parent: "grants/missing".into(),
            ..Default::default()
        })
        .await;
    expect_code(missing, Code::NotFound);
}

#[tokio::test]
async fn a_grantee_sees_only_the_projects_and_indicators_of_its_own_grants() {
    let app = spawn_app().await;
    let mine = app.organization("Mine", "HT").await;
    let theirs = app.organization("Theirs", "LR").await;
    let my_grant = app.grant("MINE-1", &mine.name).await;
    let their_grant = app.grant("THEIRS-1", &theirs.name).await;
    let my_project = app
        .project(&my_grant.name, new_project("Mine", &["HT"]))
        .await;
    let their_project = app
        .project(&their_grant.name, new_project("Theirs", &["LR"]))
        .await;
    let their_indicator = app.indicator(&their_project.name, new_indicator(5)).await;
    let token = app.token(pb::Role::Grantee, &mine.name).await;
    let mut client = app.projects(Some(&token));

    let all = client
        .list_projects(pb::ListProjectsRequest {
            parent: "grants/-".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let foreign_list = client
        .list_projects(pb::ListProjectsRequest {
            parent: their_grant.name.clone(),
            ..Default::default()
        })
        .await;
    let foreign = client
        .get_project(pb::GetProjectRequest {
            name: their_project.name.clone(),
        })
        .await;
    let foreign_indicators = client
        .list_indicators(pb::ListIndicatorsRequest {
            parent: their_project.name.clone(),
            ..Default::default()
        })
        .await;
    let foreign_indicator = client
        .get_indicator(pb::GetIndicatorRequest {
            name: their_indicator.name.clone(),
        })
        .await;
    let write = client
        .create_project(create(&my_grant.name, new_project("Sneaky", &["HT"])))
        .await;

    assert_eq!(
        all.projects
            .iter()
            .map(|p| p.name.clone())
            .collect::<Vec<_>>(),
        vec![my_project.name]
    );
    expect_code(foreign_list, Code::NotFound);
    expect_code(foreign, Code::NotFound);
    expect_code(foreign_indicators, Code::NotFound);
    expect_code(foreign_indicator, Code::NotFound);
    expect_code(write, Code::PermissionDenied);
}

#[tokio::test]
async fn every_invalid_indicator_field_is_named_at_once() {
    let app = spawn_app().await;
    let grant = draft_grant(&app).await;
    let project = app
        .project(&grant.name, new_project("Measured", &["BW"]))
        .await;
    let indicator = pb::Indicator {
        display_name: "".into(),
        unit: "".into(),
        outcome_kind: 0,
        baseline: -1,
        targets: vec![
            pb::IndicatorTarget {
                fiscal_year: 1980,
                period: "".into(),
                value: 10,
            },
            pb::IndicatorTarget {
                fiscal_year: 2014,
                period: "Q5".into(),
                value: 0,
            },
            pb::IndicatorTarget {
                fiscal_year: 2015,
                period: "q1".into(),
                value: 5,
            },
            pb::IndicatorTarget {
                fiscal_year: 2015,
                period: "Q1".into(),
                value: 6,
            },
        ],
        ..Default::default()
    };
    let result = app
        .projects(app.admin())
        .create_indicator(pb::CreateIndicatorRequest {
            parent: project.name.clone(),
            indicator: Some(indicator),
            request_id: String::new(),
        })
        .await;
    expect_invalid(
        result,
        &[
            "indicator.display_name",
            "indicator.unit",
            "indicator.outcome_kind",
            "indicator.baseline",
            "indicator.targets[0].fiscal_year",
            "indicator.targets[1].period",
            "indicator.targets[1].value",
            "indicator.targets[3]",
        ],
    );
}

#[tokio::test]
async fn an_indicator_updates_its_targets_and_is_soft_deleted() {
    let app = spawn_app().await;
    let grant = draft_grant(&app).await;
    let project = app
        .project(&grant.name, new_project("Measured", &["BW"]))
        .await;
    let created = app.indicator(&project.name, new_indicator(300)).await;
    let mut client = app.projects(app.admin());
    let updated = client
        .update_indicator(pb::UpdateIndicatorRequest {
            indicator: Some(pb::Indicator {
                name: created.name.clone(),
                etag: created.etag.clone(),
                targets: vec![
                    pb::IndicatorTarget {
                        fiscal_year: 2014,
                        period: "Q1".into(),
                        value: 100,
                    },
                    pb::IndicatorTarget {
                        fiscal_year: 2014,
                        period: "Q2".into(),
                        value: 200,
                    },
                ],
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["targets".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let stale = client
        .delete_indicator(pb::DeleteIndicatorRequest {
            name: created.name.clone(),
            etag: created.etag.clone(),
        })
        .await;
    let deleted = client
        .delete_indicator(pb::DeleteIndicatorRequest {
            name: created.name.clone(),
            etag: updated.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let live = client
        .list_indicators(pb::ListIndicatorsRequest {
            parent: project.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let all = client
        .list_indicators(pb::ListIndicatorsRequest {
            parent: project.name.clone(),
            show_deleted: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(updated.targets.len(), 2);
    assert_eq!(updated.display_name, created.display_name);
    expect_code(stale, Code::Aborted);
    assert!(deleted.delete_time.is_some());
    assert!(live.indicators.is_empty());
    assert_eq!(all.indicators.len(), 1);
}

#[tokio::test]
async fn each_project_and_indicator_change_leaves_exactly_one_audit_event() {
    let app = spawn_app().await;
    let grant = draft_grant(&app).await;
    let project = app
        .project(&grant.name, new_project("Audited", &["BW"]))
        .await;
    let indicator = app.indicator(&project.name, new_indicator(10)).await;
    app.projects(app.admin())
        .cancel_project(pb::CancelProjectRequest {
            name: project.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let project_events = app.audit_events_of(&project.name).await;
    let indicator_events = app.audit_events_of(&indicator.name).await;
    assert_eq!(project_events.len(), 2);
    assert_eq!(
        project_events[1]
            .diff
            .as_ref()
            .unwrap()
            .fields
            .keys()
            .collect::<Vec<_>>(),
        vec!["state"]
    );
    assert_eq!(indicator_events.len(), 1);
}

#[tokio::test]
async fn a_grant_closes_only_when_its_projects_are_finished_and_then_freezes_them() {
    let app = spawn_app().await;
    let grant = draft_grant(&app).await;
    let project = app.project(&grant.name, new_project("Open", &["BW"])).await;
    let indicator = app.indicator(&project.name, new_indicator(10)).await;
    app.activate(&grant.name).await.unwrap();
    let mut projects = app.projects(app.admin());
    projects
        .start_project(pb::StartProjectRequest {
            name: project.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let close = || pb::CloseGrantRequest {
        name: grant.name.clone(),
        ..Default::default()
    };

    let while_open = app.grants(app.admin()).close_grant(close()).await;
    projects
        .complete_project(pb::CompleteProjectRequest {
            name: project.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let edit_finished = projects
        .update_indicator(pb::UpdateIndicatorRequest {
            indicator: Some(pb::Indicator {
                name: indicator.name.clone(),
                baseline: 5,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["baseline".into()],
            }),
        })
        .await;
    let delete_finished = projects
        .delete_indicator(pb::DeleteIndicatorRequest {
            name: indicator.name.clone(),
            etag: String::new(),
        })
        .await;
    let closed = app
        .grants(app.admin())
        .close_grant(close())
        .await
        .unwrap()
        .into_inner();
    let cancel_after = projects
        .cancel_project(pb::CancelProjectRequest {
            name: project.name.clone(),
            ..Default::default()
        })
        .await;

    assert_eq!(
        reason(&expect_code(while_open, Code::FailedPrecondition)),
        "GRANT_HAS_OPEN_PROJECTS"
    );
    assert_eq!(
        reason(&expect_code(edit_finished, Code::FailedPrecondition)),
        "PROJECT_FINISHED"
    );
    assert_eq!(
        reason(&expect_code(delete_finished, Code::FailedPrecondition)),
        "PROJECT_FINISHED"
    );
    assert_eq!(closed.state, pb::GrantState::Closed as i32);
    assert_eq!(
        reason(&expect_code(cancel_after, Code::FailedPrecondition)),
        "GRANT_CLOSED"
    );
}

#[tokio::test]
async fn an_unknown_country_or_region_in_a_filter_is_refused_not_silently_empty() {
    let app = spawn_app().await;
    for filter in ["country = XX", "region = MARS"] {
        let grants = app
            .grants(app.admin())
            .list_grants(pb::ListGrantsRequest {
                filter: filter.into(),
                ..Default::default()
            })
            .await;
        let projects = app
            .projects(app.admin())
            .list_projects(pb::ListProjectsRequest {
                parent: "grants/-".into(),
                filter: filter.into(),
                ..Default::default()
            })
            .await;
        expect_invalid(grants, &["filter"]);
        expect_invalid(projects, &["filter"]);
    }
}

#[tokio::test]
async fn targets_fall_in_the_projects_fiscal_years_and_the_grants_reporting_periods() {
    let app = spawn_app().await;
    let organization = app.organization("Cadenced", "HT").await;
    let mut grant = new_grant("SEMI-1", &organization.name);
    grant.reporting_cadence = pb::ReportingCadence::SemiAnnual as i32;
    let grant = app
        .grants(app.admin())
        .create_grant(pb::CreateGrantRequest {
            grant: Some(grant),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    // 2014-01-01 to 2015-12-31: fiscal years 2014, 2015 and 2016.
    let project = app
        .project(&grant.name, new_project("Measured", &["HT"]))
        .await;
    let target = |fiscal_year: i32, period: &str| pb::IndicatorTarget {
        fiscal_year,
        period: period.into(),
        value: 10,
    };
    let with = |targets: Vec<pb::IndicatorTarget>| pb::CreateIndicatorRequest {
        parent: project.name.clone(),
        indicator: Some(pb::Indicator {
            targets,
            ..new_indicator(0)
        }),
        request_id: String::new(),
    };

    let fitting = app
        .projects(app.admin())
        .create_indicator(with(vec![
            target(2014, "H2"),
            target(2016, ""),
            target(2015, "H1"),
        ]))
        .await;
    let outside = app
        .projects(app.admin())
        .create_indicator(with(vec![target(2013, ""), target(2017, "H1")]))
        .await;
    let quarter = app
        .projects(app.admin())
        .create_indicator(with(vec![target(2015, "Q3")]))
        .await;

    assert!(fitting.is_ok(), "{fitting:?}");
    expect_invalid(
        outside,
        &[
            "indicator.targets[0].fiscal_year",
            "indicator.targets[1].fiscal_year",
        ],
    );
    expect_invalid(quarter, &["indicator.targets[0].period"]);
}
