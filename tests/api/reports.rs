//! Fiscal-year reports: grouping and exact totals, fiscal years of funds,
//! thousands that add up, a grantee's own data, the stream limit, and a
//! cancelled stream giving its slot back.

use std::time::Duration;

use tokio_stream::StreamExt;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::*;
use tipgrants::pb::v1 as pb;
use tipgrants::pb::v1::stream_fiscal_year_report_response::Part;

use pb::ObligationKind::{Increment, InitialAward};

/// A report as read: the header, then (fiscal year, group, cents, thousands,
/// grants active) of every row, subtotal (group "SUBTOTAL") and the grand total ("TOTAL").
struct Read {
    header: pb::ReportHeader,
    lines: Vec<(i32, String, i64, i64, i64)>,
    /// The display names of the rows' groups.
    names: Vec<String>,
    /// The emergency fund's figures of the subtotals and the grand total.
    funds: Vec<Option<pb::EmergencyFundFigures>>,
}

async fn read_report(
    app: &TestApp,
    token: Option<&str>,
    request: pb::StreamFiscalYearReportRequest,
) -> Read {
    let mut stream = app
        .reports(token)
        .stream_fiscal_year_report(request)
        .await
        .expect("the report starts")
        .into_inner();
    let mut header = None;
    let mut lines = Vec::new();
    let mut names = Vec::new();
    let mut funds = Vec::new();
    while let Some(message) = stream.next().await {
        let line = |figures: pb::ReportFigures, group: &str| {
            (
                figures.fiscal_year,
                if group.is_empty() {
                    figures.group
                } else {
                    group.to_string()
                },
                figures.obligated_cents,
                figures.obligated_thousands,
                figures.grants_active,
            )
        };
        match message.expect("the report streams").part.expect("a part") {
            Part::Header(found) => header = Some(found),
            Part::Row(row) => {
                names.push(row.group_display_name.clone());
                lines.push(line(row, ""));
            }
            Part::Subtotal(mut subtotal) => {
                funds.push(subtotal.emergency_fund.take());
                lines.push(line(subtotal, "SUBTOTAL"));
            }
            Part::GrandTotal(mut total) => {
                funds.push(total.emergency_fund.take());
                lines.push(line(total, "TOTAL"));
            }
        }
    }
    Read {
        header: header.expect("a header first"),
        lines,
        names,
        funds,
    }
}

fn by(group_by: pb::ReportGrouping, from: i32, to: i32) -> pb::StreamFiscalYearReportRequest {
    pb::StreamFiscalYearReportRequest {
        from_fiscal_year: from,
        to_fiscal_year: to,
        group_by: group_by as i32,
        ..Default::default()
    }
}

fn line(
    year: i32,
    group: &str,
    cents: i64,
    thousands: i64,
    grants: i64,
) -> (i32, String, i64, i64, i64) {
    (year, group.to_string(), cents, thousands, grants)
}

/// Two grantees, each with a grant (FY 2014-2016) and a project (HT, AL):
/// Alpha: ESF FY2014 $350,000.50; INCLE FY2014 $75,500.00 obligated on 1 October 2014
/// (an FY 2015 date: the funds' year counts); INCLE FY2015 $100,000.00.
/// Beta: ESF FY2014 $100,000.00 on 30 September 2014; ESF FY2015 $33,333.33.
async fn small_portfolio(app: &TestApp) -> (pb::Organization, pb::Organization) {
    app.funding_account("ESF").await;
    app.funding_account("INCLE").await;
    let alpha = app.organization("Alpha", "HT").await;
    let beta = app.organization("Beta", "AL").await;
    let alpha_grant = app.grant("A-1", &alpha.name).await;
    let beta_grant = app.grant("B-1", &beta.name).await;
    app.project(&alpha_grant.name, new_project("Haiti", &["HT"]))
        .await;
    app.project(&beta_grant.name, new_project("Albania", &["AL"]))
        .await;
    for (grant, obligation) in [
        (
            &alpha_grant,
            new_obligation(InitialAward, "ESF", 2014, 35_000_050, "2014-01-15"),
        ),
        (
            &alpha_grant,
            new_obligation(Increment, "INCLE", 2014, 7_550_000, "2014-10-01"),
        ),
        (
            &alpha_grant,
            new_obligation(Increment, "INCLE", 2015, 10_000_000, "2014-10-01"),
        ),
        (
            &beta_grant,
            new_obligation(InitialAward, "ESF", 2014, 10_000_000, "2014-09-30"),
        ),
        (
            &beta_grant,
            new_obligation(Increment, "ESF", 2015, 3_333_333, "2015-03-01"),
        ),
    ] {
        app.obligate(&grant.name, obligation)
            .await
            .expect("the admin obligates");
    }
    (alpha, beta)
}

