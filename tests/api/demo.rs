//! The demo portfolio, loaded by the real binary (`tipgrants seed-demo`)
//! into the test server's database; `ExportOutcomes` over it (filters, a
//! grantee's own rows, order, a cancelled export giving its slot back); and
//! the `report` and `export outcomes` commands, whose CSV parses back to the
//! stream and whose chart is well-formed SVG.

use std::collections::BTreeSet;
use std::process::Output;

use tipgrants::cli::chart;
use tipgrants::cli::report::{EXPORT_COLUMNS, GroupBy, ReportCsv, export_record, report_columns};
use tipgrants::demo::{APPENDIX, FIRST_YEAR, LAST_YEAR};
use tipgrants::pb::v1 as pb;
use tipgrants::pb::v1::stream_fiscal_year_report_response::Part;
use tipgrants::secret::{ExposeSecret, SecretString};
use tokio_stream::StreamExt;
use tonic::Code;

use crate::helpers::*;

/// A test key (never a real one): 32 bytes of 1s.
const KEY: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

/// A server with a key for personal data, and the environment that points the binary at its database.
pub(crate) struct Demo {
    pub(crate) app: TestApp,
    environment: Vec<(String, String)>,
}

/// A server whose database holds the demo portfolio.
pub(crate) async fn demo_with(customize: impl FnOnce(&mut tipgrants::settings::Settings)) -> Demo {
    let mut environment = Vec::new();
    let app = spawn_app_with(|settings| {
        settings.privacy.keys = SecretString::from(KEY.to_string());
        settings.privacy.active_key = "k1".into();
        customize(settings);
        environment = vec![
            (
                "TIPGRANTS__DATABASE__URL".to_string(),
                settings.database.url.expose_secret().to_string(),
            ),
            (
                "TIPGRANTS__DATABASE__SQLITE_PATH".to_string(),
                settings.database.sqlite_path.clone(),
            ),
            ("TIPGRANTS__PRIVACY__KEYS".to_string(), KEY.to_string()),
            (
                "TIPGRANTS__PRIVACY__ACTIVE_KEY".to_string(),
                "k1".to_string(),
            ),
            (
                "TIPGRANTS__TELEMETRY__FILTER".to_string(),
                "warn".to_string(),
            ),
        ];
    })
    .await;
    let demo = Demo { app, environment };
    demo.seed().await;
    demo
}

pub(crate) async fn demo() -> Demo {
    demo_with(|_| {}).await
}

