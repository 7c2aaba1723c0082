//! Faults under load: PostgreSQL stopped dead (immediate shutdown), and then
//! shut down by an operator (fast shutdown), while clients read and write,
//! started again each time; and the server itself killed
//! (SIGKILL) mid-write, then started again. What must hold: health turns
//! `NOT_SERVING` within the probe's interval, no call outlives its deadline,
//! calls fail as `UNAVAILABLE` (retryable) and never hang or answer
//! `INTERNAL`, the server serves again without a restart once the database
//! is back, and every write that was answered OK is there with its audit event,
//! while no write is there half (an organisation without its event or the
//! reverse).
//!
//! The database test stops and starts a PostgreSQL server, so it runs its own
//! throwaway one (as `scripts/with-postgres.sh` does), in the PostgreSQL pass
//! only. Its server keeps `synchronous_commit` on: with it off (as in the
//! pass's server, for speed) an immediate shutdown may lose commits already
//! acknowledged, by design. The kill test runs on both passes.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::end_to_end::Server;
use crate::helpers::*;

/// How often the server pings the database in the database test.
const HEALTH_CHECK_INTERVAL: Duration = Duration::from_millis(500);
/// The deadline of every call the clients make: longer than the pool waits for a connection
/// (`database.acquire_timeout_ms`, 2 s), so a call made while the database is down ends as
/// `UNAVAILABLE`, not at its deadline.
const CALL_DEADLINE: Duration = Duration::from_secs(5);
/// How late a call or a health change may come past its bound before it counts as a hang:
/// room for scheduling on a busy machine, not a measure of speed.
const SLACK: Duration = Duration::from_secs(1);
/// The server serves again this soon after the database is back, without a restart.
const BACK_WITHIN: Duration = Duration::from_secs(10);
/// Clients calling at once.
const CLIENTS: usize = 4;
const CREATE_ORGANIZATION: &str = "/tipgrants.v1.OrganizationService/CreateOrganization";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_postgresql_dies_under_load_calls_fail_fast_as_unavailable_and_no_acknowledged_write_is_lost()
 {
    if !on_the_postgres_pass() {
        return;
    }
    let postgres = ThrowawayPostgres::start().await;
    let app = spawn_app_with(|settings| {
        // The pool's timeouts keep their defaults: a call waits up to 2 s for a connection.
        settings.database.url = postgres.url().into();
        settings.server.health_check_interval_ms = HEALTH_CHECK_INTERVAL.as_millis() as u64;
    })
    .await;
    let read_target = app.organization("Read under load", "HT").await.name;
    let load = Load::start(&app, &read_target);

    let mut outages = Vec::new();
    // A crash first; then an operator's shutdown, which tells each session it is ending.
    for mode in ["immediate", "fast"] {
        let acknowledged = acknowledged_writes(&load.calls()).count();
        load.wait_until(
            "20 more writes are acknowledged while PostgreSQL is up",
            |calls| acknowledged_writes(calls).count() >= acknowledged + 20,
        )
        .await;
        let stopping = Instant::now();
        postgres.stop(mode).await;
        let died = Instant::now();
        let not_serving_after = eventually("health turns NOT_SERVING", || async {
            (health(app.channel()).await == Some(ServingStatus::NotServing)).then(|| died.elapsed())
        })
        .await;
        load.wait_until(
            "every client has had calls refused while PostgreSQL is down",
            |calls| calls.iter().filter(|call| call.started > died).count() >= 3 * CLIENTS,
        )
        .await;
        let restarting = Instant::now();
        postgres.start_again().await;
        let back_after = tokio::time::timeout(BACK_WITHIN, serving_again(&app, &read_target))
            .await
            .unwrap_or_else(|_| {
                panic!("the server did not serve again within {BACK_WITHIN:?} of PostgreSQL's return ({mode} shutdown)")
            });
        println!(
            "database death ({mode} shutdown): NOT_SERVING {not_serving_after:?} after, serving again {back_after:?} after its return"
        );
        assert!(
            not_serving_after <= 2 * HEALTH_CHECK_INTERVAL + SLACK,
            "health turned NOT_SERVING {not_serving_after:?} after PostgreSQL died ({mode} shutdown, interval {HEALTH_CHECK_INTERVAL:?})"
        );
        outages.push(Outage {
            stopping,
            died,
            restarting,
            back: Instant::now(),
        });
    }
    let acknowledged = acknowledged_writes(&load.calls()).count();
    load.wait_until(
        "20 more writes are acknowledged after the last return",
        |calls| acknowledged_writes(calls).count() >= acknowledged + 20,
    )
    .await;
    let calls = load.stop().await;

    println!("database death: {} calls; {}", calls.len(), summary(&calls));
    let late: Vec<_> = calls
        .iter()
        .filter(|call| call.took() > CALL_DEADLINE + SLACK)
        .collect();
    assert!(
        late.is_empty(),
        "calls that outlived their deadline: {late:#?}"
    );
    let wrong: Vec<_> = calls
        .iter()
        .filter(|call| !call.code_is_right(&outages))
        .collect();
    assert!(wrong.is_empty(), "calls with the wrong code: {wrong:#?}");
    for call in acknowledged_writes(&calls) {
        let name = call.organization.as_deref().unwrap_or_default();
        let id = name.trim_start_matches("organizations/");
        let stored = app
            .query_number(&format!(
                "SELECT COUNT(*) FROM organizations WHERE id = '{id}'"
            ))
            .await;
        let audited = app
            .query_number(&format!(
                "SELECT COUNT(*) FROM audit_events WHERE resource = '{name}' AND method = '{CREATE_ORGANIZATION}'"
            ))
            .await;
        assert_eq!((stored, audited), (1, 1), "the acknowledged write {call:?}");
    }
    retry_every_unacknowledged_write(&app, &calls).await;
    let writes = calls.iter().filter(|call| call.write).count() as i64;
    assert_eq!(
        app.query_number("SELECT COUNT(*) FROM organizations").await,
        writes + 1,
        "one organisation per request id, and the read target"
    );
    expect_no_half_write(&app).await;
    let chain = app
        .audit(app.admin())
        .verify_audit_chain(pb::VerifyAuditChainRequest::default())
        .await
        .expect("the admin verifies the chain")
        .into_inner();
    assert!(chain.valid, "{chain:?}");
}

