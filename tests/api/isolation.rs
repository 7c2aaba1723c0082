//! Isolation and four eyes (issue 18, findings 5 and 6): four eyes compare
//! persons (a token's owner), not tokens, and the audit names the person; a
//! grantee sees only the milestones its own outcomes report, and nothing of
//! another grantee's draft; a retried referral with other personal data is a
//! changed retry, and the idempotency table keeps no personal data.

use sha2::Digest;
use tonic::Code;

use crate::assistance::{
    Fund, MEDICAL, VICTIM_CONTACT, VICTIM_NAME, as_response, expect_precondition, fund, referral,
    text_of_columns, year,
};
use crate::helpers::*;
use crate::outcome_reports::{
    Grantee, a_grantee, accept, add, delete_outcome, milestone_outcome, report, submit,
};
use pb::OutcomeKind as Kind;

/// Two case-worker tokens of `owner` and of `other_owner`: (secret, secret).
async fn case_workers(app: &TestApp, owner: &str, other_owner: &str) -> (String, String) {
    let (_, first) = app.token_owned_by(pb::Role::CaseWorker, "", owner).await;
    let (_, second) = app
        .token_owned_by(pb::Role::CaseWorker, "", other_owner)
        .await;
    (first, second)
}

async fn start_review(fund: &Fund, token: &str, case: &str) -> pb::AssistanceCase {
    fund.app
        .assistance(Some(token))
        .start_case_review(pb::StartCaseReviewRequest {
            name: case.into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|status| panic!("start the review of {case}: {status:?}"))
        .into_inner()
}

/// Refers a case as `referrer` and starts its review as `reviewer`.
async fn referred_and_under_review(fund: &Fund, referrer: &str, reviewer: &str) -> String {
    let case = fund
        .refer(referrer, referral(&fund.organization, &[(MEDICAL, 100)]))
        .await
        .unwrap_or_else(|status| panic!("refer a case: {status:?}"));
    start_review(fund, reviewer, &case.name).await.name
}

#[tokio::test]
async fn two_tokens_of_one_owner_are_one_person_who_cannot_approve_what_either_referred_or_reviewed()
 {
    let fund = fund().await;
    fund.allocate(year(), 1_000_000).await.unwrap();
    let (intake, decisions) =
        case_workers(&fund.app, "ana@state.example", "ana@state.example").await;
    let referred_by_ana = referred_and_under_review(&fund, &intake, &fund.reviewer).await;
    let reviewed_by_ana = referred_and_under_review(&fund, &fund.grantee, &intake).await;

    let refused_referral = fund.approve_as(&decisions, &referred_by_ana, &[100]).await;
    let refused_review = fund.approve_as(&decisions, &reviewed_by_ana, &[100]).await;
    let unchanged = fund
        .app
        .assistance(fund.app.admin())
        .get_assistance_case(pb::GetAssistanceCaseRequest {
            name: referred_by_ana.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let by_someone_else = fund
        .approve_as(&fund.approver, &referred_by_ana, &[100])
        .await;

    expect_precondition(as_response(refused_referral), "ASSISTANCE_CASE_FOUR_EYES");
    expect_precondition(as_response(refused_review), "ASSISTANCE_CASE_FOUR_EYES");
    assert_eq!(unchanged.state, pb::AssistanceCaseState::UnderReview as i32);
    assert_eq!(
        by_someone_else.map(|case| case.state).ok(),
        Some(pb::AssistanceCaseState::Approved as i32),
        "another person approves"
    );
}

#[tokio::test]
async fn owners_are_compared_trimmed_and_case_folded() {
    let fund = fund().await;
    fund.allocate(year(), 1_000_000).await.unwrap();
    let (intake, decisions) = case_workers(
        &fund.app,
        "Ana.Silva@State.Example",
        "  ana.silva@STATE.example ",
    )
    .await;
    let (_, namesake) = fund
        .app
        .token_owned_by(pb::Role::CaseWorker, "", "ana.silva2@state.example")
        .await;
    let case = referred_and_under_review(&fund, &intake, &intake).await;

    let refused = fund.approve_as(&decisions, &case, &[100]).await;
    let approved = fund.approve_as(&namesake, &case, &[100]).await;

    expect_precondition(as_response(refused), "ASSISTANCE_CASE_FOUR_EYES");
    assert!(approved.is_ok(), "{approved:?}");
}

#[tokio::test]
async fn two_tokens_of_one_owner_cannot_submit_and_accept_one_report() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "FOUR-EYES-1").await;
    let owner = "jane.doe@state.example";
    let (_, drafting) = app
        .token_owned_by(pb::Role::ProgramOfficer, "", owner)
        .await;
    let (_, reviewing) = app
        .token_owned_by(pb::Role::ProgramOfficer, "", " JANE.DOE@state.example")
        .await;
    let (_, colleague) = app.token_named(pb::Role::ProgramOfficer, "").await;
    let created = report(&app, Some(&drafting), &grantee.project.name, "2014-Q2").await;
    submit(&app, Some(&drafting), &created.name, "")
        .await
        .unwrap();

    let refused = accept(&app, Some(&reviewing), &created.name, "").await;
    let accepted = accept(&app, Some(&colleague), &created.name, "").await;

    let status = expect_code(refused, Code::FailedPrecondition);
    assert_eq!(
        reason(&status),
        "OUTCOME_REPORT_OWN_SUBMISSION",
        "{status:?}"
    );
    assert_eq!(
        accepted.map(|report| report.into_inner().state).ok(),
        Some(pb::OutcomeReportState::Accepted as i32)
    );
}

#[tokio::test]
async fn the_audit_names_the_owner_of_the_token_that_acted() {
    let fund = fund().await;
    fund.allocate(year(), 1_000_000).await.unwrap();
    let (intake, decisions) =
        case_workers(&fund.app, "ana@state.example", "ben@state.example").await;
    let case = referred_and_under_review(&fund, &intake, &intake).await;
    fund.approve_as(&decisions, &case, &[100]).await.unwrap();

    let events = fund.app.audit_events_of(&case).await;

    let owners: Vec<(&str, &str)> = events
        .iter()
        .map(|event| {
            (
                event.method.rsplit('/').next().unwrap_or(""),
                event.actor_owner.as_str(),
            )
        })
        .collect();
    assert_eq!(
        owners,
        [
            ("CreateAssistanceCase", "ana@state.example"),
            ("StartCaseReview", "ana@state.example"),
            ("ApproveAssistanceCase", "ben@state.example"),
        ]
    );
    let approval_diff = format!("{:?}", events[2].diff);
    assert!(
        approval_diff.contains("decider_owner") && approval_diff.contains("ben@state.example"),
        "{approval_diff}"
    );
}

/// The milestones `grantee` lists, every page.
async fn milestones_of(app: &TestApp, grantee: &Grantee) -> Vec<pb::Milestone> {
    app.outcome_reports(grantee.auth())
        .list_milestones(pb::ListMilestonesRequest {
            page_size: 500,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|status| panic!("list milestones: {status:?}"))
        .into_inner()
        .milestones
}

#[tokio::test]
async fn a_grantee_sees_nothing_of_another_grantees_draft_milestone_before_or_after_its_deletion() {
    let app = spawn_app().await;
    let drafting = a_grantee(&app, "DRAFTS-1").await;
    let other = a_grantee(&app, "OTHER-1").await;
    let draft_report = report(&app, drafting.auth(), &drafting.project.name, "2014-Q3").await;
    let other_report = report(&app, other.auth(), &other.project.name, "2014-Q3").await;
    let law = || milestone_outcome(Kind::LawEnacted, "HT", "2014-06-01");
    let draft = add(
        &app,
        drafting.auth(),
        &draft_report.name,
        pb::Outcome {
            description: "Unverified: the Senate may vote on 1 June".into(),
            ..law()
        },
    )
    .await;

    let before_own = milestones_of(&app, &other).await;
    let foreign = app
        .outcome_reports(other.auth())
        .get_milestone(pb::GetMilestoneRequest {
            name: draft.milestone.clone(),
        })
        .await;
    let own = add(&app, other.auth(), &other_report.name, law()).await;
    let with_own = milestones_of(&app, &other).await;
    delete_outcome(&app, drafting.auth(), &draft.name)
        .await
        .unwrap();
    let after_deletion = milestones_of(&app, &other).await;
    let read = app
        .outcome_reports(other.auth())
        .get_milestone(pb::GetMilestoneRequest {
            name: own.milestone.clone(),
        })
        .await
        .unwrap()
        .into_inner();

    assert!(before_own.is_empty(), "{before_own:?}");
    expect_code(foreign, Code::NotFound);
    assert_eq!(own.milestone, draft.milestone, "one law, one milestone");
    assert_eq!(with_own.len(), 1, "{with_own:?}");
    let seen = &with_own[0];
    assert_eq!(seen.name, own.milestone);
    assert_eq!(seen.description, own.description);
    assert_eq!(seen.outcome_count, 1, "only its own outcome counts for it");
    assert!(!seen.accepted);
    assert_eq!(
        seen.create_time, own.create_time,
        "first reported by itself"
    );
    assert_eq!(
        after_deletion, with_own,
        "the deleted draft leaves no trace"
    );
    assert_eq!(&read, seen);
}

#[tokio::test]
async fn a_changed_retry_of_a_referral_is_refused_and_the_idempotency_table_holds_no_personal_data()
{
    let fund = fund().await;
    let request = |case: pb::AssistanceCase| pb::CreateAssistanceCaseRequest {
        assistance_case: Some(case),
        request_id: "referral-1".into(),
    };
    let first = || referral(&fund.organization, &[(MEDICAL, 100)]);
    let other_name = "Ottoline Brackenbury-Vane";
    let renamed = || {
        let mut case = first();
        if let Some(data) = case.personal_data.as_mut() {
            data.full_name = other_name.into();
        }
        case
    };
    let without_personal_data = || pb::AssistanceCase {
        personal_data: None,
        ..first()
    };
    let mut client = fund.app.assistance(Some(&fund.grantee));

    let created = client.create_assistance_case(request(first())).await;
    let replayed = client.create_assistance_case(request(first())).await;
    let with_other_name = client.create_assistance_case(request(renamed())).await;
    let without_data = client
        .create_assistance_case(request(without_personal_data()))
        .await;

    let created = created.expect("the referral is taken").into_inner();
    assert_eq!(replayed.expect("the retry replays").into_inner(), created);
    for changed in [with_other_name, without_data] {
        let status = expect_code(changed, Code::FailedPrecondition);
        assert_eq!(reason(&status), "REQUEST_ID_REUSED", "{status:?}");
    }
    assert_eq!(
        fund.app
            .query_number("SELECT COUNT(*) FROM assistance_cases")
            .await,
        1
    );
    let mut stored = text_of_columns(
        &fund.app,
        "idempotency_keys",
        &[
            "principal",
            "method",
            "request_id",
            "request_hash",
            "personal_data_digest",
        ],
    )
    .await;
    stored.extend(
        fund.app
            .query_column("SELECT response FROM idempotency_keys")
            .await
            .iter()
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned()),
    );
    let everything = stored.join("\n");
    let plain_hash = |text: &str| hex::encode(sha2::Sha256::digest(text.as_bytes()));
    for secret in [
        VICTIM_NAME,
        "Quixote",
        other_name,
        VICTIM_CONTACT,
        "3712 8846",
    ] {
        assert!(
            !everything.contains(secret),
            "{secret} is stored: {everything}"
        );
        assert!(
            !everything.contains(&plain_hash(secret)),
            "a plain hash of {secret} is stored"
        );
    }
    assert!(
        stored.iter().any(|value| value.starts_with("k1:")),
        "the digest of the personal data names the key it is keyed with: {stored:?}"
    );
}

#[tokio::test]
async fn the_migration_fills_the_owners_of_existing_cases_and_reports_from_their_tokens() {
    use migration::MigratorTrait;
    let fund = fund().await;
    let app = &fund.app;
    fund.allocate(year(), 1_000_000).await.unwrap();
    let (intake, decisions) = case_workers(app, "ana@state.example", "ben@state.example").await;
    let case = referred_and_under_review(&fund, &intake, &intake).await;
    fund.approve_as(&decisions, &case, &[100]).await.unwrap();
    let grantee = a_grantee(app, "BACKFILL-1").await;
    let (_, drafting) = app
        .token_owned_by(pb::Role::ProgramOfficer, "", "jane@state.example")
        .await;
    let (_, reviewing) = app
        .token_owned_by(pb::Role::ProgramOfficer, "", "joe@state.example")
        .await;
    let created = report(app, Some(&drafting), &grantee.project.name, "2014-Q2").await;
    submit(app, Some(&drafting), &created.name, "")
        .await
        .unwrap();
    accept(app, Some(&reviewing), &created.name, "")
        .await
        .unwrap();

    // Back to the schema before owners were kept, and forward again: the migration fills them.
    let migrations = migration::Migrator::migrations();
    let owners = migrations
        .iter()
        .position(|step| step.name() == "m20261206_000007_owners_and_private_digests")
        .expect("the migration that adds owners");
    let database = app.store.connection();
    migration::Migrator::down(database, Some((migrations.len() - owners) as u32))
        .await
        .unwrap();
    migration::Migrator::up(database, None).await.unwrap();

    assert_eq!(
        text_of_columns(
            app,
            "assistance_cases",
            &["(referrer_owner || ',' || reviewer_owner || ',' || decider_owner)"]
        )
        .await,
        ["ana@state.example,ana@state.example,ben@state.example"]
    );
    assert_eq!(
        text_of_columns(
            app,
            "outcome_reports",
            &["(submitter_owner || ',' || reviewer_owner)"]
        )
        .await,
        ["jane@state.example,joe@state.example"]
    );
}
