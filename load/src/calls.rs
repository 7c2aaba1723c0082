//! The calls the benchmark makes, with the project's generated clients: the
//! scenarios, the connections they go over, and the data they need, seeded
//! through the API itself (so the benchmark needs nothing but an address and
//! the bootstrap admin token).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tipgrants::pb::v1 as pb;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// What one call does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// `grpc.health.v1.Health/Check`: no token, no database.
    Health,
    /// `GetOrganization` with a token: the token check (cached) and one read.
    GetOrganization,
    /// `GetGrant` of a grant with two obligations: the grant and its money.
    GetGrant,
    /// Audited `CreateOrganization` with a fresh `request_id` per call.
    CreateOrganization,
}

impl Scenario {
    /// The scenario's name in the results file and the table.
    pub fn key(self) -> &'static str {
        match self {
            Scenario::Health => "health",
            Scenario::GetOrganization => "get-organization",
            Scenario::GetGrant => "get-grant",
            Scenario::CreateOrganization => "create-organization",
        }
    }
}

/// The resources the reads ask for.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub organization: String,
    pub grant: String,
}

/// A server reached over a fixed number of HTTP/2 connections, with the admin token.
pub struct Target {
    channels: Vec<Channel>,
    bearer: MetadataValue<Ascii>,
    seeded: Seeded,
    created: AtomicU64,
}

/// Opens `connections` HTTP/2 connections (one per `Channel`) to `address`.
pub async fn connect(
    address: &str,
    connections: usize,
    call_timeout: Duration,
) -> Result<Vec<Channel>, String> {
    let endpoint = Endpoint::from_shared(format!("http://{address}"))
        .map_err(|error| format!("address {address}: {error}"))?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .timeout(call_timeout);
    let mut channels = Vec::with_capacity(connections);
    for _ in 0..connections.max(1) {
        let channel = endpoint
            .connect()
            .await
            .map_err(|error| format!("cannot connect to {address}: {error}"))?;
        channels.push(channel);
    }
    Ok(channels)
}

/// `authorization: Bearer <token>`.
pub fn bearer(token: &str) -> Result<MetadataValue<Ascii>, String> {
    MetadataValue::try_from(format!("Bearer {token}"))
        .map_err(|_| "the token is not printable ASCII".to_string())
}

fn with_token<T>(bearer: &MetadataValue<Ascii>, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", bearer.clone());
    request
}

