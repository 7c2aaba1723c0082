//! Settings: defaults, file, environment, and one clear line per bad value.

use std::io::Write;

use tipgrants::privacy::Keyring;
use tipgrants::secret::{ExposeSecret, SecretString};
use tipgrants::settings::Settings;
use tipgrants::startup::Application;

/// A key entry whose material is too short: refused, and its material never shown.
const SHORT_KEY: &str = "k1:c2VjcmV0LWtleS1tYXRlcmlhbA==";
const SHORT_KEY_MATERIAL: &str = "c2VjcmV0LWtleS1tYXRlcmlhbA";

fn load(environment: &[(&str, &str)]) -> Result<Settings, String> {
    Settings::load_from(
        None,
        environment
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string())),
    )
    .map_err(|error| error.to_string())
}

#[test]
fn the_defaults_serve_on_loopback_with_sqlite_and_an_october_fiscal_year() {
    let settings = load(&[]).unwrap();
    assert_eq!(settings.server.listen_address, "127.0.0.1:50051");
    assert!(settings.database.url.expose_secret().is_empty());
    assert!(
        settings
            .database_url()
            .expose_secret()
            .starts_with("sqlite://")
    );
    assert!(!settings.database.log_statements);
    assert_eq!(settings.fiscal_year.first_month, 10);
}

#[test]
fn environment_variables_override_the_defaults() {
    let settings = load(&[
        ("TIPGRANTS__DATABASE__URL", "postgres://u@localhost/db"),
        ("TIPGRANTS__FISCAL_YEAR__FIRST_MONTH", "7"),
        ("TIPGRANTS__DATABASE__MAX_CONNECTIONS", "3"),
    ])
    .unwrap();
    assert_eq!(
        settings.database_url().expose_secret(),
        "postgres://u@localhost/db"
    );
    assert_eq!(settings.fiscal_year.first_month, 7);
    assert_eq!(settings.database.max_connections, 3);
}

#[test]
fn a_file_overrides_the_defaults_and_the_environment_overrides_the_file() {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    writeln!(
        file,
        "[telemetry]\nformat = \"json\"\n[fiscal_year]\nfirst_month = 4"
    )
    .unwrap();
    let settings = Settings::load_from(
        Some(file.path()),
        vec![(
            "TIPGRANTS__FISCAL_YEAR__FIRST_MONTH".to_string(),
            "1".to_string(),
        )],
    )
    .unwrap();
    assert_eq!(
        settings.telemetry.format,
        tipgrants::settings::LogFormat::Json
    );
    assert_eq!(settings.fiscal_year.first_month, 1);
}

