//! Benchmark of `UploadOutcomes`: outcomes per second for 1,000 and 10,000
//! outcomes, side by side in the same run with a multi-row `INSERT` of the
//! same rows through psql (the database's own speed, no server in between).
//! Measured, never asserted. The goal is at least a quarter of psql's rate.
//!
//! `BENCH_DATABASE_URL=postgres://...` (an empty database the benchmark may
//! migrate) runs it against PostgreSQL; `docs/benchmarks.md` has the command
//! that starts a throwaway server. Without it, it runs on a fresh SQLite file
//! and measures the upload alone (psql needs PostgreSQL).
//!
//! The rows are what a grantee uploads: officials trained with a breakdown by
//! role and victims identified with a breakdown by sex and age, each counting
//! toward an indicator. There are no milestone kinds among them: linking a
//! milestone is a lookup per row, which a plain INSERT does not do.
//!
//! Then the server's memory during one large upload: a server process of its
//! own (the release binary, on the same kind of database) takes 100,000
//! outcomes of about 1,000 bytes each (about 100 MB), generated as they are
//! sent; its resident memory is sampled every 10 ms while the client streams
//! and while the server writes, and its `VmHWM` is read before and after.
//! The goal (issue 18): at most 16 MiB more while the upload streams.
//! `BENCH_UPLOAD_MEMORY_OUTCOMES` sets the count (0 skips this part).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tipgrants::cli::outcome_csv;
use tipgrants::domain::names::OutcomeReportName;
use tipgrants::domain::outcome::{Breakdown, OfficialsTrained, Victims};
use tipgrants::pb::v1 as pb;
use tipgrants::pb::v1::outcome_report_service_client::OutcomeReportServiceClient;
use tipgrants::settings::Settings;
use tipgrants::startup::Application;
use tonic::transport::Channel;

mod common;
use common::{Server, bearer, load_average, median, psql_path, resident_kib};

/// Upload sizes, and how many times each is measured (the median counts).
const SIZES: &[usize] = &[1_000, 10_000];
const RUNS: usize = 3;

/// The `n`th outcome of an upload into a report of January-March 2014.
fn outcome(n: usize, indicator: &str) -> pb::Outcome {
    let day = 1 + n % 28;
    let month = 1 + n % 3;
    let country = if n.is_multiple_of(2) { "HT" } else { "DO" };
    if n.is_multiple_of(3) {
        pb::Outcome {
            kind: pb::OutcomeKind::VictimsIdentified as i32,
            country_code: country.into(),
            outcome_date: format!("2014-{month:02}-{day:02}"),
            quantity: 9,
            victims: Some(pb::VictimBreakdown {
                female: 6,
                male: 3,
                children: 4,
                adults: 5,
                ..Default::default()
            }),
            description: format!("Victims identified at the border, case file {n}"),
            ..Default::default()
        }
    } else {
        pb::Outcome {
            kind: pb::OutcomeKind::OfficialsTrained as i32,
            country_code: country.into(),
            outcome_date: format!("2014-{month:02}-{day:02}"),
            quantity: 40,
            officials_trained: Some(pb::OfficialsTrained {
                police: 30,
                prosecutors: 6,
                judges: 4,
                ..Default::default()
            }),
            description: format!("Victim identification course, session {n}"),
            evidence_uri: format!("https://example.org/rosters/{n}.pdf"),
            indicator: indicator.into(),
            ..Default::default()
        }
    }
}

