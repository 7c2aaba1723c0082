//! The application: connect, migrate, bootstrap, bind, serve (API, health,
//! reflection v1 and v1alpha) behind the auth and deadline layers, and shut
//! down gracefully: health turns NOT_SERVING, new connections stop, in-flight
//! calls get `server.shutdown_grace_period_seconds` to finish. The API's
//! services are added in one place, `ApiServices`, which also names them
//! for health: a new service cannot be served without its health entry.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tonic_reflection::server as reflection;
use tower::Service;
use tower::util::option_layer;

use crate::api::access_api::AccessApi;
use crate::api::admission::{Admission, PrincipalAdmission};
use crate::api::amendment_api::AmendmentApi;
use crate::api::assistance_api::{AssistanceApi, AssistanceRules};
use crate::api::audit_api::AuditApi;
use crate::api::auth::{Auth, Authenticator};
use crate::api::closeout_api::CloseoutApi;
use crate::api::deadline::{CallLimits, Deadlines, StreamingMethods, served_methods};
use crate::api::financial_report_api::FinancialReportApi;
use crate::api::funds_api::FundsApi;
use crate::api::grant_api::GrantApi;
use crate::api::middleware::Around;
use crate::api::organization_api::OrganizationApi;
use crate::api::outcome_report_api::OutcomeReportApi;
use crate::api::payment_api::PaymentApi;
use crate::api::project_api::ProjectApi;
use crate::api::reference_data_api::ReferenceDataApi;
use crate::api::report_api::ReportApi;
use crate::api::streaming::StreamLimits;
use crate::api::tip_report_api::TipReportApi;
use crate::api::web_bodies::ReadWebBodies;
use crate::bootstrap;
use crate::connections::{ConnectionLimits, WatchCalls, watch_connections};
use crate::domain::fiscal_year::FiscalCalendar;
use crate::pb::v1::access_service_server::AccessServiceServer;
use crate::pb::v1::amendment_service_server::AmendmentServiceServer;
use crate::pb::v1::assistance_service_server::AssistanceServiceServer;
use crate::pb::v1::audit_service_server::AuditServiceServer;
use crate::pb::v1::closeout_service_server::CloseoutServiceServer;
use crate::pb::v1::financial_report_service_server::FinancialReportServiceServer;
use crate::pb::v1::funds_service_server::FundsServiceServer;
use crate::pb::v1::grant_service_server::GrantServiceServer;
use crate::pb::v1::organization_service_server::OrganizationServiceServer;
use crate::pb::v1::outcome_report_service_server::OutcomeReportServiceServer;
use crate::pb::v1::payment_service_server::PaymentServiceServer;
use crate::pb::v1::project_service_server::ProjectServiceServer;
use crate::pb::v1::reference_data_service_server::ReferenceDataServiceServer;
use crate::pb::v1::report_service_server::ReportServiceServer;
use crate::pb::v1::tip_report_service_server::TipReportServiceServer;
use crate::privacy::{self, Keyring};
use crate::settings::Settings;
use crate::store::Store;
use crate::telemetry::metrics::{KnownMethods, RpcMetrics, Scrape};

/// The API's services, each with the store and the rules it needs from `settings`.
fn api_services(
    settings: &Settings,
    store: &Store,
    keyring: Arc<Keyring>,
    authenticator: &Arc<Authenticator>,
) -> ApiServices {
    let calendar = FiscalCalendar::new(settings.fiscal_year.first_month);
    let reporting = settings.reporting.rules(calendar);
    ApiServices::default()
        .add(OrganizationServiceServer::new(OrganizationApi::new(
            store.clone(),
            authenticator.clone(),
        )))
        .add(ReferenceDataServiceServer::new(ReferenceDataApi::new(
            store.clone(),
        )))
        .add(TipReportServiceServer::new(TipReportApi::new(
            store.clone(),
        )))
        .add(AccessServiceServer::new(AccessApi::new(
            store.clone(),
            authenticator.clone(),
        )))
        .add(AuditServiceServer::new(AuditApi::new(store.clone())))
        .add(FundsServiceServer::new(FundsApi::new(
            store.clone(),
            calendar,
        )))
        .add(GrantServiceServer::new(GrantApi::new(
            store.clone(),
            calendar,
        )))
        .add(AmendmentServiceServer::new(AmendmentApi::new(
            store.clone(),
            reporting,
        )))
        .add(CloseoutServiceServer::new(CloseoutApi::new(
            store.clone(),
            calendar,
        )))
        .add(FinancialReportServiceServer::new(FinancialReportApi::new(
            store.clone(),
            reporting,
        )))
        .add(PaymentServiceServer::new(PaymentApi::new(
            store.clone(),
            reporting,
        )))
        .add(ProjectServiceServer::new(ProjectApi::new(
            store.clone(),
            reporting,
        )))
        .add(OutcomeReportServiceServer::new(OutcomeReportApi::new(
            store.clone(),
            reporting,
            &settings.uploads,
        )))
        .add(AssistanceServiceServer::new(AssistanceApi::new(
            store.clone(),
            keyring,
            AssistanceRules {
                calendar,
                critical_decision_hours: settings.assistance.critical_decision_hours,
                suppression_threshold: i64::from(settings.reports.suppression_threshold),
            },
        )))
        .add(ReportServiceServer::new(ReportApi::new(
            store.clone(),
            calendar,
            &settings.reports,
            &settings.iati,
        )))
}

