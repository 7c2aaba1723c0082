//! Several replicas on one database: a token revoked through one is refused by the others
//! within moments (PostgreSQL's LISTEN/NOTIFY, not the token cache's lifetime).

use std::collections::BTreeMap;
use std::error::Error as _;
use std::sync::{Arc, Mutex};

use tipgrants::secret::ExposeSecret;
use tonic::Code;

use crate::helpers::*;

/// A token cache lifetime far longer than any wait below: only a notification can explain a
/// refusal on the replica that did not revoke.
const LONG_CACHE_SECONDS: u64 = 60;

/// Whether this is the PostgreSQL pass; on the SQLite pass, says why the test does nothing.
fn on_the_postgres_pass() -> bool {
    let on = std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty());
    if !on {
        println!(
            "skipped on the SQLite pass: replicas share a database only on PostgreSQL (one SQLite file has one server); see the PostgreSQL pass of scripts/test.sh"
        );
    }
    on
}

/// Two servers on one fresh database, with a long token cache; the first wrote the admin token.
async fn two_replicas(directory: &tempfile::TempDir) -> (TestApp, TestApp) {
    let mut settings = test_settings(directory).await;
    settings.auth.token_cache_ttl_seconds = LONG_CACHE_SECONDS;
    let first = spawn_app_on(settings.clone()).await;
    let second = spawn_app_on(settings).await;
    (first, second)
}

/// Whether `secret` is accepted by `app` now: Some(()) once it is refused as unauthenticated.
async fn refused(app: &TestApp, secret: &str) -> Option<()> {
    let answer = app
        .reference_data(Some(secret))
        .list_regions(pb::ListRegionsRequest {})
        .await;
    match answer {
        Ok(_) => None,
        Err(status) if status.code() == Code::Unauthenticated => Some(()),
        Err(status) => panic!("unexpected answer: {status:?}"),
    }
}

/// Uses `secret` through `app`, so that `app` caches it.
async fn use_token(app: &TestApp, secret: &str) {
    app.reference_data(Some(secret))
        .list_regions(pb::ListRegionsRequest {})
        .await
        .expect("the token works");
}

#[tokio::test]
async fn a_token_revoked_through_one_replica_is_refused_by_the_other_long_before_its_cache_lifetime()
 {
    if !on_the_postgres_pass() {
        return;
    }
    let directory = tempfile::tempdir().expect("temporary directory");
    let (first, second) = two_replicas(&directory).await;
    let (name, secret) = first.token_named(pb::Role::Auditor, "").await;
    use_token(&first, &secret).await;
    use_token(&second, &secret).await;

    first
        .access(first.admin())
        .revoke_api_token(pb::RevokeApiTokenRequest {
            name,
            request_id: String::new(),
        })
        .await
        .expect("the admin revokes the token");

    // The hang guard of `eventually` (30 s) is half the cache lifetime: a pass is the notification.
    eventually("the other replica refuses the revoked token", || {
        refused(&second, &secret)
    })
    .await;
    assert_eq!(refused(&first, &secret).await, Some(()));
}

