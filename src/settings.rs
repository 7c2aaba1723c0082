//! Typed settings: embedded defaults (`config/default.toml`), then an
//! optional file, then `TIPGRANTS__SECTION__KEY` environment variables.
//! `validate` checks every value once at start, so a bad one stops the server
//! with one line naming the key. Settings hold plain values and name no module
//! above them: the modules that use a value parse it (`privacy` its keys, with
//! the same one line naming `privacy.keys`); an allowed origin's form is checked
//! here ([`parse_origin`]), and `web` builds its CORS layer from it.

use std::fmt;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use http::HeaderValue;
use serde::Deserialize;

use crate::secret::{ExposeSecret, SecretString};

const DEFAULTS: &str = include_str!("../config/default.toml");

/// All settings of the server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub tls: TlsSettings,
    pub database: DatabaseSettings,
    pub telemetry: TelemetrySettings,
    pub fiscal_year: FiscalYearSettings,
    pub reporting: ReportingSettings,
    pub reports: ReportsSettings,
    pub iati: IatiSettings,
    pub uploads: UploadsSettings,
    pub auth: AuthSettings,
    pub privacy: PrivacySettings,
    pub assistance: AssistanceSettings,
    pub grpc_web: GrpcWebSettings,
}

/// `[server]`: listeners and limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen_address: String,
    pub health_listen_address: String,
    pub allow_plaintext: bool,
    pub reflection: bool,
    pub shutdown_grace_period_seconds: u64,
    pub request_timeout_seconds: u64,
    /// The one request message of a unary or server-streaming call must arrive within this.
    pub request_body_timeout_seconds: u64,
    pub stream_idle_timeout_seconds: u64,
    pub stream_max_duration_seconds: u64,
    pub max_concurrent_streams: u32,
    pub concurrency_limit_per_connection: usize,
    pub max_calls_in_flight: usize,
    /// Calls in flight one token may hold.
    pub max_calls_in_flight_per_token: usize,
    /// Calls in flight one grantee organisation may hold (all its tokens together).
    pub max_calls_in_flight_per_organization: usize,
    /// Places of `max_calls_in_flight` that grantees never take.
    pub calls_in_flight_reserved_for_staff: usize,
    /// Connections open at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// A connection without a call for this long is closed.
    pub connection_idle_timeout_seconds: u64,
    /// A connection whose client leaves an answer untaken for this long is closed.
    pub client_read_timeout_seconds: u64,
    pub health_check_interval_ms: u64,
}

/// `[tls]`: rustls server certificate and optional client CA (mTLS).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    pub enabled: bool,
    pub certificate_path: String,
    pub private_key_path: String,
    pub client_ca_path: String,
}

/// `[database]`: PostgreSQL URL or the embedded SQLite file, and the pools.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Holds a password: a secret, shown only through `secret::redact_url`.
    pub url: SecretString,
    pub sqlite_path: String,
    pub sqlite_read_connections: u32,
    /// How long a SQLite connection waits for another writer's lock before it answers busy.
    pub sqlite_busy_timeout_ms: u64,
    pub max_connections: u32,
    pub acquire_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub log_statements: bool,
    pub migrate_on_start: bool,
    /// A streaming standby of the PostgreSQL primary for long reads; empty for none. Holds a
    /// password like `url`: a secret.
    pub replica_url: SecretString,
    /// How long a long read waits for the standby to replay what the primary had committed
    /// before it reads from the primary instead.
    pub replica_max_wait_ms: u64,
}

/// `[telemetry]`: log format and filter, Prometheus metrics, OpenTelemetry traces.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    pub format: LogFormat,
    pub filter: String,
    /// Serve `GET /metrics` on the ops listener (`server.health_listen_address`).
    pub metrics: bool,
    /// Export traces over OTLP/gRPC.
    pub traces: bool,
    pub otlp_endpoint: String,
    pub service_name: String,
    /// The share of traces started here that are kept (0 to 1); a caller's decision stands.
    pub trace_sampling_ratio: f64,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// `[fiscal_year]`: the first month of the fiscal year.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiscalYearSettings {
    pub first_month: u32,
}