/// Server reflection, v1 and v1alpha (grpcurl 1.8 asks v1alpha), over the API's descriptors with
/// their comments, health's and the error details'.
fn reflection_services() -> Result<
    (
        reflection::v1::ServerReflectionServer<impl reflection::v1::ServerReflection>,
        reflection::v1alpha::ServerReflectionServer<impl reflection::v1alpha::ServerReflection>,
    ),
    StartupError,
> {
    let configure = || {
        reflection::Builder::configure()
            .register_encoded_file_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
    };
    let v1 = configure()
        .build_v1()
        .map_err(|error| StartupError::Reflection(error.to_string()))?;
    let v1alpha = configure()
        .build_v1alpha()
        .map_err(|error| StartupError::Reflection(error.to_string()))?;
    Ok((v1, v1alpha))
}

/// The API's services and the names they answer to, collected as they are added.
#[derive(Default)]
struct ApiServices {
    routes: RoutesBuilder,
    names: Vec<&'static str>,
}

impl ApiServices {
    /// Serves `service` and reports its health under its own name.
    fn add<S>(mut self, service: S) -> Self
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.names.push(S::NAME);
        self.routes.add_service(service);
        self
    }
}

/// The method of what start-up records (the fingerprint of a key it meets first).
const STARTUP_METHOD: &str = "startup";

