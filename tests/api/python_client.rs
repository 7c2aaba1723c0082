//! The Python client (`clients/python/`) as a grantee's IT person uses it: installed with pip
//! into a fresh virtual environment (its stubs generated from `proto/` by grpcio-tools while it
//! builds), then its example lists the grantee's grants and uploads outcomes from CSV files
//! against a fresh server, with every refused row named by its line.

use std::path::{Path, PathBuf};
use std::process::Output;

use tokio::process::Command;

use crate::helpers::{TestApp, new_indicator, new_project, pb, spawn_app};

fn client_directory() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/python")
}

async fn run(command: &mut Command, what: &str) -> Output {
    command.output().await.unwrap_or_else(|error| {
        panic!("{what}: {error} (the Python client test needs python3 with venv and pip)")
    })
}

fn succeeded(output: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A fresh virtual environment in `directory` with `tipgrants-client` installed at the pinned
/// versions of `constraints.txt`, and mypy with the stubs it needs; returns its python.
async fn install_client(directory: &Path) -> PathBuf {
    let venv = directory.join("venv");
    let python = std::env::var("TIPGRANTS_PYTHON").unwrap_or_else(|_| "python3".into());
    let created = run(
        Command::new(&python).args(["-m", "venv"]).arg(&venv),
        "python3 -m venv",
    )
    .await;
    succeeded(&created, "python3 -m venv");
    let constraints = client_directory().join("constraints.txt");
    let installed = run(
        Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-compile",
            ])
            .arg(client_directory())
            // For the type check of the example: one pip run resolves everything at once.
            .args(["mypy", "types-protobuf", "types-grpcio"])
            // The constraints pin the isolated build's packages too (grpcio-tools, protobuf).
            .env("PIP_CONSTRAINT", &constraints),
        "pip install ./clients/python",
    )
    .await;
    succeeded(&installed, "pip install ./clients/python");
    venv.join("bin/python")
}

/// Type-checks the example against the installed package with `mypy --strict` (the settings of
/// `clients/python/pyproject.toml`): the generated stubs and the helpers carry their types.
async fn type_check_example(python: &Path, directory: &Path) -> Output {
    run(
        Command::new(python)
            .args(["-m", "mypy", "--cache-dir"])
            .arg(directory.join("mypy-cache"))
            .arg("examples/grantee_outcomes.py")
            .current_dir(client_directory()),
        "mypy",
    )
    .await
}

/// Runs the example with the server's address and `token`.
async fn example(app: &TestApp, python: &Path, token: &str, arguments: &[&str]) -> Output {
    run(
        Command::new(python)
            .arg(client_directory().join("examples/grantee_outcomes.py"))
            .args(arguments)
            .env("TIPGRANTS_SERVER", format!("http://{}", app.address))
            .env("TIPGRANTS_TOKEN", token)
            .current_dir(app.directory()),
        "the Python example",
    )
    .await
}

#[tokio::test]
async fn the_python_example_lists_a_grantees_grants_and_uploads_outcomes_from_a_csv_file() {
    let app = spawn_app().await;
    let organization = app.organization("Espoir Haiti Foundation", "HT").await;
    let grant = app.grant("SGTIP14PY0042", &organization.name).await;
    let project = app
        .project(
            &grant.name,
            new_project("Training officials", &["HT", "DO"]),
        )
        .await;
    app.indicator(&project.name, new_indicator(300)).await;
    app.activate(&grant.name)
        .await
        .expect("the grant activates");
    let grantee = app.token(pb::Role::Grantee, &organization.name).await;
    let report = app
        .outcome_reports(Some(&grantee))
        .create_outcome_report(pb::CreateOutcomeReportRequest {
            parent: project.name.clone(),
            outcome_report: Some(pb::OutcomeReport {
                period: "2014-Q2".into(),
                narrative: "Training began".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("the grantee starts a report")
        .into_inner();
    let header = "kind,country_code,outcome_date,quantity,officials_police,officials_prosecutors,description";
    let rows = "OFFICIALS_TRAINED,HT,2014-02-14,25,15,6,\"Victim identification, Port-au-Prince\"\n\
                OFFICIALS_TRAINED,FR,2014-03-19,12,12,,Santo Domingo";
    std::fs::write(
        app.directory().join("bad.csv"),
        format!("{header}\n{rows}\n"),
    )
    .unwrap();
    std::fs::write(
        app.directory().join("outcomes.csv"),
        format!("{header}\n{}\n", rows.replace(",FR,", ",DO,")),
    )
    .unwrap();
    let python = install_client(app.directory()).await;

    let listed = example(&app, &python, &grantee, &["grants"]).await;
    let bad_state = example(&app, &python, &grantee, &["grants", "--state", "OPEN"]).await;
    let refused = example(
        &app,
        &python,
        &grantee,
        &["upload", "--report", &report.name, "--file", "bad.csv"],
    )
    .await;
    let uploaded = example(
        &app,
        &python,
        &grantee,
        &["upload", "--report", &report.name, "--file", "outcomes.csv"],
    )
    .await;
    let typed = type_check_example(&python, app.directory()).await;
    let again = example(
        &app,
        &python,
        &grantee,
        &["upload", "--report", &report.name, "--file", "outcomes.csv"],
    )
    .await;

    let listed = succeeded(&listed, "grants");
    assert!(
        listed.contains("SGTIP14PY0042") && listed.contains("1 grant(s) in state ACTIVE"),
        "{listed}"
    );
    let refusal = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{refusal}");
    assert!(
        refusal.contains("line 3: country_code: FR"),
        "the refused row is named by its line and column: {refusal}"
    );
    let uploaded = succeeded(&uploaded, "upload");
    assert!(
        uploaded.contains(&format!("added 2 outcomes to {}", report.name)),
        "{uploaded}"
    );
    let again = succeeded(&again, "the same upload again");
    assert!(
        again.contains("already uploaded") && !again.contains("added 2"),
        "a replay says nothing was added again: {again}"
    );
    let bad_state = String::from_utf8_lossy(&bad_state.stderr).to_string();
    assert!(
        bad_state.contains("invalid choice") && !bad_state.contains("Traceback"),
        "a bad --state is a usage error, not a traceback: {bad_state}"
    );
    succeeded(&typed, "mypy --strict examples/grantee_outcomes.py");
    let outcomes = app
        .outcome_reports(Some(&grantee))
        .list_outcomes(pb::ListOutcomesRequest {
            parent: report.name.clone(),
            ..Default::default()
        })
        .await
        .expect("the grantee lists the outcomes")
        .into_inner()
        .outcomes;
    let mut added: Vec<(&str, i64)> = outcomes
        .iter()
        .map(|outcome| {
            let prosecutors = outcome
                .officials_trained
                .as_ref()
                .map_or(0, |o| o.prosecutors);
            (outcome.country_code.as_str(), prosecutors)
        })
        .collect();
    added.sort();
    assert_eq!(
        added,
        [("DO", 0), ("HT", 6)],
        "added once each: {outcomes:?}"
    );
}