#[tokio::test]
async fn grouping_by_account_gives_each_fiscal_year_its_rows_and_subtotal_then_a_grand_total_that_adds_up()
 {
    let app = spawn_app().await;
    small_portfolio(&app).await;

    let report = read_report(
        &app,
        app.admin(),
        by(pb::ReportGrouping::Account, 2014, 2015),
    )
    .await;

    // FY2014: ESF 450.0005 and INCLE 75.5 thousand; subtotal 525.5005, apportioned 526 of the 659
    // of the grand total ($658,833.83), so INCLE (the larger remainder) gets the thousand left.
    assert_eq!(
        report.lines,
        vec![
            line(2014, "ESF", 45_000_050, 450, 2),
            line(2014, "INCLE", 7_550_000, 76, 1),
            line(2014, "SUBTOTAL", 52_550_050, 526, 2),
            line(2015, "ESF", 3_333_333, 33, 2),
            line(2015, "INCLE", 10_000_000, 100, 1),
            line(2015, "SUBTOTAL", 13_333_333, 133, 2),
            line(0, "TOTAL", 65_883_383, 659, 2),
        ]
    );
    let header = report.header;
    assert_eq!(
        report.names,
        vec![
            "ESF account",
            "INCLE account",
            "ESF account",
            "INCLE account"
        ]
    );
    assert_eq!(header.fiscal_year_first_month, 10);
    assert!(!header.own_grants_only);
    assert!(header.as_of_time.is_some());
    assert_eq!(
        header.request.map(|request| request.group_by),
        Some(pb::ReportGrouping::Account as i32)
    );
}

#[tokio::test]
async fn money_counts_in_the_fiscal_year_of_its_funds_not_of_its_obligation_date() {
    let app = spawn_app().await;
    small_portfolio(&app).await;

    let fy2014 = read_report(&app, app.admin(), by(pb::ReportGrouping::None, 2014, 2014)).await;
    let fy2015 = read_report(&app, app.admin(), by(pb::ReportGrouping::None, 2015, 2015)).await;

    // The INCLE FY2014 funds obligated on 1 October 2014 stay in FY2014; Beta's 30 September too.
    assert_eq!(
        fy2014.lines,
        vec![
            line(2014, "SUBTOTAL", 52_550_050, 526, 2),
            line(0, "TOTAL", 52_550_050, 526, 2)
        ]
    );
    assert_eq!(
        fy2015.lines,
        vec![
            line(2015, "SUBTOTAL", 13_333_333, 133, 2),
            line(0, "TOTAL", 13_333_333, 133, 2)
        ]
    );
}

#[tokio::test]
async fn a_deobligation_takes_its_amount_off_the_money_obligated_in_its_fiscal_year() {
    let app = spawn_app().await;
    app.funding_account("ESF").await;
    let grantee = app.organization("Returned", "HT").await;
    let grant = app.grant("Returned", &grantee.name).await;
    for (kind, cents, day) in [
        (InitialAward, 10_000_000, "2014-01-15"),
        (pb::ObligationKind::Deobligation, 2_500_000, "2014-06-30"),
    ] {
        app.obligate(&grant.name, new_obligation(kind, "ESF", 2014, cents, day))
            .await
            .expect("the admin records it");
    }

    let report = read_report(
        &app,
        app.admin(),
        by(pb::ReportGrouping::Account, 2014, 2014),
    )
    .await;

    let cents: Vec<(String, i64, i64)> = report
        .lines
        .iter()
        .map(|line| (line.1.clone(), line.2, line.3))
        .collect();
    assert_eq!(
        cents,
        vec![
            ("ESF".to_string(), 7_500_000, 75),
            ("SUBTOTAL".to_string(), 7_500_000, 75),
            ("TOTAL".to_string(), 7_500_000, 75),
        ]
    );
}

