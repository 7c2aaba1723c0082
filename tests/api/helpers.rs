//! `spawn_app()`: the real server in-process on port 0 against a fresh
//! database, with generated clients. SQLite by default; PostgreSQL when
//! `TEST_DATABASE_URL` is set. Either way a template is migrated once per
//! test binary and each test gets a copy: a copy of the SQLite file, or
//! `CREATE DATABASE ... TEMPLATE` on PostgreSQL.

use std::net::SocketAddr;
use std::str::FromStr;

use sea_orm::{ConnectionTrait, Database};
use tempfile::TempDir;
use tipgrants::settings::Settings;
use tipgrants::startup::Application;
use tipgrants::store::Store;
use tokio::sync::{Mutex, OnceCell, oneshot};
use tokio::task::JoinHandle;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

pub use tipgrants::pb::v1 as pb;

type Authed = InterceptedService<Channel, Bearer>;

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A running server for one test.
pub struct TestApp {
    pub address: SocketAddr,
    /// The ops listener (health, `/metrics`), when `server.health_listen_address` is set.
    pub health_address: Option<SocketAddr>,
    /// The bootstrap admin token, read from the file the server wrote.
    pub admin_token: String,
    pub store: Store,
    channel: Channel,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    _directory: TempDir,
}

/// The settings of a test server: port 0, its own database, bootstrap token in a file.
pub async fn test_settings(directory: &TempDir) -> Settings {
    let mut settings = Settings::load_from(None, Vec::<(String, String)>::new())
        .expect("default settings are valid");
    settings.server.listen_address = "127.0.0.1:0".into();
    settings.server.shutdown_grace_period_seconds = 2;
    settings.auth.bootstrap_token_file = directory.path().join("admin-token").display().to_string();
    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
    {
        Some(admin_url) => settings.database.url = fresh_postgres_database(&admin_url).await.into(),
        None => {
            let path = directory.path().join("test.sqlite3");
            std::fs::write(&path, migrated_sqlite_template().await)
                .expect("copy the migrated SQLite template");
            settings.database.sqlite_path = path.display().to_string()
        }
    }
    settings
}

/// Starts a server with default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a server after `customize` adjusts its settings.
pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    let directory = tempfile::tempdir().expect("temporary directory");
    let mut settings = test_settings(&directory).await;
    customize(&mut settings);
    start_app(directory, settings).await
}

/// Starts a server with exactly `settings`, e.g. on a database another server of the test used
/// before (its bootstrap token file must already hold the admin token).
pub async fn spawn_app_on(settings: Settings) -> TestApp {
    let directory = tempfile::tempdir().expect("temporary directory");
    start_app(directory, settings).await
}

async fn start_app(directory: TempDir, settings: Settings) -> TestApp {
    let token_file = settings.bootstrap_token_file().expect("token file set");
    let application = Application::build(settings)
        .await
        .expect("the server builds");
    let address = application.address();
    let health_address = application.health_address();
    let store = application.store();
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        application
            .run_until_stopped(async move {
                let _signal = stopped.await;
            })
            .await
            .expect("the server runs");
    });
    let admin_token = std::fs::read_to_string(&token_file)
        .expect("the bootstrap token file was written")
        .trim()
        .to_string();
    // Lazy: a TLS server refuses this plaintext channel, and TLS tests make their own.
    let channel = Channel::from_shared(format!("http://{address}"))
        .expect("uri")
        .connect_lazy();
    TestApp {
        address,
        health_address,
        admin_token,
        store,
        channel,
        shutdown: Some(shutdown),
        task: Some(task),
        _directory: directory,
    }
}

impl TestApp {
    pub fn bearer(&self, token: Option<&str>) -> Bearer {
        Bearer(
            token.map(|token| {
                MetadataValue::from_str(&format!("Bearer {token}")).expect("ascii token")
            }),
        )
    }

    /// The test's private directory (database file, bootstrap token file).
    pub fn directory(&self) -> &std::path::Path {
        self._directory.path()
    }

    /// The channel to the server (no token attached).
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    pub fn organizations(
        &self,
        token: Option<&str>,
    ) -> pb::organization_service_client::OrganizationServiceClient<Authed> {
        pb::organization_service_client::OrganizationServiceClient::with_interceptor(
            self.channel(),
            self.bearer(token),
        )
    }