#[tokio::test]
async fn the_tokens_of_an_organization_deleted_through_one_replica_are_refused_by_the_other() {
    if !on_the_postgres_pass() {
        return;
    }
    let directory = tempfile::tempdir().expect("temporary directory");
    let (first, second) = two_replicas(&directory).await;
    let organization = first.organization("Closing down", "HT").await;
    let secrets = [
        first.token(pb::Role::Grantee, &organization.name).await,
        first.token(pb::Role::Grantee, &organization.name).await,
    ];
    let bystander = first.token(pb::Role::Auditor, "").await;
    for secret in secrets.iter().chain([&bystander]) {
        use_token(&first, secret).await;
        use_token(&second, secret).await;
    }

    first
        .organizations(first.admin())
        .delete_organization(pb::DeleteOrganizationRequest {
            name: organization.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("the admin deletes the organization");

    for secret in &secrets {
        eventually(
            "the other replica refuses the deleted organization's token",
            || refused(&second, secret),
        )
        .await;
    }
    // Only the organisation's tokens were forgotten for good: another still works.
    use_token(&second, &bystander).await;
}

#[tokio::test]
async fn a_replica_whose_listener_lost_its_connection_forgets_every_cached_token_and_hears_revocations_again()
 {
    if !on_the_postgres_pass() {
        return;
    }
    let directory = tempfile::tempdir().expect("temporary directory");
    let (first, second) = two_replicas(&directory).await;
    let (silent_name, silently_revoked) = first.token_named(pb::Role::Auditor, "").await;
    let (later_name, revoked_later) = first.token_named(pb::Role::Auditor, "").await;
    for secret in [&silently_revoked, &revoked_later] {
        use_token(&second, secret).await;
    }
    // Revoked behind the servers' backs: no notification, so the cache still vouches for it.
    let silent_id = silent_name.trim_start_matches("apiTokens/");
    first
        .execute_sql(&format!(
            "UPDATE api_tokens SET revoke_time = now() WHERE id = '{silent_id}'"
        ))
        .await;
    use_token(&second, &silently_revoked).await;

    // The listeners' connections die (as in a failover): each server listens again and, since
    // it may have missed notifications meanwhile, forgets every cached token.
    first
        .execute_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query ILIKE 'listen%'",
        )
        .await;
    eventually(
        "the replica forgets the token revoked without a notification",
        || refused(&second, &silently_revoked),
    )
    .await;
    use_token(&second, &revoked_later).await;
    first
        .access(first.admin())
        .revoke_api_token(pb::RevokeApiTokenRequest {
            name: later_name,
            request_id: String::new(),
        })
        .await
        .expect("the admin revokes the token");
    eventually("the replica hears revocations again", || {
        refused(&second, &revoked_later)
    })
    .await;
}

// ------------------------------------------------------------------ rolling restart --

/// How many clients write and read at once during the rolling restart.
const CLIENTS: usize = 4;
/// How many times a call is tried before it counts as failed (backoff 10 ms doubling to 500 ms:
/// about 15 s in all, longer than a replica takes to restart here).
const ATTEMPTS: u32 = 40;

/// A `tipgrants serve` process of the test, its standard error in `log`.
struct Replica {
    child: tokio::process::Child,
    address: String,
    log: std::path::PathBuf,
}

impl Replica {
    /// Starts the binary with `environment` on `listen_address` and waits until it serves.
    async fn start(
        environment: &[(String, String)],
        listen_address: &str,
        log: std::path::PathBuf,
    ) -> Replica {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open the replica's log");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tipgrants"))
            .arg("serve")
            .env_remove("RUST_LOG")
            .envs(environment.iter().cloned())
            .env("TIPGRANTS__SERVER__LISTEN_ADDRESS", listen_address)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .expect("start the tipgrants binary");
        let starts = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("serving gRPC")
            .count();
        // The address is read from this start's "serving gRPC" line: no port is ever guessed.
        let address = eventually("the replica logs the address it serves", || {
            let log = log.clone();
            async move {
                let text = std::fs::read_to_string(&log).ok()?;
                let line = text
                    .lines()
                    .filter(|line| line.contains("serving gRPC"))
                    .nth(starts)?;
                let (_, rest) = line.split_once("address=")?;
                rest.split_whitespace().next().map(str::to_string)
            }
        })
        .await;
        let replica = Replica {
            child,
            address,
            log,
        };
        replica.wait_until_serving().await;
        replica
    }

    async fn wait_until_serving(&self) {
        use tonic_health::pb::health_client::HealthClient;
        use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
        let endpoint = format!("http://{}", self.address);
        eventually("the replica's health is SERVING", || {
            let endpoint = endpoint.clone();
            async move {
                let channel = tonic::transport::Endpoint::from_shared(endpoint)
                    .ok()?
                    .connect()
                    .await
                    .ok()?;
                let status = HealthClient::new(channel)
                    .check(HealthCheckRequest::default())
                    .await
                    .ok()?
                    .into_inner()
                    .status;
                (status == ServingStatus::Serving as i32).then_some(())
            }
        })
        .await;
    }

    /// SIGTERM, then waits for the process to exit; its exit status.
    async fn stop(mut self) -> std::process::ExitStatus {
        let id = self.child.id().expect("the replica is running") as i32;
        // SAFETY: sends SIGTERM to our own child process, by its id, before it is reaped.
        unsafe {
            libc::kill(id, libc::SIGTERM);
        }
        tokio::time::timeout(std::time::Duration::from_secs(60), self.child.wait())
            .await
            .expect("the replica exits within its grace period")
            .expect("wait for the replica")
    }
}

/// A client that spreads calls round-robin over the replicas and retries a refused call on the
/// next one, with backoff: `UNAVAILABLE` (AIP-194), a call the server never processed
/// ([`never_processed`]), and `ABORTED` with the reason `REQUEST_IN_PROGRESS` (the same request id
/// still running on a replica that was draining: the server says to retry).
#[derive(Clone)]
struct RetryingClient {
    channels: Vec<tonic::transport::Channel>,
    next: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    authorization: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    /// How many calls were tried again, by why.
    retries: Arc<Mutex<BTreeMap<&'static str, usize>>>,
}

type OrganizationClient = pb::organization_service_client::OrganizationServiceClient<
    tonic::service::interceptor::InterceptedService<
        tonic::transport::Channel,
        Box<dyn FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Send>,
    >,
>;

impl RetryingClient {
    fn new(addresses: &[String], token: &str) -> RetryingClient {
        let channels = addresses
            .iter()
            .map(|address| {
                tonic::transport::Endpoint::from_shared(format!("http://{address}"))
                    .expect("endpoint")
                    .connect_timeout(std::time::Duration::from_secs(1))
                    .timeout(std::time::Duration::from_secs(20))
                    .connect_lazy()
            })
            .collect();
        RetryingClient {
            channels,
            next: Default::default(),
            authorization: format!("Bearer {token}").parse().expect("header value"),
            retries: Default::default(),
        }
    }

    fn organizations(&self) -> OrganizationClient {
        let at = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let channel = self.channels[at % self.channels.len()].clone();
        let authorization = self.authorization.clone();
        pb::organization_service_client::OrganizationServiceClient::with_interceptor(
            channel,
            Box::new(move |mut request: tonic::Request<()>| {
                request
                    .metadata_mut()
                    .insert("authorization", authorization.clone());
                Ok(request)
            }),
        )
    }

    /// `call` on the next replica, again on the next while it is refused as retryable.
    async fn call<T, Call, Answer>(&self, mut call: Call) -> Result<T, tonic::Status>
    where
        Call: FnMut(OrganizationClient) -> Answer,
        Answer: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let mut wait = std::time::Duration::from_millis(10);
        let mut attempt = 1;
        loop {
            match call(self.organizations()).await {
                Ok(answer) => return Ok(answer.into_inner()),
                Err(status) if attempt < ATTEMPTS && retry_reason(&status).is_some() => {
                    if let (Some(why), Ok(mut retries)) =
                        (retry_reason(&status), self.retries.lock())
                    {
                        *retries.entry(why).or_default() += 1;
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(std::time::Duration::from_millis(500));
                    attempt += 1;
                }
                Err(status) => return Err(status),
            }
        }
    }
}

/// Why a call may be tried again, or `None` when it may not.
fn retry_reason(status: &tonic::Status) -> Option<&'static str> {
    if status.code() == Code::Unavailable {
        Some("UNAVAILABLE")
    } else if never_processed(status) {
        Some("never processed")
    } else if status.code() == Code::Aborted && reason(status) == "REQUEST_IN_PROGRESS" {
        Some("REQUEST_IN_PROGRESS")
    } else {
        None
    }
}