#[tokio::test]
async fn thousands_of_three_thirds_add_up_to_the_printed_total() {
    let app = spawn_app().await;
    app.funding_account("ESF").await;
    // $333.34 + $333.33 + $333.33: each alone rounds to 0 thousands, together they are 1.
    for (name, cents) in [("One", 33_334), ("Two", 33_333), ("Three", 33_333)] {
        let grantee = app.organization(name, "HT").await;
        let grant = app.grant(name, &grantee.name).await;
        app.obligate(
            &grant.name,
            new_obligation(InitialAward, "ESF", 2014, cents, "2014-01-15"),
        )
        .await
        .expect("the admin obligates");
    }

    let report = read_report(
        &app,
        app.admin(),
        by(pb::ReportGrouping::Grantee, 2014, 2014),
    )
    .await;

    let thousands: Vec<i64> = report.lines.iter().map(|line| line.3).collect();
    let cents: Vec<i64> = report.lines.iter().map(|line| line.2).collect();
    assert_eq!(cents, vec![33_334, 33_333, 33_333, 100_000, 100_000]);
    // Rows are in organisation-id order; the one with $333.34 has the largest remainder.
    let one = report
        .lines
        .iter()
        .find(|line| line.2 == 33_334)
        .map(|line| line.3);
    assert_eq!(one, Some(1));
    assert_eq!(thousands.iter().take(3).sum::<i64>(), 1);
    assert_eq!(&thousands[3..], &[1, 1]);
}

#[tokio::test]
async fn a_grantee_gets_a_report_of_its_own_grants_only() {
    let app = spawn_app().await;
    let (alpha, beta) = small_portfolio(&app).await;
    let alpha_token = app.token(pb::Role::Grantee, &alpha.name).await;

    let own = read_report(
        &app,
        Some(&alpha_token),
        by(pb::ReportGrouping::Grantee, 2014, 2015),
    )
    .await;
    let asking_for_beta = read_report(
        &app,
        Some(&alpha_token),
        pb::StreamFiscalYearReportRequest {
            grantee: beta.name.clone(),
            ..by(pb::ReportGrouping::Grantee, 2014, 2015)
        },
    )
    .await;
    let summary = app
        .reports(Some(&alpha_token))
        .get_portfolio_summary(pb::GetPortfolioSummaryRequest {
            from_fiscal_year: 2014,
            to_fiscal_year: 2015,
        })
        .await
        .expect("a grantee reads its summary")
        .into_inner();

    assert!(own.header.own_grants_only);
    assert_eq!(own.names, vec!["Alpha", "Alpha"]);
    assert_eq!(
        own.lines,
        vec![
            line(2014, &alpha.name, 42_550_050, 426, 1),
            line(2014, "SUBTOTAL", 42_550_050, 426, 1),
            line(2015, &alpha.name, 10_000_000, 100, 1),
            line(2015, "SUBTOTAL", 10_000_000, 100, 1),
            line(0, "TOTAL", 52_550_050, 526, 1),
        ]
    );
    assert_eq!(
        asking_for_beta.lines,
        vec![
            line(2014, "SUBTOTAL", 0, 0, 0),
            line(2015, "SUBTOTAL", 0, 0, 0),
            line(0, "TOTAL", 0, 0, 0),
        ]
    );
    assert_eq!(summary.obligated_cents, 52_550_050);
    assert_eq!(summary.grants_active, 1);
    assert_eq!(summary.projects_active, 1);
}

