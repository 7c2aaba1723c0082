//! The tower layer in front of every service: one span per RPC (method,
//! request id, actor, code, latency; continuing the caller's trace when
//! traces are on), its metrics (`telemetry::metrics`), authentication of the
//! bearer token (cached for `auth.token_cache_ttl_seconds`; on PostgreSQL a
//! revoked token leaves every replica's cache as soon as its revocation is
//! notified: `store::token_events`), and the permission check of
//! `permissions`. A handler receives the `CallContext` in the request's
//! extensions; a refused call never reaches it; a handler that panics is
//! answered INTERNAL instead of dropping the connection.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::FutureExt;
use http::HeaderMap;
use moka::future::Cache;
use tracing::Instrument;

use super::middleware::{Answer, Inner, Middleware};
use super::permissions::{self, Access};
use crate::domain::access::{self, ApiToken};
use crate::error::{Error, Result};
use crate::store::token_events::{TokenEvent, TokenEvents};
use crate::store::{CallContext, Store};
use crate::telemetry::metrics::RpcMetrics;

/// Checks tokens, with a short-lived cache so a check costs microseconds.
pub struct Authenticator {
    store: Store,
    /// Secret hash -> token (or `None`: no such token). Secrets are random, so a
    /// negative entry can never hide a token created later.
    cache: Cache<String, Option<ApiToken>>,
    /// How many times tokens were forgotten: a lookup under way while this changed may have
    /// read a token just before its revocation, and stored it just after it was forgotten.
    forgotten: AtomicU64,
    allow_reflection: bool,
}

impl Authenticator {
    pub fn new(store: Store, ttl: Duration, allow_reflection: bool) -> Self {
        Self {
            store,
            cache: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                // Revocations notified by other replicas name the token, not its secret's hash.
                .support_invalidation_closures()
                .build(),
            forgotten: AtomicU64::new(0),
            allow_reflection,
        }
    }

    /// Forgets a token at once (after revocation on this replica).
    pub async fn forget(&self, secret_hash: &str) {
        self.forgotten.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate(secret_hash).await;
    }

    /// Forgets every cached token (some revocations may have been missed).
    pub fn forget_every_token(&self) {
        self.forgotten.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate_all();
    }

    /// Forgets the token with id `token_id` at once (revoked on any replica). Should the cache
    /// refuse to, it forgets every token instead: never a revoked one kept.
    pub fn forget_token(&self, token_id: &str) {
        self.forgotten.fetch_add(1, Ordering::SeqCst);
        let token_id = token_id.to_string();
        let registered = self.cache.invalidate_entries_if(move |_, token| {
            token.as_ref().is_some_and(|token| token.id == token_id)
        });
        if let Err(error) = registered {
            tracing::warn!(%error, "cannot forget one token: forgetting every cached token");
            self.forget_every_token();
        }
    }

    /// Follows the revocations of every replica (`events`), forgetting each revoked token, and
    /// every token when some may have been missed. Runs until the task is aborted.
    pub async fn follow_revocations(self: Arc<Self>, mut events: TokenEvents) {
        loop {
            match events.next().await {
                TokenEvent::Revoked(token_id) => self.forget_token(&token_id),
                TokenEvent::MaybeMissed => self.forget_every_token(),
            }
        }
    }

    /// The caller of `method`, or `None` for calls that need no token.
    /// Reflection needs no token while `server.reflection` is on, and is refused to every caller
    /// when it is off, with or without a token: FAILED_PRECONDITION, reason `REFLECTION_OFF`,
    /// saying so (a client told "Unauthenticated" would hunt for a token that cannot help).
    pub async fn authorize(
        &self,
        method: &str,
        headers: &HeaderMap,
    ) -> Result<Option<access::Actor>> {
        let roles = match permissions::access(method) {
            Access::Public => return Ok(None),
            Access::Reflection if self.allow_reflection => return Ok(None),
            Access::Reflection => return Err(Error::reflection_off()),
            Access::Roles(roles) => roles,
        };
        let actor = self.authenticate(headers).await?;
        if !roles.contains(&actor.role) {
            return Err(Error::PermissionDenied {
                role: actor.role.to_string(),
                method: method.to_string(),
            });
        }
        Ok(Some(actor))
    }

