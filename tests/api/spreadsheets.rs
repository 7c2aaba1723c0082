//! CSV written by the command line never runs as a spreadsheet formula (issue
//! 18, finding 7): a grantee's text that begins like a formula comes out of
//! `tipgrants export outcomes` and `tipgrants report --format csv` with an
//! apostrophe in front, quoted, while plain numbers stay numbers. One test per
//! writer, each through the real binary.

use std::process::Output;

use crate::helpers::*;
use crate::outcome_reports::{a_grantee, report, submit_and_accept, trained};

/// What a grantee might type to run a link in a staff member's spreadsheet.
const FORMULA: &str = "=HYPERLINK(\"http://x\",\"y\")";
/// The same cell as written: an apostrophe in front, in quotes, its quotes doubled.
const ESCAPED_IN_FILE: &str = "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"";

/// Runs the binary's client command `args` against `app` as its admin.
async fn run(app: &TestApp, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_tipgrants"))
        .args(args)
        .env("TIPGRANTS_SERVER", format!("http://{}", app.address))
        .env("TIPGRANTS_TOKEN", &app.admin_token)
        .output()
        .await
        .expect("the binary runs")
}

/// The records of a CSV text, header first, as a spreadsheet program would split them.
fn records(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|record| {
            record
                .expect("a well-formed record")
                .iter()
                .map(String::from)
                .collect()
        })
        .collect()
}

/// The cells of `text` that a spreadsheet would read as a formula: they begin with one
/// of its characters and are not a plain number.
fn formulas(text: &str) -> Vec<String> {
    records(text)
        .into_iter()
        .flatten()
        .filter(|cell| cell.starts_with(['=', '+', '-', '@', '\t', '\r']))
        .filter(|cell| {
            cell.strip_prefix('-')
                .unwrap_or(cell)
                .parse::<u64>()
                .is_err()
        })
        .collect()
}

#[tokio::test]
async fn an_exported_description_that_begins_like_a_formula_comes_out_as_text() {
    let app = spawn_app().await;
    let grantee = a_grantee(&app, "CSV-EXPORT").await;
    let draft = report(&app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    app.outcome_reports(grantee.auth())
        .create_outcome(pb::CreateOutcomeRequest {
            parent: draft.name.clone(),
            outcome: Some(pb::Outcome {
                description: FORMULA.into(),
                ..trained("HT", "2014-05-15", 7)
            }),
            request_id: String::new(),
        })
        .await
        .expect("the grantee records the outcome");
    submit_and_accept(&app, &grantee, &draft.name).await;

    let export = run(&app, &["export", "outcomes", "--fiscal-year", "2014"]).await;

    assert!(export.status.success(), "{export:?}");
    let text = String::from_utf8(export.stdout).expect("UTF-8");
    assert!(text.contains(ESCAPED_IN_FILE), "{text}");
    assert_eq!(formulas(&text), Vec::<String>::new());
    let rows = records(&text);
    let description = rows[0]
        .iter()
        .position(|column| column == "description")
        .expect("a description column");
    let quantity = rows[0]
        .iter()
        .position(|column| column == "quantity")
        .expect("a quantity column");
    assert_eq!(rows[1][description], format!("'{FORMULA}"));
    assert_eq!(rows[1][quantity], "7", "a number stays a number");
}

#[tokio::test]
async fn a_reported_grantee_name_that_begins_like_a_formula_comes_out_as_text() {
    let app = spawn_app().await;
    app.funding_account("ESF").await;
    let grantee = app.organization(FORMULA, "HT").await;
    let grant = app.grant("CSV-REPORT", &grantee.name).await;
    app.obligate(
        &grant.name,
        new_obligation(
            pb::ObligationKind::InitialAward,
            "ESF",
            2014,
            1_250_000,
            "2014-01-15",
        ),
    )
    .await
    .expect("the admin obligates");

    let csv = run(
        &app,
        &[
            "report", "--from", "2014", "--to", "2014", "--by", "grantee", "--format", "csv",
        ],
    )
    .await;

    assert!(csv.status.success(), "{csv:?}");
    let text = String::from_utf8(csv.stdout).expect("UTF-8");
    assert!(text.contains(ESCAPED_IN_FILE), "{text}");
    assert_eq!(formulas(&text), Vec::<String>::new());
    let rows = records(&text);
    let name = rows[0]
        .iter()
        .position(|column| column == "group_name")
        .expect("a group_name column");
    assert_eq!(rows[1][name], format!("'{FORMULA}"));
    assert!(text.contains(",1250000,"), "cents stay a number: {text}");
}
