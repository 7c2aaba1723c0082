//! End to end: the built `tipgrants` binary, driven by a real grpcurl 1.8.6
//! (reflection v1alpha) exactly as an administrator would use it. The binary
//! listens on port 0 and the test reads the port back from its log line
//! "serving gRPC address=...", so no port is ever guessed; it uses the pass's
//! database (SQLite, or PostgreSQL with `TEST_DATABASE_URL`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tipgrants::secret::ExposeSecret;

/// grpcurl from `TIPGRANTS_GRPCURL` or `.tools/bin/grpcurl`; a missing one fails loudly.
pub fn grpcurl_path() -> PathBuf {
    let path = std::env::var_os("TIPGRANTS_GRPCURL")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin/grpcurl"));
    assert!(
        path.is_file(),
        "grpcurl not found at {}: run scripts/install-tools.sh (or set TIPGRANTS_GRPCURL); scripts/test.sh does both",
        path.display()
    );
    path
}

/// The built `tipgrants` binary, serving on a port it chose itself (port 0) against a fresh
/// database of the pass: a SQLite file, or a PostgreSQL database when `TEST_DATABASE_URL` is set.
pub struct Server {
    child: Child,
    /// The address the server bound, read back from its log.
    pub address: String,
    environment: Vec<(String, String)>,
    directory: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts the binary with `extra` environment variables over the test's settings, and waits
    /// until it logs the address it is serving on.
    pub fn start_with(extra: &[(&str, &str)]) -> Server {
        let directory = tempfile::tempdir().unwrap();
        let mut environment = fresh_server_environment(&directory);
        environment.extend(
            extra
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string())),
        );
        let child = spawn_binary(&environment, &directory.path().join("server.log"));
        let mut server = Server {
            child,
            address: String::new(),
            environment,
            directory,
        };
        server.address = server.wait_for_bound_address();
        server
    }

    /// Kills the server at once (SIGKILL), as a crash would: no drain, no shutdown.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill the server");
        self.child.wait().expect("reap the server");
    }

    /// Starts the binary again on the same database and token file, after [`Server::kill`];
    /// the earlier log is kept as `server.log.1`.
    pub fn start_again(&mut self) {
        let log = self.directory.path().join("server.log");
        std::fs::rename(&log, self.directory.path().join("server.log.1")).expect("keep the log");
        self.child = spawn_binary(&self.environment, &log);
        self.address = self.wait_for_bound_address();
    }

    /// Reads the "serving gRPC" line the server logs once it listens; fails if it exits first,
    /// or if it serves another database than the pass's.
    fn wait_for_bound_address(&mut self) -> String {
        let expected = match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => "postgres",
            _ => "sqlite",
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some((address, database)) = serving_line(&self.log()) {
                assert_eq!(database, expected, "the database of the pass");
                return address;
            }
            if let Some(status) = self.child.try_wait().expect("poll the server") {
                panic!(
                    "the server exited ({status}) before it served: {}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the server did not log the address it serves on: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn directory(&self) -> &Path {
        self.directory.path()
    }

    /// The server's environment (database, token file), for commands that must use the same database.
    pub fn environment(&self) -> Vec<(String, String)> {
        self.environment.clone()
    }

    /// Standard error of the server so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.directory.path().join("server.log")).unwrap_or_default()
    }

    /// Waits for the first JSON log line that `matches` (the access log is written when a call
    /// ends, a moment after the client has its answer); fails naming `what` after a minute.
    pub fn wait_for_log_line(
        &self,
        what: &str,
        matches: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let found = self
                .log()
                .lines()
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .find(|line| matches(line));
            if let Some(line) = found {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no log line {what}: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Where the server wrote its bootstrap admin token.
    pub fn admin_token_file(&self) -> PathBuf {
        self.directory.path().join("admin-token")
    }

    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.admin_token_file())
            .unwrap()
            .trim()
            .to_string()
    }

    /// Runs grpcurl with `-plaintext`, an optional token and an optional JSON body, then the arguments.
    fn grpcurl(&self, arguments: &[&str], token: Option<&str>, body: Option<&str>) -> Output {
        let mut command = Command::new(grpcurl_path());
        command.arg("-plaintext");
        if let Some(token) = token {
            command.args(["-H", &format!("authorization: Bearer {token}")]);
        }
        if let Some(body) = body {
            command.args(["-d", body]);
        }
        let (flags, rest): (Vec<&str>, Vec<&str>) = arguments
            .iter()
            .partition(|argument| argument.starts_with('-'));
        command.args(flags).arg(&self.address).args(rest);
        command.output().expect("run grpcurl")
    }

    pub fn stop(mut self) -> std::process::ExitStatus {
        // SAFETY: sending SIGTERM to our own child process by its id.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        self.child.wait().expect("the server exits")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _reaped = self.child.wait();
    }
}