/// A SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The same rows as the server writes them, as multi-row INSERTs of 1,000 rows in one transaction.
fn insert_sql(outcomes: &[pb::Outcome], report_id: &str) -> String {
    let mut sql = String::from("BEGIN;\n");
    for chunk in outcomes.chunks(1_000) {
        sql.push_str(
            "INSERT INTO outcomes (id, report_id, kind, country_code, outcome_date, fiscal_year, \
             quantity, breakdown, first_for_country, description, evidence_uri, indicator_id, \
             milestone_id, create_time, update_time, delete_time, revision) VALUES\n",
        );
        let rows: Vec<String> = chunk
            .iter()
            .map(|outcome| {
                let officials = outcome.officials_trained.unwrap_or_default();
                let victims = outcome.victims.unwrap_or_default();
                let breakdown = Breakdown {
                    officials_trained: OfficialsTrained {
                        police: officials.police,
                        prosecutors: officials.prosecutors,
                        judges: officials.judges,
                        labour_inspectors: officials.labour_inspectors,
                        social_workers: officials.social_workers,
                        other: officials.other,
                    },
                    victims: Victims {
                        female: victims.female,
                        male: victims.male,
                        other_sex: victims.other_sex,
                        children: victims.children,
                        adults: victims.adults,
                    },
                };
                let kind = pb::OutcomeKind::try_from(outcome.kind)
                    .expect("a kind")
                    .as_str_name()
                    .trim_start_matches("OUTCOME_KIND_");
                let indicator_id = outcome.indicator.rsplit('/').next().unwrap_or_default();
                format!(
                    "({}, {}, {}, {}, {}, 2014, {}, {}, {}, {}, {}, {}, NULL, now(), now(), NULL, 1)",
                    literal(&uuid::Uuid::now_v7().to_string()),
                    literal(report_id),
                    literal(kind),
                    literal(&outcome.country_code),
                    literal(&outcome.outcome_date),
                    outcome.quantity,
                    literal(&serde_json::to_string(&breakdown).expect("json")),
                    outcome.first_for_country,
                    literal(&outcome.description),
                    literal(&outcome.evidence_uri),
                    literal(indicator_id),
                )
            })
            .collect();
        sql.push_str(&rows.join(",\n"));
        sql.push_str(";\n");
    }
    sql.push_str("COMMIT;\n");
    sql
}

/// Runs `psql -f file` once and returns how long it took, its start and connection included.
async fn time_psql(url: &str, file: &std::path::Path) -> Duration {
    time_psql_with(url, &["-f".as_ref(), file.as_os_str()]).await
}