/// A call the server never processed, as tonic's transport reports it (gRPC's own clients retry
/// these transparently; tonic does not): a request still queued on a connection that closed
/// before sending it (CANCELLED, "operation was canceled": hyper hands it back unsent), or a
/// stream the server's GOAWAY refused (INTERNAL, "h2 protocol error": a stream above the
/// GOAWAY's last stream id, which HTTP/2 guarantees was not processed). A server's own answer
/// carries no transport error.
fn never_processed(status: &tonic::Status) -> bool {
    let mut cause = status.source();
    if cause.is_none_or(|cause| cause.downcast_ref::<tonic::transport::Error>().is_none()) {
        return false;
    }
    if status.code() == Code::Cancelled {
        return true;
    }
    while let Some(error) = cause {
        if let Some(http2) = error.downcast_ref::<h2::Error>() {
            return (http2.is_go_away()
                && http2.is_remote()
                && http2.reason() == Some(h2::Reason::NO_ERROR))
                || http2.reason() == Some(h2::Reason::REFUSED_STREAM);
        }
        cause = error.source();
    }
    false
}

/// What the clients saw: the organisations whose creation was acknowledged, and every call that
/// failed for good.
#[derive(Default)]
struct Outcome {
    acknowledged: Vec<String>,
    failed: Vec<String>,
    calls: usize,
}