/// Runs `tipgrants serve` with `environment`, its standard error into `log`.
fn spawn_binary(environment: &[(String, String)], log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tipgrants"))
        .arg("serve")
        .env_remove("RUST_LOG")
        .envs(environment.iter().cloned())
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
        .spawn()
        .expect("start the tipgrants binary")
}

/// The address and the database backend in the server's "serving gRPC" log line, in the pretty
/// or the JSON format.
fn serving_line(log: &str) -> Option<(String, String)> {
    log.lines().find_map(|line| {
        if let Ok(event) = serde_json::from_str::<serde_json::Value>(line) {
            if event["message"] != "serving gRPC" {
                return None;
            }
            let field = |name: &str| event[name].as_str().map(str::to_string);
            return field("address").zip(field("database"));
        }
        let (_, fields) = line.split_once("serving gRPC ")?;
        let field = |name: &str| {
            fields
                .split_whitespace()
                .find_map(|field| field.strip_prefix(&format!("{name}=")))
                .map(|value| value.trim_matches('"').to_string())
        };
        field("address").zip(field("database"))
    })
}

/// The settings of `spawn_app()` (port 0, a fresh database of the pass, the token file in
/// `directory`) as the binary's environment variables.
fn fresh_server_environment(directory: &tempfile::TempDir) -> Vec<(String, String)> {
    let settings = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime to prepare the database")
        .block_on(crate::helpers::test_settings(directory));
    [
        ("SERVER__LISTEN_ADDRESS", settings.server.listen_address),
        (
            "DATABASE__URL",
            settings.database.url.expose_secret().to_string(),
        ),
        ("DATABASE__SQLITE_PATH", settings.database.sqlite_path),
        (
            "AUTH__BOOTSTRAP_TOKEN_FILE",
            settings.auth.bootstrap_token_file,
        ),
        ("SERVER__SHUTDOWN_GRACE_PERIOD_SECONDS", "3".into()),
        // The bound address is logged at INFO.
        ("TELEMETRY__FILTER", "info".into()),
    ]
    .into_iter()
    .map(|(key, value)| (format!("TIPGRANTS__{key}"), value))
    .collect()
}