    pub fn reference_data(
        &self,
        token: Option<&str>,
    ) -> pb::reference_data_service_client::ReferenceDataServiceClient<Authed> {
        pb::reference_data_service_client::ReferenceDataServiceClient::with_interceptor(
            self.channel(),
            self.bearer(token),
        )
    }

    pub fn tip_report(
        &self,
        token: Option<&str>,
    ) -> pb::tip_report_service_client::TipReportServiceClient<Authed> {
        pb::tip_report_service_client::TipReportServiceClient::with_interceptor(
            self.channel(),
            self.bearer(token),
        )
    }

    pub fn access(
        &self,
        token: Option<&str>,
    ) -> pb::access_service_client::AccessServiceClient<Authed> {
        pb::access_service_client::AccessServiceClient::with_interceptor(
            self.channel(),
            self.bearer(token),
        )
    }

    pub fn audit(
        &self,
        token: Option<&str>,
    ) -> pb::audit_service_client::AuditServiceClient<Authed> {
        pb::audit_service_client::AuditServiceClient::with_interceptor(
            self.channel(),
            self.bearer(token),
        )
    }

    pub fn funds(
        &self,
        token: Option<&str>,
    ) -> pb::funds_service_client::FundsServiceClient<Authed> {
        pb::funds_service_client::FundsServiceClient::with_interceptor(
            self.channel(),
            self.bearer(token),
        )
    }

    pub fn financial_reports(
        &self,
        token: Option<&str>,
    ) -> pb::financial_report_service_client::FinancialReportServiceClient<Authed> {
        pb::financial_report_service_client::FinancialReportServiceClient::with_interceptor(
            self.channel(),
            self.bearer(token),
        )
    }

    pub fn payments(
        &self,
        token: Option<&str>,
    ) -> pb::payment_service_client::PaymentServiceClient<Authed> {
        pb::payment_service_client::PaymentServiceClient::with_interceptor(
            self.channel(),
            self.bearer(token),
        )
    }

    pub fn amendments(
        &self,
        token: Option<&str>,
    ) -> pb::amendment_service_client::AmendmentServiceClient<Authed> {
        pb::amendment_service_client::AmendmentServiceClient::with_interceptor(
            self.channel(),
            self.bearer(token),
        )
    }

    pub fn closeouts(
        &self,
        token: Option<&str>,
    ) -> pb::closeout_service_client::CloseoutServiceClient<Authed> {
        pb::closeout_service_client::CloseoutServiceClient::with_interceptor(
            self.channel(),
            self.bearer(token),
        )
    }

    pub fn grants(
        &self,
        token: Option<&str>,
    ) -> pb::grant_service_client::GrantServiceClient<Authed> {
        pb::grant_service_client::GrantServiceClient::with_interceptor(
            self.channel(),
            self.bearer(token),
        )
    }

    pub fn assistance(
        &self,
        token: Option<&str>,
    ) -> pb::assistance_service_client::AssistanceServiceClient<Authed> {
        pb::assistance_service_client::AssistanceServiceClient::with_interceptor(
            self.channel(),
            self.bearer(token),
        )
    }

    pub fn projects(
        &self,
        token: Option<&str>,
    ) -> pb::project_service_client::ProjectServiceClient<Authed> {
        pb::project_service_client::ProjectServiceClient::with_interceptor(
            self.channel(),
            self.bearer(token),
        )
    }

    pub fn outcome_reports(
        &self,
        token: Option<&str>,
    ) -> pb::outcome_report_service_client::OutcomeReportServiceClient<Authed> {
        pb::outcome_report_service_client::OutcomeReportServiceClient::with_interceptor(
            self.channel(),
            self.bearer(token),
        )
    }

    pub fn reports(
        &self,
        token: Option<&str>,
    ) -> pb::report_service_client::ReportServiceClient<Authed> {
        pb::report_service_client::ReportServiceClient::with_interceptor(
            self.channel(),
            self.bearer(token),
        )
    }

    /// A report client that reads slowly, on a connection of its own with a small HTTP/2
    /// window: a stream to it fills its window and waits, as one to a slow reader does.
    pub fn slow_reports(
        &self,
        token: Option<&str>,
    ) -> pb::report_service_client::ReportServiceClient<Authed> {
        let channel = tonic::transport::Channel::from_shared(format!("http://{}", self.address))
            .expect("uri")
            .initial_stream_window_size(Some(1024))
            .connect_lazy();
        pb::report_service_client::ReportServiceClient::with_interceptor(
            channel,
            self.bearer(token),
        )
    }

