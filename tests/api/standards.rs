//! The exports in others' standards. IATI: the demo portfolio exported by the real binary
//! (`tipgrants export iati`) validates against the IATI 2.03 schema with `xmllint` and holds an
//! activity per award, commitments and results; victims' counts in it follow the k rule. HTCDS:
//! `tipgrants export htcds` of the demo has no identifying column and every combination of
//! values at least k times; a victim who declined to be counted never appears; every export is
//! in the audit log. Both take a report slot like every report.
//!
//! Needs: `xmllint` (Debian's libxml2-utils; `scripts/install-tools.sh` installs it), found on
//! the PATH or at `TIPGRANTS_XMLLINT`; and the IATI 2.03 schema, at `TIPGRANTS_IATI_SCHEMA` or
//! in `shared/standards/iati-2.03/` beside the checkout or one of its parent folders (the
//! project's `../shared`), else in the workplace's `/work/shared`. Without either the test fails and says what is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use tipgrants::pb::v1 as pb;
use tipgrants::pb::v1::export_htcds_case_records_response::Part;
use tokio_stream::StreamExt;
use tonic::Code;

use crate::demo::{Demo, demo, text};
use crate::helpers::*;
use crate::statistics::{Case, id_of, insert_cases};

/// Where the IATI schema is: `TIPGRANTS_IATI_SCHEMA`, else the first
/// `shared/standards/iati-2.03/iati-activities-schema.xsd` beside the checkout or a parent of it.
fn iati_schema() -> PathBuf {
    if let Ok(path) = std::env::var("TIPGRANTS_IATI_SCHEMA") {
        return PathBuf::from(path);
    }
    let relative = Path::new("shared/standards/iati-2.03/iati-activities-schema.xsd");
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The workplace keeps its shared folder at /work/shared, where a clone made elsewhere
    // (a CI clone in /tmp) still finds it.
    checkout
        .ancestors()
        .chain([Path::new("/work")])
        .map(|folder| folder.join(relative))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the IATI 2.03 schema is missing: set TIPGRANTS_IATI_SCHEMA, or put the project's \
                 shared folder (with {}) beside {} or one of its parents",
                relative.display(),
                checkout.display()
            )
        })
}

/// Validates `file` against the IATI schema with xmllint; its output.
async fn xmllint(file: &Path) -> std::process::Output {
    let program = std::env::var("TIPGRANTS_XMLLINT").unwrap_or_else(|_| "xmllint".into());
    tokio::process::Command::new(&program)
        .arg("--noout")
        .arg("--schema")
        .arg(iati_schema())
        .arg(file)
        .output()
        .await
        .unwrap_or_else(|error| {
            panic!(
                "{program} does not run ({error}): install Debian's libxml2-utils \
                 (scripts/install-tools.sh does) or set TIPGRANTS_XMLLINT"
            )
        })
}

