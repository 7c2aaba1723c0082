//! The server as a whole: health, reflection, graceful shutdown, database
//! outage, deadlines of unary calls and streams, the access log.

use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::helpers::*;

#[tokio::test]
async fn shutdown_turns_health_to_not_serving_and_then_stops_the_server() {
    let mut app = spawn_app().await;
    let mut health = HealthClient::new(app.channel());
    let mut watch = health
        .watch(HealthCheckRequest {
            service: "tipgrants.v1.OrganizationService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::Serving as i32);

    let server = app.signal_shutdown();
    let next = watch.next().await.unwrap().unwrap();
    assert_eq!(next.status, ServingStatus::NotServing as i32);

    // The open Watch stream is an in-flight call: the server waits for it, up to the grace period, then stops.
    tokio::time::timeout(std::time::Duration::from_secs(30), server)
        .await
        .expect("the server stops within the grace period")
        .expect("the server task ends cleanly");
    let address = app.address;
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "no longer accepting connections"
    );
}

#[tokio::test]
async fn a_call_in_flight_when_shutdown_starts_still_gets_its_answer() {
    let mut app = spawn_app().await;
    for index in 0..20 {
        app.organization(&format!("Busy {index}"), "HT").await;
    }
    let mut client = app.organizations(app.admin());
    let call = tokio::spawn(async move {
        client
            .list_organizations(pb::ListOrganizationsRequest {
                page_size: 500,
                ..Default::default()
            })
            .await
    });
    let server = app.signal_shutdown();
    let answer = call.await.unwrap();
    server.await.unwrap();
    // Either the call was served before the drain or it was refused cleanly; never cut off halfway.
    match answer {
        Ok(response) => assert_eq!(response.into_inner().organizations.len(), 20),
        Err(status) => assert_eq!(status.code(), Code::Unavailable, "{status:?}"),
    }
}

#[tokio::test]
async fn reflection_lists_the_services_in_both_protocol_versions() {
    let app = spawn_app().await;
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    let mut client = ServerReflectionClient::new(app.channel());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        answers.next().await.unwrap().unwrap().message_response
    else {
        panic!("expected a list of services");
    };
    let names: Vec<_> = list
        .service
        .iter()
        .map(|service| service.name.as_str())
        .collect();
    for expected in [
        "grpc.health.v1.Health",
        "tipgrants.v1.OrganizationService",
        "tipgrants.v1.AuditService",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }

    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient as V1Client;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest as V1Request;
    let mut v1 = V1Client::new(app.channel());
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(V1Request::ListServices(String::new())),
    };
    let mut answers = v1
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    assert!(answers.next().await.unwrap().is_ok());
}

#[tokio::test]
async fn the_suite_runs_on_the_database_it_was_asked_for() {
    let app = spawn_app().await;
    let asked_for_postgres = std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty());
    let backend = app.store.backend();
    if asked_for_postgres {
        assert_eq!(backend, sea_orm::DatabaseBackend::Postgres);
    } else {
        assert_eq!(backend, sea_orm::DatabaseBackend::Sqlite);
    }
}

#[tokio::test]
async fn the_first_admin_token_is_handed_over_once_in_a_file_only_the_server_user_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    let file = app.directory().join("admin-token");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    let again = app.directory().join("second-start-token");

    tipgrants::bootstrap::ensure_admin_token(&app.store, Some(&again))
        .await
        .unwrap();
    let tokens = app.store.count_tokens().await.unwrap();
    let regions = app
        .reference_data(app.admin())
        .list_regions(pb::ListRegionsRequest {})
        .await;

    assert_eq!(mode, 0o600);
    assert!(app.admin_token.starts_with("tg_"));
    assert!(regions.is_ok(), "the handed-over token works: {regions:?}");
    assert!(!again.exists(), "a second start hands over nothing");
    assert_eq!(tokens, 1);
}

#[tokio::test]
async fn health_reports_every_service_of_the_api() {
    use prost::Message;
    let app = spawn_app().await;
    let set = prost_types::FileDescriptorSet::decode(tipgrants::pb::FILE_DESCRIPTOR_SET).unwrap();
    let services: Vec<String> = set
        .file
        .iter()
        .filter(|file| file.package() == "tipgrants.v1")
        .flat_map(|file| {
            file.service
                .iter()
                .map(|service| format!("tipgrants.v1.{}", service.name()))
        })
        .collect();
    let mut health = HealthClient::new(app.channel());

    assert_eq!(services.len(), 15);
    for service in services {
        let status = health
            .check(HealthCheckRequest {
                service: service.clone(),
            })
            .await;
        assert_eq!(
            status.map(|s| s.into_inner().status).ok(),
            Some(ServingStatus::Serving as i32),
            "{service}"
        );
    }
}

#[tokio::test]
async fn a_short_request_timeout_cuts_a_unary_call_but_not_a_stream() {
    let mut app = spawn_app_with(|settings| {
        settings.server.request_timeout_seconds = 1;
        // One connection for writes on either database, and a wait for it longer than the timeout.
        settings.database.max_connections = 1;
        settings.database.acquire_timeout_ms = 20_000;
        settings.server.health_check_interval_ms = 600_000;
    })
    .await;
    let mut health = HealthClient::new(app.channel());
    let mut watch = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.next().await.unwrap().unwrap();

    // A write that waits for the held connection: it outlives the request timeout.
    let hold = sea_orm::TransactionTrait::begin(app.store.connection())
        .await
        .unwrap();
    let unary = app
        .organizations(app.admin())
        .create_organization(pb::CreateOrganizationRequest {
            organization: Some(new_organization("Too slow", "HT")),
            request_id: String::new(),
        })
        .await;
    drop(hold);
    // The stream opened before that call is still open after it: it still delivers.
    let _server = app.signal_shutdown();
    let later = tokio::time::timeout(std::time::Duration::from_secs(60), watch.next())
        .await
        .expect("hang guard");

    assert_eq!(first.status, ServingStatus::Serving as i32);
    let status = expect_code(unary, Code::Cancelled);
    assert_eq!(status.message(), "Timeout expired");
    let later = later.expect("the stream is still open").expect("a message");
    assert_eq!(later.status, ServingStatus::NotServing as i32);
}

#[tokio::test]
async fn replicas_started_at_once_on_an_empty_database_all_start_and_find_every_migration_applied()
{
    use migration::MigratorTrait;
    use tipgrants::startup::Application;
    for _ in 0..3 {
        let directory = tempfile::tempdir().expect("temporary directory");
        let settings = empty_database_settings(&directory).await;
        let replica = |index: usize| {
            let mut settings = settings.clone();
            settings.auth.bootstrap_token_file = directory
                .path()
                .join(format!("admin-token-{index}"))
                .display()
                .to_string();
            Application::build(settings)
        };

        let (first, second, third) = tokio::join!(replica(0), replica(1), replica(2));

        let mut started = Vec::new();
        for built in [first, second, third] {
            started.push(built.expect("every replica starts"));
        }
        let store = started[0].store();
        let pending = migration::Migrator::get_pending_migrations(store.connection())
            .await
            .expect("migration status");
        assert!(
            pending.is_empty(),
            "{:?}",
            pending
                .iter()
                .map(|m| m.name().to_string())
                .collect::<Vec<_>>()
        );
        let tokens = (0..3)
            .filter(|index| {
                directory
                    .path()
                    .join(format!("admin-token-{index}"))
                    .exists()
            })
            .count();
        assert_eq!(tokens, 1, "one replica hands out the one bootstrap token");
    }
}