/// A SQLite database in `directory`, whatever the pass: for tests that need a database no
/// migration has touched yet.
fn unmigrated_sqlite_environment(directory: &Path) -> Vec<(String, String)> {
    vec![
        (
            "TIPGRANTS__DATABASE__SQLITE_PATH".into(),
            directory.join("e2e.sqlite3").display().to_string(),
        ),
        (
            "TIPGRANTS__AUTH__BOOTSTRAP_TOKEN_FILE".into(),
            directory.join("admin-token").display().to_string(),
        ),
    ]
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn an_administrator_uses_the_server_with_grpcurl_alone() {
    let server = Server::start();
    let admin = server.admin_token();

    let services = server.grpcurl(&["list"], None, None);
    assert!(services.status.success(), "{}", text(&services));
    for service in [
        "grpc.health.v1.Health",
        "tipgrants.v1.OrganizationService",
        "tipgrants.v1.AccessService",
        "tipgrants.v1.AuditService",
    ] {
        assert!(text(&services).contains(service), "{}", text(&services));
    }

    let described = server.grpcurl(
        &["describe", "tipgrants.v1.OrganizationService"],
        None,
        None,
    );
    assert!(
        text(&described).contains("Manages organisations"),
        "proto comments are served: {}",
        text(&described)
    );

    let created = server.grpcurl(
        &["tipgrants.v1.OrganizationService/CreateOrganization"],
        Some(&admin),
        Some(r#"{"organization": {"display_name": "Liberia Justice Initiative", "kind": "ORGANIZATION_KIND_NGO", "country_code": "LR"}}"#),
    );
    assert!(created.status.success(), "{}", text(&created));
    assert!(text(&created).contains("\"name\": \"organizations/"));

    let listed = server.grpcurl(
        &["tipgrants.v1.OrganizationService/ListOrganizations"],
        Some(&admin),
        Some("{}"),
    );
    assert!(
        text(&listed).contains("Liberia Justice Initiative"),
        "{}",
        text(&listed)
    );

    let invalid = server.grpcurl(
        &["tipgrants.v1.OrganizationService/CreateOrganization"],
        Some(&admin),
        Some(r#"{"organization": {"display_name": "", "kind": "ORGANIZATION_KIND_NGO", "country_code": "Liberia"}}"#),
    );
    assert!(!invalid.status.success());
    let invalid = text(&invalid);
    assert!(invalid.contains("InvalidArgument"), "{invalid}");
    assert!(
        invalid.contains("google.rpc.BadRequest"),
        "details are decoded, not base64: {invalid}"
    );
    assert!(
        invalid.contains("organization.display_name")
            && invalid.contains("organization.country_code"),
        "{invalid}"
    );

    let unauthenticated = server.grpcurl(
        &["tipgrants.v1.OrganizationService/ListOrganizations"],
        None,
        Some("{}"),
    );
    assert!(
        text(&unauthenticated).contains("Unauthenticated"),
        "{}",
        text(&unauthenticated)
    );

    let health = server.grpcurl(&["grpc.health.v1.Health/Check"], None, None);
    assert!(text(&health).contains("SERVING"), "{}", text(&health));

    let status = server.stop();
    assert!(
        status.success(),
        "SIGTERM ends the server cleanly: {status:?}"
    );
}

#[test]
fn tokens_made_on_the_command_line_work_with_their_role() {
    let server = Server::start();
    let token = Command::new(env!("CARGO_BIN_EXE_tipgrants"))
        .args([
            "token",
            "create",
            "--role",
            "program-officer",
            "--name",
            "officer laptop",
        ])
        .envs(server.environment())
        .output()
        .expect("run tipgrants token create");
    assert!(token.status.success(), "{}", text(&token));
    let secret = String::from_utf8_lossy(&token.stdout).trim().to_string();
    assert!(secret.starts_with("tg_"), "{secret}");

    let created = server.grpcurl(
        &["tipgrants.v1.OrganizationService/CreateOrganization"],
        Some(&secret),
        Some(r#"{"organization": {"display_name": "Peru Police Academy", "kind": "ORGANIZATION_KIND_GOVERNMENT", "country_code": "PE"}}"#),
    );
    assert!(created.status.success(), "{}", text(&created));
    let denied = server.grpcurl(
        &["tipgrants.v1.AccessService/ListApiTokens"],
        Some(&secret),
        Some("{}"),
    );
    assert!(
        text(&denied).contains("PermissionDenied"),
        "{}",
        text(&denied)
    );

    let bad_role = Command::new(env!("CARGO_BIN_EXE_tipgrants"))
        .args(["token", "create", "--role", "superuser", "--name", "x"])
        .envs(server.environment())
        .output()
        .unwrap();
    assert!(!bad_role.status.success());
    assert!(text(&bad_role).contains("--role"), "{}", text(&bad_role));
}

#[test]
fn a_bad_setting_stops_the_binary_with_one_line_naming_the_key() {
    let output = Command::new(env!("CARGO_BIN_EXE_tipgrants"))
        .arg("serve")
        .env("TIPGRANTS__FISCAL_YEAR__FIRST_MONTH", "0")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("fiscal_year.first_month"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

/// Runs a grpcurl call that must succeed and returns its JSON answer.
fn call(server: &Server, method: &str, token: &str, body: &str) -> serde_json::Value {
    let output = server.grpcurl(&[method], Some(token), Some(body));
    assert!(output.status.success(), "{method}: {}", text(&output));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{method}: {error}: {}", text(&output)))
}

fn name_of(answer: &serde_json::Value) -> String {
    answer["name"]
        .as_str()
        .expect("a resource name")
        .to_string()
}

#[test]
fn a_program_officer_sets_up_and_activates_a_regional_grant_with_grpcurl_alone() {
    let server = Server::start();
    let admin = server.admin_token();
    let officer = call(
        &server,
        "tipgrants.v1.AccessService/CreateApiToken",
        &admin,
        r#"{"api_token": {"display_name": "officer", "owner": "jane.doe@state.example", "role": "ROLE_PROGRAM_OFFICER"}}"#,
    )["secret"]
        .as_str()
        .unwrap()
        .to_string();
    for (code, name) in [
        ("ESF", "Economic Support Fund"),
        (
            "INCLE",
            "International Narcotics Control and Law Enforcement",
        ),
    ] {
        call(
            &server,
            "tipgrants.v1.ReferenceDataService/CreateFundingAccount",
            &admin,
            &format!(
                r#"{{"funding_account_id": "{code}", "funding_account": {{"display_name": "{name}"}}}}"#
            ),
        );
    }

    for (code, year) in [("ESF", 2014), ("INCLE", 2015)] {
        let appropriation = call(
            &server,
            "tipgrants.v1.FundsService/CreateAppropriation",
            &admin,
            &format!(
                r#"{{"parent": "fundingAccounts/{code}", "appropriation": {{"fiscal_year": {year}, "amount": "1000000000", "availability_years": 2}}}}"#
            ),
        );
        assert_eq!(
            appropriation["status"], "FUNDS_STATUS_CANCELLED",
            "{appropriation}"
        );
    }

    let grantee = name_of(&call(
        &server,
        "tipgrants.v1.OrganizationService/CreateOrganization",
        &officer,
        r#"{"organization": {"display_name": "Southern Africa Counter-Trafficking Alliance", "kind": "ORGANIZATION_KIND_NGO", "country_code": "BW"}}"#,
    ));
    let grant = name_of(&call(
        &server,
        "tipgrants.v1.GrantService/CreateGrant",
        &officer,
        &format!(
            r#"{{"grant": {{"award_number": "SGTIP14CA0007", "title": "SADC legal frameworks", "grantee": "{grantee}",
                "instrument": "GRANT_INSTRUMENT_COOPERATIVE_AGREEMENT", "approach": "GRANT_APPROACH_COMPREHENSIVE_MULTI_YEAR",
                "start_date": "2013-10-01", "end_date": "2016-09-30", "reporting_cadence": "REPORTING_CADENCE_QUARTERLY",
                "program_officer": "jane.doe@state.example"}}}}"#
        ),
    ));
    for body in [
        r#"{"kind": "OBLIGATION_KIND_INITIAL_AWARD", "funding_account": "fundingAccounts/ESF", "fiscal_year": 2014, "amount": "75000000", "obligation_date": "2014-03-01"}"#,
        r#"{"kind": "OBLIGATION_KIND_INCREMENT", "funding_account": "fundingAccounts/INCLE", "fiscal_year": 2015, "amount": "25000000", "obligation_date": "2014-12-01"}"#,
    ] {
        call(
            &server,
            "tipgrants.v1.GrantService/CreateObligation",
            &officer,
            &format!(r#"{{"parent": "{grant}", "obligation": {body}}}"#),
        );
    }
    let project = name_of(&call(
        &server,
        "tipgrants.v1.ProjectService/CreateProject",
        &officer,
        &format!(
            r#"{{"parent": "{grant}", "project": {{"title": "Anti-trafficking laws in Southern Africa", "country_codes": ["BW", "NA", "ZW"],
                "pillars": ["PILLAR_PROSECUTION", "PILLAR_PARTNERSHIP"], "activity_kinds": ["ACTIVITY_KIND_LEGISLATION_DRAFTING", "ACTIVITY_KIND_LAW_ENFORCEMENT_TRAINING"],
                "start_date": "2014-01-01", "end_date": "2016-06-30"}}}}"#
        ),
    ));
    call(
        &server,
        "tipgrants.v1.ProjectService/CreateIndicator",
        &officer,
        &format!(
            r#"{{"parent": "{project}", "indicator": {{"display_name": "Officials trained", "unit": "officials",
                "outcome_kind": "OUTCOME_KIND_OFFICIALS_TRAINED", "targets": [{{"fiscal_year": 2014, "value": "300"}}]}}}}"#
        ),
    );
    let active = call(
        &server,
        "tipgrants.v1.GrantService/ActivateGrant",
        &officer,
        &format!(r#"{{"name": "{grant}"}}"#),
    );
    let by_year = call(
        &server,
        "tipgrants.v1.GrantService/ListGrants",
        &officer,
        r#"{"filter": "fiscal_year = 2015"}"#,
    );
    let by_country = call(
        &server,
        "tipgrants.v1.GrantService/ListGrants",
        &officer,
        r#"{"filter": "country = NA"}"#,
    );
    let elsewhere = call(
        &server,
        "tipgrants.v1.GrantService/ListGrants",
        &officer,
        r#"{"filter": "country = HT"}"#,
    );

    assert_eq!(active["state"], "GRANT_STATE_ACTIVE");
    assert_eq!(active["obligatedAmount"], "100000000");
    assert_eq!(by_year["grants"][0]["name"], grant.as_str());
    assert_eq!(by_country["grants"][0]["name"], grant.as_str());
    assert!(
        elsewhere.get("grants").is_none(),
        "no grant works in Haiti: {elsewhere}"
    );
}