/// Every award number of the server's grants.
async fn award_numbers(app: &TestApp) -> BTreeSet<String> {
    let mut awards = BTreeSet::new();
    let mut page_token = String::new();
    loop {
        let page = app
            .grants(app.admin())
            .list_grants(pb::ListGrantsRequest {
                page_size: 100,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .expect("the admin lists grants")
            .into_inner();
        awards.extend(page.grants.into_iter().map(|grant| grant.award_number));
        if page.next_page_token.is_empty() {
            return awards;
        }
        page_token = page.next_page_token;
    }
}

impl Demo {
    /// Runs `tipgrants export WHAT --output FILE ARGS`: the file's text and standard error.
    async fn export_file(&self, what: &str, args: &[&str]) -> (String, String) {
        let file = self.app.directory().join(format!("export.{what}"));
        let path = file.to_string_lossy().to_string();
        let mut all = vec!["export", what, "--output", path.as_str()];
        all.extend_from_slice(args);
        let output = self.run(&all).await;
        assert!(output.status.success(), "export {what}: {}", text(&output));
        let written = std::fs::read_to_string(&file).expect("the export file is there");
        (
            written,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

#[tokio::test]
async fn the_iati_export_of_the_demo_validates_against_the_iati_schema_with_an_activity_per_award_commitments_and_results()
 {
    let demo = demo().await;

    let (xml, summary) = demo.export_file("iati", &[]).await;

    let file = demo.app.directory().join("export.iati");
    let validation = xmllint(&file).await;
    assert!(
        validation.status.success(),
        "xmllint refuses the IATI export: {}",
        text(&validation)
    );
    let document = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "iati-activities");
    assert_eq!(root.attribute("version"), Some("2.03"));
    let activities: Vec<_> = root
        .children()
        .filter(|node| node.has_tag_name("iati-activity"))
        .collect();
    let identifiers: BTreeSet<String> = activities
        .iter()
        .filter_map(|activity| {
            activity
                .children()
                .find(|node| node.has_tag_name("iati-identifier"))
                .and_then(|node| node.text())
                .map(String::from)
        })
        .collect();
    let expected: BTreeSet<String> = award_numbers(&demo.app)
        .await
        .into_iter()
        .map(|award| format!("XX-TIPGRANTS-{award}"))
        .collect();
    assert_eq!(
        identifiers, expected,
        "one activity per award, by award number"
    );
    assert_eq!(activities.len(), expected.len());
    assert!(summary.contains(&format!("exported {} IATI", expected.len())));
    let descendants = |name: &str| {
        document
            .descendants()
            .filter(|node| node.has_tag_name(name))
            .count()
    };
    let commitments = document
        .descendants()
        .filter(|node| node.has_tag_name("transaction-type") && node.attribute("code") == Some("2"))
        .count();
    assert!(
        commitments >= expected.len(),
        "every award has its commitments"
    );
    assert!(
        descendants("result") > 0,
        "the demo's indicators are results"
    );
    assert!(
        document
            .descendants()
            .any(|node| node.has_tag_name("actual") && node.attribute("value").is_some()),
        "accepted outcomes are actuals"
    );
    assert!(descendants("budget") > 0);
}

#[tokio::test]
async fn an_iati_export_of_a_range_of_fiscal_years_holds_only_their_money_and_still_validates() {
    let demo = demo().await;

    let (xml, _) = demo
        .export_file("iati", &["--from", "2013", "--to", "2013"])
        .await;

    let file = demo.app.directory().join("export.iati");
    let validation = xmllint(&file).await;
    assert!(validation.status.success(), "{}", text(&validation));
    let document = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let budget_starts: BTreeSet<&str> = document
        .descendants()
        .filter(|node| node.has_tag_name("budget"))
        .filter_map(|budget| {
            budget
                .children()
                .find(|node| node.has_tag_name("period-start"))
                .and_then(|node| node.attribute("iso-date"))
        })
        .collect();
    assert_eq!(budget_starts, BTreeSet::from(["2012-10-01"]));
}

/// One grant, one project in Haiti with one indicator of victims assisted, and an accepted FY 2014
/// report (written with SQL, as `statistics.rs` writes them) whose one outcome assisted `quantity`
/// victims in Haiti.
async fn grant_with_victims_assisted(app: &TestApp, quantity: i64) {
    let grantee = app.organization("Shelter", "HT").await;
    let grant = app.grant("VICTIMS-1", &grantee.name).await;
    let project = app
        .project(&grant.name, new_project("Haiti", &["HT"]))
        .await;
    let mut indicator = new_indicator(100);
    indicator.display_name = "Victims assisted".into();
    indicator.unit = "victims".into();
    indicator.outcome_kind = pb::OutcomeKind::VictimsAssisted as i32;
    let indicator = app.indicator(&project.name, indicator).await;
    let id_after = |name: &str, collection: &str| {
        name.split(&format!("{collection}/"))
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .expect("an id")
            .to_string()
    };
    let (grant_id, project_id, indicator_id) = (
        id_after(&project.name, "grants"),
        id_after(&project.name, "projects"),
        id_after(&indicator.name, "indicators"),
    );
    app.execute_sql(&format!(
        "INSERT INTO outcome_reports (id, grant_id, project_id, period, period_start_date, \
         period_end_date, due_date, state, narrative, reviewer_comments, submitter, submit_time, \
         reviewer, review_time, create_time, update_time, revision) VALUES ('r-1', \
         '{grant_id}', '{project_id}', '2014', '2013-10-01', '2014-09-30', NULL, 'ACCEPTED', '', '', \
         's', '2014-10-01T00:00:00Z', 'v', '2014-10-02T00:00:00Z', '2014-10-01T00:00:00Z', \
         '2014-10-01T00:00:00Z', 1)"
    ))
    .await;
    app.execute_sql(&format!(
        "INSERT INTO outcomes (id, report_id, kind, country_code, outcome_date, fiscal_year, \
         quantity, breakdown, first_for_country, description, evidence_uri, indicator_id, \
         milestone_id, create_time, update_time, delete_time, revision) VALUES \
         ('o-1', 'r-1', 'VICTIMS_ASSISTED', 'HT', '2014-03-01', 2014, {quantity}, '{{}}', FALSE, \
         'assisted', 'https://example.org/evidence?a=1&b=2', '{indicator_id}', NULL, \
         '2014-10-01T00:00:00Z', '2014-10-01T00:00:00Z', NULL, 1)"
    ))
    .await;
}

/// The whole IATI document of the server, from the RPC.
async fn iati_document(app: &TestApp, token: Option<&str>) -> String {
    let mut stream = app
        .reports(token)
        .export_iati_activities(pb::ExportIatiActivitiesRequest::default())
        .await
        .expect("the export starts")
        .into_inner();
    let mut xml = Vec::new();
    while let Some(message) = stream.next().await {
        xml.extend(message.expect("the export streams").xml);
    }
    String::from_utf8(xml).expect("UTF-8")
}

/// The `value` of every `actual` in the document (`None`: given without a value).
fn actual_values(xml: &str) -> Vec<Option<String>> {
    let document = roxmltree::Document::parse(xml).expect("well-formed XML");
    document
        .descendants()
        .filter(|node| node.has_tag_name("actual"))
        .map(|node| node.attribute("value").map(String::from))
        .collect()
}

#[tokio::test]
async fn a_count_of_victims_below_k_is_never_published_in_the_iati_file() {
    let app = spawn_app().await;
    grant_with_victims_assisted(&app, 4).await;

    let xml = iati_document(&app, app.admin()).await;

    assert_eq!(actual_values(&xml), vec![None], "4 victims: withheld");
    assert!(!xml.contains("value=\"4\""));
    // The outcome's evidence is linked, without its description (it may say how many).
    assert!(xml.contains("url=\"https://example.org/evidence?a=1&amp;b=2\""));
    assert!(xml.contains("Evidence of a reported outcome"));
    assert!(!xml.contains(">assisted<"));
}

#[tokio::test]
async fn a_count_of_victims_of_k_or_more_is_published_in_the_iati_file() {
    let app = spawn_app().await;
    grant_with_victims_assisted(&app, 12).await;

    let xml = iati_document(&app, app.admin()).await;

    assert_eq!(actual_values(&xml), vec![Some("12".to_string())]);
}

/// Every released HTCDS record of the server, from the RPC: the header and the lines.
async fn htcds_records(
    app: &TestApp,
    token: Option<&str>,
) -> (pb::HtcdsExportHeader, Vec<pb::HtcdsCaseRecordGroup>) {
    let mut stream = app
        .reports(token)
        .export_htcds_case_records(pb::ExportHtcdsCaseRecordsRequest::default())
        .await
        .expect("the export starts")
        .into_inner();
    let mut header = None;
    let mut groups = Vec::new();
    while let Some(message) = stream.next().await {
        match message.expect("the export streams").part {
            Some(Part::Header(first)) => header = Some(first),
            Some(Part::Records(group)) => groups.push(group),
            None => panic!("a message without a part"),
        }
    }
    (header.expect("a header"), groups)
}

#[tokio::test]
async fn the_htcds_export_of_the_demo_has_no_identifying_column_and_every_combination_at_least_k_times()
 {
    let demo = demo().await;

    let (csv, summary) = demo.export_file("htcds", &[]).await;

    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("a header line")
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(
        header,
        [
            "prs_Gender",
            "age_band",
            "prs_Nationality",
            "vic_TypeOfExploitation",
            "year_of_registration",
            "services_received"
        ],
        "HTCDS fields only: no name, contact, note, date, case number, referrer or amount"
    );
    let mut combinations: BTreeMap<Vec<String>, i64> = BTreeMap::new();
    for record in reader.records() {
        let record = record.expect("a CSV line");
        *combinations
            .entry(record.iter().map(String::from).collect())
            .or_default() += 1;
    }
    let released: i64 = combinations.values().sum();
    // The demo refers 60 cases in FY 2014; 6 victims declined to be counted.
    assert!(released > 0 && released <= 54, "released {released}");
    assert!(
        combinations.values().all(|count| *count >= 11),
        "every combination at least k = 11 times: {combinations:?}"
    );
    assert!(
        summary.contains("k = 11") && summary.contains("withheld"),
        "the export says what it withheld: {summary}"
    );
    let (header, _) = htcds_records(&demo.app, demo.app.admin()).await;
    assert_eq!(header.records_released + header.records_withheld, 54);
    assert_eq!(header.records_released, released);
}

#[tokio::test]
async fn a_victim_who_did_not_consent_never_appears_in_the_htcds_export() {
    let app = spawn_app().await;
    let referrer = app.organization("Referring NGO", "HT").await;
    let organization = id_of(&referrer);
    // 11 consenting women; 11 men who declined: enough to pass k, were they counted.
    insert_cases(&app, "yes", 11, Case::paid(2014, &organization)).await;
    insert_cases(
        &app,
        "no",
        11,
        Case {
            consent: false,
            sex: "MALE",
            ..Case::paid(2014, &organization)
        },
    )
    .await;

    let (header, groups) = htcds_records(&app, app.admin()).await;

    assert_eq!(header.records_released, 11);
    assert_eq!(header.records_withheld, 0);
    assert_eq!(groups.len(), 1);
    let record = groups[0].record.clone().unwrap_or_default();
    assert_eq!(record.gender, "Female");
    assert_eq!(record.nationality, "HT");
    assert_eq!(record.types_of_exploitation, ["Forced labour"]);
    assert_eq!(record.services_received, ["Medical"]);
    assert_eq!(groups[0].record_count, 11);
}

#[tokio::test]
async fn records_in_a_combination_below_k_are_withheld_and_counted_as_withheld() {
    let app = spawn_app().await;
    let referrer = app.organization("Referring NGO", "HT").await;
    let organization = id_of(&referrer);
    insert_cases(&app, "many", 30, Case::paid(2014, &organization)).await;
    // One case alone in its country: generalising a whole field for it would cost more.
    insert_cases(
        &app,
        "alone",
        1,
        Case {
            country: "AL",
            ..Case::paid(2014, &organization)
        },
    )
    .await;

    let (header, groups) = htcds_records(&app, app.admin()).await;

    assert_eq!(header.k_anonymity, 11);
    assert_eq!(header.records_released, 30);
    assert_eq!(header.records_withheld, 1);
    assert!(header.generalized_fields.is_empty());
    assert!(groups.iter().all(|group| group.record_count >= 11));
    assert!(
        groups
            .iter()
            .all(|group| group.record.as_ref().is_some_and(|r| r.nationality == "HT"))
    );
}

#[tokio::test]
async fn every_htcds_export_is_in_the_audit_log_with_its_years_and_fields_and_no_value() {
    let app = spawn_app().await;
    let worker = app.token(pb::Role::CaseWorker, "").await;

    let started = app
        .reports(Some(&worker))
        .export_htcds_case_records(pb::ExportHtcdsCaseRecordsRequest {
            from_fiscal_year: 2013,
            to_fiscal_year: 2014,
        })
        .await;

    assert!(started.is_ok());
    let events = app.audit_events_of("assistanceCases").await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(
        event.method,
        "/tipgrants.v1.ReportService/ExportHtcdsCaseRecords"
    );
    assert_eq!(event.actor_role, pb::Role::CaseWorker as i32);
    let diff = format!("{:?}", event.diff);
    for part in [
        "htcds_export",
        "2013",
        "2014",
        "prs_Gender",
        "prs_Nationality",
    ] {
        assert!(diff.contains(part), "{part} in {diff}");
    }
}

#[tokio::test]
async fn standards_exports_take_a_report_slot_and_are_refused_at_once_when_none_is_free() {
    let app = spawn_app_with(|settings| {
        settings.reports.max_concurrent_streams = 1;
        settings.reports.streams_reserved_for_staff = 0;
    })
    .await;
    // The only slot is held by a report too large for the stream's buffer and the
    // connection's window, read by a client that takes only its header. (A standards export
    // of a small portfolio fits in one message, so it cannot be held open deterministically.)
    let grantee = app.organization("Slot Holder", "HT").await;
    crate::reports::a_large_portfolio_of(&app, &grantee.name).await;
    let mut held = app
        .slow_reports(app.admin())
        .stream_fiscal_year_report(pb::StreamFiscalYearReportRequest {
            from_fiscal_year: 2000,
            to_fiscal_year: 2019,
            group_by: pb::ReportGrouping::Country as i32,
            ..Default::default()
        })
        .await
        .expect("the report starts")
        .into_inner();
    assert!(
        matches!(held.next().await, Some(Ok(_))),
        "the header arrives"
    );

    let iati = app
        .reports(app.admin())
        .export_iati_activities(pb::ExportIatiActivitiesRequest::default())
        .await
        .expect_err("no slot is free for IATI");
    let htcds = app
        .reports(app.admin())
        .export_htcds_case_records(pb::ExportHtcdsCaseRecordsRequest::default())
        .await
        .expect_err("no slot is free for HTCDS");

    for refused in [&iati, &htcds] {
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert_eq!(reason(refused), "TOO_MANY_REPORT_STREAMS");
    }
    drop(held);
    eventually("the slot is given back", || async {
        app.reports(app.admin())
            .export_htcds_case_records(pb::ExportHtcdsCaseRecordsRequest::default())
            .await
            .ok()
    })
    .await;
}

#[tokio::test]
async fn a_bad_range_of_fiscal_years_is_refused_naming_the_field() {
    let app = spawn_app().await;

    let refused = app
        .reports(app.admin())
        .export_iati_activities(pb::ExportIatiActivitiesRequest {
            from_fiscal_year: 2014,
            to_fiscal_year: 2013,
        })
        .await
        .expect_err("to before from");

    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), vec!["to_fiscal_year"]);
}

#[tokio::test]
async fn paid_requests_and_accepted_financial_reports_are_disbursements_and_expenditures_that_validate()
 {
    use chrono::{Days, Utc};
    let app = spawn_app().await;
    let officer = app.token(pb::Role::ProgramOfficer, "").await;
    let today = Utc::now().date_naive();
    let paying = crate::payments::funded(&app, "IATI-PAY", today, 10_000).await;
    let asked = app
        .payments(Some(&paying.grantee))
        .create_payment_request(pb::CreatePaymentRequestRequest {
            parent: paying.grant.clone(),
            payment_request: Some(pb::PaymentRequest {
                kind: pb::PaymentKind::Advance as i32,
                funding_account: "fundingAccounts/ESF".into(),
                fiscal_year: paying.fiscal_year,
                amount: 1_234,
                period_start_date: today.to_string(),
                period_end_date: today.to_string(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut payments = app.payments(Some(&officer));
    payments
        .approve_payment_request(pb::ApprovePaymentRequestRequest {
            name: asked.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    payments
        .record_payment(pb::RecordPaymentRequest {
            name: asked.name.clone(),
            payment_date: today.to_string(),
            ..Default::default()
        })
        .await
        .unwrap();
    let long_ago = today.checked_sub_days(Days::new(400)).unwrap();
    let spending = crate::payments::funded(&app, "IATI-SPEND", long_ago, 10_000).await;
    let report = app
        .financial_reports(Some(&spending.grantee))
        .create_financial_report(pb::CreateFinancialReportRequest {
            parent: spending.grant.clone(),
            financial_report: Some(pb::FinancialReport {
                period: spending.fiscal_year.to_string(),
                cash_receipts: 5_678,
                cash_disbursements: 5_678,
                federal_expenditures: 5_678,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    app.financial_reports(Some(&spending.grantee))
        .submit_financial_report(pb::SubmitFinancialReportRequest {
            name: report.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    app.financial_reports(Some(&officer))
        .accept_financial_report(pb::AcceptFinancialReportRequest {
            name: report.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();

    let xml = iati_document(&app, app.admin()).await;
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("iati.xml");
    std::fs::write(&file, &xml).unwrap();
    let checked = xmllint(&file).await;

    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let document = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let values_of = |code: &str| -> Vec<String> {
        document
            .descendants()
            .filter(|node| node.has_tag_name("transaction"))
            .filter(|transaction| {
                transaction.descendants().any(|node| {
                    node.has_tag_name("transaction-type") && node.attribute("code") == Some(code)
                })
            })
            .filter_map(|transaction| {
                transaction
                    .descendants()
                    .find(|node| node.has_tag_name("value"))
                    .and_then(|value| value.text())
                    .map(String::from)
            })
            .collect()
    };
    assert_eq!(values_of("3"), ["12.34"], "the payment is a disbursement");
    assert_eq!(
        values_of("4"),
        ["56.78"],
        "the accepted report is an expenditure"
    );
}