/// The names whose health is reported, besides the server as a whole ("").
type HealthNames = Arc<[&'static str]>;

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Database(#[from] crate::error::Error),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("tls: {0}")]
    Tls(String),
    #[error("reflection: {0}")]
    Reflection(String),
    /// Victims' personal data cannot be kept safe with the configured keys.
    #[error("privacy: {0}")]
    Privacy(String),
}

/// A built server, bound and ready to run.
pub struct Application {
    settings: Settings,
    store: Store,
    /// The keys of victims' personal data, checked against the database's fingerprints.
    keyring: Arc<Keyring>,
    listener: TcpListener,
    health_listener: Option<TcpListener>,
    address: SocketAddr,
}

impl Application {
    /// Binds the ports first (port 0 picks a free one: see [`Application::address`]), so a busy
    /// port stops the server before it touches the database; then connects, migrates (unless
    /// disabled), bootstraps the first admin token and checks the privacy keys.
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        let listener = bind(&settings.server.listen_address).await?;
        let address = listener.local_addr().map_err(|source| StartupError::Bind {
            address: settings.server.listen_address.clone(),
            source,
        })?;
        let health_listener = match settings.server.health_listen_address.trim() {
            "" => None,
            health_address => Some(bind(health_address).await?),
        };
        let store = Store::connect(&settings.database, &settings.database_url()).await?;
        if settings.database.migrate_on_start {
            store.migrate().await?;
        }
        let keyring = Keyring::from_settings(&settings.privacy)
            .map_err(|error| StartupError::Privacy(error.to_string()))?;
        privacy::check_keys(&store, &keyring, STARTUP_METHOD)
            .await
            .map_err(StartupError::Privacy)?;
        // Last: the one-time token is printed only by a server that is going to serve.
        bootstrap::ensure_admin_token(&store, settings.bootstrap_token_file().as_deref()).await?;
        Ok(Application {
            settings,
            store,
            keyring: Arc::new(keyring),
            listener,
            health_listener,
            address,
        })
    }

    /// The bound API address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The bound health-only address, when configured.
    pub fn health_address(&self) -> Option<SocketAddr> {
        self.health_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
    }

    /// The store (tests read the database through it).
    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// Serves until `shutdown` completes, then drains gracefully.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let Application {
            settings,
            store,
            keyring,
            listener,
            health_listener,
            address,
        } = self;
        let authenticator = Arc::new(Authenticator::new(
            store.clone(),
            Duration::from_secs(settings.auth.token_cache_ttl_seconds),
            settings.server.reflection,
        ));
        // Listening before serving (when the database lets it: else the listener retries and the
        // cache lifetime bounds what it misses), so revocations on other replicas are heard.
        let revocations = store
            .token_events()
            .await
            .map(|events| tokio::spawn(authenticator.clone().follow_revocations(events)));
        let api = api_services(&settings, &store, keyring, &authenticator);
        let health_names: HealthNames = api.names.into();

        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        set_health(&health_reporter, &health_names, ServingStatus::Serving).await;
        let (stop_sender, stop_receiver) = watch::channel(false);
        let probe = tokio::spawn(probe_database(
            store.clone(),
            health_reporter.clone(),
            health_names.clone(),
            Duration::from_millis(settings.server.health_check_interval_ms),
            stop_receiver.clone(),
        ));
        let (reflection_v1, reflection_v1alpha) = reflection_services()?;

        // The served methods, read once: the deadlines need those that stream, the metrics
        // their names (handed to them here, so telemetry never reads the API).
        let served = served_methods(&crate::pb::SERVED_DESCRIPTOR_SETS)
            .map_err(|error| StartupError::Reflection(error.to_string()))?;
        let deadlines = Deadlines::new(
            CallLimits {
                unary_timeout: Duration::from_secs(settings.server.request_timeout_seconds),
                request_body_timeout: Duration::from_secs(
                    settings.server.request_body_timeout_seconds,
                ),
                stream_limits: StreamLimits::from_settings(&settings.server),
            },
            StreamingMethods::of(&served),
        );
        // Metrics are recorded only when the ops listener can serve them.
        let scrape = (settings.telemetry.metrics && health_listener.is_some()).then(|| {
            Scrape::new(
                store.clone(),
                Duration::from_millis(settings.database.acquire_timeout_ms),
            )
        });
        let known_methods = KnownMethods::new(
            served
                .into_iter()
                .map(|method| (method.service, method.name)),
        );
        let rpc_metrics = RpcMetrics::new(scrape.is_some(), known_methods);
        // No `Server::timeout`: it would bound streams too. The deadline layer bounds unary calls.
        // Load shedding: a call over a connection's limit is refused at once, never queued.
        let mut builder = Server::builder()
            .max_concurrent_streams(Some(settings.server.max_concurrent_streams))
            .concurrency_limit_per_connection(settings.server.concurrency_limit_per_connection)
            .load_shed(true)
            .http2_keepalive_interval(Some(Duration::from_secs(60)));
        // Browsers speak gRPC-Web over HTTP/1.1 (over HTTP/2 only when TLS negotiates it).
        builder = builder.accept_http1(settings.grpc_web.enabled);
        if settings.tls.enabled {
            builder = builder
                .tls_config(tls_config(&settings)?)
                .map_err(|error| StartupError::Tls(error.to_string()))?;
        }
        // Outermost, each call reports to its connection (`connections`: idle and unread
        // connections are closed). Browser clients (off by default): CORS answers preflights
        // before anything else, and a gRPC-Web call is translated before it meets the other
        // layers like any call. Admission next, so a refusal costs nothing else (and still
        // reaches a browser with its CORS headers); the deadline covers authentication too (its
        // token lookup may wait for the database) and bounds request bodies. Once the caller is
        // known, its share of the calls in flight; then a gRPC-Web body over HTTP/1.1 is read
        // whole: never before the token is checked.
        let router = builder
            .layer(Around(WatchCalls))
            .layer(option_layer(crate::web::browser_layer(&settings.grpc_web)))
            .layer(Around(Admission::new(settings.server.max_calls_in_flight)))
            .layer(Around(deadlines))
            .layer(Around(Auth::new(authenticator.clone(), rpc_metrics)))
            .layer(Around(PrincipalAdmission::new(&settings.server)))
            .layer(Around(ReadWebBodies::new(
                settings.grpc_web.max_buffered_mib,
            )))
            .add_routes(api.routes.routes())
            .add_service(health_service.clone())
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha);

        let ops_routes =
            crate::ops_listener::routes(health_service, health_reporter.clone(), scrape)
                .map_err(|error| StartupError::Reflection(error.to_string()))?;
        let health_only = health_listener.map(|listener| {
            let mut stop = stop_receiver.clone();
            if let Ok(ops_address) = listener.local_addr() {
                tracing::info!(%ops_address, metrics = settings.telemetry.metrics, "serving the ops listener: grpc.health.v1.Health, GET /healthz, /readyz, /metrics");
            }
            let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
            let routes = ops_routes;
            tokio::spawn(
                // HTTP/1.1 too: Prometheus scrapes GET /metrics over it.
                Server::builder()
                    .accept_http1(true)
                    .add_routes(routes)
                    .serve_with_incoming_shutdown(incoming, async move {
                        let _stopped = stop.wait_for(|stopped| *stopped).await.is_ok();
                    }),
            )
        });

        // On the shutdown signal: NOT_SERVING first, so balancers stop sending, then drain.
        let reporter = health_reporter.clone();
        let names = health_names.clone();
        let stop = stop_sender.clone();
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: health is NOT_SERVING, draining in-flight calls");
            set_health(&reporter, &names, ServingStatus::NotServing).await;
            let _sent = stop.send(true);
        };
        let incoming = watch_connections(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            ConnectionLimits::from_settings(&settings.server),
        );
        tracing::info!(%address, tls = settings.tls.enabled, database = backend_name(&store), "serving gRPC");
        if settings.grpc_web.enabled {
            let origins: Vec<&str> = settings.grpc_web.allowed_origins().collect();
            tracing::info!(cors_allowed_origins = ?origins, "serving gRPC-Web too");
        }
        let serve = router.serve_with_incoming_shutdown(incoming, signal);
        tokio::pin!(serve);
        let grace = Duration::from_secs(settings.server.shutdown_grace_period_seconds);
        let mut stopped = stop_receiver.clone();
        let outcome = tokio::select! {
            outcome = &mut serve => outcome,
            _ = async {
                // Drop the watch guard at once: it must not live across the sleep.
                let _stopped = stopped.wait_for(|stopped| *stopped).await.is_ok();
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(grace_seconds = grace.as_secs(), "calls still running after the grace period: stopping anyway");
                Ok(())
            }
        };
        let _sent = stop_sender.send(true);
        probe.abort();
        if let Some(task) = revocations {
            task.abort();
        }
        if let Some(task) = health_only {
            let _finished = task.await;
        }
        store.close().await;
        tracing::info!("stopped");
        outcome.map_err(|error| StartupError::Bind {
            address: address.to_string(),
            source: std::io::Error::other(error),
        })
    }
}