#[test]
fn a_server_killed_mid_write_loses_no_acknowledged_write_and_leaves_no_half_write() {
    let mut server = Server::start();
    let admin = server.admin_token();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime for the clients");
    let load = runtime.block_on(async {
        let load = Load::start_against(channel_to(&server.address), &admin, None);
        load.wait_until("30 writes are acknowledged", |calls| {
            acknowledged_writes(calls).count() >= 30
        })
        .await;
        load
    });

    server.kill();
    let calls = runtime.block_on(load.stop());
    server.start_again();

    runtime.block_on(async {
        let channel = channel_to(&server.address);
        let mut organizations =
            pb::organization_service_client::OrganizationServiceClient::new(channel.clone());
        for call in acknowledged_writes(&calls) {
            let name = call.organization.clone().unwrap_or_default();
            let read = organizations
                .get_organization(with_token(
                    pb::GetOrganizationRequest { name: name.clone() },
                    &admin,
                ))
                .await
                .unwrap_or_else(|status| {
                    panic!("the acknowledged write {call:?} is lost: {status:?}")
                });
            assert_eq!(
                read.into_inner().display_name,
                display_name(&call.request_id)
            );
        }
        for call in calls.iter().filter(|call| call.code != Code::Ok) {
            organizations
                .create_organization(with_token(create_request(&call.request_id), &admin))
                .await
                .unwrap_or_else(|status| panic!("the retry of {call:?}: {status:?}"));
        }
        let stored = every_organization(&mut organizations, &admin).await;
        let audited = created_organizations_in_the_audit_log(channel.clone(), &admin).await;
        let chain = pb::audit_service_client::AuditServiceClient::new(channel)
            .verify_audit_chain(with_token(pb::VerifyAuditChainRequest::default(), &admin))
            .await
            .expect("the admin verifies the chain")
            .into_inner();

        println!(
            "server killed: {} calls before the kill; {}",
            calls.len(),
            summary(&calls)
        );
        assert_eq!(
            stored.len(),
            calls.len(),
            "one organisation per request id, none lost, none twice"
        );
        assert_eq!(
            stored, audited,
            "each organisation has its audit event, and only those"
        );
        assert!(chain.valid, "{chain:?}");
    });
}

// ------------------------------------------------------------------ the load --

/// One call a client made.
#[derive(Debug, Clone)]
struct Call {
    write: bool,
    request_id: String,
    started: Instant,
    finished: Instant,
    code: Code,
    /// The organisation an acknowledged write created.
    organization: Option<String>,
}

impl Call {
    fn took(&self) -> Duration {
        self.finished - self.started
    }