    /// Admin clients, the most common case.
    pub fn admin(&self) -> Option<&str> {
        Some(&self.admin_token)
    }

    /// Creates a token of `role` (bound to `organization` for grantees) and returns its secret.
    pub async fn token(&self, role: pb::Role, organization: &str) -> String {
        self.token_named(role, organization).await.1
    }

    /// Like [`TestApp::token`], also returning the token's resource name. Each token has an owner
    /// of its own (four eyes compare owners: two tokens of one owner are one person).
    pub async fn token_named(&self, role: pb::Role, organization: &str) -> (String, String) {
        let owner = format!("tester-{}@example.org", uuid::Uuid::new_v4());
        self.token_owned_by(role, organization, &owner).await
    }

    /// Creates a token of `role` owned by `owner`: (resource name, secret).
    pub async fn token_owned_by(
        &self,
        role: pb::Role,
        organization: &str,
        owner: &str,
    ) -> (String, String) {
        let response = self
            .access(self.admin())
            .create_api_token(pb::CreateApiTokenRequest {
                api_token: Some(pb::ApiToken {
                    display_name: format!("{role:?} test token"),
                    owner: owner.into(),
                    role: role as i32,
                    organization: organization.into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("the admin creates a token")
            .into_inner();
        (response.api_token.expect("token").name, response.secret)
    }

    /// Creates an organisation as admin.
    pub async fn organization(&self, display_name: &str, country_code: &str) -> pb::Organization {
        self.organizations(self.admin())
            .create_organization(pb::CreateOrganizationRequest {
                organization: Some(new_organization(display_name, country_code)),
                request_id: String::new(),
            })
            .await
            .expect("the admin creates an organisation")
            .into_inner()
    }

    /// Executes raw SQL on the test database (to tamper with it, or read what the API never shows).
    pub async fn execute_sql(&self, sql: &str) {
        self.store
            .connection()
            .execute_unprepared(sql)
            .await
            .unwrap_or_else(|error| panic!("SQL failed: {sql}: {error}"));
    }

    /// The audit events of one resource, oldest first.
    pub async fn audit_events_of(&self, resource: &str) -> Vec<pb::AuditEvent> {
        self.audit(self.admin())
            .list_audit_events(pb::ListAuditEventsRequest {
                filter: format!("resource = \"{resource}\""),
                page_size: 500,
                ..Default::default()
            })
            .await
            .expect("the admin lists audit events")
            .into_inner()
            .audit_events
    }

    /// Tampers with the audit log as someone with rights over the schema would: first switches off
    /// the append-only triggers, then runs `sql`.
    pub async fn tamper_with_audit_log(&self, sql: &str) {
        match self.store.backend() {
            sea_orm::DatabaseBackend::Postgres => {
                self.execute_sql(
                    "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
                )
                .await
            }
            _ => {
                self.execute_sql("DROP TRIGGER IF EXISTS audit_events_no_update")
                    .await;
                self.execute_sql("DROP TRIGGER IF EXISTS audit_events_no_delete")
                    .await;
            }
        }
        self.execute_sql(sql).await;
    }

    /// Runs raw SQL that is expected to fail; returns the database's error.
    pub async fn sql_error(&self, sql: &str) -> String {
        match self.store.connection().execute_unprepared(sql).await {
            Ok(_) => panic!("SQL succeeded but should have been refused: {sql}"),
            Err(error) => error.to_string(),
        }
    }

    /// The first column of every row of a raw query, as bytes (to read what the API never shows).
    pub async fn query_column(&self, sql: &str) -> Vec<Vec<u8>> {
        let connection = self.store.connection();
        let rows = connection
            .query_all_raw(sea_orm::Statement::from_string(
                connection.get_database_backend(),
                sql,
            ))
            .await
            .unwrap_or_else(|error| panic!("SQL failed: {sql}: {error}"));
        rows.iter()
            .map(|row| row.try_get_by_index::<Vec<u8>>(0).expect("a bytes column"))
            .collect()
    }

    /// The one number a raw query answers (a `COUNT(*)`, say).
    pub async fn query_number(&self, sql: &str) -> i64 {
        let connection = self.store.connection();
        connection
            .query_one_raw(sea_orm::Statement::from_string(
                connection.get_database_backend(),
                sql,
            ))
            .await
            .unwrap_or_else(|error| panic!("SQL failed: {sql}: {error}"))
            .and_then(|row| row.try_get_by_index::<i64>(0).ok())
            .unwrap_or_else(|| panic!("no number from {sql}"))
    }

    /// How many rows each table of the schema holds (migration bookkeeping aside), read in one
    /// statement: a call that writes nothing leaves every count as it was.
    pub async fn row_counts(&self) -> std::collections::BTreeMap<String, i64> {
        let connection = self.store.connection();
        let backend = connection.get_database_backend();
        let listing = match backend {
            sea_orm::DatabaseBackend::Postgres => {
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
            }
            _ => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
            }
        };
        let tables: Vec<String> = connection
            .query_all_raw(sea_orm::Statement::from_string(backend, listing))
            .await
            .expect("list the tables")
            .iter()
            .map(|row| row.try_get_by_index::<String>(0).expect("a table name"))
            .filter(|table| table != "seaql_migrations")
            .collect();
        let counts = tables
            .iter()
            .map(|table| format!("(SELECT COUNT(*) FROM \"{table}\")"))
            .collect::<Vec<_>>()
            .join(", ");
        let row = connection
            .query_one_raw(sea_orm::Statement::from_string(
                backend,
                format!("SELECT {counts}"),
            ))
            .await
            .expect("count the rows")
            .expect("one row");
        tables
            .into_iter()
            .enumerate()
            .map(|(index, table)| {
                let count = row.try_get_by_index::<i64>(index).expect("a count");
                (table, count)
            })
            .collect()
    }

    /// Sends the shutdown signal without waiting.
    pub fn signal_shutdown(&mut self) -> JoinHandle<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _sent = shutdown.send(());
        }
        self.task.take().expect("the server is running")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _sent = shutdown.send(());
        }
    }
}

