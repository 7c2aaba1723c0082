//! Benchmarks: speed and memory of the paths that matter, measured (never
//! asserted). `cargo bench --bench api` runs them against a fresh embedded
//! SQLite file; with `BENCH_DATABASE_URL=postgres://...` (an empty database
//! the benchmark may migrate) against PostgreSQL. It prints one table.
//!
//! - token check: a cached bearer-token check, the cost every RPC pays;
//! - call metrics: what recording a call's metrics adds to it (nothing recorded when off);
//! - GetOrganization: one authenticated unary call over loopback;
//! - CreateOrganization: one audited, transactional write;
//! - ListGrants: a page of 100 grants with their obligated money;
//! - resident memory before and after.
//!
//! `BENCH_OBSERVE=metrics` runs them with Prometheus metrics on, `=traces` with
//! OpenTelemetry traces too (to an in-memory exporter): the cost of observing.

use std::time::{Duration, Instant};

use http::HeaderMap;
use tipgrants::api::auth::Authenticator;
use tipgrants::pb::v1 as pb;
use tipgrants::settings::Settings;
use tipgrants::startup::Application;
use tonic::transport::Channel;

mod common;
use common::{bearer, resident_kib};

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    let total: Duration = samples.iter().sum();
    println!(
        "{name:<34} n={:<6} mean={:>9.1?} p50={:>9.1?} p99={:>9.1?}",
        samples.len(),
        total / samples.len() as u32,
        at(0.50),
        at(0.99)
    );
}