#[tokio::test]
async fn a_report_over_a_reversed_range_without_a_grouping_names_every_bad_field() {
    let app = spawn_app().await;

    let refused = app
        .reports(app.admin())
        .stream_fiscal_year_report(pb::StreamFiscalYearReportRequest {
            from_fiscal_year: 2015,
            to_fiscal_year: 2014,
            ..Default::default()
        })
        .await;

    let status = refused.expect_err("a bad request is refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), vec!["to_fiscal_year", "group_by"]);
}

#[tokio::test]
async fn code_filters_out_of_shape_are_named_before_any_query() {
    let app = spawn_app().await;

    let report = app
        .reports(app.admin())
        .stream_fiscal_year_report(pb::StreamFiscalYearReportRequest {
            from_fiscal_year: 2014,
            to_fiscal_year: 2014,
            group_by: pb::ReportGrouping::Country as i32,
            account_code: "E\u{0}SF".into(),
            country_code: "\u{0}\\".into(),
            region_code: "grants/x/projects/y".into(),
            ..Default::default()
        })
        .await;
    // A NUL byte once reached PostgreSQL, which refuses it: INTERNAL, found by the bad-input test.
    let export = app
        .reports(app.admin())
        .export_outcomes(pb::ExportOutcomesRequest {
            country_code: "\u{0}\\".into(),
            region_code: "W H A".into(),
            ..Default::default()
        })
        .await;

    let status = report.expect_err("bad codes are refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        vec!["account_code", "country_code", "region_code"]
    );
    let status = export.expect_err("bad codes are refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        vec!["country_code", "region_code"]
    );
}

/// A grantee "Wide" with a large portfolio (see [`a_large_portfolio_of`]).
async fn a_large_portfolio(app: &TestApp) {
    let grantee = app.organization("Wide", "HT").await;
    a_large_portfolio_of(app, &grantee.name).await;
}

/// A grant to `grantee` over FY 2000-2019 with four projects of 60 countries each: a report
/// by country over those years has 4,800 rows, more than a client that reads nothing lets
/// through, so its producer waits and its stream stays open.
pub(crate) async fn a_large_portfolio_of(app: &TestApp, grantee: &str) {
    let grant = app
        .grants(app.admin())
        .create_grant(pb::CreateGrantRequest {
            grant: Some(pb::Grant {
                start_date: "1999-10-01".into(),
                end_date: "2019-09-30".into(),
                ..new_grant("W-1", grantee)
            }),
            request_id: String::new(),
        })
        .await
        .expect("the admin creates a long grant")
        .into_inner();
    let mut countries = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = app
            .reference_data(app.admin())
            .list_countries(pb::ListCountriesRequest {
                page_size: 100,
                page_token,
                filter: String::new(),
            })
            .await
            .expect("the admin lists countries")
            .into_inner();
        countries.extend(
            page.countries
                .into_iter()
                .map(|country| country.alpha2_code),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    for chunk in countries.chunks(60).take(4) {
        let codes: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let project = pb::Project {
            start_date: "1999-10-01".into(),
            end_date: "2019-09-30".into(),
            ..new_project("Everywhere", &codes)
        };
        app.project(&grant.name, project).await;
    }
}

#[tokio::test]
async fn a_report_beyond_the_stream_limit_is_refused_at_once_and_a_cancelled_one_frees_its_slot() {
    let app = spawn_app_with(|settings| settings.reports.max_concurrent_streams = 1).await;
    a_large_portfolio(&app).await;
    // A client that reads slowly: it reads only the header.
    let mut slow = app.slow_reports(app.admin());
    let mut first = slow
        .stream_fiscal_year_report(by(pb::ReportGrouping::Country, 2000, 2019))
        .await
        .expect("the first report starts")
        .into_inner();
    let header = first.next().await;
    assert!(matches!(
        header,
        Some(Ok(pb::StreamFiscalYearReportResponse {
            part: Some(Part::Header(_))
        }))
    ));

    let refused = app
        .reports(app.admin())
        .stream_fiscal_year_report(by(pb::ReportGrouping::None, 2014, 2014))
        .await
        .expect_err("a second report is refused while the first runs");
    drop(first);
    let admitted = eventually("the cancelled report gives its slot back", || async {
        app.reports(app.admin())
            .stream_fiscal_year_report(by(pb::ReportGrouping::None, 2014, 2014))
            .await
            .ok()
    })
    .await;

    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert_eq!(reason(&refused), "TOO_MANY_REPORT_STREAMS");
    assert_eq!(
        refused
            .get_details_retry_info()
            .and_then(|retry| retry.retry_delay),
        Some(Duration::from_secs(5))
    );
    let messages: Vec<_> = admitted.into_inner().collect::<Vec<_>>().await;
    assert_eq!(messages.len(), 3, "header, subtotal, grand total");
}

/// Inserts `count` paid cases of fiscal year `year` referred by `organization` (an id), in Haiti.
async fn paid_cases(app: &TestApp, organization: &str, year: i32, count: usize, consent: bool) {
    app.execute_sql(&format!(
        "INSERT INTO fund_years (fiscal_year, allocated, committed, paid, case_sequence, update_time) \
         VALUES ({year}, 10000000, 0, 0, 0, '2014-01-01T00:00:00Z') ON CONFLICT DO NOTHING"
    ))
    .await;
    for index in 0..count {
        app.execute_sql(&format!(
            "INSERT INTO assistance_cases (id, case_number, fiscal_year, referring_organization_id, \
             country_code, victim_sex, victim_age_group, victim_nationality, trafficking_form, urgency, \
             consent_to_services, consent_to_statistics, needs, state, referral_time, state_reason, \
             outcome, referrer, reviewer, decider, requested_amount, approved_amount, paid_amount, \
             create_time, update_time, revision) VALUES ('c-{year}-{index}-{consent}', \
             'EA-{year}-{index}-{consent}', {year}, '{organization}', 'HT', 'FEMALE', 'ADULT', 'HT', \
             'LABOR', 'HIGH', TRUE, {consent}, '[]', 'APPROVED', '2014-01-01T00:00:00Z', '', '', \
             'r', 'r', 'd', 50000, 50000, 40000, '2014-01-01T00:00:00Z', '2014-01-01T00:00:00Z', 1)"
        ))
        .await;
    }
}

fn fund(report: &Read) -> Vec<Option<pb::EmergencyFundFigures>> {
    report.funds.clone()
}

#[tokio::test]
async fn the_emergency_fund_counts_consenting_victims_only_and_withholds_a_small_year_and_every_total_holding_it()
 {
    let app = spawn_app().await;
    let (alpha, beta) = small_portfolio(&app).await;
    let alpha_id = alpha.name.trim_start_matches("organizations/").to_string();
    paid_cases(&app, &alpha_id, 2014, 12, true).await;
    paid_cases(&app, &alpha_id, 2014, 2, false).await;
    paid_cases(&app, &alpha_id, 2015, 3, true).await;
    let beta_token = app.token(pb::Role::Grantee, &beta.name).await;

    let staff = read_report(&app, app.admin(), by(pb::ReportGrouping::None, 2014, 2015)).await;
    let beta_view = read_report(
        &app,
        Some(&beta_token),
        by(pb::ReportGrouping::None, 2014, 2014),
    )
    .await;

    let figures = |cases,
                   cases_suppressed,
                   approved_cents,
                   paid_cents,
                   victims_helped,
                   victims_helped_suppressed| {
        Some(pb::EmergencyFundFigures {
            cases,
            cases_suppressed,
            approved_cents,
            paid_cents,
            victims_helped,
            victims_helped_suppressed,
        })
    };
    // The 2 who declined to be counted are in no figure, amounts included. FY2015's 3 is below
    // k = 11: withheld with its amounts, and so is the total it is part of (a report of FY 2014
    // alone shows FY2014's figures, so a total beside them would give the 3 back).
    assert_eq!(
        fund(&staff),
        vec![
            figures(12, false, 600_000, 480_000, 12, false),
            figures(0, true, 0, 0, 0, true),
            figures(0, true, 0, 0, 0, true),
        ]
    );
    assert_eq!(staff.header.suppression_threshold, 11);
    assert_eq!(
        fund(&beta_view),
        vec![
            figures(0, false, 0, 0, 0, false),
            figures(0, false, 0, 0, 0, false)
        ]
    );
}