fn backend_name(store: &Store) -> &'static str {
    match store.backend() {
        sea_orm::DatabaseBackend::Postgres => "postgres",
        sea_orm::DatabaseBackend::Sqlite => "sqlite",
        _ => "other",
    }
}

async fn bind(address: &str) -> Result<TcpListener, StartupError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| StartupError::Bind {
            address: address.to_string(),
            source,
        })
}

fn tls_config(settings: &Settings) -> Result<ServerTlsConfig, StartupError> {
    let read = |path: &str| {
        std::fs::read(path).map_err(|error| StartupError::Tls(format!("{path}: {error}")))
    };
    let identity = Identity::from_pem(
        read(&settings.tls.certificate_path)?,
        read(&settings.tls.private_key_path)?,
    );
    let mut config = ServerTlsConfig::new().identity(identity);
    if !settings.tls.client_ca_path.is_empty() {
        config = config.client_ca_root(Certificate::from_pem(read(&settings.tls.client_ca_path)?));
    }
    Ok(config)
}

async fn set_health(reporter: &HealthReporter, names: &[&'static str], status: ServingStatus) {
    reporter.set_service_status("", status).await;
    for service in names {
        reporter.set_service_status(*service, status).await;
    }
}

/// Keeps health in step with the database: NOT_SERVING while it does not answer within the
/// interval, so at most two intervals after it dies.
async fn probe_database(
    store: Store,
    reporter: HealthReporter,
    names: HealthNames,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut serving = true;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        // A ping slower than the interval is a failure: against a dead database the pool keeps
        // retrying until its acquire timeout, and health must not lag the interval by that.
        let reachable = tokio::time::timeout(interval, store.ping())
            .await
            .unwrap_or(false);
        if reachable != serving {
            serving = reachable;
            if reachable {
                tracing::info!("database reachable again: SERVING");
                set_health(&reporter, &names, ServingStatus::Serving).await;
            } else {
                tracing::error!("database unreachable: NOT_SERVING");
                set_health(&reporter, &names, ServingStatus::NotServing).await;
            }
        }
    }
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _received = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}