/// `[reporting]`: when outcome reports fall due.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportingSettings {
    /// Days after a reporting period's end that its report is due.
    pub due_days: u32,
    /// Days after a project's end that its final report is due.
    pub final_due_days: u32,
    /// Days of recent spending an advance may leave as cash on hand before it is flagged.
    pub advance_cash_days: u32,
}

impl ReportingSettings {
    /// The reporting rules these settings give, in fiscal years of `calendar`.
    pub fn rules(
        &self,
        calendar: crate::domain::fiscal_year::FiscalCalendar,
    ) -> crate::domain::outcome::ReportingRules {
        crate::domain::outcome::ReportingRules {
            calendar,
            due_days: self.due_days,
            final_due_days: self.final_due_days,
            advance_cash_days: self.advance_cash_days,
        }
    }
}

/// `[reports]`: fiscal-year reports.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsSettings {
    /// Report streams running at once; more fail at once with RESOURCE_EXHAUSTED.
    pub max_concurrent_streams: u32,
    /// Report streams one grantee organisation may run at once.
    pub max_streams_per_organization: u32,
    /// Report stream slots that grantees never take.
    pub streams_reserved_for_staff: u32,
    /// Counts of people below this are suppressed (k; the data hub publishes with 11).
    pub suppression_threshold: u32,
}

/// `[iati]`: who publishes the IATI activity file (`ExportIatiActivities`): the office, as IATI
/// knows it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IatiSettings {
    /// The office's IATI organisation identifier (e.g. `US-GOV-11`); activity identifiers are it,
    /// a hyphen and the award number.
    pub organization_identifier: String,
    /// The office's name, as `reporting-org` and the funding `participating-org` say it.
    pub organization_name: String,
    /// The office's IATI organisation type code (10: government).
    pub organization_type: u32,
}

/// `[uploads]`: outcome uploads (`UploadOutcomes`), which keep their validated outcomes in a
/// temporary file until the stream ends (see `api::outcome_upload`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadsSettings {
    /// Bytes one upload's messages may carry in all (as encoded); beyond them it is refused.
    pub max_bytes: u64,
    /// Uploads running at once across the server.
    pub max_concurrent: u32,
    /// Uploads running at once per principal: a grantee's organisation, or a staff token.
    pub max_concurrent_per_principal: u32,
    /// Where the temporary files go; empty: the system's temporary directory.
    pub spool_directory: String,
}

impl UploadsSettings {
    /// The directory of the temporary files.
    pub fn spool_directory(&self) -> PathBuf {
        match self.spool_directory.trim() {
            "" => std::env::temp_dir(),
            directory => PathBuf::from(directory),
        }
    }
}

/// `[auth]`: token cache and bootstrap.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub token_cache_ttl_seconds: u64,
    pub bootstrap_token_file: String,
}

/// `[privacy]`: the keys that seal victims' personal data, as written: `crate::privacy` reads
/// them (`Keyring::from_settings`), and the server refuses to start when they do not parse.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacySettings {
    /// `id:base64,id:base64`: every key opens, the active one seals. A secret.
    pub keys: SecretString,
    /// The id of the key that seals new values (may be empty with exactly one key).
    pub active_key: String,
}

/// `[assistance]`: the emergency victim-assistance fund.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssistanceSettings {
    /// A CRITICAL case still undecided this many hours after its referral is late.
    pub critical_decision_hours: u32,
}

/// `[grpc_web]`: browser clients (see `crate::web`); off by default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcWebSettings {
    /// Serve gRPC-Web (and HTTP/1.1) beside gRPC on the API listener.
    pub enabled: bool,
    /// Origins whose pages may call the API (CORS), e.g. `https://staff.example.org`; none by default.
    pub cors_allowed_origins: Vec<String>,
    /// MiB of gRPC-Web request bodies held in memory at once, across all connections.
    pub max_buffered_mib: u64,
}