/// Runs psql with `arguments` after the connection flags; returns how long it took.
async fn time_psql_with(url: &str, arguments: &[&std::ffi::OsStr]) -> Duration {
    let started = Instant::now();
    let output = tokio::process::Command::new(psql_path())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url])
        .args(arguments)
        .output()
        .await
        .expect("run psql (set PSQL to its path)");
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// Sets up a grant `award` with one project, an indicator and a draft report per upload to come
/// (`count`); returns (indicator, report) of each.
async fn setup(channel: &Channel, token: &str, award: &str, count: usize) -> Vec<(String, String)> {
    let mut organizations =
        pb::organization_service_client::OrganizationServiceClient::new(channel.clone());
    let organization = organizations
        .create_organization(bearer(
            token,
            pb::CreateOrganizationRequest {
                organization: Some(pb::Organization {
                    display_name: "Benchmark NGO".into(),
                    kind: pb::OrganizationKind::Ngo as i32,
                    country_code: "HT".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("organisation")
        .into_inner();
    let grant = pb::grant_service_client::GrantServiceClient::new(channel.clone())
        .create_grant(bearer(
            token,
            pb::CreateGrantRequest {
                grant: Some(pb::Grant {
                    award_number: award.into(),
                    title: "Benchmark".into(),
                    grantee: organization.name,
                    instrument: pb::GrantInstrument::Grant as i32,
                    approach: pb::GrantApproach::ComprehensiveMultiYear as i32,
                    start_date: "2013-10-01".into(),
                    end_date: "2015-09-30".into(),
                    reporting_cadence: pb::ReportingCadence::Quarterly as i32,
                    program_officer: "bench".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("grant")
        .into_inner();
    let mut projects = pb::project_service_client::ProjectServiceClient::new(channel.clone());
    let mut reports = OutcomeReportServiceClient::new(channel.clone());
    let mut prepared = Vec::new();
    for index in 0..count {
        let project = projects
            .create_project(bearer(
                token,
                pb::CreateProjectRequest {
                    parent: grant.name.clone(),
                    project: Some(pb::Project {
                        title: format!("Benchmark project {index}"),
                        summary: "Training and identification".into(),
                        country_codes: vec!["HT".into(), "DO".into()],
                        pillars: vec![pb::Pillar::Protection as i32],
                        activity_kinds: vec![pb::ActivityKind::LawEnforcementTraining as i32],
                        start_date: "2014-01-01".into(),
                        end_date: "2015-09-30".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("project")
            .into_inner();
        let indicator = projects
            .create_indicator(bearer(
                token,
                pb::CreateIndicatorRequest {
                    parent: project.name.clone(),
                    indicator: Some(pb::Indicator {
                        display_name: "Officials trained".into(),
                        unit: "officials".into(),
                        outcome_kind: pb::OutcomeKind::OfficialsTrained as i32,
                        targets: vec![pb::IndicatorTarget {
                            fiscal_year: 2014,
                            period: String::new(),
                            value: 1_000,
                        }],
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("indicator")
            .into_inner()
            .name;
        let report = reports
            .create_outcome_report(bearer(
                token,
                pb::CreateOutcomeReportRequest {
                    parent: project.name,
                    outcome_report: Some(pb::OutcomeReport {
                        period: "2014-Q2".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("report")
            .into_inner();
        prepared.push((indicator, report.name));
    }
    prepared
}

#[tokio::main]
async fn main() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let mut settings = Settings::load_from(None, Vec::<(String, String)>::new()).expect("defaults");
    settings.server.listen_address = "127.0.0.1:0".into();
    // The name Server::start reads: on PostgreSQL the memory part's server shares the database.
    settings.auth.bootstrap_token_file = directory.path().join("admin-token").display().to_string();
    let postgres_url = std::env::var("BENCH_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty());
    match &postgres_url {
        Some(url) => settings.database.url = url.clone().into(),
        None => {
            settings.database.sqlite_path =
                directory.path().join("bench.sqlite3").display().to_string()
        }
    }
    let application = Application::build(settings).await.expect("server builds");
    let backend = application.store().backend();
    let address = application.address();
    tokio::spawn(application.run_until_stopped(std::future::pending()));
    let token = std::fs::read_to_string(directory.path().join("admin-token"))
        .expect("token")
        .trim()
        .to_string();
    let channel = Channel::from_shared(format!("http://{address}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let prepared = setup(&channel, &token, "BENCH-UPLOAD", SIZES.len()).await;
    let mut client = OutcomeReportServiceClient::new(channel.clone());
    println!("UploadOutcomes benchmark ({backend:?}), median of {RUNS} runs");
    // psql's own start and connection, for the column without them.
    let mut starts = Vec::new();
    if let Some(url) = &postgres_url {
        for _ in 0..RUNS {
            starts.push(time_psql_with(url, &["-c".as_ref(), "SELECT 1".as_ref()]).await);
        }
    }
    let psql_start = if starts.is_empty() {
        Duration::ZERO
    } else {
        median(starts)
    };
    println!(
        "{:>8}  {:>20}  {:>18}  {:>12}  {:>26}",
        "outcomes",
        "UploadOutcomes (/s)",
        "psql -f (/s)",
        "upload/psql",
        "psql without its start (/s)"
    );

    let memory_before = resident_kib();
    for (&size, (indicator, report)) in SIZES.iter().zip(&prepared) {
        let outcomes: Vec<pb::Outcome> = (0..size).map(|n| outcome(n, indicator)).collect();
        let report_id = report.rsplit('/').next().expect("report id");
        let sql_file = directory.path().join(format!("insert-{size}.sql"));
        let mut uploads = Vec::new();
        let mut inserts = Vec::new();
        for _ in 0..RUNS {
            let messages: Vec<pb::UploadOutcomesRequest> = std::iter::once(
                pb::upload_outcomes_request::Item::Header(pb::UploadOutcomesHeader {
                    outcome_report: report.clone(),
                    request_id: String::new(),
                }),
            )
            .chain(
                outcomes
                    .iter()
                    .cloned()
                    .map(pb::upload_outcomes_request::Item::Outcome),
            )
            .map(|item| pb::UploadOutcomesRequest { item: Some(item) })
            .collect();
            let started = Instant::now();
            let answer = client
                .upload_outcomes(bearer(&token, tokio_stream::iter(messages)))
                .await
                .expect("upload")
                .into_inner();
            uploads.push(started.elapsed());
            assert_eq!(answer.outcome_count, size as i64);
            if let Some(url) = &postgres_url {
                // New ids each run: the same rows again, as a second upload writes them.
                std::fs::write(&sql_file, insert_sql(&outcomes, report_id)).expect("write the SQL");
                inserts.push(time_psql(url, &sql_file).await);
            }
        }
        let upload_rate = rate(size, median(uploads));
        if inserts.is_empty() {
            println!(
                "{size:>8}  {upload_rate:>20.0}  {:>18}  {:>12}  {:>26}",
                "-", "-", "-"
            );
        } else {
            let insert = median(inserts);
            let insert_rate = rate(size, insert);
            println!(
                "{size:>8}  {upload_rate:>20.0}  {insert_rate:>18.0}  {:>12.2}  {:>26.0}",
                upload_rate / insert_rate,
                rate(size, insert.saturating_sub(psql_start)),
            );
        }
    }
    println!(
        "psql's start and connection: {psql_start:.1?}; resident memory (client and server): \
         before {} KiB, after {} KiB",
        memory_before,
        resident_kib()
    );

    // What `tipgrants outcomes upload` does before the first message: read the CSV.
    let size = *SIZES.last().expect("a size");
    let (indicator, report) = prepared.last().expect("a report");
    let mut csv = String::from(
        "kind,country_code,outcome_date,quantity,officials_police,officials_prosecutors,officials_judges,victims_female,victims_male,victims_children,victims_adults,description,evidence_uri,indicator\n",
    );
    for n in 0..size {
        let o = outcome(n, indicator);
        let officials = o.officials_trained.unwrap_or_default();
        let victims = o.victims.unwrap_or_default();
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},\"{}\",{},{}\n",
            pb::OutcomeKind::try_from(o.kind)
                .expect("a kind")
                .as_str_name(),
            o.country_code,
            o.outcome_date,
            o.quantity,
            officials.police,
            officials.prosecutors,
            officials.judges,
            victims.female,
            victims.male,
            victims.children,
            victims.adults,
            o.description,
            o.evidence_uri,
            o.indicator
        ));
    }
    let report: OutcomeReportName = report.parse().expect("report name");
    let started = Instant::now();
    let file = outcome_csv::read(csv.as_bytes(), &report).expect("the CSV reads");
    let elapsed = started.elapsed();
    assert_eq!(file.outcomes.len(), size);
    println!(
        "reading the CSV of {size} outcomes (tipgrants outcomes upload): {elapsed:.1?}, {:.0}/s",
        rate(size, elapsed)
    );
    measure_memory(postgres_url.as_deref(), directory.path()).await;
}

/// The outcomes of the memory measurement, unless `BENCH_UPLOAD_MEMORY_OUTCOMES` says otherwise.
const MEMORY_OUTCOMES: usize = 100_000;
/// The length of each one's description: with the other fields, about 1,100 bytes an outcome.
const MEMORY_DESCRIPTION_BYTES: usize = 1_000;

/// The `n`th outcome of the memory measurement: `outcome(n)` with a long description.
fn long_outcome(n: usize, indicator: &str) -> pb::Outcome {
    let mut long = outcome(n, indicator);
    while long.description.len() < MEMORY_DESCRIPTION_BYTES {
        long.description
            .push_str(" Participants practised interviews and referrals.");
    }
    long.description.truncate(MEMORY_DESCRIPTION_BYTES);
    long
}

/// One large upload into a server process of its own: its memory while the client streams
/// and while it writes, and the upload's rate.
async fn measure_memory(postgres_url: Option<&str>, directory: &std::path::Path) {
    let count = std::env::var("BENCH_UPLOAD_MEMORY_OUTCOMES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(MEMORY_OUTCOMES);
    if count == 0 {
        return;
    }
    // PostgreSQL: the same database (and so the same admin token); SQLite: a file of its own.
    let own_directory = directory.join("memory");
    std::fs::create_dir_all(&own_directory).expect("a directory");
    let sqlite_path = own_directory.join("memory.sqlite3").display().to_string();
    let (environment, token_directory) = match postgres_url {
        Some(url) => ([("TIPGRANTS__DATABASE__URL", url)], directory),
        None => (
            [("TIPGRANTS__DATABASE__SQLITE_PATH", sqlite_path.as_str())],
            own_directory.as_path(),
        ),
    };
    let server = Arc::new(Server::start(&environment, token_directory).await);
    let prepared = setup(&server.channel, &server.token, "BENCH-UPLOAD-MEMORY", 1).await;
    let (indicator, report) = prepared.into_iter().next().expect("a report");
    let before_resident = server.resident_kib();
    let before_peak = server.peak_kib();

    let streamed = Arc::new(AtomicBool::new(false));
    let last_sent = Arc::new(std::sync::Mutex::new(None));
    let bytes = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (server, streamed, stop) = (server.clone(), streamed.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut while_streaming, mut overall) = (0, 0);
            while !stop.load(Ordering::Relaxed) {
                let resident = server.resident_kib();
                overall = u64::max(overall, resident);
                if !streamed.load(Ordering::Relaxed) {
                    while_streaming = u64::max(while_streaming, resident);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (while_streaming, overall)
        })
    };
    let header = pb::upload_outcomes_request::Item::Header(pb::UploadOutcomesHeader {
        outcome_report: report,
        request_id: String::new(),
    });
    let messages = {
        let (streamed, bytes, last_sent) = (streamed.clone(), bytes.clone(), last_sent.clone());
        std::iter::once(header)
            .chain((0..count).map(move |n| {
                pb::upload_outcomes_request::Item::Outcome(long_outcome(n, &indicator))
            }))
            .enumerate()
            .map(move |(index, item)| {
                let message = pb::UploadOutcomesRequest { item: Some(item) };
                bytes.fetch_add(
                    prost::Message::encoded_len(&message) as u64,
                    Ordering::Relaxed,
                );
                if index == count {
                    streamed.store(true, Ordering::Relaxed);
                    *last_sent.lock().expect("the time") = Some(Instant::now());
                }
                message
            })
    };
    let started = Instant::now();
    let answer = OutcomeReportServiceClient::new(server.channel.clone())
        .upload_outcomes(server.authorized(tokio_stream::iter(messages)))
        .await
        .expect("the upload")
        .into_inner();
    let elapsed = started.elapsed();
    let after_last = last_sent
        .lock()
        .expect("the time")
        .map(|sent| sent.elapsed())
        .unwrap_or_default();
    stop.store(true, Ordering::Relaxed);
    let (while_streaming, overall) = sampler.await.expect("the sampler");
    assert_eq!(answer.outcome_count, count as i64);
    let mib = |kib: u64| kib as f64 / 1024.0;
    let sent = bytes.load(Ordering::Relaxed);
    println!(
        "server memory during one upload of {count} outcomes ({:.1} MB sent) in {elapsed:.1?}, \
         {:.0} outcomes/s, of which {after_last:.1?} after the last message was sent (the write); \
         load average {}:",
        sent as f64 / 1e6,
        rate(count, elapsed),
        load_average()
    );
    println!(
        "| resident before | peak growth while streaming (sampled) | peak growth in all (sampled) | VmHWM before -> after |"
    );
    println!("| --- | --- | --- | --- |");
    println!(
        "| {:.1} MiB | {:+.1} MiB | {:+.1} MiB | {:.1} -> {:.1} MiB |",
        mib(before_resident),
        mib(while_streaming) - mib(before_resident),
        mib(overall) - mib(before_resident),
        mib(before_peak),
        mib(server.peak_kib()),
    );
}
