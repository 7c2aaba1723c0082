//! Browser clients: gRPC-Web and CORS are off by default; when on, CORS answers only the
//! configured origins, and a real gRPC-Web client (Connect for TypeScript on Node, in
//! `clients/web-test/`) calls the built binary through the same auth, access log and stream
//! handling as gRPC.

use std::path::Path;
use std::process::Command;

use tipgrants::settings::Settings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::end_to_end::Server;
use crate::helpers::{pb, spawn_app_with};

const STAFF_APP: &str = "https://staff.example.org";

fn load(environment: &[(&str, &str)]) -> Result<Settings, String> {
    Settings::load_from(
        None,
        environment
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string())),
    )
    .map_err(|error| error.to_string())
}

/// Sends one raw HTTP/1.1 request (`Connection: close`) and returns the response head, lower-cased;
/// empty when the server closes the connection without an HTTP/1.1 answer.
async fn http1(address: std::net::SocketAddr, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect to the server");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut answer = Vec::new();
    // A reset instead of an orderly close also ends the answer.
    let _read = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).to_lowercase();
    answer
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_string()
}

fn preflight(origin: &str) -> String {
    format!(
        "OPTIONS /tipgrants.v1.GrantService/GetGrant HTTP/1.1\r\n\
         host: localhost\r\n\
         origin: {origin}\r\n\
         access-control-request-method: POST\r\n\
         access-control-request-headers: authorization,content-type,x-grpc-web,x-user-agent\r\n\
         connection: close\r\n\r\n"
    )
}

/// A gRPC-Web call of GetGrant from a page on `origin`, without a token: a frame with an empty message.
fn grpc_web_call_without_token(origin: &str) -> String {
    format!(
        "POST /tipgrants.v1.GrantService/GetGrant HTTP/1.1\r\n\
         host: localhost\r\n\
         origin: {origin}\r\n\
         content-type: application/grpc-web-text\r\n\
         x-grpc-web: 1\r\n\
         content-length: 8\r\n\
         connection: close\r\n\r\n\
         AAAAAAA="
    )
}

#[test]
fn grpc_web_and_cors_are_off_by_default_and_origins_come_from_a_comma_separated_variable() {
    let defaults = load(&[]).unwrap();
    let configured = load(&[
        ("TIPGRANTS__GRPC_WEB__ENABLED", "true"),
        (
            "TIPGRANTS__GRPC_WEB__CORS_ALLOWED_ORIGINS",
            "https://staff.example.org,http://localhost:5173",
        ),
    ])
    .unwrap();
    let cleared = load(&[
        ("TIPGRANTS__GRPC_WEB__ENABLED", "true"),
        ("TIPGRANTS__GRPC_WEB__CORS_ALLOWED_ORIGINS", ""),
    ])
    .unwrap();

    assert!(!defaults.grpc_web.enabled);
    assert_eq!(defaults.grpc_web.allowed_origins().count(), 0);
    assert_eq!(
        configured.grpc_web.allowed_origins().collect::<Vec<_>>(),
        ["https://staff.example.org", "http://localhost:5173"]
    );
    assert_eq!(cleared.grpc_web.allowed_origins().count(), 0);
}

#[test]
fn a_bad_origin_or_origins_without_grpc_web_stop_the_server_with_a_line_naming_the_key() {
    let with_path = load(&[
        ("TIPGRANTS__GRPC_WEB__ENABLED", "true"),
        (
            "TIPGRANTS__GRPC_WEB__CORS_ALLOWED_ORIGINS",
            "https://staff.example.org/",
        ),
    ]);
    let wildcard = load(&[
        ("TIPGRANTS__GRPC_WEB__ENABLED", "true"),
        ("TIPGRANTS__GRPC_WEB__CORS_ALLOWED_ORIGINS", "*"),
    ]);
    let without_grpc_web = load(&[(
        "TIPGRANTS__GRPC_WEB__CORS_ALLOWED_ORIGINS",
        "https://staff.example.org",
    )]);

    let with_path = with_path.expect_err("a path is refused");
    assert!(
        with_path.starts_with("settings: grpc_web.cors_allowed_origins: ")
            && with_path.contains("trailing /"),
        "{with_path}"
    );
    let wildcard = wildcard.expect_err("a wildcard is refused");
    assert!(wildcard.contains("wildcards are not allowed"), "{wildcard}");
    let without_grpc_web = without_grpc_web.expect_err("origins need gRPC-Web");
    assert!(
        without_grpc_web.contains("grpc_web.enabled = false"),
        "{without_grpc_web}"
    );
}

#[tokio::test]
async fn an_allowed_origin_gets_the_cors_headers_of_a_preflight_and_of_a_call_and_another_origin_gets_none()
 {
    let app = spawn_app_with(|settings| {
        settings.grpc_web.enabled = true;
        settings.grpc_web.cors_allowed_origins = vec![STAFF_APP.into()];
    })
    .await;

    let allowed = http1(app.address, &preflight(STAFF_APP)).await;
    let other = http1(app.address, &preflight("https://evil.example")).await;
    let call = http1(app.address, &grpc_web_call_without_token(STAFF_APP)).await;
    let grpc = app
        .organizations(app.admin())
        .list_organizations(pb::ListOrganizationsRequest::default())
        .await;

    assert!(allowed.starts_with("http/1.1 200"), "{allowed}");
    assert!(
        allowed.contains(&format!("access-control-allow-origin: {STAFF_APP}")),
        "{allowed}"
    );
    assert!(
        allowed.contains("access-control-allow-methods: post"),
        "{allowed}"
    );
    for header in [
        "authorization",
        "content-type",
        "x-grpc-web",
        "grpc-timeout",
    ] {
        let allowed_headers = allowed
            .lines()
            .find(|line| line.starts_with("access-control-allow-headers:"))
            .unwrap_or_default();
        assert!(allowed_headers.contains(header), "{header}: {allowed}");
    }
    assert!(
        !other.contains("access-control-allow-origin"),
        "another origin is not allowed: {other}"
    );
    // The call itself: refused (no token), and the page's script may read why.
    assert!(call.contains("grpc-status: 16"), "{call}");
    assert!(
        call.contains(&format!("access-control-allow-origin: {STAFF_APP}")),
        "{call}"
    );
    let exposed = call
        .lines()
        .find(|line| line.starts_with("access-control-expose-headers:"))
        .unwrap_or_default();
    for header in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        assert!(exposed.contains(header), "{header}: {call}");
    }
    assert!(grpc.is_ok(), "plain gRPC is served as before: {grpc:?}");
}