impl Demo {
    /// Runs `tipgrants seed-demo` on the server's database; its standard output.
    async fn seed(&self) -> String {
        let output = self.run(&["seed-demo"]).await;
        assert!(output.status.success(), "seed-demo: {}", text(&output));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs the binary with `args`, the database environment, and the admin token and the
    /// server's address for client commands.
    pub(crate) async fn run(&self, args: &[&str]) -> Output {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_tipgrants"))
            .args(args)
            .envs(self.environment.iter().cloned())
            .env("TIPGRANTS_SERVER", format!("http://{}", self.app.address))
            .env("TIPGRANTS_TOKEN", &self.app.admin_token)
            .output()
            .await
            .expect("the binary runs")
    }
}

pub(crate) fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The parts of a report after its header: ("row" | "subtotal" | "total", figures).
async fn report_lines(
    app: &TestApp,
    token: Option<&str>,
    request: pb::StreamFiscalYearReportRequest,
) -> Vec<(&'static str, pb::ReportFigures)> {
    let mut stream = app
        .reports(token)
        .stream_fiscal_year_report(request)
        .await
        .expect("the report starts")
        .into_inner();
    let mut lines = Vec::new();
    while let Some(message) = stream.next().await {
        match message.expect("the report streams").part.expect("a part") {
            Part::Header(_) => {}
            Part::Row(figures) => lines.push(("row", figures)),
            Part::Subtotal(figures) => lines.push(("subtotal", figures)),
            Part::GrandTotal(figures) => lines.push(("total", figures)),
        }
    }
    lines
}

fn by_account(from: i32, to: i32) -> pb::StreamFiscalYearReportRequest {
    pb::StreamFiscalYearReportRequest {
        from_fiscal_year: from,
        to_fiscal_year: to,
        group_by: pb::ReportGrouping::Account as i32,
        ..Default::default()
    }
}

/// Every row of an export.
async fn export(
    app: &TestApp,
    token: Option<&str>,
    request: pb::ExportOutcomesRequest,
) -> Vec<pb::ExportedOutcome> {
    let mut stream = app
        .reports(token)
        .export_outcomes(request)
        .await
        .expect("the export starts")
        .into_inner();
    let mut rows = Vec::new();
    while let Some(message) = stream.next().await {
        rows.extend(message.expect("the export streams").outcomes);
    }
    rows
}

fn outcome(row: &pb::ExportedOutcome) -> &pb::Outcome {
    row.outcome
        .as_ref()
        .expect("an exported row carries its outcome")
}

/// A planned outcome: (US fiscal year, country, kind, grantee's display name).
type Planned = (i32, String, pb::OutcomeKind, String);

/// The demo plan's outcomes.
fn planned_outcomes() -> Vec<Planned> {
    let plan = tipgrants::demo::plan();
    plan.grants
        .iter()
        .flat_map(|grant| {
            let grantee = plan.organizations[grant.grantee].display_name.clone();
            grant.outcomes.iter().map(move |outcome| {
                let year = chrono::Datelike::year(&outcome.date)
                    + i32::from(chrono::Datelike::month(&outcome.date) >= 10);
                (
                    year,
                    outcome.country_code.clone(),
                    outcome.kind,
                    grantee.clone(),
                )
            })
        })
        .collect()
}

#[tokio::test]
async fn seed_demo_twice_changes_nothing_and_by_account_reproduces_the_appendix_table_to_97_3_million()
 {
    let demo = demo().await;
    let before = demo.app.row_counts().await;

    let second = demo.seed().await;
    let lines = report_lines(
        &demo.app,
        demo.app.admin(),
        by_account(FIRST_YEAR, LAST_YEAR),
    )
    .await;
    let summary = demo
        .app
        .reports(demo.app.admin())
        .get_portfolio_summary(pb::GetPortfolioSummaryRequest {
            from_fiscal_year: FIRST_YEAR,
            to_fiscal_year: LAST_YEAR,
        })
        .await
        .expect("the summary")
        .into_inner();
    let fy2014 = report_lines(&demo.app, demo.app.admin(), by_account(2014, 2014)).await;
    let closed = demo
        .app
        .grants(demo.app.admin())
        .list_grants(pb::ListGrantsRequest {
            filter: "state = CLOSED".into(),
            page_size: 500,
            ..Default::default()
        })
        .await
        .expect("closed grants")
        .into_inner();

    assert_eq!(demo.app.row_counts().await, before, "the second run wrote");
    // Every demo award ran its course: activated, its project started and completed; those
    // of FY 2009-2012 closed out, those of FY 2013 still open.
    assert_eq!(closed.grants.len(), 276);
    assert!(second.contains("345 grants and projects"), "{second}");
    assert!(
        second.contains("276 closeouts de-obligating $1,381,000.00"),
        "{second}"
    );
    assert!(
        second.contains("7 no-cost extensions and 7 supplements signed"),
        "{second}"
    );
    assert!(
        second.contains("564 payments of $88,656,100.00 in all"),
        "{second}"
    );
    let mut table = Vec::new();
    for (index, year) in (FIRST_YEAR..=LAST_YEAR).enumerate() {
        for (account, name, thousands) in APPENDIX {
            table.push((
                year,
                account.to_string(),
                name.to_string(),
                thousands[index],
            ));
        }
    }
    let rows: Vec<(i32, String, String, i64)> = lines
        .iter()
        .filter(|(part, _)| *part == "row")
        .map(|(_, f)| {
            (
                f.fiscal_year,
                f.group.clone(),
                f.group_display_name.clone(),
                f.obligated_thousands,
            )
        })
        .collect();
    assert_eq!(rows, table);
    let (_, total) = lines.last().expect("a grand total");
    assert_eq!(total.obligated_cents, 9_730_000_000);
    assert_eq!(total.obligated_thousands, 97_300);
    assert_eq!(summary.obligated_cents, 9_730_000_000);
    assert!(summary.projects_active > 340, "{summary:?}");
    let fund = fy2014
        .last()
        .and_then(|(_, total)| total.emergency_fund)
        .expect("the fund's figures");
    assert!(!fund.victims_helped_suppressed);
    assert!(fund.victims_helped > 50, "{fund:?}");
}

#[tokio::test]
async fn an_export_streams_every_accepted_outcome_in_order_and_each_filter_keeps_only_its_own() {
    let demo = demo().await;
    let app = &demo.app;
    let planned = planned_outcomes();
    let all = export(app, app.admin(), Default::default()).await;
    // A draft report's outcome is no result yet: it is never exported. (A FY 2013 project
    // whose grantee filed nothing has no final report yet.)
    let project = app
        .closeouts(app.admin())
        .list_closeouts(pb::ListCloseoutsRequest {
            parent: "grants/-".into(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("the closeouts in progress")
        .into_inner()
        .closeouts
        .into_iter()
        .find_map(|closeout| closeout.missing_final_outcome_reports.first().cloned())
        .expect("a project without its final report");
    let draft = app
        .outcome_reports(app.admin())
        .create_outcome_report(pb::CreateOutcomeReportRequest {
            parent: project,
            outcome_report: Some(pb::OutcomeReport {
                period: "FINAL".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("a draft report")
        .into_inner();
    app.outcome_reports(app.admin())
        .create_outcome(pb::CreateOutcomeRequest {
            parent: draft.name,
            outcome: Some(pb::Outcome {
                kind: pb::OutcomeKind::Other as i32,
                description: "Not reviewed yet".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("a draft outcome");
    let filtered = |request: pb::ExportOutcomesRequest| export(app, app.admin(), request);

    let after_draft = export(app, app.admin(), Default::default()).await;
    let fy2014 = filtered(pb::ExportOutcomesRequest {
        from_fiscal_year: 2014,
        to_fiscal_year: 2014,
        ..Default::default()
    })
    .await;
    let albania = filtered(pb::ExportOutcomesRequest {
        country_code: "al".into(),
        ..Default::default()
    })
    .await;
    let assisted = filtered(pb::ExportOutcomesRequest {
        kind: pb::OutcomeKind::VictimsAssisted as i32,
        from_fiscal_year: 2011,
        ..Default::default()
    })
    .await;
    let southern_africa = filtered(pb::ExportOutcomesRequest {
        region_code: "AF".into(),
        to_fiscal_year: 2012,
        ..Default::default()
    })
    .await;

    assert_eq!(all.len(), planned.len());
    assert_eq!(after_draft, all);
    let ids: Vec<String> = all
        .iter()
        .map(|row| {
            outcome(row)
                .name
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "rows come in outcome id order");
    let count =
        |keep: &dyn Fn(&Planned) -> bool| planned.iter().filter(|outcome| keep(outcome)).count();
    assert_eq!(fy2014.len(), count(&|o| o.0 == 2014));
    assert!(fy2014.iter().all(|row| outcome(row).fiscal_year == 2014));
    assert_eq!(albania.len(), count(&|o| o.1 == "AL"));
    assert_eq!(
        assisted.len(),
        count(&|o| o.2 == pb::OutcomeKind::VictimsAssisted && o.0 >= 2011)
    );
    assert!(!assisted.is_empty());
    assert!(southern_africa.iter().all(|row| row.region_code == "AF"));
    assert!(
        southern_africa
            .iter()
            .all(|row| outcome(row).fiscal_year <= 2012)
    );
    let invalid = app
        .reports(app.admin())
        .export_outcomes(pb::ExportOutcomesRequest {
            from_fiscal_year: 2014,
            to_fiscal_year: 2013,
            kind: 99,
            grantee: "grants/x".into(),
            ..Default::default()
        })
        .await
        .expect_err("a bad filter is refused");
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&invalid),
        vec!["to_fiscal_year", "kind", "grantee"]
    );
}

#[tokio::test]
async fn a_grantee_exports_the_outcomes_of_its_own_grants_only() {
    let demo = demo().await;
    let app = &demo.app;
    let all = export(app, app.admin(), Default::default()).await;
    let grantee = all[0].grantee.clone();
    let other = all
        .iter()
        .map(|row| row.grantee.clone())
        .find(|name| name != &grantee)
        .expect("another grantee");
    let token = app.token(pb::Role::Grantee, &grantee).await;
    let display_name = app
        .organizations(app.admin())
        .get_organization(pb::GetOrganizationRequest {
            name: grantee.clone(),
        })
        .await
        .expect("the grantee")
        .into_inner()
        .display_name;

    let own = export(app, Some(&token), Default::default()).await;
    let asking_for_another = export(
        app,
        Some(&token),
        pb::ExportOutcomesRequest {
            grantee: other,
            ..Default::default()
        },
    )
    .await;
    let staff_view = export(
        app,
        app.admin(),
        pb::ExportOutcomesRequest {
            grantee: grantee.clone(),
            ..Default::default()
        },
    )
    .await;

    assert!(own.iter().all(|row| row.grantee == grantee));
    let planned = planned_outcomes()
        .into_iter()
        .filter(|outcome| outcome.3 == display_name)
        .count();
    assert_eq!(own.len(), planned);
    assert!(asking_for_another.is_empty());
    assert_eq!(staff_view, own);
}

#[tokio::test]
async fn an_export_beyond_the_stream_limit_is_refused_and_a_cancelled_one_stops_and_frees_its_slot()
{
    let demo = demo_with(|settings| settings.reports.max_concurrent_streams = 1).await;
    let app = &demo.app;
    let model = export(app, app.admin(), Default::default()).await[0].clone();
    let id = outcome(&model)
        .name
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    // 30,000 more accepted outcomes: far more than the stream's buffer and the connection's window.
    app.execute_sql(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000) \
         INSERT INTO outcomes (id, report_id, kind, country_code, outcome_date, fiscal_year, \
         quantity, breakdown, first_for_country, description, evidence_uri, indicator_id, \
         milestone_id, create_time, update_time, delete_time, revision) \
         SELECT o.id || '-' || n.i, o.report_id, o.kind, o.country_code, o.outcome_date, \
         o.fiscal_year, o.quantity, o.breakdown, o.first_for_country, o.description, \
         o.evidence_uri, o.indicator_id, NULL, o.create_time, o.update_time, NULL, o.revision \
         FROM n, outcomes o WHERE o.id = '{id}'"
    ))
    .await;
    // A client that reads slowly: it reads one message.
    let mut slow = app.slow_reports(app.admin());
    let mut first = slow
        .export_outcomes(pb::ExportOutcomesRequest::default())
        .await
        .expect("the first export starts")
        .into_inner();
    let first_message = first.next().await;

    let refused = app
        .reports(app.admin())
        .export_outcomes(pb::ExportOutcomesRequest::default())
        .await
        .expect_err("a second export is refused while the first runs");
    drop(first);
    let admitted = eventually("the cancelled export gives its slot back", || async {
        app.reports(app.admin())
            .export_outcomes(pb::ExportOutcomesRequest {
                // A real country the demo has no outcome in (an unknown code is refused).
                country_code: "IS".into(),
                ..Default::default()
            })
            .await
            .ok()
    })
    .await;

    assert!(matches!(first_message, Some(Ok(message)) if message.outcomes.len() == 1_000));
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert_eq!(reason(&refused), "TOO_MANY_REPORT_STREAMS");
    let messages: Vec<_> = admitted.into_inner().collect::<Vec<_>>().await;
    assert!(messages.is_empty(), "no outcome in IS: {messages:?}");
}

#[tokio::test]
async fn an_export_of_long_descriptions_comes_in_messages_every_client_can_decode() {
    let demo = demo().await;
    let app = &demo.app;
    let before = export(app, app.admin(), Default::default()).await;
    let id = outcome(&before[0])
        .name
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    // 600 outcomes of 9,000 characters each: 5.4 MB, more than a client decodes in one message.
    let long = "x".repeat(9_000);
    app.execute_sql(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600) \
         INSERT INTO outcomes (id, report_id, kind, country_code, outcome_date, fiscal_year, \
         quantity, breakdown, first_for_country, description, evidence_uri, indicator_id, \
         milestone_id, create_time, update_time, delete_time, revision) \
         SELECT o.id || '-' || n.i, o.report_id, o.kind, o.country_code, o.outcome_date, \
         o.fiscal_year, o.quantity, o.breakdown, o.first_for_country, '{long}', \
         o.evidence_uri, o.indicator_id, NULL, o.create_time, o.update_time, NULL, o.revision \
         FROM n, outcomes o WHERE o.id = '{id}'"
    ))
    .await;

    let mut stream = app
        .reports(app.admin())
        .export_outcomes(pb::ExportOutcomesRequest::default())
        .await
        .expect("the export starts")
        .into_inner();
    let mut sizes = Vec::new();
    let mut rows = 0;
    while let Some(message) = stream.next().await {
        let message = message.expect("every message decodes with the default limit");
        sizes.push(prost::Message::encoded_len(&message));
        rows += message.outcomes.len();
    }

    assert_eq!(rows, before.len() + 600);
    assert!(sizes.len() >= 6, "{sizes:?}");
    assert!(sizes.iter().all(|size| *size < 1_100_000), "{sizes:?}");
}

/// Parses CSV text into its header and records.
fn parse_csv(text: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text);
    let header = reader
        .headers()
        .expect("a header")
        .iter()
        .map(String::from)
        .collect();
    let records = reader
        .records()
        .map(|record| {
            record
                .expect("a well-formed record")
                .iter()
                .map(String::from)
                .collect()
        })
        .collect();
    (header, records)
}

#[tokio::test]
async fn the_report_command_prints_csv_that_parses_back_to_the_stream_and_a_well_formed_svg_chart()
{
    let demo = demo().await;
    let directory = tempfile::tempdir().expect("a directory");
    let chart_path = directory.path().join("chart.svg");

    let csv_run = demo
        .run(&[
            "report", "--from", "2009", "--to", "2014", "--by", "account", "--format", "csv",
        ])
        .await;
    let table_run = demo
        .run(&[
            "report", "--from", "2009", "--to", "2013", "--by", "account",
        ])
        .await;
    let svg_run = demo
        .run(&[
            "report",
            "--from",
            "2009",
            "--to",
            "2013",
            "--by",
            "account",
            "--format",
            "svg",
            "--output",
            chart_path.to_str().expect("a UTF-8 path"),
        ])
        .await;
    let stream = report_lines(&demo.app, demo.app.admin(), by_account(2009, 2014)).await;

    assert!(csv_run.status.success(), "{}", text(&csv_run));
    let (header, records) = parse_csv(&csv_run.stdout);
    assert_eq!(header, report_columns());
    let mut csv = ReportCsv::new(GroupBy::Account);
    let expected: Vec<Vec<String>> = stream
        .iter()
        .map(|(part, figures)| csv.record(part, figures))
        .collect();
    assert_eq!(records, expected);
    // The total row names no year; rows by account leave the outcome cells empty, totals fill them.
    let column = |name: &str| header.iter().position(|column| column == name).unwrap();
    let total = records.last().expect("a total line");
    assert_eq!(
        (total[0].as_str(), total[column("fiscal_year")].as_str()),
        ("total", "")
    );
    let assisted: i64 = total[column("victims_assisted_quantity")]
        .parse()
        .expect("a count");
    assert!(assisted > 0, "{total:?}");
    for row in records.iter().filter(|record| record[0] == "row") {
        assert_eq!(row[column("victims_assisted_count")], "", "{row:?}");
        assert_eq!(row[column("victims_assisted_quantity")], "", "{row:?}");
    }
    assert!(
        records
            .iter()
            .all(|record| record[column("rows_overlap")] != "yes")
    );
    let cents: i64 = records
        .iter()
        .filter(|record| record[0] == "row" && record[1] != "2014")
        .map(|record| {
            record[column("obligated_cents")]
                .parse::<i64>()
                .expect("cents")
        })
        .sum();
    assert_eq!(cents, 9_730_000_000);
    // The money after the award, by account and year: what is obligated is paid or still
    // unliquidated; only FY 2013's grants, left open, hold balances (their closeouts' sum).
    let amount =
        |record: &Vec<String>, name: &str| -> i64 { record[column(name)].parse().expect("cents") };
    let mut open_balances = 0;
    for row in records.iter().filter(|record| record[0] == "row") {
        assert_eq!(
            amount(row, "obligated_cents"),
            amount(row, "paid_cents") + amount(row, "unliquidated_cents"),
            "{row:?}"
        );
        if row[1] == "2013" {
            assert!(amount(row, "expended_cents") > 0, "{row:?}");
            open_balances += amount(row, "unliquidated_cents");
        } else if row[1] != "2014" {
            assert!(amount(row, "expended_cents") > 0, "{row:?}");
            assert_eq!(amount(row, "unliquidated_cents"), 0, "{row:?}");
            assert!(amount(row, "deobligated_cents") > 0, "{row:?}");
        }
    }
    assert_eq!(open_balances, 864_390_000);
    assert!(table_run.status.success(), "{}", text(&table_run));
    let table = String::from_utf8_lossy(&table_run.stdout);
    let total_line = table
        .lines()
        .find(|line| line.starts_with("all "))
        .unwrap_or_default();
    assert!(total_line.contains("97,300"), "{table}");
    assert!(table.contains("unliquidated"), "{table}");
    // The two counts of victims are told apart under the table.
    assert!(
        table.contains("\"fund helped\": victims the emergency fund paid for"),
        "{table}"
    );
    assert!(svg_run.status.success(), "{}", text(&svg_run));
    let svg = std::fs::read_to_string(&chart_path).expect("the chart was written");
    let document = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    assert_eq!(document.root_element().tag_name().name(), "svg");
    let texts: BTreeSet<String> = document
        .descendants()
        .filter(|node| node.has_tag_name("text"))
        .filter_map(|node| node.text())
        .map(|text| text.trim().to_string())
        .collect();
    assert!(texts.contains("ESF: Economic Support Fund"), "{texts:?}");
    assert!(texts.contains("FY 2013"), "{texts:?}");
    let bars = document
        .descendants()
        .filter(|node| node.has_tag_name("rect"))
        .count();
    assert!(bars >= 10, "two accounts in five years: {bars} rectangles");
}

#[tokio::test]
async fn the_export_command_writes_a_csv_line_per_outcome_that_parses_back_to_the_stream() {
    let demo = demo().await;

    let run = demo
        .run(&["export", "outcomes", "--fiscal-year", "2014"])
        .await;
    let bad_kind = demo
        .run(&["export", "outcomes", "--kind", "miracles"])
        .await;
    let stream = export(
        &demo.app,
        demo.app.admin(),
        pb::ExportOutcomesRequest {
            from_fiscal_year: 2014,
            to_fiscal_year: 2014,
            ..Default::default()
        },
    )
    .await;

    assert!(run.status.success(), "{}", text(&run));
    let (header, records) = parse_csv(&run.stdout);
    assert_eq!(header, EXPORT_COLUMNS.map(String::from).to_vec());
    let expected: Vec<Vec<String>> = stream.into_iter().map(export_record).collect();
    assert!(!expected.is_empty());
    assert_eq!(records, expected);
    let column = |name: &str| header.iter().position(|column| column == name).unwrap();
    assert!(
        records
            .iter()
            .all(|record| record[column("fiscal_year")] == "2014")
    );
    // A reader sees the grantee's name, the award number and the project's title, not only ids.
    for record in &records {
        assert!(!record[column("grantee_name")].is_empty(), "{record:?}");
        assert!(!record[column("award_number")].is_empty(), "{record:?}");
        assert!(!record[column("project_title")].is_empty(), "{record:?}");
    }
    assert_eq!(bad_kind.status.code(), Some(2), "{}", text(&bad_kind));
}

#[tokio::test]
async fn no_chart_stacks_a_year_above_its_total_and_each_draws_as_a_picture() {
    let demo = demo().await;
    let directory = tempfile::tempdir().expect("a directory");

    for (by, grouping) in [
        (GroupBy::Account, pb::ReportGrouping::Account),
        (GroupBy::Country, pb::ReportGrouping::Country),
        (GroupBy::Region, pb::ReportGrouping::Region),
        (GroupBy::Pillar, pb::ReportGrouping::Pillar),
        (GroupBy::Grantee, pb::ReportGrouping::Grantee),
        (GroupBy::None, pb::ReportGrouping::None),
    ] {
        let request = pb::StreamFiscalYearReportRequest {
            group_by: grouping as i32,
            ..by_account(2009, 2014)
        };
        let lines = report_lines(&demo.app, demo.app.admin(), request).await;
        let plan = chart::plan(&lines, by);
        for year in &plan.years {
            let drawn: i64 = year.parts.iter().map(|part| part.1).sum();
            let tallest = year.parts.iter().map(|part| part.1).max().unwrap_or(0);
            if plan.stacked {
                assert_eq!(drawn, year.total_thousands, "{by:?} {year:?}");
            } else {
                assert!(tallest <= year.total_thousands, "{by:?} {year:?}");
            }
        }
        // By country the demo's grants overlap: side by side, never stacked.
        assert_eq!(
            plan.stacked,
            by != GroupBy::Country && by != GroupBy::Pillar,
            "{by:?}"
        );
        assert!(plan.series.len() <= chart::SHOWN, "{by:?}");

        let by_name = format!("{by:?}").to_lowercase();
        let path = directory.path().join(format!("{by_name}.svg"));
        let run = demo
            .run(&[
                "report",
                "--from",
                "2009",
                "--to",
                "2014",
                "--by",
                &by_name,
                "--format",
                "svg",
                "--output",
                path.to_str().expect("a UTF-8 path"),
            ])
            .await;
        assert!(run.status.success(), "{by:?}: {}", text(&run));
        let svg = std::fs::read_to_string(&path).expect("the chart was written");
        let document = roxmltree::Document::parse(&svg).expect("well-formed SVG");
        let texts: Vec<&str> = document
            .descendants()
            .filter(|node| node.has_tag_name("text"))
            .filter_map(|node| node.text())
            .collect();
        assert!(
            texts.iter().any(|text| text.contains("$97.3 million")),
            "{by:?}: {texts:?}"
        );
        assert!(texts.iter().any(|text| text.contains("as of ")), "{by:?}");
        assert!(
            texts.iter().all(|text| !text.contains("organizations/")),
            "{by:?}: {texts:?}"
        );
    }
}

#[tokio::test]
async fn rows_by_country_say_in_the_table_and_the_csv_that_they_overlap() {
    let demo = demo().await;

    let table_run = demo
        .run(&[
            "report", "--from", "2009", "--to", "2013", "--by", "country",
        ])
        .await;
    let csv_run = demo
        .run(&[
            "report", "--from", "2009", "--to", "2013", "--by", "country", "--format", "csv",
        ])
        .await;

    assert!(table_run.status.success(), "{}", text(&table_run));
    let table = String::from_utf8_lossy(&table_run.stdout);
    assert!(table.contains("(each grant once; rows overlap)"), "{table}");
    assert!(table.contains("\nRows overlap in FY "), "{table}");
    assert!(csv_run.status.success(), "{}", text(&csv_run));
    let (header, records) = parse_csv(&csv_run.stdout);
    let column = |name: &str| header.iter().position(|column| column == name).unwrap();
    let cents =
        |record: &Vec<String>| -> i64 { record[column("obligated_cents")].parse().expect("cents") };
    let mut overlapping_years = 0;
    for subtotal in records.iter().filter(|record| record[0] == "subtotal") {
        let year = &subtotal[column("fiscal_year")];
        let rows: Vec<&Vec<String>> = records
            .iter()
            .filter(|record| record[0] == "row" && &record[column("fiscal_year")] == year)
            .collect();
        let sum: i64 = rows.iter().map(|row| cents(row)).sum();
        let overlap = subtotal[column("rows_overlap")] == "yes";
        // The flag is on the subtotal (rows are written before it is known), and says exactly
        // when the year's rows add up to more than it.
        assert!(
            rows.iter()
                .all(|row| row[column("rows_overlap")].is_empty()),
            "FY {year}"
        );
        assert_eq!(
            sum > cents(subtotal),
            overlap,
            "FY {year}: {sum} against {subtotal:?}"
        );
        if overlap {
            overlapping_years += 1;
        }
    }
    assert!(
        overlapping_years > 0,
        "the demo has grants in several countries"
    );
}

#[tokio::test]
async fn unknown_filter_values_are_refused_naming_the_value() {
    let demo = demo().await;

    let country = demo
        .run(&[
            "report",
            "--from",
            "2009",
            "--to",
            "2013",
            "--country",
            "XX",
        ])
        .await;
    let region = demo
        .run(&[
            "report", "--from", "2009", "--to", "2013", "--region", "AFR",
        ])
        .await;
    let account = demo
        .run(&[
            "report",
            "--from",
            "2009",
            "--to",
            "2013",
            "--account",
            "NOPE",
        ])
        .await;
    let export = demo.run(&["export", "outcomes", "--country", "XX"]).await;
    let known = demo
        .run(&[
            "report",
            "--from",
            "2009",
            "--to",
            "2013",
            "--country",
            "HT",
        ])
        .await;
    let unknown_call = demo
        .app
        .reports(demo.app.admin())
        .stream_fiscal_year_report(pb::StreamFiscalYearReportRequest {
            region_code: "AFR".into(),
            ..by_account(2009, 2013)
        })
        .await;

    for (run, said) in [
        (&country, "country_code: country \"XX\""),
        (&region, "region_code: region \"AFR\""),
        (&account, "account_code: account \"NOPE\""),
        (&export, "country_code: country \"XX\""),
    ] {
        assert!(!run.status.success(), "{}", text(run));
        assert!(text(run).contains(said), "{said}: {}", text(run));
        assert!(run.stdout.is_empty(), "nothing is printed: {}", text(run));
    }
    assert!(known.status.success(), "{}", text(&known));
    expect_invalid(unknown_call, &["region_code"]);
}

/// The items of every page `list` answers, given each page's token (empty for the first).
async fn all_pages<Item, Future>(mut list: impl FnMut(String) -> Future) -> Vec<Item>
where
    Future: std::future::Future<Output = (Vec<Item>, String)>,
{
    let mut items = Vec::new();
    let mut token = String::new();
    loop {
        let (page, next) = list(token).await;
        items.extend(page);
        if next.is_empty() {
            return items;
        }
        token = next;
    }
}

#[tokio::test]
async fn the_demo_money_after_the_award_adds_up_net_to_the_appendix_with_old_grants_closed_out_and_fy2013_left_open()
 {
    let demo = demo().await;
    let app = &demo.app;
    let plan = tipgrants::demo::plan();

    let appropriations = app
        .funds(app.admin())
        .list_appropriations(pb::ListAppropriationsRequest {
            parent: "fundingAccounts/-".into(),
            page_size: 500,
            ..Default::default()
        })
        .await
        .expect("the funds status")
        .into_inner()
        .appropriations;
    let closed = all_pages(|page_token| async move {
        let page = app
            .grants(app.admin())
            .list_grants(pb::ListGrantsRequest {
                filter: "state = CLOSED".into(),
                page_size: 500,
                page_token,
            })
            .await
            .expect("closed grants")
            .into_inner();
        (page.grants, page.next_page_token)
    })
    .await;
    let mut closed_out = Vec::new();
    for grant in &closed {
        closed_out.push(
            app.closeouts(app.admin())
                .get_closeout(pb::GetCloseoutRequest {
                    name: format!("{}/closeout", grant.name),
                })
                .await
                .expect("a closeout")
                .into_inner(),
        );
    }
    let overdue = all_pages(|page_token| async move {
        let page = app
            .closeouts(app.admin())
            .list_closeouts(pb::ListCloseoutsRequest {
                parent: "grants/-".into(),
                filter: "status = OVERDUE".into(),
                page_size: 50,
                page_token,
            })
            .await
            .expect("the overdue closeouts")
            .into_inner();
        (page.closeouts, page.next_page_token)
    })
    .await;
    let paid = all_pages(|page_token| async move {
        let page = app
            .payments(app.admin())
            .list_payment_requests(pb::ListPaymentRequestsRequest {
                parent: "grants/-".into(),
                filter: "state = PAID".into(),
                page_size: 500,
                page_token,
            })
            .await
            .expect("the payments")
            .into_inner();
        (page.payment_requests, page.next_page_token)
    })
    .await;

    // The funds status: net obligations still the appendix, to the cent; the appropriations
    // cover the gross awards; the closeouts' de-obligations are on the FY 2009-2012 money.
    let recorded = tipgrants::demo::appropriations(&plan.grants);
    // The grants' appropriations and the emergency fund's (one ledger: INCLE FY 2014).
    assert_eq!(appropriations.len(), recorded.len() + 1);
    let fund = appropriations
        .iter()
        .find(|a| a.funding_account == "fundingAccounts/INCLE" && a.fiscal_year == 2014)
        .expect("the emergency fund's appropriation");
    assert_eq!(fund.obligated_amount, 25_000_000, "the fund's allocation");
    assert!(fund.paid_amount > 0, "the fund's payments count: {fund:?}");
    // Every account and year adds up: what was appropriated is obligated, available, expired
    // or cancelled; what is obligated is paid or still unliquidated.
    for a in &appropriations {
        assert_eq!(
            a.amount,
            a.obligated_amount + a.available_amount + a.expired_amount + a.cancelled_amount,
            "{a:?}"
        );
        assert_eq!(
            a.obligated_amount,
            a.paid_amount + a.unliquidated_amount,
            "{a:?}"
        );
        assert!(a.expended_amount <= a.obligated_amount, "{a:?}");
    }
    let mut deobligated_in_all = 0;
    for (account, _, thousands) in APPENDIX {
        for (index, year) in (FIRST_YEAR..=LAST_YEAR).enumerate() {
            let found = appropriations
                .iter()
                .find(|a| {
                    a.funding_account == format!("fundingAccounts/{account}")
                        && a.fiscal_year == year
                })
                .unwrap_or_else(|| panic!("{account} FY{year} is recorded"));
            let planned_deobligation: i64 = plan
                .grants
                .iter()
                .filter(|g| g.account == account && g.fiscal_year == year)
                .map(|g| g.money.deobligated_cents)
                .sum();
            assert_eq!(
                found.obligated_amount,
                thousands[index] * 100_000,
                "{account} FY{year}"
            );
            assert_eq!(
                found.deobligated_amount, planned_deobligation,
                "{account} FY{year}"
            );
            assert_eq!(
                found.amount,
                thousands[index] * 100_000 + planned_deobligation,
                "{account} FY{year}"
            );
            assert_eq!(
                planned_deobligation > 0,
                year < LAST_YEAR,
                "{account} FY{year}: only the closed-out years give money back"
            );
            deobligated_in_all += found.deobligated_amount;
        }
    }
    assert_eq!(deobligated_in_all, 138_100_000);
    // The grants of FY 2009-2012 are closed out with nothing left unliquidated.
    assert_eq!(closed_out.len(), 276);
    for closeout in &closed_out {
        assert_eq!(
            closeout.status,
            pb::CloseoutStatus::Closed as i32,
            "{closeout:?}"
        );
        assert_eq!(closeout.unliquidated_amount, 0, "{closeout:?}");
        assert!(closeout.final_financial_report_accepted);
        assert!(closeout.award_number.as_str() < "DEMO-2013", "{closeout:?}");
    }
    // Those of FY 2013 ended years ago and are overdue, each with its unpaid balance.
    let mut open: Vec<(String, i64, bool)> = overdue
        .iter()
        .map(|c| {
            (
                c.award_number.clone(),
                c.unliquidated_amount,
                c.blockers.is_empty(),
            )
        })
        .collect();
    open.sort();
    let mut planned_open: Vec<(String, i64, bool)> = plan
        .grants
        .iter()
        .filter(|g| g.fiscal_year == LAST_YEAR)
        .map(|g| {
            (
                g.award_number.clone(),
                g.unliquidated_cents(),
                g.money.settlement == tipgrants::demo::Settlement::AwaitingSignature,
            )
        })
        .collect();
    planned_open.sort();
    assert_eq!(open.len(), 69);
    assert_eq!(open, planned_open);
    assert!(
        overdue
            .iter()
            .all(|c| c.status == pb::CloseoutStatus::Overdue as i32)
    );
    assert!(open.iter().all(|(_, unliquidated, _)| *unliquidated > 0));
    let unliquidated: i64 = open.iter().map(|(_, cents, _)| cents).sum();
    assert_eq!(unliquidated, 864_390_000);
    // Every payment was approved by staff other than the grantee who asked, and paid; they add
    // up to what the summary says.
    let planned_paid: i64 = plan.grants.iter().map(|g| g.money.paid_cents()).sum();
    assert_eq!(paid.len(), 564);
    assert_eq!(paid.iter().map(|p| p.amount).sum::<i64>(), planned_paid);
    assert_eq!(planned_paid, 8_865_610_000);
    assert!(
        paid.iter()
            .all(|p| p.decider != p.requester && !p.payment_date.is_empty())
    );
    assert!(paid.iter().all(|p| p.state_reason.contains("(decided on ")));
}