#[tokio::main]
async fn main() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let mut settings = Settings::load_from(None, Vec::<(String, String)>::new()).expect("defaults");
    settings.server.listen_address = "127.0.0.1:0".into();
    settings.auth.bootstrap_token_file = directory.path().join("token").display().to_string();
    match std::env::var("BENCH_DATABASE_URL") {
        Ok(url) if !url.is_empty() => settings.database.url = url.into(),
        _ => {
            settings.database.sqlite_path =
                directory.path().join("bench.sqlite3").display().to_string()
        }
    }
    // BENCH_OBSERVE=metrics: Prometheus metrics on (an ops listener); =traces: and traces to an
    // in-memory exporter, with the log at warn so only the spans' own cost shows.
    let observe = std::env::var("BENCH_OBSERVE").unwrap_or_default();
    let metrics_on = observe == "metrics" || observe == "traces";
    if metrics_on {
        settings.server.health_listen_address = "127.0.0.1:0".into();
    }
    let _telemetry = (observe == "traces").then(|| {
        settings.telemetry.filter = "warn".into();
        tipgrants::telemetry::init_with_span_exporter(
            &settings.telemetry,
            opentelemetry_sdk::trace::InMemorySpanExporter::default(),
        )
    });
    let memory_before = resident_kib();
    let application = Application::build(settings.clone())
        .await
        .expect("server builds");
    let store = application.store();
    let address = application.address();
    tokio::spawn(application.run_until_stopped(std::future::pending()));
    let token = std::fs::read_to_string(directory.path().join("token"))
        .expect("token")
        .trim()
        .to_string();
    let channel = Channel::from_shared(format!("http://{address}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    println!(
        "tipgrants benchmarks ({:?}, BENCH_OBSERVE={observe:?})",
        store.backend()
    );

    let authenticator = Authenticator::new(store.clone(), Duration::from_secs(30), true);
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    let method = "/tipgrants.v1.OrganizationService/GetOrganization";
    authenticator
        .authorize(method, &headers)
        .await
        .expect("warm the cache");
    let samples = (0..20_000).map(|_| Instant::now()).collect::<Vec<_>>();
    let mut durations = Vec::with_capacity(samples.len());
    for _ in samples {
        let started = Instant::now();
        authenticator
            .authorize(method, &headers)
            .await
            .expect("authorized");
        durations.push(started.elapsed());
    }
    report("token check (cached)", durations);

    // What the metrics add to every call: the method's label, in flight, count and latency.
    let served = tipgrants::api::deadline::served_methods(&tipgrants::pb::SERVED_DESCRIPTOR_SETS)
        .expect("the descriptor sets decode");
    let call_metrics = tipgrants::telemetry::metrics::RpcMetrics::new(
        metrics_on,
        tipgrants::telemetry::metrics::KnownMethods::new(
            served
                .into_iter()
                .map(|method| (method.service, method.name)),
        ),
    );
    let mut durations = Vec::with_capacity(20_000);
    for _ in 0..20_000 {
        let started = Instant::now();
        let served = call_metrics.method(method);
        call_metrics.start(served, started).finish(tonic::Code::Ok);
        durations.push(started.elapsed());
    }
    report("call metrics (start, finish)", durations);

    let mut organizations =
        pb::organization_service_client::OrganizationServiceClient::new(channel.clone());
    let mut durations = Vec::new();
    let mut last = String::new();
    for index in 0..1_000 {
        let request = pb::CreateOrganizationRequest {
            organization: Some(pb::Organization {
                display_name: format!("Benchmark NGO {index}"),
                kind: pb::OrganizationKind::Ngo as i32,
                country_code: "HT".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        };
        let started = Instant::now();
        last = organizations
            .create_organization(bearer(&token, request))
            .await
            .expect("create")
            .into_inner()
            .name;
        durations.push(started.elapsed());
    }
    report("CreateOrganization (audited write)", durations);

    let mut durations = Vec::new();
    for _ in 0..5_000 {
        let started = Instant::now();
        organizations
            .get_organization(bearer(
                &token,
                pb::GetOrganizationRequest { name: last.clone() },
            ))
            .await
            .expect("get");
        durations.push(started.elapsed());
    }
    report("GetOrganization (unary read)", durations);

    let mut reference =
        pb::reference_data_service_client::ReferenceDataServiceClient::new(channel.clone());
    reference
        .create_funding_account(bearer(
            &token,
            pb::CreateFundingAccountRequest {
                funding_account_id: "ESF".into(),
                funding_account: Some(pb::FundingAccount {
                    display_name: "Economic Support Fund".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("account");
    pb::funds_service_client::FundsServiceClient::new(channel.clone())
        .create_appropriation(bearer(
            &token,
            pb::CreateAppropriationRequest {
                parent: "fundingAccounts/ESF".into(),
                appropriation: Some(pb::Appropriation {
                    fiscal_year: 2014,
                    amount: 1_000_000_000,
                    availability_years: 2,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("appropriation");
    let mut grants = pb::grant_service_client::GrantServiceClient::new(channel.clone());
    for index in 0..300 {
        let grant = grants
            .create_grant(bearer(
                &token,
                pb::CreateGrantRequest {
                    grant: Some(pb::Grant {
                        award_number: format!("BENCH-{index}"),
                        title: "Benchmark".into(),
                        grantee: last.clone(),
                        instrument: pb::GrantInstrument::Grant as i32,
                        approach: pb::GrantApproach::ShortTermTechnicalAssistance as i32,
                        start_date: "2013-10-01".into(),
                        end_date: "2014-09-30".into(),
                        reporting_cadence: pb::ReportingCadence::Annual as i32,
                        program_officer: "bench".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("grant")
            .into_inner();
        for kind in [
            pb::ObligationKind::InitialAward,
            pb::ObligationKind::Increment,
        ] {
            grants
                .create_obligation(bearer(
                    &token,
                    pb::CreateObligationRequest {
                        parent: grant.name.clone(),
                        obligation: Some(pb::Obligation {
                            kind: kind as i32,
                            funding_account: "fundingAccounts/ESF".into(),
                            fiscal_year: 2014,
                            amount: 1_000_000,
                            obligation_date: "2014-03-01".into(),
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    },
                ))
                .await
                .expect("obligation");
        }
    }
    let mut durations = Vec::new();
    for _ in 0..300 {
        let started = Instant::now();
        let page = grants
            .list_grants(bearer(
                &token,
                pb::ListGrantsRequest {
                    page_size: 100,
                    filter: "fiscal_year = 2014".into(),
                    ..Default::default()
                },
            ))
            .await
            .expect("list")
            .into_inner();
        durations.push(started.elapsed());
        assert_eq!(page.grants.len(), 100);
    }
    report("ListGrants (100 with money)", durations);
    println!(
        "{:<34} before={} KiB after={} KiB",
        "resident memory",
        memory_before,
        resident_kib()
    );
}