/// A valid organisation to create.
pub fn new_organization(display_name: &str, country_code: &str) -> pb::Organization {
    pb::Organization {
        display_name: display_name.into(),
        kind: pb::OrganizationKind::Ngo as i32,
        country_code: country_code.into(),
        ..Default::default()
    }
}

/// A valid draft grant to `grantee` (an organisation name), FY 2014-2016.
pub fn new_grant(award_number: &str, grantee: &str) -> pb::Grant {
    pb::Grant {
        award_number: award_number.into(),
        title: "Strengthening the criminal justice response".into(),
        grantee: grantee.into(),
        instrument: pb::GrantInstrument::CooperativeAgreement as i32,
        approach: pb::GrantApproach::ComprehensiveMultiYear as i32,
        start_date: "2013-10-01".into(),
        end_date: "2016-09-30".into(),
        reporting_cadence: pb::ReportingCadence::Quarterly as i32,
        program_officer: "jane.doe@state.example".into(),
        ..Default::default()
    }
}

/// A valid obligation.
pub fn new_obligation(
    kind: pb::ObligationKind,
    account: &str,
    fiscal_year: i32,
    amount: i64,
    date: &str,
) -> pb::Obligation {
    pb::Obligation {
        kind: kind as i32,
        funding_account: format!("fundingAccounts/{account}"),
        fiscal_year,
        amount,
        obligation_date: date.into(),
        note: String::new(),
        ..Default::default()
    }
}