    /// `UNAVAILABLE` for a call made while PostgreSQL was down; around a stop and a return,
    /// OK, `UNAVAILABLE`, or the end of a deadline; OK at any other time.
    fn code_is_right(&self, outages: &[Outage]) -> bool {
        for outage in outages {
            if self.started > outage.died && self.finished < outage.restarting {
                return self.code == Code::Unavailable;
            }
            if self.finished >= outage.stopping && self.started <= outage.back {
                return matches!(
                    self.code,
                    Code::Ok | Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled
                );
            }
        }
        self.code == Code::Ok
    }
}

/// When PostgreSQL was told to stop, was gone, was told to start, and the server served again.
struct Outage {
    stopping: Instant,
    died: Instant,
    restarting: Instant,
    back: Instant,
}

/// Waits until a read succeeds and health is SERVING; returns how long that took.
async fn serving_again(app: &TestApp, read_target: &str) -> Duration {
    let started = Instant::now();
    loop {
        let read = app
            .organizations(app.admin())
            .get_organization(pb::GetOrganizationRequest {
                name: read_target.to_string(),
            })
            .await;
        if read.is_ok() && health(app.channel()).await == Some(ServingStatus::Serving) {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn acknowledged_writes(calls: &[Call]) -> impl Iterator<Item = &Call> {
    calls
        .iter()
        .filter(|call| call.write && call.code == Code::Ok)
}

/// Clients calling CreateOrganization (each with its own request id) and, in the database
/// test, GetOrganization, each call with [`CALL_DEADLINE`], until stopped.
struct Load {
    calls: Arc<Mutex<Vec<Call>>>,
    stop: Arc<AtomicBool>,
    clients: Vec<JoinHandle<()>>,
}

impl Load {
    /// Reads and writes against the in-process server, as its admin.
    fn start(app: &TestApp, read_target: &str) -> Load {
        Load::start_against(app.channel(), &app.admin_token, Some(read_target))
    }

    /// Writes (and reads of `read_target`, when given) on `channel` with `token`.
    fn start_against(channel: Channel, token: &str, read_target: Option<&str>) -> Load {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..CLIENTS)
            .map(|client| {
                let mut organizations =
                    pb::organization_service_client::OrganizationServiceClient::new(
                        channel.clone(),
                    );
                let (calls, stop, token) = (calls.clone(), stop.clone(), token.to_string());
                let read_target = read_target.map(String::from);
                tokio::spawn(async move {
                    for turn in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let request_id = format!("load-{client}-{turn}");
                        let write = read_target.is_none() || turn % 2 == 0;
                        let started = Instant::now();
                        let answer = if write {
                            let mut request = with_token(create_request(&request_id), &token);
                            request.set_timeout(CALL_DEADLINE);
                            guard(organizations.create_organization(request))
                                .await
                                .map(|created| Some(created.into_inner().name))
                        } else {
                            let name = read_target.clone().unwrap_or_default();
                            let mut request =
                                with_token(pb::GetOrganizationRequest { name }, &token);
                            request.set_timeout(CALL_DEADLINE);
                            guard(organizations.get_organization(request))
                                .await
                                .map(|_| None)
                        };
                        let finished = Instant::now();
                        let (code, organization) = match answer {
                            Ok(organization) => (Code::Ok, organization),
                            Err(status) => (status.code(), None),
                        };
                        let call = Call {
                            write,
                            request_id: if write { request_id } else { String::new() },
                            started,
                            finished,
                            code,
                            organization,
                        };
                        calls.lock().expect("calls").push(call);
                        // A pause between calls, so that failing calls do not spin.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                })
            })
            .collect();
        Load {
            calls,
            stop,
            clients,
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls").clone()
    }

    async fn wait_until(&self, what: &str, done: impl Fn(&[Call]) -> bool) {
        eventually(what, || async { done(&self.calls()).then_some(()) }).await
    }

    /// Stops the clients once their calls in flight have ended; returns every call.
    async fn stop(mut self) -> Vec<Call> {
        self.stop.store(true, Ordering::Relaxed);
        for client in std::mem::take(&mut self.clients) {
            client.await.expect("a client ran to its end");
        }
        self.calls()
    }
}

/// A call, ended by the test if it outlives its deadline by far (the record then shows it).
async fn guard<T>(
    call: impl std::future::Future<Output = Result<T, tonic::Status>>,
) -> Result<T, tonic::Status> {
    match tokio::time::timeout(CALL_DEADLINE + 10 * SLACK, call).await {
        Ok(answer) => answer,
        Err(_) => Err(tonic::Status::unknown("the call hung")),
    }
}

fn display_name(request_id: &str) -> String {
    format!("Organisation {request_id}")
}

fn create_request(request_id: &str) -> pb::CreateOrganizationRequest {
    pb::CreateOrganizationRequest {
        organization: Some(new_organization(&display_name(request_id), "HT")),
        request_id: request_id.to_string(),
    }
}

fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("an ASCII token"),
    );
    request
}

fn channel_to(address: &str) -> Channel {
    Channel::from_shared(format!("http://{address}"))
        .expect("a URI")
        .connect_lazy()
}

/// The server's overall health, or `None` when it does not answer.
async fn health(channel: Channel) -> Option<ServingStatus> {
    let answer = HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .ok()?;
    ServingStatus::try_from(answer.into_inner().status).ok()
}

/// How many calls ended with each code, and the longest call against its deadline.
fn summary(calls: &[Call]) -> String {
    let mut codes = std::collections::BTreeMap::new();
    for call in calls {
        *codes.entry(format!("{:?}", call.code)).or_insert(0) += 1;
    }
    let longest = calls.iter().map(Call::took).max().unwrap_or_default();
    format!("codes {codes:?}; longest call {longest:?} (deadline {CALL_DEADLINE:?})")
}

/// Sends every write that was not acknowledged again, with its request id: each must now
/// succeed, creating its organisation if the first attempt had not, and only then.
async fn retry_every_unacknowledged_write(app: &TestApp, calls: &[Call]) {
    for call in calls
        .iter()
        .filter(|call| call.write && call.code != Code::Ok)
    {
        app.organizations(app.admin())
            .create_organization(create_request(&call.request_id))
            .await
            .unwrap_or_else(|status| panic!("the retry of {call:?}: {status:?}"));
    }
}

/// No organisation without its creation event, and no creation event without its organisation.
async fn expect_no_half_write(app: &TestApp) {
    let without_event = app
        .query_number(&format!(
            "SELECT COUNT(*) FROM organizations o WHERE NOT EXISTS (SELECT 1 FROM audit_events e \
             WHERE e.resource = 'organizations/' || o.id AND e.method = '{CREATE_ORGANIZATION}')"
        ))
        .await;
    let without_organization = app
        .query_number(&format!(
            "SELECT COUNT(*) FROM audit_events e WHERE e.method = '{CREATE_ORGANIZATION}' AND \
             NOT EXISTS (SELECT 1 FROM organizations o WHERE e.resource = 'organizations/' || o.id)"
        ))
        .await;
    assert_eq!(
        (without_event, without_organization),
        (0, 0),
        "organisations without their event, events without their organisation"
    );
}

type Organizations = pb::organization_service_client::OrganizationServiceClient<Channel>;

/// The names of every organisation, deleted ones too, sorted.
async fn every_organization(organizations: &mut Organizations, token: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = organizations
            .list_organizations(with_token(
                pb::ListOrganizationsRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                    show_deleted: true,
                    ..Default::default()
                },
                token,
            ))
            .await
            .expect("the admin lists organisations")
            .into_inner();
        names.extend(
            page.organizations
                .into_iter()
                .map(|organization| organization.name),
        );
        if page.next_page_token.is_empty() {
            names.sort();
            return names;
        }
        page_token = page.next_page_token;
    }
}

/// The organisations the audit log records as created, sorted.
async fn created_organizations_in_the_audit_log(channel: Channel, token: &str) -> Vec<String> {
    let mut audit = pb::audit_service_client::AuditServiceClient::new(channel);
    let mut names = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = audit
            .list_audit_events(with_token(
                pb::ListAuditEventsRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                    filter: format!("method = \"{CREATE_ORGANIZATION}\""),
                    ..Default::default()
                },
                token,
            ))
            .await
            .expect("the admin lists audit events")
            .into_inner();
        names.extend(page.audit_events.into_iter().map(|event| event.resource));
        if page.next_page_token.is_empty() {
            names.sort();
            return names;
        }
        page_token = page.next_page_token;
    }
}

