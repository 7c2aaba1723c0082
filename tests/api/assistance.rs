//! The emergency victim-assistance fund: referrals, four-eyes approvals
//! that never over-commit a fiscal year's fund, payments, closing, grantee
//! isolation, and victims' personal data sealed at rest, read only through
//! `GetCasePersonalData` (each read audited), and re-sealed by key rotation.

use tipgrants::secret::SecretString;
use tonic::Code;

use crate::helpers::*;

/// Test keys (never real ones): 32 bytes of 1s, 2s and 3s.
pub(crate) const KEY_1: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const KEY_2: &str = "k2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
const KEY_3: &str = "k3:AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=";

/// The victim's name and contact the tests look for where they must never be.
pub(crate) const VICTIM_NAME: &str = "Rosalind Quixote-Farnsworth";
pub(crate) const VICTIM_CONTACT: &str = "+509 3712 8846, Cap-Haitien shelter";
const VICTIM_NOTES: &str = "Arrived with a broken wrist; fears the recruiter Zebulon Marsh";

pub(crate) fn with_keys(
    keys: &str,
    active: &str,
) -> impl FnOnce(&mut tipgrants::settings::Settings) {
    let (keys, active) = (keys.to_string(), active.to_string());
    move |settings| {
        settings.privacy.keys = SecretString::from(keys);
        settings.privacy.active_key = active;
    }
}

/// The fiscal year the tests refer cases in: the previous one, the oldest a grantee may date a
/// referral in, so that each of its days is past.
pub(crate) fn year() -> i32 {
    tipgrants::domain::fiscal_year::FiscalCalendar::default()
        .fiscal_year_of(chrono::Utc::now().date_naive())
        - 1
}

/// A time of the calendar year in which FY [`year`] ends, `at("03-01T08:00:00Z")`: before
/// October, a day of FY [`year`]; from October, of the current fiscal year.
fn at(month_day_time: &str) -> prost_types::Timestamp {
    time(&format!("{}-{month_day_time}", year()))
}

pub(crate) fn time(text: &str) -> prost_types::Timestamp {
    let time = chrono::DateTime::parse_from_rfc3339(text).expect("an RFC 3339 time");
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: 0,
    }
}

/// A server with a key, a referring NGO and its grantee token, two case workers and an auditor.
pub(crate) struct Fund {
    pub(crate) app: TestApp,
    pub(crate) organization: String,
    pub(crate) grantee: String,
    pub(crate) reviewer: String,
    pub(crate) approver: String,
    pub(crate) auditor: String,
}

/// The funding account the tests' emergency fund draws on.
pub(crate) const FUND_ACCOUNT: &str = "INCLE";

pub(crate) async fn fund() -> Fund {
    fund_with(with_keys(KEY_1, "k1")).await
}

async fn fund_with(customize: impl FnOnce(&mut tipgrants::settings::Settings)) -> Fund {
    let app = spawn_app_with(customize).await;
    app.funding_account(FUND_ACCOUNT).await;
    let organization = app.organization("Haitian Shelter Network", "HT").await.name;
    let grantee = app.token(pb::Role::Grantee, &organization).await;
    let reviewer = app.token(pb::Role::CaseWorker, "").await;
    let approver = app.token(pb::Role::CaseWorker, "").await;
    let auditor = app.token(pb::Role::Auditor, "").await;
    Fund {
        app,
        organization,
        grantee,
        reviewer,
        approver,
        auditor,
    }
}

/// A valid referral by `organization` in FY [`year`] with the given needs.
pub(crate) fn referral(organization: &str, needs: &[(pb::NeedKind, i64)]) -> pb::AssistanceCase {
    pb::AssistanceCase {
        referring_organization: organization.into(),
        country_code: "HT".into(),
        victim: Some(pb::VictimProfile {
            sex: pb::VictimSex::Female as i32,
            age_group: pb::AgeGroup::Child as i32,
            nationality: "DO".into(),
            trafficking_form: pb::TraffickingForm::Labour as i32,
        }),
        urgency: pb::CaseUrgency::Critical as i32,
        consent_to_services: true,
        consent_to_statistics: true,
        needs: needs
            .iter()
            .map(|(kind, amount)| pb::AssistanceNeed {
                kind: *kind as i32,
                description: format!("{kind:?} for the victim"),
                requested_amount: *amount,
                ..Default::default()
            })
            .collect(),
        referral_time: Some(at("03-01T08:00:00Z")),
        personal_data: Some(pb::PersonalData {
            full_name: VICTIM_NAME.into(),
            contact: VICTIM_CONTACT.into(),
            notes: VICTIM_NOTES.into(),
        }),
        ..Default::default()
    }
}

