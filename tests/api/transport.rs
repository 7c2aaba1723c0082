//! Transport: TLS through rustls, optional client certificates (mTLS), and
//! the database pool running dry (UNAVAILABLE, health NOT_SERVING).

use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use sea_orm::TransactionTrait;
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::helpers::*;

/// A throwaway certificate authority with a server certificate for `localhost` and a client certificate.
pub(crate) struct Pki {
    ca: String,
    client: (String, String),
}

/// Writes `server.crt`, `server.key` and `ca.crt` into `directory`.
pub(crate) fn write_pki(directory: &Path) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .signed_by(&server_key, &ca, &ca_key)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client = CertificateParams::new(vec!["officer-laptop".into()])
        .unwrap()
        .signed_by(&client_key, &ca, &ca_key)
        .unwrap();
    std::fs::write(directory.join("server.crt"), server.pem()).unwrap();
    std::fs::write(directory.join("server.key"), server_key.serialize_pem()).unwrap();
    std::fs::write(directory.join("ca.crt"), ca.pem()).unwrap();
    Pki {
        ca: ca.pem(),
        client: (client.pem(), client_key.serialize_pem()),
    }
}

async fn health_over(channel: Result<Channel, tonic::transport::Error>) -> Result<i32, String> {
    let channel = channel.map_err(|error| error.to_string())?;
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|response| response.into_inner().status)
        .map_err(|status| status.to_string())
}

async fn tls_channel(
    address: std::net::SocketAddr,
    pki: &Pki,
    with_client_certificate: bool,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca))
        .domain_name("localhost");
    if with_client_certificate {
        tls = tls.identity(Identity::from_pem(&pki.client.0, &pki.client.1));
    }
    Channel::from_shared(format!("https://localhost:{}", address.port()))
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await
}

#[tokio::test]
async fn with_tls_a_client_that_trusts_the_certificate_is_served_and_plaintext_is_not() {
    let directory = tempfile::tempdir().unwrap();
    let pki = write_pki(directory.path());
    let app = spawn_app_with(|settings| {
        settings.tls.enabled = true;
        settings.tls.certificate_path = directory.path().join("server.crt").display().to_string();
        settings.tls.private_key_path = directory.path().join("server.key").display().to_string();
    })
    .await;

    let over_tls = health_over(tls_channel(app.address, &pki, false).await).await;
    let plaintext = health_over(Ok(app.channel())).await;

    assert_eq!(over_tls, Ok(ServingStatus::Serving as i32));
    assert!(
        plaintext.is_err(),
        "plaintext must not be served: {plaintext:?}"
    );
}

#[tokio::test]
async fn with_a_client_ca_only_clients_with_a_certificate_are_served() {
    let directory = tempfile::tempdir().unwrap();
    let pki = write_pki(directory.path());
    let app = spawn_app_with(|settings| {
        settings.tls.enabled = true;
        settings.tls.certificate_path = directory.path().join("server.crt").display().to_string();
        settings.tls.private_key_path = directory.path().join("server.key").display().to_string();
        settings.tls.client_ca_path = directory.path().join("ca.crt").display().to_string();
    })
    .await;

    let without = health_over(tls_channel(app.address, &pki, false).await).await;
    let with = health_over(tls_channel(app.address, &pki, true).await).await;

    assert!(
        without.is_err(),
        "a client without a certificate is refused: {without:?}"
    );
    assert_eq!(with, Ok(ServingStatus::Serving as i32));
}

#[tokio::test]
async fn when_the_database_does_not_answer_calls_are_unavailable_and_health_is_not_serving() {
    let app = spawn_app_with(|settings| {
        settings.database.max_connections = 1;
        settings.database.acquire_timeout_ms = 200;
        settings.server.health_check_interval_ms = 50;
    })
    .await;
    let health = HealthClient::new(app.channel());
    let status = |health: &mut HealthClient<Channel>| {
        let mut health = health.clone();
        async move {
            health
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .status
        }
    };
    // Warm the token cache, so the outage shows in the call itself and not in authentication.
    app.organizations(app.admin())
        .list_organizations(pb::ListOrganizationsRequest::default())
        .await
        .unwrap();

    // The only connection that writes is taken: the database no longer answers the server's writes.
    let hold = app.store.connection().begin().await.unwrap();
    let during = app
        .organizations(app.admin())
        .create_organization(pb::CreateOrganizationRequest {
            organization: Some(new_organization("During the outage", "HT")),
            request_id: String::new(),
        })
        .await;
    eventually("health turns NOT_SERVING", || {
        let mut health = health.clone();
        async move { (status(&mut health).await == ServingStatus::NotServing as i32).then_some(()) }
    })
    .await;
    drop(hold);
    eventually("health turns SERVING again", || {
        let mut health = health.clone();
        async move { (status(&mut health).await == ServingStatus::Serving as i32).then_some(()) }
    })
    .await;
    let after = app
        .organizations(app.admin())
        .list_organizations(pb::ListOrganizationsRequest::default())
        .await;

    let status = expect_code(during, Code::Unavailable);
    assert_eq!(reason(&status), "DATABASE_UNAVAILABLE");
    assert!(after.is_ok(), "{after:?}");
}
