//! Statistics about victims, attacked from the side: a program officer (who
//! cannot list cases) reads the year's summary beside the fiscal-year
//! reports of other years, filters and groupings, and tries to get back what
//! the k = 11 rule withholds: small counts, the victim who declined to be
//! counted, a difference of two figures of one cell, the amounts beside a
//! withheld count, and a count of outcomes beside their withheld victims.
//! Cases and outcomes are written with SQL, so each test states exactly the
//! cells it attacks.

use tokio_stream::StreamExt;

use crate::helpers::*;
use tipgrants::pb::v1 as pb;
use tipgrants::pb::v1::stream_fiscal_year_report_response::Part;

/// One case as the tests write it: paid `paid` of `approved` (both 0: not approved yet).
#[derive(Clone, Copy)]
pub(crate) struct Case<'a> {
    pub(crate) year: i32,
    pub(crate) organization: &'a str,
    pub(crate) country: &'a str,
    pub(crate) consent: bool,
    pub(crate) sex: &'a str,
    pub(crate) approved: i64,
    pub(crate) paid: i64,
}

impl<'a> Case<'a> {
    /// A consenting woman in Haiti, approved $500.00 and paid $400.00.
    pub(crate) fn paid(year: i32, organization: &'a str) -> Case<'a> {
        Case {
            year,
            organization,
            country: "HT",
            consent: true,
            sex: "FEMALE",
            approved: 50_000,
            paid: 40_000,
        }
    }
}

/// Writes `count` cases like `case`, with their fund year; ids carry `label`.
pub(crate) async fn insert_cases(app: &TestApp, label: &str, count: usize, case: Case<'_>) {
    let Case {
        year,
        organization,
        country,
        consent,
        sex,
        approved,
        paid,
    } = case;
    app.execute_sql(&format!(
        "INSERT INTO fund_years (fiscal_year, allocated, committed, paid, case_sequence, update_time) \
         VALUES ({year}, 100000000, 0, 0, 0, '2014-01-01T00:00:00Z') ON CONFLICT DO NOTHING"
    ))
    .await;
    let state = match (approved, paid) {
        (0, _) => "UNDER_REVIEW",
        _ => "APPROVED",
    };
    let at = |month_day: &str| format!("'{}-{month_day}T08:00:00Z'", year - 1);
    let (decision, payment) = match (approved, paid) {
        (0, _) => ("NULL".to_string(), "NULL".to_string()),
        (_, 0) => (at("11-02"), "NULL".to_string()),
        _ => (at("11-02"), at("11-04")),
    };
    let needs = format!(
        r#"[{{"number":1,"kind":"MEDICAL","description":"care","requested":60000,"approved":{approved},"paid":{paid}}}]"#
    );
    for index in 0..count {
        let id = format!("{label}-{year}-{index}");
        app.execute_sql(&format!(
            "INSERT INTO assistance_cases (id, case_number, fiscal_year, referring_organization_id, \
             country_code, victim_sex, victim_age_group, victim_nationality, trafficking_form, urgency, \
             consent_to_services, consent_to_statistics, needs, state, referral_time, decision_time, \
             first_payment_time, state_reason, outcome, referrer, reviewer, decider, requested_amount, \
             approved_amount, paid_amount, create_time, update_time, revision) VALUES ('{id}', \
             'T-{id}', {year}, '{organization}', '{country}', '{sex}', 'ADULT', '{country}', \
             'LABOUR', 'HIGH', TRUE, {consent}, '{needs}', '{state}', {referral}, {decision}, \
             {payment}, '', '', 'r', 'r', 'd', 60000, {approved}, {paid}, \
             '2014-01-01T00:00:00Z', '2014-01-01T00:00:00Z', 1)",
            referral = at("11-01"),
        ))
        .await;
    }
}

/// The emergency fund's figures of each subtotal, then of the grand total.
async fn fund_figures(
    app: &TestApp,
    token: &str,
    request: pb::StreamFiscalYearReportRequest,
) -> Vec<pb::EmergencyFundFigures> {
    report_totals(app, token, request)
        .await
        .into_iter()
        .map(|figures| figures.emergency_fund.expect("the fund's figures"))
        .collect()
}

/// The subtotals, then the grand total, of a report.
async fn report_totals(
    app: &TestApp,
    token: &str,
    request: pb::StreamFiscalYearReportRequest,
) -> Vec<pb::ReportFigures> {
    let mut stream = app
        .reports(Some(token))
        .stream_fiscal_year_report(request)
        .await
        .expect("the report starts")
        .into_inner();
    let mut totals = Vec::new();
    while let Some(message) = stream.next().await {
        match message.expect("the report streams").part.expect("a part") {
            Part::Subtotal(figures) | Part::GrandTotal(figures) => totals.push(figures),
            Part::Header(_) | Part::Row(_) => {}
        }
    }
    totals
}

fn years(from: i32, to: i32) -> pb::StreamFiscalYearReportRequest {
    pb::StreamFiscalYearReportRequest {
        from_fiscal_year: from,
        to_fiscal_year: to,
        group_by: pb::ReportGrouping::None as i32,
        ..Default::default()
    }
}

fn in_country(year: i32, country: &str) -> pb::StreamFiscalYearReportRequest {
    pb::StreamFiscalYearReportRequest {
        country_code: country.into(),
        ..years(year, year)
    }
}

async fn summary(app: &TestApp, token: &str, year: i32) -> pb::AssistanceSummary {
    app.assistance(Some(token))
        .summarize_assistance_cases(pb::SummarizeAssistanceCasesRequest { fiscal_year: year })
        .await
        .expect("the summary")
        .into_inner()
}

fn shown(
    cases: i64,
    approved_cents: i64,
    paid_cents: i64,
    victims_helped: i64,
) -> pb::EmergencyFundFigures {
    pb::EmergencyFundFigures {
        cases,
        cases_suppressed: false,
        approved_cents,
        paid_cents,
        victims_helped,
        victims_helped_suppressed: false,
    }
}

fn withheld() -> pb::EmergencyFundFigures {
    pb::EmergencyFundFigures {
        cases_suppressed: true,
        victims_helped_suppressed: true,
        ..Default::default()
    }
}

/// Every count of people a summary shows, with where it is.
fn counts_of_people(summary: &pb::AssistanceSummary) -> Vec<(String, i64)> {
    let mut counts = vec![
        ("cases".to_string(), summary.cases),
        ("victims_counted".to_string(), summary.victims_counted),
        (
            "victims_not_counted".to_string(),
            summary.victims_not_counted,
        ),
        ("decided_cases".to_string(), summary.decided_cases),
        ("paid_cases".to_string(), summary.paid_cases),
    ];
    for (what, groups) in [
        ("by_state", &summary.by_state),
        ("by_urgency", &summary.by_urgency),
        ("by_country", &summary.by_country),
    ] {
        counts.extend(
            groups
                .iter()
                .map(|group| (format!("{what} {}", group.key), group.cases)),
        );
    }
    counts.extend(
        summary
            .by_need
            .iter()
            .map(|need| (format!("by_need {}", need.kind), need.needs)),
    );
    for (what, groups) in [
        ("victims_by_sex", &summary.victims_by_sex),
        ("victims_by_age_group", &summary.victims_by_age_group),
        (
            "victims_by_trafficking_form",
            &summary.victims_by_trafficking_form,
        ),
    ] {
        counts.extend(
            groups
                .iter()
                .map(|group| (format!("{what} {}", group.key), group.victims)),
        );
    }
    counts
}

/// The counts of a summary from 1 to 10 people: what k = 11 never shows.
fn small_counts(summary: &pb::AssistanceSummary) -> Vec<(String, i64)> {
    counts_of_people(summary)
        .into_iter()
        .filter(|(_, count)| (1..11).contains(count))
        .collect()
}

/// An organisation's id.
pub(crate) fn id_of(organization: &pb::Organization) -> String {
    organization
        .name
        .trim_start_matches("organizations/")
        .to_string()
}

#[tokio::test]
async fn a_program_officer_summary_withholds_the_small_counts_the_report_withholds() {
    let app = spawn_app().await;
    let shelter = id_of(&app.organization("Shelter", "HT").await);
    let officer = app.token(pb::Role::ProgramOfficer, "").await;
    let auditor = app.token(pb::Role::Auditor, "").await;
    // FY 2014: 12 victims helped in Haiti (one a man), and 3 in the Dominican Republic.
    insert_cases(&app, "ht", 11, Case::paid(2014, &shelter)).await;
    let man = Case {
        sex: "MALE",
        ..Case::paid(2014, &shelter)
    };
    insert_cases(&app, "man", 1, man).await;
    let dominican = Case {
        country: "DO",
        ..Case::paid(2014, &shelter)
    };
    insert_cases(&app, "do", 3, dominican).await;

    let officers_summary = summary(&app, &officer, 2014).await;
    let auditors_summary = summary(&app, &auditor, 2014).await;
    let report = fund_figures(&app, &officer, years(2014, 2014)).await;
    let haiti = fund_figures(&app, &officer, in_country(2014, "HT")).await;

    // The report withholds the year (it holds the 3); the officer's summary gives none of it back.
    assert_eq!(
        small_counts(&officers_summary),
        vec![],
        "{officers_summary:?}"
    );
    assert_eq!(report, vec![withheld(), withheld()]);
    assert_eq!(officers_summary.cases, 0);
    assert!(officers_summary.by_country.is_empty());
    assert_eq!(
        (
            officers_summary.approved_amount,
            officers_summary.paid_amount
        ),
        (0, 0)
    );
    assert_eq!(officers_summary.median_hours_to_first_payment, 0.0);
    let withheld_parts = [
        officers_summary.cases_suppressed,
        officers_summary.by_state_suppressed,
        officers_summary.by_urgency_suppressed,
        officers_summary.by_country_suppressed,
        officers_summary.by_need_suppressed,
        officers_summary.victims_by_sex_suppressed,
        officers_summary.victims_by_age_group_suppressed,
        officers_summary.victims_by_trafficking_form_suppressed,
        officers_summary.victims_not_counted_suppressed,
        officers_summary.decided_cases_suppressed,
    ];
    assert_eq!(withheld_parts, [true; 10]);
    assert_eq!(officers_summary.suppression_threshold, 11);
    // Haiti alone has no small part: the same figures in the report and nothing more.
    assert_eq!(haiti[0], shown(12, 600_000, 480_000, 12));
    // An auditor lists every case anyway: the summary is exact for it.
    assert_eq!(auditors_summary.suppression_threshold, 0);
    assert!(!auditors_summary.cases_suppressed && !auditors_summary.by_country_suppressed);
    assert_eq!(auditors_summary.cases, 15);
    assert_eq!(
        auditors_summary
            .by_country
            .iter()
            .map(|country| (country.key.as_str(), country.cases))
            .collect::<Vec<_>>(),
        vec![("DO", 3), ("HT", 12)]
    );
}

#[tokio::test]
async fn a_program_officer_summary_of_a_year_without_small_parts_shows_what_the_report_shows() {
    let app = spawn_app().await;
    let shelter = id_of(&app.organization("Shelter", "HT").await);
    let officer = app.token(pb::Role::ProgramOfficer, "").await;
    insert_cases(&app, "ht", 12, Case::paid(2015, &shelter)).await;

    let summary = summary(&app, &officer, 2015).await;
    let report = fund_figures(&app, &officer, years(2015, 2015)).await;

    assert_eq!(report[0], shown(12, 600_000, 480_000, 12));
    assert_eq!(
        (
            summary.cases,
            summary.victims_counted,
            summary.approved_amount,
            summary.paid_amount,
            summary.paid_cases
        ),
        (12, 12, 600_000, 480_000, 12)
    );
    assert_eq!(
        summary
            .victims_by_sex
            .iter()
            .map(|sex| (sex.key.as_str(), sex.victims))
            .collect::<Vec<_>>(),
        vec![("FEMALE", 12), ("MALE", 0), ("OTHER", 0)]
    );
    assert_eq!(small_counts(&summary), vec![]);
    assert!(!summary.cases_suppressed && !summary.victims_by_sex_suppressed);
    assert_eq!(
        summary
            .by_country
            .iter()
            .map(|country| (country.key.as_str(), country.cases))
            .collect::<Vec<_>>(),
        vec![("HT", 12)]
    );
}

#[tokio::test]
async fn the_victim_who_declined_to_be_counted_is_in_no_count_and_no_amount() {
    let app = spawn_app().await;
    let shelter = id_of(&app.organization("Shelter", "HT").await);
    let officer = app.token(pb::Role::ProgramOfficer, "").await;
    let auditor = app.token(pb::Role::Auditor, "").await;
    // One cell: 12 victims helped who consented, and one who declined to be counted.
    insert_cases(&app, "yes", 12, Case::paid(2014, &shelter)).await;
    let declined = Case {
        consent: false,
        approved: 70_000,
        paid: 70_000,
        ..Case::paid(2014, &shelter)
    };
    insert_cases(&app, "no", 1, declined).await;

    let report = fund_figures(&app, &officer, years(2014, 2014)).await;
    let officers_summary = summary(&app, &officer, 2014).await;
    let auditors_summary = summary(&app, &auditor, 2014).await;

    // Before: 13 cases beside 12 victims helped singled the 13th out.
    assert_eq!(report[0], shown(12, 600_000, 480_000, 12));
    assert_eq!(
        (
            officers_summary.cases,
            officers_summary.approved_amount,
            officers_summary.paid_amount,
            officers_summary.victims_not_counted
        ),
        (12, 600_000, 480_000, 0)
    );
    assert!(officers_summary.victims_not_counted_suppressed);
    assert!(!officers_summary.cases_suppressed);
    assert_eq!(
        officers_summary
            .by_state
            .iter()
            .map(|state| state.cases)
            .sum::<i64>(),
        12
    );
    // Those who list every case learn how many were left out, and nothing else changes.
    assert_eq!(
        (auditors_summary.cases, auditors_summary.victims_not_counted),
        (12, 1)
    );
}

#[tokio::test]
async fn figures_of_one_cell_are_withheld_together_with_the_amounts_that_would_give_them_back() {
    let app = spawn_app().await;
    let shelter = id_of(&app.organization("Shelter", "HT").await);
    let officer = app.token(pb::Role::ProgramOfficer, "").await;
    // FY 2014, one cell: 12 paid, and 2 approved and not paid yet.
    insert_cases(&app, "paid", 12, Case::paid(2014, &shelter)).await;
    let waiting = Case {
        paid: 0,
        ..Case::paid(2014, &shelter)
    };
    insert_cases(&app, "waiting", 2, waiting).await;
    // FY 2015: 3 paid, in a cell of their own.
    insert_cases(&app, "few", 3, Case::paid(2015, &shelter)).await;
    // FY 2016: 12 paid and 12 not approved yet: every part is large, so everything shows.
    insert_cases(&app, "big", 12, Case::paid(2016, &shelter)).await;
    let referred = Case {
        approved: 0,
        paid: 0,
        ..Case::paid(2016, &shelter)
    };
    insert_cases(&app, "referred", 12, referred).await;

    let report = fund_figures(&app, &officer, years(2014, 2016)).await;
    let one_year = fund_figures(&app, &officer, years(2015, 2015)).await;
    let officers_summary = summary(&app, &officer, 2014).await;

    // 14 cases beside 12 helped gave back the 2 waiting; $500.00 approved each beside $400.00
    // paid gave back what they were approved; FY 2015's amounts gave back its 3 victims.
    assert_eq!(
        report,
        vec![
            withheld(),
            withheld(),
            shown(24, 600_000, 480_000, 12),
            withheld()
        ]
    );
    assert_eq!(one_year, vec![withheld(), withheld()]);
    assert_eq!(small_counts(&officers_summary), vec![]);
    assert_eq!(
        (
            officers_summary.cases,
            officers_summary.approved_amount,
            officers_summary.paid_amount,
            officers_summary.requested_amount
        ),
        (0, 0, 0, 0)
    );
}

/// Writes an accepted outcome report of `project` (`grants/{g}/projects/{p}`) for FY 2014 with
/// `count` outcomes of victims identified in Haiti, `quantity` each.
async fn accepted_outcomes(app: &TestApp, project: &str, count: usize, quantity: i64) {
    let mut parts = project.split('/');
    let (grant, project) = (
        parts.nth(1).expect("a grant"),
        parts.nth(1).expect("a project"),
    );
    app.execute_sql(&format!(
        "INSERT INTO outcome_reports (id, grant_id, project_id, period, period_start_date, \
         period_end_date, due_date, state, narrative, reviewer_comments, submitter, submit_time, \
         reviewer, review_time, create_time, update_time, revision) VALUES ('r-{project}', \
         '{grant}', '{project}', '2014', '2013-10-01', '2014-09-30', NULL, 'ACCEPTED', '', '', \
         's', '2014-10-01T00:00:00Z', 'v', '2014-10-02T00:00:00Z', '2014-10-01T00:00:00Z', \
         '2014-10-01T00:00:00Z', 1)"
    ))
    .await;
    for index in 0..count {
        app.execute_sql(&format!(
            "INSERT INTO outcomes (id, report_id, kind, country_code, outcome_date, fiscal_year, \
             quantity, breakdown, first_for_country, description, evidence_uri, indicator_id, \
             milestone_id, create_time, update_time, delete_time, revision) VALUES \
             ('o-{project}-{index}', 'r-{project}', 'VICTIMS_IDENTIFIED', 'HT', '2014-03-01', \
             2014, {quantity}, '{{}}', FALSE, 'identified', '', '', NULL, '2014-10-01T00:00:00Z', \
             '2014-10-01T00:00:00Z', NULL, 1)"
        ))
        .await;
    }
}

#[tokio::test]
async fn a_count_of_outcomes_is_withheld_beside_the_victims_it_would_bound() {
    let app = spawn_app().await;
    let grantee = app.organization("Shelter", "HT").await;
    let officer = app.token(pb::Role::ProgramOfficer, "").await;
    let grant = app.grant("S-1", &grantee.name).await;
    let project = app
        .project(&grant.name, new_project("Haiti", &["HT"]))
        .await;
    // 6 outcomes of one victim each: 6 victims, below k; the 6 outcomes said "at least 6".
    accepted_outcomes(&app, &project.name, 6, 1).await;

    let totals = report_totals(
        &app,
        &officer,
        pb::StreamFiscalYearReportRequest {
            group_by: pb::ReportGrouping::Grantee as i32,
            ..years(2014, 2014)
        },
    )
    .await;

    let identified = |figures: &pb::ReportFigures| {
        figures
            .outcomes
            .iter()
            .find(|tally| tally.kind == pb::OutcomeKind::VictimsIdentified as i32)
            .copied()
            .expect("a tally of victims identified")
    };
    for figures in &totals {
        assert_eq!(
            identified(figures),
            pb::OutcomeTally {
                kind: pb::OutcomeKind::VictimsIdentified as i32,
                count: 0,
                quantity: 0,
                quantity_suppressed: true,
            }
        );
    }
}

/// Writes a report of `project` (`grants/{g}/projects/{p}`) in `state` for `period`, id `report`.
async fn outcome_report(app: &TestApp, project: &str, report: &str, period: &str, state: &str) {
    let mut parts = project.split('/');
    let (grant, project) = (
        parts.nth(1).expect("a grant"),
        parts.nth(1).expect("a project"),
    );
    app.execute_sql(&format!(
        "INSERT INTO outcome_reports (id, grant_id, project_id, period, period_start_date, \
         period_end_date, due_date, state, narrative, reviewer_comments, submitter, submit_time, \
         reviewer, review_time, create_time, update_time, revision) VALUES ('{report}', \
         '{grant}', '{project}', '{period}', '2013-10-01', '2014-09-30', NULL, '{state}', '', '', \
         's', '2014-10-01T00:00:00Z', 'v', '2014-10-02T00:00:00Z', '2014-10-01T00:00:00Z', \
         '2014-10-01T00:00:00Z', 1)"
    ))
    .await;
}

/// Writes one outcome of victims identified in FY 2014 per quantity in `quantities`, in
/// `country`, to `report`; deleted when `deleted`.
async fn victims_identified(
    app: &TestApp,
    report: &str,
    country: &str,
    quantities: &[i64],
    deleted: bool,
) {
    let delete_time = if deleted {
        "'2014-10-03T00:00:00Z'"
    } else {
        "NULL"
    };
    for (index, quantity) in quantities.iter().enumerate() {
        app.execute_sql(&format!(
            "INSERT INTO outcomes (id, report_id, kind, country_code, outcome_date, fiscal_year, \
             quantity, breakdown, first_for_country, description, evidence_uri, indicator_id, \
             milestone_id, create_time, update_time, delete_time, revision) VALUES \
             ('o-{report}-{country}-{deleted}-{index}', '{report}', 'VICTIMS_IDENTIFIED', \
             '{country}', '2014-03-01', 2014, {quantity}, '{{}}', FALSE, 'identified', '', '', \
             NULL, '2014-10-01T00:00:00Z', '2014-10-01T00:00:00Z', {delete_time}, 1)"
        ))
        .await;
    }
}

#[tokio::test]
async fn victims_are_counted_by_project_and_country_and_withheld_at_k_minus_one_shown_at_k() {
    let app = spawn_app().await;
    let grantee = app.organization("Shelter", "HT").await;
    let officer = app.token(pb::Role::ProgramOfficer, "").await;
    let grant = app.grant("S-1", &grantee.name).await;
    let both = app
        .project(&grant.name, new_project("Hispaniola", &["HT", "DO"]))
        .await;
    let haiti = app
        .project(&grant.name, new_project("Haiti", &["HT"]))
        .await;
    outcome_report(&app, &both.name, "r-both", "2014", "ACCEPTED").await;
    outcome_report(&app, &haiti.name, "r-haiti", "2014", "ACCEPTED").await;
    outcome_report(&app, &haiti.name, "r-haiti-draft", "2015", "DRAFT").await;
    // The project in both countries: 11 victims in Haiti (k), 10 in the Dominican Republic
    // (k - 1), each one outcome of one victim. The Haitian project: 5 + 6, two outcomes below k
    // that make a part of k. Neither a deleted outcome nor a draft's lifts the 10 to k.
    victims_identified(&app, "r-both", "HT", &[1; 11], false).await;
    victims_identified(&app, "r-both", "DO", &[1; 10], false).await;
    victims_identified(&app, "r-both", "DO", &[1], true).await;
    victims_identified(&app, "r-haiti", "HT", &[5, 6], false).await;
    victims_identified(&app, "r-haiti-draft", "DO", &[1], false).await;
    let by = |grouping: pb::ReportGrouping| pb::StreamFiscalYearReportRequest {
        group_by: grouping as i32,
        ..years(2014, 2014)
    };

    let mut by_country = app
        .reports(Some(&officer))
        .stream_fiscal_year_report(by(pb::ReportGrouping::Country))
        .await
        .expect("the report starts")
        .into_inner();
    let mut lines = Vec::new();
    while let Some(message) = by_country.next().await {
        match message.expect("the report streams").part.expect("a part") {
            Part::Row(figures) | Part::Subtotal(figures) | Part::GrandTotal(figures) => {
                lines.push(figures)
            }
            Part::Header(_) => {}
        }
    }
    let by_project = report_totals(&app, &officer, by(pb::ReportGrouping::None)).await;

    let identified = |figures: &pb::ReportFigures| {
        let tally = figures
            .outcomes
            .iter()
            .find(|tally| tally.kind == pb::OutcomeKind::VictimsIdentified as i32)
            .copied()
            .expect("a tally of victims identified");
        (
            figures.group.clone(),
            tally.count,
            tally.quantity,
            tally.quantity_suppressed,
        )
    };
    let lines: Vec<_> = lines.iter().map(identified).collect();
    assert_eq!(
        lines,
        vec![
            // The Dominican Republic's part of 10 is withheld, its outcomes with it.
            ("DO".to_string(), 0, 0, true),
            // Haiti: parts of 11 (one outcome each) and 11 (5 + 6), 13 outcomes.
            ("HT".to_string(), 13, 22, false),
            // The year and the total hold the part of 10.
            (String::new(), 0, 0, true),
            (String::new(), 0, 0, true),
        ]
    );
    assert!(
        by_project
            .iter()
            .map(identified)
            .all(|(_, count, quantity, suppressed)| (count, quantity, suppressed) == (0, 0, true))
    );
}