/// One client's loop until `stop`: an audited, idempotent create, then a read of what it made.
async fn write_and_read(
    client: RetryingClient,
    worker: usize,
    stop: tokio::sync::watch::Receiver<bool>,
    progress: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> Outcome {
    let mut outcome = Outcome::default();
    let mut count = 0;
    while !*stop.borrow() {
        count += 1;
        let request_id = format!("rolling-{worker}-{count}");
        let created = client
            .call(|mut organizations| {
                let request = pb::CreateOrganizationRequest {
                    organization: Some(new_organization(
                        &format!("Rolling {worker}-{count}"),
                        "HT",
                    )),
                    request_id: request_id.clone(),
                };
                async move { organizations.create_organization(request).await }
            })
            .await;
        outcome.calls += 1;
        let name = match created {
            Ok(organization) => organization.name,
            Err(status) => {
                outcome
                    .failed
                    .push(format!("create {request_id}: {status:?}"));
                continue;
            }
        };
        outcome.acknowledged.push(name.clone());
        let read = client
            .call(|mut organizations| {
                let name = name.clone();
                async move {
                    organizations
                        .get_organization(pb::GetOrganizationRequest { name })
                        .await
                }
            })
            .await;
        outcome.calls += 1;
        if let Err(status) = read {
            outcome.failed.push(format!("read {name}: {status:?}"));
        }
        progress.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_of_two_replicas_under_load_fails_no_call_and_loses_no_acknowledged_write()
 {
    use std::sync::atomic::Ordering;
    if !on_the_postgres_pass() {
        return;
    }
    let directory = tempfile::tempdir().expect("temporary directory");
    let settings = test_settings(&directory).await;
    let environment = replica_environment(&settings, 10);
    let log = |index: usize| directory.path().join(format!("replica-{index}.log"));
    let mut replicas = vec![
        Replica::start(&environment, "127.0.0.1:0", log(0)).await,
        Replica::start(&environment, "127.0.0.1:0", log(1)).await,
    ];
    let addresses: Vec<String> = replicas
        .iter()
        .map(|replica| replica.address.clone())
        .collect();
    let token = std::fs::read_to_string(&settings.auth.bootstrap_token_file)
        .expect("the first replica wrote the admin token")
        .trim()
        .to_string();
    let client = RetryingClient::new(&addresses, &token);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..CLIENTS)
        .map(|worker| {
            tokio::spawn(write_and_read(
                client.clone(),
                worker,
                stopped.clone(),
                progress.clone(),
            ))
        })
        .collect();
    let some_more_work = |progress: std::sync::Arc<std::sync::atomic::AtomicUsize>| async move {
        let from = progress.load(Ordering::Relaxed);
        eventually("the clients make progress", || {
            let progress = progress.clone();
            async move { (progress.load(Ordering::Relaxed) >= from + 20).then_some(()) }
        })
        .await;
    };

    some_more_work(progress.clone()).await;
    let mut exits = Vec::new();
    for index in 0..replicas.len() {
        let replica = replicas.remove(index);
        let (address, log) = (replica.address.clone(), replica.log.clone());
        exits.push(replica.stop().await);
        replicas.insert(index, Replica::start(&environment, &address, log).await);
        some_more_work(progress.clone()).await;
    }
    let _sent = stop.send(true);
    let mut outcome = Outcome::default();
    for worker in workers {
        let done = worker.await.expect("a client's loop");
        outcome.acknowledged.extend(done.acknowledged);
        outcome.failed.extend(done.failed);
        outcome.calls += done.calls;
    }
    let mut lost = Vec::new();
    for name in &outcome.acknowledged {
        let read = client
            .call(|mut organizations| {
                let name = name.clone();
                async move {
                    organizations
                        .get_organization(pb::GetOrganizationRequest { name })
                        .await
                }
            })
            .await;
        if read.is_err() {
            lost.push(name.clone());
        }
    }
    let store = tipgrants::store::Store::connect(&settings.database, &settings.database_url())
        .await
        .expect("connect to the replicas' database");
    let created = sea_orm::ConnectionTrait::query_one_raw(
        store.connection(),
        sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT count(*) AS n FROM organizations WHERE display_name LIKE 'Rolling %'",
        ),
    )
    .await
    .expect("count the organisations")
    .expect("a row")
    .try_get::<i64>("", "n")
    .expect("a count");

    println!(
        "{} calls, {} acknowledged creates, retried: {:?}",
        outcome.calls,
        outcome.acknowledged.len(),
        client
            .retries
            .lock()
            .map(|retries| retries.clone())
            .unwrap_or_default()
    );
    for exit in exits {
        assert!(
            exit.success(),
            "a replica stopped by SIGTERM exits cleanly: {exit:?}"
        );
    }
    assert_eq!(outcome.failed, Vec::<String>::new(), "no call failed");
    assert_eq!(lost, Vec::<String>::new(), "no acknowledged write is lost");
    assert_eq!(
        created as usize,
        outcome.acknowledged.len(),
        "each acknowledged create made exactly one organisation (retries replayed, never wrote twice)"
    );
}

/// The environment of a `tipgrants serve` of this test on the database of `settings`.
/// `grace_seconds` is its `server.shutdown_grace_period_seconds`.
fn replica_environment(
    settings: &tipgrants::settings::Settings,
    grace_seconds: u64,
) -> Vec<(String, String)> {
    [
        (
            "DATABASE__URL",
            settings.database.url.expose_secret().to_string(),
        ),
        (
            "AUTH__BOOTSTRAP_TOKEN_FILE",
            settings.auth.bootstrap_token_file.clone(),
        ),
        (
            "SERVER__SHUTDOWN_GRACE_PERIOD_SECONDS",
            grace_seconds.to_string(),
        ),
        ("TELEMETRY__FILTER", "info".to_string()),
    ]
    .into_iter()
    .map(|(key, value)| (format!("TIPGRANTS__{key}"), value))
    .collect()
}

#[tokio::test]
async fn a_replica_told_to_stop_takes_no_new_connection_and_still_answers_the_call_it_was_running()
{
    use sea_orm::{ConnectionTrait, TransactionTrait};
    if !on_the_postgres_pass() {
        return;
    }
    let directory = tempfile::tempdir().expect("temporary directory");
    let settings = test_settings(&directory).await;
    let replica = Replica::start(
        &replica_environment(&settings, 30),
        "127.0.0.1:0",
        directory.path().join("replica.log"),
    )
    .await;
    let address = replica.address.clone();
    let token = std::fs::read_to_string(&settings.auth.bootstrap_token_file)
        .expect("the replica wrote the admin token")
        .trim()
        .to_string();
    let database = sea_orm::Database::connect(settings.database_url().expose_secret())
        .await
        .expect("connect to the replica's database");
    // The test holds the organisations table: a create waits for it inside the replica.
    let hold = database.begin().await.expect("a transaction");
    hold.execute_unprepared("LOCK TABLE organizations IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock the table");
    let client = RetryingClient::new(std::slice::from_ref(&address), &token);
    let mut organizations = client.organizations();
    let call = tokio::spawn(async move {
        organizations
            .create_organization(pb::CreateOrganizationRequest {
                organization: Some(new_organization("In flight at SIGTERM", "HT")),
                request_id: "in-flight-1".into(),
            })
            .await
    });
    eventually("the create waits for the lock inside the replica", || {
        let database = database.clone();
        async move {
            let waiting = database
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DatabaseBackend::Postgres,
                    "SELECT count(*) AS n FROM pg_stat_activity \
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                ))
                .await
                .ok()??
                .try_get::<i64>("", "n")
                .ok()?;
            (waiting > 0).then_some(())
        }
    })
    .await;

    let id = replica.child.id().expect("the replica is running") as i32;
    // SAFETY: sends SIGTERM to our own child process, by its id, before it is reaped.
    unsafe {
        libc::kill(id, libc::SIGTERM);
    }
    eventually("the stopping replica refuses new connections", || {
        let address = address.clone();
        async move {
            tokio::net::TcpStream::connect(&address)
                .await
                .is_err()
                .then_some(())
        }
    })
    .await;
    hold.rollback().await.expect("release the table");
    let answer = call.await.expect("the call's task");
    let exit = replica.stop().await;

    let created = answer
        .expect("the call in flight at SIGTERM is answered")
        .into_inner();
    assert_eq!(created.display_name, "In flight at SIGTERM");
    assert!(exit.success(), "the replica exits cleanly: {exit:?}");
}

/// Long reads by the database that served them and why, as the server counts them.
async fn long_reads(app: &TestApp, database: &str, reason: &str) -> f64 {
    crate::metrics::scrape(app.health_address.expect("the ops listener"))
        .await
        .sum(
            tipgrants::store::standby::REPORT_READS,
            &[("database", database), ("reason", reason)],
        )
}

/// The net obligated total of the portfolio summary, read through `app`.
async fn summary_obligated(app: &TestApp) -> i64 {
    app.reports(app.admin())
        .get_portfolio_summary(pb::GetPortfolioSummaryRequest {
            from_fiscal_year: 2014,
            to_fiscal_year: 2014,
        })
        .await
        .expect("the summary")
        .into_inner()
        .obligated_cents
}

/// `url` with its database (the path) replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (server, _) = url.rsplit_once('/').expect("postgres://.../database");
    format!("{server}/{database}")
}

