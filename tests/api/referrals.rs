//! Referrals attacked through their number and their date: a grantee must
//! not read other organisations' referral counts off its case numbers, nor
//! date a referral years back (to read off that year's count, or to add a
//! case to a year whose figures are settled); a closed fiscal year takes no
//! new case from anyone.

use tonic::Code;

use crate::assistance::{KEY_1, referral, time, with_keys};
use crate::helpers::*;
use tipgrants::domain::fiscal_year::FiscalCalendar;
use tipgrants::pb::v1 as pb;

/// The fiscal year today falls in (the tests' calendar starts in October).
fn current_fiscal_year() -> i32 {
    FiscalCalendar::default().fiscal_year_of(chrono::Utc::now().date_naive())
}

/// 1 March of the calendar year `fiscal_year` ends in: a day of that fiscal year.
fn in_fiscal_year(fiscal_year: i32) -> prost_types::Timestamp {
    time(&format!("{fiscal_year}-03-01T08:00:00Z"))
}

/// A server with a key, and a referring organisation with a grantee token.
async fn partner(app: &TestApp, name: &str) -> (String, String) {
    let organization = app.organization(name, "HT").await.name;
    let token = app.token(pb::Role::Grantee, &organization).await;
    (organization, token)
}

async fn refer(
    app: &TestApp,
    token: &str,
    organization: &str,
    referral_time: prost_types::Timestamp,
) -> Result<pb::AssistanceCase, tonic::Status> {
    let mut case = referral(organization, &[(pb::NeedKind::Medical, 10_000)]);
    case.referral_time = Some(referral_time);
    app.assistance(Some(token))
        .create_assistance_case(pb::CreateAssistanceCaseRequest {
            assistance_case: Some(case),
            request_id: String::new(),
        })
        .await
        .map(|response| response.into_inner())
}

/// The eight digits of a case number `EAF-{year}-dddd-dddd`, if it has that shape.
fn digits(case_number: &str, year: i32) -> Option<u32> {
    let rest = case_number.strip_prefix(&format!("EAF-{year}-"))?;
    let (high, low) = rest.split_once('-')?;
    let all_digits = |part: &str| part.len() == 4 && part.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(high) || !all_digits(low) {
        return None;
    }
    Some(high.parse::<u32>().ok()? * 10_000 + low.parse::<u32>().ok()?)
}

#[tokio::test]
async fn case_numbers_tell_a_grantee_nothing_of_other_organisations_referrals() {
    let app = spawn_app_with(with_keys(KEY_1, "k1")).await;
    let (ours, our_token) = partner(&app, "Our shelter").await;
    let (theirs, their_token) = partner(&app, "Their shelter").await;
    let year = current_fiscal_year() - 1;

    let first = refer(&app, &our_token, &ours, in_fiscal_year(year))
        .await
        .unwrap();
    for _ in 0..2 {
        refer(&app, &their_token, &theirs, in_fiscal_year(year))
            .await
            .unwrap();
    }
    let second = refer(&app, &our_token, &ours, in_fiscal_year(year))
        .await
        .unwrap();

    // Before: EAF-{year}-0001, then EAF-{year}-0004: two referrals of others in between.
    let numbers: Vec<Option<u32>> = [&first, &second]
        .iter()
        .map(|case| digits(&case.case_number, year))
        .collect();
    let [Some(first_digits), Some(second_digits)] = numbers[..] else {
        panic!(
            "case numbers are EAF-{year}-dddd-dddd: {} and {}",
            first.case_number, second.case_number
        );
    };
    assert_ne!(first_digits, second_digits);
    assert_ne!(
        second_digits.abs_diff(first_digits),
        3,
        "no sequence shared with other organisations"
    );
    assert_eq!((first.fiscal_year, second.fiscal_year), (year, year));
}

#[tokio::test]
async fn a_grantee_dates_a_referral_in_the_current_or_the_previous_fiscal_year_only() {
    let app = spawn_app_with(with_keys(KEY_1, "k1")).await;
    let (ours, token) = partner(&app, "Our shelter").await;
    let current = current_fiscal_year();

    let in_1995 = refer(&app, &token, &ours, in_fiscal_year(1995)).await;
    let two_years_back = refer(&app, &token, &ours, in_fiscal_year(current - 2)).await;
    let previous = refer(&app, &token, &ours, in_fiscal_year(current - 1)).await;
    let now = refer(
        &app,
        &token,
        &ours,
        prost_types::Timestamp {
            seconds: chrono::Utc::now().timestamp(),
            nanos: 0,
        },
    )
    .await;

    for refused in [in_1995, two_years_back] {
        let status = expect_code(refused.map(tonic::Response::new), Code::InvalidArgument);
        assert_eq!(violated_fields(&status), ["assistance_case.referral_time"]);
    }
    assert_eq!(previous.unwrap().fiscal_year, current - 1);
    assert_eq!(now.unwrap().fiscal_year, current);
    let cases = app
        .assistance(app.admin())
        .list_assistance_cases(pb::ListAssistanceCasesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .assistance_cases;
    assert_eq!(cases.len(), 2, "nothing stored for the refused ones");
}

#[tokio::test]
async fn a_closed_fiscal_year_takes_no_new_case_even_from_a_case_worker() {
    let app = spawn_app_with(with_keys(KEY_1, "k1")).await;
    let (ours, _) = partner(&app, "Our shelter").await;
    let case_worker = app.token(pb::Role::CaseWorker, "").await;
    app.funding_account("INCLE").await;
    app.appropriate("INCLE", 2014).await.unwrap();
    app.assistance(app.admin())
        .create_fund_allocation(pb::CreateFundAllocationRequest {
            fund_allocation: Some(pb::FundAllocation {
                fiscal_year: 2014,
                amount: 1_000_000,
                note: "late paper referrals".into(),
                funding_account: "fundingAccounts/INCLE".into(),
                allocation_date: "2014-02-01".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("the admin allocates FY 2014");

    // FY 1995: long past, and its fund never had money: closed.
    let in_1995 = refer(&app, &case_worker, &ours, in_fiscal_year(1995)).await;
    // FY 2014: long past, but its fund still has money to commit: staff may still record a case.
    let in_2014 = refer(&app, &case_worker, &ours, in_fiscal_year(2014)).await;

    let status = expect_code(in_1995.map(tonic::Response::new), Code::FailedPrecondition);
    assert_eq!(reason(&status), "FISCAL_YEAR_CLOSED");
    assert_eq!(in_2014.unwrap().fiscal_year, 2014);
    assert_eq!(
        app.query_number("SELECT COUNT(*) FROM fund_years WHERE fiscal_year = 1995")
            .await,
        0,
        "a refused referral writes nothing, not even an empty fund"
    );
}
