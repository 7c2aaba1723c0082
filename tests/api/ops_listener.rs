//! The ops listener (`server.health_listen_address`): what probes and people
//! use answers with real HTTP status codes, any other path is 404, and gRPC
//! health is described by reflection there; the server binds its ports
//! before it touches the database.

use std::net::SocketAddr;

use sea_orm::TransactionTrait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::StreamExt;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::helpers::*;

/// `GET path` over HTTP/1.1 on a connection of its own: the status code and the body.
async fn get(address: SocketAddr, path: &str) -> (u16, String) {
    let mut connection = tokio::net::TcpStream::connect(address)
        .await
        .expect("the ops listener accepts");
    let request = format!("GET {path} HTTP/1.1\r\nHost: tipgrants\r\nConnection: close\r\n\r\n");
    connection
        .write_all(request.as_bytes())
        .await
        .expect("request sent");
    let mut answer = String::new();
    connection
        .read_to_string(&mut answer)
        .await
        .expect("an answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("headers, then a body");
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    (code, body.to_string())
}

fn ops_channel(address: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(format!("http://{address}"))
        .expect("uri")
        .connect_lazy()
}

#[tokio::test]
async fn the_ops_listener_answers_probes_with_real_status_codes_and_404_elsewhere() {
    let app = spawn_app_with(|settings| {
        settings.server.health_listen_address = "127.0.0.1:0".into();
        settings.database.max_connections = 1;
        settings.database.acquire_timeout_ms = 200;
        settings.server.health_check_interval_ms = 50;
    })
    .await;
    let ops = app.health_address.expect("the ops listener is bound");

    let live = get(ops, "/healthz").await;
    let ready = get(ops, "/readyz").await;
    let unknown = get(ops, "/no/such/path").await;
    let root = get(ops, "/").await;
    let metrics = get(ops, "/metrics").await;

    assert_eq!(live.0, 200, "{live:?}");
    assert_eq!(ready.0, 200, "{ready:?}");
    assert_eq!(unknown.0, 404, "{unknown:?}");
    assert!(unknown.1.contains("/healthz"), "{unknown:?}");
    assert_eq!(root.0, 404, "{root:?}");
    assert_eq!(metrics.0, 200, "{metrics:?}");

    // The database stops answering: the process is live, but not ready.
    let hold = app.store.connection().begin().await.unwrap();
    eventually("/readyz answers 503", || async move {
        (get(ops, "/readyz").await.0 == 503).then_some(())
    })
    .await;
    assert_eq!(get(ops, "/healthz").await.0, 200);
    drop(hold);
    eventually("/readyz answers 200 again", || async move {
        (get(ops, "/readyz").await.0 == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn the_ops_listener_serves_grpc_health_and_describes_it_by_reflection_alone() {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    let app = spawn_app_with(|settings| {
        settings.server.health_listen_address = "127.0.0.1:0".into();
    })
    .await;
    let ops = app.health_address.expect("the ops listener is bound");

    let health = HealthClient::new(ops_channel(ops))
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health answers")
        .into_inner();
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = ServerReflectionClient::new(ops_channel(ops))
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("reflection answers")
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) = answers
        .next()
        .await
        .expect("an answer")
        .expect("a list")
        .message_response
    else {
        panic!("expected a list of services");
    };
    let mut names: Vec<_> = list
        .service
        .into_iter()
        .map(|service| service.name)
        .collect();
    names.sort();

    assert_eq!(health.status, ServingStatus::Serving as i32);
    // Health, and nothing of the API.
    assert!(
        names.contains(&"grpc.health.v1.Health".to_string()),
        "{names:?}"
    );
    assert!(
        names.iter().all(|name| !name.starts_with("tipgrants.")),
        "{names:?}"
    );
}

#[tokio::test]
async fn a_busy_port_stops_the_server_before_it_creates_the_database_or_hands_out_a_token() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let directory = tempfile::tempdir().expect("temporary directory");
    let mut settings = test_settings(&directory).await;
    settings.server.listen_address = taken.local_addr().unwrap().to_string();
    let sqlite = directory.path().join("busy-port.sqlite3");
    settings.database.sqlite_path = sqlite.display().to_string();
    let token_file = settings.bootstrap_token_file().expect("a token file");

    let built = tipgrants::startup::Application::build(settings).await;

    assert!(
        matches!(built, Err(tipgrants::startup::StartupError::Bind { .. })),
        "{:?}",
        built.err()
    );
    assert!(!token_file.exists(), "no bootstrap token was handed out");
    assert!(!sqlite.exists(), "no database was created");
}