#[tokio::test]
async fn long_reads_go_to_a_caught_up_standby_and_to_the_primary_while_it_lags_or_is_down() {
    use sea_orm::{ConnectionTrait, Database};
    if !on_the_postgres_pass() {
        return;
    }
    let Some(standby_server) = std::env::var("TEST_STANDBY_URL")
        .ok()
        .filter(|url| !url.is_empty())
    else {
        // Never skipped unawares: a PostgreSQL run without a standby says so explicitly.
        assert!(
            std::env::var("TIPGRANTS_TEST_NO_STANDBY").is_ok_and(|value| value == "1"),
            "the PostgreSQL pass runs with a streaming standby: scripts/test.sh starts one with \
             scripts/with-postgres.sh scripts/with-standby.sh (set TIPGRANTS_TEST_NO_STANDBY=1 to \
             run without one and skip this test)"
        );
        println!("skipped: TIPGRANTS_TEST_NO_STANDBY=1");
        return;
    };
    let directory = tempfile::tempdir().expect("temporary directory");
    let mut settings = test_settings(&directory).await;
    let primary_url = settings.database.url.expose_secret().to_string();
    let database = primary_url.rsplit('/').next().unwrap().to_string();
    let standby_url = with_database(&standby_server, &database);
    // The standby replays the test's new database before the server first reads it there.
    let standby = eventually("the standby has the test's database", || {
        let url = standby_url.clone();
        async move { Database::connect(url).await.ok() }
    })
    .await;
    settings.database.replica_url = standby_url.clone().into();
    settings.database.replica_max_wait_ms = 3_000;
    settings.telemetry.metrics = true;
    settings.server.health_listen_address = "127.0.0.1:0".into();
    let mut down = settings.clone();
    let app = spawn_app_on(settings).await;
    app.funding_account("ESF").await;
    let grantee = app.organization("Standby grantee", "HT").await;
    let grant = app.grant("STANDBY-1", &grantee.name).await;
    let obligate = |kind: pb::ObligationKind, amount: i64| {
        app.obligate(
            &grant.name,
            new_obligation(kind, "ESF", 2014, amount, "2014-03-01"),
        )
    };

    // Caught up: the standby serves, and has the write made just before.
    obligate(pb::ObligationKind::InitialAward, 1_000)
        .await
        .expect("an obligation");
    let standby_before = long_reads(&app, "standby", "caught_up").await;
    let from_standby = summary_obligated(&app).await;
    let standby_after = long_reads(&app, "standby", "caught_up").await;

    // Lagging (replay paused): the primary serves, and the write made meanwhile is there.
    standby
        .execute_unprepared("SELECT pg_wal_replay_pause()")
        .await
        .expect("replay paused");
    obligate(pb::ObligationKind::Increment, 500)
        .await
        .expect("a second obligation");
    let behind_before = long_reads(&app, "primary", "standby_behind").await;
    let while_behind = summary_obligated(&app).await;
    let behind_after = long_reads(&app, "primary", "standby_behind").await;
    standby
        .execute_unprepared("SELECT pg_wal_replay_resume()")
        .await
        .expect("replay resumed");
    let caught_up_again = summary_obligated(&app).await;
    let standby_again = long_reads(&app, "standby", "caught_up").await;

    // Down (nothing listens at its address): the primary serves.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    down.database.replica_url =
        format!("postgres://postgres@127.0.0.1:{closed_port}/{database}").into();
    let without_standby = spawn_app_on(down).await;
    let unreachable_before = long_reads(&app, "primary", "standby_unreachable").await;
    let while_down = summary_obligated(&without_standby).await;
    let unreachable_after = long_reads(&app, "primary", "standby_unreachable").await;

    assert_eq!(from_standby, 1_000);
    assert_eq!(standby_after - standby_before, 1.0, "served by the standby");
    assert_eq!(
        while_behind, 1_500,
        "the write made while the standby lagged is read"
    );
    assert_eq!(behind_after - behind_before, 1.0, "served by the primary");
    assert_eq!(caught_up_again, 1_500);
    assert_eq!(
        standby_again - standby_after,
        1.0,
        "the standby serves again"
    );
    assert_eq!(while_down, 1_500);
    assert!(
        unreachable_after > unreachable_before,
        "served by the primary"
    );
}