#[test]
fn migrate_reports_status_rolls_back_one_step_and_applies_again() {
    let directory = tempfile::tempdir().unwrap();
    let environment = unmigrated_sqlite_environment(directory.path());
    let migrate = |action: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_tipgrants"))
            .args(["migrate", action])
            .envs(environment.clone())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "migrate {action}: {}",
            text(&output)
        );
        String::from_utf8_lossy(&output.stdout).to_string()
    };

    let fresh = migrate("status");
    migrate("up");
    let applied = migrate("status");
    migrate("down");
    let after_down = migrate("status");
    migrate("up");
    let again = migrate("status");

    assert!(
        fresh.lines().all(|line| line.starts_with("pending")),
        "{fresh}"
    );
    assert!(
        applied.lines().count() >= 3 && applied.lines().all(|line| line.starts_with("applied")),
        "{applied}"
    );
    assert_eq!(
        after_down
            .lines()
            .filter(|line| line.starts_with("pending"))
            .count(),
        1,
        "{after_down}"
    );
    assert_eq!(again, applied);
}

#[tokio::test]
async fn the_upgrade_gives_allocations_made_before_the_one_ledger_an_appropriation() {
    use sea_orm::{ConnectionTrait, Database};
    let directory = tempfile::tempdir().unwrap();
    let environment = unmigrated_sqlite_environment(directory.path());
    let migrate = |action: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_tipgrants"))
            .args(["migrate", action])
            .envs(environment.clone())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "migrate {action}: {}",
            text(&output)
        );
    };
    // The database as it was before allocations drew on appropriations (migration 000013, the
    // second to last), with a FY 2014 fund.
    migrate("up");
    migrate("down");
    migrate("down");
    let url = format!(
        "sqlite://{}?mode=rw",
        directory.path().join("e2e.sqlite3").display()
    );
    let db = Database::connect(&url).await.unwrap();
    for statement in [
        "INSERT INTO fund_years (fiscal_year, allocated, committed, paid, case_sequence, update_time)
         VALUES (2014, 400000, 0, 0, 0, '2014-02-01T10:00:00+00:00')",
        "INSERT INTO fund_allocations (id, fiscal_year, amount, note, creator, create_time)
         VALUES ('a1', 2014, 500000, 'FY 2014 fund', 'apiTokens/t', '2014-02-01T10:00:00+00:00'),
                ('a2', 2014, -100000, 'rescission', 'apiTokens/t', '2014-06-01T10:00:00+00:00')",
    ] {
        db.execute_unprepared(statement).await.unwrap();
    }
    db.close().await.unwrap();

    migrate("up");

    let db = Database::connect(&url).await.unwrap();
    let rows = |sql: &'static str| {
        let db = &db;
        async move {
            db.query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                sql,
            ))
            .await
            .unwrap()
        }
    };
    let accounts = rows("SELECT code FROM funding_accounts").await;
    let appropriations =
        rows("SELECT id, amount_cents, availability_years FROM appropriations ORDER BY id").await;
    let allocations = rows("SELECT account_code FROM fund_allocations ORDER BY id").await;
    let code: String = accounts[0].try_get("", "code").unwrap();
    assert_eq!((accounts.len(), code.as_str()), (1, "EVAF"));
    assert_eq!(appropriations.len(), 1);
    let id: String = appropriations[0].try_get("", "id").unwrap();
    let amount: i64 = appropriations[0].try_get("", "amount_cents").unwrap();
    assert_eq!(
        (id.as_str(), amount),
        ("EVAF/2014", 500_000),
        "what was allocated, before the rescission gave some back"
    );
    for allocation in &allocations {
        let account: String = allocation.try_get("", "account_code").unwrap();
        assert_eq!(account, "EVAF");
    }
}