#[test]
fn each_bad_value_is_refused_with_a_message_naming_its_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "TIPGRANTS__FISCAL_YEAR__FIRST_MONTH",
            "13",
            "fiscal_year.first_month",
        ),
        (
            "TIPGRANTS__SERVER__LISTEN_ADDRESS",
            "nowhere",
            "server.listen_address",
        ),
        (
            "TIPGRANTS__SERVER__LISTEN_ADDRESS",
            "0.0.0.0:50051",
            "server.listen_address",
        ),
        ("TIPGRANTS__DATABASE__URL", "mysql://x", "database.url"),
        (
            "TIPGRANTS__DATABASE__REPLICA_URL",
            "postgres://standby/db",
            "database.replica_url",
        ),
        (
            "TIPGRANTS__DATABASE__REPLICA_MAX_WAIT_MS",
            "600000",
            "database.replica_max_wait_ms",
        ),
        (
            "TIPGRANTS__SERVER__MAX_CALLS_IN_FLIGHT",
            "0",
            "server.max_calls_in_flight",
        ),
        (
            "TIPGRANTS__DATABASE__ACQUIRE_TIMEOUT_MS",
            "0",
            "database.acquire_timeout_ms",
        ),
        (
            "TIPGRANTS__DATABASE__MAX_CONNECTIONS",
            "0",
            "database.max_connections",
        ),
        (
            "TIPGRANTS__AUTH__TOKEN_CACHE_TTL_SECONDS",
            "0",
            "auth.token_cache_ttl_seconds",
        ),
        ("TIPGRANTS__TLS__ENABLED", "true", "tls.certificate_path"),
        ("TIPGRANTS__TELEMETRY__FORMAT", "xml", "format"),
        (
            "TIPGRANTS__SERVER__REQUEST_TIMEOUT_SECONDS",
            "soon",
            "request_timeout_seconds",
        ),
        (
            "TIPGRANTS__DATABASE__SQLITE_READ_CONNECTIONS",
            "0",
            "database.sqlite_read_connections",
        ),
        (
            "TIPGRANTS__DATABASE__SQLITE_READ_CONNECTIONS",
            "65",
            "database.sqlite_read_connections",
        ),
        (
            "TIPGRANTS__SERVER__STREAM_IDLE_TIMEOUT_SECONDS",
            "0",
            "server.stream_idle_timeout_seconds",
        ),
        (
            "TIPGRANTS__SERVER__STREAM_MAX_DURATION_SECONDS",
            "1",
            "server.stream_max_duration_seconds",
        ),
        (
            "TIPGRANTS__TELEMETRY__OTLP_ENDPOINT",
            "collector:4317",
            "telemetry.otlp_endpoint",
        ),
        (
            "TIPGRANTS__TELEMETRY__TRACE_SAMPLING_RATIO",
            "1.5",
            "telemetry.trace_sampling_ratio",
        ),
        (
            "TIPGRANTS__TELEMETRY__SERVICE_NAME",
            " ",
            "telemetry.service_name",
        ),
        (
            "TIPGRANTS__SERVER__REQUEST_BODY_TIMEOUT_SECONDS",
            "0",
            "server.request_body_timeout_seconds",
        ),
        (
            "TIPGRANTS__SERVER__MAX_CALLS_IN_FLIGHT_PER_TOKEN",
            "0",
            "server.max_calls_in_flight_per_token",
        ),
        (
            "TIPGRANTS__SERVER__MAX_CALLS_IN_FLIGHT_PER_ORGANIZATION",
            "0",
            "server.max_calls_in_flight_per_organization",
        ),
        (
            "TIPGRANTS__SERVER__CALLS_IN_FLIGHT_RESERVED_FOR_STAFF",
            "100",
            "server.calls_in_flight_reserved_for_staff",
        ),
        (
            "TIPGRANTS__SERVER__MAX_CONNECTIONS",
            "0",
            "server.max_connections",
        ),
        (
            "TIPGRANTS__SERVER__CONNECTION_IDLE_TIMEOUT_SECONDS",
            "0",
            "server.connection_idle_timeout_seconds",
        ),
        (
            "TIPGRANTS__SERVER__CLIENT_READ_TIMEOUT_SECONDS",
            "0",
            "server.client_read_timeout_seconds",
        ),
        (
            "TIPGRANTS__REPORTS__MAX_STREAMS_PER_ORGANIZATION",
            "0",
            "reports.max_streams_per_organization",
        ),
        (
            "TIPGRANTS__REPORTS__STREAMS_RESERVED_FOR_STAFF",
            "4",
            "reports.streams_reserved_for_staff",
        ),
        (
            "TIPGRANTS__GRPC_WEB__MAX_BUFFERED_MIB",
            "4",
            "grpc_web.max_buffered_mib",
        ),
    ];
    for (key, value, named) in cases {
        let error = load(&[(key, value)]).expect_err(&format!("{key}={value} must be refused"));
        assert!(
            error.contains(named),
            "{key}={value}: {error:?} does not name {named}"
        );
        assert!(!error.contains('\n'), "one line: {error:?}");
    }
}

#[test]
fn a_bad_privacy_key_is_refused_with_a_line_naming_the_key_and_never_showing_it() {
    let settings = load(&[("TIPGRANTS__PRIVACY__KEYS", SHORT_KEY)])
        .expect("the settings hold the keys as written: privacy reads them");

    let error = Keyring::from_settings(&settings.privacy)
        .expect_err("a short key is refused")
        .to_string();

    assert!(error.starts_with("settings: privacy.keys: "), "{error}");
    assert!(!error.contains(SHORT_KEY_MATERIAL), "{error}");
    assert!(!error.contains('\n'), "one line: {error:?}");
}

#[tokio::test]
async fn the_server_does_not_start_with_a_bad_privacy_key() {
    let mut settings = load(&[]).unwrap();
    settings.database.sqlite_path = ":memory:".into();
    settings.server.listen_address = "127.0.0.1:0".into();
    settings.server.health_listen_address = String::new();
    settings.privacy.keys = SecretString::from(SHORT_KEY.to_string());

    let refused = Application::build(settings).await;

    let error = refused
        .err()
        .expect("a bad key stops the start")
        .to_string();
    assert!(error.contains("privacy.keys"), "{error}");
    assert!(!error.contains(SHORT_KEY_MATERIAL), "{error}");
}

#[test]
fn every_database_command_refuses_a_bad_privacy_key_at_once_with_a_line_naming_it() {
    let directory = tempfile::tempdir().unwrap();
    let database = directory.path().join("never-created.sqlite3");

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tipgrants"))
        .args(["migrate", "status"])
        .env("TIPGRANTS__DATABASE__SQLITE_PATH", &database)
        .env("TIPGRANTS__PRIVACY__KEYS", SHORT_KEY)
        .output()
        .expect("the binary runs");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("tipgrants: settings: privacy.keys: "),
        "{stderr}"
    );
    assert!(!stderr.contains(SHORT_KEY_MATERIAL), "{stderr}");
    assert!(!database.exists(), "nothing was opened");
}