impl GrpcWebSettings {
    /// The allowed origins, blank entries left out (an empty environment variable means none).
    pub fn allowed_origins(&self) -> impl Iterator<Item = &str> {
        self.cors_allowed_origins
            .iter()
            .map(|origin| origin.trim())
            .filter(|origin| !origin.is_empty())
    }
}

/// A setting that cannot be used, with the key it belongs to.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("settings: {0}")]
    Load(#[from] config::ConfigError),
    #[error("settings: {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

impl SettingsError {
    /// `key` holds a value that cannot be used, for the reason `message`.
    pub fn invalid(key: &'static str, message: impl Into<String>) -> SettingsError {
        SettingsError::Invalid {
            key,
            message: message.into(),
        }
    }
}

fn invalid(key: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError::invalid(key, message)
}

impl Settings {
    /// Loads defaults, then `file` (if any), then the environment, and validates the result.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        Self::load_from(file, std::env::vars())
    }

    /// Like [`Settings::load`] with an explicit environment (for tests).
    pub fn load_from(
        file: Option<&Path>,
        environment: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(path) = file {
            if !path.exists() {
                return Err(invalid(
                    "--config",
                    format!("file {} does not exist", path.display()),
                ));
            }
            builder = builder.add_source(config::File::from(path).required(true));
        }
        let variables: config::Map<String, String> = environment
            .into_iter()
            .filter(|(key, _)| key.starts_with("TIPGRANTS__"))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("TIPGRANTS")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                // Only this key is a list: `https://a.example,https://b.example`.
                .list_separator(",")
                .with_list_parse_key("grpc_web.cors_allowed_origins")
                .source(Some(variables)),
        );
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks every value; the error names the first bad key.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let api = parse_address("server.listen_address", &self.server.listen_address)?;
        if !self.server.health_listen_address.is_empty() {
            parse_address(
                "server.health_listen_address",
                &self.server.health_listen_address,
            )?;
        }
        if !self.tls.enabled && !api.ip().is_loopback() && !self.server.allow_plaintext {
            return Err(invalid(
                "server.listen_address",
                format!(
                    "{api} is not a loopback address: enable [tls] or set server.allow_plaintext = true"
                ),
            ));
        }
        if self.tls.enabled {
            require_file("tls.certificate_path", &self.tls.certificate_path)?;
            require_file("tls.private_key_path", &self.tls.private_key_path)?;
            if !self.tls.client_ca_path.is_empty() {
                require_file("tls.client_ca_path", &self.tls.client_ca_path)?;
            }
        }
        at_least(
            "server.request_timeout_seconds",
            self.server.request_timeout_seconds,
            1,
        )?;
        within(
            "server.request_body_timeout_seconds",
            self.server.request_body_timeout_seconds,
            1..=600,
        )?;
        at_least(
            "server.stream_idle_timeout_seconds",
            self.server.stream_idle_timeout_seconds,
            1,
        )?;
        if self.server.stream_max_duration_seconds < self.server.stream_idle_timeout_seconds {
            return Err(invalid(
                "server.stream_max_duration_seconds",
                "must be at least server.stream_idle_timeout_seconds",
            ));
        }
        at_least(
            "server.max_concurrent_streams",
            self.server.max_concurrent_streams,
            1,
        )?;
        at_least(
            "server.concurrency_limit_per_connection",
            self.server.concurrency_limit_per_connection,
            1,
        )?;
        within(
            "server.max_calls_in_flight",
            self.server.max_calls_in_flight,
            1..=100_000,
        )?;
        self.validate_shares()?;
        within(
            "server.max_connections",
            self.server.max_connections,
            1..=1_000_000,
        )?;
        within(
            "server.connection_idle_timeout_seconds",
            self.server.connection_idle_timeout_seconds,
            1..=86_400,
        )?;
        within(
            "server.client_read_timeout_seconds",
            self.server.client_read_timeout_seconds,
            1..=3_600,
        )?;
        within(
            "server.health_check_interval_ms",
            self.server.health_check_interval_ms,
            50..=600_000,
        )?;
        let url = self.database.url.expose_secret().trim();
        if !url.is_empty() && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            return Err(invalid(
                "database.url",
                "must start with postgres:// (leave it empty for the embedded SQLite file)",
            ));
        }
        let replica = self.database.replica_url.expose_secret().trim();
        if !replica.is_empty() && url.is_empty() {
            return Err(invalid(
                "database.replica_url",
                "must be empty with the embedded SQLite file: a standby follows a PostgreSQL primary (database.url)",
            ));
        }
        if !replica.is_empty()
            && !replica.starts_with("postgres://")
            && !replica.starts_with("postgresql://")
        {
            return Err(invalid(
                "database.replica_url",
                "must start with postgres:// (leave it empty to read everything from the primary)",
            ));
        }
        within(
            "database.replica_max_wait_ms",
            self.database.replica_max_wait_ms,
            0..=60_000,
        )?;
        if url.is_empty() && self.database.sqlite_path.trim().is_empty() {
            return Err(invalid(
                "database.sqlite_path",
                "must not be empty when database.url is empty",
            ));
        }
        within(
            "database.sqlite_read_connections",
            self.database.sqlite_read_connections,
            1..=64,
        )?;
        within(
            "database.sqlite_busy_timeout_ms",
            self.database.sqlite_busy_timeout_ms,
            0..=60_000,
        )?;
        at_least("database.max_connections", self.database.max_connections, 1)?;
        within(
            "database.acquire_timeout_ms",
            self.database.acquire_timeout_ms,
            100..=60_000,
        )?;
        at_least(
            "database.connect_timeout_ms",
            self.database.connect_timeout_ms,
            1,
        )?;
        within(
            "fiscal_year.first_month",
            self.fiscal_year.first_month,
            1..=12,
        )?;
        within("reporting.due_days", self.reporting.due_days, 0..=365)?;
        within(
            "reporting.final_due_days",
            self.reporting.final_due_days,
            0..=365,
        )?;
        within(
            "reporting.advance_cash_days",
            self.reporting.advance_cash_days,
            1..=365,
        )?;
        within(
            "reports.max_concurrent_streams",
            self.reports.max_concurrent_streams,
            1..=1000,
        )?;
        within(
            "reports.suppression_threshold",
            self.reports.suppression_threshold,
            1..=1000,
        )?;
        within(
            "uploads.max_bytes",
            self.uploads.max_bytes,
            1 << 20..=1 << 40,
        )?;
        within(
            "uploads.max_concurrent",
            self.uploads.max_concurrent,
            1..=1000,
        )?;
        within(
            "uploads.max_concurrent_per_principal",
            self.uploads.max_concurrent_per_principal,
            1..=self.uploads.max_concurrent,
        )?;
        within(
            "auth.token_cache_ttl_seconds",
            self.auth.token_cache_ttl_seconds,
            1..=3600,
        )?;
        within(
            "assistance.critical_decision_hours",
            self.assistance.critical_decision_hours,
            1..=720,
        )?;
        within(
            "grpc_web.max_buffered_mib",
            self.grpc_web.max_buffered_mib,
            5..=65_536,
        )?;
        for origin in self.grpc_web.allowed_origins() {
            parse_origin(origin)
                .map_err(|message| invalid("grpc_web.cors_allowed_origins", message))?;
        }
        if !self.grpc_web.enabled && self.grpc_web.allowed_origins().next().is_some() {
            return Err(invalid(
                "grpc_web.cors_allowed_origins",
                "origins are set but grpc_web.enabled = false: turn gRPC-Web on, or remove the origins",
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.telemetry.filter)
            .map_err(|error| invalid("telemetry.filter", error.to_string()))?;
        self.validate_traces()?;
        self.validate_iati()?;
        Ok(())
    }

    /// The office as IATI knows it: an identifier an activity identifier can begin with (letters,
    /// digits, `-`, `_`, `.`; IATI forbids `/`, `&`, `|`, `?` and spaces), a name, a type code.
    fn validate_iati(&self) -> Result<(), SettingsError> {
        let iati = &self.iati;
        let identifier = &iati.organization_identifier;
        if identifier.is_empty()
            || identifier.len() > 100
            || !identifier
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(invalid(
                "iati.organization_identifier",
                "must be 1 to 100 letters, digits, '-', '_' or '.' (an IATI organisation identifier)",
            ));
        }
        if iati.organization_name.trim().is_empty() {
            return Err(invalid("iati.organization_name", "must not be empty"));
        }
        within("iati.organization_type", iati.organization_type, 10..=90)
    }

    /// The shares of calls in flight and of report streams: each grantee limit at least 1, and
    /// the places kept for staff fewer than all (grantees keep at least one).
    fn validate_shares(&self) -> Result<(), SettingsError> {
        let server = &self.server;
        at_least(
            "server.max_calls_in_flight_per_token",
            server.max_calls_in_flight_per_token,
            1,
        )?;
        at_least(
            "server.max_calls_in_flight_per_organization",
            server.max_calls_in_flight_per_organization,
            1,
        )?;
        if server.calls_in_flight_reserved_for_staff >= server.max_calls_in_flight {
            return Err(invalid(
                "server.calls_in_flight_reserved_for_staff",
                "must be less than server.max_calls_in_flight",
            ));
        }
        let reports = &self.reports;
        at_least(
            "reports.max_streams_per_organization",
            reports.max_streams_per_organization,
            1,
        )?;
        if reports.streams_reserved_for_staff >= reports.max_concurrent_streams {
            return Err(invalid(
                "reports.streams_reserved_for_staff",
                "must be less than reports.max_concurrent_streams",
            ));
        }
        Ok(())
    }

    fn validate_traces(&self) -> Result<(), SettingsError> {
        let telemetry = &self.telemetry;
        within(
            "telemetry.trace_sampling_ratio",
            telemetry.trace_sampling_ratio,
            0.0..=1.0,
        )?;
        if telemetry.service_name.trim().is_empty() {
            return Err(invalid("telemetry.service_name", "must not be empty"));
        }
        let endpoint = telemetry.otlp_endpoint.trim();
        let usable = (endpoint.starts_with("http://") || endpoint.starts_with("https://"))
            && endpoint
                .parse::<http::Uri>()
                .is_ok_and(|uri| uri.host().is_some());
        if !usable {
            return Err(invalid(
                "telemetry.otlp_endpoint",
                format!("{endpoint:?} is not a URL such as http://127.0.0.1:4317"),
            ));
        }
        Ok(())
    }

    /// The API listener address (validated).
    pub fn listen_address(&self) -> SocketAddr {
        self.server
            .listen_address
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 50051)))
    }

    /// The database URL: PostgreSQL when configured, otherwise the embedded SQLite file.
    /// A secret: show it with `secret::redact_url`.
    pub fn database_url(&self) -> SecretString {
        let url = self.database.url.expose_secret().trim();
        if url.is_empty() && self.database.sqlite_path.trim() == ":memory:" {
            SecretString::from("sqlite::memory:")
        } else if url.is_empty() {
            SecretString::from(format!("sqlite://{}?mode=rwc", self.database.sqlite_path))
        } else {
            SecretString::from(url)
        }
    }

    /// Where the bootstrap admin token goes: a file, or standard error when `None`.
    pub fn bootstrap_token_file(&self) -> Option<PathBuf> {
        let path = self.auth.bootstrap_token_file.trim();
        (!path.is_empty()).then(|| PathBuf::from(path))
    }
}