// ------------------------------------------------------- a PostgreSQL of its own --

/// Whether this is the PostgreSQL pass; on the SQLite pass, says why the test does nothing.
fn on_the_postgres_pass() -> bool {
    let on = std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty());
    if !on {
        println!(
            "skipped on the SQLite pass: this test stops and starts a PostgreSQL server of its own, in the PostgreSQL pass of scripts/test.sh"
        );
    }
    on
}

/// A PostgreSQL server of the test's own, on a free loopback port, deleted when dropped.
/// As root it runs as the `postgres` user (initdb and postgres refuse root).
struct ThrowawayPostgres {
    binaries: PathBuf,
    directory: tempfile::TempDir,
    as_root: bool,
    port: u16,
}

impl ThrowawayPostgres {
    async fn start() -> ThrowawayPostgres {
        let as_root = run_to_text(std::process::Command::new("id").arg("-u")).trim() == "0";
        // As root, the temporary directory may be under /root, which postgres cannot enter.
        let parent = if as_root {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let directory = tempfile::Builder::new()
            .prefix("tipgrants-faults-pg.")
            .tempdir_in(parent)
            .expect("a directory for PostgreSQL");
        let postgres = ThrowawayPostgres {
            binaries: postgres_binaries(),
            as_root,
            port: free_port(),
            directory,
        };
        for folder in ["data", "socket"] {
            std::fs::create_dir(postgres.path(folder)).expect("a PostgreSQL folder");
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            postgres.directory.path(),
            std::fs::Permissions::from_mode(0o755),
        )
        .expect("open the directory to the server's user");
        std::fs::set_permissions(
            postgres.path("data"),
            std::fs::Permissions::from_mode(0o700),
        )
        .expect("close the data folder");
        if as_root {
            run_to_text(
                std::process::Command::new("chown")
                    .arg("-R")
                    .arg("postgres:")
                    .arg(postgres.directory.path()),
            );
        }
        postgres
            .run(
                "initdb",
                &[
                    "-D",
                    &postgres.path("data").display().to_string(),
                    "--auth=trust",
                    "--username=postgres",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
            )
            .await;
        postgres.start_again().await;
        postgres
    }

    fn path(&self, name: &str) -> PathBuf {
        self.directory.path().join(name)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server (again) on the same port, and waits until it accepts connections.
    async fn start_again(&self) {
        // fsync off is safe here: only PostgreSQL dies, never the machine's page cache.
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c fsync=off -c max_connections=100",
            self.port,
            self.path("socket").display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.path("data").display().to_string(),
                "-l",
                &self.path("postgres.log").display().to_string(),
                "-w",
                "-t",
                "60",
                "-s",
                "-o",
                &options,
                "start",
            ],
        )
        .await;
    }

    /// Stops the server in `mode`: `immediate` as a crash would (every process at once, no
    /// checkpoint), `fast` as an operator would (each session told it is ending).
    async fn stop(&self, mode: &str) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.path("data").display().to_string(),
                "-m",
                mode,
                "-w",
                "-s",
                "stop",
            ],
        )
        .await;
    }

    /// Runs one of PostgreSQL's programs as the server's user; fails with its output.
    async fn run(&self, program: &str, arguments: &[&str]) {
        let executable = self.binaries.join(program);
        let mut command = if self.as_root {
            let mut command = tokio::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&executable);
            command
        } else {
            tokio::process::Command::new(&executable)
        };
        let output = command
            .args(arguments)
            .current_dir(self.directory.path())
            .output()
            .await
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", executable.display()));
        assert!(
            output.status.success(),
            "{program} {arguments:?} failed: {}{}\nserver log:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(self.path("postgres.log")).unwrap_or_default()
        );
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        let data = self.path("data").display().to_string();
        let pg_ctl = self.binaries.join("pg_ctl");
        let mut command = if self.as_root {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&pg_ctl);
            command
        } else {
            std::process::Command::new(&pg_ctl)
        };
        let _stopped = command
            .args(["-D", &data, "-m", "immediate", "-s", "stop"])
            .current_dir(self.directory.path())
            .output();
    }
}

/// The folder of initdb and pg_ctl: the highest `/usr/lib/postgresql/<version>/bin`, else
/// the one on the PATH. Missing ones fail the test with what to do.
fn postgres_binaries() -> PathBuf {
    let has_both =
        |folder: &Path| folder.join("initdb").is_file() && folder.join("pg_ctl").is_file();
    let versioned = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry
                .file_name()
                .to_str()?
                .split('.')
                .next()?
                .parse()
                .ok()?;
            let folder = entry.path().join("bin");
            has_both(&folder).then_some((version, folder))
        })
        .max();
    if let Some((_, folder)) = versioned {
        return folder;
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|folder| has_both(folder))
        .expect(
            "PostgreSQL's server programs (initdb, pg_ctl) are not installed: install Debian's \
             postgresql package, as scripts/with-postgres.sh does in the PostgreSQL pass",
        )
}

/// A loopback port free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn run_to_text(command: &mut std::process::Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    assert!(output.status.success(), "{command:?} failed: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}