/// Audited creates of `count` organisations named `prefix N`, all at once through `app`.
async fn create_at_once(app: &TestApp, prefix: String, count: usize) -> Vec<pb::Organization> {
    let calls = (0..count).map(|index| {
        let mut client = app.organizations(app.admin());
        let organization = new_organization(&format!("{prefix} {index}"), "HT");
        async move {
            client
                .create_organization(pb::CreateOrganizationRequest {
                    organization: Some(organization),
                    request_id: String::new(),
                })
                .await
                .expect("the admin creates an organisation")
                .into_inner()
        }
    });
    futures_util::future::join_all(calls).await
}

#[tokio::test]
async fn a_write_commits_without_holding_the_audit_chains_head_and_answers_once_its_event_is_chained()
 {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    if !on_the_postgres_pass() {
        return;
    }
    let app = spawn_app().await;
    // Someone else holds the chain's head (as another replica's appender would, for longer).
    let holder = app.store.connection().begin().await.expect("a transaction");
    holder
        .execute_unprepared("SELECT sequence FROM audit_head WHERE id = 1 FOR UPDATE")
        .await
        .expect("the head's lock");
    let mut client = app.organizations(app.admin());
    let call = tokio::spawn(async move {
        client
            .create_organization(pb::CreateOrganizationRequest {
                organization: Some(new_organization("Queued while the head is held", "HT")),
                request_id: String::new(),
            })
            .await
    });

    // The change commits with its event queued: its transaction never waited for the head.
    eventually("the change is committed with its event queued", || async {
        let committed = app
            .query_number(
                "SELECT COUNT(*) FROM organizations WHERE display_name = 'Queued while the head is held'",
            )
            .await;
        let queued = app
            .query_number("SELECT COUNT(*) FROM audit_pending")
            .await;
        (committed == 1 && queued == 1).then_some(())
    })
    .await;
    assert!(
        !call.is_finished(),
        "the call answers only once its event is chained"
    );
    holder.rollback().await.expect("the head is released");

    let created = call
        .await
        .expect("the call ran")
        .expect("the organisation is created")
        .into_inner();
    let events = app.audit_events_of(&created.name).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        app.query_number("SELECT COUNT(*) FROM audit_pending").await,
        0
    );
    let answer = app
        .audit(app.admin())
        .verify_audit_chain(pb::VerifyAuditChainRequest::default())
        .await
        .expect("the chain is verified")
        .into_inner();
    assert!(answer.valid, "{answer:?}");
}

