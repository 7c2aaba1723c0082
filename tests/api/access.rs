//! Who may do what: the authorisation matrix over every RPC of the server,
//! grantee isolation, token storage and lifecycle.

use std::collections::BTreeMap;

use prost::Message;
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::helpers::*;

/// The expected permission table, written here independently of the server's.
/// Every RPC of every `tipgrants` service must appear, or the matrix fails.
const EXPECTED: &[(&str, &[&str])] = &[
    (
        "OrganizationService/GetOrganization",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "CASE_WORKER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "OrganizationService/ListOrganizations",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "CASE_WORKER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "OrganizationService/CreateOrganization",
        &["ADMIN", "PROGRAM_OFFICER"],
    ),
    (
        "OrganizationService/UpdateOrganization",
        &["ADMIN", "PROGRAM_OFFICER"],
    ),
    ("OrganizationService/DeleteOrganization", &["ADMIN"]),
    (
        "ReferenceDataService/GetFundingAccount",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "CASE_WORKER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "ReferenceDataService/ListFundingAccounts",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "CASE_WORKER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    ("ReferenceDataService/CreateFundingAccount", &["ADMIN"]),
    ("ReferenceDataService/UpdateFundingAccount", &["ADMIN"]),
    ("ReferenceDataService/DeleteFundingAccount", &["ADMIN"]),
    (
        "ReferenceDataService/GetCountry",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "CASE_WORKER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "ReferenceDataService/ListCountries",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "CASE_WORKER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "ReferenceDataService/GetRegion",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "CASE_WORKER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "ReferenceDataService/ListRegions",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "CASE_WORKER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    ("FundsService/CreateAppropriation", &["ADMIN"]),
    (
        "FundsService/GetAppropriation",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "CASE_WORKER",
            "AUDITOR",
        ],
    ),
    (
        "FundsService/ListAppropriations",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "CASE_WORKER",
            "AUDITOR",
        ],
    ),
    ("FundsService/UpdateAppropriation", &["ADMIN"]),
    (
        "AmendmentService/CreateAmendment",
        &["ADMIN", "PROGRAM_OFFICER", "GRANTS_OFFICER", "GRANTEE"],
    ),
    (
        "AmendmentService/GetAmendment",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "AmendmentService/ListAmendments",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "CloseoutService/GetCloseout",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "CloseoutService/ListCloseouts",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "CloseoutService/CompleteCloseout",
        &["ADMIN", "GRANTS_OFFICER"],
    ),
    (
        "AmendmentService/ApproveAmendment",
        &["ADMIN", "GRANTS_OFFICER"],
    ),
    (
        "AmendmentService/RefuseAmendment",
        &["ADMIN", "GRANTS_OFFICER"],
    ),
    (
        "FinancialReportService/ListFinancialReportingPeriods",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "FinancialReportService/CreateFinancialReport",
        &["ADMIN", "PROGRAM_OFFICER", "GRANTEE"],
    ),
    (
        "FinancialReportService/GetFinancialReport",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "FinancialReportService/ListFinancialReports",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "FinancialReportService/UpdateFinancialReport",
        &["ADMIN", "PROGRAM_OFFICER", "GRANTEE"],
    ),
    (
        "FinancialReportService/SubmitFinancialReport",
        &["ADMIN", "PROGRAM_OFFICER", "GRANTEE"],
    ),
    (
        "FinancialReportService/AcceptFinancialReport",
        &["ADMIN", "PROGRAM_OFFICER"],
    ),
    (
        "FinancialReportService/ReturnFinancialReport",
        &["ADMIN", "PROGRAM_OFFICER"],
    ),
    (
        "PaymentService/CreatePaymentRequest",
        &["ADMIN", "PROGRAM_OFFICER", "GRANTEE"],
    ),
    (
        "PaymentService/GetPaymentRequest",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "PaymentService/ListPaymentRequests",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "PaymentService/ApprovePaymentRequest",
        &["ADMIN", "PROGRAM_OFFICER"],
    ),
    (
        "PaymentService/RefusePaymentRequest",
        &["ADMIN", "PROGRAM_OFFICER"],
    ),
    (
        "PaymentService/RecordPayment",
        &["ADMIN", "PROGRAM_OFFICER"],
    ),
    (
        "GrantService/GetGrant",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "GrantService/ListGrants",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    ("GrantService/CreateGrant", &["ADMIN", "PROGRAM_OFFICER"]),
    ("GrantService/UpdateGrant", &["ADMIN", "PROGRAM_OFFICER"]),
    ("GrantService/ActivateGrant", &["ADMIN", "PROGRAM_OFFICER"]),
    ("GrantService/SuspendGrant", &["ADMIN", "PROGRAM_OFFICER"]),
    ("GrantService/CloseGrant", &["ADMIN", "PROGRAM_OFFICER"]),
    ("GrantService/TerminateGrant", &["ADMIN", "PROGRAM_OFFICER"]),
    (
        "GrantService/CreateObligation",
        &["ADMIN", "PROGRAM_OFFICER"],
    ),
    (
        "GrantService/GetObligation",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "GrantService/ListObligations",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "GrantService/ListGrantRevisions",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "TipReportService/GetTipRanking",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "CASE_WORKER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "TipReportService/ListTipRankings",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "CASE_WORKER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    ("TipReportService/CreateTipRanking", &["ADMIN"]),
    ("TipReportService/UpdateTipRanking", &["ADMIN"]),
    (
        "TipReportService/GetTipRecommendation",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "CASE_WORKER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "TipReportService/ListTipRecommendations",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "CASE_WORKER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    ("TipReportService/CreateTipRecommendation", &["ADMIN"]),
    ("TipReportService/UpdateTipRecommendation", &["ADMIN"]),
    ("TipReportService/DeleteTipRecommendation", &["ADMIN"]),
    (
        "ProjectService/GetProject",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "ProjectService/ListProjects",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "ProjectService/CreateProject",
        &["ADMIN", "PROGRAM_OFFICER"],
    ),
    (
        "ProjectService/UpdateProject",
        &["ADMIN", "PROGRAM_OFFICER"],
    ),
    ("ProjectService/StartProject", &["ADMIN", "PROGRAM_OFFICER"]),
    (
        "ProjectService/CompleteProject",
        &["ADMIN", "PROGRAM_OFFICER"],
    ),
    (
        "ProjectService/CancelProject",
        &["ADMIN", "PROGRAM_OFFICER"],
    ),
    (
        "ProjectService/CreateIndicator",
        &["ADMIN", "PROGRAM_OFFICER"],
    ),
    (
        "ProjectService/GetIndicator",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "ProjectService/ListIndicators",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "ProjectService/UpdateIndicator",
        &["ADMIN", "PROGRAM_OFFICER"],
    ),
    (
        "ProjectService/DeleteIndicator",
        &["ADMIN", "PROGRAM_OFFICER"],
    ),
    (
        "OutcomeReportService/ListReportingPeriods",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "OutcomeReportService/CreateOutcomeReport",
        &["ADMIN", "PROGRAM_OFFICER", "GRANTEE"],
    ),
    (
        "OutcomeReportService/GetOutcomeReport",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "OutcomeReportService/ListOutcomeReports",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "OutcomeReportService/UpdateOutcomeReport",
        &["ADMIN", "PROGRAM_OFFICER", "GRANTEE"],
    ),
    (
        "OutcomeReportService/SubmitOutcomeReport",
        &["ADMIN", "PROGRAM_OFFICER", "GRANTEE"],
    ),
    (
        "OutcomeReportService/AcceptOutcomeReport",
        &["ADMIN", "PROGRAM_OFFICER"],
    ),
    (
        "OutcomeReportService/ReturnOutcomeReport",
        &["ADMIN", "PROGRAM_OFFICER"],
    ),
    ("OutcomeReportService/ReopenOutcomeReport", &["ADMIN"]),
    (
        "OutcomeReportService/CreateOutcome",
        &["ADMIN", "PROGRAM_OFFICER", "GRANTEE"],
    ),
    (
        "OutcomeReportService/GetOutcome",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "OutcomeReportService/ListOutcomes",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "OutcomeReportService/UpdateOutcome",
        &["ADMIN", "PROGRAM_OFFICER", "GRANTEE"],
    ),
    (
        "OutcomeReportService/DeleteOutcome",
        &["ADMIN", "PROGRAM_OFFICER", "GRANTEE"],
    ),
    (
        "OutcomeReportService/UploadOutcomes",
        &["ADMIN", "PROGRAM_OFFICER", "GRANTEE"],
    ),
    (
        "OutcomeReportService/ListMilestones",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "OutcomeReportService/GetMilestone",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "OutcomeReportService/GetIndicatorProgress",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    ("AssistanceService/CreateFundAllocation", &["ADMIN"]),
    (
        "AssistanceService/GetFundAllocation",
        &["ADMIN", "CASE_WORKER", "AUDITOR"],
    ),
    (
        "AssistanceService/ListFundAllocations",
        &["ADMIN", "CASE_WORKER", "AUDITOR"],
    ),
    (
        "AssistanceService/GetFundBalance",
        &["ADMIN", "CASE_WORKER", "AUDITOR"],
    ),
    (
        "AssistanceService/CreateAssistanceCase",
        &["ADMIN", "CASE_WORKER", "GRANTEE"],
    ),
    (
        "AssistanceService/GetAssistanceCase",
        &["ADMIN", "CASE_WORKER", "AUDITOR", "GRANTEE"],
    ),
    (
        "AssistanceService/ListAssistanceCases",
        &["ADMIN", "CASE_WORKER", "AUDITOR", "GRANTEE"],
    ),
    (
        "AssistanceService/UpdateAssistanceCase",
        &["ADMIN", "CASE_WORKER", "GRANTEE"],
    ),
    (
        "AssistanceService/StartCaseReview",
        &["ADMIN", "CASE_WORKER"],
    ),
    (
        "AssistanceService/ApproveAssistanceCase",
        &["ADMIN", "CASE_WORKER"],
    ),
    (
        "AssistanceService/DenyAssistanceCase",
        &["ADMIN", "CASE_WORKER"],
    ),
    (
        "AssistanceService/WithdrawAssistanceCase",
        &["ADMIN", "CASE_WORKER", "GRANTEE"],
    ),
    (
        "AssistanceService/CloseAssistanceCase",
        &["ADMIN", "CASE_WORKER"],
    ),
    (
        "AssistanceService/CreateDisbursement",
        &["ADMIN", "CASE_WORKER"],
    ),
    (
        "AssistanceService/ListDisbursements",
        &["ADMIN", "CASE_WORKER", "AUDITOR", "GRANTEE"],
    ),
    (
        "AssistanceService/GetCasePersonalData",
        &["ADMIN", "CASE_WORKER"],
    ),
    (
        "AssistanceService/SummarizeAssistanceCases",
        &["ADMIN", "PROGRAM_OFFICER", "CASE_WORKER", "AUDITOR"],
    ),
    ("AccessService/CreateApiToken", &["ADMIN"]),
    ("AccessService/GetApiToken", &["ADMIN"]),
    ("AccessService/ListApiTokens", &["ADMIN"]),
    ("AccessService/RevokeApiToken", &["ADMIN"]),
    ("AuditService/ListAuditEvents", &["ADMIN", "AUDITOR"]),
    ("AuditService/VerifyAuditChain", &["ADMIN", "AUDITOR"]),
    (
        "ReportService/StreamFiscalYearReport",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "ReportService/GetPortfolioSummary",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "ReportService/ExportOutcomes",
        &[
            "ADMIN",
            "PROGRAM_OFFICER",
            "GRANTS_OFFICER",
            "AUDITOR",
            "GRANTEE",
        ],
    ),
    (
        "ReportService/ExportIatiActivities",
        &["ADMIN", "PROGRAM_OFFICER", "GRANTS_OFFICER", "AUDITOR"],
    ),
    (
        "ReportService/ExportHtcdsCaseRecords",
        &["ADMIN", "CASE_WORKER", "AUDITOR"],
    ),
];

/// Every RPC the server's descriptor set declares in `tipgrants.v1`, as `Service/Method`.
fn every_rpc() -> Vec<String> {
    let set = prost_types::FileDescriptorSet::decode(tipgrants::pb::FILE_DESCRIPTOR_SET)
        .expect("descriptor set");
    let mut methods = Vec::new();
    for file in set
        .file
        .iter()
        .filter(|file| file.package() == "tipgrants.v1")
    {
        for service in &file.service {
            for method in &service.method {
                methods.push(format!("{}/{}", service.name(), method.name()));
            }
        }
    }
    methods.sort();
    methods
}

/// Calls `/tipgrants.v1.{rpc}` with an empty message and the given token; returns the code.
/// Read as a server stream, so a unary answer, a stream and an empty stream (an export that
/// matches nothing) all come back as they are.
async fn call_raw(app: &TestApp, rpc: &str, token: Option<&str>) -> Code {
    let mut grpc = tonic::client::Grpc::new(app.channel());
    grpc.ready().await.expect("channel ready");
    let mut request = tonic::Request::new(());
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("ascii"),
        );
    }
    let path = http::uri::PathAndQuery::try_from(format!("/tipgrants.v1.{rpc}")).expect("path");
    let codec: tonic_prost::ProstCodec<(), ()> = tonic_prost::ProstCodec::default();
    let mut stream = match grpc.server_streaming(request, path, codec).await {
        Ok(response) => response.into_inner(),
        Err(status) => return status.code(),
    };
    loop {
        match stream.message().await {
            Ok(Some(_)) => {}
            Ok(None) => return Code::Ok,
            Err(status) => return status.code(),
        }
    }
}

#[tokio::test]
async fn every_rpc_answers_each_role_and_each_bad_token_exactly_as_the_permission_table_says() {
    let app = spawn_app().await;
    let expected: BTreeMap<&str, &[&str]> = EXPECTED.iter().copied().collect();
    let rpcs = every_rpc();
    let missing: Vec<_> = rpcs
        .iter()
        .filter(|rpc| !expected.contains_key(rpc.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "RPCs missing from the matrix (and so from the permission table?): {missing:?}"
    );
    assert_eq!(
        rpcs.len(),
        expected.len(),
        "the matrix lists RPCs the server no longer has"
    );

    let organization = app.organization("Matrix NGO", "HT").await;
    let mut tokens: Vec<(&str, String)> = vec![("ADMIN", app.admin_token.clone())];
    for (code, role) in [
        ("PROGRAM_OFFICER", pb::Role::ProgramOfficer),
        ("GRANTS_OFFICER", pb::Role::GrantsOfficer),
        ("CASE_WORKER", pb::Role::CaseWorker),
        ("AUDITOR", pb::Role::Auditor),
    ] {
        tokens.push((code, app.token(role, "").await));
    }
    tokens.push((
        "GRANTEE",
        app.token(pb::Role::Grantee, &organization.name).await,
    ));
    let (revoked_name, revoked) = app.token_named(pb::Role::Admin, "").await;
    app.access(app.admin())
        .revoke_api_token(pb::RevokeApiTokenRequest {
            name: revoked_name,
            request_id: String::new(),
        })
        .await
        .unwrap();
    let (expired_name, expired) = app.token_named(pb::Role::Admin, "").await;
    let expired_id = expired_name.trim_start_matches("apiTokens/");
    app.execute_sql(&format!(
        "UPDATE api_tokens SET expire_time = '2020-01-01T00:00:00+00:00' WHERE id = '{expired_id}'"
    ))
    .await;

    let mut failures = Vec::new();
    for rpc in &rpcs {
        let allowed = expected[rpc.as_str()];
        for (role, token) in &tokens {
            let code = call_raw(&app, rpc, Some(token)).await;
            let ok = if allowed.contains(role) {
                !matches!(
                    code,
                    Code::PermissionDenied
                        | Code::Unauthenticated
                        | Code::Unimplemented
                        | Code::Internal
                )
            } else {
                code == Code::PermissionDenied
            };
            if !ok {
                failures.push(format!(
                    "{rpc} as {role}: {code:?} (allowed: {})",
                    allowed.contains(role)
                ));
            }
        }
        for (what, token) in [
            ("no token", None),
            ("revoked token", Some(revoked.as_str())),
            ("expired token", Some(expired.as_str())),
            ("unknown token", Some("tg_not-a-real-token")),
        ] {
            let code = call_raw(&app, rpc, token).await;
            if code != Code::Unauthenticated {
                failures.push(format!(
                    "{rpc} with {what}: {code:?}, expected Unauthenticated"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "authorisation matrix failures:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn health_needs_no_token() {
    let app = spawn_app().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(app.channel());
    let answer = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        answer.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

#[tokio::test]
async fn reflection_is_refused_to_every_caller_when_the_setting_is_off_and_says_so() {
    let app = spawn_app_with(|settings| settings.server.reflection = false).await;
    let grantee_org = app.organization("Reflection NGO", "HT").await;
    let auditor = app.token(pb::Role::Auditor, "").await;
    let grantee = app.token(pb::Role::Grantee, &grantee_org.name).await;
    for path in [
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    ] {
        let tokens = [
            None,
            Some("tg_unknown"),
            Some(app.admin_token.as_str()),
            Some(auditor.as_str()),
            Some(grantee.as_str()),
        ];
        for token in tokens {
            // Not "Unauthenticated" nor "the ADMIN role may not call ...": the reason itself.
            let status = call_raw_path_status(&app, path, token).await;
            assert_eq!(status.code(), Code::FailedPrecondition, "{path} {status:?}");
            assert_eq!(reason(&status), "REFLECTION_OFF");
            assert!(
                status.message().contains("server reflection is off"),
                "{status:?}"
            );
        }
    }
}

async fn call_raw_path_status(app: &TestApp, path: &str, token: Option<&str>) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(app.channel());
    grpc.ready().await.expect("ready");
    let mut request = tonic::Request::new(());
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("ascii"),
        );
    }
    let codec: tonic_prost::ProstCodec<(), ()> = tonic_prost::ProstCodec::default();
    match grpc
        .unary(
            request,
            http::uri::PathAndQuery::try_from(path.to_string()).unwrap(),
            codec,
        )
        .await
    {
        Ok(_) => tonic::Status::ok(""),
        Err(status) => status,
    }
}

#[tokio::test]
async fn a_grantee_sees_only_its_own_organisation() {
    let app = spawn_app().await;
    let mine = app.organization("Mine", "HT").await;
    let theirs = app.organization("Theirs", "PE").await;
    let my_token = app.token(pb::Role::Grantee, &mine.name).await;
    let their_token = app.token(pb::Role::Grantee, &theirs.name).await;

    for (token, own, foreign) in [(&my_token, &mine, &theirs), (&their_token, &theirs, &mine)] {
        let list = app
            .organizations(Some(token))
            .list_organizations(pb::ListOrganizationsRequest {
                show_deleted: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let names: Vec<_> = list
            .organizations
            .iter()
            .map(|organization| organization.name.clone())
            .collect();
        assert_eq!(names, vec![own.name.clone()]);

        let foreign_read = app
            .organizations(Some(token))
            .get_organization(pb::GetOrganizationRequest {
                name: foreign.name.clone(),
            })
            .await;
        let status = expect_code(foreign_read, Code::NotFound);
        assert_eq!(
            status.message(),
            format!("{} not found", foreign.name),
            "the same answer as for a record that does not exist"
        );
    }
}

#[tokio::test]
async fn a_grantee_token_needs_an_organisation_and_others_must_not_have_one() {
    let app = spawn_app().await;
    let organization = app.organization("Bound", "HT").await;
    let create = |role: pb::Role, organization: &str| pb::CreateApiTokenRequest {
        api_token: Some(pb::ApiToken {
            display_name: "t".into(),
            owner: "o".into(),
            role: role as i32,
            organization: organization.into(),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let mut access = app.access(app.admin());
    expect_invalid(
        access.create_api_token(create(pb::Role::Grantee, "")).await,
        &["api_token.organization"],
    );
    expect_invalid(
        access
            .create_api_token(create(pb::Role::Auditor, &organization.name))
            .await,
        &["api_token.organization"],
    );
    expect_invalid(
        access
            .create_api_token(create(pb::Role::Grantee, "organizations/missing"))
            .await,
        &["api_token.organization"],
    );
    expect_invalid(
        access
            .create_api_token(create(pb::Role::Unspecified, ""))
            .await,
        &["api_token.role"],
    );
    let past = pb::CreateApiTokenRequest {
        api_token: Some(pb::ApiToken {
            display_name: "t".into(),
            owner: "o".into(),
            role: pb::Role::Auditor as i32,
            expire_time: Some(prost_types::Timestamp {
                seconds: 1_000_000_000,
                nanos: 0,
            }),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    expect_invalid(
        access.create_api_token(past).await,
        &["api_token.expire_time"],
    );
}

#[tokio::test]
async fn tokens_are_stored_only_as_a_hash_and_never_listed_with_their_secret() {
    let app = spawn_app().await;
    let created = app
        .access(app.admin())
        .create_api_token(pb::CreateApiTokenRequest {
            api_token: Some(pb::ApiToken {
                display_name: "reporting client".into(),
                owner: "finance".into(),
                role: pb::Role::Auditor as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let token = created.api_token.unwrap();
    let id = token.name.trim_start_matches("apiTokens/");

    let stored_hash = app.store.token_secret_hash(id).await.unwrap();
    let name: tipgrants::domain::names::ApiTokenName = token.name.parse().unwrap();
    let table_dump = format!("{:?}", app.store.get_token(&name).await.unwrap());
    let listed = app
        .access(app.admin())
        .list_api_tokens(pb::ListApiTokensRequest::default())
        .await
        .unwrap()
        .into_inner();

    assert!(
        created.secret.len() >= 3 + 43,
        "at least 256 bits, base64url"
    );
    assert_eq!(
        stored_hash,
        hex::encode(Sha256::digest(created.secret.as_bytes()))
    );
    assert_ne!(stored_hash, created.secret);
    assert!(!table_dump.contains(&created.secret));
    assert!(!format!("{listed:?}").contains(&created.secret));
    assert!(created.secret.starts_with(&token.secret_prefix));
    assert!(
        listed
            .api_tokens
            .iter()
            .any(|listed| listed.name == token.name)
    );
}

#[tokio::test]
async fn a_revoked_token_stops_working_at_once_and_cannot_be_revoked_twice() {
    let app = spawn_app().await;
    let (name, secret) = app.token_named(pb::Role::Auditor, "").await;
    app.reference_data(Some(&secret))
        .list_regions(pb::ListRegionsRequest {})
        .await
        .unwrap();

    let revoked = app
        .access(app.admin())
        .revoke_api_token(pb::RevokeApiTokenRequest {
            name: name.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let after = app
        .reference_data(Some(&secret))
        .list_regions(pb::ListRegionsRequest {})
        .await;
    let twice = app
        .access(app.admin())
        .revoke_api_token(pb::RevokeApiTokenRequest {
            name: name.clone(),
            request_id: String::new(),
        })
        .await;
    let active = app
        .access(app.admin())
        .list_api_tokens(pb::ListApiTokensRequest::default())
        .await
        .unwrap()
        .into_inner();
    let everything = app
        .access(app.admin())
        .list_api_tokens(pb::ListApiTokensRequest {
            show_inactive: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();

    assert!(revoked.revoke_time.is_some());
    expect_code(after, Code::Unauthenticated);
    assert_eq!(
        reason(&expect_code(twice, Code::FailedPrecondition)),
        "TOKEN_ALREADY_REVOKED"
    );
    assert!(!active.api_tokens.iter().any(|token| token.name == name));
    assert!(everything.api_tokens.iter().any(|token| token.name == name));
}

#[tokio::test]
async fn the_same_request_id_creates_one_token_and_never_stores_its_secret() {
    let app = spawn_app().await;
    let request = pb::CreateApiTokenRequest {
        api_token: Some(pb::ApiToken {
            display_name: "retry".into(),
            owner: "o".into(),
            role: pb::Role::Auditor as i32,
            ..Default::default()
        }),
        request_id: "token-once".into(),
    };
    let first = app
        .access(app.admin())
        .create_api_token(request.clone())
        .await
        .unwrap()
        .into_inner();
    let second = app
        .access(app.admin())
        .create_api_token(request)
        .await
        .unwrap()
        .into_inner();
    let list = app
        .access(app.admin())
        .list_api_tokens(pb::ListApiTokensRequest {
            filter: "role = AUDITOR".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let stored = app
        .query_column("SELECT response FROM idempotency_keys")
        .await;

    assert!(!first.secret.is_empty());
    assert_eq!(
        second.api_token, first.api_token,
        "the replay names the same token"
    );
    assert!(
        second.secret.is_empty(),
        "a replay never carries the secret"
    );
    assert_eq!(list.api_tokens.len(), 1);
    assert!(!stored.is_empty());
    assert!(
        stored
            .iter()
            .all(|response| !String::from_utf8_lossy(response).contains(&first.secret))
    );
}