impl TestApp {
    /// Creates a funding account as admin.
    pub async fn funding_account(&self, code: &str) {
        self.reference_data(self.admin())
            .create_funding_account(pb::CreateFundingAccountRequest {
                funding_account_id: code.into(),
                funding_account: Some(pb::FundingAccount {
                    display_name: format!("{code} account"),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("the admin creates a funding account");
    }

    /// Creates a draft grant as admin.
    pub async fn grant(&self, award_number: &str, grantee: &str) -> pb::Grant {
        self.grants(self.admin())
            .create_grant(pb::CreateGrantRequest {
                grant: Some(new_grant(award_number, grantee)),
                request_id: String::new(),
            })
            .await
            .expect("the admin creates a grant")
            .into_inner()
    }

    /// Records an appropriation of `account`'s money of `fiscal_year` as admin: $1 billion
    /// of two-year money, plenty for any test's obligations.
    pub async fn appropriate(
        &self,
        account: &str,
        fiscal_year: i32,
    ) -> Result<pb::Appropriation, Status> {
        self.funds(self.admin())
            .create_appropriation(pb::CreateAppropriationRequest {
                parent: format!("fundingAccounts/{account}"),
                appropriation: Some(pb::Appropriation {
                    fiscal_year,
                    amount: 100_000_000_000,
                    availability_years: 2,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .map(|response| response.into_inner())
    }

    /// Records an obligation as admin, first recording the appropriation it draws on when
    /// there is none yet (when that fails, e.g. on a deleted account, the obligation's own
    /// answer says why).
    pub async fn obligate(
        &self,
        grant: &str,
        obligation: pb::Obligation,
    ) -> Result<pb::Obligation, Status> {
        let account = obligation
            .funding_account
            .trim_start_matches("fundingAccounts/");
        let _ = self.appropriate(account, obligation.fiscal_year).await;
        self.grants(self.admin())
            .create_obligation(pb::CreateObligationRequest {
                parent: grant.into(),
                obligation: Some(obligation),
                request_id: String::new(),
            })
            .await
            .map(|response| response.into_inner())
    }

    /// Reads a grant as admin.
    pub async fn read_grant(&self, name: &str) -> pb::Grant {
        self.grants(self.admin())
            .get_grant(pb::GetGrantRequest { name: name.into() })
            .await
            .expect("the admin reads a grant")
            .into_inner()
    }
}

/// A valid project in `countries`, inside the period of [`new_grant`].
pub fn new_project(title: &str, countries: &[&str]) -> pb::Project {
    pb::Project {
        title: title.into(),
        summary: "Training and referral".into(),
        country_codes: countries.iter().map(|code| code.to_string()).collect(),
        pillars: vec![
            pb::Pillar::Prosecution as i32,
            pb::Pillar::Protection as i32,
        ],
        activity_kinds: vec![pb::ActivityKind::LawEnforcementTraining as i32],
        start_date: "2014-01-01".into(),
        end_date: "2015-12-31".into(),
        ..Default::default()
    }
}

/// A valid indicator with one target.
pub fn new_indicator(target: i64) -> pb::Indicator {
    pb::Indicator {
        display_name: "Officials trained".into(),
        unit: "officials".into(),
        outcome_kind: pb::OutcomeKind::OfficialsTrained as i32,
        baseline: 0,
        targets: if target > 0 {
            vec![pb::IndicatorTarget {
                fiscal_year: 2014,
                period: String::new(),
                value: target,
            }]
        } else {
            vec![]
        },
        ..Default::default()
    }
}

impl TestApp {
    /// Creates a project as admin.
    pub async fn project(&self, grant: &str, project: pb::Project) -> pb::Project {
        self.projects(self.admin())
            .create_project(pb::CreateProjectRequest {
                parent: grant.into(),
                project: Some(project),
                request_id: String::new(),
            })
            .await
            .expect("the admin creates a project")
            .into_inner()
    }

    /// Adds an indicator as admin.
    pub async fn indicator(&self, project: &str, indicator: pb::Indicator) -> pb::Indicator {
        self.projects(self.admin())
            .create_indicator(pb::CreateIndicatorRequest {
                parent: project.into(),
                indicator: Some(indicator),
                request_id: String::new(),
            })
            .await
            .expect("the admin creates an indicator")
            .into_inner()
    }

    /// Activates a grant as admin.
    pub async fn activate(&self, grant: &str) -> Result<pb::Grant, Status> {
        self.grants(self.admin())
            .activate_grant(pb::ActivateGrantRequest {
                name: grant.into(),
                ..Default::default()
            })
            .await
            .map(|response| response.into_inner())
    }
}

/// The `google.rpc.BadRequest` field names of an error.
/// Each field violation as (field, description), in the order given.
pub fn violation_descriptions(status: &Status) -> Vec<(String, String)> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|bad_request| {
            bad_request
                .field_violations
                .into_iter()
                .map(|violation| (violation.field, violation.description))
                .collect()
        })
        .unwrap_or_default()
}

pub fn violated_fields(status: &Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|bad_request| {
            bad_request
                .field_violations
                .into_iter()
                .map(|v| v.field)
                .collect()
        })
        .unwrap_or_default()
}

/// The `google.rpc.ErrorInfo` reason of an error.
pub fn reason(status: &Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default()
}

/// Asserts the code of a failed call and returns its status.
#[track_caller]
pub fn expect_code<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, Status>,
    code: Code,
) -> Status {
    match result {
        Ok(response) => panic!("expected {code:?}, got OK: {:?}", response.into_inner()),
        Err(status) => {
            assert_eq!(status.code(), code, "unexpected status: {status:?}");
            status
        }
    }
}

/// Asserts INVALID_ARGUMENT naming exactly `fields`.
#[track_caller]
pub fn expect_invalid<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, Status>,
    fields: &[&str],
) {
    let status = expect_code(result, Code::InvalidArgument);
    let mut found = violated_fields(&status);
    found.sort();
    let mut expected: Vec<String> = fields.iter().map(|field| field.to_string()).collect();
    expected.sort();
    assert_eq!(found, expected, "field violations of {status:?}");
    assert_eq!(reason(&status), "INVALID_FIELD");
}

static SQLITE_TEMPLATE: OnceCell<Vec<u8>> = OnceCell::const_new();

/// The bytes of a migrated SQLite database, made once per test binary.
async fn migrated_sqlite_template() -> &'static [u8] {
    SQLITE_TEMPLATE
        .get_or_init(|| async {
            let directory = tempfile::tempdir().expect("temporary directory");
            let path = directory.path().join("template.sqlite3");
            let mut settings =
                Settings::load_from(None, Vec::<(String, String)>::new()).expect("defaults");
            settings.database.sqlite_path = path.display().to_string();
            let store = Store::connect(&settings.database, &settings.database_url())
                .await
                .expect("create the SQLite template");
            store.migrate().await.expect("migrate the SQLite template");
            // Fold the write-ahead log into the file, so the file alone is the whole database.
            store
                .connection()
                .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await
                .expect("checkpoint the SQLite template");
            store.close().await;
            std::fs::read(&path).expect("read the SQLite template")
        })
        .await
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();
static CREATE_DATABASE: Mutex<()> = Mutex::const_new(());

fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(base, query)| (base, Some(query)));
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// Settings on a new, empty database (nothing migrated): a new PostgreSQL database when the
/// suite runs on PostgreSQL, else a new SQLite file in `directory`.
pub async fn empty_database_settings(directory: &TempDir) -> Settings {
    let mut settings = test_settings(directory).await;
    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
    {
        Some(admin_url) => {
            let name = format!("tipgrants_empty_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&admin_url)
                .await
                .expect("connect to TEST_DATABASE_URL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create an empty database");
            let _closed = admin.close().await;
            settings.database.url = with_database(&admin_url, &name).into();
        }
        None => {
            settings.database.sqlite_path =
                directory.path().join("empty.sqlite3").display().to_string();
        }
    }
    settings
}

/// A new PostgreSQL database, copied from the migrated template, and its URL.
async fn fresh_postgres_database(admin_url: &str) -> String {
    let template = TEMPLATE
        .get_or_init(|| async {
            let name = format!("tipgrants_template_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(admin_url)
                .await
                .unwrap_or_else(|error| panic!("TEST_DATABASE_URL does not answer ({error}); run the tests with scripts/test.sh"));
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create the template database");
            let _closed = admin.close().await;
            let settings = Settings::load_from(None, Vec::<(String, String)>::new()).expect("defaults");
            let store = Store::connect(&settings.database, &with_database(admin_url, &name).into())
                .await
                .expect("connect to the template");
            store.migrate().await.expect("migrate the template");
            store.close().await;
            name
        })
        .await;
    let name = format!("tipgrants_test_{}", uuid::Uuid::new_v4().simple());
    // CREATE DATABASE ... TEMPLATE refuses while another copy of the same template is under way.
    let _one_at_a_time = CREATE_DATABASE.lock().await;
    let admin = Database::connect(admin_url)
        .await
        .expect("connect to TEST_DATABASE_URL");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
        .await
        .expect("create a test database from the template");
    let _closed = admin.close().await;
    with_database(admin_url, &name)
}

/// How long [`eventually`] waits before it gives up: a guard against hangs, not a measure.
const EVENTUALLY_GIVES_UP_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

/// Polls `check` until it answers `Some`, and returns that. Panics naming `what`
/// if it never does (a hang guard; tests never assert wall-clock times).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let polling = async {
        loop {
            if let Some(found) = check().await {
                return found;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    match tokio::time::timeout(EVENTUALLY_GIVES_UP_AFTER, polling).await {
        Ok(found) => found,
        Err(_) => panic!("gave up waiting: {what}"),
    }
}

/// Waits until the clock has passed `time` by at least a microsecond (what the
/// database keeps), so whatever happens next is stamped strictly later.
pub async fn wait_until_the_clock_passes(time: prost_types::Timestamp) {
    let micros = i64::from(time.nanos) / 1_000 + time.seconds * 1_000_000;
    eventually("the clock passes the timestamp", || async {
        (chrono::Utc::now().timestamp_micros() > micros).then_some(())
    })
    .await
}