/// Creates what the reads need: an organisation, a funding account, and a
/// grant with two obligations. Idempotent enough to run twice on one database.
pub async fn seed(channel: Channel, bearer: &MetadataValue<Ascii>) -> Result<Seeded, String> {
    let failed = |what: &str| {
        let what = what.to_string();
        move |status: tonic::Status| {
            format!("seeding {what}: {:?}: {}", status.code(), status.message())
        }
    };
    let mut organizations =
        pb::organization_service_client::OrganizationServiceClient::new(channel.clone());
    let organization = organizations
        .create_organization(with_token(
            bearer,
            pb::CreateOrganizationRequest {
                organization: Some(pb::Organization {
                    display_name: "Load benchmark NGO".into(),
                    kind: pb::OrganizationKind::Ngo as i32,
                    country_code: "HT".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .map_err(failed("an organization"))?
        .into_inner()
        .name;
    let mut reference =
        pb::reference_data_service_client::ReferenceDataServiceClient::new(channel.clone());
    let account = reference
        .create_funding_account(with_token(
            bearer,
            pb::CreateFundingAccountRequest {
                funding_account_id: "LOADBENCH".into(),
                funding_account: Some(pb::FundingAccount {
                    display_name: "Load benchmark account".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await;
    match account {
        Ok(_) => {}
        Err(status) if status.code() == Code::AlreadyExists => {}
        Err(status) => return Err(failed("a funding account")(status)),
    }
    // Every obligation draws on an appropriation: plenty for any run, recorded once.
    let mut funds = pb::funds_service_client::FundsServiceClient::new(channel.clone());
    for fiscal_year in [2014, 2015] {
        let appropriated = funds
            .create_appropriation(with_token(
                bearer,
                pb::CreateAppropriationRequest {
                    parent: "fundingAccounts/LOADBENCH".into(),
                    appropriation: Some(pb::Appropriation {
                        fiscal_year,
                        amount: 90_000_000_000_000,
                        availability_years: 2,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await;
        match appropriated {
            Ok(_) => {}
            Err(status) if status.code() == Code::AlreadyExists => {}
            Err(status) => return Err(failed("an appropriation")(status)),
        }
    }
    let mut grants = pb::grant_service_client::GrantServiceClient::new(channel);
    let grant = grants
        .create_grant(with_token(
            bearer,
            pb::CreateGrantRequest {
                grant: Some(pb::Grant {
                    award_number: format!("LOAD-{}", uuid::Uuid::new_v4().simple()),
                    title: "Load benchmark grant".into(),
                    grantee: organization.clone(),
                    instrument: pb::GrantInstrument::Grant as i32,
                    approach: pb::GrantApproach::ShortTermTechnicalAssistance as i32,
                    start_date: "2013-10-01".into(),
                    end_date: "2015-09-30".into(),
                    reporting_cadence: pb::ReportingCadence::Annual as i32,
                    program_officer: "load benchmark".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .map_err(failed("a grant"))?
        .into_inner()
        .name;
    for (kind, fiscal_year, obligation_date) in [
        (pb::ObligationKind::InitialAward, 2014, "2014-03-01"),
        (pb::ObligationKind::Increment, 2015, "2015-03-01"),
    ] {
        grants
            .create_obligation(with_token(
                bearer,
                pb::CreateObligationRequest {
                    parent: grant.clone(),
                    obligation: Some(pb::Obligation {
                        kind: kind as i32,
                        funding_account: "fundingAccounts/LOADBENCH".into(),
                        fiscal_year,
                        amount: 1_250_000,
                        obligation_date: obligation_date.into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await
            .map_err(failed("an obligation"))?;
    }
    Ok(Seeded {
        organization,
        grant,
    })
}

impl Target {
    pub fn new(channels: Vec<Channel>, bearer: MetadataValue<Ascii>, seeded: Seeded) -> Arc<Self> {
        Arc::new(Target {
            channels,
            bearer,
            seeded,
            created: AtomicU64::new(0),
        })
    }

    pub fn connections(&self) -> usize {
        self.channels.len()
    }

    /// One call of `scenario` over connection `index` (modulo the count): its gRPC code on failure.
    pub async fn call(&self, scenario: Scenario, index: usize) -> Result<(), Code> {
        let channel = self.channels[index % self.channels.len()].clone();
        let outcome = match scenario {
            Scenario::Health => HealthClient::new(channel)
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map(drop),
            Scenario::GetOrganization => {
                pb::organization_service_client::OrganizationServiceClient::new(channel)
                    .get_organization(with_token(
                        &self.bearer,
                        pb::GetOrganizationRequest {
                            name: self.seeded.organization.clone(),
                        },
                    ))
                    .await
                    .map(drop)
            }
            Scenario::GetGrant => pb::grant_service_client::GrantServiceClient::new(channel)
                .get_grant(with_token(
                    &self.bearer,
                    pb::GetGrantRequest {
                        name: self.seeded.grant.clone(),
                    },
                ))
                .await
                .map(drop),
            Scenario::CreateOrganization => {
                let number = self.created.fetch_add(1, Ordering::Relaxed);
                pb::organization_service_client::OrganizationServiceClient::new(channel)
                    .create_organization(with_token(
                        &self.bearer,
                        pb::CreateOrganizationRequest {
                            organization: Some(pb::Organization {
                                display_name: format!("Load NGO {number}"),
                                kind: pb::OrganizationKind::Ngo as i32,
                                country_code: "HT".into(),
                                ..Default::default()
                            }),
                            request_id: uuid::Uuid::new_v4().to_string(),
                        },
                    ))
                    .await
                    .map(drop)
            }
        };
        outcome.map_err(|status| status.code())
    }
}