    async fn authenticate(&self, headers: &HeaderMap) -> Result<access::Actor> {
        let secret = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                let (scheme, secret) = value.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| secret.trim())
            })
            .filter(|secret| !secret.is_empty() && secret.len() <= 200)
            .ok_or(Error::Unauthenticated)?;
        let hash = access::hash_secret(secret);
        let forgotten = self.forgotten.load(Ordering::SeqCst);
        let store = self.store.clone();
        let lookup = hash.clone();
        let mut token = self
            .cache
            .try_get_with(hash.clone(), async move {
                store.find_token_by_secret_hash(&lookup).await
            })
            .await
            .map_err(|error: Arc<Error>| match error.as_ref() {
                Error::Unavailable(message) => Error::Unavailable(message.clone()),
                Error::Busy(message) => Error::Busy(message.clone()),
                other => Error::Internal(other.to_string()),
            })?;
        if self.forgotten.load(Ordering::SeqCst) != forgotten {
            // A revocation was heard while this lookup ran: what it found (and cached) may be
            // older than the revocation. Drop it and read again, after it.
            self.cache.invalidate(&hash).await;
            token = self.store.find_token_by_secret_hash(&hash).await?;
        }
        token.ok_or(Error::Unauthenticated)?.actor(Utc::now())
    }
}

/// The middleware in front of the router; see the module documentation.
#[derive(Clone)]
pub struct Auth {
    authenticator: Arc<Authenticator>,
    metrics: Arc<RpcMetrics>,
}

impl Auth {
    pub fn new(authenticator: Arc<Authenticator>, metrics: Arc<RpcMetrics>) -> Self {
        Self {
            authenticator,
            metrics,
        }
    }
}

impl Middleware for Auth {
    fn serve<S: Inner>(
        &self,
        mut inner: S,
        mut request: http::Request<tonic::body::Body>,
    ) -> Answer<S::Error> {
        let authenticator = self.authenticator.clone();
        let method = request.uri().path().to_string();
        // One rule for `x-request-id` and a body's `request_id`: a bad one is refused, never stored.
        let header_id = match request.headers().get("x-request-id") {
            None => Ok(None),
            Some(value) => value
                .to_str()
                .ok()
                .and_then(|value| crate::domain::validate::request_id(value).ok())
                .ok_or_else(|| {
                    Error::invalid(
                        "x-request-id",
                        "must be at most 100 printable ASCII characters",
                    )
                }),
        };
        let request_id = match &header_id {
            Ok(Some(id)) => id.clone(),
            _ => uuid::Uuid::new_v4().to_string(),
        };
        let span = tracing::info_span!(
            "rpc",
            method = %method,
            request_id = %request_id,
            actor = tracing::field::Empty,
            code = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
            otel.name = tracing::field::Empty,
            otel.kind = tracing::field::Empty,
        );
        let started = Instant::now();
        let served = self.metrics.method(&method);
        let record = self.metrics.start(served, started);
        crate::telemetry::traces::continue_trace(&span, request.headers(), served);
        Box::pin(
            async move {
                let authorized = match header_id {
                    Ok(_) => authenticator.authorize(&method, request.headers()).await,
                    Err(error) => Err(error),
                };
                let response = match authorized {
                    Ok(actor) => {
                        if let Some(actor) = actor {
                            tracing::Span::current().record("actor", actor.resource_name());
                            request.extensions_mut().insert(CallContext {
                                actor,
                                method: method.clone(),
                                request_id,
                            });
                        }
                        answer_panics(inner.call(request)).await
                    }
                    Err(error) => Ok(tonic::Status::from(error).into_http()),
                };
                // The line is written when the call ends: for a stream, with its trailers' status.
                let span = tracing::Span::current();
                match response {
                    Ok(response) => Ok(crate::telemetry::log_when_finished(
                        response, span, started, record,
                    )),
                    Err(error) => {
                        record.finish(tonic::Code::Unknown);
                        span.record("latency_ms", started.elapsed().as_secs_f64() * 1000.0);
                        tracing::info!("rpc finished");
                        Err(error)
                    }
                }
            }
            .instrument(span),
        )
    }
}

/// The answer of `call`, or INTERNAL when it panics: a bug must not take the connection down
/// with it.
async fn answer_panics<E>(
    call: impl Future<Output = std::result::Result<http::Response<tonic::body::Body>, E>>,
) -> std::result::Result<http::Response<tonic::body::Body>, E> {
    match AssertUnwindSafe(call).catch_unwind().await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!("the handler panicked; answered INTERNAL");
            Ok(tonic::Status::from(Error::Internal("a handler panicked".into())).into_http())
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::StatusExt;

    use super::*;

    #[tokio::test]
    async fn a_handler_that_panics_is_answered_internal_with_a_reason_and_no_cause() {
        let call = async {
            if true {
                panic!("a bug with a secret cause");
            }
            Ok::<_, std::convert::Infallible>(http::Response::new(tonic::body::Body::empty()))
        };

        let response = answer_panics(call).await.expect("infallible");

        let status = tonic::Status::from_header_map(response.headers()).expect("a status");
        assert_eq!(status.code(), tonic::Code::Internal);
        assert_eq!(status.message(), "internal error");
        let reason = status.get_details_error_info().map(|info| info.reason);
        assert_eq!(reason.as_deref(), Some("INTERNAL"));
    }
}
