//! `tipgrants outcomes upload`: the real binary uploads a CSV file into a
//! grantee's draft report on a real server (`spawn_app()`, the pass's
//! database) and the tests read back what was written with the generated
//! client: good files, bad rows by line and column, broken CSV without a
//! call, a rerun that adds nothing twice, exit statuses, TLS.

use std::path::{Path, PathBuf};
use std::process::Output;

use tipgrants::pb::v1::outcome_report_service_client::OutcomeReportServiceClient;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

use crate::helpers::*;
use crate::transport::write_pki;

/// A grantee with a draft report of its project in HT and NA.
struct Draft {
    grantee_token: String,
    report: pb::OutcomeReport,
    directory: tempfile::TempDir,
}

fn authorized<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let value = MetadataValue::try_from(format!("Bearer {token}")).expect("ascii token");
    request.metadata_mut().insert("authorization", value);
    request
}

fn reports(app: &TestApp) -> OutcomeReportServiceClient<Channel> {
    OutcomeReportServiceClient::new(app.channel())
}

/// The grantee's organisation, grant and project (set up by the admin), its token, and the
/// draft report it starts for the project's first reporting period.
async fn draft_report(app: &TestApp) -> Draft {
    let organization = app.organization("Haiti Anti-Trafficking NGO", "HT").await;
    let grant = app.grant("HT-2014-01", &organization.name).await;
    let project = app
        .project(&grant.name, new_project("Haiti and Namibia", &["HT", "NA"]))
        .await;
    let grantee_token = app.token(pb::Role::Grantee, &organization.name).await;
    let mut client = reports(app);
    let periods = client
        .list_reporting_periods(authorized(
            &grantee_token,
            pb::ListReportingPeriodsRequest {
                parent: project.name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("the grantee lists its reporting periods")
        .into_inner()
        .reporting_periods;
    let first = periods.first().expect("the project has reporting periods");
    let report = client
        .create_outcome_report(authorized(
            &grantee_token,
            pb::CreateOutcomeReportRequest {
                parent: project.name.clone(),
                outcome_report: Some(pb::OutcomeReport {
                    period: first.period.clone(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("the grantee starts a report")
        .into_inner();
    Draft {
        grantee_token,
        report,
        directory: tempfile::tempdir().expect("temporary directory"),
    }
}

impl Draft {
    /// A date inside the report's period.
    fn date(&self) -> &str {
        &self.report.period_start_date
    }

    fn write_csv(&self, file_name: &str, text: &str) -> PathBuf {
        let path = self.directory.path().join(file_name);
        std::fs::write(&path, text).expect("write the CSV file");
        path
    }

    /// Three good rows: officials trained, a law enacted (a milestone), victims identified.
    fn good_csv(&self) -> String {
        let date = self.date();
        format!(
            "kind,country_code,outcome_date,quantity,officials_police,officials_judges,victims_female,victims_children,first_for_country,description\n\
             OFFICIALS_TRAINED,HT,{date},25,15,10,,,false,\"Course on victim identification, Port-au-Prince\"\n\
             OUTCOME_KIND_LAW_ENACTED,HT,{date},1,,,,,no,Anti-trafficking law\n\
             victims_identified,NA,{date},7,,,5,2,,Identified at the border\n"
        )
    }

    /// The report as the server has it now.
    async fn report(&self, app: &TestApp) -> pb::OutcomeReport {
        reports(app)
            .get_outcome_report(authorized(
                &self.grantee_token,
                pb::GetOutcomeReportRequest {
                    name: self.report.name.clone(),
                },
            ))
            .await
            .expect("the grantee reads its report")
            .into_inner()
    }

    async fn outcomes(&self, app: &TestApp) -> Vec<pb::Outcome> {
        reports(app)
            .list_outcomes(authorized(
                &self.grantee_token,
                pb::ListOutcomesRequest {
                    parent: self.report.name.clone(),
                    page_size: 500,
                    ..Default::default()
                },
            ))
            .await
            .expect("the grantee lists the report's outcomes")
            .into_inner()
            .outcomes
    }

    /// Runs `tipgrants outcomes upload` of `file` into the report, with the grantee's token.
    async fn upload(&self, server: &str, file: &Path, extra: &[&str]) -> Run {
        run_upload(server, &self.grantee_token, &self.report.name, file, extra).await
    }
}

/// What the binary did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "exit {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs the real binary without blocking the test's runtime (the server runs on it).
async fn run_upload(server: &str, token: &str, report: &str, file: &Path, extra: &[&str]) -> Run {
    let output: Output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tipgrants"))
        .args(["outcomes", "upload", "--server", server, "--report", report])
        .arg("--file")
        .arg(file)
        .args(extra)
        .env("TIPGRANTS_TOKEN", token)
        .env_remove("TIPGRANTS_SERVER")
        .output()
        .await
        .expect("run the tipgrants binary");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn server_of(app: &TestApp) -> String {
    format!("http://{}", app.address)
}

#[tokio::test]
async fn a_grantee_uploads_a_csv_file_and_its_rows_become_the_reports_outcomes() {
    let app = spawn_app().await;
    let draft = draft_report(&app).await;
    let file = draft.write_csv("outcomes.csv", &draft.good_csv());

    let run = draft.upload(&server_of(&app), &file, &[]).await;

    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stdout.trim(),
        format!(
            "added 3 outcomes to {}; 1 milestone linked",
            draft.report.name
        )
    );
    let outcomes = draft.outcomes(&app).await;
    assert_eq!(outcomes.len(), 3);
    let trained = &outcomes[0];
    assert_eq!(trained.kind, pb::OutcomeKind::OfficialsTrained as i32);
    assert_eq!(
        (trained.country_code.as_str(), trained.quantity),
        ("HT", 25)
    );
    assert_eq!(
        trained.description,
        "Course on victim identification, Port-au-Prince"
    );
    let officials = trained.officials_trained.unwrap_or_default();
    assert_eq!((officials.police, officials.judges), (15, 10));
    assert_eq!(outcomes[1].kind, pb::OutcomeKind::LawEnacted as i32);
    assert!(outcomes[1].milestone.starts_with("milestones/"));
    let victims = outcomes[2].victims.unwrap_or_default();
    assert_eq!((victims.female, victims.children), (5, 2));
    assert_eq!(outcomes[2].country_code, "NA");
}

#[tokio::test]
async fn a_file_with_bad_rows_prints_each_line_and_column_and_adds_nothing() {
    let app = spawn_app().await;
    let draft = draft_report(&app).await;
    let date = draft.date().to_string();
    let file = draft.write_csv(
        "outcomes.csv",
        &format!(
            "kind,country_code,outcome_date,quantity,officials_police,officials_judges\n\
             OFFICIALS_TRAINED,HT,{date},25,15,10\n\
             OFFICIALS_TRAINED,FR,{date},25,15,10\n\
             OFFICIALS_TRAINED,HT,1999-01-01,25,15,10\n\
             OFFICIALS_TRAINED,HT,{date},20,15,10\n"
        ),
    );

    let run = draft.upload(&server_of(&app), &file, &[]).await;

    assert_eq!(run.code, Some(1), "{run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(
        lines[0].contains("refused by the server (InvalidArgument"),
        "{run:?}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("line 3: country_code: ")),
        "{run:?}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("line 4: outcome_date: ")),
        "{run:?}"
    );
    assert!(
        lines.contains(&"line 5: officials_*: the parts add up to 25, more than the quantity 20"),
        "{run:?}"
    );
    assert!(!run.stderr.contains("line 2:"), "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(draft.outcomes(&app).await.is_empty());
}

#[tokio::test]
async fn a_file_whose_every_row_is_bad_gets_the_servers_whole_list_of_lines() {
    let app = spawn_app().await;
    let draft = draft_report(&app).await;
    let mut text = String::from("kind,country_code,outcome_date,quantity,description\n");
    for row in 0..250 {
        text.push_str(&format!(
            "OFFICIALS_TRAINED,HT,1999-01-01,25,Course number {row} on victim identification\n"
        ));
    }
    let file = draft.write_csv("outcomes.csv", &text);

    let run = draft.upload(&server_of(&app), &file, &[]).await;

    // The server names the first fifty rows (an answer lists at most fifty violations).
    assert_eq!(run.code, Some(1), "{run:?}");
    let named: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.contains(": outcome_date: 1999-01-01 is outside the report's period"))
        .collect();
    assert_eq!(named.len(), 50, "{run:?}");
    assert!(named[0].starts_with("line 2: "), "{run:?}");
    assert!(draft.outcomes(&app).await.is_empty());
}

#[tokio::test]
async fn a_broken_csv_row_is_reported_by_line_without_calling_the_server() {
    let app = spawn_app().await;
    let draft = draft_report(&app).await;
    let before = draft.report(&app).await;
    let date = draft.date().to_string();
    let file = draft.write_csv(
        "outcomes.csv",
        &format!(
            "kind,country_code,outcome_date,quantity,description\n\
             OFFICIALS_TRAINED,HT,{date},25,Training\n\
             OFFICIALS_TRAINED,HT,{date},25,Training in Jacmel, Haiti\n\
             OFFICIALS_TRAINED,HT,{date},twelve,Training\n"
        ),
    );

    let run = draft.upload(&server_of(&app), &file, &[]).await;
    // Nothing listens on a port that was just released: a call would fail to connect (exit 2).
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let without_server = draft
        .upload(&format!("http://{closed_port}"), &file, &[])
        .await;

    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(
        run.stderr.lines().skip(1).collect::<Vec<_>>(),
        [
            "line 3: the row has 6 values, the header 5 columns (a value with a comma needs \"quotes\")",
            "line 4: quantity: \"twelve\" is not a whole number",
        ],
        "{run:?}"
    );
    assert!(draft.outcomes(&app).await.is_empty());
    // No call reached the server: the report is exactly as it was.
    assert_eq!(draft.report(&app).await, before);
    assert_eq!(without_server.code, Some(1), "{without_server:?}");
    assert_eq!(without_server.stderr, run.stderr);
}

#[tokio::test]
async fn running_the_same_upload_again_adds_nothing_twice_and_says_so() {
    let app = spawn_app().await;
    let draft = draft_report(&app).await;
    let file = draft.write_csv("outcomes.csv", &draft.good_csv());
    let first = draft.upload(&server_of(&app), &file, &[]).await;

    let again = draft.upload(&server_of(&app), &file, &[]).await;

    assert_eq!(first.code, Some(0), "{first:?}");
    assert_eq!(again.code, Some(0), "{again:?}");
    assert!(
        again.stdout.starts_with(&format!(
            "already uploaded: {} got these 3 outcomes from an earlier run of this upload (request id csv-",
            draft.report.name
        )),
        "{again:?}"
    );
    assert!(again.stdout.trim_end().ends_with("nothing was added again"));
    assert_eq!(draft.outcomes(&app).await.len(), 3);

    // The same rows once more on purpose: a new request id.
    let on_purpose = draft
        .upload(&server_of(&app), &file, &["--request-id", "second-batch"])
        .await;
    assert_eq!(on_purpose.code, Some(0), "{on_purpose:?}");
    assert!(on_purpose.stdout.starts_with("added 3 outcomes"));
    assert_eq!(draft.outcomes(&app).await.len(), 6);
}

#[tokio::test]
async fn an_upload_into_a_submitted_report_is_refused_with_the_servers_reason() {
    let app = spawn_app().await;
    let draft = draft_report(&app).await;
    let first = draft.write_csv("outcomes.csv", &draft.good_csv());
    assert_eq!(
        draft.upload(&server_of(&app), &first, &[]).await.code,
        Some(0)
    );
    reports(&app)
        .submit_outcome_report(authorized(
            &draft.grantee_token,
            pb::SubmitOutcomeReportRequest {
                name: draft.report.name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("the grantee submits the report");
    let later = draft.write_csv("later.csv", "kind\nOTHER\n");

    let run = draft.upload(&server_of(&app), &later, &[]).await;

    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .contains("refused by the server (FailedPrecondition, OUTCOME_REPORT_LOCKED)"),
        "{run:?}"
    );
    assert_eq!(draft.outcomes(&app).await.len(), 3);
}

#[tokio::test]
async fn a_wrong_token_a_missing_token_or_no_server_is_exit_status_2() {
    let app = spawn_app().await;
    let draft = draft_report(&app).await;
    let file = draft.write_csv("outcomes.csv", &draft.good_csv());
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");

    let wrong_token = run_upload(
        &server_of(&app),
        "tg_not-a-token",
        &draft.report.name,
        &file,
        &[],
    )
    .await;
    let no_token = run_upload(&server_of(&app), "", &draft.report.name, &file, &[]).await;
    let no_server = draft
        .upload(&format!("http://{closed_port}"), &file, &[])
        .await;
    let no_file = draft
        .upload(
            &server_of(&app),
            &draft.directory.path().join("missing.csv"),
            &[],
        )
        .await;

    for (run, says) in [
        (&wrong_token, "the server did not accept the token"),
        (&no_token, "no token: pass --token or set TIPGRANTS_TOKEN"),
        (&no_server, "cannot connect to http://"),
        (&no_file, "cannot read "),
    ] {
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(run.stderr.contains(says), "{says}: {run:?}");
    }
    assert!(draft.outcomes(&app).await.is_empty());
}

#[tokio::test]
async fn over_https_the_upload_trusts_the_ca_certificate_it_is_given_and_no_other() {
    let directory = tempfile::tempdir().unwrap();
    write_pki(directory.path());
    let ca = directory.path().join("ca.crt");
    let app = spawn_app_with(|settings| {
        settings.tls.enabled = true;
        settings.tls.certificate_path = directory.path().join("server.crt").display().to_string();
        settings.tls.private_key_path = directory.path().join("server.key").display().to_string();
    })
    .await;
    let server = format!("https://localhost:{}", app.address.port());
    let file = directory.path().join("outcomes.csv");
    std::fs::write(&file, "kind\nOTHER\n").unwrap();
    let report = "grants/g1/projects/p1/outcomeReports/r1";

    let trusted = run_upload(
        &server,
        &app.admin_token,
        report,
        &file,
        &["--ca-cert", &ca.display().to_string()],
    )
    .await;
    let system_roots = run_upload(&server, &app.admin_token, report, &file, &[]).await;

    // Over TLS with the right authority the server answers: there is no such report.
    assert_eq!(trusted.code, Some(1), "{trusted:?}");
    assert!(
        trusted
            .stderr
            .contains("refused by the server (NotFound, RESOURCE_NOT_FOUND)"),
        "{trusted:?}"
    );
    // The system's authorities do not know the test's: the connection is refused.
    assert_eq!(system_roots.code, Some(2), "{system_roots:?}");
}

#[tokio::test]
async fn a_self_signed_server_certificate_is_trusted_without_ca_true_and_refused_with_it_saying_what_to_do()
 {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let directory = tempfile::tempdir().unwrap();
    // One self-signed certificate made as a CA (what `openssl req -x509` makes by default), one not.
    let write = |name: &str, is_ca: IsCa| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".into()]).unwrap();
        params.is_ca = is_ca;
        let certificate = params.self_signed(&key).unwrap();
        std::fs::write(
            directory.path().join(format!("{name}.crt")),
            certificate.pem(),
        )
        .unwrap();
        std::fs::write(
            directory.path().join(format!("{name}.key")),
            key.serialize_pem(),
        )
        .unwrap();
    };
    write("as-ca", IsCa::Ca(BasicConstraints::Unconstrained));
    write("leaf", IsCa::ExplicitNoCa);
    let file = directory.path().join("outcomes.csv");
    std::fs::write(&file, "kind\nOTHER\n").unwrap();
    let report = "grants/g1/projects/p1/outcomeReports/r1";
    let mut runs = Vec::new();
    for name in ["as-ca", "leaf"] {
        let app = spawn_app_with(|settings| {
            settings.tls.enabled = true;
            settings.tls.certificate_path = directory
                .path()
                .join(format!("{name}.crt"))
                .display()
                .to_string();
            settings.tls.private_key_path = directory
                .path()
                .join(format!("{name}.key"))
                .display()
                .to_string();
        })
        .await;
        let server = format!("https://localhost:{}", app.address.port());
        let certificate = directory.path().join(format!("{name}.crt"));
        runs.push(
            run_upload(
                &server,
                &app.admin_token,
                report,
                &file,
                &["--ca-cert", &certificate.display().to_string()],
            )
            .await,
        );
    }

    let (as_ca, leaf) = (&runs[0], &runs[1]);
    assert_eq!(as_ca.code, Some(2), "{as_ca:?}");
    assert!(as_ca.stderr.contains("CaUsedAsEndEntity"), "{as_ca:?}");
    assert!(
        as_ca.stderr.contains("basicConstraints=critical,CA:FALSE"),
        "the error says what to do: {as_ca:?}"
    );
    // Made without CA:TRUE, the same kind of certificate is trusted: the server answers.
    assert_eq!(leaf.code, Some(1), "{leaf:?}");
    assert!(leaf.stderr.contains("RESOURCE_NOT_FOUND"), "{leaf:?}");
}