fn parse_address(key: &'static str, value: &str) -> Result<SocketAddr, SettingsError> {
    value.parse().map_err(|_| {
        invalid(
            key,
            format!("{value:?} is not an address such as 127.0.0.1:50051"),
        )
    })
}

/// `value` of setting `key` lies in `range`; otherwise "must be from START to END".
fn within<T: PartialOrd + fmt::Display>(
    key: &'static str,
    value: T,
    range: RangeInclusive<T>,
) -> Result<(), SettingsError> {
    if range.contains(&value) {
        return Ok(());
    }
    let (start, end) = range.into_inner();
    Err(invalid(key, format!("must be from {start} to {end}")))
}

/// `value` of setting `key` is at least `minimum`; otherwise "must be at least MINIMUM".
fn at_least<T: PartialOrd + fmt::Display>(
    key: &'static str,
    value: T,
    minimum: T,
) -> Result<(), SettingsError> {
    if value >= minimum {
        return Ok(());
    }
    Err(invalid(key, format!("must be at least {minimum}")))
}

/// Checks one allowed origin as a browser sends it in `Origin`: `http` or `https`, a host, an
/// optional port, nothing else (no path, not even `/`; no wildcard). The error says what is wrong.
pub fn parse_origin(origin: &str) -> Result<HeaderValue, String> {
    let refuse = |why: &str| {
        Err(format!(
            "{origin:?} is not an origin such as https://staff.example.org: {why}"
        ))
    };
    if origin.contains('*') {
        return refuse("wildcards are not allowed; list each origin");
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return refuse("it needs a scheme, http:// or https://");
    };
    if scheme != "http" && scheme != "https" {
        return refuse("the scheme must be http or https");
    }
    if rest.is_empty() {
        return refuse("it has no host");
    }
    if rest.contains(['/', '?', '#', '@']) || rest.chars().any(char::is_whitespace) {
        return refuse(
            "an origin is a scheme, a host and an optional port, without a path or a trailing /",
        );
    }
    let uri: http::Uri = origin
        .parse()
        .map_err(|error| format!("{origin:?} is not an origin: {error}"))?;
    if uri.host().is_none_or(str::is_empty) {
        return refuse("it has no host");
    }
    HeaderValue::from_str(origin).map_err(|error| format!("{origin:?}: {error}"))
}