#[tokio::test]
async fn events_a_stopped_server_left_queued_are_chained_and_verified_by_the_next_pass() {
    if !on_the_postgres_pass() {
        return;
    }
    let app = spawn_app().await;
    app.organization("Before the crash", "HT").await;
    // A change another server committed before it stopped, its event not chained yet.
    app.execute_sql(
        "INSERT INTO audit_pending (event_time, actor, actor_role, actor_owner, method, resource, request_id, diff)
         VALUES (now(), 'apiTokens/stopped', 'ADMIN', 'someone', '/tipgrants.v1.OrganizationService/CreateOrganization',
                 'organizations/left-queued', '', '{\"display_name\": {\"before\": null, \"after\": \"Left\"}}')",
    )
    .await;

    let answer = app
        .audit(app.admin())
        .verify_audit_chain(pb::VerifyAuditChainRequest::default())
        .await
        .expect("the chain is verified")
        .into_inner();

    assert!(answer.valid, "{answer:?}");
    let events = app.audit_events_of("organizations/left-queued").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].sequence, answer.head_sequence);
    assert_eq!(
        app.query_number("SELECT COUNT(*) FROM audit_pending").await,
        0
    );
}

#[tokio::test]
async fn writes_through_three_replicas_at_once_extend_one_contiguous_verified_chain() {
    if !on_the_postgres_pass() {
        return;
    }
    let directory = tempfile::tempdir().expect("temporary directory");
    let settings = test_settings(&directory).await;
    let replicas = [
        spawn_app_on(settings.clone()).await,
        spawn_app_on(settings.clone()).await,
        spawn_app_on(settings).await,
    ];
    let before = replicas[0]
        .query_number("SELECT COUNT(*) FROM audit_events")
        .await;

    let created = futures_util::future::join_all(
        replicas
            .iter()
            .enumerate()
            .map(|(index, app)| create_at_once(app, format!("Replica {index}"), 20)),
    )
    .await;

    for (index, organizations) in created.iter().enumerate() {
        for organization in organizations {
            // Each call answered with its event in the chain, read through another replica.
            let other = &replicas[(index + 1) % replicas.len()];
            assert_eq!(
                other.audit_events_of(&organization.name).await.len(),
                1,
                "{organization:?}"
            );
        }
    }
    let after = replicas[0]
        .query_number("SELECT COUNT(*) FROM audit_events")
        .await;
    assert_eq!(after - before, 60);
    let answer = replicas[2]
        .audit(replicas[2].admin())
        .verify_audit_chain(pb::VerifyAuditChainRequest::default())
        .await
        .expect("the chain is verified")
        .into_inner();
    assert!(answer.valid, "{answer:?}");
    assert_eq!(answer.events_checked, after);
    assert_eq!(answer.head_sequence, after);
}