#[tokio::test]
async fn without_allowed_origins_a_preflight_gets_no_cors_header_at_all() {
    let grpc_web_only = spawn_app_with(|settings| settings.grpc_web.enabled = true).await;
    let defaults = spawn_app_with(|_| {}).await;

    let answer = http1(grpc_web_only.address, &preflight(STAFF_APP)).await;
    let default_answer = http1(defaults.address, &preflight(STAFF_APP)).await;

    assert!(answer.starts_with("http/1.1 "), "{answer}");
    assert!(!answer.contains("access-control-"), "{answer}");
    assert!(
        !default_answer.starts_with("http/1.1 200") && !default_answer.contains("access-control-"),
        "the default server speaks neither HTTP/1.1 nor CORS: {default_answer}"
    );
}

/// Runs `clients/web-test/run.sh` (npm ci, buf generate, tsc, node) against `server` at `url`,
/// with `environment` added.
fn run_web_client(
    server: &Server,
    url: &str,
    environment: &[(&str, &str)],
) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/web-test/run.sh");
    Command::new("bash")
        .arg(&script)
        .env("TIPGRANTS_URL", url)
        .env("TIPGRANTS_TOKEN", server.admin_token())
        .envs(environment.iter().copied())
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "run {}: {error} (the gRPC-Web test needs bash, node and npm)",
                script.display()
            )
        })
}

#[test]
fn a_grpc_web_client_on_node_calls_unary_methods_reads_error_details_and_a_report_stream() {
    let server = Server::start_with(&[
        ("TIPGRANTS__GRPC_WEB__ENABLED", "true"),
        ("TIPGRANTS__GRPC_WEB__CORS_ALLOWED_ORIGINS", STAFF_APP),
    ]);

    let output = run_web_client(&server, &format!("http://{}", server.address), &[]);

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("gRPC-Web client: all checks passed"),
        "the gRPC-Web client failed ({}):\n{stdout}\n{stderr}\n--- server log ---\n{}",
        output.status,
        server.log()
    );
    assert!(stdout.contains("gRPC-Web over HTTP/1.1"), "{stdout}");
    // The same access log as gRPC: each call with its final status, a stream's from its trailers.
    let log = server.log();
    for (method, code) in [
        ("GrantService/GetGrant", "Unauthenticated"),
        ("OrganizationService/CreateOrganization", "InvalidArgument"),
        ("ReportService/StreamFiscalYearReport", "Ok"),
    ] {
        assert!(
            log.lines().any(|line| line.contains("rpc finished")
                && line.contains(method)
                && line.contains(&format!("code=\"{code}\""))),
            "no access log line for {method} with {code}:\n{log}"
        );
    }
}

/// Writes `server.crt` (for `localhost`), `server.key` and `ca.crt` into `directory`. Each
/// certificate has its own name: OpenSSL (Node) takes a leaf whose issuer is its own subject for
/// self-signed, and rcgen names every certificate alike unless told otherwise.
fn write_named_pki(directory: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "tipgrants test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let mut server_params = CertificateParams::new(vec!["localhost".into()]).unwrap();
    server_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let server = server_params.signed_by(&server_key, &ca, &ca_key).unwrap();
    std::fs::write(directory.join("server.crt"), server.pem()).unwrap();
    std::fs::write(directory.join("server.key"), server_key.serialize_pem()).unwrap();
    std::fs::write(directory.join("ca.crt"), ca.pem()).unwrap();
}

#[test]
fn over_tls_a_grpc_web_client_is_served_over_http2_as_browsers_negotiate_it() {
    let pki = tempfile::tempdir().unwrap();
    write_named_pki(pki.path());
    let file = |name: &str| pki.path().join(name).display().to_string();
    let (certificate, key, authority) = (file("server.crt"), file("server.key"), file("ca.crt"));
    let server = Server::start_with(&[
        ("TIPGRANTS__GRPC_WEB__ENABLED", "true"),
        ("TIPGRANTS__TLS__ENABLED", "true"),
        ("TIPGRANTS__TLS__CERTIFICATE_PATH", &certificate),
        ("TIPGRANTS__TLS__PRIVATE_KEY_PATH", &key),
    ]);
    let port = server.address.rsplit(':').next().expect("a port");

    let output = run_web_client(
        &server,
        &format!("https://localhost:{port}"),
        &[
            ("TIPGRANTS_HTTP_VERSION", "2"),
            ("NODE_EXTRA_CA_CERTS", &authority),
        ],
    );

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success()
            && stdout.contains("gRPC-Web over HTTP/2")
            && stdout.contains("gRPC-Web client: all checks passed"),
        "the gRPC-Web client over TLS failed ({}):\n{stdout}\n{}\n--- server log ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
}