impl Fund {
    /// Allocates `amount` of [`FUND_ACCOUNT`]'s money of `year` to the fund, first recording
    /// that appropriation when there is none yet.
    pub(crate) async fn allocate(
        &self,
        year: i32,
        amount: i64,
    ) -> Result<pb::FundAllocation, tonic::Status> {
        let _ = self.app.appropriate(FUND_ACCOUNT, year).await;
        self.app
            .assistance(self.app.admin())
            .create_fund_allocation(pb::CreateFundAllocationRequest {
                fund_allocation: Some(pb::FundAllocation {
                    fiscal_year: year,
                    amount,
                    note: "allocation".into(),
                    funding_account: format!("fundingAccounts/{FUND_ACCOUNT}"),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .map(|response| response.into_inner())
    }

    pub(crate) async fn refer(
        &self,
        token: &str,
        case: pb::AssistanceCase,
    ) -> Result<pb::AssistanceCase, tonic::Status> {
        self.app
            .assistance(Some(token))
            .create_assistance_case(pb::CreateAssistanceCaseRequest {
                assistance_case: Some(case),
                request_id: String::new(),
            })
            .await
            .map(|response| response.into_inner())
    }

    /// A case referred by the grantee with the given needs, under review by the reviewer.
    pub(crate) async fn case_under_review(
        &self,
        needs: &[(pb::NeedKind, i64)],
    ) -> pb::AssistanceCase {
        let case = self
            .refer(&self.grantee, referral(&self.organization, needs))
            .await
            .expect("the grantee refers a case");
        self.review(&case.name).await.expect("the review starts")
    }

    pub(crate) async fn review(&self, name: &str) -> Result<pb::AssistanceCase, tonic::Status> {
        self.app
            .assistance(Some(&self.reviewer))
            .start_case_review(pb::StartCaseReviewRequest {
                name: name.into(),
                ..Default::default()
            })
            .await
            .map(|response| response.into_inner())
    }

    pub(crate) async fn approve_as(
        &self,
        token: &str,
        name: &str,
        amounts: &[i64],
    ) -> Result<pb::AssistanceCase, tonic::Status> {
        self.app
            .assistance(Some(token))
            .approve_assistance_case(approval(name, amounts))
            .await
            .map(|response| response.into_inner())
    }

    async fn approve(
        &self,
        name: &str,
        amounts: &[i64],
    ) -> Result<pb::AssistanceCase, tonic::Status> {
        self.approve_as(&self.approver, name, amounts).await
    }

    async fn pay(
        &self,
        case: &str,
        need_number: i32,
        amount: i64,
    ) -> Result<pb::Disbursement, tonic::Status> {
        self.app
            .assistance(Some(&self.approver))
            .create_disbursement(pb::CreateDisbursementRequest {
                parent: case.into(),
                disbursement: Some(pb::Disbursement {
                    need_number,
                    amount,
                    reference: "transfer 1".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .map(|response| response.into_inner())
    }

    async fn read(&self, name: &str) -> pb::AssistanceCase {
        self.app
            .assistance(self.app.admin())
            .get_assistance_case(pb::GetAssistanceCaseRequest { name: name.into() })
            .await
            .expect("the admin reads the case")
            .into_inner()
    }

    async fn balance(&self, year: i32) -> pb::FundBalance {
        self.app
            .assistance(self.app.admin())
            .get_fund_balance(pb::GetFundBalanceRequest { fiscal_year: year })
            .await
            .expect("the admin reads the balance")
            .into_inner()
    }

    async fn summary(&self, year: i32) -> pb::AssistanceSummary {
        self.app
            .assistance(Some(&self.auditor))
            .summarize_assistance_cases(pb::SummarizeAssistanceCasesRequest { fiscal_year: year })
            .await
            .expect("the auditor summarises")
            .into_inner()
    }
}

fn approval(name: &str, amounts: &[i64]) -> pb::ApproveAssistanceCaseRequest {
    pb::ApproveAssistanceCaseRequest {
        name: name.into(),
        approvals: amounts
            .iter()
            .enumerate()
            .map(|(index, amount)| pb::NeedApproval {
                need_number: index as i32 + 1,
                approved_amount: *amount,
            })
            .collect(),
        decision_time: Some(at("03-02T08:00:00Z")),
        ..Default::default()
    }
}

/// Asserts FAILED_PRECONDITION with `reason`.
#[track_caller]
pub(crate) fn expect_precondition<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
    expected: &str,
) {
    let status = expect_code(result, Code::FailedPrecondition);
    assert_eq!(reason(&status), expected, "{status:?}");
}

pub(crate) fn as_response<T>(
    result: Result<T, tonic::Status>,
) -> Result<tonic::Response<T>, tonic::Status> {
    result.map(tonic::Response::new)
}

pub(crate) const MEDICAL: pb::NeedKind = pb::NeedKind::Medical;
const TRAVEL: pb::NeedKind = pb::NeedKind::ReturnTravel;

#[tokio::test]
async fn a_grantee_referral_gets_a_readable_number_of_its_fiscal_year_and_no_personal_data_in_the_answer()
 {
    let fund = fund().await;

    let first = fund
        .refer(
            &fund.grantee,
            referral(&fund.organization, &[(MEDICAL, 150_000)]),
        )
        .await
        .unwrap();
    let second = fund
        .refer(
            &fund.grantee,
            referral(&fund.organization, &[(TRAVEL, 80_000)]),
        )
        .await
        .unwrap();
    let mut next_year = referral(&fund.organization, &[(TRAVEL, 80_000)]);
    next_year.referral_time = Some(at("10-01T00:00:00Z"));
    let third = fund.refer(&fund.reviewer, next_year).await.unwrap();

    // The fiscal year, then eight random digits (tests/api/referrals.rs attacks them).
    let shape = |number: &str, year: i32| {
        let digits: Vec<&str> = number
            .strip_prefix(&format!("EAF-{year}-"))
            .unwrap_or_default()
            .split('-')
            .collect();
        digits.len() == 2
            && digits
                .iter()
                .all(|part| part.len() == 4 && part.bytes().all(|b| b.is_ascii_digit()))
    };
    assert!(shape(&first.case_number, year()), "{}", first.case_number);
    assert!(shape(&second.case_number, year()), "{}", second.case_number);
    assert_ne!(first.case_number, second.case_number);
    assert!(
        shape(&third.case_number, year() + 1),
        "{}",
        third.case_number
    );
    assert_eq!(third.fiscal_year, year() + 1);
    assert_eq!(first.state, pb::AssistanceCaseState::Referred as i32);
    assert_eq!(first.fiscal_year, year());
    assert_eq!(first.requested_amount, 150_000);
    assert_eq!(first.needs[0].number, 1);
    assert!(first.personal_data.is_none());
    assert_eq!(
        first.personal_data_fields,
        ["full_name", "contact", "notes"]
    );
    assert!(!format!("{first:?}").contains(VICTIM_NAME));
    assert!(first.referrer.starts_with("apiTokens/"));
}

#[tokio::test]
async fn bad_referrals_are_refused_naming_each_field_and_nothing_is_stored() {
    let fund = fund().await;
    let mut client = fund.app.assistance(Some(&fund.grantee));
    let create = |case: pb::AssistanceCase| pb::CreateAssistanceCaseRequest {
        assistance_case: Some(case),
        request_id: String::new(),
    };

    let mut no_consent = referral(&fund.organization, &[(MEDICAL, 100)]);
    no_consent.consent_to_services = false;
    expect_invalid(
        client.create_assistance_case(create(no_consent)).await,
        &["assistance_case.consent_to_services"],
    );
    let mut bad_needs = referral(&fund.organization, &[(MEDICAL, 0), (TRAVEL, -5)]);
    bad_needs.needs.push(pb::AssistanceNeed {
        kind: 99,
        description: "unknown".into(),
        requested_amount: 10,
        ..Default::default()
    });
    expect_invalid(
        client.create_assistance_case(create(bad_needs)).await,
        &[
            "assistance_case.needs[0].requested_amount",
            "assistance_case.needs[1].requested_amount",
            "assistance_case.needs[2].kind",
        ],
    );
    let mut no_victim = referral(&fund.organization, &[]);
    no_victim.victim = None;
    no_victim.urgency = 0;
    no_victim.referral_time = Some(time("2999-01-01T00:00:00Z"));
    expect_invalid(
        client.create_assistance_case(create(no_victim)).await,
        &[
            "assistance_case.victim",
            "assistance_case.urgency",
            "assistance_case.needs",
            "assistance_case.referral_time",
        ],
    );
    let mut unknown_places = referral(&fund.organization, &[(MEDICAL, 100)]);
    unknown_places.country_code = "XX".into();
    unknown_places.victim.as_mut().unwrap().nationality = "QQ".into();
    expect_invalid(
        client.create_assistance_case(create(unknown_places)).await,
        &[
            "assistance_case.country_code",
            "assistance_case.victim.nationality",
        ],
    );
    let mut too_long = referral(&fund.organization, &[(MEDICAL, 100)]);
    too_long.personal_data.as_mut().unwrap().full_name = "N".repeat(201);
    let refused = client.create_assistance_case(create(too_long)).await;
    let status = expect_code(refused, Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        ["assistance_case.personal_data.full_name"]
    );
    assert!(
        !status.message().contains("NNNN"),
        "the value is never repeated"
    );
    let foreign = app_organization(&fund).await;
    expect_invalid(
        client
            .create_assistance_case(create(referral(&foreign, &[(MEDICAL, 100)])))
            .await,
        &["assistance_case.referring_organization"],
    );

    let listed = fund
        .app
        .assistance(fund.app.admin())
        .list_assistance_cases(pb::ListAssistanceCasesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.assistance_cases.is_empty());
    assert_eq!(
        fund.balance(year()).await,
        pb::FundBalance {
            fiscal_year: year(),
            ..Default::default()
        }
    );
}

async fn app_organization(fund: &Fund) -> String {
    fund.app.organization("Another NGO", "PE").await.name
}

#[tokio::test]
async fn a_case_worker_allocates_approves_pays_twice_and_closes_and_the_balance_and_summary_show_it()
 {
    let fund = fund().await;
    fund.allocate(year(), 5_000_000).await.unwrap();
    let case = fund
        .case_under_review(&[(MEDICAL, 150_000), (TRAVEL, 80_000)])
        .await;

    let approved = fund.approve(&case.name, &[120_000, 80_000]).await.unwrap();
    let after_approval = fund.balance(year()).await;
    fund.pay(&case.name, 1, 100_000).await.unwrap();
    fund.pay(&case.name, 2, 80_000).await.unwrap();
    let closed = fund
        .app
        .assistance(Some(&fund.approver))
        .close_assistance_case(pb::CloseAssistanceCaseRequest {
            name: case.name.clone(),
            outcome: "Treated and returned home to her family".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let balance = fund.balance(year()).await;
    let summary = fund.summary(year()).await;
    // One ledger: the appropriation the fund draws on shows what it allocated and paid.
    let appropriation = fund
        .app
        .funds(fund.app.admin())
        .get_appropriation(pb::GetAppropriationRequest {
            name: balance.appropriation.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let payments = fund
        .app
        .assistance(Some(&fund.grantee))
        .list_disbursements(pb::ListDisbursementsRequest {
            parent: case.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(approved.state, pb::AssistanceCaseState::Approved as i32);
    assert_eq!(approved.approved_amount, 200_000);
    assert_eq!(
        (after_approval.committed, after_approval.available),
        (200_000, 4_800_000)
    );
    assert_eq!(closed.state, pb::AssistanceCaseState::Closed as i32);
    assert_eq!(closed.paid_amount, 180_000);
    assert!(closed.first_payment_time.is_some() && closed.close_time.is_some());
    assert_eq!(
        balance,
        pb::FundBalance {
            fiscal_year: year(),
            allocated: 5_000_000,
            committed: 180_000,
            paid: 180_000,
            available: 4_820_000,
            funding_account: format!("fundingAccounts/{FUND_ACCOUNT}"),
            appropriation: format!("fundingAccounts/{FUND_ACCOUNT}/appropriations/{}", year()),
        },
        "closing released the 20,000 approved and not paid"
    );
    assert_eq!(
        (
            appropriation.obligated_amount,
            appropriation.expended_amount,
            appropriation.paid_amount,
            appropriation.unliquidated_amount
        ),
        (5_000_000, 180_000, 180_000, 4_820_000)
    );
    assert_eq!(payments.disbursements.len(), 2);
    assert_eq!(payments.disbursements[0].creator, "assistance office");
    assert_eq!(summary.cases, 1);
    assert_eq!(
        (summary.approved_amount, summary.paid_amount),
        (200_000, 180_000)
    );
    assert_eq!(summary.by_state[5].key, "CLOSED");
    assert_eq!(summary.by_state[5].cases, 1);
    assert_eq!(summary.by_need.len(), 2);
    assert_eq!(summary.by_need[0].kind, MEDICAL as i32);
    assert_eq!(
        (
            summary.by_need[0].approved_amount,
            summary.by_need[0].paid_amount
        ),
        (120_000, 100_000)
    );
    assert_eq!(summary.decided_cases, 1);
    assert_eq!(summary.median_hours_to_decision, 24.0);
    assert_eq!(summary.paid_cases, 1);
    assert!(summary.median_hours_to_first_payment > 24.0);
    assert_eq!(summary.victims_counted, 1);
}

#[tokio::test]
async fn approvals_beyond_the_request_or_the_fund_are_refused_and_change_nothing() {
    let fund = fund().await;
    fund.allocate(year(), 100_000).await.unwrap();
    let case = fund
        .case_under_review(&[(MEDICAL, 150_000), (TRAVEL, 80_000)])
        .await;
    let mut approvals = fund.app.assistance(Some(&fund.approver));

    expect_invalid(
        approvals
            .approve_assistance_case(approval(&case.name, &[150_001, 0]))
            .await,
        &["approvals[0].approved_amount"],
    );
    expect_invalid(
        approvals
            .approve_assistance_case(approval(&case.name, &[0, 0]))
            .await,
        &["approvals"],
    );
    expect_invalid(
        approvals
            .approve_assistance_case(approval(&case.name, &[10, -1]))
            .await,
        &["approvals[1].approved_amount"],
    );
    expect_invalid(
        approvals
            .approve_assistance_case(approval(&case.name, &[10]))
            .await,
        &["approvals"],
    );
    expect_precondition(
        approvals
            .approve_assistance_case(approval(&case.name, &[50_000, 50_001]))
            .await,
        "FUND_INSUFFICIENT",
    );

    let unchanged = fund.read(&case.name).await;
    assert_eq!(unchanged.state, pb::AssistanceCaseState::UnderReview as i32);
    assert_eq!(unchanged.etag, case.etag);
    assert_eq!(fund.balance(year()).await.available, 100_000);
    assert!(
        fund.approve(&case.name, &[50_000, 50_000]).await.is_ok(),
        "exactly the balance"
    );
    assert_eq!(fund.balance(year()).await.available, 0);
}

#[tokio::test]
async fn whoever_referred_a_case_or_started_its_review_cannot_approve_it() {
    let fund = fund().await;
    fund.allocate(year(), 1_000_000).await.unwrap();
    let own = fund
        .refer(
            &fund.approver,
            referral(&fund.organization, &[(MEDICAL, 100)]),
        )
        .await
        .unwrap();
    fund.review(&own.name).await.unwrap();
    let reviewed = fund.case_under_review(&[(MEDICAL, 100)]).await;

    expect_precondition(
        as_response(fund.approve(&own.name, &[100]).await),
        "ASSISTANCE_CASE_FOUR_EYES",
    );
    expect_precondition(
        as_response(
            fund.approve_as(&fund.reviewer, &reviewed.name, &[100])
                .await,
        ),
        "ASSISTANCE_CASE_FOUR_EYES",
    );
    expect_code(
        as_response(fund.approve_as(&fund.grantee, &reviewed.name, &[100]).await),
        Code::PermissionDenied,
    );

    assert_eq!(fund.balance(year()).await.committed, 0);
    assert!(
        fund.approve_as(&fund.app.admin_token, &own.name, &[100])
            .await
            .is_ok(),
        "another token decides"
    );
}

#[tokio::test]
async fn payments_never_exceed_what_remains_approved_and_a_refused_one_changes_nothing() {
    let fund = fund().await;
    fund.allocate(year(), 1_000_000).await.unwrap();
    let case = fund
        .case_under_review(&[(MEDICAL, 150_000), (TRAVEL, 80_000)])
        .await;
    let not_yet = fund.pay(&case.name, 1, 10).await;
    fund.approve(&case.name, &[100_000, 0]).await.unwrap();
    fund.pay(&case.name, 1, 60_000).await.unwrap();
    let before = fund.read(&case.name).await;
    let balance = fund.balance(year()).await;

    expect_precondition(as_response(not_yet), "ASSISTANCE_CASE_NOT_APPROVED");
    expect_invalid(
        as_response(fund.pay(&case.name, 1, 40_001).await),
        &["disbursement.amount"],
    );
    expect_invalid(
        as_response(fund.pay(&case.name, 1, 0).await),
        &["disbursement.amount"],
    );
    expect_invalid(
        as_response(fund.pay(&case.name, 1, -3).await),
        &["disbursement.amount"],
    );
    expect_invalid(
        as_response(fund.pay(&case.name, 2, 1).await),
        &["disbursement.need_number"],
    );
    expect_invalid(
        as_response(fund.pay(&case.name, 3, 1).await),
        &["disbursement.need_number"],
    );

    assert_eq!(fund.read(&case.name).await, before);
    assert_eq!(fund.balance(year()).await, balance);
    assert!(
        fund.pay(&case.name, 1, 40_000).await.is_ok(),
        "exactly what remains"
    );
    assert_eq!(fund.balance(year()).await.paid, 100_000);
}

#[tokio::test]
async fn withdrawing_releases_what_was_not_paid_and_a_withdrawn_or_closed_case_takes_no_more_changes()
 {
    let fund = fund().await;
    fund.allocate(year(), 1_000_000).await.unwrap();
    let case = fund.case_under_review(&[(MEDICAL, 150_000)]).await;
    fund.approve(&case.name, &[150_000]).await.unwrap();
    fund.pay(&case.name, 1, 50_000).await.unwrap();
    let mut client = fund.app.assistance(Some(&fund.grantee));

    expect_invalid(
        client
            .withdraw_assistance_case(pb::WithdrawAssistanceCaseRequest {
                name: case.name.clone(),
                ..Default::default()
            })
            .await,
        &["reason"],
    );
    let withdrawn = client
        .withdraw_assistance_case(pb::WithdrawAssistanceCaseRequest {
            name: case.name.clone(),
            reason: "the victim returned home by other means".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let balance = fund.balance(year()).await;

    assert_eq!(withdrawn.state, pb::AssistanceCaseState::Withdrawn as i32);
    assert_eq!(
        (balance.committed, balance.paid, balance.available),
        (50_000, 50_000, 950_000)
    );
    expect_precondition(
        as_response(fund.pay(&case.name, 1, 1).await),
        "ASSISTANCE_CASE_CLOSED",
    );
    expect_precondition(
        fund.app
            .assistance(Some(&fund.approver))
            .close_assistance_case(pb::CloseAssistanceCaseRequest {
                name: case.name.clone(),
                outcome: "done".into(),
                ..Default::default()
            })
            .await,
        "ASSISTANCE_CASE_CLOSED",
    );
    expect_precondition(
        client
            .withdraw_assistance_case(pb::WithdrawAssistanceCaseRequest {
                name: case.name.clone(),
                reason: "again".into(),
                ..Default::default()
            })
            .await,
        "ASSISTANCE_CASE_CLOSED",
    );
    let unchanged = fund.read(&case.name).await;
    assert_eq!(
        (unchanged.etag, unchanged.state),
        (withdrawn.etag, withdrawn.state)
    );
    assert_eq!(fund.balance(year()).await, balance);
}

#[tokio::test]
async fn an_allocation_may_reduce_the_fund_but_never_below_what_is_committed() {
    let fund = fund().await;
    fund.allocate(year(), 300_000).await.unwrap();
    let case = fund.case_under_review(&[(MEDICAL, 200_000)]).await;
    fund.approve(&case.name, &[200_000]).await.unwrap();
    let mut admin = fund.app.assistance(fund.app.admin());
    let reduce = |amount: i64, note: &str| pb::CreateFundAllocationRequest {
        fund_allocation: Some(pb::FundAllocation {
            fiscal_year: year(),
            amount,
            note: note.into(),
            funding_account: FUND_ACCOUNT.into(),
            ..Default::default()
        }),
        request_id: String::new(),
    };

    expect_precondition(
        admin
            .create_fund_allocation(reduce(-100_001, "rescission"))
            .await,
        "FUND_ALLOCATION_BELOW_COMMITTED",
    );
    expect_invalid(
        admin.create_fund_allocation(reduce(-10, "")).await,
        &["fund_allocation.note"],
    );
    expect_invalid(
        admin.create_fund_allocation(reduce(0, "x")).await,
        &["fund_allocation.amount"],
    );
    let reduced = admin
        .create_fund_allocation(reduce(-100_000, "rescission"))
        .await;
    let listed = admin
        .list_fund_allocations(pb::ListFundAllocationsRequest {
            filter: format!("fiscal_year = {}", year()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let fetched = admin
        .get_fund_allocation(pb::GetFundAllocationRequest {
            name: listed.fund_allocations[0].name.clone(),
        })
        .await;

    assert_eq!(reduced.unwrap().into_inner().amount, -100_000);
    assert_eq!(listed.fund_allocations.len(), 2);
    assert_eq!(fetched.unwrap().into_inner().amount, 300_000);
    let balance = fund.balance(year()).await;
    assert_eq!(
        (balance.allocated, balance.committed, balance.available),
        (200_000, 200_000, 0)
    );
}

#[tokio::test]
async fn a_grantee_sees_only_its_own_referrals_foreign_ones_answer_like_missing_ones() {
    let fund = fund().await;
    let other_organization = app_organization(&fund).await;
    let other_grantee = fund.app.token(pb::Role::Grantee, &other_organization).await;
    let mine = fund.case_under_review(&[(MEDICAL, 100)]).await;
    let theirs = fund
        .refer(
            &other_grantee,
            referral(&other_organization, &[(MEDICAL, 100)]),
        )
        .await
        .unwrap();
    let missing = "assistanceCases/0000-missing";
    let mut client = fund.app.assistance(Some(&fund.grantee));

    let listed = client
        .list_assistance_cases(pb::ListAssistanceCasesRequest::default())
        .await
        .unwrap()
        .into_inner();
    let widened = client
        .list_assistance_cases(pb::ListAssistanceCasesRequest {
            filter: format!("referrer = {other_organization}"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.assistance_cases.len(), 1);
    assert_eq!(listed.assistance_cases[0].name, mine.name);
    assert_eq!(listed.assistance_cases[0].reviewer, "assistance office");
    assert!(widened.assistance_cases.is_empty());
    for name in [theirs.name.as_str(), missing] {
        let status = expect_code(
            client
                .get_assistance_case(pb::GetAssistanceCaseRequest { name: name.into() })
                .await,
            Code::NotFound,
        );
        assert_eq!(status.message(), format!("{name} not found"));
        expect_code(
            client
                .list_disbursements(pb::ListDisbursementsRequest {
                    parent: name.into(),
                    ..Default::default()
                })
                .await,
            Code::NotFound,
        );
        expect_code(
            client
                .withdraw_assistance_case(pb::WithdrawAssistanceCaseRequest {
                    name: name.into(),
                    reason: "x".into(),
                    ..Default::default()
                })
                .await,
            Code::NotFound,
        );
    }
    expect_code(
        client
            .get_case_personal_data(pb::GetCasePersonalDataRequest {
                name: mine.name.clone(),
            })
            .await,
        Code::PermissionDenied,
    );
    let mut changed = mine.clone();
    changed.urgency = pb::CaseUrgency::Normal as i32;
    expect_precondition(
        client
            .update_assistance_case(pb::UpdateAssistanceCaseRequest {
                assistance_case: Some(changed),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["urgency".into()],
                }),
            })
            .await,
        "ASSISTANCE_CASE_UNDER_REVIEW",
    );
}

#[tokio::test]
async fn a_referral_changes_until_the_decision_and_personal_data_stays_write_only() {
    let fund = fund().await;
    let case = fund
        .refer(
            &fund.grantee,
            referral(&fund.organization, &[(MEDICAL, 100)]),
        )
        .await
        .unwrap();
    let mut changes = case.clone();
    changes.needs = vec![pb::AssistanceNeed {
        kind: pb::NeedKind::Shelter as i32,
        description: "two weeks".into(),
        requested_amount: 42_000,
        ..Default::default()
    }];
    changes.personal_data = Some(pb::PersonalData {
        notes: "Moved to the Jacmel shelter".into(),
        ..Default::default()
    });
    let update = |case: pb::AssistanceCase, paths: &[&str]| pb::UpdateAssistanceCaseRequest {
        assistance_case: Some(case),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|path| path.to_string()).collect(),
        }),
    };
    let mut client = fund.app.assistance(Some(&fund.grantee));

    let updated = client
        .update_assistance_case(update(
            changes.clone(),
            &["needs", "personal_data.notes", "personal_data.contact"],
        ))
        .await
        .unwrap()
        .into_inner();
    let mut stale = changes.clone();
    stale.etag = case.etag.clone();
    let conflict = client
        .update_assistance_case(update(stale, &["urgency"]))
        .await;
    let mut no_consent = updated.clone();
    no_consent.consent_to_services = false;
    let refused = client
        .update_assistance_case(update(no_consent, &["consent_to_services"]))
        .await;
    let read = fund
        .app
        .assistance(Some(&fund.reviewer))
        .get_case_personal_data(pb::GetCasePersonalDataRequest {
            name: case.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(updated.requested_amount, 42_000);
    assert_eq!(updated.needs[0].kind, pb::NeedKind::Shelter as i32);
    assert_eq!(updated.personal_data_fields, ["full_name", "notes"]);
    assert!(updated.personal_data.is_none());
    expect_code(conflict, Code::Aborted);
    expect_invalid(refused, &["assistance_case.consent_to_services"]);
    assert_eq!(
        read.personal_data,
        Some(pb::PersonalData {
            full_name: VICTIM_NAME.into(),
            contact: String::new(),
            notes: "Moved to the Jacmel shelter".into(),
        })
    );
}

#[tokio::test]
async fn every_read_of_personal_data_is_an_audit_event_naming_who_which_case_and_which_fields() {
    let fund = fund().await;
    let case = fund
        .refer(
            &fund.grantee,
            referral(&fund.organization, &[(MEDICAL, 100)]),
        )
        .await
        .unwrap();
    let (reader, reader_secret) = fund.app.token_named(pb::Role::CaseWorker, "").await;
    let mut client = fund.app.assistance(Some(&reader_secret));

    let first = client
        .get_case_personal_data(pb::GetCasePersonalDataRequest {
            name: case.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    client
        .get_case_personal_data(pb::GetCasePersonalDataRequest {
            name: case.name.clone(),
        })
        .await
        .unwrap();
    let auditor = fund
        .app
        .assistance(Some(&fund.auditor))
        .get_case_personal_data(pb::GetCasePersonalDataRequest {
            name: case.name.clone(),
        })
        .await;
    let events = fund.app.audit_events_of(&case.name).await;

    assert_eq!(first.case_number, case.case_number);
    assert_eq!(first.personal_data.unwrap().full_name, VICTIM_NAME);
    expect_code(auditor, Code::PermissionDenied);
    let reads: Vec<_> = events
        .iter()
        .filter(|event| event.method.ends_with("/GetCasePersonalData"))
        .collect();
    assert_eq!(reads.len(), 2, "one event per read");
    for event in reads {
        assert_eq!(event.actor, reader);
        assert_eq!(event.actor_role, pb::Role::CaseWorker as i32);
        let diff = format!("{:?}", event.diff);
        for field in ["full_name", "contact", "notes"] {
            assert!(diff.contains(field), "{diff}");
        }
        assert!(
            !diff.contains(VICTIM_NAME) && !diff.contains("Cap-Haitien"),
            "{diff}"
        );
    }
}

/// Every text value of a table's rows, as bytes, whatever the database.
pub(crate) async fn text_of_columns(app: &TestApp, table: &str, columns: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for column in columns {
        let expression = match app.store.backend() {
            sea_orm::DatabaseBackend::Postgres => {
                format!("convert_to(CAST({column} AS TEXT), 'UTF8')")
            }
            _ => format!("CAST(CAST({column} AS TEXT) AS BLOB)"),
        };
        let sql = format!("SELECT {expression} FROM {table} WHERE {column} IS NOT NULL");
        for value in app.query_column(&sql).await {
            found.push(String::from_utf8_lossy(&value).into_owned());
        }
    }
    found
}

#[tokio::test]
async fn the_case_tables_and_the_audit_log_hold_no_plain_personal_data() {
    let fund = fund().await;
    fund.allocate(year(), 1_000_000).await.unwrap();
    let case = fund.case_under_review(&[(MEDICAL, 1_000)]).await;
    fund.approve(&case.name, &[1_000]).await.unwrap();
    fund.pay(&case.name, 1, 1_000).await.unwrap();
    fund.app
        .assistance(Some(&fund.reviewer))
        .get_case_personal_data(pb::GetCasePersonalDataRequest {
            name: case.name.clone(),
        })
        .await
        .unwrap();

    let mut stored = text_of_columns(
        &fund.app,
        "assistance_cases",
        &[
            "id",
            "case_number",
            "needs",
            "state_reason",
            "outcome",
            "full_name_sealed",
            "contact_sealed",
            "notes_sealed",
            "personal_data_key",
        ],
    )
    .await;
    let sealed = text_of_columns(
        &fund.app,
        "assistance_cases",
        &["full_name_sealed", "contact_sealed", "notes_sealed"],
    )
    .await;
    stored.extend(text_of_columns(&fund.app, "disbursements", &["reference"]).await);
    stored.extend(
        text_of_columns(
            &fund.app,
            "audit_events",
            &["resource", "diff", "method", "request_id"],
        )
        .await,
    );
    stored.extend(text_of_columns(&fund.app, "idempotency_keys", &["request_hash"]).await);
    let on_disk: Vec<u8> = match fund.app.store.backend() {
        sea_orm::DatabaseBackend::Postgres => Vec::new(),
        _ => ["test.sqlite3", "test.sqlite3-wal"]
            .iter()
            .flat_map(|file| std::fs::read(fund.app.directory().join(file)).unwrap_or_default())
            .collect(),
    };

    assert_eq!(sealed.len(), 3);
    assert!(
        sealed
            .iter()
            .all(|value| value.starts_with("k1:") && value.matches(':').count() == 2)
    );
    let everything = stored.join("\n");
    for secret in [
        VICTIM_NAME,
        "Quixote",
        VICTIM_CONTACT,
        // A fragment long enough that no timestamp, id or ciphertext holds it by chance
        // (a bare "3712" did: fractions of seconds are digits too).
        "3712 8846",
        "Zebulon",
        "broken wrist",
    ] {
        assert!(
            !everything.contains(secret),
            "{secret} is stored in plain text"
        );
        assert!(
            !on_disk
                .windows(secret.len())
                .any(|window| window == secret.as_bytes()),
            "{secret} is in the database file"
        );
    }
}

#[tokio::test]
async fn sixty_four_concurrent_approvals_commit_exactly_what_the_fund_can_afford() {
    let fund = fund_with(|settings| {
        with_keys(KEY_1, "k1")(settings);
        settings.database.max_connections = 8;
        settings.database.acquire_timeout_ms = 30_000;
    })
    .await;
    let (cases, amount, affordable) = (64, 10_000, 23);
    fund.allocate(year(), amount * affordable + amount / 2)
        .await
        .unwrap();
    let mut names = Vec::new();
    for _ in 0..cases {
        names.push(fund.case_under_review(&[(MEDICAL, amount)]).await.name);
    }

    let attempts: Vec<_> = names
        .iter()
        .map(|name| {
            let mut client = fund.app.assistance(Some(&fund.approver));
            let request = approval(name, &[amount]);
            tokio::spawn(async move { client.approve_assistance_case(request).await })
        })
        .collect();
    let mut approved = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(_) => approved += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
                assert_eq!(reason(&status), "FUND_INSUFFICIENT");
            }
        }
    }
    let balance = fund.balance(year()).await;
    let listed = fund
        .app
        .assistance(fund.app.admin())
        .list_assistance_cases(pb::ListAssistanceCasesRequest {
            filter: "state = APPROVED".into(),
            page_size: 500,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(
        approved, affordable,
        "exactly the affordable approvals succeed"
    );
    assert_eq!(listed.assistance_cases.len() as i64, affordable);
    assert_eq!(balance.committed, amount * affordable);
    assert_eq!(balance.available, amount / 2);
    assert!(balance.available >= 0);
}

#[tokio::test]
async fn fifty_five_cases_of_one_year_list_page_by_page_and_summarise_correctly() {
    let fund = fund().await;
    fund.allocate(year(), 100_000_000).await.unwrap();
    let countries = ["HT", "NP", "PE"];
    let mut names = Vec::new();
    for index in 0..55 {
        let mut case = referral(&fund.organization, &[(MEDICAL, 10_000), (TRAVEL, 5_000)]);
        case.country_code = countries[index % 3].into();
        case.consent_to_statistics = index % 5 != 0;
        case.urgency = if index % 2 == 0 {
            pb::CaseUrgency::High
        } else {
            pb::CaseUrgency::Normal
        } as i32;
        let victim = case.victim.as_mut().unwrap();
        victim.sex = if index % 4 == 0 {
            pb::VictimSex::Male
        } else {
            pb::VictimSex::Female
        } as i32;
        victim.age_group = if index < 20 {
            pb::AgeGroup::Child
        } else {
            pb::AgeGroup::Adult
        } as i32;
        victim.trafficking_form = if index % 3 == 0 {
            pb::TraffickingForm::Sex
        } else {
            pb::TraffickingForm::Labour
        } as i32;
        case.referral_time = Some(time(&format!("{}-0{}-01T00:00:00Z", year(), 1 + index % 8)));
        names.push(fund.refer(&fund.grantee, case).await.unwrap().name);
    }
    for name in names.iter().take(30) {
        fund.review(name).await.unwrap();
    }
    for name in names.iter().take(20) {
        let mut request = approval(name, &[10_000, 5_000]);
        request.decision_time = None;
        fund.app
            .assistance(Some(&fund.approver))
            .approve_assistance_case(request)
            .await
            .unwrap();
        fund.pay(name, 1, 4_000).await.unwrap();
    }
    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let page = fund
            .app
            .assistance(Some(&fund.auditor))
            .list_assistance_cases(pb::ListAssistanceCasesRequest {
                page_size: 20,
                page_token: token.clone(),
                filter: format!("fiscal_year = {}", year()),
            })
            .await
            .unwrap()
            .into_inner();
        pages.push(page.assistance_cases.len());
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let count = |filter: &str| {
        let mut client = fund.app.assistance(Some(&fund.auditor));
        let filter = filter.to_string();
        async move {
            client
                .list_assistance_cases(pb::ListAssistanceCasesRequest {
                    filter,
                    page_size: 500,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .assistance_cases
                .len()
        }
    };
    let summary = fund.summary(year()).await;
    let key = |counts: &[pb::CaseCount], key: &str| {
        counts
            .iter()
            .find(|count| count.key == key)
            .map(|count| count.cases)
            .unwrap_or_default()
    };
    let victims = |counts: &[pb::VictimCount], key: &str| {
        counts
            .iter()
            .find(|count| count.key == key)
            .map(|count| count.victims)
            .unwrap_or_default()
    };

    assert_eq!(pages, [20, 20, 15]);
    assert_eq!(count("state = APPROVED").await, 20);
    assert_eq!(
        count(&format!(
            "state = UNDER_REVIEW AND fiscal_year = {}",
            year()
        ))
        .await,
        10
    );
    assert_eq!(count("country = np").await, 18);
    assert_eq!(count("urgency = HIGH").await, 28);
    assert_eq!(
        count(&format!("referrer = \"{}\"", fund.organization)).await,
        55
    );
    assert_eq!(count(&format!("fiscal_year = {}", year() + 1)).await, 0);
    // Every fifth victim declined to be counted: the summary counts the other 44 only, in
    // every figure (it counted all 55 cases and their money before).
    let counted: Vec<usize> = (0..55).filter(|index| index % 5 != 0).collect();
    let consenting =
        |chosen: fn(usize) -> bool| counted.iter().filter(|index| chosen(**index)).count() as i64;
    let approved = consenting(|index| index < 20);
    assert_eq!(summary.cases, 44);
    assert_eq!(key(&summary.by_state, "REFERRED"), consenting(|i| i >= 30));
    assert_eq!(
        key(&summary.by_state, "UNDER_REVIEW"),
        consenting(|i| (20..30).contains(&i))
    );
    assert_eq!(key(&summary.by_state, "APPROVED"), approved);
    assert_eq!(key(&summary.by_urgency, "HIGH"), consenting(|i| i % 2 == 0));
    assert_eq!(key(&summary.by_country, "HT"), consenting(|i| i % 3 == 0));
    assert_eq!(key(&summary.by_country, "PE"), consenting(|i| i % 3 == 2));
    assert_eq!(summary.by_need[0].needs, 44);
    assert_eq!(summary.requested_amount, 44 * 15_000);
    assert_eq!(
        (summary.approved_amount, summary.paid_amount),
        (approved * 15_000, approved * 4_000)
    );
    assert_eq!(
        (summary.victims_counted, summary.victims_not_counted),
        (44, 11)
    );
    assert_eq!(summary.suppression_threshold, 0, "exact for an auditor");
    assert_eq!(
        victims(&summary.victims_by_sex, "MALE"),
        counted.iter().filter(|i| *i % 4 == 0).count() as i64
    );
    assert_eq!(
        victims(&summary.victims_by_age_group, "CHILD"),
        counted.iter().filter(|i| **i < 20).count() as i64
    );
    assert_eq!(
        victims(&summary.victims_by_trafficking_form, "SEX"),
        counted.iter().filter(|i| *i % 3 == 0).count() as i64
    );
    assert_eq!(
        (summary.decided_cases, summary.paid_cases),
        (approved, approved)
    );
}

#[tokio::test]
async fn critical_cases_still_undecided_after_the_configured_hours_are_found() {
    let fund = fund_with(|settings| {
        with_keys(KEY_1, "k1")(settings);
        settings.assistance.critical_decision_hours = 48;
    })
    .await;
    let ago = |hours: i64| {
        let time = chrono::Utc::now() - chrono::Duration::hours(hours);
        prost_types::Timestamp {
            seconds: time.timestamp(),
            nanos: 0,
        }
    };
    let refer = |urgency: pb::CaseUrgency, hours: i64| {
        let mut case = referral(&fund.organization, &[(MEDICAL, 100)]);
        case.urgency = urgency as i32;
        case.referral_time = Some(ago(hours));
        case
    };
    let late = fund
        .refer(&fund.grantee, refer(pb::CaseUrgency::Critical, 72))
        .await
        .unwrap();
    let late_in_review = fund
        .refer(&fund.grantee, refer(pb::CaseUrgency::Critical, 50))
        .await
        .unwrap();
    fund.review(&late_in_review.name).await.unwrap();
    fund.refer(&fund.grantee, refer(pb::CaseUrgency::Critical, 47))
        .await
        .unwrap();
    fund.refer(&fund.grantee, refer(pb::CaseUrgency::High, 100))
        .await
        .unwrap();
    let denied = fund
        .refer(&fund.grantee, refer(pb::CaseUrgency::Critical, 100))
        .await
        .unwrap();
    fund.review(&denied.name).await.unwrap();
    fund.app
        .assistance(Some(&fund.approver))
        .deny_assistance_case(pb::DenyAssistanceCaseRequest {
            name: denied.name.clone(),
            reason: "covered by the government programme".into(),
            ..Default::default()
        })
        .await
        .unwrap();

    let found = fund
        .app
        .assistance(Some(&fund.reviewer))
        .list_assistance_cases(pb::ListAssistanceCasesRequest {
            filter: "critical_undecided = true".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let refused = fund
        .app
        .assistance(Some(&fund.reviewer))
        .list_assistance_cases(pb::ListAssistanceCasesRequest {
            filter: "critical_undecided = maybe".into(),
            ..Default::default()
        })
        .await;

    let names: Vec<&str> = found
        .assistance_cases
        .iter()
        .map(|case| case.name.as_str())
        .collect();
    assert_eq!(names, [late.name.as_str(), late_in_review.name.as_str()]);
    expect_invalid(refused, &["filter"]);
}

#[tokio::test]
async fn a_state_change_retried_with_its_request_id_happens_once_and_a_stale_etag_is_aborted() {
    let fund = fund().await;
    let case = fund
        .refer(
            &fund.grantee,
            referral(&fund.organization, &[(MEDICAL, 100)]),
        )
        .await
        .unwrap();
    let request = pb::StartCaseReviewRequest {
        name: case.name.clone(),
        etag: case.etag.clone(),
        request_id: "review-once".into(),
    };
    let mut client = fund.app.assistance(Some(&fund.reviewer));

    let first = client
        .start_case_review(request.clone())
        .await
        .unwrap()
        .into_inner();
    let again = client
        .start_case_review(request)
        .await
        .unwrap()
        .into_inner();
    let stale = client
        .withdraw_assistance_case(pb::WithdrawAssistanceCaseRequest {
            name: case.name.clone(),
            etag: case.etag.clone(),
            reason: "x".into(),
            request_id: String::new(),
        })
        .await;
    let events = fund.app.audit_events_of(&case.name).await;

    assert_eq!(first, again);
    assert_eq!(first.state, pb::AssistanceCaseState::UnderReview as i32);
    expect_code(stale, Code::Aborted);
    let reviews = events
        .iter()
        .filter(|event| event.method.ends_with("/StartCaseReview"))
        .count();
    assert_eq!(reviews, 1, "exactly one audit event");
}

#[tokio::test]
async fn without_a_key_no_case_is_taken() {
    let fund = fund_with(|_| {}).await;

    let refused = fund
        .refer(
            &fund.grantee,
            referral(&fund.organization, &[(MEDICAL, 100)]),
        )
        .await;

    expect_precondition(as_response(refused), "PRIVACY_KEY_MISSING");
}

/// Reads the personal data of `case` as the admin.
async fn personal_data(app: &TestApp, case: &str) -> Result<pb::PersonalData, tonic::Status> {
    app.assistance(app.admin())
        .get_case_personal_data(pb::GetCasePersonalDataRequest { name: case.into() })
        .await
        .map(|answer| answer.into_inner().personal_data.unwrap_or_default())
}

async fn keys_in_use(app: &TestApp) -> Vec<String> {
    let mut keys = text_of_columns(app, "assistance_cases", &["personal_data_key"]).await;
    keys.sort();
    keys
}

#[tokio::test]
async fn rotation_reseals_values_under_old_keys_while_the_server_runs_and_start_up_guards_the_keys()
{
    let directory = tempfile::tempdir().unwrap();
    let mut settings = test_settings(&directory).await;
    with_keys(KEY_1, "k1")(&mut settings);
    let first = spawn_app_on(settings.clone()).await;
    let organization = first.organization("Shelter", "HT").await.name;
    let old = first
        .assistance(first.admin())
        .create_assistance_case(pb::CreateAssistanceCaseRequest {
            assistance_case: Some(referral(&organization, &[(MEDICAL, 100)])),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut first = first;
    first.signal_shutdown().await.unwrap();

    // A new key seals; the old one still opens.
    with_keys(&format!("{KEY_2},{KEY_1}"), "k2")(&mut settings);
    let second = spawn_app_on(settings.clone()).await;
    let mut newer = referral(&organization, &[(MEDICAL, 100)]);
    newer.personal_data.as_mut().unwrap().full_name = "Second Victim".into();
    let new = second
        .assistance(second.admin())
        .create_assistance_case(pb::CreateAssistanceCaseRequest {
            assistance_case: Some(newer),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(keys_in_use(&second).await, ["k1", "k2"]);
    assert_eq!(
        personal_data(&second, &old.name).await.unwrap().full_name,
        VICTIM_NAME
    );
    assert_eq!(
        personal_data(&second, &new.name).await.unwrap().full_name,
        "Second Victim"
    );

    // `tipgrants keys rotate` re-seals the old values while the server runs.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tipgrants"))
        .args(["keys", "rotate", "--batch", "1"])
        .env_remove("RUST_LOG")
        .envs(database_environment(&settings))
        .env("TIPGRANTS__PRIVACY__KEYS", format!("{KEY_2},{KEY_1}"))
        .env("TIPGRANTS__PRIVACY__ACTIVE_KEY", "k2")
        .output()
        .expect("run tipgrants keys rotate");
    let said = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{said}");
    assert!(said.contains("1 case(s)"), "{said}");
    assert!(
        !said.contains("AgICAgICAgICAgIC"),
        "the key is never printed: {said}"
    );
    assert_eq!(keys_in_use(&second).await, ["k2", "k2"]);
    assert_eq!(
        personal_data(&second, &old.name).await.unwrap().contact,
        VICTIM_CONTACT
    );
    let rotation = second.audit_events_of(&old.name).await;
    assert!(
        rotation
            .iter()
            .any(|event| event.method == "cli keys rotate")
    );
    let mut second = second;
    second.signal_shutdown().await.unwrap();

    // Start-up: the old key may go now; a server without the key in use, or without any key, refuses to start.
    with_keys(KEY_2, "")(&mut settings);
    let third = spawn_app_on(settings.clone()).await;
    assert_eq!(
        personal_data(&third, &old.name).await.unwrap().notes,
        VICTIM_NOTES
    );
    let mut third = third;
    third.signal_shutdown().await.unwrap();
    for (keys, expected) in [
        (
            KEY_3,
            "sealed with key id(s) k2 that privacy.keys does not hold",
        ),
        ("", "2 assistance case(s) exist but no encryption key"),
    ] {
        with_keys(keys, "")(&mut settings);
        let error = match tipgrants::startup::Application::build(settings.clone()).await {
            Ok(_) => panic!("the server started with keys {keys:?}"),
            Err(error) => error.to_string(),
        };
        assert!(error.starts_with("privacy: "), "{error}");
        assert!(error.contains(expected), "{error}");
        assert!(!error.contains("AwMDAwMD"), "{error}");
    }
}

/// The environment that points the binary at the test's database.
fn database_environment(settings: &tipgrants::settings::Settings) -> Vec<(String, String)> {
    use tipgrants::secret::ExposeSecret;
    vec![
        (
            "TIPGRANTS__DATABASE__URL".into(),
            settings.database.url.expose_secret().to_string(),
        ),
        (
            "TIPGRANTS__DATABASE__SQLITE_PATH".into(),
            settings.database.sqlite_path.clone(),
        ),
        (
            "TIPGRANTS__DATABASE__MIGRATE_ON_START".into(),
            "false".into(),
        ),
    ]
}

#[test]
fn keys_generate_prints_a_key_the_server_accepts_and_nothing_else() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tipgrants"))
        .args(["keys", "generate", "--id", "k7"])
        .env_remove("RUST_LOG")
        .output()
        .expect("run tipgrants keys generate");
    let printed = String::from_utf8(output.stdout).unwrap();

    assert!(output.status.success());
    assert_eq!(printed.lines().count(), 1);
    assert!(printed.starts_with("k7:"));
    let keyring = tipgrants::privacy::Keyring::parse(&SecretString::from(printed.trim()), "k7")
        .expect("a valid key");
    assert_eq!(keyring.active_id(), Some("k7"));
}
