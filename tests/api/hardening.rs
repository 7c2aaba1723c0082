//! The findings of the attack on the running server (issue 11), one test
//! each: each failed before its fix.

use tonic::Code;

use crate::helpers::*;

async fn verify(app: &TestApp, anchor: Option<(i64, String)>) -> pb::VerifyAuditChainResponse {
    let (expected_head_sequence, expected_head_hash) = anchor.unwrap_or_default();
    app.audit(app.admin())
        .verify_audit_chain(pb::VerifyAuditChainRequest {
            expected_head_sequence,
            expected_head_hash,
        })
        .await
        .expect("verification answers")
        .into_inner()
}

/// An INSERT of a forged audit event at `sequence`, copying event 1's other columns.
fn forged_event(sequence: i64) -> String {
    format!(
        "INSERT INTO audit_events (sequence, event_time, actor, actor_role, method, resource, request_id, diff, previous_hash, hash) \
         SELECT {sequence}, event_time, actor, actor_role, method, resource, request_id, diff, previous_hash, hash \
         FROM audit_events WHERE sequence = 1"
    )
}

#[tokio::test]
async fn the_database_refuses_an_audit_event_below_the_start_of_the_chain() {
    let app = spawn_app().await;
    app.organization("Chain NGO", "HT").await;

    let zero = app.sql_error(&forged_event(0)).await;
    let negative = app.sql_error(&forged_event(-5)).await;

    assert!(!zero.is_empty());
    assert!(!negative.is_empty());
}

#[tokio::test]
async fn verification_counts_a_forged_event_below_the_chain() {
    let app = spawn_app().await;
    app.organization("Below NGO", "HT").await;
    // Someone with rights over the schema removes the guard first.
    match app.store.backend() {
        sea_orm::DatabaseBackend::Postgres => {
            app.execute_sql(
                "ALTER TABLE audit_events DROP CONSTRAINT audit_events_sequence_from_one",
            )
            .await
        }
        _ => {
            app.execute_sql("DROP TRIGGER audit_events_sequence_from_one")
                .await
        }
    }
    app.execute_sql(&forged_event(0)).await;

    let answer = verify(&app, None).await;

    assert!(!answer.valid, "{answer:?}");
    assert!(answer.problem.contains("sequence"), "{}", answer.problem);
}

#[tokio::test]
async fn verification_never_reports_tampering_while_events_are_being_written() {
    let app = spawn_app().await;
    let writer = {
        let organizations = app.organizations(app.admin());
        tokio::spawn(async move {
            let mut organizations = organizations;
            for index in 0..60 {
                organizations
                    .create_organization(pb::CreateOrganizationRequest {
                        organization: Some(new_organization(&format!("Race {index}"), "HT")),
                        ..Default::default()
                    })
                    .await
                    .expect("created");
            }
        })
    };
    let mut answers = Vec::new();
    while !writer.is_finished() {
        answers.push(verify(&app, None).await);
    }
    writer.await.expect("the writer finished");
    answers.push(verify(&app, None).await);

    let invalid: Vec<_> = answers.iter().filter(|answer| !answer.valid).collect();
    assert!(invalid.is_empty(), "{invalid:?}");
}

#[tokio::test]
async fn an_anchor_kept_elsewhere_detects_a_truncated_log() {
    let app = spawn_app().await;
    for index in 0..3 {
        app.organization(&format!("Anchor {index}"), "HT").await;
    }
    let head = verify(&app, None).await;
    let anchor = Some((head.head_sequence, head.head_hash.clone()));
    // Delete the last event and move the head back to the event before it.
    let previous = head.head_sequence - 1;
    app.tamper_with_audit_log(&format!(
        "DELETE FROM audit_events WHERE sequence = {}",
        head.head_sequence
    ))
    .await;
    app.execute_sql(&format!(
        "UPDATE audit_head SET sequence = {previous}, hash = (SELECT hash FROM audit_events WHERE sequence = {previous})"
    ))
    .await;

    let without_anchor = verify(&app, None).await;
    let with_anchor = verify(&app, anchor).await;

    assert!(
        without_anchor.valid,
        "the chain alone cannot see a truncation"
    );
    assert!(!with_anchor.valid);
    assert!(
        with_anchor.problem.contains("anchor"),
        "{}",
        with_anchor.problem
    );
}

#[tokio::test]
async fn an_anchor_of_an_intact_chain_verifies_and_a_malformed_one_is_refused() {
    let app = spawn_app().await;
    app.organization("Intact NGO", "HT").await;
    let head = verify(&app, None).await;
    app.organization("Later NGO", "HT").await;

    let later = verify(&app, Some((head.head_sequence, head.head_hash.clone()))).await;
    let wrong = verify(&app, Some((head.head_sequence, "0".repeat(64)))).await;
    let malformed = app
        .audit(app.admin())
        .verify_audit_chain(pb::VerifyAuditChainRequest {
            expected_head_sequence: 1,
            expected_head_hash: "not a hash".into(),
        })
        .await;

    assert!(later.valid, "{later:?}");
    assert!(!wrong.valid);
    expect_invalid(malformed, &["expected_head_sequence"]);
}

#[tokio::test]
async fn the_server_refuses_to_write_its_admin_token_into_a_file_that_exists() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let planted = directory.path().join("planted");
    std::fs::write(&planted, "").expect("a planted file");
    let link = directory.path().join("link");
    std::os::unix::fs::symlink(&planted, &link).expect("a planted link");

    for path in [planted.clone(), link] {
        let mut settings = test_settings(&directory).await;
        settings.auth.bootstrap_token_file = path.display().to_string();
        let error = match tipgrants::startup::Application::build(settings).await {
            Ok(_) => panic!(
                "the server started with an existing token file {}",
                path.display()
            ),
            Err(error) => error.to_string(),
        };
        assert!(error.contains("auth.bootstrap_token_file"), "{error}");
        assert!(error.contains("already exists"), "{error}");
    }
    assert_eq!(
        std::fs::read_to_string(&planted).expect("readable"),
        "",
        "no secret reached the planted file"
    );
}