fn require_file(key: &'static str, value: &str) -> Result<(), SettingsError> {
    if value.trim().is_empty() {
        return Err(invalid(key, "is required when tls.enabled = true"));
    }
    if !Path::new(value).is_file() {
        return Err(invalid(key, format!("file {value} does not exist")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_password_never_shows_in_the_settings_debug_output() {
        let environment = [(
            "TIPGRANTS__DATABASE__URL".to_string(),
            "postgres://tipgrants:hunter2-s3cret@db.internal:5432/tipgrants".to_string(),
        )];

        let settings = Settings::load_from(None, environment).expect("valid settings");

        let shown = format!("{settings:?} {settings:#?}");
        assert!(!shown.contains("hunter2-s3cret"), "{shown}");
        assert!(
            settings
                .database_url()
                .expose_secret()
                .contains("hunter2-s3cret"),
            "the server itself still reads it"
        );
    }

    #[test]
    fn origins_as_browsers_send_them_are_accepted() {
        for origin in [
            "https://staff.example.org",
            "http://localhost:5173",
            "http://127.0.0.1:8080",
            "https://[::1]:8443",
        ] {
            assert!(parse_origin(origin).is_ok(), "{origin}");
        }
    }

    #[test]
    fn wildcards_paths_and_other_schemes_are_refused_with_the_reason() {
        let cases = [
            ("*", "wildcards"),
            ("https://*.example.org", "wildcards"),
            ("https://staff.example.org/", "trailing /"),
            ("https://staff.example.org/app", "without a path"),
            ("staff.example.org", "needs a scheme"),
            ("ftp://staff.example.org", "http or https"),
            ("https://", "no host"),
            ("https://user@staff.example.org", "without a path"),
        ];
        for (origin, reason) in cases {
            let error = parse_origin(origin).expect_err(origin);
            assert!(error.contains(reason), "{origin}: {error}");
        }
    }
}