#[test]
fn each_call_logs_one_json_line_with_method_code_latency_and_request_id() {
    let server = Server::start_with(&[("TIPGRANTS__TELEMETRY__FORMAT", "json")]);
    let admin = server.admin_token();

    let output = Command::new(grpcurl_path())
        .args([
            "-plaintext",
            "-H",
            "x-request-id: trace-me-42",
            "-H",
            &format!("authorization: Bearer {admin}"),
        ])
        .args([
            "-d",
            r#"{"name": "organizations/missing"}"#,
            &server.address,
            "tipgrants.v1.OrganizationService/GetOrganization",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let line = server.wait_for_log_line("'rpc finished' for the request", |line| {
        line["message"] == "rpc finished"
            && line["span"]["request_id"] == "trace-me-42"
            && line["span"]["method"] == "/tipgrants.v1.OrganizationService/GetOrganization"
    });
    let log = server.log();
    let span = &line["span"];
    assert_eq!(
        span["method"], "/tipgrants.v1.OrganizationService/GetOrganization",
        "{line}"
    );
    assert_eq!(span["request_id"], "trace-me-42", "{line}");
    assert_eq!(span["code"], "NotFound", "{line}");
    assert_eq!(span["actor"], "apiTokens/bootstrap", "{line}");
    assert!(span["latency_ms"].as_f64().is_some(), "{line}");
    assert!(!log.contains(&admin), "the token never reaches the log");
}