#[tokio::test]
async fn deleting_an_organisation_revokes_its_grantee_tokens_at_once() {
    let app = spawn_app().await;
    let organization = app.organization("Closing NGO", "HT").await;
    let grantee = app.token(pb::Role::Grantee, &organization.name).await;
    app.organizations(Some(&grantee))
        .get_organization(pb::GetOrganizationRequest {
            name: organization.name.clone(),
        })
        .await
        .expect("the grantee reads its organisation");

    app.organizations(app.admin())
        .delete_organization(pb::DeleteOrganizationRequest {
            name: organization.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("deleted");
    let after = app
        .organizations(Some(&grantee))
        .get_organization(pb::GetOrganizationRequest {
            name: organization.name.clone(),
        })
        .await;

    expect_code(after, Code::Unauthenticated);
    let revocations: Vec<_> = app
        .audit(app.admin())
        .list_audit_events(pb::ListAuditEventsRequest {
            filter: "method = \"/tipgrants.v1.OrganizationService/DeleteOrganization\"".into(),
            page_size: 50,
            ..Default::default()
        })
        .await
        .expect("events")
        .into_inner()
        .audit_events
        .into_iter()
        .filter(|event| event.resource.starts_with("apiTokens/"))
        .collect();
    assert_eq!(revocations.len(), 1, "one audited revocation");
}

#[tokio::test]
async fn a_bad_x_request_id_is_refused_like_a_bad_request_id() {
    let app = spawn_app().await;
    let mut request = tonic::Request::new(pb::CreateOrganizationRequest {
        organization: Some(new_organization("Header NGO", "HT")),
        ..Default::default()
    });
    request.metadata_mut().insert(
        "x-request-id",
        "<script>\"x\"</script> ".repeat(3).parse().unwrap(),
    );

    let answer = app
        .organizations(app.admin())
        .create_organization(request)
        .await;

    expect_invalid(answer, &["x-request-id"]);
    let listed = app
        .organizations(app.admin())
        .list_organizations(pb::ListOrganizationsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .organizations;
    assert!(listed.is_empty(), "nothing was written");
}

#[tokio::test]
async fn display_names_refuse_line_breaks_tabs_bidi_overrides_and_zero_width_characters() {
    let app = spawn_app().await;
    for name in [
        "Two\nLines",
        "Tab\tName",
        "Right\u{202E}To Left",
        "Zero\u{200B}Width",
    ] {
        let answer = app
            .organizations(app.admin())
            .create_organization(pb::CreateOrganizationRequest {
                organization: Some(new_organization(name, "HT")),
                ..Default::default()
            })
            .await;
        expect_invalid(answer, &["organization.display_name"]);
    }
}

#[tokio::test]
async fn a_grantee_sees_the_program_office_not_a_staff_token_in_grant_revisions() {
    let app = spawn_app().await;
    let organization = app.organization("Revision NGO", "HT").await;
    let grant = app.grant("SGTIP14GR0777", &organization.name).await;
    let grantee = app.token(pb::Role::Grantee, &organization.name).await;

    let seen_by_grantee = app
        .grants(Some(&grantee))
        .list_grant_revisions(pb::ListGrantRevisionsRequest {
            parent: grant.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .revisions;
    let seen_by_admin = app
        .grants(app.admin())
        .list_grant_revisions(pb::ListGrantRevisionsRequest {
            parent: grant.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .revisions;

    assert!(!seen_by_grantee.is_empty());
    assert!(seen_by_grantee.iter().all(|r| r.actor == "program office"));
    assert!(
        seen_by_admin
            .iter()
            .all(|r| r.actor.starts_with("apiTokens/"))
    );
}

#[tokio::test]
async fn the_last_live_admin_token_cannot_be_revoked() {
    let app = spawn_app().await;

    let last = app
        .access(app.admin())
        .revoke_api_token(pb::RevokeApiTokenRequest {
            name: "apiTokens/bootstrap".into(),
            ..Default::default()
        })
        .await;

    let status = expect_code(last, Code::FailedPrecondition);
    assert_eq!(reason(&status), "LAST_ADMIN_TOKEN");
    assert!(status.message().contains("tipgrants token create"));
    // With a second admin token, the bootstrap token can go.
    let (_, second) = app.token_named(pb::Role::Admin, "").await;
    app.access(app.admin())
        .revoke_api_token(pb::RevokeApiTokenRequest {
            name: "apiTokens/bootstrap".into(),
            ..Default::default()
        })
        .await
        .expect("revoked with another admin left");
    let _ = second;
}

#[tokio::test]
async fn an_error_never_echoes_a_huge_input() {
    let app = spawn_app().await;
    let huge = "x".repeat(1_000_000);

    let by_name = app
        .organizations(app.admin())
        .get_organization(pb::GetOrganizationRequest {
            name: format!("organizations/{huge}"),
        })
        .await;
    let by_filter = app
        .organizations(app.admin())
        .list_organizations(pb::ListOrganizationsRequest {
            filter: format!("kind = {huge}"),
            ..Default::default()
        })
        .await;

    for answer in [by_name.map(|_| ()), by_filter.map(|_| ())] {
        let status = answer.expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().len() + status.details().len() < 4096,
            "{} bytes",
            status.message().len() + status.details().len()
        );
    }
}
