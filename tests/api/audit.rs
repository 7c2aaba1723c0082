//! The audit log: one event per change with a field-level diff, none for a
//! failed change, and tampering found by verification.

use tonic::Code;

use crate::helpers::*;

async fn all_events(app: &TestApp) -> Vec<pb::AuditEvent> {
    app.audit(app.admin())
        .list_audit_events(pb::ListAuditEventsRequest {
            page_size: 500,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .audit_events
}

fn changed_fields(event: &pb::AuditEvent) -> Vec<String> {
    let mut fields: Vec<String> = event
        .diff
        .as_ref()
        .map(|diff| diff.fields.keys().cloned().collect())
        .unwrap_or_default();
    fields.sort();
    fields
}

fn after_value(event: &pb::AuditEvent, field: &str) -> Option<prost_types::value::Kind> {
    let change = event.diff.as_ref()?.fields.get(field)?;
    let Some(prost_types::value::Kind::StructValue(change)) = &change.kind else {
        return None;
    };
    change.fields.get("after")?.kind.clone()
}

async fn verify(app: &TestApp) -> pb::VerifyAuditChainResponse {
    app.audit(app.admin())
        .verify_audit_chain(pb::VerifyAuditChainRequest::default())
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn creating_updating_and_deleting_an_organisation_leaves_one_event_each_with_its_diff() {
    let app = spawn_app().await;
    let created = app.organization("Audited NGO", "HT").await;
    let updated = app
        .organizations(app.admin())
        .update_organization(pb::UpdateOrganizationRequest {
            organization: Some(pb::Organization {
                name: created.name.clone(),
                display_name: "Renamed NGO".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["display_name".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    app.organizations(app.admin())
        .delete_organization(pb::DeleteOrganizationRequest {
            name: created.name.clone(),
            etag: updated.etag,
        })
        .await
        .unwrap();

    let events = app.audit_events_of(&created.name).await;

    assert_eq!(events.len(), 3);
    let methods: Vec<_> = events
        .iter()
        .map(|event| event.method.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(
        methods,
        vec![
            "CreateOrganization",
            "UpdateOrganization",
            "DeleteOrganization"
        ]
    );
    assert_eq!(
        changed_fields(&events[0]),
        vec!["country_code", "display_name", "identifiers", "kind"]
    );
    assert_eq!(changed_fields(&events[1]), vec!["display_name"]);
    assert_eq!(
        after_value(&events[1], "display_name"),
        Some(prost_types::value::Kind::StringValue("Renamed NGO".into()))
    );
    assert_eq!(changed_fields(&events[2]), vec!["delete_time"]);
    assert!(
        events
            .iter()
            .all(|event| event.actor == "apiTokens/bootstrap"
                && event.actor_role == pb::Role::Admin as i32)
    );
}

#[tokio::test]
async fn every_mutating_rpc_of_reference_data_and_tokens_leaves_exactly_one_event() {
    let app = spawn_app().await;
    let mut reference = app.reference_data(app.admin());
    let before = all_events(&app).await.len();
    let account = reference
        .create_funding_account(pb::CreateFundingAccountRequest {
            funding_account_id: "ESF".into(),
            funding_account: Some(pb::FundingAccount {
                display_name: "Economic Support Fund".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    reference
        .update_funding_account(pb::UpdateFundingAccountRequest {
            funding_account: Some(pb::FundingAccount {
                name: account.name.clone(),
                description: "d".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["description".into()],
            }),
        })
        .await
        .unwrap();
    reference
        .delete_funding_account(pb::DeleteFundingAccountRequest {
            name: account.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();
    let (token, _) = app.token_named(pb::Role::Auditor, "").await;
    app.access(app.admin())
        .revoke_api_token(pb::RevokeApiTokenRequest {
            name: token.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap();

    let account_events = app.audit_events_of(&account.name).await;
    let token_events = app.audit_events_of(&token).await;

    assert_eq!(all_events(&app).await.len(), before + 5);
    assert_eq!(account_events.len(), 3);
    assert_eq!(changed_fields(&account_events[1]), vec!["description"]);
    assert_eq!(token_events.len(), 2);
    assert_eq!(changed_fields(&token_events[1]), vec!["revoke_time"]);
    assert!(verify(&app).await.valid);
}

#[tokio::test]
async fn a_failed_or_replayed_change_leaves_no_event() {
    let app = spawn_app().await;
    let before = all_events(&app).await.len();
    let failed = app
        .organizations(app.admin())
        .create_organization(pb::CreateOrganizationRequest {
            organization: Some(new_organization("Nowhere", "XX")),
            request_id: String::new(),
        })
        .await;
    expect_code(failed, Code::InvalidArgument);
    let request = pb::CreateOrganizationRequest {
        organization: Some(new_organization("Once", "HT")),
        request_id: "audit-once".into(),
    };
    app.organizations(app.admin())
        .create_organization(request.clone())
        .await
        .unwrap();
    app.organizations(app.admin())
        .create_organization(request)
        .await
        .unwrap();

    let events = all_events(&app).await;

    assert_eq!(events.len(), before + 1);
    assert_eq!(events.last().unwrap().request_id, "audit-once");
}

#[tokio::test]
async fn an_intact_chain_verifies_up_to_its_head() {
    let app = spawn_app().await;
    for index in 0..5 {
        app.organization(&format!("Chain {index}"), "HT").await;
    }
    let answer = verify(&app).await;
    let events = all_events(&app).await;
    assert!(answer.valid, "{answer:?}");
    assert_eq!(answer.events_checked, events.len() as i64);
    assert_eq!(answer.head_sequence, events.last().unwrap().sequence);
    assert_eq!(answer.head_hash, events.last().unwrap().hash);
    assert!(
        events
            .windows(2)
            .all(|pair| pair[1].previous_hash == pair[0].hash)
    );
}

#[tokio::test]
async fn a_changed_event_is_found_by_verification() {
    let app = spawn_app().await;
    for index in 0..4 {
        app.organization(&format!("Tamper {index}"), "HT").await;
    }
    app.tamper_with_audit_log(
        "UPDATE audit_events SET resource = 'organizations/forged' WHERE sequence = 3",
    )
    .await;
    let answer = verify(&app).await;
    assert!(!answer.valid);
    assert_eq!(answer.first_broken_sequence, 3);
    assert!(
        answer.problem.contains("hash mismatch"),
        "{}",
        answer.problem
    );
}

#[tokio::test]
async fn a_deleted_event_is_found_by_verification() {
    let app = spawn_app().await;
    for index in 0..4 {
        app.organization(&format!("Delete {index}"), "HT").await;
    }
    app.tamper_with_audit_log("DELETE FROM audit_events WHERE sequence = 2")
        .await;
    let answer = verify(&app).await;
    assert!(!answer.valid);
    assert_eq!(answer.first_broken_sequence, 2);
}

#[tokio::test]
async fn a_deleted_last_event_is_found_against_the_head() {
    let app = spawn_app().await;
    for index in 0..3 {
        app.organization(&format!("Tail {index}"), "HT").await;
    }
    let last = all_events(&app).await.last().unwrap().sequence;
    app.tamper_with_audit_log(&format!("DELETE FROM audit_events WHERE sequence = {last}"))
        .await;
    let answer = verify(&app).await;
    assert!(!answer.valid);
    assert_eq!(answer.first_broken_sequence, last);
    assert!(answer.problem.contains("missing"), "{}", answer.problem);
}

#[tokio::test]
async fn reordered_events_are_found_by_verification() {
    let app = spawn_app().await;
    for index in 0..4 {
        app.organization(&format!("Order {index}"), "HT").await;
    }
    // Swap the contents of events 2 and 3 (keeping each hash with its content), as a reordering would.
    app.tamper_with_audit_log("UPDATE audit_events SET sequence = 1000000 WHERE sequence = 2")
        .await;
    app.tamper_with_audit_log("UPDATE audit_events SET sequence = 2 WHERE sequence = 3")
        .await;
    app.tamper_with_audit_log("UPDATE audit_events SET sequence = 3 WHERE sequence = 1000000")
        .await;
    let answer = verify(&app).await;
    assert!(!answer.valid);
    assert_eq!(answer.first_broken_sequence, 2);
}

#[tokio::test]
async fn audit_events_filter_by_actor_and_page_without_gaps() {
    let app = spawn_app().await;
    let (officer_name, officer) = app.token_named(pb::Role::ProgramOfficer, "").await;
    for index in 0..5 {
        app.organizations(Some(&officer))
            .create_organization(pb::CreateOrganizationRequest {
                organization: Some(new_organization(&format!("PO {index}"), "PE")),
                request_id: String::new(),
            })
            .await
            .unwrap();
    }
    let mut sequences = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = app
            .audit(app.admin())
            .list_audit_events(pb::ListAuditEventsRequest {
                page_size: 2,
                page_token,
                filter: format!("actor = \"{officer_name}\""),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        sequences.extend(page.audit_events.iter().map(|event| event.sequence));
        assert!(
            page.audit_events
                .iter()
                .all(|event| event.actor == officer_name
                    && event.actor_role == pb::Role::ProgramOfficer as i32)
        );
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(sequences.len(), 5);
    assert!(sequences.windows(2).all(|pair| pair[0] < pair[1]));
}

#[tokio::test]
async fn audit_events_filter_by_time_range_and_refuse_an_empty_range() {
    let app = spawn_app().await;
    app.organization("Early", "HT").await;
    let events = all_events(&app).await;
    let boundary = events.last().unwrap().event_time.unwrap();
    let after = prost_types::Timestamp {
        seconds: boundary.seconds,
        nanos: boundary.nanos + 1_000,
    };
    wait_until_the_clock_passes(after).await;
    let late = app.organization("Late", "HT").await;
    let range = |start: Option<prost_types::Timestamp>, end: Option<prost_types::Timestamp>| {
        pb::ListAuditEventsRequest {
            start_time: start,
            end_time: end,
            ..Default::default()
        }
    };

    let later = app
        .audit(app.admin())
        .list_audit_events(range(Some(after), None))
        .await
        .unwrap()
        .into_inner()
        .audit_events;
    let earlier = app
        .audit(app.admin())
        .list_audit_events(range(None, Some(after)))
        .await
        .unwrap()
        .into_inner()
        .audit_events;
    let empty = app
        .audit(app.admin())
        .list_audit_events(range(Some(after), Some(after)))
        .await;

    assert_eq!(
        later
            .iter()
            .map(|event| event.resource.clone())
            .collect::<Vec<_>>(),
        vec![late.name]
    );
    assert_eq!(earlier.len(), events.len());
    expect_invalid(empty, &["end_time"]);
}

#[tokio::test]
async fn the_database_itself_refuses_to_change_or_delete_audit_events_and_grant_revisions() {
    let app = spawn_app().await;
    let grant = app
        .grant("G-1", &app.organization("Guarded", "HT").await.name)
        .await;
    let grant_id = grant.name.trim_start_matches("grants/");

    let update = app
        .sql_error("UPDATE audit_events SET resource = 'x' WHERE sequence = 1")
        .await;
    let delete = app.sql_error("DELETE FROM audit_events").await;
    let rewrite = app
        .sql_error(&format!(
            "UPDATE grant_revisions SET method = 'x' WHERE grant_id = '{grant_id}'"
        ))
        .await;
    let erase = app.sql_error("DELETE FROM grant_revisions").await;

    for error in [&update, &delete, &rewrite, &erase] {
        assert!(error.contains("append-only"), "{error}");
    }
    assert!(verify(&app).await.valid);
}

/// Asserts that exactly one event was added since `before`, for `resource`, by `method`; returns the new count.
async fn one_new_event(app: &TestApp, before: usize, resource: &str, method: &str) -> usize {
    let events = all_events(app).await;
    assert_eq!(
        events.len(),
        before + 1,
        "{method} on {resource} must leave exactly one event"
    );
    let event = events.last().unwrap();
    assert_eq!(event.resource, resource, "{method}");
    assert!(
        event.method.ends_with(&format!("/{method}")),
        "{} is not {method}",
        event.method
    );
    assert!(
        event
            .diff
            .as_ref()
            .is_some_and(|diff| !diff.fields.is_empty()),
        "{method} records what changed"
    );
    events.len()
}

#[tokio::test]
async fn every_grant_project_and_indicator_change_leaves_exactly_one_event() {
    let app = spawn_app().await;
    let grant = app
        .grant("AUDIT-1", &app.organization("Audited", "HT").await.name)
        .await;
    let project = app
        .project(&grant.name, new_project("Audited project", &["HT"]))
        .await;
    let indicator = app.indicator(&project.name, new_indicator(10)).await;
    let mut grants = app.grants(app.admin());
    let mut projects = app.projects(app.admin());
    let mask = |path: &str| {
        Some(prost_types::FieldMask {
            paths: vec![path.into()],
        })
    };
    let mut count = all_events(&app).await.len();

    grants
        .update_grant(pb::UpdateGrantRequest {
            grant: Some(pb::Grant {
                name: grant.name.clone(),
                title: "Renamed".into(),
                ..Default::default()
            }),
            update_mask: mask("title"),
        })
        .await
        .unwrap();
    count = one_new_event(&app, count, &grant.name, "UpdateGrant").await;
    app.activate(&grant.name).await.unwrap();
    count = one_new_event(&app, count, &grant.name, "ActivateGrant").await;
    projects
        .update_project(pb::UpdateProjectRequest {
            project: Some(pb::Project {
                name: project.name.clone(),
                summary: "More".into(),
                ..Default::default()
            }),
            update_mask: mask("summary"),
        })
        .await
        .unwrap();
    count = one_new_event(&app, count, &project.name, "UpdateProject").await;
    projects
        .update_indicator(pb::UpdateIndicatorRequest {
            indicator: Some(pb::Indicator {
                name: indicator.name.clone(),
                baseline: 3,
                ..Default::default()
            }),
            update_mask: mask("baseline"),
        })
        .await
        .unwrap();
    count = one_new_event(&app, count, &indicator.name, "UpdateIndicator").await;
    projects
        .delete_indicator(pb::DeleteIndicatorRequest {
            name: indicator.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();
    count = one_new_event(&app, count, &indicator.name, "DeleteIndicator").await;
    projects
        .start_project(pb::StartProjectRequest {
            name: project.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    count = one_new_event(&app, count, &project.name, "StartProject").await;
    projects
        .complete_project(pb::CompleteProjectRequest {
            name: project.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    count = one_new_event(&app, count, &project.name, "CompleteProject").await;
    grants
        .suspend_grant(pb::SuspendGrantRequest {
            name: grant.name.clone(),
            reason: "review".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    count = one_new_event(&app, count, &grant.name, "SuspendGrant").await;
    grants
        .close_grant(pb::CloseGrantRequest {
            name: grant.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    one_new_event(&app, count, &grant.name, "CloseGrant").await;
    assert!(verify(&app).await.valid);
}