#[test]
fn plaintext_on_a_public_address_is_allowed_only_when_configured() {
    let settings = load(&[
        ("TIPGRANTS__SERVER__LISTEN_ADDRESS", "0.0.0.0:50051"),
        ("TIPGRANTS__SERVER__ALLOW_PLAINTEXT", "true"),
    ])
    .unwrap();
    assert_eq!(settings.server.listen_address, "0.0.0.0:50051");
}

#[test]
fn a_missing_config_file_is_named() {
    let error = Settings::load_from(
        Some(std::path::Path::new("/nonexistent/tipgrants.toml")),
        Vec::new(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("/nonexistent/tipgrants.toml"));
}

#[test]
fn a_misspelt_key_is_refused_instead_of_silently_ignored() {
    let error = load(&[("TIPGRANTS__SERVER__REFLEKTION", "false")]).unwrap_err();
    assert!(error.contains("reflektion"), "{error}");
}

#[test]
fn the_production_example_is_valid_and_the_kubernetes_configmap_carries_it() {
    let repository = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = repository.join("deploy/config/production.toml");
    let certificate = tempfile::NamedTempFile::new().unwrap();
    let key = tempfile::NamedTempFile::new().unwrap();
    let environment = vec![
        (
            "TIPGRANTS__DATABASE__URL".to_string(),
            "postgres://tipgrants@db.internal/tipgrants".to_string(),
        ),
        (
            "TIPGRANTS__TLS__CERTIFICATE_PATH".to_string(),
            certificate.path().display().to_string(),
        ),
        (
            "TIPGRANTS__TLS__PRIVATE_KEY_PATH".to_string(),
            key.path().display().to_string(),
        ),
    ];

    let settings =
        Settings::load_from(Some(&example), environment).expect("the production example loads");
    let configmap =
        std::fs::read_to_string(repository.join("deploy/kubernetes/configmap.yaml")).unwrap();
    let configmap_lines: Vec<&str> = configmap.lines().map(str::trim).collect();

    assert!(settings.tls.enabled);
    assert!(!settings.server.reflection);
    assert_eq!(
        settings.telemetry.format,
        tipgrants::settings::LogFormat::Json
    );
    for line in std::fs::read_to_string(&example)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
    {
        assert!(
            configmap_lines.contains(&line),
            "configmap.yaml lacks {line:?} of production.toml"
        );
    }
}

#[test]
fn every_deployment_gives_the_server_its_privacy_keys_and_says_how_to_rotate_them() {
    let repository = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &str| std::fs::read_to_string(repository.join(path)).unwrap();
    let deployment = read("deploy/kubernetes/deployment.yaml");
    let secret = read("deploy/kubernetes/secret.yaml");
    let compose = read("deploy/docker-compose.yml");
    let readme = read("deploy/README.md");
    // The lines after `- name: VARIABLE` up to the next variable: its source.
    let source_of = |variable: &str| -> String {
        let start = deployment
            .find(&format!("- name: {variable}\n"))
            .unwrap_or_else(|| panic!("deployment.yaml sets {variable}"));
        deployment[start..]
            .lines()
            .skip(1)
            .take_while(|line| !line.trim_start().starts_with("- name:"))
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
    };

    for (variable, key) in [
        ("TIPGRANTS__PRIVACY__KEYS", "keys"),
        ("TIPGRANTS__PRIVACY__ACTIVE_KEY", "active-key"),
    ] {
        let source = source_of(variable);
        assert!(
            source.contains("name: tipgrants-privacy") && source.contains(&format!("key: {key}")),
            "{variable}: {source}"
        );
        assert!(
            secret.contains(&format!("\n  {key}: ")),
            "secret.yaml holds {key}"
        );
        assert!(
            compose.contains(&format!("{variable}: ${{")),
            "compose sets {variable}"
        );
    }
    assert!(secret.contains("name: tipgrants-privacy"));
    // Required in compose: it refuses to start without the key rather than refusing referrals.
    assert!(compose.contains("${TIPGRANTS_PRIVACY_KEYS:?"));
    for said in [
        "Secret\n`tipgrants-privacy`",
        "keys generate --id k1 --output",
        "keys rotate",
        "TIPGRANTS__PRIVACY__KEYS",
    ] {
        assert!(readme.contains(said), "deploy/README.md says {said:?}");
    }
}
